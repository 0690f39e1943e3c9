"""The shell's clock and transport in the simulator: the seeded event queue and network.

Each node incarnation gets its own clock: a crash ends the incarnation, and
the timers it set (a drain, a deferred commit, its tick) die with it, as they
would with a killed process.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from govchain.replica.messages import Message
from govchain.shell.ports import Timer


class CrashError(Exception):
    """The simulated node crashed in the middle of a shell step: unwind and drop that shell."""


@dataclass(slots=True)
class SimTimer:
    """A callback on the simulated clock; cancelled timers are skipped when due."""

    callback: Callable[[], None]
    cancelled: bool = False

    def cancel(self) -> None:
        """Do not run the callback."""
        self.cancelled = True


@dataclass(slots=True)
class TimerQueue:
    """Timers by key, for the simulation's event queue to fire in time order."""

    timers: dict[int, SimTimer] = field(default_factory=dict)
    next_key: int = 0

    def add(self, callback: Callable[[], None]) -> tuple[int, SimTimer]:
        """Register a timer; the caller schedules its key in the event queue."""
        self.next_key += 1
        timer = SimTimer(callback)
        self.timers[self.next_key] = timer
        return self.next_key, timer

    def fire(self, key: int) -> None:
        """Run the timer with this key, unless cancelled."""
        timer = self.timers.pop(key, None)
        if timer is not None and not timer.cancelled:
            timer.callback()


class SimClock:
    """One node incarnation's view of simulated time."""

    def __init__(
        self,
        now: Callable[[], int],
        schedule: Callable[[int, Callable[[], None]], Timer],
    ) -> None:
        self._now = now
        self._schedule = schedule
        self.alive = True

    def now_ms(self) -> int:
        """Simulated milliseconds."""
        return self._now()

    def call_later(self, delay_ms: int, callback: Callable[[], None]) -> Timer:
        """Run callback delay_ms from now, unless this incarnation has crashed by then."""

        def run() -> None:
            if self.alive:
                callback()

        return self._schedule(delay_ms, run)


class SimTransport:
    """Hands a node's messages to the simulation, which puts them on the seeded network."""

    def __init__(
        self,
        send: Callable[[Sequence[tuple[str | None, Message]]], None],
        refuse: Callable[[str, str], None],
    ) -> None:
        self._send = send
        self._refuse = refuse

    def send(self, sends: Sequence[tuple[str | None, Message]]) -> None:
        """Send the messages through the simulation."""
        self._send(sends)

    def refuse(self, peer: str, reason: str) -> None:
        """Blame a peer through the simulation."""
        self._refuse(peer, reason)

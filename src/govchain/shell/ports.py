"""What the shell needs around it: a clock and a transport (storage.base.Store is the third).

The node implements them over asyncio, the wall clock and TCP peers; the
simulator over its seeded event queue and network. The shell itself never
reads a clock, opens a socket or touches a file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from govchain.replica.messages import Message


class Timer(Protocol):
    """A scheduled callback that may be called off."""

    def cancel(self) -> None:
        """Do not run the callback (no-op once it ran)."""
        ...


class Clock(Protocol):
    """Time as the replica sees it, and timers."""

    def now_ms(self) -> int:
        """Milliseconds on the clock checkpoints are stamped with (wall time in a node)."""
        ...

    def call_later(self, delay_ms: int, callback: Callable[[], None]) -> Timer:
        """Run callback once, delay_ms from now (monotonic in a node)."""
        ...


class Transport(Protocol):
    """The peer network as the shell uses it."""

    def send(self, sends: Sequence[tuple[str | None, Message]]) -> None:
        """Send each message to its peer (None: to every connected peer), in order."""
        ...

    def refuse(self, peer: str, reason: str) -> None:
        """Drop a peer that sent what no honest peer sends, and refuse it a while."""
        ...

"""What the shell drives and needs around it: a core, a clock, a transport (and a Store).

The node implements them over asyncio, the wall clock and TCP peers; the
simulator over its seeded event queue and network. The shell itself never
reads a clock, opens a socket or touches a file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from govchain.dag.admission import AdmissionError
from govchain.replica.messages import Message
from govchain.replica.outputs import ReplicaReady
from govchain.replica.replication import Submitted


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


class StoreWriter(Protocol):
    """The part of a storage.base.Store the shell uses: atomic, durable commits."""

    def commit(self, ready: ReplicaReady) -> None:
        """Store a replica's output atomically and durably."""
        ...


class Core(Protocol):
    """The deterministic core the shell drives (replica.Replica): inputs in, ready() out."""

    def start(self, now_ms: int) -> None:
        """Begin (or resume after a restart) at now_ms."""
        ...

    def tick(self, now_ms: int) -> None:
        """Time passed."""
        ...

    def receive(self, peer: str, msg: Message, now_ms: int) -> None:
        """A peer's message."""
        ...

    def submit_many(self, wires: Sequence[bytes], now_ms: int) -> list[Submitted | AdmissionError]:
        """Clients' transactions."""
        ...

    def ready(self) -> ReplicaReady:
        """Everything produced since the last call: persist it, then send it."""
        ...

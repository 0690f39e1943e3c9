"""A seeded message network: latency, loss, duplication and partitions."""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class LinkFaults:
    """Per-message fault rates while the network is unhealed."""

    loss: float = 0.0
    duplicate: float = 0.0
    latency_ms_min: int = 2
    latency_ms_max: int = 40
    spike: float = 0.0  # chance of a long delay (reordering)
    spike_ms_max: int = 400


@dataclass(order=True, slots=True)
class Delivery:
    """A message in flight."""

    at_ms: int
    seq: int
    src: str = field(compare=False)
    dst: str = field(compare=False)
    data: bytes = field(compare=False)


class Network:
    """Queues encoded messages; everything random comes from the one seeded rng."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.faults = LinkFaults()
        self.groups: dict[str, int] | None = None  # partition: node -> side
        # Nodes that no partition cuts off: attacker peers reach both sides, the
        # strongest position a non-validator can take.
        self.unpartitioned: frozenset[str] = frozenset()
        self.queue: list[Delivery] = []
        self._seq = 0
        self.sent = 0
        self.dropped = 0

    def heal(self) -> None:
        """Stop every link fault and partition."""
        self.faults = LinkFaults()
        self.groups = None

    def connected(self, a: str, b: str) -> bool:
        """False when a partition separates a and b."""
        g = self.groups
        if g is None or a in self.unpartitioned or b in self.unpartitioned:
            return True
        return g.get(a, -1) == g.get(b, -1)

    def send(self, now_ms: int, src: str, dst: str, data: bytes) -> None:
        """Put a message on the wire, subject to the current faults."""
        self.sent += 1
        f = self.faults
        if not self.connected(src, dst) or (f.loss and self.rng.random() < f.loss):
            self.dropped += 1
            return
        copies = 2 if f.duplicate and self.rng.random() < f.duplicate else 1
        for _ in range(copies):
            delay = self.rng.randint(f.latency_ms_min, f.latency_ms_max)
            if f.spike and self.rng.random() < f.spike:
                delay += self.rng.randint(0, f.spike_ms_max)
            self._seq += 1
            heapq.heappush(self.queue, Delivery(now_ms + delay, self._seq, src, dst, data))

    def next_at(self) -> int | None:
        """Time of the next delivery."""
        return self.queue[0].at_ms if self.queue else None

    def pop(self) -> Delivery:
        """The next delivery."""
        return heapq.heappop(self.queue)

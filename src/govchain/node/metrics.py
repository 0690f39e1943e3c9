"""What a node counts for /metrics beyond the replica's own state."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

LATENCY_SAMPLES_MAX = 10_000


def _samples() -> deque[int]:
    return deque(maxlen=LATENCY_SAMPLES_MAX)


@dataclass
class NodeMetrics:
    """Counters and recent latency samples of one node (its API reads them)."""

    rejections: Counter[str] = field(default_factory=Counter)
    submitted: int = 0
    finality_ms: deque[int] = field(default_factory=_samples)
    peer_decode_errors: int = 0
    peers_blamed: int = 0  # peers dropped and refused for a while (ReplicaReady.blamed)
    not_replicated: int = 0  # submissions answered 503 not_replicated
    replicate_ms: deque[int] = field(default_factory=_samples)

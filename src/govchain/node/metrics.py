"""What a node counts for /metrics beyond the replica's own state."""

from __future__ import annotations

import bisect
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field

LATENCY_SAMPLES_MAX = 10_000
# Upper bounds (le) of the latency histograms' buckets, in milliseconds: from a
# loopback devnet's few milliseconds to a minute (the +Inf bucket is implied).
LATENCY_BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000)


class LatencySamples(deque[int]):
    """Latencies in ms: the last LATENCY_SAMPLES_MAX of them (their quantiles are what
    /v1/stats/recent shows), and a histogram of every one since the node started (what
    /metrics exposes: a histogram only ever grows, a window of samples does not)."""

    def __init__(self) -> None:
        super().__init__(maxlen=LATENCY_SAMPLES_MAX)
        # Per bucket, not cumulative: [i] counts samples in (bound[i-1], bound[i]]; the
        # last one, those above every bound.
        self.bucket_counts = [0] * (len(LATENCY_BUCKETS_MS) + 1)
        self.total = 0  # samples since start (deque.count is a method)
        self.sum_ms = 0

    def append(self, ms: int) -> None:
        """Keep one sample and count it in the histogram."""
        super().append(ms)
        self.total += 1
        self.sum_ms += ms
        self.bucket_counts[bisect.bisect_left(LATENCY_BUCKETS_MS, ms)] += 1

    def extend(self, values: Iterable[int]) -> None:
        """append, for each value."""
        for ms in values:
            self.append(ms)


@dataclass
class NodeMetrics:
    """Counters and recent latency samples of one node (its API reads them)."""

    rejections: Counter[str] = field(default_factory=Counter)
    submitted: int = 0
    finality_ms: LatencySamples = field(default_factory=LatencySamples)
    peer_decode_errors: int = 0
    peers_blamed: int = 0  # peers dropped and refused for a while (ReplicaReady.blamed)
    not_replicated: int = 0  # submissions answered 503 not_replicated
    replicate_ms: LatencySamples = field(default_factory=LatencySamples)
    verify_workers: int = 0  # verify worker processes running (node/verify_pool.py)
    pre_verified: int = 0  # signatures workers checked, handed to admission
    verified_inline: int = 0  # wires the workers had no room for: checked on the loop

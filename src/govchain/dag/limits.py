"""Every limit of the ledger layer, named with its unit, checked in one place."""

from __future__ import annotations

from dataclasses import dataclass

from govchain.dag.kinds import KINDS

# What holding one orphan costs beyond its wire bytes (measured with tracemalloc:
# the decoded body, the pool's entry, and per missing parent its id and its
# entry in the waiting index): see graph.orphan_cost_bytes.
ORPHAN_ENTRY_BYTES = 800
ORPHAN_MISSING_PARENT_BYTES = 280


@dataclass(frozen=True, slots=True)
class DagLimits:
    """Sizes, counts and quotas that admission enforces."""

    tx_bytes_max: int = 67_000
    body_bytes_max: int = 700
    payload_bytes_max: int = 65_536
    parents_count_min: int = 1
    parents_count_max: int = 8
    kind_bytes_max: int = 32
    validity_window_heights_max: int = 10_000
    stamp_bits_min: int = 8
    sender_pending_max: int = 2_000
    # Admitted but not yet final, all senders together: back-pressure that bounds
    # a node's memory and the queue in front of finality.
    pending_count_max: int = 20_000
    # A node refuses new client transactions above this many pending vertices,
    # well before the hard cap above: the queue in front of finality stays short
    # (latency ~ backlog / throughput) while peers' gossip still gets in.
    client_pending_max: int = 1_000
    orphans_count_max: int = 10_000
    # The orphan pool in bytes (wire bytes plus what holding an orphan costs in
    # memory, see graph.orphan_cost_bytes), all sources together, and one
    # source's share of it. A source is the peer connection that sent the
    # orphan, or the API for clients' submissions: sender keys are free to
    # make, connections are not. One share is at most half the pool, so one
    # source can never spend the budget whose exhaustion refuses clients.
    orphan_bytes_max: int = 64 * 1024 * 1024
    orphan_bytes_per_source_max: int = 8 * 1024 * 1024
    orphan_ttl_ms: int = 30_000
    # A checkpoint names at most this many tips (8 KiB of ids). 64 held a paced load
    # of 200 independent senders at half the flood rate to pool_full refusals and a
    # p99 of 1.5 s (each sender's chain is a tip); 256 covers them: p99 0.4 s.
    tips_per_checkpoint_max: int = 256
    # Forget final vertices' contents once covered, keeping their ids: memory
    # stays bounded by the pending DAG; the store serves old vertices.
    prune_covered: bool = False
    # The kinds admission lets in: the built-in ones unless the node runs an
    # application, whose replica sets them from its registry (Registry.dag_limits),
    # so that what admission lets in is exactly what execution knows.
    kinds: frozenset[str] = KINDS

    def __post_init__(self) -> None:
        if not 1 <= self.parents_count_min <= self.parents_count_max <= 64:
            raise ValueError("parents counts must satisfy 1 <= min <= max <= 64")
        if self.payload_bytes_max + self.body_bytes_max + 200 > self.tx_bytes_max:
            raise ValueError("tx_bytes_max must hold the largest body and payload")
        if not 0 <= self.stamp_bits_min <= 32:
            raise ValueError("stamp_bits_min must lie in 0..32")
        if not 1 <= self.client_pending_max <= self.pending_count_max:
            raise ValueError("client_pending_max must lie in 1..pending_count_max")
        if min(self.orphans_count_max, self.sender_pending_max, self.tips_per_checkpoint_max) < 1:
            raise ValueError("pool and quota sizes must be positive")
        if self.orphan_bytes_per_source_max < self.orphan_cost_bytes_max:
            raise ValueError("orphan_bytes_per_source_max must hold the largest orphan")
        if 2 * self.orphan_bytes_per_source_max > self.orphan_bytes_max:
            raise ValueError("orphan_bytes_per_source_max must be at most half of orphan_bytes_max")
        if any(not 0 < len(k.encode()) <= self.kind_bytes_max for k in self.kinds):
            raise ValueError("every kind must take 1..kind_bytes_max bytes")

    @property
    def orphan_cost_bytes_max(self) -> int:
        """What the largest orphan is charged: a largest wire missing every parent."""
        return (
            self.tx_bytes_max
            + ORPHAN_ENTRY_BYTES
            + self.parents_count_max * ORPHAN_MISSING_PARENT_BYTES
        )

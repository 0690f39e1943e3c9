"""A replica's snapshot: its ledger's image after a height, and what its DAG keeps.

A restart loads the newest snapshot and re-executes only the heights after
it, instead of the whole chain (docs/snapshots.md). The snapshot is written
in the same atomic commit as the execution of its height, so it never runs
ahead of what the store holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from govchain.dag.graph import DagFrontier

SNAPSHOT_BYTES_MAX = 1 << 30


class Snapshot(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """State after executing `height`: enough to resume without the heights before it."""

    height: int
    state_hash: bytes  # the ledger's after height: the store checks it against `executed`
    ledger: bytes  # state/ledger_image.py image_of
    frontier: DagFrontier
    # Payloads final as rejected or redacted at these heights, whose purge waits
    # for the next decided checkpoint: a restart must still purge them.
    purges: list[tuple[int, list[bytes]]]
    txs_final: int  # transactions final at heights 1..height (the store checks its count)


SNAPSHOT_DECODER = msgspec.msgpack.Decoder(Snapshot)


@dataclass(frozen=True, slots=True)
class SnapshotPolicy:
    """When a replica writes a snapshot: after this many transactions or heights since the last.

    Both count executed heights, which every replica executes alike: the same
    chain gives the same snapshot heights on every node.
    """

    txs: int = 20_000
    heights: int = 2_000

    def due(self, txs_since: int, heights_since: int) -> bool:
        """True when a snapshot is due after an execution."""
        return txs_since >= self.txs or heights_since >= self.heights

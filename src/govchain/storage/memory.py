"""The in-memory Store: the reference the SQLite store is tested against.

A refused commit changes nothing; the checks both stores share are in base.py.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import msgspec

from govchain.consensus.messages import Certificate, Checkpoint
from govchain.consensus.tendermint import HardState
from govchain.dag.tx import Transaction
from govchain.replica.execution import Execution
from govchain.replica.outputs import Persisted, ReplicaReady
from govchain.replica.snapshot import Snapshot
from govchain.state.audit import AuditEntry
from govchain.state.receipts import Receipt
from govchain.storage.base import (
    CommitError,
    StoredTx,
    StoreError,
    check_ready,
    check_tx,
    prefix_bounds,
)
from govchain.storage.movement_snapshot import MovementSnapshot
from govchain.trace.movements import Movement

if TYPE_CHECKING:
    from govchain.storage.base import Store
    from govchain.trace.movements import MovementSource


def copy_hard_state(hs: HardState) -> HardState:
    """HardState is the one mutable struct; its fields are immutable, so a shallow copy does."""
    return msgspec.structs.replace(hs)


def copy_execution(ex: Execution) -> Execution:
    """An Execution whose receipts list is not shared with ex."""
    return Execution(ex.checkpoint, ex.txs, replace(ex.result, receipts=list(ex.result.receipts)))


@dataclass(slots=True)
class _Vertex:
    tx: Transaction
    height: int | None = None
    index: int | None = None


MEMORY_SNAPSHOTS_KEPT = 8  # sync_snapshot() looks among these


class MemoryStore:
    """Store held in process memory; commit() is atomic but of course not durable."""

    def __init__(self) -> None:
        self._hard_state: HardState | None = None
        self._decided: list[tuple[Checkpoint, Certificate]] = []
        self._executed: list[Execution] = []
        self._vertices: dict[bytes, _Vertex] = {}  # admission order
        self._waiting: dict[bytes, Transaction] = {}  # clients' orphans, in arrival order
        # account -> its movements in final order, and their heights (for bisecting)
        self._movements: dict[bytes, list[Movement]] = {}
        self._movement_heights: dict[bytes, list[int]] = {}
        self._snapshot: Snapshot | None = None
        self._synced: list[Snapshot] = []  # the newest few, for sync_snapshot()
        self._closed = False

    def _open(self) -> None:
        if self._closed:
            raise StoreError("the store is closed")

    def load(self, from_snapshot: bool = True) -> Persisted:
        """Everything a Replica needs to resume (fresh lists, safe to mutate)."""
        self._open()
        snap = self._snapshot if from_snapshot else None
        return Persisted(
            hard_state=copy_hard_state(self._hard_state) if self._hard_state else None,
            decided=list(self._decided),
            executed=[copy_execution(ex) for ex in self._executed[snap.height if snap else 0 :]],
            vertices=[v.tx for v in self._vertices.values() if v.height is None],
            waiting=list(self._waiting.values()),
            snapshot=snap,
        )

    def sync_snapshot(self, sync_every: int) -> Snapshot | None:
        """The newest snapshot at a multiple of sync_every that a decided checkpoint certifies."""
        self._open()
        if sync_every <= 0:
            return None
        certified = [s for s in self._synced if s.height < len(self._decided)]
        return next((s for s in reversed(certified) if s.height % sync_every == 0), None)

    def sync_snapshot_height(self, sync_every: int) -> int | None:
        """sync_snapshot()'s height (None: none kept)."""
        snap = self.sync_snapshot(sync_every)
        return None if snap is None else snap.height

    def commit(self, ready: ReplicaReady) -> None:
        """Check everything first, then apply; a refused commit changes nothing."""
        self._open()
        if not ready.must_persist():
            return
        check_ready(ready, len(self._decided), len(self._executed), self._checkpoint)
        admitted: dict[bytes, Transaction] = {}
        for tx in ready.admitted:
            if tx.id in self._vertices or tx.id in admitted:
                raise CommitError(f"vertex {tx.id.hex()} is already stored")
            check_tx(tx)
            admitted[tx.id] = tx
        covered: dict[bytes, tuple[Transaction, int, int]] = {}
        for ex in ready.executed:
            h = ex.checkpoint.height
            for index, tx in enumerate(ex.txs):
                v = self._vertices.get(tx.id)
                if (v is not None and v.height is not None) or tx.id in covered:
                    raise CommitError(f"vertex {tx.id.hex()} is covered twice")
                if v is None and tx.id not in admitted:
                    check_tx(tx)
                covered[tx.id] = (tx, h, index)
            for m in ex.result.movements:
                if m.height != h or m.amount <= 0:
                    raise CommitError(f"execution at height {h}: movement {m!r:.120}")
        for tx in ready.waiting:
            check_tx(tx)
        # Apply: nothing below can fail.
        if ready.hard_state is not None:
            self._hard_state = copy_hard_state(ready.hard_state)
        self._decided.extend(ready.decided)
        self._executed.extend(copy_execution(ex) for ex in ready.executed)
        if ready.snapshot is not None:
            self._snapshot = ready.snapshot
            self._synced = [*self._synced[-(MEMORY_SNAPSHOTS_KEPT - 1) :], ready.snapshot]
        for ex in ready.executed:
            for m in ex.result.movements:
                for account in (m.src,) if m.src == m.dst else (m.src, m.dst):
                    self._movements.setdefault(account, []).append(m)
                    self._movement_heights.setdefault(account, []).append(m.height)
        for tx in ready.admitted:
            self._vertices[tx.id] = _Vertex(tx)
        for vid, (tx, h, index) in covered.items():
            v = self._vertices.setdefault(vid, _Vertex(tx))
            v.height, v.index = h, index
            if tx.payload_missing:
                v.tx = tx  # final as rejected: its payload goes in this commit
        for vid in ready.purged:
            self._redact(vid)
        for tx in ready.waiting:
            self._waiting.setdefault(tx.id, tx)
        for vid in ready.unwaited:
            self._waiting.pop(vid, None)

    def _redact(self, vid: bytes) -> None:
        """Forget a final transaction's payload everywhere this store holds it."""
        v = self._vertices.get(vid)
        if v is None or v.height is None or v.index is None:
            return
        v.tx = v.tx.without_payload()
        ex = self._executed[v.height - 1]
        txs = list(ex.txs)
        txs[v.index] = v.tx
        self._executed[v.height - 1] = Execution(ex.checkpoint, tuple(txs), ex.result)

    def _checkpoint(self, height: int) -> Checkpoint | None:
        return self._decided[height - 1][0] if 1 <= height <= len(self._decided) else None

    def get_tx(self, tx_id: bytes) -> StoredTx | None:
        """A stored transaction with its final height and receipt, if any."""
        self._open()
        v = self._vertices.get(tx_id)
        if v is None:
            return None
        if v.height is None or v.index is None:
            return StoredTx(v.tx, None, None)
        return StoredTx(v.tx, v.height, self._executed[v.height - 1].result.receipts[v.index])

    def is_final(self, tx_id: bytes) -> bool:
        """True when a stored checkpoint covers tx_id."""
        self._open()
        v = self._vertices.get(tx_id)
        return v is not None and v.height is not None

    def tx_ids_with_prefix(self, prefix: str, limit: int) -> list[bytes]:
        """Ids of stored transactions whose hex starts with prefix: the first `limit`, sorted."""
        self._open()
        lo, hi = prefix_bounds(prefix)
        return sorted(vid for vid in self._vertices if lo <= vid <= hi)[: max(limit, 0)]

    def get_checkpoint(self, height: int) -> tuple[Checkpoint, Certificate] | None:
        """A decided checkpoint and its certificate."""
        self._open()
        return self._decided[height - 1] if 1 <= height <= len(self._decided) else None

    def decided_height(self) -> int:
        """Highest decided height (0 before the first)."""
        self._open()
        return len(self._decided)

    def receipts(self, height: int) -> list[Receipt]:
        """The receipts of an executed height in final order ([] when not executed)."""
        self._open()
        if not 1 <= height <= len(self._executed):
            return []
        return list(self._executed[height - 1].result.receipts)

    def tx_counts(self, from_height: int, to_height: int) -> dict[int, int]:
        """How many transactions each executed height in from..to finalized (others absent)."""
        self._open()
        lo, hi = max(from_height, 1), min(to_height, len(self._executed))
        return {h: len(self._executed[h - 1].txs) for h in range(lo, hi + 1)}

    def audit(self, from_height: int, to_height: int) -> list[AuditEntry]:
        """Audit entries appended by the executed heights from..to (inclusive), in order."""
        self._open()
        lo, hi = max(from_height, 1), min(to_height, len(self._executed))
        return [e for h in range(lo, hi + 1) for e in self._executed[h - 1].result.audit]

    def audit_head(self, height: int) -> bytes | None:
        """The audit head after executing height (None when not executed)."""
        self._open()
        if not 1 <= height <= len(self._executed):
            return None
        return self._executed[height - 1].result.audit_head

    def movements_of(self, account: bytes, from_height: int, to_height: int) -> Iterator[Movement]:
        """Movements into or out of account within the heights (inclusive), in final order."""
        self._open()
        moves = self._movements.get(account, [])
        heights = self._movement_heights.get(account, [])
        for i in range(bisect_left(heights, from_height), len(moves)):
            if heights[i] > to_height:
                return
            yield moves[i]

    def last_before(self, account: bytes, height: int) -> Movement | None:
        """The account's last movement at a height below `height` (None: none)."""
        self._open()
        i = bisect_left(self._movement_heights.get(account, []), height)
        return self._movements[account][i - 1] if i else None

    def top_height(self) -> int:
        """The highest height indexed: the last executed (indexed in the same commit)."""
        self._open()
        return len(self._executed)

    def movement_snapshot(self) -> MovementSnapshot:
        """The index up to the last executed height (lists here only ever grow)."""
        self._open()
        return MovementSnapshot(self, len(self._executed))

    def movements_at(self, height: int) -> list[Movement] | None:
        """Every movement of value a height made, in final order (None: not executed here)."""
        self._open()
        if not 1 <= height <= len(self._executed):
            return None
        return list(self._executed[height - 1].result.movements)

    def state_hash_at(self, height: int) -> bytes | None:
        """The state hash after executing height (None: not executed here)."""
        self._open()
        if not 1 <= height <= len(self._executed):
            return None
        return self._executed[height - 1].result.state_hash

    def movements_from(self) -> int:
        """The first height indexed (always 1 here: nothing is migrated)."""
        self._open()
        return 1

    def close(self) -> None:
        """Drop the contents; the store is unusable afterwards."""
        self._closed = True
        self._hard_state = None
        self._decided, self._executed, self._vertices = [], [], {}
        self._movements, self._movement_heights = {}, {}


if TYPE_CHECKING:
    _conforms: Store = MemoryStore()
    _source: MovementSource = MemoryStore()

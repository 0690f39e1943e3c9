"""The store interface a node writes through: one atomic commit per replica output.

Also what every store shares: its errors and the checks a commit must pass
before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from govchain.codec import HASH_BYTES
from govchain.consensus.messages import Certificate, Checkpoint
from govchain.crypto.keys import SIGNATURE_BYTES
from govchain.dag.tx import Transaction, payload_hash, tx_id
from govchain.replica.outputs import Persisted, ReplicaReady
from govchain.replica.snapshot import Snapshot
from govchain.state.audit import AuditEntry
from govchain.state.receipts import Receipt
from govchain.storage.movement_snapshot import MovementSnapshot
from govchain.trace.movements import Movement


@dataclass(frozen=True, slots=True)
class StoredTx:
    """A transaction as the store holds it; height and receipt are None until final."""

    tx: Transaction
    height: int | None
    receipt: Receipt | None

    @property
    def redacted(self) -> bool:
        """True when governance removed the payload (tx.payload is then empty)."""
        return self.tx.payload_missing


class Store(Protocol):
    """Durable state of one node.

    commit() is atomic and durable when it returns: either every part of the
    ReplicaReady is stored or none is, and a kill -9 afterwards loses nothing.
    A commit removes the payloads of the ids in `ReplicaReady.purged` (final as
    rejected, or redacted) from everything the store keeps, in the same commit,
    and an execution whose copy of a transaction has no payload leaves none.
    The node calls it before sending anything that ReplicaReady holds.
    """

    def load(self, from_snapshot: bool = True) -> Persisted:
        """Everything a Replica needs to resume: hard state, decisions, executions, vertices.

        With a snapshot (and from_snapshot), executions only after it; else all.
        """
        ...

    def commit(self, ready: ReplicaReady) -> None:
        """Store a replica's output atomically (no-op when it holds nothing to persist)."""
        ...

    def sync_snapshot(self, sync_every: int) -> Snapshot | None:
        """The newest kept snapshot at a sync height a decided checkpoint certifies, or None.

        What a node offers to joiners: a multiple of sync_every below the decided height.
        """
        ...

    def sync_snapshot_height(self, sync_every: int) -> int | None:
        """sync_snapshot()'s height, without reading the snapshot (None: none kept)."""
        ...

    def get_tx(self, tx_id: bytes) -> StoredTx | None:
        """A stored transaction with its finality, if any."""
        ...

    def is_final(self, tx_id: bytes) -> bool:
        """True when a stored checkpoint covers tx_id (cheaper than get_tx)."""
        ...

    def tx_ids_with_prefix(self, prefix: str, limit: int) -> list[bytes]:
        """Ids of stored transactions whose hex starts with prefix: the first `limit`, sorted.

        prefix: 1 to 64 lowercase hex characters (prefix_bounds checks it).
        """
        ...

    def get_checkpoint(self, height: int) -> tuple[Checkpoint, Certificate] | None:
        """A decided checkpoint and its certificate."""
        ...

    def decided_height(self) -> int:
        """Highest decided height (0 before the first)."""
        ...

    def receipts(self, height: int) -> list[Receipt]:
        """The receipts of an executed height, in final order."""
        ...

    def tx_counts(self, from_height: int, to_height: int) -> dict[int, int]:
        """How many transactions each executed height in from..to finalized (others absent).

        Reads that range of heights alone, and no transaction.
        """
        ...

    def audit(self, from_height: int, to_height: int) -> list[AuditEntry]:
        """Audit entries appended by the executed heights from..to (inclusive), in order."""
        ...

    def audit_head(self, height: int) -> bytes | None:
        """The audit head after executing height (None when not executed)."""
        ...

    def state_hash_at(self, height: int) -> bytes | None:
        """The state hash after executing height (None: not executed here)."""
        ...

    def movements_at(self, height: int) -> list[Movement] | None:
        """Every movement of value a height made, in final order (None: not executed here)."""
        ...

    def movement_snapshot(self) -> MovementSnapshot:
        """The movement index as it is now, for a trace on a worker thread (close it)."""
        ...

    def close(self) -> None:
        """Release files; the store is unusable afterwards."""
        ...


@runtime_checkable
class MovementHistory(Protocol):
    """A store that reads an account's movements backwards, a page at a time.

    Apart from Store so that a store without it (the in-memory one) is still a
    Store; the API answers 501 for an account's history over such a store.
    """

    def movements_before(
        self, account: bytes, before_mseq: int, limit: int
    ) -> list[tuple[int, Movement]]:
        """The account's last `limit` movements whose mseq (height << 32 | place in
        the height) is below before_mseq, newest first, each with its mseq."""
        ...

    def movements_from(self) -> int:
        """The first height indexed (movements of earlier heights are not read)."""
        ...


_HEX_DIGITS = frozenset("0123456789abcdef")


def prefix_bounds(prefix: str) -> tuple[bytes, bytes]:
    """The least and greatest 32-byte ids whose hex starts with prefix (1..64 lowercase hex).

    An id matches exactly when it lies between the two, so a prefix is a range
    of any index ordered by id (or by the id's leading bytes).
    """
    if not 1 <= len(prefix) <= HASH_BYTES * 2 or not set(prefix) <= _HEX_DIGITS:
        raise ValueError("an id prefix is 1 to 64 lowercase hex characters")
    width = HASH_BYTES * 2
    return bytes.fromhex(prefix.ljust(width, "0")), bytes.fromhex(prefix.ljust(width, "f"))


@dataclass(frozen=True, slots=True)
class SyncedHeight:
    """One height as state sync checked it, for the store it fills (node/state_sync.py).

    receipts: the height's, in final order, which give the receipts root
    `certifying` (checkpoint height + 1) certifies; audit: its entries, which
    lead from checkpoint height's audit head to certifying's. No transaction:
    a synced store is a pruned one from its first height.
    """

    height: int
    receipts: list[Receipt]
    audit: list[AuditEntry]
    certifying: Checkpoint


class StoreError(Exception):
    """Something is wrong with a store or with what was asked of it."""


class PrunedError(StoreError):
    """The transaction is final, but this node pruned its header and payload (--prune).

    height: where it is final (its receipt and movements are still here).
    """

    def __init__(self, tx_id: bytes, height: int, pruned_to: int) -> None:
        super().__init__(
            f"transaction {tx_id.hex()} is final at height {height}, but this node pruned the "
            f"transactions final at or below height {pruned_to} (--prune): ask an archive node"
        )
        self.tx_id = tx_id
        self.height = height
        self.pruned_to = pruned_to


class CommitError(StoreError, ValueError):
    """A ReplicaReady that cannot follow what is stored; nothing was written."""


def check_tx(tx: Transaction) -> None:
    """A transaction's id and payload hash must match its bytes, or it could not be read back."""
    if len(tx.signature) != SIGNATURE_BYTES or tx.id != tx_id(tx.body_bytes, tx.signature):
        raise CommitError(f"transaction {tx.id.hex()}: id does not match its header")
    # A redacted vertex (fetched for catch-up, its receipt certified) has none.
    if not tx.payload_missing and payload_hash(tx.payload) != tx.body.payload_hash:
        raise CommitError(f"transaction {tx.id.hex()}: payload does not match its hash")


def check_ready(
    ready: ReplicaReady,
    decided_height: int,
    executed_height: int,
    stored_checkpoint: Callable[[int], Checkpoint | None],
) -> None:
    """Refuse decisions and executions that do not extend the stored ones in height order.

    Covers what can be checked without knowing which vertices are stored; each
    store checks admitted duplicates and double coverage itself, and runs
    check_tx on the vertices it newly writes (stored ones were checked then).
    """
    new: dict[int, Checkpoint] = {}
    height = decided_height
    for cp, cert in ready.decided:
        if cp.height != height + 1:
            raise CommitError(f"decided height {cp.height} does not follow {height}")
        if cert.height != cp.height or cert.value != cp.hash:
            raise CommitError(f"certificate at height {cp.height} names another checkpoint")
        new[cp.height] = cp
        height += 1
    height = executed_height
    for ex in ready.executed:
        h = ex.checkpoint.height
        if h != height + 1:
            raise CommitError(f"executed height {h} does not follow {height}")
        if ex.result.height != h:
            raise CommitError(f"execution of height {h} holds a result for {ex.result.height}")
        if (new.get(h) or stored_checkpoint(h)) != ex.checkpoint:
            raise CommitError(f"execution at height {h} names a checkpoint not decided there")
        receipts = ex.result.receipts
        if len(receipts) != len(ex.txs):
            raise CommitError(
                f"execution at height {h}: {len(ex.txs)} transactions, {len(receipts)} receipts"
            )
        for index, (tx, rc) in enumerate(zip(ex.txs, receipts, strict=True)):
            if rc.tx_id != tx.id or rc.height != h or rc.index != index:
                raise CommitError(f"execution at height {h}: receipt {index} does not match")
        height += 1
    snap = ready.snapshot
    if snap is not None:
        states = {ex.checkpoint.height: ex.result.state_hash for ex in ready.executed}
        if states.get(snap.height) != snap.state_hash:
            raise CommitError(f"a snapshot at height {snap.height} not executed in this commit")

"""The store interface a node writes through: one atomic commit per replica output."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from govchain.consensus.messages import Certificate, Checkpoint
from govchain.dag.tx import Transaction
from govchain.replica.replica import Persisted, ReplicaReady
from govchain.state.audit import AuditEntry
from govchain.state.receipts import Receipt


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
    A commit whose executions redact records removes those payloads from
    everything the store keeps, in the same commit.
    The node calls it before sending anything that ReplicaReady holds.
    """

    def load(self) -> Persisted:
        """Everything a Replica needs to resume: hard state, decisions, executions, vertices."""
        ...

    def commit(self, ready: ReplicaReady) -> None:
        """Store a replica's output atomically (no-op when it holds nothing to persist)."""
        ...

    def get_tx(self, tx_id: bytes) -> StoredTx | None:
        """A stored transaction with its finality, if any."""
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

    def audit(self, from_height: int, to_height: int) -> list[AuditEntry]:
        """Audit entries appended by the executed heights from..to (inclusive), in order."""
        ...

    def audit_head(self, height: int) -> bytes | None:
        """The audit head after executing height (None when not executed)."""
        ...

    def close(self) -> None:
        """Release files; the store is unusable afterwards."""
        ...

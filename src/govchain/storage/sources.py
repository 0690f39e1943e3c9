"""What a replica reads back from its node's store, the same for node, simulator and tests."""

from __future__ import annotations

from dataclasses import dataclass

from govchain.consensus.messages import Certificate, Checkpoint
from govchain.dag.tx import Transaction
from govchain.state.audit import AuditEntry
from govchain.state.receipts import ReceiptProof, prove
from govchain.storage.base import PrunedError, Store


@dataclass(frozen=True, slots=True)
class StoreSources:
    """Old vertices, receipt proofs, finality and a height's audit entries, from one store.

    The replica keeps only recent state in memory; these answer peers and
    proofs about anything older (Replica's *_source arguments).
    """

    store: Store

    def vertex(self, vid: bytes) -> Transaction | None:
        """A stored vertex (without its payload when that was purged; None when pruned)."""
        try:
            stored = self.store.get_tx(vid)
        except PrunedError:
            return None  # an archive node serves it
        return stored.tx if stored is not None else None

    def receipt_proof(self, vid: bytes) -> ReceiptProof | None:
        """An executed transaction's receipt with its Merkle proof, or None (also when pruned)."""
        try:
            stored = self.store.get_tx(vid)
        except PrunedError:
            return None
        if stored is None or stored.height is None or stored.receipt is None:
            return None
        return prove(self.store.receipts(stored.height), stored.receipt.index)

    def is_final(self, vid: bytes) -> bool:
        """True when a stored checkpoint covers vid."""
        return self.store.is_final(vid)

    def checkpoint(self, height: int) -> tuple[Checkpoint, Certificate] | None:
        """A decided height's checkpoint and certificate (older than what memory keeps)."""
        return self.store.get_checkpoint(height)

    def audit(self, height: int) -> list[AuditEntry]:
        """The audit entries one executed height appended (a redaction's proof)."""
        return self.store.audit(height, height)

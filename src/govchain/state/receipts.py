"""Receipts: what execution decided for each final transaction, and why."""

from __future__ import annotations

from enum import StrEnum

import msgspec

from govchain.codec import encode
from govchain.crypto import merkle


class Status(StrEnum):
    """Final outcome of a transaction."""

    EXECUTED = "executed"
    REJECTED = "rejected"
    HELD = "held"


class Reason(StrEnum):
    """Why a final transaction was not executed."""

    EXPIRED = "expired"
    MALFORMED_PAYLOAD = "malformed_payload"
    NONCE_GAP = "nonce_gap"
    CONFLICT = "conflict"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    BAD_AMOUNT = "bad_amount"
    NOT_AUTHORIZED = "not_authorized"


REASON_TEXT: dict[Reason, str] = {
    Reason.EXPIRED: "covered by a checkpoint after its validity bound",
    Reason.MALFORMED_PAYLOAD: "the payload does not decode for its kind",
    Reason.NONCE_GAP: "an earlier nonce of this sender is not final yet",
    Reason.CONFLICT: "another transaction with this nonce came first in the final order",
    Reason.INSUFFICIENT_FUNDS: "the sender's balance is below the amount",
    Reason.BAD_AMOUNT: "the amount must be a positive integer within the supply",
    Reason.NOT_AUTHORIZED: "the sender may not send this kind of transaction",
}


class Receipt(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """One transaction's final outcome; a leaf of the checkpoint's receipts tree."""

    tx_id: bytes
    height: int
    index: int
    status: str
    reason: str | None = None
    rule: str | None = None
    governance_ref: str | None = None

    def leaf(self) -> bytes:
        """Hashed leaf for the receipts Merkle tree."""
        return merkle.leaf_hash(encode(self))


def receipts_root(receipts: list[Receipt]) -> bytes:
    """Merkle root over a checkpoint's receipts in final order."""
    return merkle.root_of_hashes([r.leaf() for r in receipts])


class ReceiptProof(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """A receipt, its place among its checkpoint's receipts, and the Merkle audit path."""

    receipt: Receipt
    size: int
    path: tuple[bytes, ...]

    def verify(self, expected_root: bytes) -> bool:
        """True when the receipt sits at its index under expected_root."""
        r = self.receipt
        return merkle.verify_inclusion(r.leaf(), r.index, self.size, self.path, expected_root)


def prove(receipts: list[Receipt], index: int) -> ReceiptProof:
    """Inclusion proof of receipts[index] under receipts_root(receipts)."""
    leaves = [r.leaf() for r in receipts]
    return ReceiptProof(receipts[index], len(leaves), tuple(merkle.inclusion_proof(leaves, index)))

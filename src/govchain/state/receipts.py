"""Receipts: what execution decided for each final transaction, and why."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import NamedTuple

import msgspec

from govchain.codec import encode, encode_all
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
    UNKNOWN_KIND = "unknown_kind"
    # The sender's standing (identities and governance decisions).
    FROZEN = "frozen"
    FROZEN_AMOUNT = "frozen_amount"  # over what the liens leave spendable (freeze-amount)
    REVOKED = "revoked"
    TIER_LIMIT = "tier_limit"
    # Records and services.
    UNKNOWN_SERVICE = "unknown_service"
    SERVICE_SUSPENDED = "service_suspended"
    SERVICE_EXISTS = "service_exists"
    CONTENT_RULE = "content_rule"
    # Holds (status held) and how they end.
    HELD_AMOUNT = "held_amount"
    HELD_REVIEW = "held_review"
    HELD_WATCH = "held_watch"
    INTERCEPTED = "intercepted"
    # Governance transactions.
    BAD_ARGUMENT = "bad_argument"
    EMERGENCY_NOT_ALLOWED = "emergency_not_allowed"
    UNKNOWN_PROPOSAL = "unknown_proposal"
    PROPOSAL_CLOSED = "proposal_closed"
    DUPLICATE_VOTE = "duplicate_vote"
    LIMIT_REACHED = "limit_reached"


REASON_TEXT: dict[Reason, str] = {
    Reason.EXPIRED: "covered by a checkpoint after its validity bound",
    Reason.MALFORMED_PAYLOAD: "the payload does not decode for its kind",
    Reason.NONCE_GAP: "an earlier nonce of this sender is not final yet",
    Reason.CONFLICT: "another transaction with this nonce came first in the final order",
    Reason.INSUFFICIENT_FUNDS: "the sender's balance is below the amount",
    Reason.BAD_AMOUNT: "the amount must be a positive integer within the supply",
    Reason.NOT_AUTHORIZED: "the sender may not send this kind of transaction",
    Reason.UNKNOWN_KIND: "the transaction's kind is not one that execution knows",
    Reason.FROZEN: "the sender is frozen by a governance decision (governance_ref)",
    Reason.FROZEN_AMOUNT: (
        "the amount is above the sender's balance less the liens in force"
        " (governance_ref: the newest lien)"
    ),
    Reason.REVOKED: "the sender's identity was revoked by its issuer",
    Reason.TIER_LIMIT: "over the payload size or per-checkpoint count of the sender's tier",
    Reason.UNKNOWN_SERVICE: "the record names a service that is not registered",
    Reason.SERVICE_SUSPENDED: "the record's service is suspended by governance (governance_ref)",
    Reason.SERVICE_EXISTS: "another owner already registered this service id",
    Reason.CONTENT_RULE: "the content matches a governance content rule (rule, governance_ref)",
    Reason.HELD_AMOUNT: "the amount is at or above hold_amount_min; held for review",
    Reason.HELD_REVIEW: "the sender holds the review role; held for review",
    Reason.HELD_WATCH: "the sender is watched by a governance decision (governance_ref); held",
    Reason.INTERCEPTED: "a governance decision intercepted the held transaction",
    Reason.BAD_ARGUMENT: "an argument is invalid (address, id, role, parameter or bound)",
    Reason.EMERGENCY_NOT_ALLOWED: "the action may not be an emergency measure",
    Reason.UNKNOWN_PROPOSAL: "no proposal has this id",
    Reason.PROPOSAL_CLOSED: "the proposal is no longer open for votes",
    Reason.DUPLICATE_VOTE: "this committee member already voted on the proposal",
    Reason.LIMIT_REACHED: "a registry of the ledger is full (see docs/governance.md limits)",
}


# An application's own rejection reasons (the warehouse's "wr_encumbered", ...):
# snake_case, bounded. Stores and verifiers accept these besides `Reason`'s.
APP_REASON_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,63}")
_BUILTIN_REASONS = frozenset(r.value for r in Reason)


def reason_ok(reason: str) -> bool:
    """True for a built-in reason or a well-formed application reason."""
    return reason in _BUILTIN_REASONS or APP_REASON_PATTERN.fullmatch(reason) is not None


class Outcome(NamedTuple):
    """What execution decided for one transaction, before it becomes a Receipt."""

    status: str
    reason: str | None = None
    rule: str | None = None
    governance_ref: str | None = None


def rejected(reason: Reason, governance_ref: str | None = None) -> Outcome:
    """A rejection, naming the decision behind it when there is one."""
    return Outcome(Status.REJECTED.value, reason.value, None, governance_ref)


# gc=False: only bytes, ints and strings inside, so never in a reference cycle;
# execution makes one per final transaction and the collector need not track them.
class Receipt(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True, gc=False):
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
    # Receipt.leaf for each, without two Python calls per receipt.
    return merkle.root_of_hashes(merkle.leaf_hashes(encode_all(receipts)))


def receipts_fault(height: int, receipts: list[Receipt], root: bytes) -> str | None:
    """Why receipts are not height's, each at its index, under root; None when they are."""
    for i, rc in enumerate(receipts):
        if rc.height != height or rc.index != i:
            return f"receipt {i} of height {height} names another place"
    if receipts_root(receipts) != root:
        return f"the receipts of height {height} do not give their root"
    return None


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
    leaves = merkle.leaf_hashes(encode_all(receipts))
    return ReceiptProof(receipts[index], len(leaves), tuple(merkle.inclusion_proof(leaves, index)))

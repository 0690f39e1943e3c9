"""Stateless admission checks, cheapest first; every rejection has a typed reason."""

from __future__ import annotations

from enum import StrEnum

from govchain.codec import HASH_BYTES, DecodeError, decode_canonical
from govchain.crypto.keys import SIGNATURE_BYTES, point_is_acceptable, verify
from govchain.dag.limits import DagLimits
from govchain.dag.tx import (
    BODY_DECODER,
    SIGN_DOMAIN,
    WIRE_DECODER,
    Transaction,
    TxWire,
    payload_hash,
    stamp_ok,
    tx_id,
)


class Reject(StrEnum):
    """Why a transaction was not admitted to the DAG."""

    TOO_LARGE = "too_large"
    MALFORMED = "malformed"
    WRONG_CHAIN = "wrong_chain"
    UNKNOWN_KIND = "unknown_kind"
    BAD_PARENTS = "bad_parents"
    BAD_PAYLOAD = "bad_payload"
    BAD_KEY = "bad_key"
    EXPIRED = "expired"
    VALIDITY_TOO_FAR = "validity_too_far"
    WEAK_STAMP = "weak_stamp"
    DUPLICATE = "duplicate"
    QUOTA_EXCEEDED = "quota_exceeded"
    BAD_SIGNATURE = "bad_signature"
    ORPHAN_POOL_FULL = "orphan_pool_full"
    POOL_FULL = "pool_full"
    # The node is behind the network (restarted, or cut off): a client's
    # transaction would wait there for parents it has not fetched yet.
    CATCHING_UP = "catching_up"
    # Not a rule of admission but the shell's answer: the node holds it, but
    # too few validators acknowledged it in time (replica/replication.py).
    NOT_REPLICATED = "not_replicated"


# Reasons the replica or the node gives, not the DAG's rules: the node is behind,
# or too few validators acknowledged the transaction in time.
SHELL_REASONS = frozenset({Reject.CATCHING_UP, Reject.NOT_REPLICATED})


class AdmissionError(Exception):
    """A transaction was refused; reason says which rule, detail says how."""

    def __init__(self, reason: Reject, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


def decode_checked(wire: bytes, chain_id: str, limits: DagLimits) -> Transaction:
    """Decode and check everything that needs no DAG state and no signature."""
    return check_wire(decode_wire(wire, limits), chain_id, limits)


def decode_wire(wire: bytes, limits: DagLimits) -> TxWire:
    """The outer array only (size, canonical encoding); check_wire does the rest."""
    if len(wire) > limits.tx_bytes_max:
        raise AdmissionError(Reject.TOO_LARGE, f"{len(wire)} bytes > {limits.tx_bytes_max}")
    try:
        return decode_canonical(wire, WIRE_DECODER)
    except DecodeError as exc:
        raise AdmissionError(Reject.MALFORMED, str(exc)) from exc


def check_wire(
    w: TxWire,
    chain_id: str,
    limits: DagLimits,
    vid: bytes | None = None,
    *,
    payload_withheld: bool = False,
) -> Transaction:
    """The checks of decode_checked on a canonically decoded wire (vid: its id, if known).

    payload_withheld: the payload must be absent (a redacted final record, whose
    outcome the caller takes from a certified receipt); only the header is checked.
    """
    if len(w.body) > limits.body_bytes_max:
        raise AdmissionError(Reject.TOO_LARGE, f"body of {len(w.body)} bytes")
    try:
        body = decode_canonical(w.body, BODY_DECODER)
    except DecodeError as exc:
        raise AdmissionError(Reject.MALFORMED, str(exc)) from exc
    if body.chain_id != chain_id:
        raise AdmissionError(Reject.WRONG_CHAIN, f"chain {body.chain_id!r} is not {chain_id!r}")
    if len(body.kind) > limits.kind_bytes_max or body.kind not in limits.kinds:
        raise AdmissionError(Reject.UNKNOWN_KIND, f"kind {body.kind[:40]!r}")
    parents = body.parents
    if not limits.parents_count_min <= len(parents) <= limits.parents_count_max:
        raise AdmissionError(Reject.BAD_PARENTS, f"{len(parents)} parents")
    # b"" sorts below every 32-byte id, so the first parent needs no special case.
    prev = b""
    for p in parents:
        if len(p) != HASH_BYTES or prev >= p:
            raise AdmissionError(Reject.BAD_PARENTS, "parents must be distinct ascending ids")
        prev = p
    # payload_len too: a withheld payload's check below only asks that it is not 0.
    if body.nonce < 0 or body.valid_until < 0 or body.stamp < 0 or body.payload_len < 0:
        raise AdmissionError(Reject.MALFORMED, "negative integer field")
    if payload_withheld:
        if w.payload or not body.payload_len:
            raise AdmissionError(Reject.BAD_PAYLOAD, "a withheld payload must be absent")
    elif body.payload_len > limits.payload_bytes_max or body.payload_len != len(w.payload):
        raise AdmissionError(Reject.BAD_PAYLOAD, "payload length does not match the header")
    if not point_is_acceptable(body.sender):  # which refuses any length but 32
        raise AdmissionError(Reject.BAD_KEY, "sender key is non-canonical or of small order")
    if len(w.signature) != SIGNATURE_BYTES:
        raise AdmissionError(Reject.MALFORMED, "signature must be 64 bytes")
    if not stamp_ok(w.body, limits.stamp_bits_min):
        raise AdmissionError(Reject.WEAK_STAMP, f"stamp below {limits.stamp_bits_min} bits")
    # Last of the cheap checks: hashing a payload costs up to payload_bytes_max.
    if not payload_withheld and body.payload_hash != payload_hash(w.payload):
        raise AdmissionError(Reject.BAD_PAYLOAD, "payload hash does not match the header")
    if vid is None:
        vid = tx_id(w.body, w.signature)
    return Transaction(vid, body, w.body, w.signature, w.payload)


def check_signature(tx: Transaction) -> None:
    """Strict Ed25519 check of the sender's signature over the body."""
    # decode_checked has already refused unacceptable sender keys.
    if not verify(tx.body.sender, SIGN_DOMAIN + tx.body_bytes, tx.signature, key_checked=True):
        raise AdmissionError(Reject.BAD_SIGNATURE, "signature does not verify")

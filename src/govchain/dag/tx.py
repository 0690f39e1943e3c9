"""Transactions: a signed header (body + signature) and a payload kept apart."""

from __future__ import annotations

import hashlib

import msgspec

from govchain.codec import decode_canonical, encode
from govchain.crypto.keys import SIGNATURE_BYTES, SigningKey

SIGN_DOMAIN = b"govchain:tx-sign:v1:"
ID_DOMAIN = b"govchain:tx-id:v1:"
STAMP_DOMAIN = b"govchain:tx-stamp:v1:"
PAYLOAD_DOMAIN = b"govchain:payload:v1:"

# Hashers already fed their domain tag: copy() and update() cost less than
# building domain + data and a fresh hasher, and a large payload is not copied.
_ID_HASH = hashlib.sha256(ID_DOMAIN)
_STAMP_HASH = hashlib.sha256(STAMP_DOMAIN)
_PAYLOAD_HASH = hashlib.sha256(PAYLOAD_DOMAIN)
# _STAMP_BELOW[b - 1]: the 32-byte big-endian 2^(256 - b). A digest has b leading zero
# bits exactly when it sorts below it (equal-length bytes compare as the numbers do).
_STAMP_BELOW = tuple((1 << (256 - b)).to_bytes(32, "big") for b in range(1, 65))
# The canonical bytes of the first stamps (at 8 bits, a stamp beyond 4,096 comes
# once in e^16 transactions): build() appends them to a body's fixed prefix.
_STAMP_BYTES = tuple(encode(s) for s in range(4_096))


# gc=False on these structs: they hold only bytes, str, ints and tuples of bytes
# (Transaction: a TxBody), so they can never be part of a reference cycle, and
# leaving them out of the collector makes each decode cheaper and the cyclic
# GC's passes over a large pending DAG shorter. The encoding does not change.
class TxBody(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True, gc=False):
    """What the sender signs. Parents are strictly ascending ids."""

    chain_id: str
    sender: bytes
    kind: str
    nonce: int
    parents: tuple[bytes, ...]
    valid_until: int
    payload_hash: bytes
    payload_len: int
    stamp: int


class TxWire(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True, gc=False):
    """A transaction as it travels: body bytes exactly as signed, signature, payload."""

    body: bytes
    signature: bytes
    payload: bytes


BODY_DECODER = msgspec.msgpack.Decoder(TxBody)
WIRE_DECODER = msgspec.msgpack.Decoder(TxWire)


def payload_hash(payload: bytes) -> bytes:
    """Hash under which a payload is stored apart from its header."""
    h = _PAYLOAD_HASH.copy()
    h.update(payload)
    return h.digest()


def tx_id(body_bytes: bytes, signature: bytes) -> bytes:
    """A transaction's id: the hash of its header (body and signature).

    The signature has a fixed length and comes last, so plain concatenation
    is unambiguous; callers have checked that length.
    """
    assert len(signature) == SIGNATURE_BYTES
    h = _ID_HASH.copy()
    h.update(body_bytes)
    h.update(signature)
    return h.digest()


def stamp_ok(body_bytes: bytes, bits_min: int) -> bool:
    """True when the body's stamp hash starts with bits_min zero bits (bits_min <= 64)."""
    if not 0 < bits_min <= 64:
        # 0 asks for nothing; outside 0..64, keep the arithmetic's own answer (or error).
        head = hashlib.sha256(STAMP_DOMAIN + body_bytes).digest()[:8]
        return int.from_bytes(head, "big") >> (64 - bits_min) == 0 if bits_min else True
    h = _STAMP_HASH.copy()
    h.update(body_bytes)
    return h.digest() < _STAMP_BELOW[bits_min - 1]


class Transaction(msgspec.Struct, frozen=True, gc=False):
    """A decoded, not yet verified transaction with its id (a Struct: cheap to build)."""

    id: bytes
    body: TxBody
    body_bytes: bytes
    signature: bytes
    payload: bytes

    def to_wire(self) -> bytes:
        """Canonical wire bytes of this transaction."""
        return encode(TxWire(self.body_bytes, self.signature, self.payload))

    @property
    def payload_missing(self) -> bool:
        """True when the payload was removed (redacted); the header still verifies."""
        return not self.payload and self.body.payload_len > 0

    def without_payload(self) -> Transaction:
        """This transaction with its payload removed, as a redaction leaves it."""
        return msgspec.structs.replace(self, payload=b"")


def decode_body(body_bytes: bytes) -> TxBody:
    """Decode signed body bytes, insisting on the canonical encoding."""
    return decode_canonical(body_bytes, BODY_DECODER)


def build(
    key: SigningKey,
    *,
    chain_id: str,
    kind: str,
    nonce: int,
    parents: list[bytes],
    valid_until: int,
    payload: bytes,
    stamp_bits_min: int,
) -> Transaction:
    """Build, stamp and sign a transaction (client side)."""
    base = TxBody(
        chain_id=chain_id,
        sender=key.public_key,
        kind=kind,
        nonce=nonce,
        parents=tuple(sorted(set(parents))),
        valid_until=valid_until,
        payload_hash=payload_hash(payload),
        payload_len=len(payload),
        stamp=0,
    )
    if not 0 < stamp_bits_min <= len(_STAMP_BELOW):
        stamp = 0
        while True:
            body = msgspec.structs.replace(base, stamp=stamp)
            body_bytes = encode(body)
            if stamp_ok(body_bytes, stamp_bits_min):
                break
            stamp += 1
    else:
        # The stamp is the body's last field (TxBody is array_like), so every
        # candidate's encoding is one fixed prefix and the stamp's own bytes:
        # hash the prefix once, and each try costs a hasher copy and a few
        # bytes instead of a whole encoding (half the cost of a transaction).
        prefix = encode(base)[:-1]  # stamp 0 encodes as the one byte 0x00
        head = _STAMP_HASH.copy()
        head.update(prefix)
        below = _STAMP_BELOW[stamp_bits_min - 1]
        stamp = 0
        while True:
            tail = _STAMP_BYTES[stamp] if stamp < len(_STAMP_BYTES) else encode(stamp)
            h = head.copy()
            h.update(tail)
            if h.digest() < below:
                break
            stamp += 1
        body_bytes = prefix + tail
        body = msgspec.structs.replace(base, stamp=stamp)
    signature = key.sign(SIGN_DOMAIN + body_bytes)
    return Transaction(tx_id(body_bytes, signature), body, body_bytes, signature, payload)

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


class TxBody(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
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


class TxWire(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """A transaction as it travels: body bytes exactly as signed, signature, payload."""

    body: bytes
    signature: bytes
    payload: bytes


BODY_DECODER = msgspec.msgpack.Decoder(TxBody)
WIRE_DECODER = msgspec.msgpack.Decoder(TxWire)


def payload_hash(payload: bytes) -> bytes:
    """Hash under which a payload is stored apart from its header."""
    return hashlib.sha256(PAYLOAD_DOMAIN + payload).digest()


def tx_id(body_bytes: bytes, signature: bytes) -> bytes:
    """A transaction's id: the hash of its header (body and signature).

    The signature has a fixed length and comes last, so plain concatenation
    is unambiguous; callers have checked that length.
    """
    assert len(signature) == SIGNATURE_BYTES
    return hashlib.sha256(ID_DOMAIN + body_bytes + signature).digest()


def stamp_ok(body_bytes: bytes, bits_min: int) -> bool:
    """True when the body's stamp hash starts with bits_min zero bits (bits_min <= 64)."""
    head = hashlib.sha256(STAMP_DOMAIN + body_bytes).digest()[:8]
    return int.from_bytes(head, "big") >> (64 - bits_min) == 0 if bits_min else True


class Transaction(msgspec.Struct, frozen=True):
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
    stamp = 0
    while True:
        body = msgspec.structs.replace(base, stamp=stamp)
        body_bytes = encode(body)
        if stamp_ok(body_bytes, stamp_bits_min):
            break
        stamp += 1
    signature = key.sign(SIGN_DOMAIN + body_bytes)
    return Transaction(tx_id(body_bytes, signature), body, body_bytes, signature, payload)

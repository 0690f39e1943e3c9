"""Canonical encoding (msgspec msgpack arrays), domain-separated hashing and ids."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any, TypeVar

import msgspec

HASH_BYTES = 32
ID_HEX_CHARS = HASH_BYTES * 2  # an id (transaction, proposal) written in hex
# Ids may be given by a unique prefix (as git does): shorter prefixes collide too
# soon to be worth taking; a prefix look-up returns at most ID_MATCHES_MAX ids.
ID_PREFIX_CHARS_MIN = 8
ID_MATCHES_MAX = 16
INT_MAX = 2**63 - 1  # the largest int a msgpack int carries without surprises

T = TypeVar("T")

_encoder = msgspec.msgpack.Encoder()
_encode = _encoder.encode


class DecodeError(ValueError):
    """Bytes from outside did not decode to the expected canonical structure."""


def encode(obj: Any) -> bytes:
    """Encode a msgspec struct (or plain value) to canonical msgpack bytes."""
    return _encode(obj)


def encode_all(objs: Iterable[Any]) -> list[bytes]:
    """encode() of each object, with no Python call per object."""
    return list(map(_encode, objs))


def decode_canonical(data: bytes, decoder: msgspec.msgpack.Decoder[T]) -> T:
    """Decode bytes and insist that re-encoding gives the same bytes.

    msgpack admits several encodings of one value (a small int in a wide type,
    a short string with a long length prefix); hashes and signatures are over
    bytes, so only the one canonical form is accepted.
    """
    try:
        value = decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
        raise DecodeError(str(exc)) from exc
    if _encode(value) != data:
        raise DecodeError("non-canonical encoding")
    return value


def digest(domain: bytes, *parts: bytes) -> bytes:
    """SHA-256 over a domain tag and the parts, each part length-prefixed."""
    h = hashlib.sha256(domain)
    for part in parts:
        h.update(len(part).to_bytes(4, "big"))
        h.update(part)
    return h.digest()


def hexs(b: bytes) -> str:
    """Lowercase hex, the form every id takes at the edges."""
    return b.hex()

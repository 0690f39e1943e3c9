"""A whole Ledger as one snapshot image, and a Ledger rebuilt from one.

The image (state/image.py) holds every field of every namespace. Restoring
builds a fresh Ledger from genesis and the registry, then overwrites each
namespace object in place, so that the aliases the Ledger keeps (its
`accounts`, `params`, ...) stay the very objects its stores hold.

Each part (the audit log, each namespace) is encoded on its own, with its own
class table, so the bytes of a part that did not change since the last image
are reused: the Ledger drops a part's cached bytes at every height whose
writes name it (Ledger.image_parts). A governed chain's largest parts, its
proposals and identities, change rarely, and imaging them at every sync
height and snapshot was the largest cost governance added to a node under
load. stale_parts() checks the cache against a fresh walk (the simulator does
at every snapshot).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import msgspec

from govchain.codec import HASH_BYTES, digest
from govchain.state.catalog import BUILTIN
from govchain.state.context import Stores
from govchain.state.genesis import Genesis
from govchain.state.image import (
    IMAGE_BYTES_MAX,
    IMAGE_VERSION,
    ImageError,
    encode_part,
    restore_in_place,
)
from govchain.state.ledger import EXTENSION_PART, Ledger
from govchain.state.registry import Registry

IMAGE_DOMAIN = b"govchain/ledger-image/v1"
# Walked at every image: small, and without a writes() that tells whether they
# changed (the state hash takes the audit head and the whole schedule every height).
ALWAYS_WALKED = frozenset({"audit", "validators"})


class _ImageHead(msgspec.Struct, array_like=True, frozen=True):
    """What an image says before its parts: whose state, after which height."""

    version: int
    chain_id: str
    genesis_hash: bytes
    height: int
    state_hash: bytes
    receipts_root: bytes


class LedgerImage(_ImageHead, frozen=True, forbid_unknown_fields=True):
    """A ledger's state after executing `height`, with the hashes that height ended with."""

    # [[name, class table, image tree], ...]: audit, each namespace; a class
    # table is [[class path, [field names]], ...] (state/image.py)
    parts: list[list[Any]]


class _Envelope(_ImageHead, frozen=True):
    """LedgerImage with each part as its encoded bytes (written; split and checked here)."""

    parts: list[msgspec.Raw]


_DECODER = msgspec.msgpack.Decoder(LedgerImage)
_ENVELOPE = msgspec.msgpack.Decoder(_Envelope)


def _parts(ledger: Ledger) -> list[tuple[str, Any]]:
    stores = ledger.stores
    named: list[tuple[str, Any]] = [("audit", ledger.audit)]
    for f in fields(Stores):
        if f.name != "extensions":
            named.append((f.name, getattr(stores, f.name)))
    named.extend((EXTENSION_PART + n, stores.extensions[n]) for n in sorted(stores.extensions))
    return named


def _encoded_part(name: str, obj: Any, seen: set[int]) -> bytes:
    classes, tree = encode_part(obj, name, seen)
    return msgspec.msgpack.encode([name, classes, tree])


def image_of(ledger: Ledger) -> bytes:
    """The ledger's whole state as canonical bytes (between heights only)."""
    if ledger.audit.pending:
        raise ImageError("a ledger is imaged between heights, never within one")
    cached = ledger.image_parts
    seen: set[int] = set()  # shared by the parts walked now: sharing between them is refused
    parts: list[msgspec.Raw] = []
    for name, obj in _parts(ledger):
        data = cached.get(name)
        if data is None:
            data = _encoded_part(name, obj, seen)
            if name not in ALWAYS_WALKED:
                cached[name] = data
        parts.append(msgspec.Raw(data))
    doc = _Envelope(
        IMAGE_VERSION,
        ledger.genesis.chain_id,
        ledger.genesis.hash,
        ledger.height,
        ledger.state_hash,
        ledger.receipts_root,
        parts,
    )
    return msgspec.msgpack.encode(doc)


def _envelope(data: bytes) -> _Envelope:
    try:
        return _ENVELOPE.decode(data)
    except msgspec.DecodeError as exc:
        raise ImageError(f"not a ledger image: {exc}") from None


def stale_parts(ledger: Ledger, data: bytes) -> list[str]:
    """The parts of an image of this ledger that a fresh walk would encode otherwise."""
    doc = _envelope(data)
    named = _parts(ledger)
    if len(doc.parts) != len(named):
        return [name for name, _ in named]
    seen: set[int] = set()
    return [
        name
        for (name, obj), raw in zip(named, doc.parts, strict=True)
        if _encoded_part(name, obj, seen) != bytes(raw)
    ]


def split_image(data: bytes) -> tuple[bytes, list[bytes]]:
    """An image as its head and its parts' bytes, head + b"".join(parts) being the image.

    A store keeps each part once however many snapshots share it
    (storage/sqlite_snapshots.py). Raises ImageError for bytes that are not an
    image of this version.
    """
    doc = _envelope(data)
    if doc.version != IMAGE_VERSION:
        raise ImageError(f"image version {doc.version}, this code splits {IMAGE_VERSION}")
    parts = [bytes(p) for p in doc.parts]
    head = len(data) - sum(len(p) for p in parts)
    view, at = memoryview(data), head
    for part in parts:  # the parts end the image, one after another
        if view[at : at + len(part)] != part:
            raise ImageError("an image's parts do not end it")
        at += len(part)
    return bytes(view[:head]), parts


def image_digest(data: bytes) -> bytes:
    """What a snapshot records beside its image, to tell a damaged one at load."""
    return digest(IMAGE_DOMAIN, data)


def read_image(data: bytes) -> LedgerImage:
    """Decode an image's envelope; raises ImageError."""
    if len(data) > IMAGE_BYTES_MAX:
        raise ImageError(f"an image of {len(data)} bytes exceeds {IMAGE_BYTES_MAX}")
    try:
        doc = _DECODER.decode(data)
    except msgspec.DecodeError as exc:
        raise ImageError(f"not a ledger image: {exc}") from None
    if doc.version != IMAGE_VERSION:
        raise ImageError(f"image version {doc.version}, this code reads {IMAGE_VERSION}")
    if len(doc.state_hash) != HASH_BYTES or len(doc.receipts_root) != HASH_BYTES:
        raise ImageError("an image's hashes must be 32 bytes")
    if doc.height < 0:
        raise ImageError("an image's height is negative")
    return doc


def ledger_from_image(genesis: Genesis, data: bytes, registry: Registry = BUILTIN) -> Ledger:
    """A Ledger in the state the image holds; raises ImageError when it does not fit."""
    doc = read_image(data)
    if doc.chain_id != genesis.chain_id or doc.genesis_hash != genesis.hash:
        raise ImageError("the image is of another chain")
    ledger = Ledger(genesis, registry)
    restore_in_place(dict(_parts(ledger)), doc.parts)
    ledger.height = doc.height
    ledger.state_hash = doc.state_hash
    ledger.receipts_root = doc.receipts_root
    ledger.refresh()
    return ledger

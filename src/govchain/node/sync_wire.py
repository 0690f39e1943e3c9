"""What a node serves to peers joining by state sync, and how a joiner reads it.

Three answers (api/sync_routes.py serves them, node/state_sync.py reads them):

- an offer: the newest snapshot at a sync height the node holds, and how far
  it has decided (JSON);
- heights: each decided height's checkpoint and certificate, and, where the
  node executed it, its receipts and audit entries (msgpack; never the
  transactions themselves);
- the image: the snapshot's ledger image and its live ids (msgpack).

Every decoder here takes bytes from another machine: each answers garbage
with SyncError, and every size is bounded before anything is decoded.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec

from govchain.codec import HASH_BYTES
from govchain.consensus.messages import Certificate, Checkpoint
from govchain.state.audit import AuditEntry
from govchain.state.image import IMAGE_BYTES_MAX
from govchain.state.receipts import Receipt
from govchain.state.sync_point import live_error

T = TypeVar("T")
HEIGHTS_PER_PAGE_MAX = 256
PAGE_BYTES_MAX = 4 << 20  # a heights page stops growing past this (at least one height)
PAGE_ANSWER_BYTES_MAX = 2 * PAGE_BYTES_MAX  # what a joiner reads: room for one large height
LIVE_IDS_MAX = 4_000_000  # final ids inside one validity window: far above any we run
IMAGE_ANSWER_BYTES_MAX = IMAGE_BYTES_MAX + LIVE_IDS_MAX * (HASH_BYTES + 2)


class SyncError(ValueError):
    """A sync answer that is malformed, or does not agree with what the chain certifies."""


class SyncHeight(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """One decided height: its checkpoint and certificate, and its execution where known.

    executed: False when the serving node has not executed it (then receipts and
    audit are empty). audit: the height's entries, each in its canonical bytes.
    """

    checkpoint: Checkpoint
    certificate: Certificate
    executed: bool
    receipts: list[Receipt]
    audit: list[bytes]


class SyncImage(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """A snapshot at a sync height, as a joiner restores from it."""

    height: int
    image: bytes
    live: list[tuple[int, list[bytes]]]  # (valid_until, its ids): state/sync_point.py
    txs_final: int


_HEIGHTS = msgspec.msgpack.Decoder(list[SyncHeight])
_IMAGE = msgspec.msgpack.Decoder(SyncImage)
_ENTRY = msgspec.msgpack.Decoder(AuditEntry)


def encode_page(encoded: list[bytes]) -> bytes:
    """A heights page from its heights' own encodings (msgpack: an array of them)."""
    return msgspec.msgpack.encode([msgspec.Raw(e) for e in encoded])


def _decoded(decoder: msgspec.msgpack.Decoder[T], data: bytes, limit: int, what: str) -> T:
    """data decoded, at most limit bytes; SyncError naming what it should have been."""
    if len(data) > limit:
        raise SyncError(f"{what} of {len(data)} bytes exceeds {limit}")
    try:
        return decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
        raise SyncError(f"not {what}: {exc}") from None


def decode_heights(data: bytes) -> list[SyncHeight]:
    """A heights page; SyncError when malformed."""
    heights = _decoded(_HEIGHTS, data, PAGE_ANSWER_BYTES_MAX, "a heights page")
    if len(heights) > HEIGHTS_PER_PAGE_MAX:
        raise SyncError(f"a heights page of {len(heights)} heights")
    return heights


def decode_image(data: bytes) -> SyncImage:
    """A sync image; SyncError when malformed (its content is checked by the joiner)."""
    doc = _decoded(_IMAGE, data, IMAGE_ANSWER_BYTES_MAX, "a sync image")
    if sum(len(ids) for _, ids in doc.live) > LIVE_IDS_MAX:
        raise SyncError(f"a sync image holds more than {LIVE_IDS_MAX} live ids")
    err = live_error(doc.live)
    if err is not None:
        raise SyncError(f"a sync image's live ids: {err}")
    if doc.height < 1 or doc.txs_final < 0:
        raise SyncError("a sync image's height or count is out of range")
    return doc


def audit_entries(raw: list[bytes]) -> list[AuditEntry]:
    """A height's audit entries from their canonical bytes; SyncError when any is not."""
    out = []
    for data in raw:
        try:
            e = _ENTRY.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
            raise SyncError(f"an audit entry does not decode: {exc}") from None
        if e.canonical != data:
            raise SyncError(f"audit entry seq {e.seq} is not in its canonical encoding")
        out.append(e)
    return out

"""Sync heights: where the state hash also commits the ledger's whole image.

The state hash is a chain over each height's writes, so by itself it cannot
vouch for a state handed over whole. At a sync height s (genesis.sync_every),
the state hash after s becomes

    H(STATE_DOMAIN, inner, H(SYNC_DOMAIN, image, live))

where inner is the hash the writes gave, image the ledger's image after s
with inner as its state hash (state/ledger_image.py), and live every final
transaction id still inside its validity window after s:
what a DAG must hold in memory so that a late copy of a final transaction is
refused (dag/graph.py). They are grouped by valid_until, ascending, each
group's ids sorted (the form a DagFrontier keeps them in), and hashed group by
group: a validity window can hold a million ids, and neither a sort of a
million tuples nor their encoding belongs on a validator's event loop.
Checkpoint s + 1 certifies the result, so a joiner that holds the image and
the live ids checks both against it (node/state_sync.py).

The image's layout (its class table and fields) is part of consensus at sync
heights: a release that changes a state class's fields is a chain upgrade.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Sequence

from govchain.codec import HASH_BYTES, digest
from govchain.dag.graph import DagFrontier, live_after
from govchain.dag.tx import Transaction
from govchain.state.ledger import STATE_DOMAIN, Ledger
from govchain.state.ledger_image import image_of

SYNC_DOMAIN = b"govchain:sync:v1:"
LIVE_DOMAIN = b"govchain:sync-live:v1:"

# (valid_until, its ids sorted), ascending by valid_until: dag/graph.py live_after.
Live = Sequence[tuple[int, Sequence[bytes]]]
# Ids joined per update: joining a whole group at once cost ~112 bytes a live id
# for a moment at every sync height (a buffer per id, then the joined copy):
# +112 MB of peak RSS at a million live ids, which glibc then kept.
LIVE_SLICE_IDS = 4_096


def live_digest(live: Live) -> bytes:
    """The live ids' hash: each group's height, count and ids (32 bytes each) in order."""
    h = hashlib.sha256(LIVE_DOMAIN)
    for until, ids in live:
        h.update(until.to_bytes(8, "big"))
        h.update(len(ids).to_bytes(8, "big"))
        for start in range(0, len(ids), LIVE_SLICE_IDS):
            h.update(b"".join(ids[start : start + LIVE_SLICE_IDS]))
    return h.digest()


def sealed_hash(inner: bytes, image: bytes, live: Live) -> bytes:
    """The state hash of a sync height, from the writes' hash, the image and the live ids."""
    return sealed_by_digest(inner, image, live_digest(live))


def sealed_by_digest(inner: bytes, image: bytes, live: bytes) -> bytes:
    """sealed_hash, given the live ids' digest (live_digest)."""
    return digest(STATE_DOMAIN, inner, digest(SYNC_DOMAIN, image, live))


def seal(ledger: Ledger, live: Live) -> bytes:
    """Fold the image and live ids into the ledger's state hash (just after a sync height).

    Returns the image, whose own state hash is the inner one: a snapshot keeps it.
    """
    image = image_of(ledger)
    ledger.state_hash = sealed_hash(ledger.state_hash, image, live)
    return image


def live_of(frontier: DagFrontier) -> list[tuple[int, list[bytes]]]:
    """The live ids a frontier holds at its height, as seal() takes them."""
    return live_after(frontier.height, frontier.expiring)


def live_error(live: Live) -> str | None:
    """Why live is not in its canonical form (from a peer), or None."""
    last = -1
    for until, ids in live:
        if until <= last or not ids:
            return "groups must be non-empty, by strictly ascending height"
        if any(len(vid) != HASH_BYTES for vid in ids) or any(
            a >= b for a, b in itertools.pairwise(ids)
        ):
            return "ids must be 32 bytes, sorted and distinct within a group"
        last = until
    return None


class LiveIds:
    """The live ids of a chain replayed outside a replica (a replay has no DAG to ask)."""

    def __init__(self) -> None:
        self._by_until: dict[int, list[bytes]] = {}

    def add(self, height: int, txs: Iterable[Transaction]) -> None:
        """Record the transactions final at height (call for every height, in order)."""
        for tx in txs:
            self._by_until.setdefault(max(tx.body.valid_until, height), []).append(tx.id)
        for until in [u for u in self._by_until if u <= height]:
            del self._by_until[until]

    def after(self, height: int) -> list[tuple[int, list[bytes]]]:
        """What seal() takes after height, once add() has seen it."""
        return live_after(height, self._by_until.items())

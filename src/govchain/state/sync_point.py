"""Sync heights: where the state hash also commits the ledger's whole image.

The state hash is a chain over each height's writes, so by itself it cannot
vouch for a state handed over whole. At a sync height s (genesis.sync_every),
the state hash after s becomes

    H(STATE_DOMAIN, inner, H(SYNC_DOMAIN, image, live))

where inner is the hash the writes gave, image the ledger's image after s
with inner as its state hash (state/ledger_image.py), and live every final
transaction id still inside its validity window, as (valid_until, id) sorted:
what a DAG must hold in memory so that a late copy of a final transaction is
refused (dag/graph.py). Checkpoint s + 1 certifies the result, so a joiner
that holds the image and the live ids checks both against it (node/state_sync.py).

The image's layout (its class table and fields) is part of consensus at sync
heights: a release that changes a state class's fields is a chain upgrade.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from govchain.codec import digest, encode
from govchain.dag.graph import DagFrontier, live_after
from govchain.dag.tx import Transaction
from govchain.state.ledger import STATE_DOMAIN, Ledger
from govchain.state.ledger_image import image_of

SYNC_DOMAIN = b"govchain:sync:v1:"

Live = Sequence[tuple[int, bytes]]


def sealed_hash(inner: bytes, image: bytes, live: Live) -> bytes:
    """The state hash of a sync height, from the writes' hash, the image and the live ids."""
    return digest(STATE_DOMAIN, inner, digest(SYNC_DOMAIN, image, encode(list(live))))


def seal(ledger: Ledger, live: Live) -> bytes:
    """Fold the image and live ids into the ledger's state hash (just after a sync height).

    Returns the image, whose own state hash is the inner one: a snapshot keeps it.
    """
    image = image_of(ledger)
    ledger.state_hash = sealed_hash(ledger.state_hash, image, live)
    return image


def live_of(frontier: DagFrontier) -> list[tuple[int, bytes]]:
    """The live ids a frontier holds at its height, as seal() takes them."""
    return live_after(frontier.height, frontier.expiring)


def expiring_of(live: Live) -> list[tuple[int, list[bytes]]]:
    """The live ids grouped by the height they may go, as a DagFrontier holds them."""
    out: dict[int, list[bytes]] = {}
    for until, vid in live:
        out.setdefault(until, []).append(vid)
    return sorted(out.items())


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

    def after(self, height: int) -> list[tuple[int, bytes]]:
        """What seal() takes after height, once add() has seen it."""
        return live_after(height, self._by_until.items())

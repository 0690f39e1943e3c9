"""GET /v1/search: what a text names on this chain, each match with its explorer page.

A query is read every way it can be: a height (digits), an address (40 hex,
with or without 0x, any case), a transaction or proposal id or a prefix of
one (8 to 64 hex), a warehouse receipt number, a warehouse (its address), a
service id. Each reading is one bounded look-up: exact keys, or the id range
a prefix spans (as GET /v1/txs?prefix= reads it). Nothing is scanned whole.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from govchain.apps.warehouse.book import NAMESPACE as WAREHOUSE
from govchain.apps.warehouse.book import WarehouseBook
from govchain.apps.warehouse.env import NUMBER_PATTERN
from govchain.codec import ID_HEX_CHARS, ID_MATCHES_MAX, ID_PREFIX_CHARS_MIN
from govchain.crypto.keys import ADDRESS_BYTES
from govchain.state.services import service_id_ok
from govchain.storage.base import prefix_bounds

if TYPE_CHECKING:
    from govchain.api.port import NodePort

SEARCH_CHARS_MAX = 128
SEARCH_MATCHES_MAX = 20
ADDRESS_CHARS = ADDRESS_BYTES * 2
HEIGHT_DIGITS_MAX = 18
_HEX = re.compile(r"[0-9a-fA-F]+")
# The kinds a match may be, in the order they are listed.
KINDS = ("checkpoint", "address", "warehouse", "receipt", "service", "tx", "proposal")


def _match(kind: str, ident: str, url: str) -> dict[str, Any]:
    return {"kind": kind, "id": ident, "url": url}


def search(node: NodePort, query: str) -> tuple[list[dict[str, Any]], bool]:
    """Matches of query (surrounding blanks ignored), at most SEARCH_MATCHES_MAX, and
    whether there were more."""
    text = query.strip()
    found: list[dict[str, Any]] = []
    more = False
    if not text:
        return found, more
    view = node.view
    book = view.namespace(WAREHOUSE)
    wr = book if isinstance(book, WarehouseBook) else None
    if text.isascii() and text.isdigit() and len(text) <= HEIGHT_DIGITS_MAX:
        height = int(text)
        if 1 <= height <= node.store.decided_height():
            found.append(_match("checkpoint", str(height), f"/checkpoints/{height}"))
    bare = text[2:] if text[:2] in ("0x", "0X") else text
    is_hex = _HEX.fullmatch(bare) is not None
    if is_hex and len(bare) == ADDRESS_CHARS:
        addr = bare.lower()
        found.append(_match("address", addr, f"/accounts/{addr}"))
        if wr is not None and bytes.fromhex(addr) in wr.warehouses:
            found.append(_match("warehouse", addr, f"/wr/bins/{addr}"))
    if wr is not None and NUMBER_PATTERN.fullmatch(text) and text in wr.receipts:
        found.append(_match("receipt", text, f"/wr/receipts/{text}"))
    if service_id_ok(text) and view.service(text) is not None:
        found.append(_match("service", text, f"/governance/services#{text}"))
    if is_hex and ID_PREFIX_CHARS_MIN <= len(bare) <= ID_HEX_CHARS:
        prefix = bare.lower()
        ids, more = _tx_ids(node, prefix)
        for vid in ids:
            tx_hex = vid.hex()
            found.append(_match("tx", tx_hex, f"/txs/{tx_hex}"))
            # A proposal's id is its transaction's: a prefix needs no index of its own.
            if view.proposal(tx_hex) is not None:
                found.append(_match("proposal", tx_hex, f"/governance/proposals/{tx_hex}"))
        if len(prefix) == ID_HEX_CHARS and not ids and view.proposal(prefix) is not None:
            found.append(_match("proposal", prefix, f"/governance/proposals/{prefix}"))
    if len(found) > SEARCH_MATCHES_MAX:
        return found[:SEARCH_MATCHES_MAX], True
    return found, more


def _tx_ids(node: NodePort, prefix: str) -> tuple[list[bytes], bool]:
    """Ids of stored, admitted and waiting transactions starting with prefix (sorted, at
    most ID_MATCHES_MAX), and whether there are more."""
    view = node.view
    found = set(node.store.tx_ids_with_prefix(prefix, ID_MATCHES_MAX + 1))
    if len(prefix) == ID_HEX_CHARS:
        vid = bytes.fromhex(prefix)
        if view.holds_tx(vid):  # admitted, or waiting for a parent: not stored yet
            found.add(vid)
    else:
        # Admitted but not stored yet (the commit comes after): the DAG holds them.
        found.update(view.vertex_ids_between(*prefix_bounds(prefix)))
    ids = sorted(found)
    return ids[:ID_MATCHES_MAX], len(ids) > ID_MATCHES_MAX

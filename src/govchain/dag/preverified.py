"""Ids whose signatures the shell already checked: admission skips that check once.

A node may verify signatures away from its event loop (node/verify_pool.py)
and hand the ids that passed to the DAG before it admits them. The DAG takes
an id out when it admits (or refuses) the transaction, so an id serves one
admission. The set is bounded: the oldest id goes first, so memory stays
bounded whatever arrives, and an id evicted before use only means its
signature is checked again, inline.

An id is the hash of the body (which names the sender key) and the signature
(dag/tx.tx_id), so one id stands for exactly one (key, message, signature)
triple. take() hashes the transaction's own header again before it trusts the
id, so a Transaction whose id field disagrees with its bytes is checked
inline, whatever its caller got wrong. The simulator never adds an id: its
runs are exactly those of a DAG without this set.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from govchain.crypto.keys import SIGNATURE_BYTES
from govchain.dag.tx import Transaction, tx_id

# About two seconds of admissions at the highest rates measured: ids are
# consumed within one event-loop step of being added, so only those of
# transactions that were then refused before their signature check stay, and
# age out.
PRE_VERIFIED_IDS_MAX = 16_384


class PreVerified:
    """A bounded insertion-ordered set of transaction ids; the oldest is evicted first."""

    def __init__(self, ids_max: int = PRE_VERIFIED_IDS_MAX) -> None:
        if ids_max < 1:
            raise ValueError("ids_max must be positive")
        self.ids_max = ids_max
        self._ids: OrderedDict[bytes, None] = OrderedDict()
        self.evicted = 0  # ids dropped unused to keep the bound (a figure for metrics)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, vid: object) -> bool:
        return vid in self._ids

    def add(self, ids: Iterable[bytes]) -> None:
        """Remember ids whose signatures passed verify() with the sender's key, strictly."""
        held = self._ids
        for vid in ids:
            if vid in held:
                continue
            if len(held) >= self.ids_max:
                held.popitem(last=False)
                self.evicted += 1
            held[vid] = None

    def take(self, tx: Transaction) -> bool:
        """True when tx's signature was checked already (its id is consumed either way)."""
        if tx.id not in self._ids:
            return False
        del self._ids[tx.id]
        # Whoever built tx computed its id; trust the set only for the id of these bytes.
        return len(tx.signature) == SIGNATURE_BYTES and tx_id(tx.body_bytes, tx.signature) == tx.id

"""Vertices a replica is missing, asked of its peers: at once, then again with backoff.

A peer relays only what it admitted, so it holds the parents of what it
relayed: it is asked first. A client's orphan, or a tip consensus needs, may
be anywhere: every peer is asked at once. An id is asked of every peer again
after retry_ms, the wait doubling up to backoff_max_ms, for as long as an
orphan waits for it or a decided checkpoint needs it; one this replica wanted
for itself alone (a proposal's tip) is given up after give_up_ms. What is
wanted stays within books.Wanted's byte budget and per-source shares.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable

from govchain.dag.graph import NEEDED_SOURCE, Dag
from govchain.replica.books import Want, Wanted
from govchain.replica.messages import IDS_PER_REQUEST_MAX, Message, TxRequest

# Backoff doublings stop here (the wait is capped by backoff_max_ms long before).
TRIES_SHIFT_MAX = 16


class Fetcher:
    """The ids being fetched, and the TxRequests that ask for them (through send)."""

    def __init__(
        self,
        dag: Dag,
        peers: list[str],
        send: Callable[[str, Message], None],
        *,
        retry_ms: int,
        backoff_max_ms: int,
        give_up_ms: int,
        wanted_bytes_max: int,
        wanted_bytes_per_source_max: int,
    ) -> None:
        self.dag = dag
        self.peers = peers
        self._send = send
        self.retry_ms = retry_ms
        self.backoff_max_ms = backoff_max_ms
        self.give_up_ms = give_up_ms
        self.wanted = Wanted(wanted_bytes_max, wanted_bytes_per_source_max)

    def fetch(self, ids: Iterable[bytes], peer: str | None, now_ms: int) -> None:
        """Ask peer (None: every peer) for ids, each within its source's share of wanted ids."""
        if not self.peers:
            return
        fresh: list[bytes] = []
        todo = list(ids)
        k = 0
        while k < len(todo):  # need() may add the ids a held cone lacks
            i = todo[k]
            k += 1
            if self.dag.has(i):
                continue
            # A parent is charged to the source of the orphan that needs it, not
            # to whoever relayed it; a tip that consensus needs is our own need.
            share = self.dag.awaiting_source(i)
            if share == NEEDED_SOURCE or share is None:
                if self.dag.orphan(i) is not None:
                    # Held, charged to a peer: it and its waiting ancestors become
                    # our need, and what they lack is fetched as such.
                    todo += self.dag.need(i)
                    continue
                share = None
                held = self.wanted.get(i)
                if held is not None and held.source is not None:
                    self.wanted.pop(i)  # wanted for a peer's orphan until now
            if i in self.wanted:
                continue
            if self.wanted.add(i, Want(now_ms, 0, now_ms, share)):
                fresh.append(i)
        if fresh:
            target = peer if peer in self.peers else self.peers[0]
            self._request(fresh, [target] if peer is not None else self.peers)

    def retry(self, now_ms: int, needed: Collection[bytes]) -> None:
        """Ask every peer again for ids still missing, backing off; drop those nobody needs.

        needed: the tips of decided checkpoints not executed yet.
        """
        due: list[bytes] = []
        for vid, want in self.wanted.items():
            if self.dag.has(vid):
                self.wanted.pop(vid)
                continue
            # Wanted as a parent of orphans that have all gone (expired or
            # evicted), or for a proposal that no longer matters.
            if (
                vid not in needed
                and not self.dag.is_awaited(vid)
                and (want.source is not None or now_ms - want.first_ms >= self.give_up_ms)
            ):
                self.wanted.pop(vid)
                continue
            wait = min(self.retry_ms << min(want.tries, TRIES_SHIFT_MAX), self.backoff_max_ms)
            if now_ms - want.asked_ms >= wait:
                want.asked_ms = now_ms
                want.tries += 1
                due.append(vid)
        if due:
            self._request(due, self.peers)

    def _request(self, ids: list[bytes], peers: list[str]) -> None:
        for start in range(0, len(ids), IDS_PER_REQUEST_MAX):
            msg = TxRequest(tuple(ids[start : start + IDS_PER_REQUEST_MAX]))
            for p in peers:
                self._send(p, msg)

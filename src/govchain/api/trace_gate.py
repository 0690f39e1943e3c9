"""Who may trace now (one at a time, a few waiting), and what the node adds to a result.

A trace holds a worker thread and a read snapshot of the store for up to
its events budget; one at a time keeps a node that serves investigators a
node that still votes. Requests beyond the few waiting get 503 and retry.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from govchain.api.errors import ApiError
from govchain.api.trace_view import Notes
from govchain.api.views import funds_of
from govchain.replica.view import ChainView
from govchain.state.identities import IdentityStatus
from govchain.trace.result import TraceResult

TRACES_RUNNING_MAX = 1
TRACES_WAITING_MAX = 4
# Results whose pinned case the node keeps, so a proposal may cite a root alone
# (`gov propose freeze-amount ... --trace ROOT`) and still carry its case.
RECENT_RESULTS_KEPT = 256


class TraceGate:
    """At most TRACES_RUNNING_MAX traces run; TRACES_WAITING_MAX more wait; others: 503.

    One trace per client at a time (running or waiting): a single client
    cannot fill the queue and keep everyone else's traces out.
    """

    def __init__(self) -> None:
        self._running = asyncio.Semaphore(TRACES_RUNNING_MAX)
        self._waiting = 0
        self._clients: set[str] = set()

    @asynccontextmanager
    async def slot(self, client: str) -> AsyncIterator[None]:
        """Hold a slot for one trace of client (ApiError 503 when too many wait)."""
        if client in self._clients:
            raise ApiError(503, "busy", "a trace of yours is running or waiting: retry after it")
        if self._running.locked() and self._waiting >= TRACES_WAITING_MAX:
            raise ApiError(503, "busy", "this node is tracing for others: retry shortly")
        self._clients.add(client)
        try:
            self._waiting += 1
            try:
                await self._running.acquire()
            finally:
                self._waiting -= 1
            try:
                yield
            finally:
                self._running.release()
        finally:
            self._clients.discard(client)


class RecentCases:
    """The pinned cases of the last RECENT_RESULTS_KEPT results, by result_root (hex)."""

    def __init__(self) -> None:
        self._by_root: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def keep(self, doc: dict[str, Any]) -> None:
        """Remember a result's case and snapshot (the oldest goes when full)."""
        fields = ("seeds", "direction", "policy", "limits", "case_b64", "snapshot")
        root = doc["result_root"]
        self._by_root[root] = {"result_root": root, **{k: doc[k] for k in fields}}
        self._by_root.move_to_end(root)
        while len(self._by_root) > RECENT_RESULTS_KEPT:
            self._by_root.popitem(last=False)

    def get(self, root: str) -> dict[str, Any] | None:
        """A kept case by its result's root."""
        return self._by_root.get(root)


def trace_notes(view: ChainView, result: TraceResult) -> Notes:
    """Liens in force now and the parties to ask next, for the result's accounts.

    An endpoint is an account that owns a registered service or holds an
    identity of tier 1 or more (not revoked): someone who knows its customer.
    """
    liens = funds_of(view)
    owners: dict[bytes, str] = {}
    for service in view.services():
        owners.setdefault(service.owner, f"service:{service.service_id}")
    frozen: dict[bytes, int] = {}
    endpoints: dict[bytes, str] = {}
    for n in result.nodes:
        a = n.account
        if liens is not None:
            amount = liens.frozen(a)
            if amount:
                frozen[a] = amount
        if a in owners:
            endpoints[a] = owners[a]
            continue
        ident = view.identity(a)
        if ident is None or ident.kind is None or ident.status == IdentityStatus.REVOKED:
            continue
        if ident.tier >= 1:
            endpoints[a] = f"identified:{ident.kind}"
    return Notes(frozen, endpoints)

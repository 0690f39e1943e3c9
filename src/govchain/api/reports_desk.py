"""A node's report desk: its reports store, rate limiter, request verifier and counters.

One desk per node, shared by the API's routes (api/reports_routes.py) and
the node's hook for executed heights (`reports_executed`, called where the
node publishes what executed): the routes keep reports and read them, the
hook marks them handled once the height carrying a report_handled audit
entry is executed (and committed: the shell commits before the hook runs).

The store opens on first use, in `reports.sqlite` beside the chain store
(in memory for a node over a memory store). A node that never received a
report has no such file and its hook does nothing. Nothing here may stop the
node: a reports file that cannot be used answers 503 reports_unavailable,
and a failing hook is logged.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from govchain.api.errors import ApiError
from govchain.replica.execution import Execution
from govchain.replica.view import ChainView
from govchain.reports.ratelimit import RateLimiter
from govchain.reports.signed import RequestVerifier
from govchain.reports.store import (
    REPORTS_BYTES_MAX,
    REPORTS_COUNT_MAX,
    ReportStore,
    ReportStoreError,
    Status,
)
from govchain.state.audit import AuditEntry
from govchain.state.kinds.report_handle import Handled, handled_entry
from govchain.storage.sqlite import SqliteStore

if TYPE_CHECKING:
    from govchain.api.port import NodePort

log = logging.getLogger("govchain.reports")

FILE_NAME = "reports.sqlite"
CATCH_UP_HEIGHTS_PER_CALL = 10_000  # read from the chain store per hook call, at most
CATCH_UP_CHUNK_HEIGHTS = 1_000  # one read of the chain store's audit entries
RETRY_OPEN_S = 60  # a reports file that would not open is tried again this much later


def _unavailable() -> ApiError:
    return ApiError(503, "reports_unavailable", "this node cannot keep reports now: retry later")


def committee(view: ChainView) -> Mapping[bytes, int]:
    """The governance committee in the node's executed state (public key -> weight): the
    members execution checks gov.propose, gov.vote and report.handle against."""
    return dict(view.committee().members)


def handlings(entries: Sequence[AuditEntry]) -> list[Handled]:
    """The report handlings among audit entries, in order."""
    return [h for h in map(handled_entry, entries) if h is not None]


class ReportDesk:
    """What one node's report routes and its executed-height hook share."""

    def __init__(self, node: NodePort) -> None:
        self.node_key = node.key.public_key
        self.chain_id = node.genesis.chain_id
        self.path: Path | None = (
            node.store.path.with_name(FILE_NAME) if isinstance(node.store, SqliteStore) else None
        )
        self.count_max, self.bytes_max = REPORTS_COUNT_MAX, REPORTS_BYTES_MAX  # when it opens
        self.limiter = RateLimiter()
        self.verifier = RequestVerifier(self.chain_id, self.node_key)
        self.received = 0  # reports accepted (201) since the node started
        self.refused: Counter[str] = Counter()  # submissions refused, by code
        self._store: ReportStore | None = None
        self._retry_at_s = 0.0  # after a failed open: not before then again
        self._view = node.view

    def store(self) -> ReportStore:
        """The reports store, opened (or created) now if need be; 503 when unusable."""
        if self._store is None:
            if now_s() < self._retry_at_s:
                raise _unavailable()
            try:
                self._store = ReportStore(
                    self.path, self.node_key, self._view.height, self.count_max, self.bytes_max
                )
            except ReportStoreError as exc:
                log.error("reports store unavailable (retried in %d s): %s", RETRY_OPEN_S, exc)
                self._retry_at_s = now_s() + RETRY_OPEN_S
                raise _unavailable() from None
        return self._store

    def kept(self) -> ReportStore | None:
        """The store if this node keeps reports (open, or its file exists), else None."""
        if self._store is None and self.path is not None and self.path.exists():
            try:
                self.store()
            except ApiError:
                return None
        return self._store

    def counts(self) -> Mapping[str, int] | None:
        """Reports kept by status, when the store is open."""
        return self._store.counts() if self._store is not None else None


_DESKS: weakref.WeakKeyDictionary[object, ReportDesk] = weakref.WeakKeyDictionary()


def desk_of(node: NodePort) -> ReportDesk:
    """The node's desk, made on first use."""
    desk = _DESKS.get(node)
    if desk is None:
        desk = _DESKS[node] = ReportDesk(node)
    return desk


def catch_up(store: ReportStore, node: NodePort, to_height: int) -> None:
    """Apply the handlings of heights after the store's synced height up to to_height,
    read from the chain store, at most CATCH_UP_HEIGHTS_PER_CALL of them now."""
    stop = min(to_height, store.synced_height + CATCH_UP_HEIGHTS_PER_CALL)
    while store.synced_height < stop:
        lo = store.synced_height + 1
        hi = min(stop, lo + CATCH_UP_CHUNK_HEIGHTS - 1)
        store.apply(handlings(node.store.audit(lo, hi)), hi)


def follow(store: ReportStore, node: NodePort, executions: Sequence[Execution]) -> None:
    """Apply what the executed heights handled, reading any gap before them from the store."""
    for ex in executions:
        h = ex.checkpoint.height
        if h <= store.synced_height:
            continue
        if h > store.synced_height + 1:
            catch_up(store, node, h - 1)
            if store.synced_height < h - 1:
                return  # the rest on the next call: the store has these heights by then
        store.apply(handlings(ex.result.audit), h)


def reports_executed(node: NodePort, executions: Sequence[Execution]) -> None:
    """The node's hook: mark reports handled by the heights just executed (and committed)."""
    if not executions:
        return
    try:
        store = desk_of(node).kept()
        if store is not None:
            follow(store, node, executions)
    except Exception:
        # Reports are a side channel: a broken reports file must not stop consensus.
        log.exception("marking handled reports failed; retried at the next height")


def reports_metrics(node: NodePort) -> list[Metric]:
    """Prometheus metrics: reports received, refused by code, kept by status (when open)."""
    desk = _DESKS.get(node)
    received = CounterMetricFamily(
        "govchain_reports_received",
        "Reports this node accepted (POST /v1/reports).",
        value=desk.received if desk is not None else 0,
    )
    refused = CounterMetricFamily(
        "govchain_reports_refused", "Report submissions refused, by code.", labels=["code"]
    )
    for code, n in sorted(desk.refused.items()) if desk is not None else ():
        refused.add_metric([code], n)
    out: list[Metric] = [received, refused]
    counts = desk.counts() if desk is not None else None
    if counts is not None:
        kept = GaugeMetricFamily(
            "govchain_reports_kept", "Reports this node keeps, by status.", labels=["status"]
        )
        for s in Status:
            kept.add_metric([s.value], counts[s])
        out.append(kept)
    return out


def now_s() -> float:
    """The monotonic clock the rate limiter runs on."""
    return time.monotonic()


def wall_s() -> float:
    """Unix time: what signed requests are checked against and reports are stamped with."""
    return time.time()

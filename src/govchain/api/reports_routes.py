"""The report channel over HTTP: POST /v1/reports (public), GET /v1/reports[/{id}] (committee).

POST takes a report as JSON, or as an HTML form post
(application/x-www-form-urlencoded, the explorer's /report page without
JavaScript). Before anything is read the source's rate limit is checked
(reports/ratelimit.py: 429 with Retry-After); the body is read with a byte
budget (413); the report is checked (400, typed) and kept (201
{"report_id", "status": "open"}; 507 reports_full when the store is full).
A browser's form post (it accepts text/html) is answered 303 to
/report?sent=<report_id> or /report?error=<code> instead, so the page it
lands on says what happened; any other client gets the JSON answers.

GET /v1/reports lists this node's reports, newest first (keyset pages:
?status=open|handled&after=<report_id>&limit=N, or ?prefix=HEX for ids);
GET /v1/reports/{report_id} shows one. Both take a request signed by a member
of the committee in force (reports/signed.py): 401 unsigned, stale,
replayed or badly signed; 403 for a key outside the committee.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import TYPE_CHECKING, Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from govchain.api.errors import ApiError, hex_arg, read_limited
from govchain.api.reports_desk import ReportDesk, committee, desk_of, now_s, wall_s
from govchain.codec import ID_HEX_CHARS, ID_MATCHES_MAX, ID_PREFIX_CHARS_MIN
from govchain.reports.ratelimit import source_of
from govchain.reports.report import BODY_BYTES_MAX, ReportError, from_form, from_json
from govchain.reports.signed import SignedRequestError
from govchain.reports.store import (
    PAGE_LIMIT_MAX,
    ReportsFullError,
    Status,
    StoredReport,
    UnknownReportError,
)

if TYPE_CHECKING:
    from govchain.api.port import NodePort

log = logging.getLogger("govchain.reports")

PAGE_LIMIT_DEFAULT = 50
FORM_TYPE = "application/x-www-form-urlencoded"
JSON_TYPE = "application/json"
REPORT_PAGE = "/report"  # the explorer's page a form post returns to
LIST_QUERY = frozenset({"status", "after", "limit", "prefix"})
_HEX = frozenset("0123456789abcdef")


class _RefusedError(Exception):
    """A submission refused: status, code, words and headers (Retry-After)."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def report_json(r: StoredReport, node_key: bytes) -> dict[str, Any]:
    """A kept report as GET /v1/reports shows it (subject, contact: null when absent)."""
    h = r.handled
    return {
        "report_id": r.report_id.hex(),
        "status": r.status.value,
        "category": r.report.category,
        "subject": r.report.subject or None,
        "text": r.report.text,
        "contact": r.report.contact or None,
        "received_ms": r.received_ms,
        "node_key": node_key.hex(),
        "handled_by": h.member.hex() if h is not None else None,
        "handled_at_height": h.height if h is not None else None,
        "handle_tx": h.tx_id.hex() if h is not None else None,
        "note": h.note if h is not None else None,
    }


def _path_with_query(request: Request) -> str:
    """The request's path and query exactly as sent (what its signature covers)."""
    raw = request.scope.get("raw_path") or request.scope["path"].encode()
    path = raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)
    query = request.scope.get("query_string", b"")
    return f"{path}?{query.decode('latin-1')}" if query else path


def _browser_form(request: Request) -> bool:
    """A form post from a browser: answered with a redirect to the report page."""
    ctype = request.headers.get("content-type", "")
    return ctype.startswith(FORM_TYPE) and "text/html" in request.headers.get("accept", "")


async def _received(request: Request, desk: ReportDesk) -> StoredReport:
    """Check the rate limit, read and check the report, keep it; or _RefusedError."""
    client = request.client
    wait_s = desk.limiter.take(source_of(client.host if client else None), now_s())
    if wait_s is not None:
        raise _RefusedError(
            429,
            "rate_limited",
            f"too many reports from your address or from everyone: retry in {wait_s} s",
            {"Retry-After": str(wait_s)},
        )
    ctype = request.headers.get("content-type", "")
    form = ctype.startswith(FORM_TYPE)
    if not (form or ctype.startswith(JSON_TYPE) or not ctype):
        raise _RefusedError(
            415, "unsupported_media_type", f"send the report as {JSON_TYPE} or {FORM_TYPE}"
        )
    try:
        raw = await read_limited(request, BODY_BYTES_MAX)
    except ClientDisconnect:
        raise _RefusedError(400, "bad_request", "the request body did not arrive whole") from None
    except ApiError as exc:
        raise _RefusedError(exc.status, exc.code, exc.message) from None
    try:
        report = from_form(raw) if form else from_json(raw)
    except ReportError as exc:
        raise _RefusedError(400, exc.code, exc.message) from None
    try:
        store = desk.store()
    except ApiError as exc:
        raise _RefusedError(exc.status, exc.code, exc.message, {"Retry-After": "60"}) from None
    try:
        return store.add(report, int(wall_s() * 1000))
    except ReportsFullError as exc:
        raise _RefusedError(507, "reports_full", str(exc)) from None
    except sqlite3.Error as exc:  # a disk that is full or failing: nothing was kept
        log.error("a report could not be kept: %s", exc)
        raise _RefusedError(
            503,
            "reports_unavailable",
            "this node could not keep the report now: retry later",
            {"Retry-After": "60"},
        ) from None


def _query_one(request: Request, name: str) -> str | None:
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise ApiError(400, "bad_query", f"give {name} at most once")
    return values[0] if values else None


def reports_routes(node: NodePort) -> list[Route]:
    """POST and GET /v1/reports, GET /v1/reports/{report_id}, over one node."""
    view = node.view

    def signed(request: Request) -> None:
        """Refuse the request unless a member of the committee in force signed it."""
        desk = desk_of(node)
        try:
            desk.verifier.check(
                request.headers,
                request.method,
                _path_with_query(request),
                wall_s(),
                committee(view),
            )
        except SignedRequestError as exc:
            raise ApiError(exc.status, exc.code, exc.message) from None

    async def submit(request: Request) -> Response:
        desk = desk_of(node)
        browser = _browser_form(request)
        try:
            stored = await _received(request, desk)
        except _RefusedError as r:
            desk.refused[r.code] += 1
            if browser:
                return RedirectResponse(f"{REPORT_PAGE}?error={r.code}", status_code=303)
            body = {"error": {"code": r.code, "message": r.message}}
            return JSONResponse(body, status_code=r.status, headers=r.headers)
        desk.received += 1
        rid = stored.report_id.hex()
        if browser:
            return RedirectResponse(f"{REPORT_PAGE}?sent={rid}", status_code=303)
        return JSONResponse(
            {"report_id": rid, "status": stored.status.value},
            status_code=201,
            headers={"Location": f"/v1/reports/{rid}"},
        )

    async def listing(request: Request) -> JSONResponse:
        signed(request)
        unknown = set(request.query_params) - LIST_QUERY
        if unknown:
            raise ApiError(400, "bad_query", f"unknown query parameter {sorted(unknown)[0][:40]!r}")
        store = desk_of(node).store()
        prefix = _query_one(request, "prefix")
        if prefix is not None:
            if not ID_PREFIX_CHARS_MIN <= len(prefix) <= ID_HEX_CHARS or not set(prefix) <= _HEX:
                raise ApiError(
                    400,
                    "bad_prefix",
                    f"prefix must be {ID_PREFIX_CHARS_MIN} to {ID_HEX_CHARS} lowercase hex",
                )
            ids = store.ids_with_prefix(prefix, ID_MATCHES_MAX + 1)
            more = len(ids) > ID_MATCHES_MAX
            return JSONResponse(
                {"prefix": prefix, "report_ids": ids[:ID_MATCHES_MAX], "more": more}
            )
        status_text = _query_one(request, "status")
        if status_text is not None and status_text not in {s.value for s in Status}:
            raise ApiError(400, "bad_status", "status is open or handled")
        status = Status(status_text) if status_text is not None else None
        after_text = _query_one(request, "after")
        after = hex_arg(after_text, ID_HEX_CHARS, "after") if after_text is not None else None
        limit_text = _query_one(request, "limit")
        limit = PAGE_LIMIT_DEFAULT
        if limit_text is not None:
            if not (limit_text.isascii() and limit_text.isdigit() and len(limit_text) <= 4):
                raise ApiError(400, "bad_limit", f"limit must lie in 1..{PAGE_LIMIT_MAX}")
            limit = int(limit_text)
            if not 1 <= limit <= PAGE_LIMIT_MAX:
                raise ApiError(400, "bad_limit", f"limit must lie in 1..{PAGE_LIMIT_MAX}")
        try:
            page, more = store.page(status, after, limit)
        except UnknownReportError:
            raise ApiError(400, "bad_after", "after names no report of this node") from None
        key = node.key.public_key
        return JSONResponse(
            {
                "reports": [report_json(r, key) for r in page],
                "next": page[-1].report_id.hex() if more and page else None,
                "counts": store.counts(),
                "node": node.name,
                "synced_height": store.synced_height,
            }
        )

    async def reports(request: Request) -> Response:
        """POST: send a report (public); GET: list them (committee, signed)."""
        return await (submit(request) if request.method == "POST" else listing(request))

    async def one(request: Request) -> JSONResponse:
        rid = hex_arg(request.path_params["report_id"], ID_HEX_CHARS, "report_id")
        signed(request)
        found = desk_of(node).store().get(rid)
        if found is None:
            raise ApiError(
                404, "not_found", "no report with this id on this node (another may hold it)"
            )
        return JSONResponse(report_json(found, node.key.public_key))

    return [
        Route("/v1/reports", reports, methods=["GET", "POST"]),
        Route("/v1/reports/{report_id}", one),
    ]

"""The audit log, search, and the report form."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from govchain.explorer.context import Explorer
from govchain.explorer.reader import PageError

AUDIT_SPAN_HEIGHTS = 1_000  # heights one audit page covers
QUERY_CHARS_MAX = 128
REPORT_CATEGORIES = ("illegal_content", "fraud", "privacy", "other")
REPORT_TEXT_CHARS_MAX = 4_000
_DIGITS = re.compile(r"[0-9]{1,18}")
_CODE = re.compile(r"[a-z_]{1,64}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


def _height(raw: str | None, what: str) -> int | None:
    if raw is None or raw == "":
        return None
    if not _DIGITS.fullmatch(raw):
        raise PageError(400, "bad_height", f"{what} is a positive whole number")
    return int(raw)


def misc_routes(ex: Explorer) -> list[Route]:
    """GET /audit, GET /search, GET /report."""

    async def audit(request: Request) -> Response:
        r = ex.reader
        status = await r.must("/v1/status")
        executed = status["height"]
        to = min(_height(request.query_params.get("to"), "to") or executed, executed)
        lo = max(1, to - AUDIT_SPAN_HEIGHTS + 1)
        doc = await r.must("/v1/audit", **{"from": lo, "to": to}) if to >= 1 else None
        check = None
        if to >= 1 and request.query_params.get("check") == "1":
            check = await r.must("/v1/audit/check", **{"from": lo, "to": to})
        entries = list(reversed(doc["entries"])) if doc else []
        return await ex.page(
            request,
            "audit.html",
            doc=doc,
            entries=entries,
            lo=lo,
            to=to,
            older=lo - 1 if lo > 1 else None,
            check=check,
            executed=executed,
        )

    async def search(request: Request) -> Response:
        q = request.query_params.get("q", "").strip()
        if not q:
            return await ex.page(request, "search.html", query="", matches=[], more=False)
        if len(q) > QUERY_CHARS_MAX:
            raise PageError(400, "bad_query", f"a search is at most {QUERY_CHARS_MAX} characters")
        answer = await ex.reader.get("/v1/search", q=q)
        if not answer.ok:
            raise PageError(answer.status, answer.error_code or "error", "")
        matches = answer.doc["matches"]
        if not answer.doc["more"]:
            # A proposal's id is its transaction's id too: the proposal page is the answer
            # (it links to its transaction).
            if len({m["id"] for m in matches}) == 1 and any(
                m["kind"] == "proposal" for m in matches
            ):
                matches = [m for m in matches if m["kind"] == "proposal"]
            if len(matches) == 1:
                return RedirectResponse(matches[0]["url"], status_code=303)
        return await ex.page(
            request,
            "search.html",
            http_status=200 if matches else 404,
            query=q,
            matches=matches,
            more=answer.doc["more"],
        )

    async def report(request: Request) -> Response:
        sent = request.query_params.get("sent")
        error = request.query_params.get("error")
        if sent is not None and not _HEX64.fullmatch(sent):
            sent = None
        if error is not None and not _CODE.fullmatch(error):
            error = "bad_request"
        return await ex.page(
            request,
            "report.html",
            sent=sent,
            error=error,
            categories=REPORT_CATEGORIES,
            text_max=REPORT_TEXT_CHARS_MAX,
        )

    return [
        Route("/audit", ex.handler(audit)),
        Route("/search", ex.handler(search)),
        Route("/report", ex.handler(report)),
    ]

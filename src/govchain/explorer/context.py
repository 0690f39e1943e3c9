"""What every page handler holds: the API reader, and rendering with the chain's header."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from govchain.explorer.reader import ApiReader, PageError
from govchain.explorer.render import render

Handler = Callable[[Request], Awaitable[Response]]


class Explorer:
    """The explorer of one node: its reader and how a page is answered."""

    def __init__(self) -> None:
        self.reader = ApiReader()

    async def chrome(self) -> dict[str, Any]:
        """The header and footer's facts: chain, node, height, filing number."""
        answer = await self.reader.get("/v1/status")
        doc = answer.doc if answer.ok and isinstance(answer.doc, dict) else {}
        return {
            "chain_id": doc.get("chain_id", ""),
            "node": doc.get("node", ""),
            "height": doc.get("height", 0),
            "filing_number": doc.get("filing_number"),
            "status": doc,
        }

    async def page(
        self, request: Request, template: str, http_status: int = 200, **values: Any
    ) -> HTMLResponse:
        """The page rendered with the chain's header, in the request's language."""
        return render(request, await self.chrome(), template, http_status, **values)

    def handler(self, fn: Callable[[Request], Awaitable[Response]]) -> Handler:
        """fn, with a PageError shown as the error page (its status, in words)."""

        async def run(request: Request) -> Response:
            start = time.perf_counter()
            try:
                response = await fn(request)
            except PageError as e:
                response = await self.page(
                    request, "error.html", http_status=e.status, code=e.code, message=e.message
                )
            # What the page cost the node, for browsers' dev tools and bench_explorer.py.
            ms = (time.perf_counter() - start) * 1000
            response.headers["Server-Timing"] = f"page;dur={ms:.2f}"
            return response

        return run

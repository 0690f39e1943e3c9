"""The explorer reads the chain through the node's own HTTP API, called in-process.

One source of truth: a page shows exactly what `GET /v1/...` answers, so
anything the explorer can show, a program can read too. The call goes
through ASGI in memory (no socket), a fraction of a millisecond each.
"""

from __future__ import annotations

from typing import Any

import httpx
from starlette.types import ASGIApp

READ_TIMEOUT_S = 10.0


class ApiAnswer:
    """An API answer: its status and its JSON document (an error document on failure)."""

    def __init__(self, status: int, doc: Any) -> None:
        self.status = status
        self.doc = doc

    @property
    def ok(self) -> bool:
        """True for a 2xx answer."""
        return 200 <= self.status < 300

    @property
    def error_code(self) -> str | None:
        """The error's code, when the API refused."""
        if self.ok or not isinstance(self.doc, dict):
            return None
        err = self.doc.get("error")
        return str(err.get("code")) if isinstance(err, dict) else None


class ApiReader:
    """GETs against the API application this explorer is mounted in."""

    def __init__(self) -> None:
        self._client: httpx.AsyncClient | None = None
        self._app: ASGIApp | None = None

    def bind(self, app: ASGIApp) -> None:
        """Attach the application (built after the explorer's routes)."""
        self._app = app
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://explorer.invalid",
            timeout=READ_TIMEOUT_S,
        )

    async def get(self, path: str, **query: object) -> ApiAnswer:
        """GET path with the query values that are not None."""
        return await self._get(path, None, query)

    async def get_as(self, client: str | None, path: str, **query: object) -> ApiAnswer:
        """GET as the browser's address, for reads the API limits per client (a trace):
        in-process calls would otherwise all share one address."""
        return await self._get(path, client, query)

    async def _get(self, path: str, client: str | None, query: dict[str, object]) -> ApiAnswer:
        if self._client is None or self._app is None:
            raise RuntimeError("the explorer's reader is not bound to the API")
        params = {k: str(v) for k, v in query.items() if v is not None}
        if client is None:
            r = await self._client.get(path, params=params)
        else:
            transport = httpx.ASGITransport(app=self._app, client=(client, 0))
            async with httpx.AsyncClient(
                transport=transport, base_url="http://explorer.invalid", timeout=READ_TIMEOUT_S
            ) as one:
                r = await one.get(path, params=params)
        try:
            doc = r.json()
        except ValueError:
            doc = None
        return ApiAnswer(r.status_code, doc)

    async def must(self, path: str, **query: object) -> Any:
        """The document of a GET that should succeed (else a PageError for the page to show)."""
        answer = await self.get(path, **query)
        if not answer.ok:
            raise PageError(answer.status, answer.error_code or "error", _message(answer.doc))
        return answer.doc


def _message(doc: Any) -> str:
    if isinstance(doc, dict) and isinstance(doc.get("error"), dict):
        return str(doc["error"].get("message", ""))
    return ""


class PageError(Exception):
    """A page that cannot be shown: the API's status, code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

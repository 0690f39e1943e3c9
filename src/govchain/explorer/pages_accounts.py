"""The account page: balance, nonce, identity, KYC tier, freezes, liens, holds, roles, history."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from govchain.explorer.context import Explorer
from govchain.explorer.reader import PageError

HISTORY_PER_PAGE = 25
_ADDRESS = re.compile(r"(0x)?[0-9a-fA-F]{40}")
_CURSOR = re.compile(r"[0-9]{1,20}")


def account_routes(ex: Explorer) -> list[Route]:
    """GET /accounts/{address}: everything the chain records of one address."""

    async def account(request: Request) -> Response:
        raw = request.path_params["address"]
        if not _ADDRESS.fullmatch(raw):
            raise PageError(400, "bad_address", "an address is 40 hex characters")
        address = raw.lower().removeprefix("0x")
        if address != raw:  # one URL per account
            return RedirectResponse(f"/accounts/{address}", status_code=308)
        before = request.query_params.get("before")
        if before is not None and not _CURSOR.fullmatch(before):
            raise PageError(400, "bad_cursor", "before= is the cursor a history page links to")
        r = ex.reader
        acct = await r.must(f"/v1/accounts/{address}")
        ident = await r.get(f"/v1/identities/{address}")
        holds = await r.must(f"/v1/accounts/{address}/holds")
        history = await r.must(
            f"/v1/accounts/{address}/history", before=before, limit=HISTORY_PER_PAGE
        )
        return await ex.page(
            request,
            "account.html",
            acct=acct,
            ident=ident.doc if ident.ok else None,
            holds=holds,
            history=history,
            before=before,
        )

    return [Route("/accounts/{address}", ex.handler(account))]

"""Governance pages: proposals (filtered), one proposal with its votes, parameters, content
rules (hashes only), services, and the filing number."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from govchain.explorer.context import Explorer
from govchain.explorer.reader import PageError

PROPOSALS_PER_PAGE = 50
STATUSES = ("open", "passed", "rejected", "expired")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_ACTION = re.compile(r"[a-z][a-z0-9-]{0,63}")


def _lapse(p: dict[str, Any], height: int, seconds_per_checkpoint: float | None) -> dict[str, Any]:
    """An emergency measure's clock: heights (and about how many seconds) until it lapses."""
    left = max(p["expires_height"] - height, 0)
    seconds = None if seconds_per_checkpoint is None else round(left * seconds_per_checkpoint)
    return {"heights": left, "seconds": seconds, "at": p["expires_height"]}


def gov_routes(ex: Explorer) -> list[Route]:
    """The governance pages."""

    async def proposals(request: Request) -> Response:
        status = request.query_params.get("status") or None
        action = request.query_params.get("action") or None
        if status is not None and status not in STATUSES:
            raise PageError(400, "bad_status", "status is open, passed, rejected or expired")
        if action is not None and not _ACTION.fullmatch(action):
            raise PageError(400, "bad_action", "not a governance action's name")
        r = ex.reader
        committee = await r.must("/v1/governance/committee")
        doc = await r.must(
            "/v1/governance/proposals", status=status, action=action, limit=PROPOSALS_PER_PAGE
        )
        return await ex.page(
            request,
            "proposals.html",
            proposals=doc["proposals"],
            committee=committee,
            status=status,
            action=action,
            statuses=STATUSES,
        )

    async def proposal(request: Request) -> Response:
        pid = request.path_params["pid"]
        if not _HEX64.fullmatch(pid):
            raise PageError(400, "bad_proposal_id", "a proposal id is 64 hex characters")
        r = ex.reader
        p = await r.must(f"/v1/governance/proposals/{pid}")
        committee = await r.must("/v1/governance/committee")
        status = await r.must("/v1/status")
        names = {m["address"]: m for m in committee["members"]}
        lapse = None
        if p["emergency"] and p["status"] == "open":
            lapse = _lapse(p, status["height"], status.get("seconds_per_checkpoint"))
        return await ex.page(
            request, "proposal.html", p=p, committee=committee, members=names, lapse=lapse
        )

    async def params(request: Request) -> Response:
        doc = await ex.reader.must("/v1/governance/params")
        return await ex.page(request, "params.html", doc=doc)

    async def rules(request: Request) -> Response:
        doc = await ex.reader.must("/v1/governance/rules")
        return await ex.page(request, "rules.html", doc=doc)

    async def services(request: Request) -> Response:
        doc = await ex.reader.must(
            "/v1/services", limit=100, after=request.query_params.get("after")
        )
        return await ex.page(request, "services.html", doc=doc)

    return [
        Route("/governance", ex.handler(proposals)),
        Route("/governance/proposals/{pid}", ex.handler(proposal)),
        Route("/governance/params", ex.handler(params)),
        Route("/governance/rules", ex.handler(rules)),
        Route("/governance/services", ex.handler(services)),
    ]

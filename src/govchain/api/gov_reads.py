"""Reads of the governance committee: who decides, and what it takes to pass."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from govchain.api.port import NodePort
from govchain.apps.catalog import registry_for
from govchain.crypto.keys import address_of


def gov_read_routes(node: NodePort) -> list[Route]:
    """GET /v1/governance/committee."""
    view = node.view
    registry = registry_for(node.genesis)

    async def committee(_: Request) -> JSONResponse:
        c = view.committee()
        return JSONResponse(
            {
                "height": view.height,
                "members": [
                    {"public_key": k.hex(), "address": address_of(k).hex(), "weight": w}
                    for k, w in c.members
                ],
                "threshold": c.threshold,
                "total_weight": c.total_weight,
                "participation_min": c.participation_min,
                "proposal_ttl_heights": c.proposal_ttl_heights,
                "emergency_ttl_heights": c.emergency_ttl_heights,
                "actions": list(registry.actions),
                "emergency_actions": list(registry.emergency_actions),
            }
        )

    return [Route("/v1/governance/committee", committee)]

"""The home page: height, finality, throughput, validators, latest checkpoints, a DAG strip."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from govchain.explorer.context import Explorer

HOME_CHECKPOINTS = 10
HOME_STATS_SECONDS = 300


def home_routes(ex: Explorer) -> list[Route]:
    """GET /: the chain at a glance, kept live by explorer.js."""

    async def home(request: Request) -> Response:
        r = ex.reader
        status = await r.must("/v1/status")
        stats = await r.must("/v1/stats/recent", seconds=HOME_STATS_SECONDS)
        validators = await r.must("/v1/validators")
        cps = await r.must("/v1/checkpoints", limit=HOME_CHECKPOINTS)
        return await ex.page(
            request,
            "home.html",
            status=status,
            stats=stats,
            validators=validators["validators"],
            checkpoints=cps["checkpoints"],
        )

    return [Route("/", ex.handler(home))]

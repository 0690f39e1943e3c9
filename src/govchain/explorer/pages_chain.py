"""Pages of the chain itself: the DAG view, checkpoints, and transactions."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from govchain.explorer.context import Explorer
from govchain.explorer.reader import PageError
from govchain.explorer.render import number_choice

CHECKPOINTS_PER_PAGE = 25
DAG_SAMPLE_DEFAULT = 300
DAG_SAMPLES = (100, 300, 1000)
_HEX64 = re.compile(r"[0-9a-f]{64}")
_DIGITS = re.compile(r"[0-9]{1,18}")


def _height_arg(raw: str | None) -> int | None:
    """A ?before= height, or None when absent; garbage is a 400 page."""
    if raw is None or raw == "":
        return None
    if not _DIGITS.fullmatch(raw):
        raise PageError(400, "bad_height", "a height is a positive whole number")
    return int(raw)


def chain_routes(ex: Explorer) -> list[Route]:
    """The DAG view, the checkpoint list and detail, and the transaction page."""

    async def dag(request: Request) -> Response:
        sample = number_choice(request.query_params.get("sample"), DAG_SAMPLES, DAG_SAMPLE_DEFAULT)
        status = await ex.reader.must("/v1/status")
        return await ex.page(request, "dag.html", sample=sample, samples=DAG_SAMPLES, status=status)

    async def checkpoints(request: Request) -> Response:
        before = _height_arg(request.query_params.get("before"))
        doc = await ex.reader.must("/v1/checkpoints", before=before, limit=CHECKPOINTS_PER_PAGE)
        return await ex.page(request, "checkpoints.html", doc=doc, before=before)

    async def checkpoint(request: Request) -> Response:
        height = _height_arg(request.path_params["height"])
        cp = await ex.reader.must(f"/v1/checkpoints/{height}")
        answer = await ex.reader.get(f"/v1/checkpoints/{height}/signers")
        signed = answer.doc if answer.ok else None  # 409: that height's set is not known yet
        return await ex.page(request, "checkpoint.html", cp=cp, signed=signed)

    async def tx(request: Request) -> Response:
        tx_id = request.path_params["tx_id"].lower()
        if not _HEX64.fullmatch(tx_id):
            raise PageError(400, "bad_tx_id", "a transaction id is 64 hex characters")
        rec = await ex.reader.must(f"/v1/txs/{tx_id}")
        check = None
        if rec["status"] not in ("pending", "waiting"):
            answer = await ex.reader.get(f"/v1/txs/{tx_id}/proof/check")
            check = answer.doc if answer.ok else {"valid": None, "error": answer.error_code}
        return await ex.page(request, "tx.html", tx=rec, check=check)

    return [
        Route("/dag", ex.handler(dag)),
        Route("/checkpoints", ex.handler(checkpoints)),
        Route("/checkpoints/{height}", ex.handler(checkpoint)),
        Route("/txs/{tx_id}", ex.handler(tx)),
    ]

"""The fund-tracing routes: traces (GET and POST), kept cases, a height's movements.

A trace holds a worker thread over a read snapshot of the store; the gate
(trace_gate.py) bounds how many, and the answer's annotations are read on
the event loop afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from govchain.api.errors import ApiError, height_arg, hex_arg, read_limited
from govchain.api.trace_gate import RecentCases, TraceGate, trace_notes
from govchain.api.trace_view import (
    BODY_BYTES_MAX,
    Ask,
    ask_of_body,
    ask_of_query,
    movements_json,
    pin,
    result_json,
)
from govchain.codec import ID_HEX_CHARS
from govchain.storage.base import PrunedError
from govchain.trace.case import TraceError
from govchain.trace.engine import trace
from govchain.trace.genesis import GenesisMovements, WithGenesis

if TYPE_CHECKING:
    from govchain.api.port import NodePort


def _tx_height(node: NodePort) -> Callable[[bytes], int | None]:
    """The height a transaction was final at, from the store (None: not final here)."""

    def height(tx_id: bytes) -> int | None:
        try:
            stored = node.store.get_tx(tx_id)
        except PrunedError as exc:  # its movements stay: a trace still starts there
            return exc.height
        return stored.height if stored is not None else None

    return height


def _own_book(node: NodePort) -> Callable[[], GenesisMovements]:
    book = GenesisMovements(node.genesis.balances)
    return lambda: book


def trace_routes(
    node: NodePort, genesis_book: Callable[[], GenesisMovements] | None = None
) -> list[Route]:
    """The routes over one node: /v1/trace..., /v1/checkpoints/{height}/movements.

    genesis_book: the chain's genesis movements, built once and shared with
    the account history (app.py); without it, built here.
    """
    view = node.view
    gate = TraceGate()
    genesis_movements = (genesis_book or _own_book(node))()  # once: traces wrap with it
    recent = RecentCases()

    async def run_trace(ask: Ask, request: Request) -> JSONResponse:
        """Pin the case at the snapshot, trace on a worker thread, annotate on the loop."""
        client = request.client.host if request.client is not None else ""
        async with gate.slot(client):
            snap = node.store.movement_snapshot()
            try:
                top = snap.top_height()
                source = WithGenesis(snap, genesis_movements)
                case = pin(ask, top, source, _tx_height(node), lambda a: view.account(a).balance)
                # The state the snapshot height left (a case may pin an older one).
                state_hash = node.store.state_hash_at(case.limits.to_height) or b""
                work = asyncio.ensure_future(asyncio.to_thread(trace, source, case, state_hash))
                try:
                    result = await asyncio.shield(work)
                except asyncio.CancelledError:
                    # The client went away: the thread cannot be stopped, so the
                    # slot and the snapshot are held until it ends, then let go.
                    await asyncio.wait({work})
                    raise
                except TraceError as exc:
                    raise ApiError(400, "bad_case", str(exc)) from None
            finally:
                snap.close()
        doc = result_json(result, trace_notes(view, result))
        recent.keep(doc)
        return JSONResponse(doc)

    async def trace_result(request: Request) -> JSONResponse:
        root = hex_arg(request.path_params["root"], ID_HEX_CHARS, "result_root").hex()
        kept = recent.get(root)
        if kept is None:
            raise ApiError(404, "not_found", "this node answered no recent trace with that root")
        return JSONResponse(kept)

    async def trace_get(request: Request) -> JSONResponse:
        ask = ask_of_query(request.path_params["address"], request.query_params)
        return await run_trace(ask, request)

    async def trace_post(request: Request) -> JSONResponse:
        return await run_trace(ask_of_body(await read_limited(request, BODY_BYTES_MAX)), request)

    async def checkpoint_movements(request: Request) -> JSONResponse:
        height = height_arg(request.path_params["height"], "height must be a positive integer")
        found = node.store.movements_at(height)
        if found is None:
            raise ApiError(404, "not_found", f"height {height} is not executed here")
        return JSONResponse(movements_json(height, found))

    return [
        Route("/v1/checkpoints/{height}/movements", checkpoint_movements),
        Route("/v1/trace", trace_post, methods=["POST"]),
        Route("/v1/trace/results/{root}", trace_result),
        Route("/v1/trace/{address}", trace_get),
    ]

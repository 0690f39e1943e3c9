"""State sync over HTTP: what a node offers to peers that join from its snapshot.

GET /v1/sync/offer: the newest snapshot at a sync height (state/sync_point.py)
this node holds, once the checkpoint after it is decided (it certifies the
snapshot's state), as JSON; 404 no_offer otherwise.
GET /v1/sync/image/{height}: that snapshot's ledger image and live ids
(msgpack, node/sync_wire.py SyncImage); 404 no_image for any other height.
GET /v1/sync/heights?from=H&count=N: decided heights from H on, each with its
checkpoint, certificate, receipts and audit entries (msgpack list of
SyncHeight; never the transactions), at most N (1..256) and about 4 MB.

Everything served is certified by the chain: a joiner checks it all
(node/state_sync.py) and trusts this node for nothing but availability.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from govchain.api.chain_reads import HEIGHT_MAX, optional_int_arg
from govchain.api.errors import ApiError, height_arg
from govchain.codec import encode
from govchain.node.sync_wire import (
    HEIGHTS_PER_PAGE_MAX,
    PAGE_BYTES_MAX,
    SyncHeight,
    SyncImage,
    encode_page,
)
from govchain.state.sync_point import live_of

if TYPE_CHECKING:
    from govchain.api.port import NodePort

MSGPACK_TYPE = "application/msgpack"
HEIGHTS_COUNT_DEFAULT = 64


def sync_routes(node: NodePort) -> list[Route]:
    """The three state-sync routes, reading node's store."""
    cached: dict[int, bytes] = {}  # the image answer of the newest offer, by height

    def offered() -> tuple[int, bytes] | None:
        """(height, SyncImage bytes) of the newest offerable snapshot, or None."""
        store = node.store
        every = node.genesis.sync_every
        # The newest the store holds that a decided checkpoint certifies (the store
        # answers only those): while a new sync height waits for the next decision,
        # the one before it stays offered.
        height = store.sync_snapshot_height(every)  # the snapshot is read once per height
        if height is None:
            return None
        answer = cached.get(height)
        if answer is None:
            snap = store.sync_snapshot(every)
            if snap is None or snap.height != height:
                return None  # replaced in between: asked again, the newer one is offered
            answer = encode(SyncImage(height, snap.ledger, live_of(snap.frontier), snap.txs_final))
            cached.clear()
            cached[height] = answer
        return height, answer

    async def offer(request: Request) -> JSONResponse:
        """The newest snapshot a joiner can start from."""
        found = offered()
        if found is None:
            raise ApiError(404, "no_offer", "this node holds no certified snapshot to offer yet")
        height, answer = found
        decided = node.store.get_checkpoint(height + 1)
        assert decided is not None  # the store offers only snapshots below its decided height
        return JSONResponse(
            {
                "height": height,
                "decided": node.store.decided_height(),
                "state_hash": decided[0].state_hash.hex(),
                "image_bytes": len(answer),
            }
        )

    async def image(request: Request) -> Response:
        """The offered snapshot's image and live ids."""
        height = height_arg(request.path_params["height"], "height must be a decimal integer")
        found = offered()
        if found is None or found[0] != height:
            raise ApiError(404, "no_image", f"no snapshot at height {height} is offered")
        return Response(found[1], media_type=MSGPACK_TYPE)

    async def heights(request: Request) -> Response:
        """Decided heights with their certificates, receipts and audit entries."""
        start = optional_int_arg(request, "from", 1, HEIGHT_MAX)
        if start is None:
            raise ApiError(400, "bad_from", "from (the first height) is required")
        count = optional_int_arg(request, "count", 1, HEIGHTS_PER_PAGE_MAX)
        store = node.store
        top = store.decided_height()
        if start > top:
            raise ApiError(404, "not_decided", f"height {start} is not decided (top {top})")
        last = min(top, start + (count or HEIGHTS_COUNT_DEFAULT) - 1)
        out: list[bytes] = []  # each height encoded once: the page is sized by real bytes
        size = 0
        for h in range(start, last + 1):
            decided = store.get_checkpoint(h)
            assert decided is not None  # every height up to the top is stored
            executed = store.state_hash_at(h) is not None
            receipts = store.receipts(h) if executed else []
            entries = [e.canonical for e in store.audit(h, h)] if executed else []
            one = encode(SyncHeight(decided[0], decided[1], executed, receipts, entries))
            if out and size + len(one) > PAGE_BYTES_MAX:
                break  # the joiner reads up to twice this: one large height always fits
            out.append(one)
            size += len(one)
        return Response(encode_page(out), media_type=MSGPACK_TYPE)

    return [
        Route("/v1/sync/offer", offer),
        Route("/v1/sync/image/{height}", image),
        Route("/v1/sync/heights", heights),
    ]

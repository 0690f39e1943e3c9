"""The chain reads the explorer renders: checkpoints, recent pace, validators, DAG, search.

GET /v1/checkpoints (a page, newest first), /v1/checkpoints/{height}/signers,
/v1/stats/recent, /v1/validators, /v1/dag/recent and /v1/search. Each reads
a bounded slice: checkpoints by height from the store's primary key, recent
checkpoints and certificates from the tail of the decided list in memory,
vertices from the newest end of what memory holds, search by exact keys and
id ranges. No answer's cost grows with the length of the chain. Arguments
are checked before anything is read; a bad one is a 400 bad_<name>.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from govchain.api.chain_search import SEARCH_CHARS_MAX, search
from govchain.api.errors import HEIGHT_DIGITS_MAX, ApiError
from govchain.api.shared_answers import SharedAnswers
from govchain.consensus.messages import Certificate
from govchain.crypto.keys import address_of
from govchain.replica.view import ChainView, RecentVertex
from govchain.storage.base import PrunedError, Store

if TYPE_CHECKING:
    from govchain.api.port import NodePort

CHECKPOINTS_LIMIT_DEFAULT = 20
CHECKPOINTS_LIMIT_MAX = 100
STATS_SECONDS_DEFAULT = 300
STATS_SECONDS_MIN = 10
STATS_SECONDS_MAX = 3_600
STATS_POINTS_MAX = 2_000  # the newest decided checkpoints a window may hold
DAG_LIMIT_DEFAULT = 300
DAG_LIMIT_MAX = 2_000
STORE_LOOKBACK_HEIGHTS = 10_000  # how far back the DAG view looks in the store
STORE_WINDOW_HEIGHTS = 500  # heights whose counts one read fetches
SIGNED_LOOKBACK = 256  # certificates read back to find a validator's last signature
LATE_CERTIFICATES = 16  # missing from the latest certificate, but in one of these: late
HEIGHT_MAX = 10**HEIGHT_DIGITS_MAX - 1


# -- arguments -----------------------------------------------------------------------------
def optional_int_arg(request: Request, name: str, lo: int, hi: int) -> int | None:
    """?name=: an integer in lo..hi, None when absent, else a 400 bad_<name>."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if (
        not (raw.isascii() and raw.isdigit())
        or len(raw) > HEIGHT_DIGITS_MAX
        or not (lo <= int(raw) <= hi)
    ):
        raise ApiError(400, "bad_" + name, f"{name} must be an integer in {lo}..{hi}")
    return int(raw)


def int_arg(request: Request, name: str, lo: int, hi: int, default: int) -> int:
    """?name=: an integer in lo..hi, default when absent, else a 400 bad_<name>."""
    value = optional_int_arg(request, name, lo, hi)
    return default if value is None else value


# -- documents -----------------------------------------------------------------------------
def known_names(node: NodePort) -> dict[bytes, str]:
    """Public key -> name, for the keys this node can name: its own, and its peers'
    that node.json names (a devnet names them all; the handshake carries no name)."""
    names = {bytes.fromhex(p.key): p.name for p in node.node_config.peers if p.name}
    names[node.key.public_key] = node.name
    return names


def certificate_signers(
    view: ChainView, height: int, cert: Certificate, names: Mapping[bytes, str]
) -> list[dict[str, Any]] | None:
    """A certificate's signers by index in the set certifying height (None: set not known)."""
    valset = view.validator_set(height)
    if valset is None:
        return None
    out: list[dict[str, Any]] = []
    for index, signature in cert.signatures:
        member = valset.members[index] if index < len(valset.members) else None
        key = member.public_key if member is not None else None
        out.append(
            {
                "index": index,
                "public_key": key.hex() if key is not None else None,
                "address": address_of(key).hex() if key is not None else None,
                "name": names.get(key) if key is not None else None,
                "power": member.weight if member is not None else 0,
                "signature": signature.hex(),
            }
        )
    return out


def checkpoints_page(node: NodePort, before: int | None, limit: int) -> dict[str, Any]:
    """Decided checkpoints below `before` (all when None), newest first, `limit` at most."""
    store = node.store
    decided = store.decided_height()
    top = decided if before is None else min(before - 1, decided)
    low = max(1, top - limit + 1)
    counts = store.tx_counts(low, top) if top >= 1 else {}
    rows: list[dict[str, Any]] = []
    for height in range(top, low - 1, -1):
        found = store.get_checkpoint(height)
        if found is None:  # every height up to the decided one is stored
            raise ApiError(503, "unavailable", f"checkpoint {height} is not in this node's store")
        cp, cert = found
        rows.append(
            {
                "height": height,
                "hash": cp.hash.hex(),
                "time_ms": cp.time_ms,
                "txs": counts.get(height),
                "tips": len(cp.tips),
                "signers": len(cert.signatures),
                "state_hash": cp.state_hash.hex(),
                "receipts_root": cp.receipts_root.hex(),
            }
        )
    return {
        "checkpoints": rows,
        "next": low if top >= 1 and low > 1 else None,
        "decided_height": decided,
    }


def quantiles(samples: Iterable[int]) -> dict[str, float] | None:
    """p50 and p99 of samples (None when there are none), as /metrics computes them."""
    ordered = sorted(samples)
    if not ordered:
        return None
    if len(ordered) == 1:
        return {"p50": float(ordered[0]), "p99": float(ordered[0])}
    qs = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50": float(qs[49]), "p99": float(qs[98])}


def recent_stats(node: NodePort, seconds: int) -> dict[str, Any]:
    """The checkpoints of the last `seconds` before the latest one, and the pace they show."""
    view = node.view
    tail = view.decided_tail(STATS_POINTS_MAX)
    cut_ms = tail[-1][0].time_ms - seconds * 1_000 if tail else 0
    cps = [cp for cp, _ in tail if cp.time_ms >= cut_ms]
    counts = node.store.tx_counts(cps[0].height, cps[-1].height) if cps else {}
    points = [
        {"height": cp.height, "time_ms": cp.time_ms, "txs": counts.get(cp.height)} for cp in cps
    ]
    tps, pace = 0.0, None
    if len(cps) >= 2:
        span_s = (cps[-1].time_ms - cps[0].time_ms) / 1_000
        # Each checkpoint's transactions arrived before it: the first one's, before the span.
        txs = sum(counts.get(cp.height, 0) for cp in cps[1:])
        tps = round(txs / span_s, 3) if span_s > 0 else 0.0
        pace = round(span_s / (len(cps) - 1), 3)
    return {
        "points": points,
        "tps": tps,
        "seconds_per_checkpoint": pace,
        "finality_ms": quantiles(node.metrics.finality_ms),
        "height": view.decided_height,
    }


def validators_doc(node: NodePort) -> dict[str, Any]:
    """The set certifying the next height, each member's last signature and standing."""
    view = node.view
    height = view.height + 1
    valset = view.validator_set(height)
    latest = view.decided_height
    last_signed: dict[bytes, int] = {}
    for cp, cert in reversed(view.decided_tail(SIGNED_LOOKBACK)):
        signed_set = view.validator_set(cp.height)
        if signed_set is None:  # decided beyond what execution knows yet
            continue
        for index, _ in cert.signatures:
            if index < len(signed_set.members):
                last_signed.setdefault(signed_set.members[index].public_key, cp.height)
    names = known_names(node)
    own = node.key.public_key
    peers = set(node.net.peers())
    members = valset.members if valset is not None else ()
    docs = []
    for index, m in enumerate(members):
        signed = last_signed.get(m.public_key)
        if signed is not None and signed == latest:
            standing = "active"
        elif signed is not None and signed > latest - LATE_CERTIFICATES:
            standing = "late"
        else:
            standing = "absent"
        docs.append(
            {
                "index": index,
                "public_key": m.public_key.hex(),
                "address": address_of(m.public_key).hex(),
                "power": m.weight,
                "name": names.get(m.public_key),
                "last_signed": signed,
                "status": standing,
                "connected": m.public_key.hex() in peers,
                "is_self": m.public_key == own,
            }
        )
    return {"height": height, "validators": docs}


def _vertex_doc(v: RecentVertex) -> dict[str, Any]:
    return {
        "id": v.id.hex(),
        "parents": [p.hex() for p in v.parents],
        "sender": address_of(v.sender).hex(),
        "kind": v.kind,
        "covered_by": v.height,
    }


def _stored_recent(
    store: Store, below: int, floor: int, count: int, shown: set[bytes]
) -> list[RecentVertex]:
    """The newest final vertices of the heights floor..below-1 from the store, newest first.

    Empty heights are skipped by their counts (one range read per window), so
    an idle chain's empty checkpoints cost little; at most `count` transactions
    are read, one by one.
    """
    out: list[RecentVertex] = []
    hi = below - 1
    while hi >= floor and len(out) < count:
        lo = max(floor, hi - STORE_WINDOW_HEIGHTS + 1)
        counts = store.tx_counts(lo, hi)
        for h in range(hi, lo - 1, -1):
            if not counts.get(h):
                continue
            for rc in reversed(store.receipts(h)):
                if rc.tx_id in shown:
                    continue
                try:
                    stored = store.get_tx(rc.tx_id)
                except PrunedError:
                    return out  # every older height is pruned too
                if stored is not None:
                    body = stored.tx.body
                    out.append(RecentVertex(rc.tx_id, body.parents, body.sender, body.kind, h))
                if len(out) >= count:
                    return out
        hi = lo - 1
    return out


def recent_dag(view: ChainView, limit: int, store: Store | None = None) -> dict[str, Any]:
    """The newest vertices memory holds (ChainView.recent_vertices), then, when memory holds
    fewer than limit (after a restart, or on an idle chain), the newest final ones the
    store holds from the last STORE_LOOKBACK_HEIGHTS heights; and the DAG's counts."""
    counts = view.dag_counts()
    found = view.recent_vertices(limit)
    if store is not None and len(found) < limit:
        covered = [v.height for v in found if v.height is not None]
        below = min(covered) if covered else view.height + 1
        floor = max(1, view.height - STORE_LOOKBACK_HEIGHTS)
        shown = {v.id for v in found}
        found = [*found, *_stored_recent(store, below, floor, limit - len(found), shown)]
    return {
        "dag_height": view.dag_height,
        "vertices": [_vertex_doc(v) for v in found],
        "total": counts.vertices,
        "pending": counts.pending,
    }


# -- routes --------------------------------------------------------------------------------
def chain_read_routes(node: NodePort) -> list[Route]:
    """GET /v1/checkpoints, .../{height}/signers, /v1/stats/recent, /v1/validators,
    /v1/dag/recent and /v1/search over one node."""
    view = node.view
    shared = SharedAnswers()  # what explorer pages poll: one answer a second for every viewer

    async def checkpoints(request: Request) -> JSONResponse:
        before = optional_int_arg(request, "before", 1, HEIGHT_MAX)
        limit = int_arg(request, "limit", 1, CHECKPOINTS_LIMIT_MAX, CHECKPOINTS_LIMIT_DEFAULT)
        return JSONResponse(checkpoints_page(node, before, limit))

    async def signers(request: Request) -> JSONResponse:
        raw = request.path_params["height"]
        if not (raw.isascii() and raw.isdigit()) or len(raw) > HEIGHT_DIGITS_MAX:
            raise ApiError(400, "bad_height", "height must be a positive integer")
        height = int(raw)
        found = node.store.get_checkpoint(height) if height >= 1 else None
        if found is None:
            raise ApiError(404, "not_found", f"no decided checkpoint at height {height}")
        cp, cert = found
        valset = view.validator_set(height)
        docs = certificate_signers(view, height, cert, known_names(node))
        if valset is None or docs is None:
            raise ApiError(
                409, "not_yet_known", f"the validator set of height {height} is not executed yet"
            )
        return JSONResponse(
            {
                "height": height,
                "hash": cp.hash.hex(),
                "round": cert.round,
                "signers": docs,
                "signed_power": sum(d["power"] for d in docs),
                "total_power": valset.total,
                "quorum": valset.quorum,
            }
        )

    async def stats(request: Request) -> Response:
        seconds = int_arg(
            request, "seconds", STATS_SECONDS_MIN, STATS_SECONDS_MAX, STATS_SECONDS_DEFAULT
        )
        return shared.answer(("stats", seconds), lambda: recent_stats(node, seconds))

    async def validators(_: Request) -> JSONResponse:
        return JSONResponse(validators_doc(node))

    async def dag(request: Request) -> Response:
        limit = int_arg(request, "limit", 1, DAG_LIMIT_MAX, DAG_LIMIT_DEFAULT)
        return shared.answer(("dag", limit), lambda: recent_dag(view, limit, node.store))

    async def find(request: Request) -> JSONResponse:
        q = request.query_params.get("q")
        if q is None or not 1 <= len(q) <= SEARCH_CHARS_MAX:
            raise ApiError(400, "bad_q", f"q must be 1 to {SEARCH_CHARS_MAX} characters")
        matches, more = search(node, q)
        return JSONResponse({"query": q, "matches": matches, "more": more})

    return [
        Route("/v1/checkpoints", checkpoints),
        Route("/v1/checkpoints/{height}/signers", signers),
        Route("/v1/stats/recent", stats),
        Route("/v1/validators", validators),
        Route("/v1/dag/recent", dag),
        Route("/v1/search", find),
    ]

"""The HTTP + websocket API of a node (../shared/CONTRACT.md, "HTTP, on every node")."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from typing import TYPE_CHECKING

import msgspec
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from govchain.api.chain_reads import chain_read_routes
from govchain.api.decoded import with_decoded
from govchain.api.errors import ApiError, height_arg, hex_arg, read_limited
from govchain.api.gov_reads import gov_read_routes
from govchain.api.metrics_export import CONTENT_TYPE as METRICS_CONTENT_TYPE
from govchain.api.metrics_export import metrics_registry, metrics_text
from govchain.api.openapi import openapi_for
from govchain.api.proof_doc import proof_doc, validator_changes_doc
from govchain.api.reports_routes import reports_routes
from govchain.api.state_reads import state_read_routes
from govchain.api.sync_routes import sync_routes
from govchain.api.trace_routes import trace_routes
from govchain.api.views import (
    account_funds_json,
    audit_entry_json,
    checkpoint_json,
    error,
    funds_json,
    funds_of,
    hold_json,
    identity_json,
    proposal_json,
    service_json,
    tx_json,
)
from govchain.api.wr_routes import wr_routes
from govchain.apps.catalog import registry_for
from govchain.codec import (
    ID_HEX_CHARS,
    ID_MATCHES_MAX,
    ID_PREFIX_CHARS_MIN,
    DecodeError,
    decode_canonical,
)
from govchain.crypto.keys import ADDRESS_BYTES, address_of
from govchain.dag.admission import AdmissionError, Reject
from govchain.explorer.routes import ExplorerRoutes
from govchain.replica.replication import SubmitState, Submitted
from govchain.state.audit import AuditEntry
from govchain.state.governance import ProposalStatus
from govchain.state.identities import Identity, IdentityStatus
from govchain.state.services import service_id_ok
from govchain.storage.base import PrunedError, prefix_bounds
from govchain.trace.genesis import GenesisMovements

if TYPE_CHECKING:
    from govchain.api.port import NodePort

BATCH_TXS_MAX = 1_000
BATCH_BYTES_MAX = 8 * 1024 * 1024
BATCH_DECODER = msgspec.msgpack.Decoder(list[bytes])


class _SubmitBody(msgspec.Struct):
    """The JSON body of POST /v1/txs: {"tx": "<hex of the signed transaction>"}."""

    tx: str


# Typed: a body that is not an object, or whose "tx" is not a string, is refused
# at its first token instead of being built into Python objects first.
SUBMIT_DECODER = msgspec.json.Decoder(_SubmitBody)
ADDRESS_CHARS = ADDRESS_BYTES * 2
PROPOSALS_LIMIT_DEFAULT = 100
PROPOSALS_LIMIT_MAX = 1_000
AUDIT_HEIGHTS_MAX = 10_000  # heights one /v1/audit request may span
# Id look-ups by prefix (GET /v1/txs?prefix=, .../proposals?prefix=): as git, at
# least 8 hex digits, so that a look-up reads a narrow range of the index.
HOLDS_SHOWN_MAX = 100  # holds GET /v1/accounts/{address}/holds lists
PACE_CHECKPOINTS = 64  # executed checkpoints whose spacing status reports
CLIENT_TIPS_SHOWN = 4  # tips GET /v1/dag/tips suggests as a client's parents


# Refusals that say "not now" rather than "never": 503 with Retry-After (seconds).
_TRANSIENT = frozenset(
    {
        Reject.POOL_FULL,
        Reject.ORPHAN_POOL_FULL,
        Reject.QUOTA_EXCEEDED,  # the sender's pending ones become final, then room is back
        Reject.CATCHING_UP,
        Reject.NOT_REPLICATED,
    }
)
RETRY_AFTER_S = 1


def _status_of(exc: AdmissionError) -> int:
    """The HTTP status of a refused submission."""
    if exc.reason in _TRANSIENT:
        return 503
    return 409 if exc.reason is Reject.DUPLICATE else 422


def build_app(node: NodePort) -> Starlette:
    """The API application over one node."""
    view = node.view  # every read of the chain goes through it
    registry = registry_for(node.genesis)  # the chain's: proposals of its applications decode
    tx_body_max = view.tx_bytes_max * 2 + 1024  # hex doubles the size
    # The genesis balances as height-0 movements, for traces and account histories alike:
    # built once (100,000 balances take a quarter of a second), on first use.
    genesis_book = functools.cache(lambda: GenesisMovements(node.genesis.balances))

    def answer(r: Submitted) -> dict[str, object]:
        """The contract's answer to a submission the node took."""
        doc: dict[str, object] = {"tx_id": r.tx_id.hex(), "status": r.state.value}
        if r.state is SubmitState.WAITING:
            doc["missing"] = [m.hex() for m in r.missing]
        elif r.state is SubmitState.FINAL:
            try:
                stored = node.store.get_tx(r.tx_id)
            except PrunedError:  # final long ago; this node kept only its id (--prune)
                return doc
            if stored is not None:  # (it is: covered ids are stored before they are known)
                doc["status"] = tx_json(stored.tx, stored.height, stored.receipt, view)["status"]
        return doc

    async def status(_: Request) -> JSONResponse:
        vs = view.validator_set(view.height + 1)
        counts = view.dag_counts()
        return JSONResponse(
            {
                "chain_id": node.genesis.chain_id,
                "genesis_hash": node.genesis.hash.hex(),
                "node": node.name,
                "node_key": node.key.public_key.hex(),
                "height": view.height,
                "decided_height": view.decided_height,
                "validators": [m.public_key.hex() for m in vs.members] if vs else [],
                "is_validator": bool(vs and vs.weight_of(node.key.public_key)),
                "dag": {
                    "vertices": counts.vertices,
                    "tips": counts.tips,
                    "pending": counts.pending,
                    "orphans": counts.orphans,
                },
                "peers": len(node.net.peers()),
                "catching_up": view.catching_up(),
                "seconds_per_checkpoint": _seconds_per_checkpoint(node),
                **view.status_fields(),
                "final": True,
            }
        )

    async def submit(request: Request) -> JSONResponse:
        raw = await read_limited(request, tx_body_max)
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("application/octet-stream"):
            wire = raw
        else:
            try:
                wire = bytes.fromhex(SUBMIT_DECODER.decode(raw).tx)
            except (msgspec.DecodeError, msgspec.ValidationError, ValueError, RecursionError):
                # RecursionError: deep nesting under an unknown key, which the
                # decoder skips recursively; a client error, not a 500.
                raise ApiError(
                    400, "bad_request", 'send JSON {"tx": "<hex of the signed transaction>"}'
                ) from None
        r = (await node.accept([wire]))[0]
        if isinstance(r, AdmissionError):
            raise ApiError(_status_of(r), r.reason.value, r.detail)
        return JSONResponse(answer(r), status_code=200 if r.state is SubmitState.FINAL else 202)

    async def submit_batch(request: Request) -> JSONResponse:
        """Many signed transactions in one request: a msgpack array of wire bytes."""
        raw = await read_limited(request, BATCH_BYTES_MAX)
        if node.pool_full():
            # Refuse before decoding: a client retrying under back-pressure
            # must not cost the node a decode per transaction.
            raise ApiError(503, "pool_full", "too many pending transactions: retry later")
        try:
            wires = decode_canonical(raw, BATCH_DECODER)
        except DecodeError:
            raise ApiError(
                400, "bad_request", "send a msgpack array of transactions (bytes) as the body"
            ) from None
        if not 1 <= len(wires) <= BATCH_TXS_MAX:
            raise ApiError(400, "bad_request", f"a batch holds 1..{BATCH_TXS_MAX} transactions")
        results = [
            error(r.reason.value, r.detail) if isinstance(r, AdmissionError) else answer(r)
            for r in await node.accept(wires)
        ]
        return JSONResponse({"results": results}, status_code=202)

    async def get_tx(request: Request) -> JSONResponse:
        if request.path_params["tx_id"] == "batch":  # a path of its own, POST only
            raise HTTPException(405, headers={"Allow": "POST"})
        tx_id = hex_arg(request.path_params["tx_id"], ID_HEX_CHARS, "tx_id")
        stored = node.store.get_tx(tx_id)
        if stored is not None:
            doc = tx_json(stored.tx, stored.height, stored.receipt, view)
            return JSONResponse(with_decoded(doc, stored.tx, registry))
        tx = view.pending_tx(tx_id)
        if tx is not None:
            return JSONResponse(with_decoded(tx_json(tx, None, None, view), tx, registry))
        tx = view.waiting_tx(tx_id)
        if tx is None:
            raise ApiError(404, "not_found", "no transaction with this id")
        doc = with_decoded(tx_json(tx, None, None, view), tx, registry)
        doc["status"] = SubmitState.WAITING.value  # not in the DAG yet: a parent is missing
        doc["missing"] = [m.hex() for m in view.waiting_for(tx_id)]
        return JSONResponse(doc)

    async def txs(request: Request) -> JSONResponse:
        """POST: submit a transaction; GET: look ids up by prefix (one Allow for both)."""
        return await (submit(request) if request.method == "POST" else tx_ids(request))

    async def tx_ids(request: Request) -> JSONResponse:
        """Ids of stored and pending transactions that start with ?prefix=HEX."""
        prefix = _prefix_arg(request)
        lo, hi = prefix_bounds(prefix)
        found = set(node.store.tx_ids_with_prefix(prefix, ID_MATCHES_MAX + 1))
        # Admitted but not stored yet (the commit comes after): the DAG holds them.
        found.update(view.vertex_ids_between(lo, hi))
        ids = sorted(found)
        return JSONResponse(
            {
                "prefix": prefix,
                "tx_ids": [vid.hex() for vid in ids[:ID_MATCHES_MAX]],
                "more": len(ids) > ID_MATCHES_MAX,
            }
        )

    async def get_proof(request: Request) -> JSONResponse:
        tx_id = hex_arg(request.path_params["tx_id"], ID_HEX_CHARS, "tx_id")
        # ?from= (the verifier's trusted point) is read after the 404 and 409 checks.
        return JSONResponse(proof_doc(node, tx_id, lambda: _int_query(request, "from", 0)))

    async def get_checkpoint(request: Request) -> JSONResponse:
        which = request.path_params["height"]
        if which == "latest":
            height = node.store.decided_height()
            if height == 0:
                raise ApiError(404, "not_found", "no checkpoint is decided yet")
        else:
            height = height_arg(which, "height must be a positive integer or 'latest'")
        found = node.store.get_checkpoint(height)
        if found is None:
            raise ApiError(404, "not_found", f"no decided checkpoint at height {height}")
        return JSONResponse(checkpoint_json(*found))

    async def tips(_: Request) -> JSONResponse:
        tips = view.client_tips(CLIENT_TIPS_SHOWN)
        return JSONResponse({"tips": [t.hex() for t in tips], "height": view.dag_height})

    async def account(request: Request) -> JSONResponse:
        addr = hex_arg(request.path_params["address"], ADDRESS_CHARS, "address")
        acct = view.account(addr)
        ident = view.identity(addr)
        frozen = ident is not None and ident.frozen_by is not None
        balance = acct.balance
        doc: dict[str, object] = {
            "address": addr.hex(),
            "balance": balance,
            # frozen_amount: a frozen identity can move none of it; else the liens.
            **account_funds_json(funds_of(view), addr, view.height, balance, frozen),
            "frozen": frozen,
            "nonce": acct.nonce,
            "height": view.height,
            "final": True,
        }
        key_hex = request.query_params.get("public_key")
        if key_hex is not None:
            key = hex_arg(key_hex, ID_HEX_CHARS, "public_key")
            if address_of(key) != addr:
                raise ApiError(400, "bad_public_key", "public_key does not belong to the address")
            # Not final: what a sender needs to chain its next transaction.
            doc["next_nonce"] = acct.nonce + view.pending_of(key)
            last = view.latest_by_sender(key)
            doc["last_tx"] = last.hex() if last is not None and not view.is_final_id(last) else None
        return JSONResponse(doc)

    async def account_holds(request: Request) -> JSONResponse:
        """Transfers and records of the address waiting for review, with their escrow."""
        addr = hex_arg(request.path_params["address"], ADDRESS_CHARS, "address")
        out: list[dict[str, object]] = []
        more = False
        for hold in view.holds():
            if not hold.escrowed or addr not in (hold.sender, hold.to):
                continue
            if len(out) >= HOLDS_SHOWN_MAX:
                more = True
                break
            out.append(hold_json(hold, addr))
        return JSONResponse(
            {"address": addr.hex(), "holds": out, "more": more, "height": view.height}
        )

    async def identity(request: Request) -> JSONResponse:
        addr = hex_arg(request.path_params["address"], ADDRESS_CHARS, "address")
        ident = view.identity(addr)
        ledger_funds = funds_of(view)
        guarded = ledger_funds is not None and addr in ledger_funds.guards
        if ident is None and not guarded:
            raise ApiError(
                404, "not_found", "no identity, freeze, role, lien or watch is recorded for it"
            )
        if ident is None:  # only a lien or a watch: an unidentified address under a measure
            ident = Identity(addr, None, 0, None, None, IdentityStatus.ACTIVE, (), None, None)
        funds = funds_json(ledger_funds, addr, view.height)
        return JSONResponse({**identity_json(ident, funds), "height": view.height})

    async def service(request: Request) -> JSONResponse:
        sid = request.path_params["service_id"]
        if not service_id_ok(sid):
            raise ApiError(400, "bad_service_id", "a service id is [a-z0-9_-]{1,64}")
        found = view.service(sid)
        if found is None:
            raise ApiError(404, "not_found", f"no service {sid!r} is registered")
        return JSONResponse(service_json(found))

    async def proposals(request: Request) -> JSONResponse:
        limit = _int_query(request, "limit", PROPOSALS_LIMIT_DEFAULT)
        if not 1 <= limit <= PROPOSALS_LIMIT_MAX:
            raise ApiError(400, "bad_limit", f"limit must lie in 1..{PROPOSALS_LIMIT_MAX}")
        want = request.query_params.get("status")
        if want is not None and want not in {s.value for s in ProposalStatus}:
            raise ApiError(400, "bad_status", "status is open, passed, rejected or expired")
        prefix = _prefix_arg(request) if "prefix" in request.query_params else ""
        action = request.query_params.get("action")
        if action is not None and action not in registry.actions:
            raise ApiError(400, "bad_action", "action is one of this chain's governance actions")
        out = []
        for p in reversed(view.proposals()):
            if (
                (want is None or p.status == want)
                and p.id.startswith(prefix)
                and (action is None or p.action_name == action)
            ):
                out.append(proposal_json(p))
                if len(out) >= limit:
                    break
        return JSONResponse({"proposals": out, "height": view.height})

    async def proposal(request: Request) -> JSONResponse:
        pid = request.path_params["pid"]
        hex_arg(pid, ID_HEX_CHARS, "proposal_id")
        p = view.proposal(pid)
        if p is None:
            raise ApiError(404, "not_found", "no proposal with this id (is its tx final?)")
        return JSONResponse(proposal_json(p))

    async def audit(request: Request) -> JSONResponse:
        executed = view.height
        hi = min(_int_query(request, "to", executed), executed)
        lo = _int_query(request, "from", max(1, hi - AUDIT_HEIGHTS_MAX + 1))
        if lo < 1:
            raise ApiError(400, "bad_range", "from must be at least 1")
        if hi - lo + 1 > AUDIT_HEIGHTS_MAX:
            raise ApiError(
                400, "bad_range", f"one request spans at most {AUDIT_HEIGHTS_MAX} heights"
            )
        entries, complete = _audit_entries(node, lo, hi)
        return JSONResponse(
            {
                "from": lo,
                "to": hi,
                "complete": complete,
                "entries": [audit_entry_json(e) for e in entries],
                "audit_head": view.audit_head.hex() if hi == executed else _audit_head(node, hi),
            }
        )

    async def validator_changes(request: Request) -> JSONResponse:
        # Every height below `to` must be executed, or a change there would be missing.
        last = min(node.store.decided_height(), view.height + 1)
        to = min(_int_query(request, "to", last), last)
        start = _int_query(request, "from", 0)
        if start > to:
            raise ApiError(400, "bad_from", f"from={start} is after checkpoint {to}")
        return JSONResponse({"from": start, "to": to, **validator_changes_doc(node, to, start)})

    openapi_doc = openapi_for(registry.actions)  # this chain's actions, as ?action= takes them

    async def openapi(_: Request) -> JSONResponse:
        return JSONResponse(openapi_doc)

    metrics_of_node = metrics_registry(node)  # read from the node at each scrape

    async def metrics(_: Request) -> Response:
        return Response(metrics_text(metrics_of_node), media_type=METRICS_CONTENT_TYPE)

    async def events(ws: WebSocket) -> None:
        # ?types=checkpoint,governance: only those (a page showing checkpoints need not be
        # sent, nor the node encode for it, every checkpoint's receipts).
        await ws.accept()
        try:
            wanted = _event_types(ws.query_params.get("types"))
        except ValueError:
            await ws.close(code=1008, reason="types: a comma list of " + ", ".join(EVENT_TYPES))
            return
        q = node.subscribe()
        if q is None:
            await ws.close(code=1013)
            return
        try:
            while True:
                event = await q.get()
                kind = event["type"]
                if wanted is None or kind in wanted or kind == "stopping":
                    await ws.send_json(event)
                if kind == "stopping":
                    break
        except (WebSocketDisconnect, asyncio.CancelledError, RuntimeError):
            pass
        finally:
            node.subscribers.discard(q)
            with contextlib.suppress(RuntimeError):
                await ws.close()

    async def api_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        headers = {"Retry-After": str(RETRY_AFTER_S)} if exc.status == 503 else None
        return JSONResponse(error(exc.code, exc.message), status_code=exc.status, headers=headers)

    async def pruned_error(_: Request, exc: Exception) -> Response:
        # Final, but this node keeps only ids that old (--prune): gone from here.
        return JSONResponse(error("pruned", str(exc)), status_code=410)

    async def http_error(_: Request, exc: Exception) -> Response:
        status_code = getattr(exc, "status_code", 500)
        code = {404: "not_found", 405: "method_not_allowed"}.get(status_code, "http_error")
        # A 405 names the methods the path takes (Allow, RFC 9110): Starlette's headers.
        headers = getattr(exc, "headers", None)
        return JSONResponse(
            error(code, str(getattr(exc, "detail", exc))), status_code=status_code, headers=headers
        )

    routes = [
        Route("/v1/status", status),
        Route("/v1/txs", txs, methods=["GET", "POST"]),
        Route("/v1/txs/batch", submit_batch, methods=["POST"]),
        Route("/v1/txs/{tx_id}", get_tx),
        Route("/v1/txs/{tx_id}/proof", get_proof),
        Route("/v1/checkpoints/{height}", get_checkpoint),
        Route("/v1/dag/tips", tips),
        Route("/v1/accounts/{address}", account),
        Route("/v1/accounts/{address}/holds", account_holds),
        Route("/v1/identities/{address}", identity),
        Route("/v1/services/{service_id}", service),
        *gov_read_routes(node),
        Route("/v1/governance/proposals", proposals),
        Route("/v1/governance/proposals/{pid}", proposal),
        Route("/v1/audit", audit),
        Route("/v1/validator-changes", validator_changes),
        *chain_read_routes(node),
        *state_read_routes(node, genesis_book),
        *trace_routes(node, genesis_book),
        *wr_routes(node),
        *reports_routes(node),
        *sync_routes(node),
        Route("/openapi.json", openapi),
        Route("/metrics", metrics),
        WebSocketRoute("/v1/events", events),
    ]
    explorer = ExplorerRoutes()  # pages at /, read through this same application
    app = Starlette(
        routes=[*routes, *explorer.routes],
        exception_handlers={
            ApiError: api_error,
            HTTPException: http_error,
            PrunedError: pruned_error,
        },
    )
    explorer.bind(app)
    return app


# What WS /v1/events sends (node.py _publish, the api's *_events modules).
EVENT_TYPES = ("checkpoint", "receipts", "governance", "funds", "wr", "stopping")


def _event_types(raw: str | None) -> frozenset[str] | None:
    """?types= as a set (None: all); ValueError when it names no type or an unknown one."""
    if raw is None:
        return None
    asked = frozenset(t for t in raw.split(",") if t)
    if not asked or not asked <= set(EVENT_TYPES):
        raise ValueError(f"not a list of event types: {raw!r}")
    return asked


def _prefix_arg(request: Request) -> str:
    """?prefix=: 8 to 64 lowercase hex characters of an id."""
    raw = request.query_params.get("prefix", "")
    if not ID_PREFIX_CHARS_MIN <= len(raw) <= ID_HEX_CHARS or raw.strip("0123456789abcdef"):
        raise ApiError(
            400,
            "bad_prefix",
            f"prefix must be {ID_PREFIX_CHARS_MIN} to {ID_HEX_CHARS} lowercase hex characters",
        )
    return raw


def _seconds_per_checkpoint(node: NodePort) -> float | None:
    """Mean spacing of the last PACE_CHECKPOINTS executed checkpoints (None before two).

    The mean of consecutive spacings is the span over their count: two reads.
    """
    top = node.view.height
    low = max(1, top - PACE_CHECKPOINTS + 1)
    if top - low < 1:
        return None
    last, first = node.store.get_checkpoint(top), node.store.get_checkpoint(low)
    if last is None or first is None:
        return None
    return round((last[0].time_ms - first[0].time_ms) / (top - low) / 1000, 3)


def _int_query(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise ApiError(400, "bad_" + name, f"{name} must be a non-negative integer")
    return int(raw)


def _audit_entries(node: NodePort, lo: int, hi: int) -> tuple[list[AuditEntry], bool]:
    """Entries of heights lo..hi from the store, which keeps the whole history (complete)."""
    if hi < lo:
        return [], True
    return list(node.store.audit(lo, hi)), True


def _audit_head(node: NodePort, height: int) -> str | None:
    """The audit head after height, from the store (None: not executed here yet)."""
    head = node.store.audit_head(height)
    return head.hex() if head is not None else None

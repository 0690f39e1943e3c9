"""Reads the explorer renders from (issue 15): an account's history, the governance
parameters and content rules, the services, and two checks the node runs itself.

- GET /v1/accounts/{address}/history: the account's movements newest first,
  keyset-paginated by the movement's key (mseq) through the store's backward
  read, so a page costs its own size at an account with a million movements;
  the genesis balance is the oldest movement.
- GET /v1/governance/params, /v1/governance/rules, /v1/services: the state in
  force, read through ChainView. Content rules are shown as the chain keeps
  them: a keyword rule by its hash, never a term.
- GET /v1/audit/check: the audit hash chain of a span of heights recomputed
  against the heads that checkpoints certify (state/audit.py's verify_chain,
  the rule `govchain audit verify` applies offline).
- GET /v1/txs/{tx_id}/proof/check: api/proof_doc.py.

Every argument is checked before anything is read (a 400 bad_<name>), and
every answer is built within one handler step, so it never mixes two heights.
"""

from __future__ import annotations

import functools
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from govchain.api.errors import ApiError, hex_arg
from govchain.api.proof_doc import proof_check
from govchain.api.views import service_json
from govchain.apps.catalog import registry_for
from govchain.codec import ID_HEX_CHARS
from govchain.state.audit import AuditEntry, verify_chain
from govchain.state.params import Params
from govchain.state.policy import ContentRule, KeywordRule, PayloadHashRule, SizeRule
from govchain.state.services import SERVICE_ID_PATTERN
from govchain.storage.base import MovementHistory
from govchain.trace.genesis import GenesisMovements
from govchain.trace.movements import GENESIS, UNKNOWN, Movement, balance_after

if TYPE_CHECKING:
    from govchain.api.port import NodePort

ADDRESS_CHARS = 40
HISTORY_LIMIT_DEFAULT = 25
HISTORY_LIMIT_MAX = 100
SERVICES_LIMIT_DEFAULT = 100
SERVICES_LIMIT_MAX = 1_000
# GET /v1/audit's span (app.py AUDIT_HEIGHTS_MAX; a test keeps the two equal).
AUDIT_CHECK_HEIGHTS_MAX = 10_000
QUERY_DIGITS_MAX = 18  # integers the API reads: at most 18 digits
CURSOR_DIGITS_MAX = 19  # a movement's key: a non-negative signed 64-bit integer
CURSOR_END = (1 << 63) - 1  # above every movement's key: the newest page
CURSOR_REGEX = f"^[0-9]{{1,{CURSOR_DIGITS_MAX}}}$"
SERVICE_ID_REGEX = f"^{SERVICE_ID_PATTERN.pattern}$"
RULE_KINDS = ("keyword", "payload_hash", "size", "media_type")


# -- arguments -----------------------------------------------------------------------
def _digits(request: Request, name: str, digits_max: int = QUERY_DIGITS_MAX) -> int | None:
    """?name= as a non-negative integer of at most digits_max digits, or a 400 bad_<name>."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > digits_max:
        raise ApiError(400, "bad_" + name, f"{name} must be a non-negative integer")
    return int(raw)


def _limit(request: Request, default: int, most: int) -> int:
    """?limit= in 1..most (default when absent), or a 400 bad_limit."""
    limit = _digits(request, "limit")
    if limit is None:
        return default
    if not 1 <= limit <= most:
        raise ApiError(400, "bad_limit", f"limit must lie in 1..{most}")
    return limit


# -- documents -----------------------------------------------------------------------
def movement_json(account: bytes, m: Movement) -> dict[str, Any]:
    """One movement as the account sees it: in, out, or to itself, and its balance after."""
    direction = "self" if m.src == m.dst else "out" if m.src == account else "in"
    after = balance_after(account, m)
    return {
        "height": m.height,
        "position": m.position,
        "seq": m.seq,
        "tx_id": m.tx_id.hex() if m.tx_id else None,  # a genesis balance: no transaction
        "from": m.src.hex(),
        "to": m.dst.hex(),
        "amount": m.amount,
        "kind": m.kind,
        "direction": direction,
        "balance_after": None if after == UNKNOWN else after,
    }


def rule_hash(rule: ContentRule) -> tuple[str, str | None]:
    """A content rule's kind and the hash the chain publishes for it (None: it has none).

    A keyword rule is kept on chain as the hash of its normalized term (and the
    term's length), never the term: the hash is all that is shown.
    """
    if isinstance(rule, KeywordRule):
        return "keyword", rule.hash.hex()
    if isinstance(rule, PayloadHashRule):
        return "payload_hash", rule.payload_hash.hex()
    return ("size" if isinstance(rule, SizeRule) else "media_type"), None


def audit_check(
    entries: Sequence[AuditEntry],
    certified: Mapping[int, bytes],
    lo: int,
    hi: int,
    own_head: bytes | None,
) -> dict[str, Any]:
    """The audit chain of heights lo..hi against the heads checkpoints certify.

    certified: height h -> the audit head checkpoint h + 1 carries, for h = lo - 1,
    every height with entries, and hi once checkpoint hi + 1 is decided; own_head:
    the node's head after hi when it is not certified yet (checked, reported as
    such). verify_chain decides; when it fails, each stretch between two checked
    heads is checked alone, and the first that fails names the height.
    """
    heads = dict(certified)
    if hi not in heads and own_head is not None:
        heads[hi] = own_head
    problem = verify_chain(entries, heads, from_height=lo, to_height=hi)
    first_bad: int | None = None
    if problem is not None:
        by_height: dict[int, list[AuditEntry]] = {}
        for e in entries:
            by_height.setdefault(e.height, []).append(e)
        filled = sorted(by_height)
        i = 0
        for a, b in pairwise(sorted(heads)):
            stretch: list[AuditEntry] = []  # the entries of heights a + 1..b, one pass in all
            while i < len(filled) and filled[i] <= b:
                stretch += by_height[filled[i]] if filled[i] > a else []
                i += 1
            pair = {a: heads[a], b: heads[b]}
            if verify_chain(stretch, pair, from_height=a + 1, to_height=b) is not None:
                first_bad = b  # every height with entries has a head: a + 1..b - 1 hold none
                break
    uncertified = hi not in certified
    if problem is not None:
        message = problem
    else:
        message = (
            f"{len(entries)} entries of heights {lo}..{hi} chain from the head certified"
            f" before height {lo} and match the heads {len(certified)} checkpoints certify"
        )
    if uncertified:
        message += (
            f"; the head after height {hi} is not certified yet (checkpoint {hi + 1} is not"
            " decided): checked against this node's own head only"
        )
    return {
        "from": lo,
        "to": hi,
        "valid": problem is None,
        "entries": len(entries),
        "heads_checked": len(certified),
        "first_bad_height": first_bad,
        "message": message,
    }


# -- the routes ----------------------------------------------------------------------
def state_read_routes(
    node: NodePort, genesis_book: Callable[[], GenesisMovements] | None = None
) -> list[Route]:
    """The routes over one node (registered before the tracing routes); genesis_book: the
    chain's genesis movements shared with tracing (app.py), else built at the first read."""
    view = node.view
    genesis = node.genesis
    registry = registry_for(genesis)
    # The chain's table: participation_min's default follows the genesis committee.
    specs = Params(genesis.threshold, genesis.committee_weight, registry.params.values()).specs

    genesis_movements = genesis_book or functools.cache(
        lambda: GenesisMovements(genesis.balances)  # built at the first history read
    )

    def genesis_pairs(account: bytes, before: int, limit: int) -> list[tuple[int, Movement]]:
        """The account's genesis movements below before, newest first: a height-0
        movement's key is its position, below every indexed height's."""
        book = genesis_movements()
        moved = book.all if account == GENESIS else [book.by_account.get(account)]
        return [(m.position, m) for m in reversed(moved) if m is not None and m.position < before][
            :limit
        ]

    ids_at: dict[int, list[str]] = {}  # height -> every service id, sorted

    def service_ids() -> list[str]:
        """Every service id in order, sorted once a height: services change only when a
        height executes, and sorting 100,000 of them takes 50 ms, a page a millisecond."""
        height = view.height
        if height not in ids_at:
            ids_at.clear()
            ids_at[height] = [s.service_id for s in view.services()]
        return ids_at[height]

    async def history(request: Request) -> JSONResponse:
        addr = hex_arg(request.path_params["address"], ADDRESS_CHARS, "address")
        limit = _limit(request, HISTORY_LIMIT_DEFAULT, HISTORY_LIMIT_MAX)
        before = _digits(request, "before", CURSOR_DIGITS_MAX)
        before = CURSOR_END if before is None else min(before, CURSOR_END)
        store = node.store
        if not isinstance(store, MovementHistory):
            raise ApiError(501, "not_implemented", "this node's store reads no account history")
        pairs = store.movements_before(addr, before, limit + 1)  # one more: is there a next?
        if len(pairs) <= limit and store.movements_from() <= 1:
            # Every height is indexed: the history ends with the genesis balance.
            pairs += genesis_pairs(addr, before, limit + 1 - len(pairs))
        page = pairs[:limit]
        return JSONResponse(
            {
                "address": addr.hex(),
                "movements": [movement_json(addr, m) for _, m in page],
                "next": str(page[-1][0]) if len(pairs) > limit else None,
            }
        )

    async def params(_: Request) -> JSONResponse:
        return JSONResponse(
            {
                "height": view.height,
                "params": [
                    {
                        "name": s.name,
                        "value": view.param(s.name),
                        "default": s.default,
                        "description": s.doc,
                    }
                    for s in specs.values()
                ],
            }
        )

    async def rules(_: Request) -> JSONResponse:
        out = []
        for entry in view.rules:  # in rule order
            kind, digest_hex = rule_hash(entry.rule)
            p = view.proposal(entry.governance_ref) if entry.governance_ref else None
            out.append(
                {
                    "rule_id": entry.rule_id,
                    "kind": kind,
                    "hash": digest_hex,
                    "added_by": p.id if p is not None else None,
                    "height": p.enacted_height if p is not None else None,
                }
            )
        return JSONResponse({"height": view.height, "rules": out})

    async def services(request: Request) -> JSONResponse:
        after = request.query_params.get("after")
        if after is not None and SERVICE_ID_PATTERN.fullmatch(after) is None:
            raise ApiError(400, "bad_after", "after must be a service id: [a-z0-9_-]{1,64}")
        limit = _limit(request, SERVICES_LIMIT_DEFAULT, SERVICES_LIMIT_MAX)
        ids = service_ids()
        start = 0 if after is None else bisect_right(ids, after)
        listed = [view.service(sid) for sid in ids[start : start + limit]]
        return JSONResponse(
            {
                "height": view.height,
                "services": [service_json(s) for s in listed if s is not None],
            }
        )

    async def audit_verdict(request: Request) -> JSONResponse:
        executed = view.height
        to = _digits(request, "to")
        hi = executed if to is None else min(to, executed)
        start = _digits(request, "from")
        lo = max(1, hi - AUDIT_CHECK_HEIGHTS_MAX + 1) if start is None else start
        if lo < 1:
            raise ApiError(400, "bad_range", "from must be at least 1")
        if hi - lo + 1 > AUDIT_CHECK_HEIGHTS_MAX:
            raise ApiError(
                400, "bad_range", f"one request spans at most {AUDIT_CHECK_HEIGHTS_MAX} heights"
            )
        if hi < lo:
            return JSONResponse(
                {
                    "from": lo,
                    "to": hi,
                    "valid": True,
                    "entries": 0,
                    "heads_checked": 0,
                    "first_bad_height": None,
                    "message": f"nothing to check: no height of {lo}..{hi} is executed here",
                }
            )
        entries = node.store.audit(lo, hi)
        certified: dict[int, bytes] = {}
        for h in sorted({lo - 1, hi} | {e.height for e in entries}):
            found = node.store.get_checkpoint(h + 1)  # carries the head after h
            if found is not None:
                certified[h] = found[0].audit_head
            elif h != hi:  # decided up to hi at least: a gap is the store's fault
                raise ApiError(503, "unavailable", f"checkpoint {h + 1} is not in this store")
        own = node.store.audit_head(hi) if hi not in certified else None
        return JSONResponse(audit_check(entries, certified, lo, hi, own))

    async def proof_verdict(request: Request) -> JSONResponse:
        tx_id = hex_arg(request.path_params["tx_id"], ID_HEX_CHARS, "tx_id")
        return JSONResponse(proof_check(node, tx_id))

    return [
        Route("/v1/accounts/{address}/history", history),
        Route("/v1/governance/params", params),
        Route("/v1/governance/rules", rules),
        Route("/v1/services", services),
        Route("/v1/audit/check", audit_verdict),
        Route("/v1/txs/{tx_id}/proof/check", proof_verdict),
    ]

"""Fund tracing over HTTP: a case from a query or a JSON body, and the result as JSON.

A request names seeds loosely (an amount may be left out, a height too); the
node pins every one of them (the amount a transaction moved, or the balance
now; the snapshot height) and the window's end to the snapshot, so the case
in the answer reproduces the same result_root on any node, later too:
`POST /v1/trace` with the answer's own `seeds`, `direction`, `policy` and
`limits` traces it again (`govchain trace verify`).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from govchain.api.errors import ApiError, hex_arg
from govchain.codec import digest, encode
from govchain.trace.case import (
    ACCOUNTS_MAX_DEFAULT,
    EVENTS_MAX_DEFAULT,
    HOPS_MAX_DEFAULT,
    SEEDS_MAX,
    Direction,
    Limits,
    Policy,
    Seed,
    TraceCase,
)
from govchain.trace.movements import UNKNOWN, Movement, MovementSource
from govchain.trace.result import TraceResult

# What one request may ask of a node: a trace runs on a worker thread, one at
# a time, so these bound the time it holds that thread.
HOPS_MAX = 32
ACCOUNTS_MAX = 10_000
EVENTS_MAX = 1_000_000
BODY_BYTES_MAX = 64 * 1024
NUMBER_MAX = 10**18 - 1  # amounts and heights: the API reads at most 18 digits
LABEL_CHARS_MAX = 64
ADDRESS_CHARS = 40
TX_ID_CHARS = 64
DIRECTIONS = tuple(d.value for d in Direction)
POLICIES = tuple(p.value for p in Policy)


@dataclass(frozen=True, slots=True)
class SeedAsk:
    """A seed as asked: the node fills in what is left out (None)."""

    account: bytes
    tx_id: bytes | None
    amount: int | None
    height: int | None
    label: str


@dataclass(frozen=True, slots=True)
class Ask:
    """A trace as asked."""

    seeds: tuple[SeedAsk, ...]
    direction: str
    policy: str
    hops_max: int = HOPS_MAX_DEFAULT
    accounts_max: int = ACCOUNTS_MAX_DEFAULT
    events_max: int = EVENTS_MAX_DEFAULT
    from_height: int = 0
    to_height: int | None = None


def _choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise ApiError(400, "bad_" + what, f"{what} must be one of {', '.join(allowed)}")
    return value


def _bounded(value: int | None, low: int, high: int, what: str) -> int | None:
    if value is not None and not low <= value <= high:
        raise ApiError(400, "bad_" + what, f"{what} must be an integer from {low} to {high}")
    return value


def _digits(query: Mapping[str, str], name: str) -> int | None:
    raw = query.get(name)
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise ApiError(400, "bad_" + name, f"{name} must be a non-negative integer")
    return int(raw)


def _label(label: str) -> str:
    if len(label) > LABEL_CHARS_MAX:
        raise ApiError(400, "bad_label", f"a label holds at most {LABEL_CHARS_MAX} characters")
    return label


def ask_of_query(address: str, query: Mapping[str, str]) -> Ask:
    """GET /v1/trace/{address}?tx_id=&amount=&direction=&policy=&hops=&height=&label=."""
    # Every parameter once: a repeated one is read as its last value (Starlette).
    tx = query.get("tx_id")
    amount = _bounded(_digits(query, "amount"), 1, NUMBER_MAX, "amount")
    seed = SeedAsk(
        hex_arg(address, ADDRESS_CHARS, "address"),
        None if tx is None else hex_arg(tx, TX_ID_CHARS, "tx_id"),
        amount,
        _digits(query, "height"),
        _label(query.get("label", "seed-0")),
    )
    hops = _bounded(_digits(query, "hops"), 1, HOPS_MAX, "hops")
    return Ask(
        (seed,),
        _choice(query.get("direction", Direction.FORWARD.value), DIRECTIONS, "direction"),
        _choice(query.get("policy", Policy.FIFO.value), POLICIES, "policy"),
        HOPS_MAX_DEFAULT if hops is None else hops,
    )


# Numbers are int | float: JSON Schema's "integer" takes 3.0 as well as 3 (the
# OpenAPI description says integer), so a whole float is read as its integer (_whole).
class _SeedBody(msgspec.Struct, forbid_unknown_fields=False):
    address: str
    amount: int | float | None = None
    tx_id: str | None = None
    height: int | float | None = None
    label: str = ""


class _LimitsBody(msgspec.Struct, forbid_unknown_fields=False):
    hops_max: int | float = HOPS_MAX_DEFAULT
    accounts_max: int | float = ACCOUNTS_MAX_DEFAULT
    events_max: int | float = EVENTS_MAX_DEFAULT
    from_height: int | float = 0
    to_height: int | float | None = None


class _CaseBody(msgspec.Struct, forbid_unknown_fields=False):
    """A case: `govchain trace --json`'s own answer is one (its other fields are ignored)."""

    seeds: list[_SeedBody]
    direction: str = Direction.FORWARD.value
    policy: str = Policy.FIFO.value
    limits: _LimitsBody = msgspec.field(default_factory=_LimitsBody)
    hops: int | float | None = None  # shorthand for limits.hops_max


def _whole(value: float | None, low: int, high: int, what: str) -> int | None:
    """A body's number as an integer in low..high (a float only when whole), or a 400."""
    if isinstance(value, float):
        if not value.is_integer():
            raise ApiError(400, "bad_" + what, f"{what} must be an integer from {low} to {high}")
        value = int(value)
    return _bounded(value, low, high, what)


_CASE_DECODER = msgspec.json.Decoder(_CaseBody)


def ask_of_body(body: bytes) -> Ask:
    """POST /v1/trace: {"seeds": [...], "direction", "policy", "limits"|"hops"}."""
    try:
        doc = _CASE_DECODER.decode(body)
    except (
        msgspec.DecodeError,
        msgspec.ValidationError,
        UnicodeDecodeError,
        RecursionError,
    ) as exc:
        # RecursionError: deep nesting under an unknown key, skipped recursively;
        # UnicodeDecodeError: a string that is not UTF-8 (msgspec raises it as such).
        raise ApiError(400, "bad_case", f"the body is not a trace case: {exc}") from None
    if not 1 <= len(doc.seeds) <= SEEDS_MAX:
        raise ApiError(400, "bad_case", f"a case has 1 to {SEEDS_MAX} seeds")
    seeds = []
    for i, s in enumerate(doc.seeds):
        seeds.append(
            SeedAsk(
                hex_arg(s.address, ADDRESS_CHARS, "address"),
                None if s.tx_id is None else hex_arg(s.tx_id, TX_ID_CHARS, "tx_id"),
                _whole(s.amount, 1, NUMBER_MAX, "amount"),
                _whole(s.height, -1, NUMBER_MAX, "height"),
                _label(s.label or f"seed-{i}"),
            )
        )
    lim = doc.limits
    hops = lim.hops_max if doc.hops is None else doc.hops
    return Ask(
        tuple(seeds),
        _choice(doc.direction, DIRECTIONS, "direction"),
        _choice(doc.policy, POLICIES, "policy"),
        _whole(hops, 1, HOPS_MAX, "hops") or HOPS_MAX_DEFAULT,
        _whole(lim.accounts_max, 1, ACCOUNTS_MAX, "accounts_max") or ACCOUNTS_MAX_DEFAULT,
        _whole(lim.events_max, 1, EVENTS_MAX, "events_max") or EVENTS_MAX_DEFAULT,
        _whole(lim.from_height, 0, NUMBER_MAX, "from_height") or 0,
        _whole(lim.to_height, 0, NUMBER_MAX, "to_height"),
    )


def pin(
    ask: Ask,
    top: int,
    source: MovementSource,
    tx_height: Callable[[bytes], int | None],
    balance: Callable[[bytes], int],
) -> TraceCase:
    """The case with every seed and the window pinned at the snapshot height `top`.

    tx_height: the height a transaction was final at (None: not final here).
    A seed by transaction defaults to what that transaction moved into the
    account (forward) or out of it (backward); one without, to the balance now.
    """
    hi = top if ask.to_height is None else min(ask.to_height, top)
    if ask.from_height > hi:
        raise ApiError(404, "nothing_to_trace", f"the window starts above the snapshot ({hi})")
    forward = ask.direction == Direction.FORWARD.value
    seeds = []
    for s in ask.seeds:
        if s.tx_id is None:
            amount = s.amount if s.amount is not None else balance(s.account)
            height = hi if s.height is None or s.height == -1 else s.height
            if amount <= 0:
                raise ApiError(404, "nothing_to_trace", "the account holds nothing now")
            seeds.append(Seed(s.account, amount, b"", height, s.label))
            continue
        moved = _moved_by(source, s.account, s.tx_id, tx_height(s.tx_id), forward)
        if moved == 0:
            way = "into" if forward else "out of"
            raise ApiError(
                404, "nothing_to_trace", f"the transaction moved no value {way} the account"
            )
        amount = moved if s.amount is None else min(s.amount, moved)
        seeds.append(Seed(s.account, amount, s.tx_id, -1, s.label))
    limits = Limits(ask.hops_max, ask.accounts_max, ask.events_max, ask.from_height, hi)
    return TraceCase(tuple(seeds), ask.direction, ask.policy, limits)


def _moved_by(
    source: MovementSource, account: bytes, tx_id: bytes, height: int | None, forward: bool
) -> int:
    """What the transaction (final at height) moved into (forward) or out of the account."""
    if height is None:
        raise ApiError(404, "not_found", "no final transaction has this id")
    total = 0
    for m in source.movements_of(account, height, height):
        if m.tx_id == tx_id and (m.dst if forward else m.src) == account:
            total += m.amount
    return total


MOVEMENTS_DOMAIN = b"govchain/movements/v1"


def movements_json(height: int, movements: list[Movement]) -> dict[str, Any]:
    """GET /v1/checkpoints/{height}/movements: the height's movements in final order, and
    a digest over their canonical encodings (an indexer's check that it holds them all)."""
    return {
        "height": height,
        "movements": [
            {
                "position": m.position,
                "seq": m.seq,
                "tx_id": m.tx_id.hex(),
                "kind": m.kind,
                "from": m.src.hex(),
                "to": m.dst.hex(),
                "amount": m.amount,
                "from_after": None if m.src_after == UNKNOWN else m.src_after,
                "to_after": None if m.dst_after == UNKNOWN else m.dst_after,
            }
            for m in movements
        ],
        "digest": digest(MOVEMENTS_DOMAIN, *(encode(m) for m in movements)).hex(),
    }


def case_json(case: TraceCase) -> dict[str, Any]:
    """The case as POST /v1/trace takes it back (every value pinned)."""
    lim = case.limits
    return {
        "seeds": [
            {
                "address": s.account.hex(),
                "amount": s.amount,
                "tx_id": s.tx_id.hex() if s.tx_id else None,
                "height": None if s.height == -1 else s.height,
                "label": s.label,
            }
            for s in case.seeds
        ],
        "direction": case.direction,
        "policy": case.policy,
        "limits": {
            "hops_max": lim.hops_max,
            "accounts_max": lim.accounts_max,
            "events_max": lim.events_max,
            "from_height": lim.from_height,
            "to_height": lim.to_height,
        },
        # The canonical encoding a freeze-amount proposal cites (base64).
        "case_b64": base64.b64encode(encode(case)).decode(),
    }


@dataclass(frozen=True, slots=True)
class Notes:
    """What the node knows now about traced accounts (not covered by result_root)."""

    frozen: Mapping[bytes, int]  # amounts frozen by liens
    endpoints: Mapping[bytes, str]  # the parties to ask next: "service:ID" or "identified:KIND"


def result_json(result: TraceResult, notes: Notes) -> dict[str, Any]:
    """The contract's trace document, with totals, cuts and the pinned case."""
    s = result.summary
    return {
        **case_json(result.case),
        "snapshot": {"height": result.snapshot_height, "state_hash": result.state_hash.hex()},
        "seeded": list(result.seeded),
        "nodes": [
            {
                "address": n.account.hex(),
                "hop": n.hop,
                "tainted": n.tainted,
                "freezable": n.freezable_cap,
                "frozen": notes.frozen.get(n.account, 0),
                "labels": list(n.labels),
                "followed": n.followed,
                "endpoint": notes.endpoints.get(n.account),
            }
            for n in result.nodes
        ],
        "edges": [
            {
                "tx_id": e.tx_id.hex(),
                "from": e.src.hex(),
                "to": e.dst.hex(),
                "amount": e.amount,
                "tainted": e.tainted,
                "height": e.height,
                "position": e.position,
                "seq": e.seq,
            }
            for e in result.edges
        ],
        "endpoints": [
            n.account.hex() for n in result.nodes if n.tainted > 0 and n.account in notes.endpoints
        ],
        "summary": {
            "seeded": s.seeded,
            "tainted_followed": s.tainted_followed,
            "tainted_unfollowed": s.tainted_unfollowed,
            "freezable": s.freezable,
            "accounts": s.accounts,
            "edges": s.edges,
            "events": s.events,
        },
        "truncated": [t.limit for t in result.truncations],
        "truncations": [
            {"limit": t.limit, "accounts": t.accounts, "tainted": t.tainted}
            for t in result.truncations
        ],
        "result_root": result.result_root.hex(),
    }

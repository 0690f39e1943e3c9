"""The OpenAPI description of the chain reads (api/chain_reads.py), merged into /openapi.json.

Every query and path parameter carries the bounds the route checks, and every
answer its whole schema: what the schema allows the API takes, and what the
API answers the schema describes.
"""

from __future__ import annotations

from typing import Any

from govchain.api.chain_reads import (
    CHECKPOINTS_LIMIT_DEFAULT,
    CHECKPOINTS_LIMIT_MAX,
    DAG_LIMIT_DEFAULT,
    DAG_LIMIT_MAX,
    HEIGHT_MAX,
    LATE_CERTIFICATES,
    SIGNED_LOOKBACK,
    STATS_POINTS_MAX,
    STATS_SECONDS_DEFAULT,
    STATS_SECONDS_MAX,
    STATS_SECONDS_MIN,
)
from govchain.api.chain_search import KINDS, SEARCH_CHARS_MAX, SEARCH_MATCHES_MAX

_ERROR = {"$ref": "#/components/schemas/Error"}
_HASH = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_ADDRESS = {"type": "string", "pattern": "^[0-9a-f]{40}$"}
_HEIGHT = {"type": "integer", "minimum": 0}
_COUNT = {"type": "integer", "minimum": 0}
_NULL = {"type": "null"}


def _object(props: dict[str, Any]) -> dict[str, Any]:
    """An object schema whose every listed key is always present."""
    return {"type": "object", "required": list(props), "properties": props}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, _NULL]}


def _query(name: str, schema: dict[str, Any], text: str, required: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": text,
    }


def _get(
    summary: str, answer: dict[str, Any], params: list[dict[str, Any]], errors: dict[str, str]
) -> dict[str, Any]:
    """A GET answering `answer` (200) or an error document (400 and `errors`)."""
    responses: dict[str, Any] = {
        "200": {"description": "OK", "content": {"application/json": {"schema": answer}}},
        "400": {
            "description": "a bad argument (bad_<name>)",
            "content": {"application/json": {"schema": _ERROR}},
        },
    }
    for code, text in errors.items():
        responses[code] = {"description": text, "content": {"application/json": {"schema": _ERROR}}}
    op: dict[str, Any] = {"summary": summary, "tags": ["chain"], "responses": responses}
    if params:
        op["parameters"] = params
    return {"get": op}


def _limit(hi: int, default: int) -> dict[str, Any]:
    return _query(
        "limit", {"type": "integer", "minimum": 1, "maximum": hi}, f"1..{hi}, default {default}"
    )


_CHECKPOINT_ROW = _object(
    {
        "height": {"type": "integer", "minimum": 1},
        "hash": _HASH,
        "time_ms": {"type": "integer"},
        "txs": _nullable(_COUNT),
        "tips": _COUNT,
        "signers": _COUNT,
        "state_hash": _HASH,
        "receipts_root": _HASH,
    }
)
_SIGNER = _object(
    {
        "index": _COUNT,
        "public_key": _nullable(_HASH),
        "address": _nullable(_ADDRESS),
        "name": _nullable({"type": "string"}),
        "power": _COUNT,
        "signature": {"type": "string", "pattern": "^[0-9a-f]*$"},
    }
)
_VALIDATOR = _object(
    {
        "index": _COUNT,
        "public_key": _HASH,
        "address": _ADDRESS,
        "power": {"type": "integer", "minimum": 1},
        "name": _nullable({"type": "string"}),
        "last_signed": _nullable({"type": "integer", "minimum": 1}),
        "status": {"type": "string", "enum": ["active", "late", "absent"]},
        "connected": {"type": "boolean"},
        "is_self": {"type": "boolean"},
    }
)
_VERTEX = _object(
    {
        "id": _HASH,
        "parents": {"type": "array", "items": _HASH},
        "sender": _ADDRESS,
        "kind": {"type": "string"},
        "covered_by": _nullable({"type": "integer", "minimum": 1}),
    }
)
_MATCH = _object(
    {
        "kind": {"type": "string", "enum": list(KINDS)},
        "id": {"type": "string"},
        "url": {"type": "string", "pattern": "^/"},
    }
)
_QUANTILES = _object({"p50": {"type": "number"}, "p99": {"type": "number"}})

CHAIN_READ_PATHS: dict[str, Any] = {
    "/v1/checkpoints": _get(
        "Decided checkpoints, newest first: height, hash, time_ms, txs (null: decided, not"
        " executed here yet), tips and signers (counts), state_hash, receipts_root; next is"
        " the `before` of the following page (null at height 1)",
        _object(
            {
                "checkpoints": {"type": "array", "items": _CHECKPOINT_ROW},
                "next": _nullable({"type": "integer", "minimum": 1}),
                "decided_height": _HEIGHT,
            }
        ),
        [
            _query(
                "before",
                {"type": "integer", "minimum": 1, "maximum": HEIGHT_MAX},
                "only heights strictly below this one (default: from the latest)",
            ),
            _limit(CHECKPOINTS_LIMIT_MAX, CHECKPOINTS_LIMIT_DEFAULT),
        ],
        {"503": "a checkpoint is missing from this node's store"},
    ),
    "/v1/checkpoints/{height}/signers": _get(
        "The signers of a decided checkpoint's certificate, by their index in the validator"
        " set certifying that height: key, address, devnet name (null unless this node knows"
        " it), power and signature; with the signed power, the set's total and its quorum",
        _object(
            {
                "height": {"type": "integer", "minimum": 1},
                "hash": _HASH,
                "round": _COUNT,
                "signers": {"type": "array", "items": _SIGNER},
                "signed_power": _COUNT,
                "total_power": _COUNT,
                "quorum": _COUNT,
            }
        ),
        [
            {
                "name": "height",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
            }
        ],
        {
            "404": "no decided checkpoint at that height",
            "409": "not_yet_known: the validator set of that height is not executed yet",
        },
    ),
    "/v1/stats/recent": _get(
        "The decided checkpoints whose time is within `seconds` of the latest's (at most"
        f" {STATS_POINTS_MAX}, the newest): height, time_ms, txs (null: not executed here"
        " yet); tps: the transactions of those after the first over the time from the first"
        " to the last (0 with fewer than two); seconds_per_checkpoint: their mean spacing"
        " (null with fewer than two); finality_ms: p50 and p99 of this node's recent"
        " submissions (null before any); height: the latest decided",
        _object(
            {
                "points": {
                    "type": "array",
                    "items": _object(
                        {
                            "height": {"type": "integer", "minimum": 1},
                            "time_ms": {"type": "integer"},
                            "txs": _nullable(_COUNT),
                        }
                    ),
                },
                "tps": {"type": "number", "minimum": 0},
                "seconds_per_checkpoint": _nullable({"type": "number"}),
                "finality_ms": _nullable(_QUANTILES),
                "height": _HEIGHT,
            }
        ),
        [
            _query(
                "seconds",
                {"type": "integer", "minimum": STATS_SECONDS_MIN, "maximum": STATS_SECONDS_MAX},
                f"{STATS_SECONDS_MIN}..{STATS_SECONDS_MAX}, default {STATS_SECONDS_DEFAULT}",
            )
        ],
        {},
    ),
    "/v1/validators": _get(
        "The validator set certifying `height` (the next to execute): index, public_key,"
        " address, power, name (the devnet name when this node knows it, else null),"
        f" last_signed (the latest of the last {SIGNED_LOOKBACK} decided heights whose"
        " certificate it signed, or null), status (active: in the latest certificate; late:"
        f" in one of the last {LATE_CERTIFICATES}; else absent), connected (a live peer"
        " connection of this node's; false for itself), is_self",
        _object(
            {
                "height": {"type": "integer", "minimum": 1},
                "validators": {"type": "array", "items": _VALIDATOR},
            }
        ),
        [],
        {},
    ),
    "/v1/dag/recent": _get(
        "The most recently admitted vertices this node holds in memory, newest first (those"
        " pending, then the final ones of its recent executions): id, parents (which may lie"
        " outside the list), sender address, kind, covered_by (the checkpoint that made it"
        " final, null while pending); total: vertices admitted so far; pending: those no"
        " checkpoint covers yet",
        _object(
            {
                "dag_height": _HEIGHT,
                "vertices": {"type": "array", "items": _VERTEX},
                "total": _COUNT,
                "pending": _COUNT,
            }
        ),
        [_limit(DAG_LIMIT_MAX, DAG_LIMIT_DEFAULT)],
        {},
    ),
    "/v1/search": _get(
        "What the text names, each match with its explorer page: a height, an address (40"
        " hex, with or without 0x, any case), a transaction or proposal id or a prefix of at"
        " least 8 hex digits, a warehouse receipt number, a warehouse (its address), a"
        f" service id; at most {SEARCH_MATCHES_MAX}, more: true when others matched",
        _object(
            {
                "query": {"type": "string"},
                "matches": {"type": "array", "items": _MATCH},
                "more": {"type": "boolean"},
            }
        ),
        [
            _query(
                "q",
                {"type": "string", "minLength": 1, "maxLength": SEARCH_CHARS_MAX},
                f"1 to {SEARCH_CHARS_MAX} characters; surrounding blanks are ignored",
                required=True,
            )
        ],
        {},
    ),
}

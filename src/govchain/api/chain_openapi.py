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
from govchain.api.openapi_kit import (
    ADDRESS,
    COUNT,
    HASH,
    get_op,
    limit_param,
    nullable,
    object_of,
    query_param,
)

_HEIGHT = {"type": "integer", "minimum": 0}


_CHECKPOINT_ROW = object_of(
    {
        "height": {"type": "integer", "minimum": 1},
        "hash": HASH,
        "time_ms": {"type": "integer"},
        "txs": nullable(COUNT),
        "tips": COUNT,
        "signers": COUNT,
        "state_hash": HASH,
        "receipts_root": HASH,
    }
)
_SIGNER = object_of(
    {
        "index": COUNT,
        "public_key": nullable(HASH),
        "address": nullable(ADDRESS),
        "name": nullable({"type": "string"}),
        "power": COUNT,
        "signature": {"type": "string", "pattern": "^[0-9a-f]*$"},
    }
)
_VALIDATOR = object_of(
    {
        "index": COUNT,
        "public_key": HASH,
        "address": ADDRESS,
        "power": {"type": "integer", "minimum": 1},
        "name": nullable({"type": "string"}),
        "last_signed": nullable({"type": "integer", "minimum": 1}),
        "status": {"type": "string", "enum": ["active", "late", "absent"]},
        "connected": {"type": "boolean"},
        "is_self": {"type": "boolean"},
    }
)
_VERTEX = object_of(
    {
        "id": HASH,
        "parents": {"type": "array", "items": HASH},
        "sender": ADDRESS,
        "kind": {"type": "string"},
        "covered_by": nullable({"type": "integer", "minimum": 1}),
    }
)
_MATCH = object_of(
    {
        "kind": {"type": "string", "enum": list(KINDS)},
        "id": {"type": "string"},
        "url": {"type": "string", "pattern": "^/"},
    }
)
_QUANTILES = object_of({"p50": {"type": "number"}, "p99": {"type": "number"}})

CHAIN_READ_PATHS: dict[str, Any] = {
    "/v1/checkpoints": get_op(
        "chain",
        "Decided checkpoints, newest first: height, hash, time_ms, txs (null: decided, not"
        " executed here yet), tips and signers (counts), state_hash, receipts_root; next is"
        " the `before` of the following page (null at height 1)",
        object_of(
            {
                "checkpoints": {"type": "array", "items": _CHECKPOINT_ROW},
                "next": nullable({"type": "integer", "minimum": 1}),
                "decided_height": _HEIGHT,
            }
        ),
        [
            query_param(
                "before",
                {"type": "integer", "minimum": 1, "maximum": HEIGHT_MAX},
                "only heights strictly below this one (default: from the latest)",
            ),
            limit_param(CHECKPOINTS_LIMIT_MAX, CHECKPOINTS_LIMIT_DEFAULT),
        ],
        {"503": "a checkpoint is missing from this node's store"},
    ),
    "/v1/checkpoints/{height}/signers": get_op(
        "chain",
        "The signers of a decided checkpoint's certificate, by their index in the validator"
        " set certifying that height: key, address, devnet name (null unless this node knows"
        " it), power and signature; with the signed power, the set's total and its quorum",
        object_of(
            {
                "height": {"type": "integer", "minimum": 1},
                "hash": HASH,
                "round": COUNT,
                "signers": {"type": "array", "items": _SIGNER},
                "signed_power": COUNT,
                "total_power": COUNT,
                "quorum": COUNT,
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
    "/v1/stats/recent": get_op(
        "chain",
        "(An answer may be up to 1 s old: every viewer asking the same within a second shares"
        " it.) The decided checkpoints whose time is within `seconds` of the latest's (at most"
        f" {STATS_POINTS_MAX}, the newest): height, time_ms, txs (null: not executed here"
        " yet); tps: the transactions of those after the first over the time from the first"
        " to the last (0 with fewer than two); seconds_per_checkpoint: their mean spacing"
        " (null with fewer than two); finality_ms: p50 and p99 of this node's recent"
        " submissions (null before any); height: the latest decided",
        object_of(
            {
                "points": {
                    "type": "array",
                    "items": object_of(
                        {
                            "height": {"type": "integer", "minimum": 1},
                            "time_ms": {"type": "integer"},
                            "txs": nullable(COUNT),
                        }
                    ),
                },
                "tps": {"type": "number", "minimum": 0},
                "seconds_per_checkpoint": nullable({"type": "number"}),
                "finality_ms": nullable(_QUANTILES),
                "height": _HEIGHT,
            }
        ),
        [
            query_param(
                "seconds",
                {"type": "integer", "minimum": STATS_SECONDS_MIN, "maximum": STATS_SECONDS_MAX},
                f"{STATS_SECONDS_MIN}..{STATS_SECONDS_MAX}, default {STATS_SECONDS_DEFAULT}",
            )
        ],
        {},
    ),
    "/v1/validators": get_op(
        "chain",
        "The validator set certifying `height` (the next to execute): index, public_key,"
        " address, power, name (the devnet name when this node knows it, else null),"
        f" last_signed (the latest of the last {SIGNED_LOOKBACK} decided heights whose"
        " certificate it signed, or null), status (active: in the latest certificate; late:"
        f" in one of the last {LATE_CERTIFICATES}; else absent), connected (a live peer"
        " connection of this node's; false for itself), is_self",
        object_of(
            {
                "height": {"type": "integer", "minimum": 1},
                "validators": {"type": "array", "items": _VALIDATOR},
            }
        ),
        [],
        {},
    ),
    "/v1/dag/recent": get_op(
        "chain",
        "(An answer may be up to 1 s old: every viewer asking the same within a second shares"
        " it.) The most recently admitted vertices this node holds in memory, newest first (those"
        " pending, then the final ones of its recent executions): id, parents (which may lie"
        " outside the list), sender address, kind, covered_by (the checkpoint that made it"
        " final, null while pending); total: vertices admitted so far; pending: those no"
        " checkpoint covers yet",
        object_of(
            {
                "dag_height": _HEIGHT,
                "vertices": {"type": "array", "items": _VERTEX},
                "total": COUNT,
                "pending": COUNT,
            }
        ),
        [limit_param(DAG_LIMIT_MAX, DAG_LIMIT_DEFAULT)],
        {},
    ),
    "/v1/search": get_op(
        "chain",
        "What the text names, each match with its explorer page: a height, an address (40"
        " hex, with or without 0x, any case), a transaction or proposal id or a prefix of at"
        " least 8 hex digits, a warehouse receipt number, a warehouse (its address), a"
        f" service id; at most {SEARCH_MATCHES_MAX}, more: true when others matched",
        object_of(
            {
                "query": {"type": "string"},
                "matches": {"type": "array", "items": _MATCH},
                "more": {"type": "boolean"},
            }
        ),
        [
            query_param(
                "q",
                {"type": "string", "minLength": 1, "maxLength": SEARCH_CHARS_MAX},
                f"1 to {SEARCH_CHARS_MAX} characters; surrounding blanks are ignored",
                required=True,
            )
        ],
        {},
    ),
}

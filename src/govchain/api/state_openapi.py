"""The OpenAPI description of the state reads (api/state_reads.py), merged into /openapi.json.

Every query and path parameter carries the bounds the route checks, and every
answer its whole schema: what the schema allows the API takes, and what the
API answers the schema describes.
"""

from __future__ import annotations

from typing import Any

from govchain.api.openapi_kit import (
    ADDRESS,
    COUNT,
    HASH,
    array_of,
    get_op,
    limit_param,
    nullable,
    object_of,
    path_param,
    query_param,
)
from govchain.api.state_reads import (
    AUDIT_CHECK_HEIGHTS_MAX,
    CURSOR_REGEX,
    HISTORY_LIMIT_DEFAULT,
    HISTORY_LIMIT_MAX,
    QUERY_DIGITS_MAX,
    RULE_KINDS,
    SERVICE_ID_REGEX,
    SERVICES_LIMIT_DEFAULT,
    SERVICES_LIMIT_MAX,
)
from govchain.trace.movements import MovementKind

_TEXT = {"type": "string"}
_INTEGER_MAX = 10**QUERY_DIGITS_MAX - 1


_MOVEMENT = object_of(
    {
        "height": COUNT,
        "position": COUNT,
        "seq": COUNT,
        "tx_id": nullable(HASH),
        "from": ADDRESS,
        "to": ADDRESS,
        "amount": {"type": "integer", "minimum": 1},
        "kind": {"type": "string", "enum": [k.value for k in MovementKind]},
        "direction": {"type": "string", "enum": ["in", "out", "self"]},
        "balance_after": nullable(COUNT),
    }
)
_PARAM = object_of(
    {
        "name": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
        "value": nullable({"type": "integer"}),
        "default": nullable({"type": "integer"}),
        "description": _TEXT,
    }
)
_RULE = object_of(
    {
        "rule_id": _TEXT,
        "kind": {"type": "string", "enum": list(RULE_KINDS)},
        "hash": nullable(HASH),
        "added_by": nullable(HASH),
        "height": nullable(COUNT),
    }
)
_SERVICE = object_of(
    {
        "service_id": {"type": "string", "pattern": SERVICE_ID_REGEX},
        "owner": ADDRESS,
        "writer_role": nullable(_TEXT),
        "registered_height": COUNT,
        "status": {"type": "string", "enum": ["active", "suspended"]},
        "suspended_by": nullable(_TEXT),
    }
)
_INTEGER = {"type": "integer", "minimum": 0, "maximum": _INTEGER_MAX}

STATE_READ_PATHS: dict[str, Any] = {
    "/v1/accounts/{address}/history": get_op(
        "state",
        "The account's final movements of value, newest first: transfers, escrow, release,"
        " intercept, and its genesis balance last (tx_id null); direction in, out or self;"
        " balance_after its balance right after (null when not recorded). next: the"
        " `before` of the following page (null on the last); a page costs its own size",
        object_of(
            {
                "address": ADDRESS,
                "movements": array_of(_MOVEMENT),
                "next": nullable({"type": "string", "pattern": CURSOR_REGEX}),
            }
        ),
        [
            path_param("address", ADDRESS),
            query_param(
                "before",
                {"type": "string", "pattern": CURSOR_REGEX},
                "a cursor from `next`: only movements older than it (default: the newest)",
            ),
            limit_param(HISTORY_LIMIT_MAX, HISTORY_LIMIT_DEFAULT),
        ],
        {"501": "not_implemented: this node's store reads no account history"},
    ),
    "/v1/governance/params": get_op(
        "state",
        "Every governance parameter this chain knows (built-in, then its applications'):"
        " its value in force (null: unset), default and description",
        object_of({"height": COUNT, "params": array_of(_PARAM)}),
        [],
        {},
    ),
    "/v1/governance/rules": get_op(
        "state",
        "The content rules in force, in rule order: kind, the hash the chain publishes"
        " (a keyword rule's: of its normalized term, never the term; a payload-hash rule's"
        " payload hash; null for size and media-type rules), the proposal that added it and"
        " the height it was enacted at",
        object_of({"height": COUNT, "rules": array_of(_RULE)}),
        [],
        {},
    ),
    "/v1/services": get_op(
        "state",
        "Registered business services by id (owner, writer role, status, suspending"
        " proposal); a page after `after`: a full page may have a next one",
        object_of({"height": COUNT, "services": array_of(_SERVICE)}),
        [
            query_param(
                "after",
                {"type": "string", "pattern": SERVICE_ID_REGEX},
                "only ids after this one (the last of the previous page)",
            ),
            limit_param(SERVICES_LIMIT_MAX, SERVICES_LIMIT_DEFAULT),
        ],
        {},
    ),
    "/v1/audit/check": get_op(
        "state",
        "The audit hash chain of heights from..to recomputed from this node's entries and"
        " compared with the audit head certified by checkpoint h + 1 before the range, after"
        " each height with entries and after the range (as `govchain audit verify` does"
        " offline, without the signatures); the last executed height's head, not certified"
        " yet, is checked against this node's own and said so. first_bad_height: the first"
        " height whose entries do not chain to the heads certified around them",
        object_of(
            {
                "from": COUNT,
                "to": COUNT,
                "valid": {"type": "boolean"},
                "entries": COUNT,
                "heads_checked": COUNT,
                "first_bad_height": nullable(COUNT),
                "message": _TEXT,
            }
        ),
        [
            query_param(
                "from",
                {"type": "integer", "minimum": 1, "maximum": _INTEGER_MAX},
                f"first height (default: to - {AUDIT_CHECK_HEIGHTS_MAX - 1}, at least 1);"
                f" at most {AUDIT_CHECK_HEIGHTS_MAX} heights a request",
            ),
            query_param("to", _INTEGER, "last height (default and at most: the last executed)"),
        ],
        {"503": "a checkpoint is missing from this node's store"},
    ),
    "/v1/txs/{tx_id}/proof/check": get_op(
        "state",
        "GET /v1/txs/{tx_id}/proof (from the genesis) checked by the SDK's offline verifier"
        " with this node's genesis: valid, what was checked in words (genesis binding, id,"
        " signature, receipt path, anchor hash, certificate k of n, validator-set changes),"
        " and the verifier's error",
        object_of(
            {
                "tx_id": HASH,
                "valid": {"type": "boolean"},
                "checked": array_of(_TEXT),
                "error": nullable(_TEXT),
            }
        ),
        [path_param("tx_id", HASH)],
        {
            "404": "not_found, or not_final on this node",
            "409": "not_yet_provable: the checkpoint that certifies its receipts is not decided",
            "503": "a checkpoint it needs is missing from this node's store",
        },
    ),
}

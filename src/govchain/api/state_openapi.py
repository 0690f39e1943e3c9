"""The OpenAPI description of the state reads (api/state_reads.py), merged into /openapi.json.

Every query and path parameter carries the bounds the route checks, and every
answer its whole schema: what the schema allows the API takes, and what the
API answers the schema describes.
"""

from __future__ import annotations

from typing import Any

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

_ERROR = {"$ref": "#/components/schemas/Error"}
_HASH = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_ADDRESS = {"type": "string", "pattern": "^[0-9a-f]{40}$"}
_COUNT = {"type": "integer", "minimum": 0}
_TEXT = {"type": "string"}
_NULL = {"type": "null"}
_INTEGER_MAX = 10**QUERY_DIGITS_MAX - 1


def _object(props: dict[str, Any]) -> dict[str, Any]:
    """An object schema whose every listed key is always present."""
    return {"type": "object", "required": list(props), "properties": props}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, _NULL]}


def _array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def _path(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _query(name: str, schema: dict[str, Any], text: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": text}


def _limit(most: int, default: int) -> dict[str, Any]:
    return _query(
        "limit", {"type": "integer", "minimum": 1, "maximum": most}, f"1..{most}, default {default}"
    )


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
    op: dict[str, Any] = {"summary": summary, "tags": ["state"], "responses": responses}
    if params:
        op["parameters"] = params
    return {"get": op}


_MOVEMENT = _object(
    {
        "height": _COUNT,
        "position": _COUNT,
        "seq": _COUNT,
        "tx_id": _nullable(_HASH),
        "from": _ADDRESS,
        "to": _ADDRESS,
        "amount": {"type": "integer", "minimum": 1},
        "kind": {"type": "string", "enum": [k.value for k in MovementKind]},
        "direction": {"type": "string", "enum": ["in", "out", "self"]},
        "balance_after": _nullable(_COUNT),
    }
)
_PARAM = _object(
    {
        "name": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
        "value": _nullable({"type": "integer"}),
        "default": _nullable({"type": "integer"}),
        "description": _TEXT,
    }
)
_RULE = _object(
    {
        "rule_id": _TEXT,
        "kind": {"type": "string", "enum": list(RULE_KINDS)},
        "hash": _nullable(_HASH),
        "added_by": _nullable(_HASH),
        "height": _nullable(_COUNT),
    }
)
_SERVICE = _object(
    {
        "service_id": {"type": "string", "pattern": SERVICE_ID_REGEX},
        "owner": _ADDRESS,
        "writer_role": _nullable(_TEXT),
        "registered_height": _COUNT,
        "status": {"type": "string", "enum": ["active", "suspended"]},
        "suspended_by": _nullable(_TEXT),
    }
)
_INTEGER = {"type": "integer", "minimum": 0, "maximum": _INTEGER_MAX}

STATE_READ_PATHS: dict[str, Any] = {
    "/v1/accounts/{address}/history": _get(
        "The account's final movements of value, newest first: transfers, escrow, release,"
        " intercept, and its genesis balance last (tx_id null); direction in, out or self;"
        " balance_after its balance right after (null when not recorded). next: the"
        " `before` of the following page (null on the last); a page costs its own size",
        _object(
            {
                "address": _ADDRESS,
                "movements": _array(_MOVEMENT),
                "next": _nullable({"type": "string", "pattern": CURSOR_REGEX}),
            }
        ),
        [
            _path("address", _ADDRESS),
            _query(
                "before",
                {"type": "string", "pattern": CURSOR_REGEX},
                "a cursor from `next`: only movements older than it (default: the newest)",
            ),
            _limit(HISTORY_LIMIT_MAX, HISTORY_LIMIT_DEFAULT),
        ],
        {"501": "not_implemented: this node's store reads no account history"},
    ),
    "/v1/governance/params": _get(
        "Every governance parameter this chain knows (built-in, then its applications'):"
        " its value in force (null: unset), default and description",
        _object({"height": _COUNT, "params": _array(_PARAM)}),
        [],
        {},
    ),
    "/v1/governance/rules": _get(
        "The content rules in force, in rule order: kind, the hash the chain publishes"
        " (a keyword rule's: of its normalized term, never the term; a payload-hash rule's"
        " payload hash; null for size and media-type rules), the proposal that added it and"
        " the height it was enacted at",
        _object({"height": _COUNT, "rules": _array(_RULE)}),
        [],
        {},
    ),
    "/v1/services": _get(
        "Registered business services by id (owner, writer role, status, suspending"
        " proposal); a page after `after`: a full page may have a next one",
        _object({"height": _COUNT, "services": _array(_SERVICE)}),
        [
            _query(
                "after",
                {"type": "string", "pattern": SERVICE_ID_REGEX},
                "only ids after this one (the last of the previous page)",
            ),
            _limit(SERVICES_LIMIT_MAX, SERVICES_LIMIT_DEFAULT),
        ],
        {},
    ),
    "/v1/audit/check": _get(
        "The audit hash chain of heights from..to recomputed from this node's entries and"
        " compared with the audit head certified by checkpoint h + 1 before the range, after"
        " each height with entries and after the range (as `govchain audit verify` does"
        " offline, without the signatures); the last executed height's head, not certified"
        " yet, is checked against this node's own and said so. first_bad_height: the first"
        " height whose entries do not chain to the heads certified around them",
        _object(
            {
                "from": _COUNT,
                "to": _COUNT,
                "valid": {"type": "boolean"},
                "entries": _COUNT,
                "heads_checked": _COUNT,
                "first_bad_height": _nullable(_COUNT),
                "message": _TEXT,
            }
        ),
        [
            _query(
                "from",
                {"type": "integer", "minimum": 1, "maximum": _INTEGER_MAX},
                f"first height (default: to - {AUDIT_CHECK_HEIGHTS_MAX - 1}, at least 1);"
                f" at most {AUDIT_CHECK_HEIGHTS_MAX} heights a request",
            ),
            _query("to", _INTEGER, "last height (default and at most: the last executed)"),
        ],
        {"503": "a checkpoint is missing from this node's store"},
    ),
    "/v1/txs/{tx_id}/proof/check": _get(
        "GET /v1/txs/{tx_id}/proof (from the genesis) checked by the SDK's offline verifier"
        " with this node's genesis: valid, what was checked in words (genesis binding, id,"
        " signature, receipt path, anchor hash, certificate k of n, validator-set changes),"
        " and the verifier's error",
        _object(
            {
                "tx_id": _HASH,
                "valid": {"type": "boolean"},
                "checked": _array(_TEXT),
                "error": _nullable(_TEXT),
            }
        ),
        [_path("tx_id", _HASH)],
        {
            "404": "not_found, or not_final on this node",
            "409": "not_yet_provable: the checkpoint that certifies its receipts is not decided",
            "503": "a checkpoint it needs is missing from this node's store",
        },
    ),
}

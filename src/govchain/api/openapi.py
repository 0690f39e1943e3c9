"""The OpenAPI description served at /openapi.json."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from govchain.api.chain_openapi import CHAIN_READ_PATHS
from govchain.api.reports_openapi import REPORTS_PATHS
from govchain.api.state_openapi import STATE_READ_PATHS
from govchain.api.wr_openapi import WR_PATHS
from govchain.node.sync_wire import HEIGHTS_PER_PAGE_MAX

_ERROR = {"$ref": "#/components/schemas/Error"}
_SUBMITTED = {"$ref": "#/components/schemas/Submitted"}


# What the API accepts in each path parameter, by name: precise, so that a
# request the schema allows is one the API takes (schemathesis checks both ways).
_PATH_SCHEMAS: dict[str, dict[str, Any]] = {
    "tx_id": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    "pid": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    "root": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    "address": {"type": "string", "pattern": "^[0-9a-f]{40}$"},
    "height": {"type": "string", "pattern": "^(latest|[0-9]{1,18})$"},
    "service_id": {"type": "string", "pattern": "^[a-z0-9_-]{1,64}$"},
    "sync_height": {"type": "string", "pattern": "^[0-9]{1,18}$"},
}
_PATH_NAMES = {"sync_height": "height"}
INTEGER_MAX = 10**18 - 1  # the API reads at most 18 digits
# Query parameters by type name: integers are non-negative, at most 18 digits.
_QUERY_SCHEMAS: dict[str, dict[str, Any]] = {
    "integer": {"type": "integer", "minimum": 0, "maximum": INTEGER_MAX},
    "height": {"type": "integer", "minimum": 1, "maximum": INTEGER_MAX},
    "limit": {"type": "integer", "minimum": 1, "maximum": 1_000},
    "status": {"type": "string", "enum": ["open", "passed", "rejected", "expired"]},
    "public_key": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
}


def _error_answer(description: str) -> dict[str, Any]:
    """A documented error response: the contract's error document."""
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


def _get(
    summary: str,
    params: list[str] | None = None,
    query: list[tuple[str, str, str]] | None = None,
) -> dict[str, Any]:
    """A GET operation; query: (name, a _QUERY_SCHEMAS key, description)."""
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {
            "200": {"description": "OK"},
            "400": _error_answer("bad input"),
            "404": _error_answer("not found"),
        },
    }
    if params:
        # Schemas are keyed by the parameter's name, or by a narrower variant of it
        # (sync_height: a height that cannot be "latest"), which _PATH_NAMES maps back.
        op["parameters"] = [
            {
                "name": _PATH_NAMES.get(p, p),
                "in": "path",
                "required": True,
                "schema": _PATH_SCHEMAS[p],
            }
            for p in params
        ]
    if query:
        op.setdefault("parameters", []).extend(
            {
                "name": n,
                "in": "query",
                "required": False,
                "schema": _QUERY_SCHEMAS[t],
                "description": d,
            }
            for n, t, d in query
        )
    return {"get": op}


def _msgpack(op: dict[str, Any]) -> dict[str, Any]:
    """op answering 200 with msgpack bytes."""
    binary = {"type": "string", "format": "binary"}
    op["get"]["responses"]["200"] = {
        "description": "OK",
        "content": {"application/msgpack": {"schema": binary}},
    }
    return op


def _also(op: dict[str, Any], codes: dict[str, str]) -> dict[str, Any]:
    """op with more documented error answers (status -> description)."""
    for code, text in codes.items():
        op["get"]["responses"][code] = _error_answer(text)
    return op


_CHAIN_ERRORS = {
    "409": "a checkpoint it needs is not decided or executed yet",
    "503": "a checkpoint it needs is missing from this node's store",
}
_PRUNED = {"410": "pruned: final, but this node keeps only its id (govchain node --prune)"}


def _query(
    op: dict[str, Any], name: str, schema: dict[str, Any], text: str, required: bool = False
) -> dict[str, Any]:
    """op with one more query parameter, of a precise schema."""
    param = {"name": name, "in": "query", "required": required, "schema": schema}
    op["get"].setdefault("parameters", []).append({**param, "description": text})
    return op


_PREFIX = {"type": "string", "pattern": "^[0-9a-f]{8,64}$"}
_TX_IDS = _query(
    _get(
        "Ids of stored and pending transactions that start with a prefix (sorted, at most 16;"
        " more: true when others match): {prefix, tx_ids, more}"
    ),
    "prefix",
    _PREFIX,
    "8 to 64 lowercase hex characters of a tx id",
    required=True,
)

_PROPOSALS = _query(
    _get(
        "Proposals, newest first",
        query=[
            ("limit", "limit", "at most this many (1..1000, default 100)"),
            ("status", "status", "only open, passed, rejected or expired ones"),
        ],
    ),
    "prefix",
    _PREFIX,
    "only ids that start with these 8 to 64 lowercase hex digits",
)
_PROPOSALS = _query(
    _PROPOSALS,
    "action",
    {"type": "string", "pattern": "^[a-z][a-z0-9-]{0,63}$"},
    "only proposals of this action (one of the chain's actions, e.g. freeze-identity)",
)

_HEX64 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_ADDRESS = {"type": "string", "pattern": "^[0-9a-f]{40}$"}
_HEIGHT = {"type": "integer", "minimum": 0, "maximum": INTEGER_MAX}
_TRACE_ERRORS = {
    "503": "busy: this node is tracing for others; retry after Retry-After seconds",
}
_TRACE_SUMMARY = (
    "Follow funds through final order (docs/tracing.md): nodes (tainted, freezable, frozen),"
    " edges, endpoints, truncations and a result_root any node recomputes; the answer's"
    " seeds, direction, policy and limits are pinned at the snapshot, so POST /v1/trace"
    " with them reproduces the root"
)
_TRACE_GET = _get(
    _TRACE_SUMMARY + ". One seed: the address; with tx_id, what that transaction moved into"
    " (forward) or out of (backward) it, else its balance now; amount caps the seed",
    ["address"],
)
_TRACE_QUERY: list[tuple[str, dict[str, Any], str]] = [
    ("tx_id", _HEX64, "the transaction that brought (forward) or took (backward) the funds"),
    ("amount", {"type": "integer", "minimum": 1, "maximum": INTEGER_MAX}, "at most this much"),
    ("direction", {"type": "string", "enum": ["forward", "backward"]}, "default forward"),
    (
        "policy",
        {"type": "string", "enum": ["fifo", "libr", "haircut", "poison"]},
        "default fifo; backward takes fifo and libr",
    ),
    ("hops", {"type": "integer", "minimum": 1, "maximum": 32}, "default 6"),
    ("height", _HEIGHT, "without tx_id: the balance at the start of this height"),
    ("label", {"type": "string", "maxLength": 64}, "the seed's name in the answer"),
]
for _name, _schema, _text in _TRACE_QUERY:
    _query(_TRACE_GET, _name, _schema, _text)
_also(_TRACE_GET, _TRACE_ERRORS)
_TRACE_SEED = {
    "type": "object",
    "required": ["address"],
    "properties": {
        "address": _ADDRESS,
        "amount": {"type": ["integer", "null"], "minimum": 1, "maximum": INTEGER_MAX},
        "tx_id": {"anyOf": [_HEX64, {"type": "null"}]},
        "height": {"type": ["integer", "null"], "minimum": -1, "maximum": INTEGER_MAX},
        "label": {"type": "string", "maxLength": 64},
    },
}
_TRACE_POST = {
    "post": {
        "summary": _TRACE_SUMMARY + ". Several seeds (1 to 64); at most 64 KiB",
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["seeds"],
                        "properties": {
                            "seeds": {
                                "type": "array",
                                "minItems": 1,
                                "maxItems": 64,
                                "items": _TRACE_SEED,
                            },
                            "direction": {"type": "string", "enum": ["forward", "backward"]},
                            "policy": {
                                "type": "string",
                                "enum": ["fifo", "libr", "haircut", "poison"],
                            },
                            "hops": {"type": ["integer", "null"], "minimum": 1, "maximum": 32},
                            "limits": {
                                "type": "object",
                                "properties": {
                                    "hops_max": {"type": "integer", "minimum": 1, "maximum": 32},
                                    "accounts_max": {
                                        "type": "integer",
                                        "minimum": 1,
                                        "maximum": 10_000,
                                    },
                                    "events_max": {
                                        "type": "integer",
                                        "minimum": 1,
                                        "maximum": 1_000_000,
                                    },
                                    "from_height": _HEIGHT,
                                    "to_height": {"anyOf": [_HEIGHT, {"type": "null"}]},
                                },
                            },
                        },
                    }
                }
            },
        },
        "responses": {
            "200": {"description": "the trace (as GET /v1/trace/{address})"},
            "400": _error_answer("not a trace case"),
            "404": _error_answer("a seed's transaction is not final here, or moved nothing"),
            "413": _error_answer("too large"),
            "503": {
                **_error_answer(_TRACE_ERRORS["503"]),
                "headers": {"Retry-After": {"schema": {"type": "integer"}}},
            },
        },
    }
}

_MOVEMENTS = _get(
    "Every final movement of value a height made, in final order (transfers, escrow,"
    " release, intercept; each with both ends' balances after it), and a digest over"
    " their canonical encodings: what an outside indexer pulls (docs/tracing-scale.md)"
)
_MOVEMENTS["get"]["parameters"] = [
    {
        "name": "height",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
    }
]

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "govchain node API", "version": "0.1.0"},
    "paths": {
        "/v1/status": _get(
            "Chain, node, height, validators and DAG size; seconds_per_checkpoint: the mean"
            " spacing of the last 64 executed checkpoints (null before two); filing_number:"
            " the chain's filing number under the blockchain-service rules (null until set)"
        ),
        "/v1/txs": {
            **_TX_IDS,
            "post": {
                "summary": "Submit a signed transaction",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["tx"],
                                "properties": {
                                    "tx": {"type": "string", "pattern": "^([0-9a-f]{2})*$"}
                                },
                            }
                        },
                        "application/octet-stream": {
                            "schema": {"type": "string", "format": "binary"}
                        },
                    },
                },
                "responses": {
                    "200": {
                        "description": "already final (a resubmission): status is its record's",
                        "content": {"application/json": {"schema": _SUBMITTED}},
                    },
                    "202": {
                        "description": (
                            "pending: stored by validators with more than a third of the"
                            " voting weight, so final even if this node dies now; or"
                            " pending_parent: stored here while the parents in `missing` are"
                            " fetched (not a promise yet: submit the same bytes again)"
                        ),
                        "content": {"application/json": {"schema": _SUBMITTED}},
                    },
                    "400": {
                        "description": "malformed",
                        "content": {"application/json": {"schema": _ERROR}},
                    },
                    "409": {
                        "description": "duplicate: this node holds the transaction already",
                        "content": {"application/json": {"schema": _ERROR}},
                    },
                    "413": {
                        "description": "too large",
                        "content": {"application/json": {"schema": _ERROR}},
                    },
                    "422": {
                        "description": "refused",
                        "content": {"application/json": {"schema": _ERROR}},
                    },
                    "503": {
                        "description": (
                            "not now (pool_full, orphan_pool_full, quota_exceeded,"
                            " catching_up, not_replicated): submit the same bytes again after"
                            " Retry-After seconds, here or elsewhere"
                        ),
                        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                        "content": {"application/json": {"schema": _ERROR}},
                    },
                },
            },
        },
        "/v1/txs/batch": {
            "post": {
                "summary": "Submit up to 1,000 signed transactions: a msgpack array of bytes",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/msgpack": {
                            "schema": {
                                "description": "a msgpack array of 1 to 1,000 bin values, each"
                                " the wire bytes of one signed transaction; at most 8 MiB",
                                "type": "array",
                                "minItems": 1,
                                "maxItems": 1_000,
                                "items": {"type": "string", "format": "binary"},
                            }
                        }
                    },
                },
                "responses": {
                    "202": {
                        "description": "one result per transaction, in order: as POST /v1/txs"
                        " answers it, or the error document of its refusal",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["results"],
                                    "properties": {
                                        "results": {
                                            "type": "array",
                                            "items": {"anyOf": [_SUBMITTED, _ERROR]},
                                        }
                                    },
                                }
                            }
                        },
                    },
                    "400": _error_answer("not a msgpack array of 1 to 1,000 bin values"),
                    "413": _error_answer("a body over 8 MiB"),
                    "503": {
                        **_error_answer("pool_full: retry after Retry-After seconds"),
                        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                    },
                },
            }
        },
        "/v1/txs/{tx_id}": _also(
            _get(
                "A transaction's record: status after any release or interception (the deciding"
                " proposal in receipt.governance_ref); payload null when redacted, final as"
                " rejected (its bytes are deleted then) or held by a content rule; decoded: the"
                " payload's view by kind (transfer: to, amount; record: service, media_type,"
                " size_bytes, text; gov.propose: action {name, args}, reason, evidence,"
                " emergency; gov.vote: proposal, vote; wr: op, args; wr.readings: count,"
                " devices), null exactly when payload is; 410 pruned: final, but this node"
                " pruned it (--prune)",
                ["tx_id"],
            ),
            _PRUNED,
        ),
        "/v1/txs/{tx_id}/proof": _also(
            _get(
                "Receipt inclusion under a certified checkpoint, bound to the genesis hash,"
                " with the complete chain of certified validator-set changes from the"
                " verifier's trusted point to that checkpoint (docs/trust.md); 404 not_found"
                " or not_final, 409 not_yet_provable",
                ["tx_id"],
                query=[
                    (
                        "from",
                        "integer",
                        "the checkpoint the verifier trusts (default 0: the genesis); at most the"
                        " anchor's height",
                    )
                ],
            ),
            {**_CHAIN_ERRORS, **_PRUNED},
        ),
        "/v1/checkpoints/{height}": _get(
            "A decided checkpoint ('latest' for the newest)", ["height"]
        ),
        "/v1/checkpoints/{height}/movements": _MOVEMENTS,
        "/v1/dag/tips": _get("Tips a client should name as parents"),
        "/v1/accounts/{address}": _get(
            "Final balance, frozen_amount (what a freeze in force holds of it), frozen, nonce;"
            " with ?public_key= also next_nonce and last_tx",
            ["address"],
            query=[("public_key", "public_key", "the address's public key (64 lowercase hex)")],
        ),
        "/v1/accounts/{address}/holds": _get(
            "The address's transactions held for review (out: its funds in escrow; in: waiting"
            " to arrive), at most 100, more: true when there are others",
            ["address"],
        ),
        "/v1/identities/{address}": _get(
            "An identity: kind, tier, issuer, status (active|frozen|revoked), roles, freeze;"
            " 404 when nothing is recorded for the address",
            ["address"],
        ),
        "/v1/services/{service_id}": _get(
            "A business service: owner, writer role, status, suspending proposal", ["service_id"]
        ),
        "/v1/governance/proposals": _PROPOSALS,
        "/v1/governance/committee": _get(
            "The governance committee in force: members (public key, address, weight),"
            " threshold, total weight, participation minimum, proposal lifetimes in heights, and"
            " the chain's governance actions (those that may be emergency measures apart)"
        ),
        "/v1/governance/proposals/{pid}": _get(
            "One proposal: action and arguments, votes, weights, status, heights, outcome",
            ["pid"],
        ),
        "/v1/audit": _get(
            "Audit entries of heights from..to (hex fields, each with its hash); complete is"
            " false when the node no longer holds the whole range",
            query=[
                ("from", "height", "first height (default: to - 9999, at least 1)"),
                ("to", "integer", "last height (default: the last executed)"),
            ],
        ),
        "/v1/validator-changes": _also(
            _get(
                "The complete chain of validator-set changes from a trusted checkpoint up to a"
                " height: the trusted set and the handoff of the height before it, then for each"
                " change its height, checkpoints height and height + 1 (certified), and every audit"
                " entry of that height (docs/trust.md)",
                query=[
                    (
                        "from",
                        "integer",
                        "the checkpoint a verifier trusts (default 0: the genesis)",
                    ),
                    ("to", "integer", "last checkpoint height (default: the last decided)"),
                ],
            ),
            _CHAIN_ERRORS,
        ),
        "/v1/trace/{address}": _TRACE_GET,
        "/v1/trace": _TRACE_POST,
        "/v1/trace/results/{root}": _get(
            "The pinned case (seeds, direction, policy, limits, case_b64, snapshot) of a trace"
            " this node answered lately (the last 256), by its result_root",
            ["root"],
        ),
        **CHAIN_READ_PATHS,
        **STATE_READ_PATHS,
        **WR_PATHS,
        **REPORTS_PATHS,
        "/v1/sync/offer": _get(
            "State sync: the newest snapshot at a sync height this node offers, once the"
            " checkpoint after it certifies it: {height, decided, state_hash, image_bytes};"
            " 404 no_offer when none"
        ),
        "/v1/sync/image/{height}": _msgpack(
            _get(
                "State sync: the offered snapshot's ledger image and live ids (msgpack"
                " SyncImage, node/sync_wire.py); 404 no_image for any other height",
                ["sync_height"],
            )
        ),
        "/v1/sync/heights": _msgpack(
            _query(
                _query(
                    _get(
                        "State sync: decided heights from `from` on, each with its checkpoint,"
                        " certificate, receipts and audit entries (msgpack list of SyncHeight);"
                        " 404 not_decided past the newest"
                    ),
                    "from",
                    _QUERY_SCHEMAS["height"],
                    "the first height",
                    required=True,
                ),
                "count",
                {"type": "integer", "minimum": 1, "maximum": HEIGHTS_PER_PAGE_MAX},
                "at most this many heights (default 64; a page also stops near 4 MB)",
            )
        ),
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics of this node (text exposition format 0.0.4;"
                " docs/node.md lists them)",
                "responses": {
                    "200": {
                        "description": "OK",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
    },
    "components": {
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {
                    "error": {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                    }
                },
            },
            "Submitted": {
                "type": "object",
                "required": ["tx_id", "status"],
                "properties": {
                    "tx_id": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                    "status": {
                        "type": "string",
                        "enum": ["pending", "pending_parent", "executed", "rejected", "held"],
                    },
                    "missing": {
                        "type": "array",
                        "items": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                    },
                },
            },
        }
    },
}


def openapi_for(actions: Iterable[str]) -> dict[str, Any]:
    """The description one chain serves: ?action= of the proposals takes its actions alone."""
    doc = copy.deepcopy(OPENAPI)
    for param in doc["paths"]["/v1/governance/proposals"]["get"]["parameters"]:
        if param["name"] == "action":
            param["schema"] = {"type": "string", "enum": sorted(actions)}
    return doc

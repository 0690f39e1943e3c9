"""The OpenAPI description of the report channel (api/reports_routes.py), merged into /openapi.json.

Each field, header and query parameter carries the bounds the routes check;
each answer its schema. The signed reads declare the four Govchain-* headers
(reports/signed.py) as required header parameters.
"""

from __future__ import annotations

from typing import Any

from govchain.api.reports_routes import PAGE_LIMIT_DEFAULT, REPORT_PAGE
from govchain.codec import ID_HEX_CHARS, ID_PREFIX_CHARS_MIN
from govchain.reports.report import (
    BODY_BYTES_MAX,
    CATEGORIES,
    CONTACT_CHARS_MAX,
    SUBJECT_CHARS_MAX,
    TEXT_CHARS_MAX,
)
from govchain.reports.signed import (
    HEADER_KEY,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIME,
    NONCE_BYTES,
    SKEW_S_MAX,
    TIME_DIGITS_MAX,
)
from govchain.reports.store import PAGE_LIMIT_MAX, Status

_ERROR = {"$ref": "#/components/schemas/Error"}
_ID = {"type": "string", "pattern": f"^[0-9a-f]{{{ID_HEX_CHARS}}}$"}
_HEX20 = {"type": "string", "pattern": "^[0-9a-f]{40}$"}
_NULL = {"type": "null"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, _NULL]}


def _object(props: dict[str, Any], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """An object with these properties, every one but `optional` always present."""
    return {
        "type": "object",
        "required": [k for k in props if k not in optional],
        "properties": props,
    }


def _errors(codes: dict[str, str]) -> dict[str, Any]:
    return {
        code: {"description": text, "content": {"application/json": {"schema": _ERROR}}}
        for code, text in codes.items()
    }


# What reports/report.py `checked` takes, as patterns (ECMA-262, as JSON Schema reads them):
# no C0 or C1 control character nor DEL (text: but tab and line breaks), and a text that
# holds something besides the white space str.isspace() knows.
_CONTROLS = "\\x00-\\x1f\\x7f-\\x9f"
_TEXT_CONTROLS = "\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f"
_SPACES = "\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
_LINE = f"^[^{_CONTROLS}]*$"
_TEXT = f"^[^{_TEXT_CONTROLS}]*[^{_CONTROLS} {_SPACES}][^{_TEXT_CONTROLS}]*$"
_REPORT_IN = {
    **_object(
        {
            "category": {"type": "string", "enum": list(CATEGORIES)},
            "subject": {"type": "string", "maxLength": SUBJECT_CHARS_MAX, "pattern": _LINE},
            "text": {
                "type": "string",
                "minLength": 1,
                "maxLength": TEXT_CHARS_MAX,
                "pattern": _TEXT,
            },
            "contact": {"type": "string", "maxLength": CONTACT_CHARS_MAX, "pattern": _LINE},
        },
        optional=("subject", "contact"),
    ),
    "additionalProperties": False,
}
_REPORT = _object(
    {
        "report_id": _ID,
        "status": {"type": "string", "enum": [s.value for s in Status]},
        "category": {"type": "string", "enum": list(CATEGORIES)},
        "subject": _nullable({"type": "string"}),
        "text": {"type": "string"},
        "contact": _nullable({"type": "string"}),
        "received_ms": {"type": "integer", "minimum": 0},
        "node_key": _ID,
        "handled_by": _nullable(_HEX20),
        "handled_at_height": _nullable({"type": "integer", "minimum": 1}),
        "handle_tx": _nullable(_ID),
        "note": _nullable({"type": "string"}),
    }
)
_SIGNED_HEADERS = [
    {
        "name": name,
        "in": "header",
        "required": True,
        "schema": schema,
        "description": text,
    }
    for name, schema, text in (
        (
            HEADER_KEY.title(),
            _ID,
            "the public key of a member of the committee in force",
        ),
        (
            HEADER_TIME.title(),
            {"type": "string", "pattern": f"^[0-9]{{1,{TIME_DIGITS_MAX}}}$"},
            f"unix seconds, within {SKEW_S_MAX} s of the node's clock",
        ),
        (
            HEADER_NONCE.title(),
            {"type": "string", "pattern": f"^[0-9a-f]{{{NONCE_BYTES * 2}}}$"},
            "random, new for each request",
        ),
        (
            HEADER_SIGNATURE.title(),
            {"type": "string", "pattern": "^[0-9a-f]{128}$"},
            "Ed25519 over the domain tag and [chain_id, node_key, method, path with query,"
            " time, nonce]"
            " (docs/reports.md)",
        ),
    )
]
_SIGNED_ERRORS = {
    "401": "unsigned, stale (time skew), replayed or badly signed",
    "403": "the key is not a member of the committee in force",
    "503": "this node cannot read its reports now",
}


def _query(name: str, schema: dict[str, Any], text: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": text}


_POST = {
    "summary": (
        "Send a report or complaint (public, rate-limited per address and overall; body at"
        f" most {BODY_BYTES_MAX} bytes). JSON gets 201 or a typed error; a browser's form post"
        f" (it accepts text/html) is answered 303 to {REPORT_PAGE}?sent=<report_id> or"
        f" {REPORT_PAGE}?error=<code>"
    ),
    "tags": ["reports"],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _REPORT_IN},
            "application/x-www-form-urlencoded": {"schema": _REPORT_IN},
        },
    },
    "responses": {
        "201": {
            "description": "kept by this node",
            "content": {
                "application/json": {
                    "schema": _object(
                        {"report_id": _ID, "status": {"type": "string", "enum": ["open"]}}
                    )
                }
            },
        },
        "303": {"description": "a browser's form post: to the report page"},
        **_errors(
            {
                "400": "a bad report (bad_category, bad_text, unknown_field, ...)",
                "413": f"a body over {BODY_BYTES_MAX} bytes",
                "415": "neither JSON nor a form post",
                "429": "too many reports: retry after Retry-After seconds",
                "503": "this node cannot keep reports now",
                "507": "reports_full: this node keeps as many reports as it may",
            }
        ),
    },
}
_LIST = {
    "summary": (
        "This node's reports, newest first (committee members only: a signed request)."
        " With prefix: the ids that start with it"
    ),
    "tags": ["reports"],
    "parameters": [
        *_SIGNED_HEADERS,
        _query("status", {"type": "string", "enum": [s.value for s in Status]}, "only these"),
        _query("after", _ID, "the last report of the previous page (its `next`)"),
        _query(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": PAGE_LIMIT_MAX},
            f"1..{PAGE_LIMIT_MAX}, default {PAGE_LIMIT_DEFAULT}",
        ),
        _query(
            "prefix",
            {"type": "string", "pattern": f"^[0-9a-f]{{{ID_PREFIX_CHARS_MIN},{ID_HEX_CHARS}}}$"},
            "answer the ids of reports that start with it instead",
        ),
    ],
    "responses": {
        "200": {
            "description": "a page of reports (or, with prefix, matching ids)",
            "content": {
                "application/json": {
                    "schema": {
                        "anyOf": [
                            _object(
                                {
                                    "reports": {"type": "array", "items": _REPORT},
                                    "next": _nullable(_ID),
                                    "counts": _object(
                                        {s.value: {"type": "integer", "minimum": 0} for s in Status}
                                    ),
                                    "node": {"type": "string"},
                                    "synced_height": {"type": "integer", "minimum": 0},
                                }
                            ),
                            _object(
                                {
                                    "prefix": {"type": "string"},
                                    "report_ids": {"type": "array", "items": _ID},
                                    "more": {"type": "boolean"},
                                }
                            ),
                        ]
                    }
                }
            },
        },
        **_errors({"400": "a bad argument (bad_status, bad_after, ...)", **_SIGNED_ERRORS}),
    },
}
_ONE = {
    "summary": "One report of this node (committee members only: a signed request)",
    "tags": ["reports"],
    "parameters": [
        {"name": "report_id", "in": "path", "required": True, "schema": _ID},
        *_SIGNED_HEADERS,
    ],
    "responses": {
        "200": {"description": "the report", "content": {"application/json": {"schema": _REPORT}}},
        **_errors(
            {
                "400": "a bad report id",
                "404": "not kept by this node (another node may hold it)",
                **_SIGNED_ERRORS,
            }
        ),
    },
}
REPORTS_PATHS: dict[str, Any] = {
    "/v1/reports": {"post": _POST, "get": _LIST},
    "/v1/reports/{report_id}": {"get": _ONE},
}

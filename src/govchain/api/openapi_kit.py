"""Building blocks of the OpenAPI description: schemas and operations, written once."""

from __future__ import annotations

from typing import Any

ERROR = {"$ref": "#/components/schemas/Error"}
HASH = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
ADDRESS = {"type": "string", "pattern": "^[0-9a-f]{40}$"}
COUNT = {"type": "integer", "minimum": 0}
NULL = {"type": "null"}


def object_of(props: dict[str, Any]) -> dict[str, Any]:
    """An object schema whose every listed key is always present."""
    return {"type": "object", "required": list(props), "properties": props}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """schema, or null."""
    return {"anyOf": [schema, NULL]}


def array_of(items: dict[str, Any]) -> dict[str, Any]:
    """An array of items."""
    return {"type": "array", "items": items}


def path_param(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A path parameter."""
    return {"name": name, "in": "path", "required": True, "schema": schema}


def query_param(
    name: str, schema: dict[str, Any], text: str, required: bool = False
) -> dict[str, Any]:
    """A query parameter with its description."""
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": text,
    }


def limit_param(most: int, default: int) -> dict[str, Any]:
    """?limit= in 1..most."""
    return query_param(
        "limit", {"type": "integer", "minimum": 1, "maximum": most}, f"1..{most}, default {default}"
    )


def get_op(
    tag: str,
    summary: str,
    answer: dict[str, Any],
    params: list[dict[str, Any]],
    errors: dict[str, str],
) -> dict[str, Any]:
    """A GET answering `answer` (200) or an error document (400 and `errors`)."""
    responses: dict[str, Any] = {
        "200": {"description": "OK", "content": {"application/json": {"schema": answer}}},
        "400": {
            "description": "a bad argument (bad_<name>)",
            "content": {"application/json": {"schema": ERROR}},
        },
    }
    for code, text in errors.items():
        responses[code] = {"description": text, "content": {"application/json": {"schema": ERROR}}}
    op: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": responses}
    if params:
        op["parameters"] = params
    return {"get": op}

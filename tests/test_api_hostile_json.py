"""Hostile JSON at POST /v1/txs: deep nesting and garbage get a 4xx error and store nothing.

Issue 9, item 5: a body of nested arrays made json.loads raise RecursionError,
which the API answered with a 500.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from govchain.api.app import build_app
from govchain.node.devnet import create
from govchain.node.files import Home
from govchain.node.node import Node

DEEP = 50_000  # far past the recursion limit, inside the body limit (about 134 kB)
DEEP_OBJECTS = 20_000  # six bytes a level: still inside the body limit


def _post(node: Node, body: bytes, ctype: str = "application/json") -> httpx.Response:
    """POST /v1/txs in-process; an unhandled exception comes back as the 500 a client sees."""
    app = build_app(node)

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.post("/v1/txs", content=body, headers={"content-type": ctype})

    return asyncio.run(go())


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    root: Path = tmp_path_factory.mktemp("hostile")
    (node_dir,) = create(root, 1, 0, 40_100)
    n = Node(Home(node_dir.home))  # not started: the app is driven directly
    yield n
    n.store.close()


def _stored(node: Node) -> tuple[int, int]:
    return len(node.replica.dag.vertices), node.replica.dag.orphan_count()


HOSTILE: dict[str, bytes] = {
    "nested_arrays": b"[" * DEEP + b"]" * DEEP,
    "nested_arrays_unclosed": b"[" * DEEP,
    "nested_objects": b'{"a":' * DEEP_OBJECTS + b"1" + b"}" * DEEP_OBJECTS,
    "nested_under_unknown_key": b'{"tx": "00", "x": ' + b"[" * DEEP + b"]" * DEEP + b"}",
    "nested_before_tx": b'{"x": ' + b"[" * DEEP + b"]" * DEEP + b', "tx": "00"}',
    "nested_as_tx": b'{"tx": ' + b"[" * DEEP + b"]" * DEEP + b"}",
    "empty": b"",
    "null": b"null",
    "array": b'["tx"]',
    "string": b'"tx"',
    "number_as_tx": b'{"tx": 5}',
    "nan_as_tx": b'{"tx": NaN}',
    "huge_int": b'{"tx": ' + b"9" * 50_000 + b"}",
    "lone_surrogate": b'{"tx": "\\ud800"}',
    "invalid_utf8": b'{"tx": "\xff\xfe"}',
    "non_hex": b'{"tx": "zz"}',
    "odd_hex": b'{"tx": "abc"}',
    "trailing_garbage": b'{"tx": "00"} xx',
    "bom": b'\xef\xbb\xbf{"tx": "00"}',
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_json_is_4xx_with_an_error_and_stores_nothing(node: Node, name: str) -> None:
    before = _stored(node)
    r = _post(node, HOSTILE[name])
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:200])
    assert set(r.json()["error"]) == {"code", "message"}
    assert _stored(node) == before


@pytest.mark.parametrize("name", ["nested_arrays", "nested_objects", "nested_under_unknown_key"])
def test_deep_nesting_is_a_bad_request_not_a_size_error(node: Node, name: str) -> None:
    assert len(HOSTILE[name]) < 130_000
    r = _post(node, HOSTILE[name])
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "bad_request"


def test_a_well_formed_body_still_reaches_admission(node: Node) -> None:
    """The documented shape, with an extra field, is decoded and refused by admission."""
    r = _post(node, b'{"tx": "00", "note": {"a": [1, 2]}}')
    assert r.status_code == 422  # decoded, then refused as a transaction
    assert r.json()["error"]["code"] != "bad_request"


def test_deeply_nested_msgpack_batch_is_a_bad_request(node: Node) -> None:
    """The batch endpoint's typed decoder refuses nesting at its second level."""
    app = build_app(node)
    body = b"\x91" * DEEP + b"\xc4\x00"  # [[[...[b""]...]]]

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.post("/v1/txs/batch", content=body)

    before = _stored(node)
    r = asyncio.run(go())
    assert r.status_code == 400
    assert set(r.json()["error"]) == {"code", "message"}
    assert _stored(node) == before

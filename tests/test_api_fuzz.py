"""Fuzzing the API's decoders in-process: any body or path gets a 4xx and stores nothing."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govchain.api.app import build_app
from govchain.codec import encode
from govchain.node.devnet import create
from govchain.node.files import Home
from govchain.node.node import Node

FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


class AppClient:
    """Calls the ASGI app in-process through httpx, one event loop per call."""

    def __init__(self, node: Node) -> None:
        self.app = build_app(node)

    def _call(self, method: str, url: str, **kw: object) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                return await c.request(method, url, **kw)  # type: ignore[arg-type]

        return asyncio.run(go())

    def get(self, url: str) -> httpx.Response:
        return self._call("GET", url)

    def post(self, url: str, **kw: object) -> httpx.Response:
        return self._call("POST", url, **kw)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppClient, Node]]:
    root: Path = tmp_path_factory.mktemp("fuzz")
    (node_dir,) = create(root, 1, 0, 40_000)
    node = Node(Home(node_dir.home))  # not started: the app is driven directly
    yield AppClient(node), node
    node.store.close()


def _stored(node: Node) -> tuple[int, int]:
    return len(node.replica.dag.vertices), node.replica.dag.orphan_count()


@FUZZ
@given(body=st.binary(max_size=2_000), ctype=st.sampled_from(
    ["application/json", "application/octet-stream", "text/plain", ""]
))  # fmt: skip
def test_post_txs_with_any_body_is_4xx_and_stores_nothing(
    api: tuple[AppClient, Node], body: bytes, ctype: str
) -> None:
    client, node = api
    before = _stored(node)
    r = client.post("/v1/txs", content=body, headers={"content-type": ctype})
    assert 400 <= r.status_code < 500
    assert set(r.json()["error"]) == {"code", "message"}
    assert _stored(node) == before


@FUZZ
@given(items=st.lists(st.binary(max_size=300), max_size=5) | st.binary(max_size=500))
def test_post_batch_with_any_body_never_fails_the_server(
    api: tuple[AppClient, Node], items: list[bytes] | bytes
) -> None:
    client, node = api
    before = _stored(node)
    body = encode(items) if isinstance(items, list) else items
    r = client.post("/v1/txs/batch", content=body, headers={"content-type": "application/msgpack"})
    assert r.status_code in (202, 400, 413)
    if r.status_code == 202:
        assert all("error" in x for x in r.json()["results"])
    assert _stored(node) == before


@FUZZ
@given(segment=st.text(
    st.characters(
        min_codepoint=33,
        max_codepoint=0x9FFF,
        exclude_categories=("Cc", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"),  # httpx refuses these
        exclude_characters="/?#%\\",
    ),
    min_size=1,
    max_size=80,
), which=st.sampled_from(
    ["/v1/txs/{}", "/v1/txs/{}/proof", "/v1/checkpoints/{}", "/v1/accounts/{}"]
))  # fmt: skip
def test_any_path_parameter_gets_a_clear_answer(
    api: tuple[AppClient, Node], segment: str, which: str
) -> None:
    client, _ = api
    r = client.get(which.format(segment))
    assert r.status_code in (200, 400, 404, 405, 409)
    if r.status_code >= 400:
        assert set(r.json()["error"]) == {"code", "message"}


def test_every_endpoint_runs_on_the_event_loop(api: tuple[AppClient, Node]) -> None:
    """Starlette runs a plain `def` endpoint in a thread pool, where it would read
    the store inside the loop's open commit and race the replica."""
    client, _ = api
    endpoints = [getattr(r, "endpoint", None) for r in client.app.routes]
    assert endpoints
    sync = [e.__name__ for e in endpoints if e is not None and not inspect.iscoroutinefunction(e)]
    assert sync == []

"""GET /v1/trace/{address} and POST /v1/trace over a real chain's SQLite store, in-process.

A 4-validator cluster (conftest.SimCluster) finalizes a payment and two peels;
the API of r0 (built over its store and replica) traces it. Bob held money
from genesis before the payment, so under FIFO his own older money leaves
first: what the answer shows depends on the genesis balances being in the books.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SimCluster
from govchain.api.app import build_app
from govchain.api.errors import ApiError
from govchain.api.trace_gate import TraceGate
from govchain.crypto.keys import SigningKey
from govchain.replica.view import ChainView
from govchain.state.genesis import Genesis
from govchain.storage.sqlite import SqliteStore
from govchain.trace.movements import GENESIS
from test_replica import ALICE, BOB, CONFIG, VALIDATORS, genesis, transfer

CAROL = SigningKey.from_label("trace-api-carol")
DAVE = SigningKey.from_label("trace-api-dave")


@dataclass
class _Port:
    """The members of a node the trace routes read (NodePort, in part)."""

    store: SqliteStore
    genesis: Genesis
    view: ChainView


class Client:
    """Calls the app in-process, one event loop per call."""

    def __init__(self, port: _Port) -> None:
        self.app = build_app(port)  # type: ignore[arg-type]

    def call(self, method: str, url: str, **kw: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                return await c.request(method, url, **kw)

        return asyncio.run(go())


@dataclass
class Traced:
    cluster: SimCluster
    store: SqliteStore
    client: Client
    payment: bytes  # Alice -> Bob 300


@pytest.fixture()
def traced(tmp_path: Path) -> Iterator[Traced]:
    store = SqliteStore(tmp_path / "r0.sqlite")
    c = SimCluster(genesis(4), VALIDATORS, CONFIG, stores={"r0": store})
    try:
        c.run_until(lambda: c.height("r0") >= 1)
        # Alice (1,000 at genesis) pays Bob (500 at genesis) 300; Bob sends 700
        # to Carol: his own 500 first, then 200 of the payment; Carol sends 600 on
        # to Dave: the 500 clean first, then 100 of the taint.
        ids = []
        for key, to, amount in [(ALICE, BOB, 300), (BOB, CAROL, 700), (CAROL, DAVE, 600)]:
            tx = transfer(c.replica("r0"), key, to, amount, 0)
            c.submit("r0", tx)
            c.run_until(c.final_everywhere(tx))
            ids.append(tx.id)
        port = _Port(store, c.replica("r0").ledger.genesis, ChainView(c.replica("r0")))
        yield Traced(c, store, Client(port), ids[0])
    finally:
        store.close()


def test_a_forward_trace_follows_the_payment_through_fifo_lots(traced: Traced) -> None:
    r = traced.client.call("GET", f"/v1/trace/{BOB.address.hex()}?tx_id={traced.payment.hex()}")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["seeds"][0]["address"] == BOB.address.hex()
    assert doc["seeds"][0]["amount"] == 300 and doc["seeds"][0]["tx_id"] == traced.payment.hex()
    assert doc["direction"] == "forward" and doc["policy"] == "fifo"
    held = {n["address"]: n["tainted"] for n in doc["nodes"]}
    # Bob's genesis 500 left first: 100 of the payment stays, 200 went on.
    assert held == {BOB.address.hex(): 100, CAROL.address.hex(): 100, DAVE.address.hex(): 100}
    assert [e["tainted"] for e in doc["edges"]] == [300, 200, 100]  # the seed, then two peels
    assert doc["snapshot"]["height"] == doc["limits"]["to_height"] == traced.store.top_height()
    state_hash = traced.store.state_hash_at(doc["snapshot"]["height"])
    assert state_hash is not None and doc["snapshot"]["state_hash"] == state_hash.hex()
    assert doc["truncated"] == [] and doc["endpoints"] == []
    assert len(doc["result_root"]) == 64
    for n in doc["nodes"]:
        assert n["frozen"] == 0 and n["freezable"] <= n["tainted"]


def test_the_answer_posted_back_traces_to_the_same_root_later(traced: Traced) -> None:
    first = traced.client.call("GET", f"/v1/trace/{BOB.address.hex()}?tx_id={traced.payment.hex()}")
    doc = first.json()
    c = traced.cluster
    tx = transfer(c.replica("r0"), DAVE, ALICE, 10, 0)  # history moves on
    c.submit("r0", tx)
    c.run_until(c.final_everywhere(tx))
    assert traced.store.top_height() > doc["snapshot"]["height"]
    again = traced.client.call("POST", "/v1/trace", content=first.content)
    assert again.status_code == 200, again.text
    assert again.json()["result_root"] == doc["result_root"]
    assert again.json()["snapshot"] == doc["snapshot"]


def test_a_backward_trace_of_a_balance_reaches_genesis(traced: Traced) -> None:
    r = traced.client.call("GET", f"/v1/trace/{DAVE.address.hex()}?direction=backward")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["seeds"][0]["amount"] == 600  # the balance now
    reached = {n["address"] for n in doc["nodes"]}
    assert {CAROL.address.hex(), BOB.address.hex(), ALICE.address.hex()} <= reached
    assert GENESIS.hex() in reached  # Alice's 300 came from her genesis balance


def test_a_policy_changes_the_answer_but_not_the_seed(traced: Traced) -> None:
    url = f"/v1/trace/{BOB.address.hex()}?tx_id={traced.payment.hex()}"
    fifo = traced.client.call("GET", url).json()
    haircut = traced.client.call("GET", url + "&policy=haircut").json()
    assert haircut["policy"] == "haircut" and haircut["result_root"] != fifo["result_root"]
    assert sum(n["tainted"] for n in haircut["nodes"]) == 300


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("?direction=sideways", 400, "bad_direction"),
        ("?policy=vibes", 400, "bad_policy"),
        ("?hops=0", 400, "bad_hops"),
        ("?hops=33", 400, "bad_hops"),
        ("?amount=-5", 400, "bad_amount"),
        ("?tx_id=XYZ", 400, "bad_tx_id"),
        ("?tx_id=" + "ab" * 32, 404, "not_found"),
        ("?direction=backward&policy=haircut", 400, "bad_case"),
    ],
)
def test_a_bad_query_is_answered_with_its_code(
    traced: Traced, query: str, status: int, code: str
) -> None:
    r = traced.client.call("GET", f"/v1/trace/{BOB.address.hex()}{query}")
    assert (r.status_code, r.json()["error"]["code"]) == (status, code)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[]",
        b'{"seeds": []}',
        b'{"seeds": [{"address": "zz"}]}',
        b'{"seeds": [{"address": "' + b"00" * 20 + b'", "amount": 0}]}',
        b'{"seeds": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        b'{"seeds": [' + b",".join([b'{"address": "' + b"11" * 20 + b'"}'] * 65) + b"]}",
        # Found by fuzz/targets/api_txs and trace_body: a string that is not UTF-8 was a 500.
        b'{"seeds": [{"address": "636cd13dad8e7b026bdc30874\xf61a28c891e8e9822"}]}',
    ],
)
def test_a_bad_case_is_a_400(traced: Traced, body: bytes) -> None:
    r = traced.client.call("POST", "/v1/trace", content=body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"].startswith("bad_")


def test_an_account_that_holds_nothing_has_nothing_to_trace(traced: Traced) -> None:
    empty = SigningKey.from_label("trace-api-nobody").address
    r = traced.client.call("GET", f"/v1/trace/{empty.hex()}")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "nothing_to_trace")


def test_a_snapshot_reads_one_moment_from_another_thread(traced: Traced) -> None:
    snap = traced.store.movement_snapshot()
    try:
        top = snap.top_height()
        before = list(snap.movements_of(BOB.address, 0, 10**9))
        c = traced.cluster
        tx = transfer(c.replica("r0"), BOB, DAVE, 5, 1)
        c.submit("r0", tx)
        c.run_until(c.final_everywhere(tx))
        assert traced.store.top_height() > top
        seen: list[object] = []
        worker = threading.Thread(
            target=lambda: seen.extend(snap.movements_of(BOB.address, 0, 10**9))
        )
        worker.start()
        worker.join()
        assert seen == before and snap.top_height() == top
        assert len(list(traced.store.movements_of(BOB.address, 0, 10**9))) == len(before) + 1
    finally:
        snap.close()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=50),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=30,
)
CASE_LIKE = st.fixed_dictionaries(
    {"seeds": st.lists(st.dictionaries(
        st.sampled_from(["address", "amount", "tx_id", "height", "label"]), JSON, max_size=5),
        max_size=3)},
    optional={"direction": JSON, "policy": JSON, "hops": JSON, "limits": JSON},
)  # fmt: skip
FUZZ = settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@FUZZ
@given(body=st.binary(max_size=500) | JSON.map(json.dumps).map(str.encode)
       | CASE_LIKE.map(json.dumps).map(str.encode))  # fmt: skip
def test_any_body_gets_an_answer_not_a_crash(traced: Traced, body: bytes) -> None:
    r = traced.client.call("POST", "/v1/trace", content=body)
    assert r.status_code in (200, 400, 404), (r.status_code, r.text[:300])
    if r.status_code != 200:
        assert r.json()["error"]["code"]


@FUZZ
@given(query=st.dictionaries(
    st.sampled_from(["tx_id", "amount", "direction", "policy", "hops", "height", "label"]),
    st.text(max_size=70), max_size=4))  # fmt: skip
def test_any_query_gets_an_answer_not_a_crash(traced: Traced, query: dict[str, str]) -> None:
    r = traced.client.call("GET", f"/v1/trace/{BOB.address.hex()}", params=query)
    assert r.status_code in (200, 400, 404), (r.status_code, r.text[:300])


def test_a_heights_movements_are_served_in_final_order_with_a_digest(traced: Traced) -> None:
    top = traced.store.top_height()
    seen = []
    for height in range(1, top + 1):
        r = traced.client.call("GET", f"/v1/checkpoints/{height}/movements")
        assert r.status_code == 200, r.text
        doc = r.json()
        assert doc["height"] == height and len(doc["digest"]) == 64
        seen += [(m["from"], m["to"], m["amount"], m["to_after"]) for m in doc["movements"]]
    assert [s[:3] for s in seen] == [
        (ALICE.address.hex(), BOB.address.hex(), 300),
        (BOB.address.hex(), CAROL.address.hex(), 700),
        (CAROL.address.hex(), DAVE.address.hex(), 600),
    ]
    assert [s[3] for s in seen] == [800, 700, 600]  # Bob 500 + 300; Carol; Dave
    assert traced.client.call("GET", f"/v1/checkpoints/{top + 1}/movements").status_code == 404
    assert traced.client.call("GET", "/v1/checkpoints/latest/movements").status_code == 400


def test_the_gate_runs_one_trace_lets_four_wait_and_one_per_client() -> None:
    async def scenario() -> list[str]:
        gate = TraceGate()
        release = asyncio.Event()
        out: list[str] = []

        async def hold(client: str) -> None:
            try:
                async with gate.slot(client):
                    out.append(f"ran {client}")
                    await release.wait()
            except ApiError as exc:
                out.append(f"{exc.status} {client}")

        tasks = [asyncio.create_task(hold(c)) for c in ["a", "a", "b", "c", "d", "e", "f"]]
        await asyncio.sleep(0.01)
        release.set()
        await asyncio.gather(*tasks)
        return out

    out = asyncio.run(scenario())
    assert out[:3] == ["ran a", "503 a", "503 f"]  # a again: its own; f: four wait already
    assert sorted(out[3:]) == ["ran b", "ran c", "ran d", "ran e"]

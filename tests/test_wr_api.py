"""The warehouse over HTTP: GET /v1/wr/..., the "wr" events, decoded views, the SDK.

A live node (one validator, in this process, on 127.0.0.1 ports leased for the
test) runs the copper story sent through POST /v1/txs with the SDK's Sender:
roles granted by governance, a warehouse and its devices, readings, intake,
issue, pledge, prices; then every document is read back through the SDK, and
a websocket subscriber hears the margin call and the alarm. The argument checks,
404s, bounds and the OpenAPI description are read in-process from a node that
is not started, its ledger a wrkit Story's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import msgspec
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from govchain.api.openapi import OPENAPI
from govchain.api.wr_events import wr_event
from govchain.apps.warehouse.ops import (
    Inspect,
    Intake,
    Issue,
    OpenWarehouse,
    Pledge,
    PostPrice,
    ReadingsPayload,
    RegisterDevice,
    Repay,
    Sign,
)
from govchain.apps.warehouse.views import offer_json, pledge_ltv
from govchain.consensus.validators import ValidatorSet
from govchain.crypto.keys import SigningKey
from govchain.dag.kinds import Kind
from govchain.dag.tx import Transaction
from govchain.node import node as node_module
from govchain.node.files import Home, NodeConfig
from govchain.node.node import Node
from govchain.node.port_leases import HOST, P2P_PORT_OFFSET, free_port_base, release_port_base
from govchain.sdk.client import Client, propose_payload
from govchain.sdk.errors import SdkError
from govchain.sdk.sender import Sender
from govchain.sdk.wr import readings_payload, wr_payload
from govchain.state.actions.grant_role import GrantRole
from govchain.state.genesis import Genesis, GenesisIdentity
from govchain.state.payloads import SetParam
from test_api_fuzz import AppClient
from wrkit import (
    BANK_A,
    BANK_B,
    CAST,
    COPPER,
    DEPOSITOR,
    DOC,
    FIRMWARE,
    GATEWAY,
    INSPECTOR,
    OPERATOR,
    ORACLE,
    ROLES,
    SUPERVISOR,
    TONNE,
    YUAN,
    Device,
    Story,
    copper_spec,
)

VALIDATOR = SigningKey.from_label("wr-api-validator")
REGULATOR = SigningKey.from_label("wr-api-regulator")
NUMBER = "WR-API-0001"
LOAN = 53_200_000 * YUAN
TAGS = tuple(f"API-{i:03d}" for i in range(40))
FINAL_S = 30.0
EVENT_WAIT_S = 10.0
NODE_START_S = 30.0


# -- a node of our own genesis, running on a thread of this process -------------------------
def _genesis(apps: tuple[str, ...]) -> Genesis:
    """One validator; one regulator whose proposal passes alone; the cast identified."""
    cast = {k.address for k in (*CAST, VALIDATOR, REGULATOR)}
    return Genesis(
        chain_id="wr-api-test",
        time_ms=time.time_ns() // 1_000_000,
        balances=tuple(sorted((k.address, 10**12) for k in (BANK_A, BANK_B, DEPOSITOR))),
        validators=ValidatorSet.of({VALIDATOR.public_key: 1}),
        committee=((REGULATOR.public_key, 1),),
        threshold=1,
        identities=tuple(GenesisIdentity(a, "organization", 2) for a in sorted(cast)),
        typed_audit=True,
        apps=apps,
    )


def _home(root: Path, port_base: int, apps: tuple[str, ...]) -> Home:
    home = Home(root)
    config = NodeConfig("wr-api", HOST, port_base, HOST, port_base + P2P_PORT_OFFSET, ())
    home.write(config, _genesis(apps), VALIDATOR)
    return home


class NodeThread:
    """A node running its own event loop on a thread, API served on 127.0.0.1."""

    def __init__(self, home: Home) -> None:
        self.home = home
        self.started = threading.Event()
        self.node: Node | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=self._main, name="wr-api-node", daemon=True)

    def _main(self) -> None:
        async def run() -> None:
            self.loop = asyncio.get_running_loop()
            self.node = Node(self.home)  # built here: its store and loop objects are ours
            task = asyncio.ensure_future(self.node.run(serve_api=True))
            self.started.set()
            await task

        asyncio.run(run())

    def start(self) -> None:
        self.thread.start()
        if not self.started.wait(NODE_START_S):
            raise AssertionError("the node did not start")

    def stop(self) -> None:
        if self.loop is not None and self.node is not None:
            self.loop.call_soon_threadsafe(self.node.stop)
        self.thread.join(NODE_START_S)
        assert not self.thread.is_alive(), "the node thread did not stop"


def _wait_api(url: str) -> None:
    deadline = time.monotonic() + NODE_START_S
    with Client(url, timeout_s=2.0) as c:
        while True:
            try:
                if c.status()["height"] >= 1:
                    return
            except SdkError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("the node's API did not answer")
            time.sleep(0.1)


class Events:
    """A websocket subscriber collecting events on a thread."""

    def __init__(self, url: str) -> None:
        self.seen: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.ws: ClientConnection | None = None
        self.thread = threading.Thread(target=self._read, args=(url,), daemon=True)
        self.thread.start()
        if not self.subscribed.wait(EVENT_WAIT_S):
            raise AssertionError("could not subscribe to /v1/events")

    def _read(self, url: str) -> None:
        with connect(url) as ws:
            self.ws = ws
            self.subscribed.set()
            with contextlib.suppress(ConnectionClosed):
                for message in ws:
                    with self.lock:
                        self.seen.append(json.loads(message))

    def wait(self, pred: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        deadline = time.monotonic() + EVENT_WAIT_S
        while time.monotonic() < deadline:
            with self.lock:
                found = [e for e in self.seen if pred(e)]
            if found:
                return found[0]
            time.sleep(0.05)
        raise AssertionError(f"no event: {what}")

    def close(self) -> None:
        if self.ws is not None:
            self.ws.close()
        self.thread.join(EVENT_WAIT_S)


@dataclass
class Live:
    """The running node, a client, a sender per party, and what the story left."""

    url: str
    client: Client
    events: Events
    senders: dict[bytes, Sender] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)

    def sender(self, key: SigningKey) -> Sender:
        if key.address not in self.senders:
            self.senders[key.address] = Sender(key, [self.url])
        return self.senders[key.address]

    def wr(self, key: SigningKey, op: Any) -> str:
        """Send one transition and wait until it is final and executed: its id."""
        s = self.sender(key)
        tx_id = s.wr(op)
        record = s.wait_final(tx_id, FINAL_S)
        assert record["status"] == "executed", record
        return tx_id

    def offer(self, key: SigningKey, op: Any, *signers: SigningKey) -> str:
        """Open an offer, then every other party signs it (in one height): the offer's id."""
        offer_id = self.wr(key, op)
        sent = [(self.sender(k), self.sender(k).wr(Sign(bytes.fromhex(offer_id)))) for k in signers]
        for s, tx_id in sent:
            assert s.wait_final(tx_id, FINAL_S)["status"] == "executed"
        return offer_id

    def read(self, *readings: Any) -> str:
        """The gateway relays device-signed readings."""
        s = self.sender(GATEWAY)
        tx_id = s.wr_readings(list(readings))
        assert s.wait_final(tx_id, FINAL_S)["status"] == "executed"
        return tx_id


def _story(live: Live) -> None:
    """Roles, warehouse, devices, prices, intake, issue, pledge, a price fall, a weight drop."""
    gov = live.sender(REGULATOR)
    grants = [
        gov.send(Kind.GOV_PROPOSE, propose_payload(GrantRole(k.address, role), "wr api test"))
        for k, role in ROLES.items()
    ]
    for tx_id in grants:
        assert gov.wait_final(tx_id, FINAL_S)["status"] == "executed"
    scale, cell, gate = (Device("scale-1", "weighbridge"), Device("cell-1", "load_cell"),
                         Device("gate-1", "gate"))  # fmt: skip
    live.ids["scale"], live.ids["cell"] = scale.name, cell.name
    live.offer(OPERATOR, OpenWarehouse("Qingdao API", SUPERVISOR.address, (("A1", 2_000 * TONNE),
               ("B2", 10 * TONNE))), SUPERVISOR)  # fmt: skip
    for d in (scale, cell, gate):
        op = RegisterDevice(d.name, d.kind, "A1", d.key.public_key, 10**6, FIRMWARE)
        live.offer(OPERATOR, op, SUPERVISOR)
    for source in ("settlement", "spot"):
        live.wr(ORACLE, PostPrice(COPPER, source, 8_000_000, 100))
    spec = copper_spec(1_000)
    live.read(scale.reading(spec.gross_g))
    live.ids["intake"] = live.wr(
        OPERATOR, Intake("LOT-API-1", "A1", TAGS, spec, b"\x05" * 32, b"", scale.name)
    )
    live.ids["cell_reading"] = live.read(cell.reading(spec.net_g))
    issue = Issue(NUMBER, DEPOSITOR.address, (("LOT-API-1", spec.net_g),), DOC)
    live.ids["issue"] = live.offer(OPERATOR, issue, SUPERVISOR, DEPOSITOR)
    pledge = Pledge((NUMBER,), BANK_A.address, LOAN, 500)
    live.ids["pledge"] = live.offer(DEPOSITOR, pledge, BANK_A)
    # A device the supervisor has not signed for yet: its offer stays open.
    live.ids["open_offer"] = live.wr(
        OPERATOR, RegisterDevice("rfid-1", "rfid", "A1", Device("rfid-1", "rfid").key.public_key,
                                 10**6, FIRMWARE)
    )  # fmt: skip
    # The price falls 12.5%: a margin call; then the load cell shows 50 t missing.
    for source in ("settlement", "spot"):
        live.wr(ORACLE, PostPrice(COPPER, source, 7_000_000, 101))
    live.read(cell.reading(spec.net_g - 50 * TONNE))


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("wr-api-live")
    base = free_port_base(1)
    runner = NodeThread(_home(root / "node", base, ("warehouse",)))
    with pytest.MonkeyPatch.context() as mp:
        # The node would freeze the collector for this whole test process.
        mp.setattr(node_module, "_tune_gc", lambda: None)
        runner.start()
        url = f"http://{HOST}:{base}"
        events: Events | None = None
        state: Live | None = None
        try:
            _wait_api(url)
            events = Events(f"ws://{HOST}:{base}/v1/events")
            state = Live(url, Client(url), events)
            _story(state)
            yield state
        finally:
            if state is not None:
                for s in state.senders.values():
                    s.close()
                state.client.close()
            if events is not None:
                events.close()
            runner.stop()
            release_port_base(base)


# -- the documents after the story ------------------------------------------------------
def test_the_warehouse_and_its_bins_show_the_goods_and_the_alarm(live: Live) -> None:
    c = live.client
    (w,) = c.wr_warehouses()["warehouses"]
    assert w["address"] == OPERATOR.address.hex() and w["name"] == "Qingdao API"
    assert w["supervisor"] == SUPERVISOR.address.hex() and w["bins"] == ["A1", "B2"]
    doc = c.wr_bins(OPERATOR.address)
    assert doc["warehouse"] == OPERATOR.address.hex() and doc["height"] >= 1
    a1, b2 = doc["bins"]
    assert (a1["bin"], a1["book_g"], a1["receipted_g"]) == ("A1", 1_000 * TONNE, 1_000 * TONNE)
    assert a1["sensed_g"] == 950 * TONNE and a1["capacity_g"] == 2_000 * TONNE
    assert a1["green"] is False and "alarms" in a1["problems"]
    assert [a["kind"] for a in a1["alarms"]] == ["weight_drift"]
    assert a1["alarms"][0]["device"] == "cell-1"
    assert a1["devices"] == ["scale-1", "cell-1", "gate-1"] and a1["lots"] == ["LOT-API-1"]
    assert b2["sensed_g"] is None and b2["problems"] == ["no_load_cell"]
    (alarm,) = c.wr_alarms()["alarms"]
    assert (alarm["kind"], alarm["warehouse"], alarm["bin"]) == (
        "weight_drift", OPERATOR.address.hex(), "A1"
    )  # fmt: skip


def test_the_receipt_shows_holder_bank_ltv_and_every_version(live: Live) -> None:
    c = live.client
    r = c.wr_receipt(NUMBER)
    assert (r["status"], r["holder"], r["controller"]) == (
        "valid", DEPOSITOR.address.hex(), BANK_A.address.hex()
    )  # fmt: skip
    assert r["lots"] == [{"lot": "LOT-API-1", "grams": 1_000 * TONNE}]
    assert r["encumbrances"] == [{"pledge": live.ids["pledge"], "bank": BANK_A.address.hex(),
                                  "outstanding_fen": LOAN, "status": "active"}]  # fmt: skip
    assert r["ltv"] == 0.8 and r["band"] == "call"  # ¥70,000/t: the issue's example
    assert r["frozen_by"] is None and r["parent"] is None and r["children"] == []
    issue, pledge = r["history"]
    assert issue["transition"] == "issue" and issue["tx"] != live.ids["issue"]  # the last signature
    assert issue["signers"] == [a.address.hex() for a in (OPERATOR, SUPERVISOR, DEPOSITOR)]
    assert issue["readings"] == [{"device": "cell-1", "counter": 1}]
    assert pledge["transition"] == "pledge" and pledge["note"] == live.ids["pledge"]
    assert pledge["prices"] == [{"commodity": COPPER, "source": s, "day": 100}
                                for s in ("settlement", "spot")]  # fmt: skip
    listed = c.wr_receipts(holder=DEPOSITOR.address, status="valid")["receipts"]
    assert [x["number"] for x in listed] == [NUMBER]
    assert c.wr_receipts(holder=BANK_A.address)["receipts"] == []


def test_the_lot_and_the_devices(live: Live) -> None:
    c = live.client
    lot = c.wr_lot("LOT-API-1")
    assert lot["quantity_g"] == lot["receipted_g"] == 1_000 * TONNE and lot["live"] is True
    assert lot["spec"]["net_g"] == lot["spec"]["gross_g"] - lot["spec"]["tare_g"]
    assert lot["tags"] == sorted(TAGS) and lot["intake_tx"] == live.ids["intake"]
    assert lot["evidence"] == {"device": "scale-1", "counter": 1}
    cell = c.wr_device("cell-1")
    assert (cell["kind"], cell["counter"], cell["readings"]) == ("load_cell", 2, 2)
    assert cell["latest"]["grams"] == 950 * TONNE and cell["offline"] is False
    assert cell["public_key"] == Device("cell-1", "load_cell").key.public_key.hex()
    gate = c.wr_device("gate-1")
    assert gate["latest"] is None and gate["offline"] is True  # never read


def test_the_pledge_its_call_valuations_and_prices(live: Live) -> None:
    c = live.client
    p = c.wr_pledge(live.ids["pledge"])
    assert (p["bank"], p["borrower"], p["loan_fen"]) == (
        BANK_A.address.hex(), DEPOSITOR.address.hex(), LOAN
    )  # fmt: skip
    assert (p["ltv"], p["band"], p["status"]) == (0.8, "call", "active")
    (call,) = p["calls"]
    assert call["open"] is True and call["repay_fen"] == 6_650_000 * YUAN
    assert call["more_g"] == 142_857_143
    assert [m["ltv_bp"] for m in p["marks"]] == [8_000]
    (v,) = c.wr_valuations(commodity=COPPER)["valuations"]
    assert (v["pledge"], v["day"], v["ltv_bp"], v["band"]) == (live.ids["pledge"], 101, 8_000,
                                                               "call")  # fmt: skip
    assert c.wr_valuations(commodity=COPPER, day=100)["valuations"] == []
    mine = c.wr_pledges(bank=BANK_A.address)["pledges"]
    assert [x["id"] for x in mine] == [live.ids["pledge"]]
    prices = c.wr_prices()["prices"]
    assert [(x["source"], x["fen_per_tonne"], x["day"]) for x in prices] == [
        ("settlement", 7_000_000, 101), ("spot", 7_000_000, 101)
    ]  # fmt: skip


def test_an_open_offer_shows_who_must_still_sign(live: Live) -> None:
    c = live.client
    o = c.wr_offer(live.ids["open_offer"])
    assert (o["transition"], o["status"], o["opener"]) == (
        "register-device", "open", OPERATOR.address.hex()
    )  # fmt: skip
    assert o["waiting_for"] == [SUPERVISOR.address.hex()]
    assert o["op"]["args"]["device"] == "rfid-1"
    mine = c.wr_offers(party=SUPERVISOR.address)["offers"]
    assert [x["id"] for x in mine] == [live.ids["open_offer"]]
    with pytest.raises(SdkError) as err:
        c.wr_offer(live.ids["pledge"])  # executed: it left the book
    assert err.value.status == 404


def test_transactions_show_their_decoded_transition(live: Live) -> None:
    c = live.client
    doc = c.tx(live.ids["pledge"])
    assert doc["decoded"] == {
        "op": "pledge",
        "args": {"numbers": [NUMBER], "bank": BANK_A.address.hex(), "loan_fen": LOAN,
                 "haircut_bp": 500},
    }  # fmt: skip
    assert c.tx(live.ids["cell_reading"])["decoded"] == {"count": 1, "devices": ["cell-1"]}


def test_subscribers_hear_the_call_and_the_alarm(live: Live) -> None:
    pledge = live.ids["pledge"]
    called = live.events.wait(
        lambda e: e["type"] == "wr" and any(x["pledge"] == pledge for x in e["calls_opened"]),
        "the margin call",
    )
    assert called["calls_opened"][0]["repay_fen"] == 6_650_000 * YUAN
    alarm = live.events.wait(
        lambda e: e["type"] == "wr" and e["alarms_raised"], "the weight-drift alarm"
    )
    assert alarm["alarms_raised"][0]["kind"] == "weight_drift"
    assert alarm["height"] > called["height"]
    pledged = live.events.wait(
        lambda e: e["type"] == "wr" and {"number": NUMBER, "transition": "pledge", "version": 2,
                                         "status": "valid"} in e["receipts"],
        "the pledge's version",
    )  # fmt: skip
    assert pledged["more"] is False


# -- in-process: arguments, 404s, bounds, the description --------------------------------------
@pytest.fixture(scope="module")
def story_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppClient, Story, str]]:
    root = tmp_path_factory.mktemp("wr-api-story")
    node = Node(_home(root, 42_600, ("warehouse",)))  # not started: the app is driven directly
    s = Story()
    s.set_up()
    assert s.intake() == ["executed"]
    assert s.issue() == ["executed"] * 3
    assert s.intake("LOT-2", 10, tuple(f"T-{i}" for i in range(4)), b"\x02" * 32) == ["executed"]
    assert s.issue("WR-2", (("LOT-2", 10 * TONNE),)) == ["executed"] * 3
    first = s.wr(DEPOSITOR, Pledge(("WR-2026-0001",), BANK_A.address, LOAN, 500))
    assert s.run(first, s.wr(BANK_A, Sign(first.id))) == ["executed", "executed"]
    node.replica.ledger = s.ledger
    yield AppClient(node), s, first.id.hex()
    node.store.close()


def test_lists_are_bounded_newest_first_and_say_when_there_is_more(
    story_api: tuple[AppClient, Story, str],
) -> None:
    client, _, _ = story_api
    doc = client.get("/v1/wr/receipts?limit=1").json()
    assert [r["number"] for r in doc["receipts"]] == ["WR-2"] and doc["more"] is True
    doc = client.get("/v1/wr/receipts?limit=1000").json()
    assert [r["number"] for r in doc["receipts"]] == ["WR-2", "WR-2026-0001"]
    assert doc["more"] is False
    assert client.get("/v1/wr/receipts?status=cancelled").json()["receipts"] == []


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("/v1/wr/receipts?limit=0", "bad_limit"),
        ("/v1/wr/receipts?limit=1001", "bad_limit"),
        ("/v1/wr/receipts?limit=-1", "bad_limit"),
        ("/v1/wr/receipts?holder=XYZ", "bad_holder"),
        ("/v1/wr/receipts?holder=" + "AB" * 20, "bad_holder"),
        ("/v1/wr/receipts?status=lost", "bad_status"),
        ("/v1/wr/receipts/" + quote("no spaces", safe=""), "bad_number"),
        ("/v1/wr/receipts/" + quote("-lead", safe=""), "bad_number"),
        ("/v1/wr/receipts/" + "x" * 65, "bad_number"),
        ("/v1/wr/lots/" + quote("a;b", safe=""), "bad_lot"),
        ("/v1/wr/devices/" + quote("é", safe=""), "bad_device"),
        ("/v1/wr/warehouses/" + "0" * 39 + "/bins", "bad_address"),
        ("/v1/wr/warehouses/" + "0 " * 20 + "/bins", "bad_address"),
        ("/v1/wr/pledges/" + "0" * 63, "bad_pledge"),
        ("/v1/wr/pledges?status=gone", "bad_status"),
        ("/v1/wr/offers/" + "G" * 64, "bad_offer"),
        ("/v1/wr/valuations?commodity=" + quote(" copper"), "bad_commodity"),
        ("/v1/wr/valuations?commodity=" + "c" * 65, "bad_commodity"),
        ("/v1/wr/valuations?day=x", "bad_day"),
        ("/v1/wr/valuations?day=1000001", "bad_day"),
        ("/v1/wr/alarms?warehouse=0x00", "bad_warehouse"),
    ],
)
def test_a_bad_argument_is_a_typed_400(
    story_api: tuple[AppClient, Story, str], url: str, code: str
) -> None:
    client, _, _ = story_api
    r = client.get(url)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == code


@pytest.mark.parametrize(
    "url",
    [
        "/v1/wr/receipts/WR-9999",
        "/v1/wr/lots/LOT-9",
        "/v1/wr/devices/nope",
        "/v1/wr/warehouses/" + "00" * 20,
        "/v1/wr/warehouses/" + "00" * 20 + "/bins",
        "/v1/wr/pledges/" + "00" * 32,
        "/v1/wr/offers/" + "00" * 32,
    ],
)
def test_what_is_unknown_is_a_404(story_api: tuple[AppClient, Story, str], url: str) -> None:
    client, _, _ = story_api
    r = client.get(url)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_a_chain_without_the_warehouse_answers_404_on_every_route(tmp_path: Path) -> None:
    node = Node(_home(tmp_path, 42_700, ()))
    try:
        client = AppClient(node)
        for path in _wr_paths():
            r = client.get(_example(path))
            assert r.status_code == 404, path
            assert r.json()["error"] == {
                "code": "no_warehouse",
                "message": "no warehouse application on this chain",
            }
    finally:
        node.store.close()


def _wr_paths() -> list[str]:
    return [p for p in OPENAPI["paths"] if p.startswith("/v1/wr")]


_EXAMPLES = {"address": "00" * 20, "number": "WR-2", "lot": "LOT-1", "device": "cell-a1",
             "pledge": "00" * 32, "offer": "00" * 32}  # fmt: skip


def _example(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: _EXAMPLES[m.group(1)], path)


def test_the_openapi_describes_every_wr_route_as_the_api_checks_it(
    story_api: tuple[AppClient, Story, str],
) -> None:
    client, _, _ = story_api
    routes = {r.path for r in client.app.routes if getattr(r, "path", "").startswith("/v1/wr")}  # type: ignore[attr-defined]
    paths = client.get("/openapi.json").json()["paths"]
    assert routes == {p for p in paths if p.startswith("/v1/wr")} and len(routes) >= 14
    for path in routes:
        op = paths[path]["get"]
        assert {"200", "400", "404"} <= set(op["responses"]), path
        for param in op.get("parameters", []):
            schema = param["schema"]
            if param["in"] == "path":
                # The example the test uses fits the pattern, and the API takes it.
                assert re.fullmatch(schema["pattern"], _EXAMPLES[param["name"]]), path
        assert client.get(_example(path)).status_code in (200, 404), path
    names = [p["name"] for p in paths["/v1/wr/receipts"]["get"]["parameters"]]
    assert {"holder", "status", "limit"} <= set(names)


def test_documents_follow_the_parameters_governance_sets(tmp_path: Path) -> None:
    node = Node(_home(tmp_path, 42_800, ("warehouse",)))
    try:
        s = Story()
        s.set_up()
        s.read(s.cell.reading(0))
        node.replica.ledger = s.ledger
        client = AppClient(node)
        assert client.get("/v1/wr/devices/cell-a1").json()["offline"] is False
        s.chain.decide(SetParam("wr_reading_fresh_heights", 1))
        assert client.get("/v1/wr/devices/cell-a1").json()["offline"] is False  # 1 height ago
        s.chain.idle(1)
        assert client.get("/v1/wr/devices/cell-a1").json()["offline"] is True
    finally:
        node.store.close()


def test_an_offer_past_its_last_height_shows_lapsed() -> None:
    s = Story()
    s.set_up()
    key = Device("rfid-9", "rfid").key.public_key
    tx = s.wr(OPERATOR, RegisterDevice("rfid-9", "rfid", "A1", key, 10**6, FIRMWARE))
    assert s.run(tx) == ["executed"]
    o = s.book.offers[tx.id]
    doc = offer_json(o, s.ledger.height)
    assert (doc["status"], doc["waiting_for"]) == ("open", [SUPERVISOR.address.hex()])
    assert offer_json(o, o.expires + 1)["status"] == "lapsed"


# -- the views and the events, on a ledger ------------------------------------------------------
def test_the_views_ltv_is_what_the_days_mark_found() -> None:
    s = Story()
    s.set_up()
    s.intake()
    s.issue()
    first = s.wr(DEPOSITOR, Pledge(("WR-2026-0001",), BANK_A.address, LOAN, 500))
    s.run(first, s.wr(BANK_A, Sign(first.id)))
    pid = first.id.hex()
    # Divergent prices (an alarm, an extra haircut), then a fall, then a stale day.
    for settlement, spot, day in [(8_000_000, 7_500_000, 101), (7_000_000, 7_000_000, 102)]:
        s.run(s.wr(ORACLE, PostPrice(COPPER, "settlement", settlement, day)),
              s.wr(ORACLE, PostPrice(COPPER, "spot", spot, day)))  # fmt: skip
        mark = s.book.marks[pid][-1]
        assert mark.day == day
        params = s.ledger.stores.params
        assert pledge_ltv(s.book, params, s.book.pledges[pid]) == (mark.ltv_bp, mark.band)
    s.run(s.wr(DEPOSITOR, Repay(pid, LOAN)))
    assert pledge_ltv(s.book, s.ledger.stores.params, s.book.pledges[pid])[0] == 0


def _event(s: Story, *txs: Transaction) -> dict[str, Any] | None:
    ex = s.chain.run(*txs)
    return wr_event(s.book, ex.height, list(txs), ex.receipts, ex.audit)


def test_events_report_what_each_height_did() -> None:
    s = Story()
    s.set_up()
    s.intake()
    s.issue()
    first = s.wr(DEPOSITOR, Pledge(("WR-2026-0001",), BANK_A.address, LOAN, 500))
    e = _event(s, first, s.wr(BANK_A, Sign(first.id)))
    assert e is not None and e["receipts"] == [
        {"number": "WR-2026-0001", "transition": "pledge", "version": 2, "status": "valid"}
    ]
    pid = first.id.hex()
    e = _event(s, s.wr(ORACLE, PostPrice(COPPER, "settlement", 7_000_000, 101)),
               s.wr(ORACLE, PostPrice(COPPER, "spot", 7_000_000, 101)))  # fmt: skip
    assert e is not None and [c["pledge"] for c in e["calls_opened"]] == [pid]
    assert e["calls_cured"] == [] and e["enforceable"] == []
    e = _event(s, s.wr(ORACLE, PostPrice(COPPER, "settlement", 7_000_000, 104)),
               s.wr(ORACLE, PostPrice(COPPER, "spot", 7_000_000, 104)))  # fmt: skip
    assert e is not None and e["enforceable"] == [pid]
    assert [r["transition"] for r in e["receipts"]] == ["enforcement-freeze"]
    e = _event(s, s.wr(DEPOSITOR, Repay(pid, 6_650_000 * YUAN)))
    assert e is not None and e["calls_cured"] == [{"pledge": pid, "day": 101}]
    book_g = s.book.bins[(OPERATOR.address, "A1")].book_g
    gateway = s.chain.tx(GATEWAY, "wr.readings", ReadingsPayload((s.cell.reading(book_g // 2),)))
    e = _event(s, gateway)
    assert e is not None and [a["kind"] for a in e["alarms_raised"]] == ["weight_drift"]
    assert e["receipts"] == []  # readings alone: only the bins are read
    fine = s.chain.tx(GATEWAY, "wr.readings", ReadingsPayload((s.cell.reading(book_g),)))
    assert _event(s, fine) is None
    e = _event(s, s.wr(INSPECTOR, Inspect(OPERATOR.address, "A1", book_g, b"\x07" * 32)))
    assert e is not None and e["alarms_cleared"][0]["seqs"] == [1]
    assert _event(s) is None  # an empty height
    assert _event(s, s.wr(DEPOSITOR, Repay(pid, 10**15))) is None  # refused: nothing changed


def test_sdk_payloads_refuse_what_is_not_a_transition() -> None:
    with pytest.raises(SdkError):
        wr_payload(GrantRole(BANK_A.address, "bank"))  # type: ignore[arg-type]
    with pytest.raises(SdkError):
        readings_payload([])
    op = Sign(b"\x01" * 32)
    assert msgspec.msgpack.decode(wr_payload(op)) == ["sign", b"\x01" * 32]


def test_an_offline_alarm_raised_by_no_transaction_is_an_event() -> None:
    s = Story()
    s.set_up()
    registered = s.ledger.height
    events = [(s.ledger.height + 1, _event(s)) for _ in range(305)]  # empty heights only
    raised = [(h, e) for h, e in events if e is not None]
    assert raised, "no device_offline event"
    height, first = raised[0]
    assert height > registered + 300 - 5  # the devices registered in the last few heights
    assert {a["kind"] for a in first["alarms_raised"]} == {"device_offline"}
    devices = [a["device"] for _h, e in raised for a in e["alarms_raised"]]
    assert sorted(devices) == sorted(d.name for d in s.devices)  # each raised once

"""The SDK chains nonces safely (issue 10): Client.submit_detailed and Sender against fake nodes.

Each fake node is a handler behind one httpx.MockTransport, so every answer is
scripted and no process runs. The fake network makes a transaction final when
a node that works ("finalizes") holds it; a node can be down (connection
refused), lose what it holds, or answer from a script (503 + Retry-After,
pending_parent, 200 final...). Time is a fake clock that sleeping advances.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from govchain.crypto.keys import SigningKey
from govchain.dag.limits import DagLimits
from govchain.dag.tx import WIRE_DECODER, Transaction, TxBody, build, decode_body, tx_id
from govchain.sdk import Sender, SenderLimits, Submission
from govchain.sdk.client import Client
from govchain.sdk.errors import SdkError, parse_retry_after

CHAIN = "sender-test"
HEIGHT = 40
KEY = SigningKey.from_label("sender-test")
TIPS = [bytes([0x10 + i]) * 32 for i in range(3)]
EARLIER_TX = bytes([0xEE]) * 32  # the key's last pending transaction, as the nodes report it

Answer = tuple[int, dict[str, Any], dict[str, str]]
Scripted = Answer | Callable[[str], Answer]  # a fixed answer, or one made from the tx id


class FakeClock:
    """Time that passes only when the sender sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def now_s(self) -> float:
        return self.now

    def sleep_s(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@dataclass
class FakeNode:
    """One node: what it holds, what it was sent, and scripted answers to POST /v1/txs."""

    name: str
    next_nonce: int = 7
    last_tx: bytes | None = EARLIER_TX
    down: bool = False
    finalizes: bool = True  # False: it answers 202 but what it holds never becomes final
    script: list[Scripted] = field(default_factory=list)
    holds: set[str] = field(default_factory=set)
    posts: list[bytes] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


class FakeNet:
    """Nodes n0, n1, ... behind one MockTransport; finality is shared by all."""

    def __init__(self, count: int) -> None:
        self.nodes = [FakeNode(f"n{i}") for i in range(count)]
        self.final: dict[str, str] = {}
        self.lock = threading.Lock()  # fanout posts arrive on worker threads
        self.transport = httpx.MockTransport(self.handle)

    @property
    def urls(self) -> list[str]:
        return [f"http://{n.name}" for n in self.nodes]

    def node(self, i: int) -> FakeNode:
        return self.nodes[i]

    def handle(self, request: httpx.Request) -> httpx.Response:
        node = next(n for n in self.nodes if n.name == request.url.host)
        with self.lock:
            node.requests.append(f"{request.method} {request.url.path}")
            if node.down:
                raise httpx.ConnectError("connection refused", request=request)
            code, doc, headers = self.answer(node, request)
        return httpx.Response(code, json=doc, headers=headers)

    def answer(self, node: FakeNode, request: httpx.Request) -> Answer:
        path = request.url.path
        if path == "/v1/status":
            return 200, {"chain_id": CHAIN, "height": HEIGHT}, {}
        if path.startswith("/v1/accounts/"):
            last = node.last_tx.hex() if node.last_tx else None
            doc = {"nonce": 5, "next_nonce": node.next_nonce, "last_tx": last}
            return 200, doc, {}
        if path == "/v1/dag/tips":
            return 200, {"tips": [t.hex() for t in TIPS], "height": HEIGHT}, {}
        if path == "/v1/txs" and request.method == "POST":
            wire = bytes.fromhex(json.loads(request.content)["tx"])
            node.posts.append(wire)
            ident = id_of(wire)
            if node.script:
                scripted = node.script.pop(0)
                return scripted(ident) if callable(scripted) else scripted
            node.holds.add(ident)
            if ident in self.final:
                return 200, {"tx_id": ident, "status": self.final[ident]}, {}
            return 202, {"tx_id": ident, "status": "pending"}, {}
        if path.startswith("/v1/txs/"):
            ident = path.rsplit("/", 1)[1]
            if any(ident in n.holds and n.finalizes and not n.down for n in self.nodes):
                self.final.setdefault(ident, "executed")
            if ident in self.final:
                return 200, {"tx_id": ident, "status": self.final[ident], "checkpoint": 3}, {}
            if ident in node.holds:
                return 200, {"tx_id": ident, "status": "pending", "checkpoint": None}, {}
            return 404, error("not_found", "no transaction with this id"), {}
        return 404, error("not_found", path), {}


def error(code: str, message: str = "") -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def unavailable(code: str, retry_after: str | None = None) -> Answer:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return 503, error(code, "try again"), headers


def pending_parent(wire_id: str, missing: bytes = EARLIER_TX) -> Answer:
    return 202, {"tx_id": wire_id, "status": "pending_parent", "missing": [missing.hex()]}, {}


def id_of(wire: bytes) -> str:
    w = WIRE_DECODER.decode(wire)
    return tx_id(w.body, w.signature).hex()


def body_of(wire: bytes) -> TxBody:
    return decode_body(WIRE_DECODER.decode(wire).body)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def sender_on(net: FakeNet, clock: FakeClock, fanout: int = 1) -> Sender:
    return Sender(KEY, net.urls, fanout=fanout, clock=clock, transport=net.transport)


@pytest.fixture
def net2() -> Iterator[FakeNet]:
    yield FakeNet(2)


# -- Client.submit_detailed --------------------------------------------------------------


def a_tx() -> Transaction:
    return build(
        KEY,
        chain_id=CHAIN,
        kind="transfer",
        nonce=0,
        parents=TIPS,
        valid_until=HEIGHT,
        payload=b"",
        stamp_bits_min=DagLimits().stamp_bits_min,
    )


def test_client_tells_pending_from_pending_parent_and_final() -> None:
    net = FakeNet(1)
    tx = a_tx()
    wire_id = tx.id.hex()
    net.node(0).script = [
        (202, {"tx_id": wire_id, "status": "pending"}, {}),
        pending_parent(wire_id, EARLIER_TX),
        (200, {"tx_id": wire_id, "status": "executed"}, {}),
    ]
    with Client(net.urls[0], transport=net.transport) as client:
        first, second, third = (client.submit_detailed(tx) for _ in range(3))
    assert first == Submission(wire_id, "pending")
    assert first.accepted and not first.final
    assert second.status == "pending_parent" and not second.accepted
    assert second.missing == (EARLIER_TX.hex(),)
    assert third.final and third.accepted


def test_client_refuses_an_answer_for_another_transaction() -> None:
    net = FakeNet(1)
    net.node(0).script = [(202, {"tx_id": "ab" * 32, "status": "pending"}, {})]
    with Client(net.urls[0], transport=net.transport) as client, pytest.raises(SdkError) as exc:
        client.submit(a_tx())
    assert exc.value.code == "bad_response"


def test_client_submit_returns_the_id_and_raises_503_with_retry_after() -> None:
    net = FakeNet(1)
    wire = a_tx().to_wire()
    net.node(0).script = [
        pending_parent("cd" * 32, EARLIER_TX),
        unavailable("not_replicated", "2.5"),
        unavailable("pool_full"),
        (422, error("bad_signature", "the signature does not verify"), {}),
    ]
    with Client(net.urls[0], transport=net.transport) as client:
        assert client.submit(wire) == "cd" * 32  # raw bytes: the id is the node's
        with pytest.raises(SdkError) as busy:
            client.submit(wire)
        with pytest.raises(SdkError) as full:
            client.submit(wire)
        with pytest.raises(SdkError) as bad:
            client.submit(wire)
    assert (busy.value.code, busy.value.status, busy.value.retry_after_s) == (
        "not_replicated",
        503,
        2.5,
    )
    assert (full.value.code, full.value.retry_after_s) == ("pool_full", None)
    assert (bad.value.code, bad.value.status, bad.value.retry_after_s) == (
        "bad_signature",
        422,
        None,
    )


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("3", 3.0),
        ("0.25", 0.25),
        (" 7 ", 7.0),
        ("-1", None),
        ("nan", None),
        ("inf", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", None),
        (None, None),
    ],
)
def test_retry_after_reads_seconds_only(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


# -- Sender --------------------------------------------------------------------------------


def test_nonces_chain_locally_without_asking_the_node_between_transactions(
    clock: FakeClock,
) -> None:
    net = FakeNet(1)
    with sender_on(net, clock) as sender:
        ids = [sender.transfer(bytes(20), amount) for amount in (1, 2, 3)]
        records = sender.wait_all()
    node = net.node(0)
    assert node.requests.count("GET /v1/accounts/" + KEY.address.hex()) == 1
    bodies = [body_of(w) for w in node.posts]
    assert [b.nonce for b in bodies] == [7, 8, 9]
    # Each names the previous one (the first: the node's last_tx), plus tips, ascending.
    previous = [EARLIER_TX, *(bytes.fromhex(i) for i in ids[:2])]
    for body, prev in zip(bodies, previous, strict=True):
        assert prev in body.parents
        assert list(body.parents) == sorted(body.parents)
        assert len(body.parents) <= DagLimits().parents_count_max
        assert body.chain_id == CHAIN and body.valid_until > HEIGHT
    assert [r["tx_id"] for r in records] == ids
    assert all(r["status"] == "executed" for r in records)
    assert sender.in_flight == 0


def test_the_account_is_read_from_the_node_that_knows_most(clock: FakeClock) -> None:
    net = FakeNet(3)
    net.node(0).next_nonce, net.node(0).last_tx = 3, None  # behind
    net.node(1).down = True
    net.node(2).next_nonce = 12
    with sender_on(net, clock) as sender:
        sender.transfer(bytes(20), 1)
    assert sender.next_nonce == 13
    sent = net.node(2).posts or net.node(0).posts
    assert body_of(sent[0]).nonce == 12 and EARLIER_TX in body_of(sent[0]).parents


def test_503_with_retry_after_sends_the_same_bytes_to_another_node(
    net2: FakeNet, clock: FakeClock
) -> None:
    net2.node(0).script = [unavailable("not_replicated", "2")]
    with sender_on(net2, clock) as sender:
        first = sender.transfer(bytes(20), 1)
        # n0 rests for 2 s: the next transaction goes to n1, which took the first.
        second = sender.transfer(bytes(20), 2)
    assert net2.node(0).posts[0] == net2.node(1).posts[0]
    assert [id_of(w) for w in net2.node(1).posts] == [first, second]
    assert clock.slept == []  # another node was ready: no wait


def test_every_node_busy_waits_for_retry_after_then_resends(clock: FakeClock) -> None:
    net = FakeNet(2)
    net.node(0).script = [unavailable("pool_full", "3")]
    net.node(1).script = [unavailable("catching_up", "5")]
    with sender_on(net, clock) as sender:
        tx = sender.transfer(bytes(20), 1)
    assert clock.now == 3.0  # n0 asked for 3 s, n1 for 5 s
    assert [id_of(w) for w in net.node(0).posts] == [tx, tx]
    assert net.node(0).posts[0] == net.node(0).posts[1] == net.node(1).posts[0]


def test_a_node_down_sends_to_another_and_reads_elsewhere(clock: FakeClock) -> None:
    net = FakeNet(3)
    net.node(0).down = True
    with sender_on(net, clock) as sender:
        ids = [sender.transfer(bytes(20), amount) for amount in (1, 2)]
        records = sender.wait_all()
    assert net.node(0).posts == []
    assert [id_of(w) for w in net.node(1).posts] == ids
    assert [r["status"] for r in records] == ["executed", "executed"]


def test_no_node_reachable_keeps_the_transaction_and_delivers_it_first(
    clock: FakeClock,
) -> None:
    net = FakeNet(2)
    with sender_on(net, clock) as sender:
        sender.transfer(bytes(20), 1)
        for node in net.nodes:
            node.down = True
        with pytest.raises(SdkError) as exc:
            sender.transfer(bytes(20), 2)
        assert exc.value.code == "unreachable"
        attempts = sum(n.requests.count("POST /v1/txs") for n in net.nodes)
        assert attempts == 1 + SenderLimits().submit_attempts_max
        for node in net.nodes:
            node.down = False
        third = sender.transfer(bytes(20), 3)
        records = sender.wait_all()
    # What no node took went again before the next transaction: nonce 8, then 9.
    assert [body_of(w).nonce for w in net.node(0).posts] == [7, 8, 9]
    assert records[2]["tx_id"] == third and len(records) == 3


def test_pending_parent_is_resent_until_pending(clock: FakeClock) -> None:
    net = FakeNet(2)
    net.node(0).script = [pending_parent] * 3
    with sender_on(net, clock) as sender:
        sender.send("transfer", b"")
    posts = net.node(0).posts
    assert len(posts) == 4 and len(set(posts)) == 1  # the same bytes, to the node fetching
    assert net.node(1).posts == []
    assert clock.now == pytest.approx(3 * SenderLimits().pending_parent_poll_s)


def test_pending_parent_gives_up_after_its_bound_and_keeps_the_bytes(clock: FakeClock) -> None:
    net = FakeNet(1)
    limits = SenderLimits(pending_parent_timeout_s=1.0)
    net.node(0).script = [pending_parent] * 100
    with Sender(KEY, net.urls, clock=clock, transport=net.transport, limits=limits) as sender:
        with pytest.raises(SdkError) as exc:
            sender.send("transfer", b"")
        assert exc.value.code == "parent_missing"
        assert clock.now < 2.0
        net.node(0).script = []  # the parent arrived
        (record,) = sender.wait_all()
    assert record["status"] == "executed"
    assert len(set(net.node(0).posts)) == 1


def test_a_duplicate_that_is_final_already_is_accepted(clock: FakeClock) -> None:
    net = FakeNet(1)

    def final_already(ident: str) -> Answer:
        net.final[ident] = "rejected"
        return 200, {"tx_id": ident, "status": "rejected"}, {}

    net.node(0).script = [final_already]
    with sender_on(net, clock) as sender:
        tx = sender.send("transfer", b"")
        record = sender.wait_final(tx)
    assert record["status"] == "rejected"
    assert sender.next_nonce == 8


def test_a_bad_transaction_gives_its_nonce_back(clock: FakeClock) -> None:
    net = FakeNet(2)
    net.node(0).script = [(422, error("bad_payload", "amount must be positive"), {})]
    with sender_on(net, clock) as sender:
        with pytest.raises(SdkError) as exc:
            sender.transfer(bytes(20), 0)
        assert exc.value.code == "bad_payload"
        assert sender.next_nonce == 7 and sender.in_flight == 0
        sender.transfer(bytes(20), 5)
    retried = body_of(net.node(0).posts[1])
    assert retried.nonce == 7 and EARLIER_TX in retried.parents
    assert net.node(1).posts == []  # a bad transaction is not tried elsewhere


def test_not_final_within_its_timeout_goes_to_another_node(clock: FakeClock) -> None:
    net = FakeNet(2)
    net.node(0).finalizes = False  # says 202, then the transaction never gets final there
    with sender_on(net, clock) as sender:
        tx = sender.transfer(bytes(20), 1)
        assert net.node(1).posts == []
        record = sender.wait_final(tx)
    assert record["status"] == "executed"
    assert net.node(1).posts == net.node(0).posts  # the same bytes, once each
    assert clock.now >= SenderLimits().final_timeout_s


def test_never_final_raises_timeout_after_bounded_resubmissions(clock: FakeClock) -> None:
    net = FakeNet(2)
    for node in net.nodes:
        node.finalizes = False
    limits = SenderLimits(resubmits_max=2, final_timeout_s=1.0)
    with Sender(KEY, net.urls, clock=clock, transport=net.transport, limits=limits) as sender:
        tx = sender.transfer(bytes(20), 1)
        with pytest.raises(SdkError) as exc:
            sender.wait_final(tx)
    assert exc.value.code == "timeout"
    assert len(net.node(0).posts) + len(net.node(1).posts) == 3


def test_reads_pass_over_a_node_that_is_down(clock: FakeClock) -> None:
    net = FakeNet(3)
    with sender_on(net, clock) as sender:
        ids = [sender.transfer(bytes(20), amount) for amount in (1, 2, 3)]
        net.node(0).down = True  # it accepted all three, then died
        records = sender.wait_all()
    assert [r["tx_id"] for r in records] == ids
    assert all(r["status"] == "executed" for r in records)


def test_fanout_sends_identical_bytes_to_k_nodes(clock: FakeClock) -> None:
    net = FakeNet(3)
    with sender_on(net, clock, fanout=2) as sender:
        first = sender.transfer(bytes(20), 1)
        second = sender.transfer(bytes(20), 2)
        records = sender.wait_all()
    # close() waited for the posts still running: each node's log is complete.
    by_tx: dict[str, list[str]] = {first: [], second: []}
    for node in net.nodes:
        for wire in node.posts:
            by_tx[id_of(wire)].append(node.name)
    assert all(len(names) == 2 for names in by_tx.values())
    for tx in (first, second):
        copies = {w for n in net.nodes for w in n.posts if id_of(w) == tx}
        assert len(copies) == 1
    assert [r["status"] for r in records] == ["executed", "executed"]


def test_fanout_is_accepted_when_any_node_promises(clock: FakeClock) -> None:
    net = FakeNet(2)
    net.node(0).script = [unavailable("not_replicated", "1")]
    net.node(1).script = []
    with sender_on(net, clock, fanout=2) as sender:
        tx = sender.transfer(bytes(20), 1)
        assert sender.wait_final(tx)["status"] == "executed"
    assert net.node(0).posts == net.node(1).posts


@pytest.mark.parametrize("fanout", [0, 3])
def test_a_fanout_beyond_the_nodes_is_refused(fanout: int) -> None:
    with pytest.raises(ValueError, match="fanout"):
        Sender(KEY, ["http://a", "http://b"], fanout=fanout)


def test_no_node_is_refused() -> None:
    with pytest.raises(ValueError, match="node URL"):
        Sender(KEY, [])


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="records_kept_max"):
        SenderLimits(in_flight_max=10, records_kept_max=5)
    with pytest.raises(ValueError, match="> 0 s"):
        SenderLimits(final_timeout_s=0)

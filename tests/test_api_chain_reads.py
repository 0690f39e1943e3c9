"""The chain reads the explorer renders: checkpoints, recent pace, validators, DAG, search.

Most tests drive a one-validator node in this process (not started: its replica
ticks on a clock the test moves, each output committed as the shell does) over
its SQLite store or the in-memory one, and read the API in-process. The
validators' standing is read from a made-up history of certificates; the
warehouse's ids from a wrkit Story's ledger; one test reads a live 4-node devnet.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
import websockets

from govchain.api import chain_search
from govchain.api.chain_reads import (
    CHECKPOINTS_LIMIT_MAX,
    DAG_LIMIT_MAX,
    LATE_CERTIFICATES,
    SIGNED_LOOKBACK,
    STATS_SECONDS_MAX,
    STATS_SECONDS_MIN,
    validators_doc,
)
from govchain.api.chain_search import SEARCH_CHARS_MAX
from govchain.api.openapi import OPENAPI
from govchain.api.port import NodePort
from govchain.codec import encode
from govchain.consensus.messages import Certificate, Checkpoint
from govchain.consensus.validators import ValidatorSet
from govchain.crypto.keys import SigningKey
from govchain.dag.limits import DagLimits
from govchain.dag.tx import Transaction, build
from govchain.node.devnet import create
from govchain.node.files import Home, PeerAddr, read_key
from govchain.node.node import Node
from govchain.sdk.client import Client
from govchain.state.payloads import (
    ProposePayload,
    ServiceRegisterPayload,
    SetParam,
    TransferPayload,
)
from govchain.storage.memory import MemoryStore
from govchain.storage.sqlite import CorruptStoreError, SqliteStore
from procs import cluster, wait_until
from test_api_fuzz import AppClient
from wrkit import OPERATOR, Story

STAMP_BITS = DagLimits().stamp_bits_min
TICK_MS = 20  # as a node's shell ticks
HEARTBEAT_MS = 1_000  # the devnet's empty-checkpoint interval
VALID_UNTIL = 1_000
NEW_PATHS = (
    "/v1/checkpoints",
    "/v1/checkpoints/{height}/signers",
    "/v1/stats/recent",
    "/v1/validators",
    "/v1/dag/recent",
    "/v1/search",
)


@dataclass
class Driven:
    """A one-validator node whose replica the test drives, and its API in-process."""

    node: Node
    client: AppClient
    faucet: SigningKey
    regulator: SigningKey
    now_ms: int
    nonces: dict[bytes, int] = field(default_factory=dict)

    def advance(self, ms: int) -> None:
        """Tick for ms of the node's clock, committing every output (as the shell does)."""
        replica = self.node.replica
        for _ in range(ms // TICK_MS):
            self.now_ms += TICK_MS
            replica.tick(self.now_ms)
            self.node.store.commit(replica.ready())

    def until_height(self, height: int) -> None:
        """Advance until the node executed height."""
        for _ in range(height * 2 + 10):
            if self.node.view.height >= height:
                return
            self.advance(HEARTBEAT_MS // 2)
        raise AssertionError(f"height {height} not reached")

    def send(self, key: SigningKey, kind: str, payload: object) -> Transaction:
        """Admit the key's next transaction; stored with the next commit."""
        nonce = self.nonces.get(key.public_key, 0)
        self.nonces[key.public_key] = nonce + 1
        tx = build(
            key,
            chain_id=self.node.genesis.chain_id,
            kind=kind,
            nonce=nonce,
            parents=[self.node.genesis.hash],
            valid_until=VALID_UNTIL,
            payload=encode(payload),
            stamp_bits_min=STAMP_BITS,
        )
        self.node.replica.submit(tx.to_wire(), self.now_ms)
        self.node.store.commit(self.node.replica.ready())
        return tx

    def transfer(self, amount: int) -> Transaction:
        """A transfer from the faucet to the regulator."""
        return self.send(self.faucet, "transfer", TransferPayload(self.regulator.address, amount))

    def get(self, url: str) -> Any:
        """GET url's JSON document, which must be a 200."""
        r = self.client.get(url)
        assert r.status_code == 200, r.text
        return r.json()


def _driven(root: Path, port_base: int, memory: bool) -> Driven:
    (node_dir,) = create(root, 1, 0, port_base)
    node = Node(Home(node_dir.home), store=MemoryStore() if memory else None)
    now_ms = time.time_ns() // 1_000_000  # after the genesis's time, as a node's clock is
    node.replica.start(now_ms)
    return Driven(
        node,
        AppClient(node),
        read_key(root / "keys" / "faucet.key"),
        read_key(root / "keys" / "regulator-1.key"),
        now_ms,
    )


@pytest.fixture(params=["sqlite", "memory"])
def chain(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Driven]:
    d = _driven(tmp_path / "net", 42_700, request.param == "memory")
    yield d
    d.node.store.close()


@pytest.fixture()
def sqlite_chain(tmp_path: Path) -> Iterator[Driven]:
    d = _driven(tmp_path / "net", 42_750, False)
    yield d
    d.node.store.close()


def _bad(d: Driven, url: str, code: str) -> None:
    r = d.client.get(url)
    assert r.status_code == 400, (url, r.text)
    assert r.json()["error"]["code"] == code, url


# -- checkpoints -------------------------------------------------------------------------
def test_checkpoints_newest_first_with_their_counts_and_pages_that_meet(chain: Driven) -> None:
    chain.until_height(2)
    # 20 transfers in one checkpoint: the order's header is a msgpack array 16 (>15 items).
    sent = [chain.transfer(1 + n) for n in range(20)]
    chain.advance(HEARTBEAT_MS // 2)
    chain.until_height(7)
    store = chain.node.store
    decided = store.decided_height()
    doc = chain.get("/v1/checkpoints")
    assert doc["decided_height"] == decided
    heights = [c["height"] for c in doc["checkpoints"]]
    assert heights == list(range(decided, 0, -1))[:20] and doc["next"] is None
    by_height = {c["height"]: c for c in doc["checkpoints"]}
    final = {store.get_tx(tx.id).height for tx in sent}  # type: ignore[union-attr]
    assert sum(by_height[h]["txs"] for h in final) == 20
    for h, row in by_height.items():
        cp, cert = store.get_checkpoint(h)  # type: ignore[misc]
        assert row["txs"] == len(store.receipts(h))
        assert row == {
            "height": h,
            "hash": cp.hash.hex(),
            "time_ms": cp.time_ms,
            "txs": row["txs"],
            "tips": len(cp.tips),
            "signers": len(cert.signatures),
            "state_hash": cp.state_hash.hex(),
            "receipts_root": cp.receipts_root.hex(),
        }
    # Pages of 3 walk down to height 1 without a gap or a repeat.
    seen: list[int] = []
    url = "/v1/checkpoints?limit=3"
    while True:
        page = chain.get(url)
        seen += [c["height"] for c in page["checkpoints"]]
        if page["next"] is None:
            break
        url = f"/v1/checkpoints?limit=3&before={page['next']}"
    assert seen == list(range(decided, 0, -1))
    assert chain.get("/v1/checkpoints?before=1") == {
        "checkpoints": [],
        "next": None,
        "decided_height": decided,
    }
    far = chain.get(f"/v1/checkpoints?before={10**17}&limit=1")
    assert [c["height"] for c in far["checkpoints"]] == [decided]
    # The existing reads of one checkpoint still answer.
    assert chain.get("/v1/checkpoints/latest")["height"] == decided
    assert chain.get("/v1/checkpoints/2")["height"] == 2


def test_a_decided_height_not_executed_here_shows_no_count(
    sqlite_chain: Driven, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = sqlite_chain
    d.until_height(3)
    top = d.node.store.decided_height()
    real = d.node.store.tx_counts
    monkeypatch.setattr(d.node.store, "tx_counts", lambda lo, hi: real(lo, min(hi, top - 1)))
    rows = d.get("/v1/checkpoints?limit=2")["checkpoints"]
    assert [(r["height"], r["txs"]) for r in rows] == [(top, None), (top - 1, 0)]


def test_the_store_counts_a_range_and_refuses_a_damaged_order(sqlite_chain: Driven) -> None:
    d = sqlite_chain
    d.until_height(1)
    d.transfer(5)
    d.transfer(6)
    d.until_height(d.node.view.height + 2)
    store = d.node.store
    top = d.node.view.height
    counts = store.tx_counts(1, top + 5)
    assert sorted(counts) == list(range(1, top + 1))  # not executed: absent
    assert counts == {h: len(store.receipts(h)) for h in range(1, top + 1)}
    assert sum(counts.values()) == 2 and store.tx_counts(top + 1, top + 9) == {}
    assert isinstance(store, SqliteStore)
    path = store.path
    store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE executed SET tx_seqs = X'c0' WHERE height = 1")
    reopened = SqliteStore(path)
    try:
        with pytest.raises(CorruptStoreError, match="executed"):
            reopened.tx_counts(1, 1)
    finally:
        reopened.close()
    d.node.store = SqliteStore(path)  # closed by the fixture


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("before=0", "bad_before"),
        ("before=x", "bad_before"),
        ("before=-1", "bad_before"),
        ("before=" + "9" * 19, "bad_before"),
        ("limit=0", "bad_limit"),
        (f"limit={CHECKPOINTS_LIMIT_MAX + 1}", "bad_limit"),
        ("limit=1.5", "bad_limit"),
    ],
)
def test_bad_checkpoint_arguments_are_400s(sqlite_chain: Driven, query: str, code: str) -> None:
    _bad(sqlite_chain, "/v1/checkpoints?" + query, code)


def test_a_certificates_signers_are_named_in_its_heights_set(sqlite_chain: Driven) -> None:
    d = sqlite_chain
    d.until_height(2)
    key = d.node.key
    doc = d.get("/v1/checkpoints/2/signers")
    cp, cert = d.node.store.get_checkpoint(2)  # type: ignore[misc]
    assert doc == {
        "height": 2,
        "hash": cp.hash.hex(),
        "round": cert.round,
        "signers": [
            {
                "index": 0,
                "public_key": key.public_key.hex(),
                "address": key.address.hex(),
                "name": "validator-0",
                "power": 1,
                "signature": cert.signatures[0][1].hex(),
            }
        ],
        "signed_power": 1,
        "total_power": 1,
        "quorum": 1,
    }
    for url in ("/v1/checkpoints/0/signers", "/v1/checkpoints/999/signers"):
        r = d.client.get(url)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = d.client.get("/v1/checkpoints/latest/signers")
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_height"


# -- recent pace -------------------------------------------------------------------------
def test_recent_stats_cover_the_window_and_count_its_transactions(chain: Driven) -> None:
    chain.until_height(3)
    for n in range(6):
        chain.transfer(1 + n)
    chain.until_height(chain.node.view.height + 3)
    chain.advance(12 * HEARTBEAT_MS)
    chain.node.metrics.finality_ms.extend([300, 100, 200])
    doc = chain.get(f"/v1/stats/recent?seconds={STATS_SECONDS_MIN}")
    points = doc["points"]
    decided = chain.node.view.decided_height
    assert doc["height"] == decided and points[-1]["height"] == decided
    assert [p["height"] for p in points] == list(range(points[0]["height"], decided + 1))
    latest = points[-1]["time_ms"]
    assert all(latest - p["time_ms"] <= STATS_SECONDS_MIN * 1_000 for p in points)
    assert points[0]["height"] > 1  # older ones fell out of the window
    assert doc["finality_ms"] == {"p50": 200.0, "p99": pytest.approx(298.0)}
    # All of them: every transfer counted once, the rate over the span.
    whole = chain.get(f"/v1/stats/recent?seconds={STATS_SECONDS_MAX}")
    pts = whole["points"]
    assert pts[0]["height"] == 1 and sum(p["txs"] for p in pts) == 6
    span_s = (pts[-1]["time_ms"] - pts[0]["time_ms"]) / 1_000
    assert whole["tps"] == pytest.approx(6 / span_s, abs=1e-3)
    assert whole["seconds_per_checkpoint"] == pytest.approx(span_s / (len(pts) - 1), abs=1e-3)


def test_stats_before_any_checkpoint_and_bad_windows(sqlite_chain: Driven) -> None:
    d = sqlite_chain
    assert d.get("/v1/stats/recent") == {
        "points": [],
        "tps": 0.0,
        "seconds_per_checkpoint": None,
        "finality_ms": None,
        "height": 0,
    }
    for bad in (STATS_SECONDS_MIN - 1, STATS_SECONDS_MAX + 1, "ten", ""):
        _bad(d, f"/v1/stats/recent?seconds={bad}", "bad_seconds")


# -- validators --------------------------------------------------------------------------
class _History:
    """A chain's decided certificates and validator sets, as ChainView answers for them."""

    def __init__(self, sets: list[tuple[int, ValidatorSet]], signed: dict[int, list[int]]) -> None:
        self.sets = sets  # (first height it certifies, set), ascending
        self.decided: list[tuple[Checkpoint, Certificate]] = []
        for h in range(1, max(signed) + 1):
            cp = Checkpoint("c", h, b"", h * 1_000, (), b"", b"", b"", b"")
            sigs = tuple((i, b"s") for i in signed.get(h, []))
            self.decided.append((cp, Certificate(h, 0, cp.hash, sigs)))
        self.height = self.decided_height = len(self.decided)

    def validator_set(self, height: int) -> ValidatorSet | None:
        return [vs for start, vs in self.sets if start <= height][-1]

    def decided_tail(self, count: int) -> Sequence[tuple[Checkpoint, Certificate]]:
        return tuple(self.decided[-count:])


def test_validators_last_signature_and_standing_follow_the_certificates() -> None:
    keys = sorted((SigningKey.from_label(f"v{i}") for i in range(5)), key=lambda k: k.public_key)
    a, b, c, gone, joined = keys  # gone and joined are each the last (index 3) of their set
    first = ValidatorSet.of({k.public_key: 1 for k in (a, b, c, gone)})
    second = ValidatorSet.of({k.public_key: 2 for k in (a, b, c, joined)})
    top = 300
    signed: dict[int, list[int]] = {}
    for h in range(1, top + 1):
        signed[h] = [0] + ([1] if h <= top - LATE_CERTIFICATES + 6 else [])
        signed[h] += [2] if h <= 200 else []
        signed[h] += [3] if h <= 100 else []  # gone's signatures, at joined's index now
    view = _History([(1, first), (101, second)], signed)
    node = SimpleNamespace(
        view=view,
        key=a,
        name="node-a",
        net=SimpleNamespace(peers=lambda: [b.public_key.hex(), gone.public_key.hex()]),
        # node.json names c (a devnet names its peers); b stays unnamed
        node_config=SimpleNamespace(peers=[PeerAddr(c.public_key.hex(), "127.0.0.1", 1, "node-c")]),
    )
    doc = validators_doc(cast(NodePort, node))
    assert doc["height"] == top + 1
    rows = {r["public_key"]: r for r in doc["validators"]}
    assert list(rows) == [k.public_key.hex() for k in (a, b, c, joined)]
    want = {
        a: (top, "active", "node-a", False, True),
        b: (top - LATE_CERTIFICATES + 6, "late", None, True, False),
        c: (200, "absent", "node-c", False, False),
        joined: (None, "absent", None, False, False),
    }
    for key, (last, status, name, connected, is_self) in want.items():
        r = rows[key.public_key.hex()]
        assert (r["last_signed"], r["status"], r["name"], r["connected"], r["is_self"]) == (
            last,
            status,
            name,
            connected,
            is_self,
        ), key
        assert r["address"] == key.address.hex() and r["power"] == 2
    # Signatures older than the look-back are not read.
    signed = {h: ([0, 1] if h <= 2 else [0]) for h in range(1, SIGNED_LOOKBACK + 3)}
    view = _History([(1, first)], signed)
    node.view = view
    rows = {r["index"]: r for r in validators_doc(cast(NodePort, node))["validators"]}
    assert rows[0]["last_signed"] == SIGNED_LOOKBACK + 2 and rows[1]["last_signed"] is None


def test_a_lone_validator_is_active_named_and_itself(sqlite_chain: Driven) -> None:
    d = sqlite_chain
    d.until_height(2)
    doc = d.get("/v1/validators")
    key = d.node.key
    assert doc == {
        "height": d.node.view.height + 1,
        "validators": [
            {
                "index": 0,
                "public_key": key.public_key.hex(),
                "address": key.address.hex(),
                "power": 1,
                "name": "validator-0",
                "last_signed": d.node.view.decided_height,
                "status": "active",
                "connected": False,
                "is_self": True,
            }
        ],
    }


# -- DAG ---------------------------------------------------------------------------------
def test_recent_vertices_newest_first_pending_then_final(chain: Driven) -> None:
    chain.until_height(1)
    final = [chain.transfer(1), chain.transfer(2)]
    chain.until_height(chain.node.view.height + 2)
    pending = [chain.transfer(3), chain.transfer(4), chain.transfer(5)]
    doc = chain.get("/v1/dag/recent")
    ids = [v["id"] for v in doc["vertices"]]
    assert ids[:3] == [tx.id.hex() for tx in reversed(pending)]
    assert set(ids[3:5]) == {tx.id.hex() for tx in final}
    first = doc["vertices"][0]
    assert first == {
        "id": pending[-1].id.hex(),
        "parents": [chain.node.genesis.hash.hex()],
        "sender": chain.faucet.address.hex(),
        "kind": "transfer",
        "covered_by": None,
    }
    covered = {v["covered_by"] for v in doc["vertices"][3:5]}
    assert covered == {chain.node.store.get_tx(tx.id).height for tx in final}  # type: ignore[union-attr]
    assert doc["pending"] == 3 and doc["total"] == 5
    assert doc["dag_height"] == chain.node.view.dag_height
    assert [v["id"] for v in chain.get("/v1/dag/recent?limit=2")["vertices"]] == ids[:2]
    for bad in (0, DAG_LIMIT_MAX + 1, "all"):
        _bad(chain, f"/v1/dag/recent?limit={bad}", "bad_limit")


def test_final_vertices_memory_no_longer_holds_come_from_the_store(chain: Driven) -> None:
    """After a restart (or a long idle stretch) memory holds no recent execution: the DAG
    view still shows the newest final vertices, read from the store, newest first."""
    chain.until_height(1)
    final = [chain.transfer(1), chain.transfer(2), chain.transfer(3)]
    chain.until_height(chain.node.view.height + 2)
    chain.until_height(chain.node.view.height + 5)  # empty heights above them
    chain.node.replica.executions.clear()  # as after a restart
    doc = chain.get("/v1/dag/recent?limit=10")
    ids = [v["id"] for v in doc["vertices"]]
    assert set(ids) == {tx.id.hex() for tx in final}
    heights = [v["covered_by"] for v in doc["vertices"]]
    assert heights == sorted(heights, reverse=True) and None not in heights
    assert [v["id"] for v in chain.get("/v1/dag/recent?limit=2")["vertices"]] == ids[:2]


# -- search ------------------------------------------------------------------------------
def _kinds(d: Driven, q: str) -> list[tuple[str, str, str]]:
    doc = d.get("/v1/search?q=" + q)
    return [(m["kind"], m["id"], m["url"]) for m in doc["matches"]]


def test_search_finds_heights_addresses_transactions_proposals_and_services(
    sqlite_chain: Driven,
) -> None:
    d = sqlite_chain
    d.until_height(2)
    proposal = d.send(
        d.regulator,
        "gov.propose",
        ProposePayload(SetParam("hold_amount_min", 9), "test", b"", False),
    )
    service = d.send(d.faucet, "service.register", ServiceRegisterPayload("shop-1", ""))
    pid = proposal.id.hex()
    # Admitted, not executed: a transaction, no proposal yet.
    assert _kinds(d, pid[:8]) == [("tx", pid, f"/txs/{pid}")]
    d.until_height(d.node.view.height + 2)
    both = [("tx", pid, f"/txs/{pid}"), ("proposal", pid, f"/governance/proposals/{pid}")]
    assert _kinds(d, pid[:8]) == both and _kinds(d, pid.upper()) == both
    assert _kinds(d, service.id.hex()) == [("tx", service.id.hex(), f"/txs/{service.id.hex()}")]
    assert _kinds(d, "shop-1") == [("service", "shop-1", "/governance/services#shop-1")]
    addr = d.faucet.address.hex()
    account = [("address", addr, f"/accounts/{addr}")]
    assert _kinds(d, addr) == account and _kinds(d, "0x" + addr.upper()) == account
    assert _kinds(d, "%20" + addr + "%20") == account  # surrounding blanks
    assert _kinds(d, "2") == [("checkpoint", "2", "/checkpoints/2")]
    top = d.node.store.decided_height()
    assert _kinds(d, str(top + 1)) == [] and _kinds(d, "0") == []
    assert _kinds(d, "nothing-here") == [] and _kinds(d, "%20%20") == []
    assert _kinds(d, "0" * 7) == []  # too short for a prefix, not a height
    doc = d.get("/v1/search?q=shop-1")
    assert doc["query"] == "shop-1" and doc["more"] is False


def test_search_finds_warehouse_receipts_and_warehouses(tmp_path: Path) -> None:
    d = _driven(tmp_path / "net", 42_800, False)
    try:
        story = Story()
        story.set_up()
        assert story.intake() == ["executed"]
        assert story.issue() == ["executed"] * 3
        d.node.replica.ledger = story.ledger
        assert "WR-2026-0001" in story.book.receipts
        assert _kinds(d, "WR-2026-0001") == [
            ("receipt", "WR-2026-0001", "/wr/receipts/WR-2026-0001")
        ]
        assert _kinds(d, "wr-2026-0001") == []  # numbers are exact
        op = OPERATOR.address.hex()
        assert _kinds(d, op) == [
            ("address", op, f"/accounts/{op}"),
            ("warehouse", op, f"/wr/bins/{op}"),
        ]
    finally:
        d.node.store.close()


def test_search_is_bounded_and_says_there_is_more(
    sqlite_chain: Driven, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = sqlite_chain
    d.until_height(1)
    proposal = d.send(
        d.regulator,
        "gov.propose",
        ProposePayload(SetParam("hold_amount_min", 9), "test", b"", False),
    )
    d.until_height(d.node.view.height + 2)
    monkeypatch.setattr(chain_search, "SEARCH_MATCHES_MAX", 1)
    doc = d.get("/v1/search?q=" + proposal.id.hex())  # its transaction, and the proposal
    assert [m["kind"] for m in doc["matches"]] == ["tx"] and doc["more"] is True
    monkeypatch.setattr(chain_search, "SEARCH_MATCHES_MAX", 20)
    # One hex digit as a prefix, at most one id per answer: 17 ids share some first digit.
    monkeypatch.setattr(chain_search, "ID_PREFIX_CHARS_MIN", 1)
    monkeypatch.setattr(chain_search, "ID_MATCHES_MAX", 1)
    ids = sorted([proposal.id.hex()] + [d.transfer(1 + n).id.hex() for n in range(16)])
    mores = []
    for digit in "0123456789abcdef":
        doc = d.get("/v1/search?q=" + digit)
        want = [i for i in ids if i.startswith(digit)]
        assert [m["id"] for m in doc["matches"] if m["kind"] == "tx"] == want[:1]
        assert doc["more"] is (len(want) > 1)
        mores.append(doc["more"])
    assert any(mores)


def test_bad_queries_are_400s(sqlite_chain: Driven) -> None:
    for url in ("/v1/search", "/v1/search?q=", "/v1/search?q=" + "a" * (SEARCH_CHARS_MAX + 1)):
        _bad(sqlite_chain, url, "bad_q")
    assert sqlite_chain.get("/v1/search?q=" + "a" * SEARCH_CHARS_MAX)["matches"] == []


# -- the description -----------------------------------------------------------------------
def test_the_openapi_describes_every_new_read_with_its_bounds(sqlite_chain: Driven) -> None:
    paths = sqlite_chain.get("/openapi.json")["paths"]
    assert set(NEW_PATHS) <= set(paths) and set(NEW_PATHS) <= set(OPENAPI["paths"])
    routes = {getattr(r, "path", "") for r in sqlite_chain.client.app.routes}
    assert set(NEW_PATHS) <= routes

    def param(path: str, name: str) -> dict[str, Any]:
        found = [p for p in paths[path]["get"]["parameters"] if p["name"] == name]
        return cast(dict[str, Any], found[0]["schema"])

    assert param("/v1/checkpoints", "limit")["maximum"] == CHECKPOINTS_LIMIT_MAX
    assert param("/v1/checkpoints", "before")["minimum"] == 1
    seconds = param("/v1/stats/recent", "seconds")
    assert (seconds["minimum"], seconds["maximum"]) == (STATS_SECONDS_MIN, STATS_SECONDS_MAX)
    assert param("/v1/dag/recent", "limit")["maximum"] == DAG_LIMIT_MAX
    assert param("/v1/search", "q")["maxLength"] == SEARCH_CHARS_MAX
    for path in NEW_PATHS:
        answer = paths[path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert answer["required"] and answer["type"] == "object", path


# -- a live devnet ------------------------------------------------------------------------
def test_a_live_devnet_shows_its_validators_signers_and_checkpoints(tmp_path: Path) -> None:
    with cluster(tmp_path / "net", validators=4) as c:
        wait_until(lambda: c.height(0) >= 3, 60, "height 3")
        url = c.url(0)

        def standing() -> dict[str, Any]:
            doc: dict[str, Any] = c.http.get(url + "/v1/validators").json()
            return doc

        wait_until(
            lambda: sum(v["connected"] for v in standing()["validators"]) == 3, 30, "3 peers"
        )
        rows = standing()["validators"]
        own = [v for v in rows if v["is_self"]]
        assert len(rows) == 4 and len(own) == 1 and own[0]["name"] == "validator-0"
        # A quorum signs every certificate: at least three are in the latest one.
        assert sum(v["status"] == "active" for v in rows) >= 3
        page = c.http.get(url + "/v1/checkpoints?limit=2").json()
        top = page["checkpoints"][0]["height"]
        assert [cp["height"] for cp in page["checkpoints"]] == [top, top - 1]
        signers = c.http.get(url + f"/v1/checkpoints/{top - 1}/signers").json()
        assert signers["signed_power"] >= signers["quorum"] == 3
        assert {s["public_key"] for s in signers["signers"]} <= {v["public_key"] for v in rows}
        found = c.http.get(url + f"/v1/search?q={top}").json()["matches"]
        assert found == [{"kind": "checkpoint", "id": str(top), "url": f"/checkpoints/{top}"}]
        # Every validator is named: a devnet's node.json names its peers.
        assert {v["name"] for v in rows} == {f"validator-{i}" for i in range(4)}
        # A page that shows checkpoints asks the event stream for those alone.
        faucet = read_key(c.root / "keys" / "faucet.key")
        assert _event_types_seen(url, "checkpoint", faucet) == {"checkpoint"}
        assert "receipts" in _event_types_seen(url, None, faucet)


def _event_types_seen(url: str, types: str | None, key: SigningKey) -> set[str]:
    """The event types WS /v1/events(?types=) sends until the checkpoint after the one that
    made a new transfer final (whose receipts event, when sent, comes before it)."""
    ws_url = url.replace("http://", "ws://") + "/v1/events" + (f"?types={types}" if types else "")

    async def watch() -> set[str]:
        seen: set[str] = set()
        final_at: int | None = None
        async with websockets.connect(ws_url, max_size=None) as ws:
            with Client(url) as client:
                tx_id = client.submit(client.transfer(key, key.address, 1))
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    try:
                        event = json.loads(await asyncio.wait_for(ws.recv(), 1))
                    except TimeoutError:
                        continue
                    seen.add(event["type"])
                    if final_at is None:
                        final_at = client.tx(tx_id).get("checkpoint")
                    elif event["type"] == "checkpoint" and event["height"] > final_at:
                        return seen
        raise AssertionError(f"the transfer was not final in time; saw {seen}")

    return asyncio.run(watch())

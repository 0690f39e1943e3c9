"""Governance over HTTP, in-process: identities, proposals, services, audit, tx records."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.api.views import governance_events, tx_json
from govchain.node.devnet import create
from govchain.node.files import Home
from govchain.node.node import Node
from govchain.state.audit import AuditEntry
from govchain.state.payloads import (
    AddFilter,
    FreezeIdentity,
    Intercept,
    Redact,
    Release,
    ServiceRegisterPayload,
    SetParam,
    SuspendService,
)
from govchain.state.policy import RuleAction, keyword_rule
from govchain.state.receipts import Receipt
from ledgerkit import ALICE, BOB, CAROL, R0, R1, R2, Chain, outcomes
from test_api_fuzz import AppClient


@pytest.fixture()
def api(tmp_path: Path) -> Iterator[tuple[AppClient, Node, Chain]]:
    (node_dir,) = create(tmp_path / "net", 1, 0, 41_000)
    node = Node(Home(node_dir.home))  # not started: the app is driven directly
    chain = Chain()
    node.replica.ledger = chain.ledger  # the app reads the ledger on every request
    yield AppClient(node), node, chain
    node.store.close()


def _receipt(result_receipts: list[Receipt], tx_id: bytes) -> Receipt:
    return next(r for r in result_receipts if r.tx_id == tx_id)


def test_identity_unknown_registered_frozen_and_bad(api: tuple[AppClient, Node, Chain]) -> None:
    client, _, chain = api
    r = client.get(f"/v1/identities/{CAROL.address.hex()}")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert client.get("/v1/identities/XYZ").status_code == 400
    assert client.get("/v1/identities/" + "AB" * 20).status_code == 400
    chain.decide(FreezeIdentity(CAROL.address))  # never registered, yet frozen
    doc = client.get(f"/v1/identities/{CAROL.address.hex()}").json()
    assert doc["status"] == "frozen" and doc["frozen"] is True
    assert doc["kind"] is None and doc["tier"] == 0 and doc["frozen_by"]


def test_proposals_newest_first_bounded_and_by_id(api: tuple[AppClient, Node, Chain]) -> None:
    client, _, chain = api
    first = chain.decide(SetParam("hold_amount_min", 10))
    p = chain.propose(R0, FreezeIdentity(BOB.address), reason="open one", evidence=b"\x01" * 32)
    chain.run(p)
    docs = client.get("/v1/governance/proposals").json()["proposals"]
    assert [d["proposal_id"] for d in docs] == [p.id.hex(), first.id]
    assert docs[0]["status"] == "open" and docs[1]["status"] == "passed"
    assert docs[0]["action"] == {"name": "freeze-identity", "args": {"address": BOB.address.hex()}}
    assert docs[0]["evidence"] == "01" * 32
    assert docs[1]["enacted_height"] == docs[1]["decided_height"]
    assert len(client.get("/v1/governance/proposals?limit=1").json()["proposals"]) == 1
    only = client.get("/v1/governance/proposals?status=passed").json()["proposals"]
    assert [d["proposal_id"] for d in only] == [first.id]
    for bad in ("?limit=0", "?limit=x", "?status=weird"):
        assert client.get("/v1/governance/proposals" + bad).status_code == 400
    one = client.get(f"/v1/governance/proposals/{first.id}").json()
    assert one["status"] == "passed" and len(one["votes"]) == 2 and one["yes_weight"] == 2
    assert client.get("/v1/governance/proposals/" + "00" * 32).status_code == 404
    assert client.get("/v1/governance/proposals/nothex").status_code == 400


def test_a_keyword_filter_shows_hash_and_length_only(api: tuple[AppClient, Node, Chain]) -> None:
    client, _, chain = api
    p = chain.decide(AddFilter(keyword_rule("法轮功"), RuleAction.HOLD))
    doc = client.get(f"/v1/governance/proposals/{p.id}").json()
    rule = doc["action"]["args"]["rule"]
    assert rule["kind"] == "keyword" and rule["length"] == 3 and len(rule["hash"]) == 64
    assert "法" not in str(doc)
    assert doc["action"]["args"]["action"] == "hold"


def test_services_endpoint(api: tuple[AppClient, Node, Chain]) -> None:
    client, _, chain = api
    assert client.get("/v1/services/shop").status_code == 404
    assert client.get("/v1/services/Bad!").status_code == 400
    chain.run(chain.tx(ALICE, "service.register", ServiceRegisterPayload("shop", "")))
    doc = client.get("/v1/services/shop").json()
    assert doc["owner"] == ALICE.address.hex() and doc["status"] == "active"
    p = chain.decide(SuspendService("shop"))
    doc = client.get("/v1/services/shop").json()
    assert doc["status"] == "suspended" and doc["suspended_by"] == p.id


def test_tx_record_follows_release_interception_redaction_and_rules(
    api: tuple[AppClient, Node, Chain],
) -> None:
    _, _, chain = api
    ledger = chain.ledger
    param = chain.decide(SetParam("hold_amount_min", 10))
    big1, big2 = chain.transfer(ALICE, BOB, 20), chain.transfer(ALICE, BOB, 30)
    res = chain.run(big1, big2)
    assert outcomes(res) == ["held:held_amount", "held:held_amount"]
    h = res.height
    held = tx_json(big1, h, _receipt(res.receipts, big1.id), ledger)
    assert held["status"] == "held" and held["receipt"]["governance_ref"] == param.id
    released = chain.decide(Release(big1.id))
    intercepted = chain.decide(Intercept(big2.id))
    doc = tx_json(big1, h, _receipt(res.receipts, big1.id), ledger)
    assert doc["status"] == "executed"
    assert doc["receipt"]["governance_ref"] == released.id and doc["receipt"]["reason"] is None
    assert doc["held"]["governance_ref"] == param.id
    doc = tx_json(big2, h, _receipt(res.receipts, big2.id), ledger)
    assert doc["status"] == "rejected"
    assert doc["receipt"]["governance_ref"] == intercepted.id and doc["receipt"]["reason"]

    rule = chain.decide(AddFilter(keyword_rule("secret"), RuleAction.REJECT))
    bad, fine = chain.record(BOB, b"a SECRET plan"), chain.record(BOB, b"hello")
    res = chain.run(bad, fine)
    doc = tx_json(bad, res.height, _receipt(res.receipts, bad.id), ledger)
    assert doc["status"] == "rejected" and doc["payload"] is None
    assert doc["receipt"]["rule"] == "rule-1" and doc["receipt"]["governance_ref"] == rule.id
    doc = tx_json(fine, res.height, _receipt(res.receipts, fine.id), ledger)
    assert base64.b64decode(doc["payload"]) == fine.payload and doc["redacted"] is False
    # Not final yet but matching a rule in force: withheld already.
    pending = chain.record(CAROL, b"more secret things")
    assert tx_json(pending, None, None, ledger)["payload"] is None
    red = chain.decide(Redact(fine.id))
    doc = tx_json(fine, res.height, _receipt(res.receipts, fine.id), ledger)
    assert doc["redacted"] is True and doc["payload"] is None
    assert doc["status"] == "executed" and doc["redaction"]["proposal"] == red.id
    assert doc["receipt"]["governance_ref"] == red.id


def test_audit_endpoint_reads_the_store(
    api: tuple[AppClient, Node, Chain], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, node, chain = api
    kept: list[AuditEntry] = []
    p = chain.propose(R0, FreezeIdentity(CAROL.address))
    kept += chain.run(p).audit
    kept += chain.run(chain.vote(R1, p)).audit
    monkeypatch.setattr(
        node.store, "audit", lambda lo, hi: [e for e in kept if lo <= e.height <= hi]
    )
    doc = client.get("/v1/audit").json()
    assert [e["kind"] for e in doc["entries"]] == ["proposal", "vote", "freeze"]
    assert doc["entries"][1]["prev"] == doc["entries"][0]["hash"]
    assert doc["audit_head"] == chain.ledger.audit_head.hex() == doc["entries"][-1]["hash"]
    only = client.get("/v1/audit?from=2&to=2").json()["entries"]
    assert [e["kind"] for e in only] == ["vote", "freeze"]
    assert client.get("/v1/audit?from=x").status_code == 400
    assert client.get("/v1/audit?from=0").status_code == 400
    assert client.get("/v1/audit?from=1&to=20000").status_code == 200  # capped at the height


def test_governance_events_from_audit_entries() -> None:
    chain = Chain()
    p = chain.propose(R0, FreezeIdentity(CAROL.address))
    events = governance_events(chain.run(p).audit)
    assert [e["event"] for e in events] == ["proposal_opened"]
    res = chain.run(chain.vote(R1, p), chain.vote(R2, p))
    events = governance_events(res.audit)
    assert [e["event"] for e in events] == ["proposal_voted", "proposal_passed", "proposal_enacted"]
    assert events[-1]["kind"] == "freeze" and events[-1]["proposal"] == p.id.hex()


def test_openapi_describes_the_governance_endpoints(api: tuple[AppClient, Node, Chain]) -> None:
    client, _, _ = api
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/v1/identities/{address}",
        "/v1/services/{service_id}",
        "/v1/governance/proposals",
        "/v1/governance/proposals/{pid}",
        "/v1/audit",
        "/v1/validator-changes",
        "/v1/trace/{address}",
    ):
        assert "501" not in paths[path]["get"]["responses"], path
    assert "requestBody" in paths["/v1/trace"]["post"]


@settings(max_examples=150, deadline=None, database=None)
@given(
    value=st.text(
        st.characters(
            min_codepoint=33,
            max_codepoint=0x9FFF,
            exclude_categories=("Cc", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"),  # httpx refuses these
            exclude_characters="/?#%&\\",
        ),
        min_size=1,
        max_size=40,
    ),
    which=st.sampled_from(
        [
            "/v1/identities/{}",
            "/v1/services/{}",
            "/v1/governance/proposals/{}",
            "/v1/governance/proposals?limit={}",
            "/v1/governance/proposals?status={}",
            "/v1/audit?from={}",
            "/v1/audit?to={}",
            "/v1/validator-changes?to={}",
        ]
    ),
)
def test_any_governance_argument_gets_a_clear_answer(
    fuzz_api: AppClient, value: str, which: str
) -> None:
    r = fuzz_api.get(which.format(value))
    assert r.status_code in (200, 400, 404), (which, value, r.status_code)
    if r.status_code >= 400:
        assert set(r.json()["error"]) == {"code", "message"}


@pytest.fixture(scope="module")
def fuzz_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppClient]:
    (node_dir,) = create(tmp_path_factory.mktemp("govfuzz"), 1, 0, 42_000)
    node = Node(Home(node_dir.home))
    yield AppClient(node)
    node.store.close()

"""The state reads the explorer renders from (api/state_reads.py), in-process.

A real ledger executes a short history height by height into a node's store,
each height certified by the validator set in force (test_proof_trust's
CertifiedChain): transfers (one to oneself, one held then released), a
parameter set, content rules added and one removed, services registered. The
last height is executed but not yet certified. Every answer is checked against
what the chain holds and against its own OpenAPI schema.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, cast

import msgspec
import pytest

from conftest import AsgiClient
from govchain.api import app as app_module
from govchain.api import proof_doc as proof_doc_module
from govchain.api import state_reads
from govchain.api.app import build_app
from govchain.api.openapi import OPENAPI
from govchain.api.port import NodePort
from govchain.api.state_reads import (
    AUDIT_CHECK_HEIGHTS_MAX,
    audit_check,
    state_read_routes,
)
from govchain.apps.catalog import registry_for
from govchain.dag.tx import Transaction, payload_hash
from govchain.node.devnet import create
from govchain.node.files import Home, genesis_to_json
from govchain.node.node import Node
from govchain.replica.execution import Execution
from govchain.replica.outputs import ReplicaReady
from govchain.replica.view import ChainView
from govchain.state.audit import AuditEntry, AuditLog
from govchain.state.ledger import Ledger
from govchain.state.params import Params
from govchain.state.payloads import (
    AddFilter,
    AddValidator,
    Release,
    RemoveFilter,
    ServiceRegisterPayload,
    SetParam,
    SuspendService,
)
from govchain.state.policy import (
    MediaTypeRule,
    PayloadHashRule,
    RuleAction,
    SizeRule,
    keyword_hash,
    keyword_rule,
)
from govchain.state.receipts import prove
from govchain.storage.memory import MemoryStore
from govchain.trace.movements import escrow_of
from ledgerkit import ALICE, BOB, CAROL, Chain, genesis
from test_proof_trust import NEW, CertifiedChain

KEYWORD = "forbidden word"
SERVICES = ["shop-b", "atelier", "shop-a", "zoo_9"]


class Certified(CertifiedChain):
    """CertifiedChain whose heights may hold refused or held transactions, and whose
    last height may stay uncertified."""

    def run(self, *txs: Transaction) -> int:
        """Execute txs as the next height and certify it (decide the checkpoint after)."""
        h = self.execute(*txs)
        self._decide(h + 1)
        return h

    def execute(self, *txs: Transaction) -> int:
        """Execute txs as the next height; checkpoint h + 1 stays undecided."""
        h = self.chain.ledger.height + 1
        result = self.chain.run(*txs)
        ex = Execution(self.decided[h][0], tuple(txs), result)
        self.node.store.commit(ReplicaReady(executed=[ex], admitted=list(txs)))
        return h


@dataclass
class Served:
    """The node, its API in-process, and what the history put where."""

    node: Node
    cc: Certified
    http: AsgiClient
    txs: dict[str, Transaction]
    heights: dict[str, int]
    proposals: dict[str, str]  # name -> proposal id

    def get(self, url: str, status: int = 200) -> Any:
        """GET url's JSON document, which must answer `status`."""
        r = self.http.get(url)
        assert r.status_code == status, (url, r.text)
        return r.json()

    def bad(self, url: str, code: str) -> None:
        """url is a 400 with this code."""
        assert self.get(url, 400)["error"]["code"] == code, url


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("state-reads")
    (node_dir,) = create(root / "net", 1, 0, 42_900)
    home = Home(node_dir.home)
    home.genesis_path.write_text(json.dumps(genesis_to_json(genesis())))
    node = Node(home)  # not started: the app is driven directly
    cc = Certified(node)
    node.replica.ledger = cc.chain.ledger  # the view reads the ledger
    c = cc.chain
    txs = {
        "pay": c.transfer(ALICE, BOB, 5),
        "loop": c.transfer(BOB, BOB, 3),
        "on": c.transfer(BOB, CAROL, 2),
    }
    heights = {"pay": cc.run(txs["pay"], txs["loop"], txs["on"])}
    proposals: dict[str, str] = {}
    acts = {
        "param": SetParam("hold_amount_min", 30),
        "keyword": AddFilter(keyword_rule(KEYWORD), RuleAction.REJECT),
        "payload": AddFilter(PayloadHashRule(payload_hash(b"bad bytes")), RuleAction.HOLD),
        "size": AddFilter(SizeRule(10_000), RuleAction.REJECT),
        "media": AddFilter(MediaTypeRule("video/*"), RuleAction.HOLD),
    }
    for name, action in acts.items():  # one height each: rule ids follow this order
        heights[name] = cc.decide(action)
        proposals[name] = _last_proposal(c.ledger).id
    heights["remove"] = cc.decide(RemoveFilter("rule-3"))  # the size rule goes
    heights["validator"] = cc.decide(AddValidator(NEW[0].public_key))  # 5 certify later ones
    registering = [
        c.tx(key, "service.register", ServiceRegisterPayload(sid, ""))
        for key, sid in zip([ALICE, BOB, CAROL, ALICE], SERVICES, strict=True)
    ]
    txs["held"] = c.transfer(ALICE, CAROL, 40)
    heights["held"] = cc.run(*registering, txs["held"])
    heights["release"] = cc.decide(Release(txs["held"].id))
    proposals["release"] = _last_proposal(c.ledger).id
    cc.run()
    txs["late"] = c.transfer(CAROL, ALICE, 1)
    heights["late"] = cc.execute(txs["late"])  # executed, checkpoint h + 1 not decided
    with AsgiClient(build_app(node)) as http:
        yield Served(node, cc, http, txs, heights, proposals)
    node.store.close()


def _last_proposal(ledger: Ledger) -> Any:
    return ledger.proposals()[-1]


# -- a JSON schema checker for the subset the API's descriptions use ------------------
def _conforms(doc: Any, schema: dict[str, Any], where: str = "$") -> None:
    """Raise AssertionError naming the place where doc breaks schema."""
    if "anyOf" in schema:
        for option in schema["anyOf"]:
            try:
                _conforms(doc, option, where)
                return
            except AssertionError:
                continue
        raise AssertionError(f"{where}: {doc!r:.80} matches no option")
    kind = schema.get("type")
    checks = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: type(v) is int,
        "boolean": lambda v: type(v) is bool,
        "null": lambda v: v is None,
    }
    if kind is not None:
        assert checks[kind](doc), f"{where}: {doc!r:.80} is no {kind}"
    if "enum" in schema:
        assert doc in schema["enum"], f"{where}: {doc!r} not in {schema['enum']}"
    if "pattern" in schema:
        assert re.search(schema["pattern"], doc), f"{where}: {doc!r} breaks {schema['pattern']}"
    if "minimum" in schema:
        assert doc >= schema["minimum"], f"{where}: {doc} < {schema['minimum']}"
    if "maximum" in schema:
        assert doc <= schema["maximum"], f"{where}: {doc} > {schema['maximum']}"
    if kind == "object":
        for key in schema.get("required", []):
            assert key in doc, f"{where}: no {key!r}"
        for key, sub in schema.get("properties", {}).items():
            if key in doc:
                _conforms(doc[key], sub, f"{where}.{key}")
    if kind == "array":
        for i, item in enumerate(doc):
            _conforms(item, schema["items"], f"{where}[{i}]")


def _answers(s: Served, url: str, template: str) -> Any:
    """GET url (a 200) and check the answer against template's OpenAPI schema."""
    doc = s.get(url)
    op = OPENAPI["paths"][template]["get"]
    _conforms(doc, op["responses"]["200"]["content"]["application/json"]["schema"])
    return doc


# -- an account's history --------------------------------------------------------------
def _history(s: Served, address: bytes, limit: int) -> list[dict[str, Any]]:
    """Every movement of address, page by page (each page checked against the schema)."""
    out: list[dict[str, Any]] = []
    url = f"/v1/accounts/{address.hex()}/history?limit={limit}"
    while True:
        doc = _answers(s, url, "/v1/accounts/{address}/history")
        assert doc["address"] == address.hex()
        assert len(doc["movements"]) <= limit
        out += doc["movements"]
        if doc["next"] is None:
            return out
        assert len(doc["movements"]) == limit
        url = f"/v1/accounts/{address.hex()}/history?limit={limit}&before={doc['next']}"


def test_an_accounts_history_is_newest_first_and_ends_with_its_genesis_balance(
    served: Served,
) -> None:
    s = served
    got = _history(s, BOB.address, 25)
    h = s.heights
    assert [(m["height"], m["kind"], m["direction"], m["amount"]) for m in got] == [
        (h["pay"], "transfer", "out", 2),
        (h["pay"], "transfer", "self", 3),
        (h["pay"], "transfer", "in", 5),
        (0, "genesis", "in", 50),
    ]
    on, loop, pay, start = got
    assert (on["from"], on["to"], on["tx_id"]) == (BOB.address.hex(), CAROL.address.hex(),
                                                    s.txs["on"].id.hex())  # fmt: skip
    assert [m["balance_after"] for m in got] == [53, 55, 55, 50]
    assert (loop["position"], loop["seq"]) == (1, 0)
    assert start["tx_id"] is None  # no transaction made a genesis balance
    assert pay["tx_id"] == s.txs["pay"].id.hex()


def test_a_held_transfer_shows_as_escrow_then_release(served: Served) -> None:
    s = served
    got = _history(s, CAROL.address, 100)
    kinds = [(m["height"], m["kind"], m["direction"], m["amount"]) for m in got]
    assert kinds[1] == (s.heights["release"], "release", "in", 40)
    assert kinds[0] == (s.heights["late"], "transfer", "out", 1)  # executed, not certified yet
    release = got[1]
    assert release["tx_id"] == s.proposals["release"]  # the deciding proposal's transaction
    assert release["from"] == escrow_of(s.txs["held"].id).hex()
    escrow = _history(s, escrow_of(s.txs["held"].id), 100)
    assert [(m["kind"], m["direction"], m["balance_after"]) for m in escrow] == [
        ("release", "out", 0),
        ("escrow", "in", 40),
    ]


@pytest.mark.parametrize("limit", [1, 2, 3, 100])
def test_pages_of_any_size_meet_without_gap_or_repeat(served: Served, limit: int) -> None:
    for key in (ALICE, BOB, CAROL):
        assert _history(served, key.address, limit) == _history(served, key.address, 100)


def test_an_address_that_never_moved_has_an_empty_history(served: Served) -> None:
    doc = served.get(f"/v1/accounts/{'ab' * 20}/history")
    assert doc == {"address": "ab" * 20, "movements": [], "next": None}
    old = served.get(f"/v1/accounts/{ALICE.address.hex()}/history?before=0")
    assert old["movements"] == [] and old["next"] is None


@pytest.mark.parametrize(("query", "code"), [
    ("?limit=0", "bad_limit"), ("?limit=101", "bad_limit"), ("?limit=x", "bad_limit"),
    ("?limit=-1", "bad_limit"), ("?before=x", "bad_before"), ("?before=-5", "bad_before"),
    ("?before=" + "9" * 20, "bad_before"), ("?before=1.5", "bad_before"),
])  # fmt: skip
def test_bad_history_arguments_are_400s(served: Served, query: str, code: str) -> None:
    served.bad(f"/v1/accounts/{ALICE.address.hex()}/history{query}", code)
    served.bad(f"/v1/accounts/{ALICE.address.hex()[:-1]}/history", "bad_address")
    served.bad(f"/v1/accounts/{ALICE.address.hex().upper()}/history", "bad_address")


def test_a_cursor_of_nineteen_digits_is_taken(served: Served) -> None:
    doc = served.get(f"/v1/accounts/{ALICE.address.hex()}/history?before={'9' * 19}&limit=100")
    assert doc["movements"] == _history(served, ALICE.address, 100)


def test_a_store_without_a_backward_read_answers_501(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(served.node, "store", MemoryStore())
    doc = served.get(f"/v1/accounts/{ALICE.address.hex()}/history", 501)
    assert doc["error"]["code"] == "not_implemented"


# -- governance parameters and content rules ----------------------------------------------
def test_every_parameter_with_its_value_default_and_description(served: Served) -> None:
    s = served
    doc = _answers(s, "/v1/governance/params", "/v1/governance/params")
    g = s.node.genesis
    assert doc["height"] == s.cc.chain.ledger.height
    names = [p["name"] for p in doc["params"]]
    assert names == list(Params(g.threshold, g.committee_weight).specs)
    by_name = {p["name"]: p for p in doc["params"]}
    assert (
        by_name["hold_amount_min"]["value"] == 30 and by_name["hold_amount_min"]["default"] is None
    )
    assert by_name["participation_min"]["default"] == g.threshold == 2
    ttl = by_name["proposal_ttl_heights"]
    assert ttl["value"] == ttl["default"] == 3_600
    assert all(p["description"] for p in doc["params"])


def test_an_applications_parameters_are_listed_after_the_built_in_ones() -> None:
    g = msgspec.structs.replace(genesis(), apps=("warehouse",))
    registry = registry_for(g)
    ledger = Ledger(g, registry)
    node = SimpleNamespace(view=ChainView(cast(Any, SimpleNamespace(ledger=ledger))), genesis=g)
    (route,) = [r for r in state_read_routes(cast(NodePort, node)) if r.path.endswith("params")]
    with AsgiClient(_starlette(route)) as http:
        doc = http.get("/v1/governance/params").json()
    names = [p["name"] for p in doc["params"]]
    built_in = list(Params(g.threshold, g.committee_weight).specs)
    assert names[: len(built_in)] == built_in
    assert names[len(built_in) :] == list(registry.params) and registry.params
    by_name = {p["name"]: p for p in doc["params"]}
    assert all(by_name[n]["value"] == spec.default for n, spec in registry.params.items())


def _starlette(*routes: Any) -> Any:
    from starlette.applications import Starlette  # noqa: PLC0415

    return Starlette(routes=list(routes))


def test_content_rules_show_hashes_and_who_added_them_never_a_keyword(served: Served) -> None:
    s = served
    r = s.http.get("/v1/governance/rules")
    assert r.status_code == 200
    doc = _answers(s, "/v1/governance/rules", "/v1/governance/rules")
    ledger = s.cc.chain.ledger

    def added(name: str) -> tuple[str, int]:
        p = ledger.proposal(s.proposals[name])
        assert p is not None and p.enacted_height is not None
        return p.id, p.enacted_height

    assert doc["rules"] == [
        {"rule_id": "rule-1", "kind": "keyword", "hash": keyword_hash(KEYWORD).hex(),
         "added_by": added("keyword")[0], "height": added("keyword")[1]},
        {"rule_id": "rule-2", "kind": "payload_hash", "hash": payload_hash(b"bad bytes").hex(),
         "added_by": added("payload")[0], "height": added("payload")[1]},
        {"rule_id": "rule-4", "kind": "media_type", "hash": None,
         "added_by": added("media")[0], "height": added("media")[1]},
    ]  # fmt: skip
    assert added("keyword")[1] == s.heights["keyword"]
    for text in (KEYWORD, "forbidden", "forbiddenword"):  # nor its normalized form
        assert text not in r.text


# -- services ----------------------------------------------------------------------------
def test_services_by_id_in_pages(served: Served) -> None:
    s = served
    doc = _answers(s, "/v1/services", "/v1/services")
    assert [x["service_id"] for x in doc["services"]] == sorted(SERVICES)
    first = doc["services"][0]
    assert first == {"service_id": "atelier", "owner": BOB.address.hex(), "writer_role": None,
                     "registered_height": s.heights["held"], "status": "active",
                     "suspended_by": None}  # fmt: skip
    assert s.get("/v1/services/atelier") == first  # as the one-service read says
    seen: list[str] = []
    after = ""
    while True:
        page = s.get(f"/v1/services?limit=2{after}")["services"]
        seen += [x["service_id"] for x in page]
        if len(page) < 2:
            break
        after = f"&after={page[-1]['service_id']}"
    assert seen == sorted(SERVICES)
    assert s.get("/v1/services?after=shop")["services"][0]["service_id"] == "shop-a"
    assert s.get("/v1/services?after=zzz")["services"] == []


def test_the_services_list_follows_each_new_height() -> None:
    chain = Chain()
    view = ChainView(cast(Any, SimpleNamespace(ledger=chain.ledger)))
    node = SimpleNamespace(view=view, genesis=chain.ledger.genesis, store=None)
    app = _starlette(*state_read_routes(cast(NodePort, node)))

    def listed(http: AsgiClient) -> list[tuple[str, str]]:
        doc = http.get("/v1/services").json()
        assert doc["height"] == chain.ledger.height
        return [(x["service_id"], x["status"]) for x in doc["services"]]

    with AsgiClient(app) as http:
        assert listed(http) == []
        chain.run(chain.tx(ALICE, "service.register", ServiceRegisterPayload("b", "")))
        assert listed(http) == [("b", "active")]
        chain.run(chain.tx(BOB, "service.register", ServiceRegisterPayload("a", "")))
        assert listed(http) == [("a", "active"), ("b", "active")]
        chain.decide(SuspendService("b"))
        assert listed(http) == [("a", "active"), ("b", "suspended")]


@pytest.mark.parametrize(("query", "code"), [
    ("?after=", "bad_after"), ("?after=Shop", "bad_after"), ("?after=" + "a" * 65, "bad_after"),
    ("?after=a%20b", "bad_after"), ("?limit=0", "bad_limit"), ("?limit=1001", "bad_limit"),
])  # fmt: skip
def test_bad_service_arguments_are_400s(served: Served, query: str, code: str) -> None:
    served.bad("/v1/services" + query, code)


# -- the audit check ---------------------------------------------------------------------
def test_the_audit_chain_checks_out_against_the_certified_heads(served: Served) -> None:
    s = served
    top = s.heights["late"]
    doc = _answers(s, "/v1/audit/check", "/v1/audit/check")
    listed = s.get("/v1/audit")
    assert (doc["from"], doc["to"]) == (1, top) == (listed["from"], listed["to"])
    assert doc["valid"] is True and doc["first_bad_height"] is None
    assert doc["entries"] == len(listed["entries"]) > 0
    with_entries = {e["height"] for e in listed["entries"]}
    # before the range, each height with entries, and the range's end (not certified yet)
    assert doc["heads_checked"] == len({0} | with_entries)
    assert f"checkpoint {top + 1} is not decided" in doc["message"]
    certified = s.get(f"/v1/audit/check?from=2&to={top - 1}")
    assert certified["valid"] and "not certified" not in certified["message"]
    assert certified["heads_checked"] == len({1, top - 1} | (with_entries - {top}))
    quiet = s.get(f"/v1/audit/check?from={top}&to={top}")  # no entries, not certified
    assert quiet["valid"] and quiet["entries"] == 0


def test_an_empty_or_unexecuted_span_checks_nothing(served: Served) -> None:
    top = served.heights["late"]
    doc = served.get(f"/v1/audit/check?from={top + 1}")
    assert doc["valid"] and doc["entries"] == 0 and doc["heads_checked"] == 0
    assert served.get("/v1/audit/check?to=0")["heads_checked"] == 0


@pytest.mark.parametrize(("query", "code"), [
    ("?from=0", "bad_range"), ("?from=x", "bad_from"), ("?to=-1", "bad_to"),
    ("?from=" + "1" * 19, "bad_from"), ("?to=1e3", "bad_to"),
])  # fmt: skip
def test_bad_audit_check_arguments_are_400s(served: Served, query: str, code: str) -> None:
    served.bad("/v1/audit/check" + query, code)


def test_one_audit_check_spans_a_bounded_number_of_heights(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(state_reads, "AUDIT_CHECK_HEIGHTS_MAX", 3)
    top = served.heights["late"]
    served.bad("/v1/audit/check?from=1", "bad_range")
    doc = served.get("/v1/audit/check")  # by default the last 3
    assert (doc["from"], doc["to"]) == (top - 2, top)


def test_the_audit_check_spans_what_the_audit_read_spans() -> None:
    assert AUDIT_CHECK_HEIGHTS_MAX == app_module.AUDIT_HEIGHTS_MAX


def _log(heights: dict[int, int], top: int) -> tuple[list[AuditEntry], dict[int, bytes]]:
    """Entries appended at heights 1..top (height -> how many) and the head after each."""
    log = AuditLog()
    entries: list[AuditEntry] = []
    heads = {0: log.head}
    for h in range(1, top + 1):
        for i in range(heights.get(h, 0)):
            entries.append(log.append(h, "param_set", b"", f"param:p{h}_{i}", reason="r"))
        heads[h] = log.head
    return entries, heads


def test_an_altered_entry_is_found_at_its_height() -> None:
    entries, heads = _log({2: 1, 4: 2, 7: 1}, 9)
    certified = {h: heads[h] for h in (0, 2, 4, 7, 9)}
    assert audit_check(entries, certified, 1, 9, None)["valid"] is True
    altered = list(entries)
    altered[2] = msgspec.structs.replace(entries[2], reason="rewritten")  # the second at 4
    doc = audit_check(altered, certified, 1, 9, None)
    assert doc["valid"] is False and doc["first_bad_height"] == 4
    assert "altered" in doc["message"] or "hash to the head" in doc["message"]
    removed = entries[:1] + entries[3:]  # both entries of height 4 gone
    assert audit_check(removed, certified, 1, 9, None)["first_bad_height"] == 4
    last = list(entries)
    last[3] = msgspec.structs.replace(entries[3], subject="param:other")
    assert audit_check(last, certified, 1, 9, None)["first_bad_height"] == 7


def test_a_head_certified_otherwise_is_found_and_an_uncertified_end_is_said() -> None:
    entries, heads = _log({3: 1, 5: 1}, 6)
    forged = {0: heads[0], 3: heads[3], 5: b"\x05" * 32, 6: heads[6]}
    doc = audit_check(entries, forged, 1, 6, None)
    assert (doc["valid"], doc["first_bad_height"]) == (False, 5)
    open_end = {h: heads[h] for h in (0, 3)}
    doc = audit_check(entries, open_end, 1, 5, heads[5])
    assert doc["valid"] and doc["heads_checked"] == 2 and "not certified yet" in doc["message"]
    doc = audit_check(entries, open_end, 1, 5, b"\x01" * 32)  # its own head disagrees
    assert (doc["valid"], doc["first_bad_height"]) == (False, 5)


# -- the proof check ---------------------------------------------------------------------
def test_a_final_transactions_proof_checks_out_with_the_nodes_genesis(served: Served) -> None:
    s = served
    tx_id = s.txs["pay"].id.hex()
    doc = _answers(s, f"/v1/txs/{tx_id}/proof/check", "/v1/txs/{tx_id}/proof/check")
    assert doc["tx_id"] == tx_id and doc["valid"] is True and doc["error"] is None
    words = " | ".join(doc["checked"])
    for part in ("genesis", "signature", "receipts root", "4 of 4 validators signed",
                 f"checkpoint {s.heights['pay'] + 1}", "from the genesis through 0"):  # fmt: skip
        assert part in words, words
    held = s.get(f"/v1/txs/{s.txs['held'].id.hex()}/proof/check")
    assert held["valid"] and any("(held," in w for w in held["checked"])
    release = s.get(f"/v1/txs/{s.proposals['release']}/proof/check")  # after the change
    words = " | ".join(release["checked"])
    assert release["valid"] and "5 of 5 validators signed" in words, words
    assert "from the genesis through 1 certified change" in words, words


def test_a_proof_that_does_not_hold_is_reported_not_raised(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A node whose receipts path is wrong (here: another receipt's) says so."""

    def wrong(receipts: Any, index: int) -> Any:
        return prove(receipts, (index + 1) % len(receipts))

    monkeypatch.setattr(proof_doc_module, "prove", wrong)
    doc = served.get(f"/v1/txs/{served.txs['pay'].id.hex()}/proof/check")
    assert doc["valid"] is False and doc["checked"] == []
    assert "receipt" in doc["error"]


def test_the_proof_check_answers_as_the_proof_does_when_there_is_none(served: Served) -> None:
    s = served
    late = s.txs["late"].id.hex()
    for path in (f"/v1/txs/{late}/proof", f"/v1/txs/{late}/proof/check"):
        assert s.get(path, 409)["error"]["code"] == "not_yet_provable"
    for path in ("/v1/txs/" + "0" * 64 + "/proof", "/v1/txs/" + "0" * 64 + "/proof/check"):
        assert s.get(path, 404)["error"]["code"] == "not_found"
    s.bad("/v1/txs/abc/proof/check", "bad_tx_id")
    s.bad("/v1/txs/" + "A" * 64 + "/proof/check", "bad_tx_id")


# -- the description ---------------------------------------------------------------------
def test_the_openapi_describes_each_read_with_its_bounds() -> None:
    paths = OPENAPI["paths"]

    def query(path: str, name: str) -> dict[str, Any]:
        (found,) = [p for p in paths[path]["get"]["parameters"] if p["name"] == name]
        return cast(dict[str, Any], found["schema"])

    assert query("/v1/accounts/{address}/history", "limit") == {
        "type": "integer", "minimum": 1, "maximum": 100,
    }  # fmt: skip
    assert query("/v1/accounts/{address}/history", "before")["pattern"] == "^[0-9]{1,19}$"
    assert query("/v1/services", "limit")["maximum"] == 1_000
    assert query("/v1/services", "after")["pattern"] == "^[a-z0-9_-]{1,64}$"
    assert query("/v1/audit/check", "from")["minimum"] == 1
    for path in ("/v1/governance/params", "/v1/governance/rules"):
        assert "parameters" not in paths[path]["get"]
    assert "409" in paths["/v1/txs/{tx_id}/proof/check"]["get"]["responses"]


def test_every_route_here_is_described(served: Served) -> None:
    node = cast(NodePort, served.node)
    described = set(OPENAPI["paths"])
    assert {r.path for r in state_read_routes(node)} <= described

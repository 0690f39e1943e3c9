"""The API's reads added for devnet users, in-process.

Ids by prefix, decoded payloads, an account's freeze and holds, the pace of
checkpoints, and what a proof waits for.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from govchain.api import app as app_module
from govchain.api.decoded import decoded_view, with_decoded
from govchain.api.views import tx_json
from govchain.codec import encode
from govchain.crypto.keys import SigningKey
from govchain.dag.limits import DagLimits
from govchain.dag.tx import Transaction, build
from govchain.node.devnet import create
from govchain.node.files import Home, read_key
from govchain.node.node import Node
from govchain.state.catalog import BUILTIN
from govchain.state.payloads import (
    FreezeIdentity,
    RecordPayload,
    SetParam,
    TransferPayload,
)
from ledgerkit import ALICE, BOB, CAROL, R0, Chain
from test_api_fuzz import AppClient

STAMP_BITS = DagLimits().stamp_bits_min


@pytest.fixture()
def api(tmp_path: Path) -> Iterator[tuple[AppClient, Node, SigningKey]]:
    (node_dir,) = create(tmp_path / "net", 1, 0, 42_000)
    node = Node(Home(node_dir.home))  # not started: the app is driven directly
    faucet = read_key(tmp_path / "net" / "keys" / "faucet.key")
    yield AppClient(node), node, faucet
    node.store.close()


def _transfer(node: Node, key: SigningKey, nonce: int, to: bytes, amount: int) -> Transaction:
    return build(
        key,
        chain_id=node.genesis.chain_id,
        kind="transfer",
        nonce=nonce,
        parents=[node.genesis.hash],
        valid_until=1_000,
        payload=encode(TransferPayload(to, amount)),
        stamp_bits_min=STAMP_BITS,
    )


def _admit(node: Node, txs: list[Transaction]) -> None:
    for tx in txs:
        node.replica.submit(tx.to_wire(), 0)


# -- ids by prefix ----------------------------------------------------------------
def test_a_pending_and_then_stored_transaction_is_found_by_its_prefix(
    api: tuple[AppClient, Node, SigningKey],
) -> None:
    client, node, faucet = api
    tx = _transfer(node, faucet, 0, BOB.address, 5)
    prefix = tx.id.hex()[:8]
    assert client.get(f"/v1/txs?prefix={prefix}").json()["tx_ids"] == []
    _admit(node, [tx])  # admitted: in the DAG, not stored yet
    doc = client.get(f"/v1/txs?prefix={prefix}").json()
    assert doc == {"prefix": prefix, "tx_ids": [tx.id.hex()], "more": False}
    node.store.commit(node.replica.ready())  # now stored too: still once
    assert node.store.tx_ids_with_prefix(prefix, 16) == [tx.id]
    assert client.get(f"/v1/txs?prefix={tx.id.hex()}").json()["tx_ids"] == [tx.id.hex()]


def test_matches_are_bounded_and_say_there_are_more(
    api: tuple[AppClient, Node, SigningKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, node, faucet = api
    txs = [_transfer(node, faucet, n, BOB.address, 1 + n) for n in range(6)]
    _admit(node, txs)
    node.store.commit(node.replica.ready())
    # Eight digits never collide among six ids: let one digit do, to see the bound.
    monkeypatch.setattr(app_module, "ID_PREFIX_CHARS_MIN", 1)
    monkeypatch.setattr(app_module, "ID_MATCHES_MAX", 2)
    ids = sorted(tx.id.hex() for tx in txs)
    for digit in "0123456789abcdef":
        want = [i for i in ids if i.startswith(digit)]
        doc = client.get(f"/v1/txs?prefix={digit}").json()
        assert doc["tx_ids"] == want[:2] and doc["more"] is (len(want) > 2)


@pytest.mark.parametrize("bad", ["", "?prefix=", "?prefix=abc", "?prefix=ABCDEF12",
                                 "?prefix=zzzzzzzz", "?prefix=" + "0" * 65])  # fmt: skip
def test_a_bad_prefix_is_a_400(api: tuple[AppClient, Node, SigningKey], bad: str) -> None:
    client, _, _ = api
    r = client.get("/v1/txs" + bad)
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_prefix"
    r = client.get("/v1/governance/proposals" + (bad or "?prefix=1"))
    assert r.status_code == 400


def test_proposals_by_prefix(api: tuple[AppClient, Node, SigningKey]) -> None:
    client, node, _ = api
    chain = Chain()
    node.replica.ledger = chain.ledger
    first = chain.decide(SetParam("hold_amount_min", 10))
    p = chain.propose(R0, FreezeIdentity(BOB.address), reason="second")
    chain.run(p)
    for pid in (first.id, p.id.hex()):
        docs = client.get(f"/v1/governance/proposals?prefix={pid[:8]}").json()["proposals"]
        assert [d["proposal_id"] for d in docs] == [pid]
    assert client.get("/v1/governance/proposals?prefix=" + "0" * 64).json()["proposals"] == []


# -- decoded payloads ---------------------------------------------------------------
def test_the_record_of_a_transfer_carries_its_decoded_view(
    api: tuple[AppClient, Node, SigningKey],
) -> None:
    client, node, faucet = api
    tx = _transfer(node, faucet, 0, BOB.address, 250)
    _admit(node, [tx])
    doc = client.get(f"/v1/txs/{tx.id.hex()}").json()
    assert doc["decoded"] == {"to": BOB.address.hex(), "amount": 250}
    assert base64.b64decode(doc["payload"]) == tx.payload  # the raw bytes stay
    for field in ("tx_id", "sender", "kind", "status", "checkpoint", "receipt", "redacted"):
        assert field in doc


def test_decoded_views_of_each_kind() -> None:
    chain = Chain()
    text = chain.record(ALICE, "héllo ledger".encode())
    view = decoded_view("record", text.payload, BUILTIN)
    assert view == {"service": None, "media_type": "text/plain", "size_bytes": 13,
                    "text": "héllo ledger"}  # fmt: skip
    binary = encode(RecordPayload("shop", "application/octet-stream", b"\xff\xfe"))
    assert decoded_view("record", binary, BUILTIN) == {
        "service": "shop", "media_type": "application/octet-stream", "size_bytes": 2,
        "text": None,
    }  # fmt: skip
    p = chain.propose(R0, FreezeIdentity(CAROL.address), reason="fraud")
    view = decoded_view("gov.propose", p.payload, BUILTIN)
    assert view is not None
    assert view["action"] == {"name": "freeze-identity", "args": {"address": CAROL.address.hex()}}
    assert view["reason"] == "fraud" and view["emergency"] is False
    v = chain.vote(R0, p, yes=False)
    assert decoded_view("gov.vote", v.payload, BUILTIN) == {"proposal": p.id.hex(), "vote": "no"}
    assert decoded_view("transfer", b"\x01garbage", BUILTIN) is None
    assert decoded_view("no.such.kind", b"", BUILTIN) is None


def test_a_payload_not_served_has_no_decoded_view() -> None:
    chain = Chain()
    tx = chain.record(BOB, b"to be redacted")
    doc = with_decoded(tx_json(tx, None, None, chain.ledger), tx, BUILTIN)
    assert doc["decoded"]["text"] == "to be redacted"
    gone = with_decoded({**doc, "payload": None}, tx, BUILTIN)
    assert gone["decoded"] is None


# -- accounts -----------------------------------------------------------------------
def test_an_account_shows_its_freeze_and_its_holds(
    api: tuple[AppClient, Node, SigningKey],
) -> None:
    client, node, _ = api
    chain = Chain()
    node.replica.ledger = chain.ledger
    chain.decide(SetParam("hold_amount_min", 10))
    big = chain.transfer(ALICE, BOB, 20)
    chain.run(big)
    out = client.get(f"/v1/accounts/{ALICE.address.hex()}/holds").json()
    assert [(h["tx_id"], h["direction"], h["amount"]) for h in out["holds"]] == [
        (big.id.hex(), "out", 20)
    ]
    assert out["holds"][0]["status"] == "held" and out["more"] is False
    into = client.get(f"/v1/accounts/{BOB.address.hex()}/holds").json()["holds"]
    assert [h["direction"] for h in into] == ["in"]
    acct = client.get(f"/v1/accounts/{BOB.address.hex()}").json()
    assert acct["frozen"] is False and acct["frozen_amount"] == 0
    chain.decide(FreezeIdentity(BOB.address))
    acct = client.get(f"/v1/accounts/{BOB.address.hex()}").json()
    assert acct["frozen"] is True and acct["frozen_amount"] == acct["balance"] > 0
    assert client.get("/v1/accounts/XYZ/holds").status_code == 400


# -- pace -----------------------------------------------------------------------------
class _Checkpoints:
    def __init__(self, times_ms: list[int]) -> None:
        self.times_ms = times_ms

    def get_checkpoint(self, height: int) -> tuple[Any, None] | None:
        if not 1 <= height <= len(self.times_ms):
            return None
        return SimpleNamespace(time_ms=self.times_ms[height - 1]), None


def _pace(times_ms: list[int]) -> float | None:
    view = SimpleNamespace(height=len(times_ms))
    node = SimpleNamespace(view=view, store=_Checkpoints(times_ms))
    return app_module._seconds_per_checkpoint(cast(Node, node))


def test_seconds_per_checkpoint_is_the_mean_spacing_of_the_last_64() -> None:
    assert _pace([]) is None and _pace([1_000]) is None
    assert _pace([1_000, 3_000]) == 2.0
    slow_then_fast = [i * 10_000 for i in range(100)] + [1_000_000 + i * 500 for i in range(64)]
    assert _pace(slow_then_fast) == 0.5  # the 64 newest only


def test_status_reports_the_pace(api: tuple[AppClient, Node, SigningKey]) -> None:
    client, _, _ = api
    assert client.get("/v1/status").json()["seconds_per_checkpoint"] is None


# -- proofs ---------------------------------------------------------------------------
def test_a_proof_of_an_unknown_or_pending_transaction(
    api: tuple[AppClient, Node, SigningKey],
) -> None:
    client, node, faucet = api
    r = client.get(f"/v1/txs/{'00' * 32}/proof")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    tx = _transfer(node, faucet, 0, BOB.address, 5)
    _admit(node, [tx])
    r = client.get(f"/v1/txs/{tx.id.hex()}/proof")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_final"


def test_the_openapi_describes_the_new_reads(api: tuple[AppClient, Node, SigningKey]) -> None:
    client, _, _ = api
    paths = client.get("/openapi.json").json()["paths"]
    assert "get" in paths["/v1/txs"] and "post" in paths["/v1/txs"]
    assert "/v1/accounts/{address}/holds" in paths
    names = [p["name"] for p in paths["/v1/governance/proposals"]["get"]["parameters"]]
    assert "prefix" in names


def test_a_wrong_method_gets_405_naming_the_allowed_ones(
    api: tuple[AppClient, Node, SigningKey],
) -> None:
    client, _, _ = api
    r = client._call("DELETE", "/v1/txs")
    assert r.status_code == 405 and set(r.headers["allow"].replace(" ", "").split(",")) == {
        "GET", "HEAD", "POST"
    }  # fmt: skip
    r = client.get("/v1/txs/batch")
    assert r.status_code == 405 and r.headers["allow"] == "POST"


def test_path_parameters_are_described_as_the_api_takes_them(
    api: tuple[AppClient, Node, SigningKey],
) -> None:
    client, _, _ = api
    paths = client.get("/openapi.json").json()["paths"]
    schema = paths["/v1/accounts/{address}"]["get"]["parameters"][0]["schema"]
    assert schema["pattern"] == "^[0-9a-f]{40}$"
    schema = paths["/v1/checkpoints/{height}"]["get"]["parameters"][0]["schema"]
    assert schema["pattern"] == "^(latest|[0-9]{1,18})$"

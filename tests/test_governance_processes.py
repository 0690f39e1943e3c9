"""Each governance measure end to end on a 4-validator devnet, through the CLI and HTTP only.

One devnet serves the module; each test uses its own accounts, so the measures do
not interfere. Order matters only at the ends: hold_amount_min (1000) stays set
after the hold test, so every other transfer is smaller; validator removal leaves
3 validators; the last test stops the devnet to search its files at rest for the
bytes the redaction test removed.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import io
import json
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from govchain.node.files import read_key
from govchain.sdk.client import Client
from govchain.sdk.errors import SdkError
from govprocs import FINAL_S, GovNet, files_containing, wait_for
from procs import cluster

SMALL = 500  # funding below hold_amount_min, whatever the order of the tests


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GovNet]:
    root = tmp_path_factory.mktemp("gov")
    with cluster(root / "net", validators=4) as c:
        yield GovNet(c, root)


def _address() -> str:
    """A fresh address nobody holds the key of: a payee."""
    return secrets.token_hex(20)


def _proof(net: GovNet, tx_id: str, out: Path) -> None:
    """`govchain proof TX_ID --out FILE`, once the checkpoint after the tx's is decided."""
    url = net.c.url(0) + f"/v1/txs/{tx_id}/proof"
    wait_for(lambda: net.c.http.get(url).status_code == 200, FINAL_S, "a proof to exist")
    wait_for(lambda: net.cli("proof", tx_id, "--out", str(out))[0] == 0, FINAL_S, "the proof")


def _identity_status(net: GovNet, address: str, node: int) -> str | None:
    r = net.c.http.get(net.c.url(node) + f"/v1/identities/{address}")
    if r.status_code == 404:
        return None
    assert r.status_code == 200, (r.status_code, r.text[:300])
    return str(r.json()["status"])


def test_freeze_rejects_the_identity_s_transfers_until_unfreeze(net: GovNet) -> None:
    [(x_key, x)] = net.funded("frozen", SMALL)
    y = _address()
    pid = net.propose("freeze-identity", x, reason="court order 1")
    assert net.ok("gov", "show", pid)["status"] == "open"  # one vote of threshold 2
    assert net.vote(pid, "yes", by="regulator-2") == "passed"
    assert net.ok("gov", "show", pid)["status"] == "passed"
    listed = net.ok("gov", "list")
    assert pid in json.dumps(listed)
    for i in range(len(net.c.nodes)):
        wait_for(lambda i=i: _identity_status(net, x, i) == "frozen", FINAL_S, f"frozen on {i}")
    rec = net.transfer(x_key, y, 10)
    assert rec["status"] == "rejected"
    assert rec["receipt"]["reason"]
    assert rec["receipt"]["governance_ref"] == pid
    net.wait_everywhere(rec["tx_id"], lambda d: d["status"] == "rejected", "the rejection")
    assert net.balance(x) == SMALL
    assert net.balance(y) == 0

    unfreeze = net.passed("unfreeze-identity", x, reason="order lifted")
    assert unfreeze != pid
    assert _identity_status(net, x, 0) != "frozen"
    rec = net.transfer(x_key, y, 10)
    assert rec["status"] == "executed", rec
    assert net.balance(y) == 10
    assert net.balance(x) == SMALL - 10


def test_hold_then_release_and_intercept(net: GovNet) -> None:
    [(s_key, s)] = net.funded("holder", 20_000)  # before the parameter is set
    r1, r2 = _address(), _address()
    param = net.passed("set-param", "hold_amount_min", "1000", reason="review large transfers")

    held = net.transfer(s_key, r1, 5000)
    assert held["status"] == "held", held
    assert held["receipt"]["governance_ref"] == param
    assert net.balance(r1) == 0
    assert net.balance(s) == 15_000
    net.passed("release", held["tx_id"], reason="reviewed: fine")
    net.wait_everywhere(held["tx_id"], lambda d: d["status"] == "executed", "release")
    assert net.balance(r1) == 5000

    second = net.transfer(s_key, r2, 5000)
    assert second["status"] == "held", second
    assert net.balance(s) == 10_000
    net.passed("intercept", second["tx_id"], reason="reviewed: fraud")
    net.wait_everywhere(second["tx_id"], lambda d: d["status"] == "rejected", "interception")
    assert net.balance(s) == 15_000  # the amount came back
    assert net.balance(r2) == 0
    # For good: releasing it afterwards changes nothing.
    net.passed("release", second["tx_id"], reason="try to undo the interception")
    assert net.show(second["tx_id"])["status"] == "rejected"
    assert net.balance(r2) == 0
    assert net.balance(s) == 15_000


def test_a_keyword_filter_rejects_chinese_text_without_word_boundaries(net: GovNet) -> None:
    w_key, _ = net.new_key("writer")  # the open layer: an unfunded account may write
    pid = net.passed("add-filter", "--keyword", "法轮功", reason="court order 2026-17")

    plain = net.record(w_key, "我们今天在公园里讨论法轮功的问题好吗")
    spaced = net.record(w_key, "他说：法 轮·功，不是吗")  # noqa: RUF001
    unrelated = net.record(w_key, "今天天气很好，我们去公园散步")  # noqa: RUF001

    for rec in (plain, spaced):
        assert rec["status"] == "rejected", rec
        assert rec["receipt"]["rule"].startswith("rule-"), rec
        assert rec["receipt"]["governance_ref"] == pid
        assert rec["receipt"]["reason"]
        shown = net.show(rec["tx_id"])
        assert shown["payload"] is None
        assert shown["receipt"]["rule"] == rec["receipt"]["rule"]
        never_served = lambda d: d["status"] == "rejected" and d["payload"] is None  # noqa: E731
        net.wait_everywhere(rec["tx_id"], never_served, "no payload")
    assert plain["receipt"]["rule"] == spaced["receipt"]["rule"]
    assert unrelated["status"] == "executed", unrelated
    assert unrelated["receipt"]["rule"] is None
    shown = net.show(unrelated["tx_id"])
    assert "今天天气很好".encode() in base64.b64decode(shown["payload"])


def test_service_suspension_and_resumption(net: GovNet) -> None:
    o_key, _ = net.new_key("owner")
    service = f"shop-{secrets.token_hex(4)}"
    rc, reg = net.cli("service", "register", service, "--key", o_key, "--wait")
    assert rc == 0, reg
    assert reg["status"] == "executed", reg

    first = net.record(o_key, "order 1", "--service", service)
    assert first["status"] == "executed", first
    pid = net.passed("suspend-service", service, reason="licence expired")
    second = net.record(o_key, "order 2", "--service", service)
    assert second["status"] == "rejected", second
    assert second["receipt"]["governance_ref"] == pid
    assert second["receipt"]["reason"]
    net.passed("resume-service", service, reason="licence renewed")
    third = net.record(o_key, "order 3", "--service", service)
    assert third["status"] == "executed", third


# Heights, about 1 a second; the margin covers a transfer's --wait on a busy 2-core box.
EMERGENCY_TTL = 20


def test_emergency_freeze_lapses_unless_ratified(net: GovNet) -> None:
    ttl = str(EMERGENCY_TTL)
    net.passed("set-param", "emergency_ttl_heights", ttl, reason="short emergencies")
    (lapse_key, lapse), (kept_key, kept) = net.funded("emergency", SMALL, SMALL)
    payee = _address()

    # One regulator alone: effective at once, open for ratification.
    ratified = net.propose("freeze-identity", kept, "--emergency", reason="urgent 1")
    assert net.vote(ratified, "yes", by="regulator-3") == "passed"
    lapsing = net.propose("freeze-identity", lapse, "--emergency", reason="urgent 2")
    rec = net.transfer(lapse_key, payee, 1)
    assert rec["status"] == "rejected", rec
    assert rec["receipt"]["governance_ref"] == lapsing
    assert _identity_status(net, lapse, 0) == "frozen"
    assert net.proposal_status(lapsing) == "open"

    ratified_at = net.show(ratified)["checkpoint"]
    wait_for(lambda: net.proposal_status(lapsing) == "expired", 60, "the emergency to lapse")
    deadline = ratified_at + EMERGENCY_TTL + 2
    wait_for(lambda: net.height() >= deadline, 60, "the ratified one's ttl to pass")
    rec = net.transfer(lapse_key, payee, 1)
    assert rec["status"] == "executed", rec
    assert _identity_status(net, lapse, 0) != "frozen"

    rec = net.transfer(kept_key, payee, 1)
    assert rec["status"] == "rejected", rec
    assert rec["receipt"]["governance_ref"] == ratified
    assert net.proposal_status(ratified) == "passed"
    assert _identity_status(net, kept, 0) == "frozen"
    assert net.balance(payee) == 1


def _audit_entries(doc: Any) -> list[dict[str, Any]]:
    """The entries of an export, wherever the document keeps them."""
    if isinstance(doc, list):
        return [e for e in doc if isinstance(e, dict)]
    for key in ("entries", "audit", "items"):
        if isinstance(doc.get(key), list):
            return list(doc[key])
    raise AssertionError(f"no entries in the export: {list(doc)}")


def test_audit_export_verifies_and_detects_an_edit(net: GovNet) -> None:
    pid = net.passed("set-param", "audit_retention_days", "200", reason="keep longer")
    out = net.work / "audit.json"
    last: list[Any] = []

    def enacted(e: dict[str, Any]) -> bool:
        # The enactment's own entry: the proposal's opening and votes name pid too, and
        # come heights earlier, so an export holding them may not hold the enactment yet.
        return e.get("proposal") == pid and e.get("kind") == "param_set"

    def in_log() -> bool:
        return any(enacted(e) for e in net.get("/v1/audit")["entries"])

    wait_for(in_log, FINAL_S, "the set-param enactment in GET /v1/audit")

    def exported() -> bool:  # the enactment's entries, once a checkpoint certifies them
        rc, doc = net.cli("audit", "export", "--format", "json", "--out", str(out))
        last[:] = [rc, doc]
        entries = _audit_entries(json.loads(out.read_text())) if rc == 0 else []
        return any(enacted(e) for e in entries)

    with contextlib.suppress(AssertionError):
        wait_for(exported, FINAL_S, "the set-param enactment in the audit export")
    assert exported(), last
    doc = json.loads(out.read_text())
    entries = _audit_entries(doc)
    kinds = {e["kind"] for e in entries}
    assert {"proposal", "vote", "param_set"} <= kinds, kinds
    assert [e["seq"] for e in entries] == list(
        range(entries[0]["seq"], entries[0]["seq"] + len(entries))
    )
    genesis = str(net.c.nodes[0].home / "genesis.json")
    rc, ok = net.offline("audit", "verify", str(out), "--genesis", genesis)
    assert rc == 0, ok

    edited = next(e for e in entries if e.get("proposal") == pid)
    edited["reason"] = edited["reason"] + " (edited)"
    out.write_text(json.dumps(doc))
    rc, err = net.offline("audit", "verify", str(out), "--genesis", genesis)
    assert rc == 1, err
    assert err["error"]["code"]

    csv_file = net.work / "audit.csv"
    span = ("--from", str(doc["from"]), "--to", str(doc["to"]))  # the same range as the json
    net.ok("audit", "export", "--format", "csv", *span, "--out", str(csv_file))
    rows = list(csv.DictReader(io.StringIO(csv_file.read_text())))
    assert len(rows) == len(entries)  # one row per entry
    by_seq = {int(r["seq"]): r for r in rows}
    assert sorted(by_seq) == [e["seq"] for e in entries]
    assert by_seq[edited["seq"]]["reason"] == edited["reason"].removesuffix(" (edited)")


def test_redaction_removes_the_bytes_from_every_node_and_the_proof_still_verifies(
    net: GovNet,
) -> None:
    w_key, _ = net.new_key("redacted-writer")
    marker = f"MARKER-{secrets.token_hex(16)}"
    rec = net.record(w_key, f"personal data {marker} end")
    assert rec["status"] == "executed", rec
    tx_id = rec["tx_id"]
    net.wait_everywhere(tx_id, lambda d: d["status"] == "executed", "the record")
    homes = [n.home for n in net.c.nodes]
    assert any(files_containing(h, marker.encode()) for h in homes)  # the search can find it

    pid = net.passed("redact", tx_id, reason="personal data, erasure request")
    net.wait_everywhere(tx_id, lambda d: d["redacted"] is True and d["payload"] is None, "redacted")
    shown = net.show(tx_id)
    assert shown["status"] == "executed"
    assert shown["redacted"] is True and shown["payload"] is None
    assert pid in json.dumps(shown)  # the record names the decision

    proof = net.work / "redacted-proof.json"
    _proof(net, tx_id, proof)
    genesis = str(net.c.nodes[0].home / "genesis.json")
    rc, ok = net.offline("verify", str(proof), "--genesis", genesis)
    assert rc == 0, ok
    assert ok["valid"] is True
    assert marker.encode() not in proof.read_bytes()

    net.redacted_markers.append(marker.encode())

    def holding() -> list[str]:
        return [f for h in homes for f in files_containing(h, marker.encode())]

    with contextlib.suppress(AssertionError):  # allow a few seconds for every node
        wait_for(lambda: not holding(), 15, "no node's files to hold the marker")
    assert not holding(), "running nodes' files still hold the marker"


def test_a_node_down_during_a_redaction_catches_up_without_the_bytes(net: GovNet) -> None:
    w_key, _ = net.new_key("late-writer")
    marker = f"MARKER-{secrets.token_hex(16)}".encode()
    late, up = 2, [0, 1, 3]
    net.c.kill9(late)  # 3 of 4 validators still certify
    try:
        rec = net.record(w_key, f"personal data {marker.decode()} end")
        assert rec["status"] == "executed", rec
        net.passed("redact", rec["tx_id"], reason="erasure request, one node down")
        net.wait_everywhere(rec["tx_id"], lambda d: d["redacted"] is True, "redacted", up)
    finally:
        net.c.start(late)
        net.c.wait_api(late)
    net.redacted_markers.append(marker)
    target = net.height()
    wait_for(lambda: net.height(late) >= target, 60, "the restarted node to catch up")
    shown = net.show(rec["tx_id"], node=late)
    assert shown["status"] == "executed"
    assert shown["redacted"] is True and shown["payload"] is None
    # The late node may have stored the record before its redaction was
    # certified (peers serve validators the bytes until then); its purge and
    # WAL truncation follow within a few commits, as for the running nodes above.
    home = net.c.nodes[late].home
    with contextlib.suppress(AssertionError):
        wait_for(lambda: not files_containing(home, marker), 15, "the late node's files to clear")
    found = files_containing(home, marker)
    assert not found, found


def test_validator_removal_under_load(net: GovNet) -> None:
    [(load_key, _)] = net.funded("load", 900)
    sender = read_key(Path(load_key))
    rc, shown = net.offline("keys", "show", net.key("validator-3"))
    assert rc == 0, shown
    victim = shown["public_key"]
    assert victim in net.ok("status")["validators"]
    submitted: list[str] = []
    errors: list[str] = []
    stop = threading.Event()

    def load() -> None:  # a client that keeps sending through POST /v1/txs
        with Client(net.c.url(1)) as client:
            while not stop.is_set():
                try:
                    submitted.append(client.submit(client.transfer(sender, b"\x42" * 20, 1)))
                except SdkError as exc:
                    errors.append(exc.code)
                stop.wait(0.3)

    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    try:
        wait_for(lambda: len(submitted) >= 3, FINAL_S, "the load to start")
        net.passed("remove-validator", victim, reason="operator retired")
        wait_for(lambda: len(net.get("/v1/status")["validators"]) == 3, FINAL_S, "3 validators")
        after, sent = net.height(), len(submitted)
        wait_for(lambda: net.height() >= after + 3, FINAL_S, "checkpoints with 3 validators")
        wait_for(lambda: len(submitted) >= sent + 3, FINAL_S, "transfers sent to 3 validators")
    finally:
        stop.set()
        loader.join(10)
    assert not errors, errors
    with Client(net.c.url(0)) as client:
        for tx_id in submitted:
            assert client.wait_final(tx_id, FINAL_S)["status"] == "executed"
    for i in range(3):
        validators = net.ok("status", node=i)["validators"]
        assert len(validators) == 3 and victim not in validators
    assert net.balance("42" * 20) == len(submitted)
    # A proof of a transfer final under the new set still verifies offline.
    last = submitted[-1]
    proof = net.work / "after-removal-proof.json"
    _proof(net, last, proof)
    genesis = str(net.c.nodes[0].home / "genesis.json")
    rc, ok = net.offline("verify", str(proof), "--genesis", genesis)
    assert rc == 0, ok
    assert ok["valid"] is True


def test_at_rest_no_node_file_holds_the_redacted_bytes(net: GovNet) -> None:
    assert net.redacted_markers, "needs the redaction tests above"
    net.c.stop()  # every node closed: db, -wal and -shm as they stay on disk
    found = [
        f for m in net.redacted_markers for n in net.c.nodes for f in files_containing(n.home, m)
    ]
    assert not found, found

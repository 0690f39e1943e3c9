"""The report channel on a running 4-validator devnet, through the CLI and HTTP only.

One devnet serves the module. Each test sends its reports to its own node, so
that the per-address rate limit (every client here is 127.0.0.1) of one test
never meets another's: node 1 the handling story, node 0 the refused handling,
node 3 the kill -9, node 2 the rate limit (last).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from govchain.node.files import read_key
from govchain.reports.signed import NONCE_BYTES, sign
from govprocs import FINAL_S, GovNet, wait_for
from metricskit import samples
from procs import cluster


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GovNet]:
    root = tmp_path_factory.mktemp("reports")
    with cluster(root / "net", validators=4) as c:
        yield GovNet(c, root)


def _submit(net: GovNet, node: int, text: str, *extra: str) -> str:
    doc = net.ok("reports", "submit", "--category", "fraud", "--text", text, *extra, node=node)
    assert doc["status"] == "open", doc
    return str(doc["report_id"])


def _listed(net: GovNet, node: int, *args: str, by: str = "regulator-1") -> dict[str, Any]:
    return dict(net.ok("reports", "list", *args, "--key", net.key(by), node=node))


def _shown(net: GovNet, node: int, rid: str) -> dict[str, Any]:
    return dict(net.ok("reports", "show", rid, "--key", net.key("regulator-2"), node=node))


def _signed(net: GovNet, node: int, target: str, by: str) -> dict[str, str]:
    """The headers of a GET of target on node, signed by a devnet key."""
    st = net.get("/v1/status", node)
    return sign(
        read_key(Path(net.key(by))),
        st["chain_id"],
        bytes.fromhex(st["node_key"]),
        "GET",
        target,
        int(time.time()),
        secrets.token_bytes(NONCE_BYTES),
    )


def _signed_get(net: GovNet, node: int, target: str, by: str = "regulator-3") -> Any:
    return net.c.http.get(net.c.url(node) + target, headers=_signed(net, node, target, by))


def test_a_member_handles_a_report_the_audit_log_records_it_and_the_node_shows_it(
    net: GovNet, tmp_path: Path
) -> None:
    rid = _submit(net, 1, "网店收了定金一直不发货", "--subject", "shop-9", "--contact", "138 0000")
    listed = _listed(net, 1, "--status", "open")
    assert [r["report_id"] for r in listed["reports"]] == [rid]
    assert listed["reports"][0]["contact"] == "138 0000"
    assert _listed(net, 0)["reports"] == []  # kept by the node that received it only
    rc, doc = net.cli("reports", "show", rid, "--key", net.key("regulator-1"), node=0)
    assert (rc, doc["error"]["code"]) == (2, "not_found")

    # A prefix this node holds names the report; the handling goes through node 1.
    rec = net.ok(
        "reports", "handle", rid[:10], "--note", "转公安机关处理", "--key",
        net.key("regulator-1"), "--wait", node=1,
    )  # fmt: skip
    assert (rec["status"], rec["kind"], rec["report_id"]) == ("executed", "report.handle", rid)
    height = int(rec["checkpoint"])
    member = read_key(Path(net.key("regulator-1"))).address.hex()
    wait_for(lambda: _shown(net, 1, rid)["status"] == "handled", FINAL_S, "the report handled")
    shown = _shown(net, 1, rid)
    assert (shown["handled_by"], shown["handled_at_height"], shown["handle_tx"]) == (
        member,
        height,
        rec["tx_id"],
    )
    assert shown["note"] == "转公安机关处理"
    assert _listed(net, 1, "--status", "open")["reports"] == []
    assert [r["report_id"] for r in _listed(net, 1, "--status", "handled")["reports"]] == [rid]

    # Every node's audit log has the entry, and an export of it verifies offline.
    for node in range(4):
        wait_for(lambda n=node: net.height(n) >= height, FINAL_S, f"height {height} on {node}")
        entries = net.get(f"/v1/audit?from={height}&to={height}", node)["entries"]
        [entry] = [e for e in entries if e["kind"] == "report_handled"]
        assert entry["subject"] == f"report:{rid}" and entry["actor"] == member
        assert entry["reason"] == f"tx:{rec['tx_id']} 转公安机关处理"
    out = tmp_path / "audit.json"
    wait_for(
        lambda: net.cli("audit", "export", "--from", str(height), "--to", str(height),
                        "--out", str(out))[0] == 0,
        FINAL_S,
        "the audit head after the handling to be certified",
    )  # fmt: skip
    exported = json.loads(out.read_text())
    assert any(e["kind"] == "report_handled" for e in exported["entries"])
    genesis = str(net.c.nodes[0].home / "genesis.json")
    verified = net.offline("audit", "verify", str(out), "--genesis", genesis)
    assert verified[0] == 0, verified


def test_a_handling_by_anyone_outside_the_committee_is_rejected_and_not_audited(
    net: GovNet,
) -> None:
    rid = _submit(net, 0, "someone posts my ID card number")
    outsider, _ = net.new_key("outsider")
    rc, rec = net.cli(
        "reports", "handle", rid, "--note", "I handled it", "--key", outsider, "--wait", node=0
    )
    assert rc == 1 and rec["status"] == "rejected", rec
    assert rec["error"]["code"] == "tx_rejected" and rec["receipt"]["rule"] == "not_authorized"
    height = int(rec["checkpoint"])
    entries = net.get(f"/v1/audit?from={height}&to={height}", 0)["entries"]
    assert [e for e in entries if e["kind"] == "report_handled"] == []
    assert _shown(net, 0, rid)["status"] == "open"
    # The auditor may read the audit log, not the reports.
    rc, doc = net.cli("reports", "list", "--key", net.key("auditor"), node=0)
    assert (rc, doc["error"]["code"]) == (2, "not_committee")
    rc, doc = net.cli("reports", "handle", rid, "--note", " ", "--key", net.key("regulator-1"))
    assert (rc, doc["error"]["code"]) == (2, "bad_note")


def test_a_signed_request_is_good_once_and_on_one_node_only(net: GovNet) -> None:
    target = "/v1/reports?limit=5"
    headers = _signed(net, 0, target, "regulator-2")
    url = net.c.url(0) + target
    assert net.c.http.get(url, headers=headers).status_code == 200
    again = net.c.http.get(url, headers=headers)
    assert (again.status_code, again.json()["error"]["code"]) == (401, "replayed")
    elsewhere = net.c.http.get(
        net.c.url(1) + target, headers=_signed(net, 0, target, "regulator-2")
    )
    assert (elsewhere.status_code, elsewhere.json()["error"]["code"]) == (401, "bad_signature")
    unsigned = net.c.http.get(url)
    assert unsigned.status_code == 401


def test_a_report_answered_201_survives_kill_9_and_so_does_its_handling(net: GovNet) -> None:
    r = net.c.http.post(
        net.c.url(3) + "/v1/reports", json={"category": "privacy", "text": "kill me after this"}
    )
    assert r.status_code == 201, r.text
    rid = r.json()["report_id"]
    handled = _submit(net, 3, "handled before the crash")
    rec = net.ok(
        "reports", "handle", handled, "--note", "done", "--key", net.key("regulator-3"),
        "--wait", node=3,
    )  # fmt: skip
    assert rec["status"] == "executed"
    wait_for(lambda: _shown(net, 3, handled)["status"] == "handled", FINAL_S, "handled")
    net.c.kill9(3)
    net.c.start(3)
    net.c.wait_api(3)
    after = _signed_get(net, 3, f"/v1/reports/{rid}")
    assert after.status_code == 200, after.text
    assert (after.json()["text"], after.json()["status"]) == ("kill me after this", "open")
    assert _shown(net, 3, handled)["status"] == "handled"


def test_a_flood_from_one_address_is_refused_with_retry_after(net: GovNet) -> None:
    url = net.c.url(2) + "/v1/reports"
    answers = [
        net.c.http.post(url, json={"category": "other", "text": f"spam {i}"}) for i in range(6)
    ]
    assert [a.status_code for a in answers] == [201] * 5 + [429]
    assert int(answers[-1].headers["retry-after"]) >= 1
    assert answers[-1].json()["error"]["code"] == "rate_limited"
    metrics = samples(net.c.http.get(net.c.url(2) + "/metrics").text)
    assert metrics["govchain_reports_received_total"] == 5
    assert metrics['govchain_reports_refused_total{code="rate_limited"}'] == 1

"""The gov, service and audit commands: argument checks in-process, then one devnet end to end."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import websockets
from click.testing import CliRunner

from govchain.cli.gov_cmd import build_action
from govchain.cli.main import cli
from govchain.cli.output import CliError
from govchain.crypto.keys import SigningKey
from govchain.node.files import write_key
from govchain.state.payloads import (
    AddFilter,
    AddValidator,
    FreezeIdentity,
    SetParam,
    SetPermission,
)
from govchain.state.policy import (
    KeywordRule,
    MediaTypeRule,
    PayloadHashRule,
    RuleAction,
    SizeRule,
    keyword_rule,
)
from procs import cluster
from test_node_cli import govchain

ADDR = "ab" * 20
NOWHERE = "http://127.0.0.1:1"  # argument errors must come before any request
SUBSCRIBED_S_MAX = 30.0  # a devnet's first event comes within a second; this is a hang


def run(*args: str) -> tuple[int, Any]:
    out = CliRunner().invoke(cli, [*args, "--json"])
    return out.exit_code, json.loads(out.stdout)


@pytest.fixture()
def key_file(tmp_path: Path) -> str:
    path = tmp_path / "k.key"
    write_key(path, SigningKey.from_label("cli-test"))
    return str(path)


def test_build_action_covers_the_contract() -> None:
    assert build_action("freeze-identity", (ADDR,)) == FreezeIdentity(bytes.fromhex(ADDR))
    assert build_action("set-param", ("hold_amount_min", "5")) == SetParam("hold_amount_min", 5)
    assert build_action("set-param", ("hold_amount_min", "none")) == SetParam(
        "hold_amount_min", None
    )
    kw = build_action("add-filter", (), keyword="法 轮 功", hold=True)
    assert kw == AddFilter(keyword_rule("法轮功"), RuleAction.HOLD)
    assert isinstance(kw, AddFilter) and isinstance(kw.rule, KeywordRule)
    ph = build_action("add-filter", (), payload_hash="cd" * 32)
    assert isinstance(ph, AddFilter) and ph.rule == PayloadHashRule(bytes.fromhex("cd" * 32))
    assert build_action("set-permission", ("transfer", "trader")) == SetPermission(
        "transfer", "trader"
    )
    assert build_action("set-permission", ("record", "none")) == SetPermission("record", "")
    size = build_action("add-filter", (), max_bytes=1024)
    assert size == AddFilter(SizeRule(1024), RuleAction.REJECT)
    media = build_action("add-filter", (), media_type="application/zip", hold=True)
    assert media == AddFilter(MediaTypeRule("application/zip"), RuleAction.HOLD)
    assert build_action("add-validator", ("ef" * 32,), weight=3) == AddValidator(
        bytes.fromhex("ef" * 32), 3
    )
    for name, args, kw_args in [
        ("bogus", (), {}),
        ("freeze-identity", (), {}),
        ("freeze-identity", ("XYZ",), {}),
        ("freeze-identity", (ADDR.upper(),), {}),
        ("intercept", ("00" * 31,), {}),
        ("add-filter", (), {}),
        ("add-filter", (), {"keyword": "\uff0c\u3002\uff01"}),  # punctuation only
        ("add-filter", (), {"keyword": "x" * 17}),
        ("add-filter", (), {"keyword": "a", "payload_hash": "00" * 32}),
        ("add-filter", (), {"max_bytes": 10, "media_type": "text/plain"}),
        ("add-filter", (), {"max_bytes": -1}),
        ("add-filter", (), {"media_type": "Not A Type"}),
        ("freeze-identity", (ADDR,), {"max_bytes": 10}),
        ("set-param", ("No Such", "1"), {}),
        ("set-param", ("hold_amount_min", "-1"), {}),
        ("grant-role", (ADDR,), {}),
        ("freeze-identity", (ADDR,), {"weight": 2}),
    ]:
        with pytest.raises(CliError) as err:
            build_action(name, args, **kw_args)  # type: ignore[arg-type]
        assert err.value.exit_code == 2, (name, args)


def test_bad_input_exits_2_with_a_json_error(key_file: str) -> None:
    cases = [
        (["gov", "propose", "bogus", "--reason", "r"], "unknown_action"),
        (["gov", "propose", "freeze-identity", "XYZ", "--reason", "r"], "bad_address"),
        (["gov", "propose", "freeze-identity", ADDR], "missing_reason"),
        (["gov", "propose", "--reason", "r"], "missing_action"),
        (["gov", "propose", "release", "00" * 32, "--reason", "r", "--emergency"],
         "emergency_not_allowed"),
        (["gov", "propose", "grant-role", ADDR, "BAD ROLE", "--reason", "r"], "bad_argument"),
        (["gov", "propose", "suspend-service", "Bad!", "--reason", "r"], "bad_argument"),
        (["gov", "propose", "remove-filter", "rule-x", "--reason", "r"], "bad_argument"),
        (["gov", "propose", "set-param", "proposal_ttl_heights", "1", "--reason", "r"],
         "bad_argument"),
        # A well-formed name that no application of any chain defines.
        (["gov", "propose", "set-param", "nope", "1", "--reason", "r"], "bad_argument"),
        (["gov", "propose", "freeze-identity", ADDR, "--reason", "r", "--evidence", "zz"],
         "bad_evidence"),
        (["gov", "vote", "00" * 32, "maybe"], "bad_vote"),
        (["gov", "vote", "short", "yes"], "bad_proposal_id"),
        (["gov", "show", "short"], "bad_proposal_id"),
        (["gov", "list", "--status", "weird"], "bad_status"),
        (["service", "register", "Bad!"], "bad_service_id"),
        (["service", "register", "shop", "--writer-role", "BAD"], "bad_role"),
        (["audit", "verify", "/nonexistent.json", "--genesis", "/nonexistent"], "bad_file"),
    ]  # fmt: skip
    for args, code in cases:
        extra = ["--key", key_file] if args[1] in ("propose", "vote", "register") else []
        if args[0] != "audit":
            extra.extend(["--node", NOWHERE])
        rc, doc = run(*args, *extra)
        assert rc == 2, (args, doc)
        assert doc["error"]["code"] == code, (args, doc)
    rc, doc = run("gov", "list", "--node", NOWHERE)
    assert rc == 1 and doc["error"]["code"] == "unreachable"


def test_governance_end_to_end_on_a_devnet(tmp_path: Path) -> None:
    with cluster(tmp_path / "net", validators=4) as c:
        node = c.url(0)
        keys = c.root / "keys"
        genesis = str(c.nodes[0].home / "genesis.json")

        def gov(*args: str) -> tuple[int, Any]:
            return govchain(tmp_path, *args, "--node", node, "--json")

        events: list[dict[str, Any]] = []
        # The server subscribes just after it accepts the websocket, so being
        # connected proves nothing; the first event (the idle heartbeat's
        # checkpoint, within empty_checkpoint_interval_ms) proves the subscription.
        subscribed = asyncio.Event()

        async def listen() -> None:
            ws_url = node.replace("http", "ws") + "/v1/events"
            async with websockets.connect(ws_url) as ws:
                while True:
                    event = json.loads(await ws.recv())
                    subscribed.set()
                    if event["type"] == "governance":
                        events.extend(event["events"])
                        if any(e["event"] == "proposal_enacted" for e in events):
                            return

        async def scenario() -> tuple[int, Any, int, Any]:
            task = asyncio.create_task(listen())
            await asyncio.wait_for(subscribed.wait(), SUBSCRIBED_S_MAX)
            rc1, opened = await asyncio.to_thread(
                gov, "gov", "propose", "set-param", "hold_amount_min", "1000",
                "--reason", "review large transfers", "--key", str(keys / "regulator-1.key"),
                "--wait",
            )  # fmt: skip
            assert rc1 == 0, opened
            rc2, voted = await asyncio.to_thread(
                gov, "gov", "vote", opened["proposal_id"], "yes",
                "--key", str(keys / "regulator-2.key"), "--wait",
            )  # fmt: skip
            await asyncio.wait_for(task, 30)
            return rc1, opened, rc2, voted

        _, opened, rc, voted = asyncio.run(scenario())
        pid = opened["proposal_id"]
        assert opened["status"] == "open"
        assert rc == 0 and voted == {
            "proposal_id": pid,
            "status": "passed",
            "tx_id": voted["tx_id"],
        }
        names = [e["event"] for e in events if e["proposal"] == pid]
        assert names[:2] == ["proposal_opened", "proposal_voted"], names
        assert "proposal_enacted" in names

        rc, shown = gov("gov", "show", pid)
        assert rc == 0 and shown["outcome"] == "hold_amount_min = 1000"
        rc, listed = gov("gov", "list")
        assert rc == 0 and listed["proposals"][0]["proposal_id"] == pid
        # A vote on a closed proposal: the carrying tx is rejected, exit 1 naming why.
        rc, err = gov("gov", "vote", pid, "yes", "--key", str(keys / "regulator-3.key"), "--wait")
        assert rc == 1 and err["error"]["code"] == "tx_rejected"
        assert "proposal_closed" in err["error"]["message"]
        # Not a committee member.
        rc, err = gov(
            "gov", "propose", "freeze-identity", ADDR, "--reason", "x",
            "--key", str(keys / "faucet.key"), "--wait",
        )  # fmt: skip
        assert rc == 1 and "not_authorized" in err["error"]["message"]
        rc, reg = gov("service", "register", "shop", "--key", str(keys / "faucet.key"), "--wait")
        assert rc == 0 and reg["status"] == "executed", reg
        rc, svc = gov("service", "show", "shop")
        assert rc == 0 and svc["status"] == "active"

        out = tmp_path / "audit.json"
        for _ in range(100):  # the head after the enactment needs the next checkpoint
            rc, summary = gov("audit", "export", "--out", str(out))
            doc = json.loads(out.read_text()) if rc == 0 else {}
            if any(e["kind"] == "param_set" for e in doc.get("entries", [])):
                break
        assert rc == 0, summary
        rc, ok = govchain(tmp_path, "audit", "verify", str(out), "--genesis", genesis, "--json")
        assert rc == 0 and ok["valid"] is True, ok
        for field, value in (("reason", "nothing to see"), ("actor", "00" * 20)):
            edited = json.loads(out.read_text())
            edited["entries"][0][field] = value
            bad = tmp_path / f"edited-{field}.json"
            bad.write_text(json.dumps(edited))
            rc, err = govchain(
                tmp_path, "audit", "verify", str(bad), "--genesis", genesis, "--json"
            )
            assert rc == 1 and err["error"]["code"] == "invalid_audit", err
        dropped = json.loads(out.read_text())
        del dropped["entries"][-1]
        for e in dropped["entries"]:
            e.pop("hash")
        bad = tmp_path / "dropped.json"
        bad.write_text(json.dumps(dropped))
        rc, err = govchain(tmp_path, "audit", "verify", str(bad), "--genesis", genesis, "--json")
        assert rc == 1 and err["error"]["code"] == "invalid_audit", err
        csv_out = tmp_path / "audit.csv"
        rc, _ = gov("audit", "export", "--format", "csv", "--out", str(csv_out))
        assert rc == 0 and csv_out.read_text().startswith("seq,height,kind")

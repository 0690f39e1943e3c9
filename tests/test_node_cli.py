"""The CLI and SDK against live node processes: transfer, record, proof, verify, batch, events."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import websockets

from govchain.codec import encode
from govchain.node.files import read_key
from govchain.sdk.client import Client
from metricskit import samples
from procs import cluster

FINAL_S = 30.0


def govchain(cwd: Path, *args: str) -> tuple[int, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "govchain.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )
    try:
        doc = json.loads(out.stdout)
    except ValueError:
        doc = {"stdout": out.stdout, "stderr": out.stderr}
    return out.returncode, doc


def test_transfer_proof_and_offline_verify_through_the_cli(tmp_path: Path) -> None:
    with cluster(tmp_path / "net", validators=4) as c:
        node = c.url(1)
        rc, alice = govchain(tmp_path, "keys", "new", "--out", "alice.key", "--json")
        assert rc == 0
        assert stat.S_IMODE(os.stat(tmp_path / "alice.key").st_mode) == 0o600
        faucet = str(c.root / "keys" / "faucet.key")
        rc, rec = govchain(
            tmp_path, "tx", "transfer", "--to", alice["address"], "--amount", "250",
            "--key", faucet, "--node", node, "--wait", "--json",
        )  # fmt: skip
        assert rc == 0, rec
        assert rec["status"] == "executed"
        assert rec["receipt"] == {"reason": None, "rule": None, "governance_ref": None}
        rc, data = govchain(
            tmp_path, "tx", "record", "--data", "hello ledger", "--key", "alice.key",
            "--node", node, "--wait", "--json",
        )  # fmt: skip
        assert rc == 0, data
        assert data["kind"] == "record"
        assert data["status"] == "executed"
        # Final as rejected: the record is printed, and the exit code is 1.
        rc, poor = govchain(
            tmp_path, "tx", "transfer", "--to", rec["sender"], "--amount", "10000",
            "--key", "alice.key", "--node", node, "--wait", "--json",
        )  # fmt: skip
        assert rc == 1, poor
        assert poor["status"] == "rejected" and poor["payload"] is None
        assert poor["receipt"]["rule"] == "insufficient_funds"
        # A proof needs the checkpoint after the transaction's to be decided.
        with Client(node) as client:
            client.wait_final(rec["tx_id"])
        proof_file = tmp_path / "proof.json"
        for _ in range(100):
            rc, out = govchain(
                tmp_path, "proof", rec["tx_id"], "--out", str(proof_file), "--node", node, "--json"
            )
            if rc == 0:
                break
        assert rc == 0, out
        genesis = str(c.nodes[0].home / "genesis.json")
        rc, ok = govchain(tmp_path, "verify", str(proof_file), "--genesis", genesis, "--json")
        assert rc == 0, ok
        assert ok["valid"] is True
        assert ok["signers"] >= 3
        doc = json.loads(proof_file.read_text())
        doc["receipt"]["status"] = "rejected"  # an edited proof fails offline
        proof_file.write_text(json.dumps(doc))
        rc, bad = govchain(tmp_path, "verify", str(proof_file), "--genesis", genesis, "--json")
        assert rc == 1
        assert bad["error"]["code"] == "invalid_proof"


def test_cli_errors_follow_the_contract(tmp_path: Path) -> None:
    with cluster(tmp_path / "net", validators=1) as c:
        node = c.url(0)
        rc, err = govchain(tmp_path, "tx", "transfer", "--to", "XYZ", "--amount", "1",
                           "--key", "nokey", "--node", node, "--json")  # fmt: skip
        assert rc == 2
        assert err["error"]["code"] == "bad_address"
        rc, err = govchain(tmp_path, "tx", "show", "00" * 32, "--node", node, "--json")
        assert rc == 2
        assert err["error"]["code"] == "not_found"
        rc, err = govchain(tmp_path, "status", "--node", "http://127.0.0.1:1", "--json")
        assert rc == 1
        assert err["error"]["code"] == "unreachable"
        rc, err = govchain(tmp_path, "trace", "11" * 20, "--node", node, "--json")
        assert rc == 2  # like tx show: the node has nothing of that name
        assert err["error"]["code"] == "nothing_to_trace"
        rc, st = govchain(tmp_path, "status", "--node", node, "--json")
        assert rc == 0
        assert st["is_validator"] is True
        assert {"chain_id", "node", "height", "validators", "dag"} <= set(st)


def test_batch_submission_and_the_event_stream(tmp_path: Path) -> None:
    with cluster(tmp_path, validators=4) as c:
        faucet = read_key(c.root / "keys" / "faucet.key")
        ws_url = c.url(0).replace("http", "ws") + "/v1/events"

        async def run() -> list[dict[str, Any]]:
            seen: list[dict[str, Any]] = []
            async with websockets.connect(ws_url) as ws:
                with Client(c.url(2)) as client:
                    tx = client.transfer(faucet, b"\x01" * 20, 3)
                    bad = tx.to_wire()[:-1] + bytes([tx.to_wire()[-1] ^ 1])
                    r = c.http.post(
                        c.url(2) + "/v1/txs/batch",
                        content=encode([tx.to_wire(), bad, tx.to_wire()]),
                        headers={"content-type": "application/msgpack"},
                    )
                assert r.status_code == 202
                results = r.json()["results"]
                assert results[0] == {"tx_id": tx.id.hex(), "status": "pending"}
                assert results[1]["error"]["code"] == "bad_payload"
                # The same bytes again: answered as the first (idempotent), stored once.
                assert results[2] == {"tx_id": tx.id.hex(), "status": "pending"}
                while not any(
                    e["type"] == "receipts"
                    and any(x["tx_id"] == tx.id.hex() for x in e["receipts"])
                    for e in seen
                ):
                    seen.append(json.loads(await asyncio.wait_for(ws.recv(), FINAL_S)))
            return seen

        events = asyncio.run(run())
        assert any(e["type"] == "checkpoint" for e in events)
        r = c.http.post(c.url(0) + "/v1/txs/batch", content=b"\x01\x02")
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "bad_request"


def test_openapi_and_metrics_are_served(tmp_path: Path) -> None:
    with cluster(tmp_path, validators=1) as c:
        spec = c.http.get(c.url(0) + "/openapi.json").json()
        assert "/v1/txs" in spec["paths"]
        metrics = samples(c.http.get(c.url(0) + "/metrics").text)
        for name in (
            "govchain_height",
            "govchain_dag_vertices",
            "govchain_peers",
            "govchain_pending_txs",
            "govchain_finality_latency_seconds_count",
        ):
            assert name in metrics, name
        # What the network feeds, against its budget; blamed peers; deleted bytes in the WAL.
        assert metrics['govchain_buffer_bytes{buffer="orphans"}'] == 0
        assert metrics['govchain_buffer_budget_bytes{buffer="orphans"}'] == 67108864
        assert metrics["govchain_peers_blamed_total"] == 0
        assert metrics["govchain_store_wal_holds_deleted_payload"] == 0
        assert "govchain" in c.http.get(c.url(0) + "/").text

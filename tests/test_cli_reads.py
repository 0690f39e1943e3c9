"""The CLI's reads against a real node.

Devnet discovery, ids by prefix, addresses in any case, decoded records,
balance/account/checkpoint, and proof right after --wait.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from govchain.node.files import read_key
from procs import cluster

CLI_TIMEOUT_S = 120


def govchain(cwd: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, Any, str]:
    """Run the CLI; (exit code, its JSON document or None, stdout + stderr)."""
    full_env = {k: v for k, v in os.environ.items() if k != "GOVCHAIN_DEVNET"}
    full_env.update(env or {})
    out = subprocess.run(
        [sys.executable, "-m", "govchain.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full_env,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )
    try:
        doc = json.loads(out.stdout)
    except ValueError:
        doc = None
    return out.returncode, doc, out.stdout + out.stderr


def test_a_devnet_user_reads_by_prefix_from_anywhere(tmp_path: Path) -> None:
    with cluster(tmp_path / "net", validators=1) as c:
        # The devnet's file, as `govchain devnet` writes it: commands find the node in it.
        devnet = c.root
        nodes = [{"name": n.name, "api": c.url(i)} for i, n in enumerate(c.nodes)]
        (devnet / "devnet.json").write_text(json.dumps({"nodes": nodes}))
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        use = {"GOVCHAIN_DEVNET": str(devnet)}
        alice = read_key(c.root / "keys" / "validator-0.key").address  # holds nothing yet
        faucet = str(c.root / "keys" / "faucet.key")

        # An address in upper case with 0x; the node named by --devnet.
        rc, rec, out = govchain(
            elsewhere, "tx", "transfer", "--to", "0x" + alice.hex().upper(), "--amount", "250",
            "--key", faucet, "--devnet", str(devnet), "--wait", "--json",
        )  # fmt: skip
        assert rc == 0, out
        assert rec["status"] == "executed"
        assert rec["decoded"] == {"to": alice.hex(), "amount": 250}
        tx_id = rec["tx_id"]

        # proof right after --wait, by a prefix of 10 digits; the node from GOVCHAIN_DEVNET.
        proof_file = devnet / "proof.json"
        rc, doc, out = govchain(
            elsewhere, "proof", tx_id[:10].upper(), "--out", str(proof_file), "--json", env=use
        )
        assert rc == 0, out
        assert doc["tx_id"] == tx_id

        # verify from another directory, the genesis found by the hash the proof names.
        rc, ok, out = govchain(elsewhere, "verify", str(proof_file), "--json")
        assert rc == 0, out
        assert ok["valid"] is True
        stray = elsewhere / "proof.json"
        stray.write_text(proof_file.read_text())
        rc, err, out = govchain(elsewhere, "verify", str(stray), "--json")
        assert rc == 2, out
        assert "nodes/<name>/genesis.json" in err["error"]["message"]
        rc, ok, out = govchain(elsewhere, "verify", str(stray), "--json", env=use)
        assert rc == 0, out

        # tx show by prefix: the decoded payload, base64 only with --raw.
        rc, rec2, out = govchain(
            elsewhere, "tx", "record", "--data", "hello ledger", "--key", faucet, "--wait",
            "--json", env=use,
        )  # fmt: skip
        assert rc == 0, out
        rc, shown, out = govchain(elsewhere, "tx", "show", rec2["tx_id"][:8], "--json", env=use)
        assert rc == 0, out
        assert shown["decoded"]["text"] == "hello ledger"
        assert base64.b64decode(shown["payload"])  # the contract's raw field stays
        rc, _, text = govchain(elsewhere, "tx", "show", rec2["tx_id"][:8], env=use)
        assert rc == 0 and "hello ledger" in text and shown["payload"] not in text
        rc, _, text = govchain(elsewhere, "tx", "show", rec2["tx_id"][:8], "--raw", env=use)
        assert rc == 0 and shown["payload"] in text
        ids = (tx_id, rec2["tx_id"])
        unknown = next(p for p in ("00000000", "11111111") if not any(i.startswith(p) for i in ids))
        rc, err, _ = govchain(elsewhere, "tx", "show", unknown, "--json", env=use)
        assert rc == 2 and err["error"]["code"] == "not_found"

        # balance, account, checkpoint
        upper = "0X" + alice.hex().upper()
        rc, bal, out = govchain(elsewhere, "balance", upper, "--json", env=use)
        assert rc == 0, out
        assert bal == {"address": alice.hex(), "balance": 250, "frozen_amount": 0}
        rc, acct, out = govchain(elsewhere, "account", alice.hex(), "--json", env=use)
        assert rc == 0, out
        assert acct["balance"] == 250 and acct["nonce"] == 0
        assert acct["identity"]["kind"] == "validator"  # a genesis identity
        assert acct["freezes"] == [] and acct["holds"] == []
        key = read_key(c.root / "keys" / "validator-0.key").public_key.hex()
        rc, err, _ = govchain(elsewhere, "balance", key, "--json", env=use)
        assert rc == 2 and alice.hex() in err["error"]["message"]
        rc, cp, out = govchain(elsewhere, "checkpoint", "--json", env=use)
        assert rc == 0, out
        assert cp["height"] >= rec["checkpoint"] and cp["certificate"]["signatures"]
        rc, one, _ = govchain(elsewhere, "checkpoint", "1", "--json", env=use)
        assert rc == 0 and one["height"] == 1
        rc, err, _ = govchain(elsewhere, "checkpoint", "x1", "--json", env=use)
        assert rc == 2 and err["error"]["code"] == "bad_height"
        rc, st, _ = govchain(elsewhere, "status", "--json", env=use)
        assert rc == 0 and st["seconds_per_checkpoint"] > 0

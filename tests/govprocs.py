"""Helpers for governance tests on a multi-process devnet, driven through the CLI and HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from procs import Cluster, wait_until

FINAL_S = 30.0
CLI_TIMEOUT_S = 120.0


def govchain(cwd: Path, *args: str) -> tuple[int, Any]:
    """Run `govchain ARGS --json` in cwd; (exit code, the JSON document or the raw output)."""
    out = subprocess.run(
        [sys.executable, "-m", "govchain.cli.main", *args, "--json"],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )
    try:
        doc = json.loads(out.stdout)
    except ValueError:
        doc = {"stdout": out.stdout, "stderr": out.stderr[-2000:]}
    return out.returncode, doc


class GovNet:
    """A running devnet plus the committee's and faucet's keys, used through the CLI."""

    def __init__(self, cluster: Cluster, workdir: Path) -> None:
        self.c = cluster
        self.work = workdir
        self.keys = cluster.root / "keys"
        self._accounts = 0
        self.redacted_markers: list[bytes] = []  # what the redaction tests removed

    # -- plumbing -----------------------------------------------------------------
    def cli(self, *args: str, node: int = 0) -> tuple[int, Any]:
        """A command that talks to node `node`."""
        return govchain(self.work, *args, "--node", self.c.url(node))

    def ok(self, *args: str, node: int = 0) -> Any:
        """A command that must succeed; its JSON document."""
        rc, doc = self.cli(*args, node=node)
        assert rc == 0, (args, rc, doc)
        return doc

    def offline(self, *args: str) -> tuple[int, Any]:
        """A command that talks to no node (keys show, verify, audit verify)."""
        return govchain(self.work, *args)

    def key(self, name: str) -> str:
        """Path of a devnet key: faucet, regulator-1, validator-3, ..."""
        return str(self.keys / f"{name}.key")

    def get(self, path: str, node: int = 0) -> Any:
        """GET a path of node `node`'s API; the JSON body (asserting 200)."""
        r = self.c.http.get(self.c.url(node) + path)
        assert r.status_code == 200, (path, r.status_code, r.text[:500])
        return r.json()

    # -- accounts and transactions ------------------------------------------------
    def new_key(self, label: str) -> tuple[str, str]:
        """A fresh key file under the work dir: (path, address)."""
        self._accounts += 1
        path = self.work / f"{label}-{self._accounts}.key"
        doc = govchain(self.work, "keys", "new", "--out", str(path))[1]
        return str(path), str(doc["address"])

    def funded(self, label: str, *amounts: int) -> list[tuple[str, str]]:
        """Fresh keys whose accounts the faucet funded, one an amount; waits until all executed.

        The faucet's transfers go out without --wait (the CLI chains the nonces) and
        are then awaited together: one finality instead of one per account.
        """
        accounts = [self.new_key(f"{label}-{i}") for i in range(len(amounts))]
        tx_ids = []
        for (_, address), amount in zip(accounts, amounts, strict=True):
            args = ("tx", "transfer", "--to", address, "--amount", str(amount))
            tx_ids.append(self.ok(*args, "--key", self.key("faucet"))["tx_id"])
        for tx_id in tx_ids:
            wait_for(lambda t=tx_id: self.tx(t)["status"] == "executed", FINAL_S, "funding")
        return accounts

    def transfer(self, key: str, to: str, amount: int, node: int = 0) -> dict[str, Any]:
        """`tx transfer --wait`: the final record."""
        args = ("tx", "transfer", "--to", to, "--amount", str(amount), "--key", key)
        rc, doc = self.cli(*args, "--wait", node=node)
        assert "status" in doc, (args, rc, doc)
        return dict(doc)

    def record(self, key: str, text: str, *extra: str, node: int = 0) -> dict[str, Any]:
        """`tx record --data TEXT --wait`: the final record."""
        rc, doc = self.cli(
            "tx", "record", "--data", text, "--key", key, *extra, "--wait", node=node
        )
        assert "status" in doc, (text, extra, rc, doc)
        return dict(doc)

    def tx(self, tx_id: str, node: int = 0) -> dict[str, Any]:
        """GET /v1/txs/{tx_id} (cheaper than the CLI for polling)."""
        return dict(self.get(f"/v1/txs/{tx_id}", node))

    def show(self, tx_id: str, node: int = 0) -> dict[str, Any]:
        """`tx show TX_ID`."""
        return dict(self.ok("tx", "show", tx_id, node=node))

    def balance(self, address: str, node: int = 0) -> int:
        """GET /v1/accounts/{address} balance."""
        return int(self.get(f"/v1/accounts/{address}", node)["balance"])

    def height(self, node: int = 0) -> int:
        """GET /v1/status height."""
        return int(self.get("/v1/status", node)["height"])

    def wait_everywhere(
        self, tx_id: str, pred: Any, what: str, nodes: list[int] | None = None
    ) -> None:
        """Until pred(record) holds on every node (GET /v1/txs; nodes may lag a checkpoint)."""
        for i in range(len(self.c.nodes)) if nodes is None else nodes:
            wait_for(lambda i=i: pred(self.tx(tx_id, node=i)), FINAL_S, f"{what} on node {i}")

    # -- governance ---------------------------------------------------------------
    def propose(self, *action: str, by: str = "regulator-1", reason: str = "test") -> str:
        """`gov propose ACTION ARGS --wait` by a committee member; the proposal id."""
        doc = self.ok(
            "gov", "propose", *action, "--reason", reason, "--key", self.key(by), "--wait"
        )
        pid = str(doc["proposal_id"])
        assert len(pid) == 64 and doc["status"] in {"open", "passed"}, doc
        return pid

    def vote(self, pid: str, choice: str = "yes", by: str = "regulator-2") -> str:
        """`gov vote PROPOSAL_ID yes|no --wait`; the proposal's status after it."""
        doc = self.ok("gov", "vote", pid, choice, "--key", self.key(by), "--wait")
        assert doc["proposal_id"] == pid, doc
        return str(doc["status"])

    def passed(self, *action: str, reason: str = "test") -> str:
        """Propose (regulator-1) and vote yes (regulator-2): the passed proposal's id."""
        pid = self.propose(*action, reason=reason)
        assert self.vote(pid) == "passed"
        return pid

    def proposal_status(self, pid: str, node: int = 0) -> str:
        """GET /v1/governance/proposals/{id} status (cheap enough to poll)."""
        return str(self.get(f"/v1/governance/proposals/{pid}", node)["status"])


def files_containing(root: Path, needle: bytes) -> list[str]:
    """Every file under root whose bytes contain needle (files that vanish are skipped)."""
    found = []
    for path in sorted(root.rglob("*")):
        try:
            if path.is_file() and needle in path.read_bytes():
                found.append(str(path))
        except OSError:
            continue
    return found


def wait_for(pred: Any, timeout_s: float, what: str) -> None:
    """wait_until that also tolerates assertion failures of pred while polling."""

    def safe() -> bool:
        try:
            return bool(pred())
        except AssertionError:
            return False

    wait_until(safe, timeout_s, what)

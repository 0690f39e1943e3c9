"""A 202 is a promise (issue 10), on real node processes.

A transaction answered 202 "pending" becomes final even when the node that
answered is killed with SIGKILL the moment the answer arrives and never comes
back. A transaction whose parent is missing is answered "pending_parent",
stored and served while it waits, survives a kill -9 of its node, and becomes
final once the parent arrives.
"""

from __future__ import annotations

from pathlib import Path

from govchain.codec import encode
from govchain.crypto.keys import SigningKey
from govchain.dag.limits import DagLimits
from govchain.dag.tx import Transaction, build
from govchain.node.files import read_key
from govchain.sdk.client import Client
from govchain.state.payloads import TransferPayload
from procs import Cluster, cluster, wait_until

FINAL_S = 60.0
BATCH = 50


def _faucet(c: Cluster) -> SigningKey:
    return read_key(c.root / "keys" / "faucet.key")


def _chain(c: Cluster, key: SigningKey, count: int, amount: int = 1) -> list[Transaction]:
    """count transfers from key, each naming the one before it as a parent."""
    with Client(c.url(0)) as client:
        chain_id = client.status()["chain_id"]
        tips, height = client.tips()
        nonce = int(client.account(key.address)["nonce"])
    txs: list[Transaction] = []
    parents = tips
    for i in range(count):
        tx = build(
            key,
            chain_id=chain_id,
            kind="transfer",
            nonce=nonce + i,
            parents=sorted(parents),
            valid_until=height + 1_000,
            payload=encode(TransferPayload(bytes([9]) * 20, amount)),
            stamp_bits_min=DagLimits().stamp_bits_min,
        )
        txs.append(tx)
        parents = [tx.id]
    return txs


def _status(c: Cluster, i: int, tx: Transaction) -> str:
    r = c.http.get(f"{c.url(i)}/v1/txs/{tx.id.hex()}")
    return str(r.json()["status"]) if r.status_code == 200 else f"http {r.status_code}"


def test_a_202_survives_the_answering_node_killed_at_once(tmp_path: Path) -> None:
    with cluster(tmp_path, validators=4) as c:
        txs = _chain(c, _faucet(c), BATCH)
        r = c.http.post(
            c.url(3) + "/v1/txs/batch",
            content=encode([t.to_wire() for t in txs]),
            headers={"content-type": "application/msgpack"},
        )
        c.kill9(3)  # the moment the answer is in: it never comes back
        assert r.status_code == 202
        assert [x["status"] for x in r.json()["results"]] == ["pending"] * BATCH
        wait_until(
            lambda: all(_status(c, 0, t) == "executed" for t in txs),
            FINAL_S,
            "every promised transaction final without the node that promised it",
        )
        assert all(_status(c, i, t) == "executed" for i in (1, 2) for t in txs)


def test_an_orphan_waits_stored_survives_a_kill_and_is_final_once_its_parent_comes(
    tmp_path: Path,
) -> None:
    with cluster(tmp_path, validators=4) as c:
        parent, child = _chain(c, _faucet(c), 2)
        r = c.http.post(c.url(1) + "/v1/txs", json={"tx": child.to_wire().hex()})
        assert r.status_code == 202
        assert r.json() == {
            "tx_id": child.id.hex(),
            "status": "pending_parent",
            "missing": [parent.id.hex()],
        }
        assert _status(c, 1, child) == "pending_parent"
        assert _status(c, 2, child) == "http 404"  # not gossiped while it waits

        c.kill9(1)
        c.start(1)
        c.wait_api(1)
        assert _status(c, 1, child) == "pending_parent"  # stored: a crash did not lose it

        # The same bytes again: still waiting (the answer is not a promise yet).
        again = c.http.post(c.url(1) + "/v1/txs", json={"tx": child.to_wire().hex()})
        assert (again.status_code, again.json()["status"]) == (202, "pending_parent")

        ok = c.http.post(c.url(0) + "/v1/txs", json={"tx": parent.to_wire().hex()})
        assert (ok.status_code, ok.json()["status"]) == (202, "pending")
        wait_until(
            lambda: all(_status(c, i, child) == "executed" for i in range(4)),
            FINAL_S,
            "the released orphan final everywhere",
        )
        # Final now: a resubmission is answered from the record, with 200.
        done = c.http.post(c.url(2) + "/v1/txs", json={"tx": child.to_wire().hex()})
        assert (done.status_code, done.json()["status"]) == (200, "executed")

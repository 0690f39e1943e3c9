"""Nodes as separate OS processes on 127.0.0.1: finality, crashes, restarts, bad input."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest
import websockets

from govchain.codec import encode
from govchain.crypto.keys import SigningKey
from govchain.dag.limits import DagLimits
from govchain.dag.tx import build
from govchain.node.files import read_key
from govchain.sdk.client import Client
from govchain.sdk.errors import SdkError
from govchain.state.payloads import TransferPayload
from procs import Cluster, cluster, wait_until

FINAL_S = 30.0


def _faucet(c: Cluster) -> SigningKey:
    return read_key(c.root / "keys" / "faucet.key")


def _record(c: Cluster, i: int, tx_id: str) -> dict[str, object]:
    with Client(c.url(i)) as client:
        return client.tx(tx_id)


def test_a_transfer_is_final_with_the_same_checkpoint_everywhere(tmp_path: Path) -> None:
    with cluster(tmp_path, validators=4, observers=1) as c:
        faucet = _faucet(c)
        to = bytes(range(20))
        with Client(c.url(0)) as client:
            tx_id = client.submit(client.transfer(faucet, to, 1234))
            final = client.wait_final(tx_id, FINAL_S)
        assert final["status"] == "executed"
        height = final["checkpoint"]
        for i in range(len(c.nodes)):  # the observer (last) serves it too
            wait_until(
                cast(Callable[[], bool], lambda i=i: _record(c, i, tx_id)["status"] == "executed"),
                FINAL_S,
                "final",
            )
            assert _record(c, i, tx_id)["checkpoint"] == height
            with Client(c.url(i)) as client:
                assert client.account(to)["balance"] == 1234
                assert (
                    client.checkpoint(height)["hash"]
                    == c.http.get(c.url(0) + f"/v1/checkpoints/{height}").json()["hash"]
                )
        assert c.status(len(c.nodes) - 1)["is_validator"] is False


def test_kill9_of_a_validator_under_load_then_it_catches_up(tmp_path: Path) -> None:
    with cluster(tmp_path) as c:
        faucet = _faucet(c)
        submitted: list[str] = []
        with Client(c.url(0)) as client:
            for k in range(5):
                submitted.append(client.submit(client.transfer(faucet, bytes([k]) * 20, 10)))
            c.kill9(3)
            before = c.height(0)
            for k in range(5, 15):
                submitted.append(client.submit(client.transfer(faucet, bytes([k]) * 20, 10)))
            for tx_id in submitted:
                assert client.wait_final(tx_id, FINAL_S)["status"] == "executed"
        wait_until(lambda: c.height(0) >= before + 3, FINAL_S, "three validators to go on")
        c.start(3)
        c.wait_api(3)
        target = c.height(0)
        wait_until(lambda: c.height(3) >= target, FINAL_S, "the restarted node to catch up")
        for h in (1, target // 2 or 1, target):
            a = c.http.get(c.url(0) + f"/v1/checkpoints/{h}").json()
            b = c.http.get(c.url(3) + f"/v1/checkpoints/{h}").json()
            assert (a["hash"], a["state_hash"]) == (b["hash"], b["state_hash"])
        for tx_id in submitted:
            assert _record(c, 3, tx_id)["status"] == "executed"


def test_kill9_of_every_node_then_restart_keeps_height_and_state(tmp_path: Path) -> None:
    c = Cluster(tmp_path)
    try:
        c.start_all()
        faucet = _faucet(c)
        with Client(c.url(0)) as client:
            tx_id = client.submit(client.transfer(faucet, b"\x07" * 20, 77))
            client.wait_final(tx_id, FINAL_S)
        wait_until(lambda: c.height(0) >= 3, FINAL_S, "a few checkpoints")
        for i in range(4):
            c.kill9(i)
        for i in range(4):
            c.start(i)
        for i in range(4):
            c.wait_api(i)
        for i in range(4):
            assert _record(c, i, tx_id)["status"] == "executed"
            with Client(c.url(i)) as client:
                assert client.account(b"\x07" * 20)["balance"] == 77
        h = c.height(0)
        wait_until(lambda: min(c.height(i) for i in range(4)) >= h + 2, FINAL_S, "progress")
    finally:
        c.stop()


@pytest.mark.parametrize(
    ("body", "ctype", "status"),
    [
        (b"not json", "application/json", 400),
        (b'{"tx": "zz"}', "application/json", 400),
        (b'{"tx": "00"}', "application/json", 422),
        (b"\x93\x01\x02\x03", "application/octet-stream", 422),
        (b"x" * 300_000, "application/octet-stream", 413),
    ],
)
def test_bad_api_bodies_get_4xx_and_store_nothing(
    tmp_path: Path, body: bytes, ctype: str, status: int
) -> None:
    with cluster(tmp_path, validators=1) as c:
        before = c.status(0)["dag"]["vertices"]
        r = c.http.post(c.url(0) + "/v1/txs", content=body, headers={"content-type": ctype})
        assert r.status_code == status
        err = r.json()["error"]
        assert err["code"] and err["message"]
        assert c.status(0)["dag"]["vertices"] == before


def test_random_bytes_on_a_peer_port_leave_the_node_healthy(tmp_path: Path) -> None:
    with cluster(tmp_path, validators=4) as c:
        wait_until(lambda: c.height(0) >= 2, FINAL_S, "first checkpoints")
        for _ in range(5):
            with socket.create_connection(("127.0.0.1", c.nodes[0].p2p_port), timeout=2) as s:
                s.sendall(os.urandom(4096))
        faucet = _faucet(c)
        with Client(c.url(0)) as client:
            tx_id = client.submit(client.transfer(faucet, b"\x09" * 20, 5))
            assert client.wait_final(tx_id, FINAL_S)["status"] == "executed"
        assert c.status(0)["peers"] == 3


def test_unknown_transactions_and_bad_ids_get_clear_errors(tmp_path: Path) -> None:
    with cluster(tmp_path, validators=1) as c, Client(c.url(0)) as client:
        with pytest.raises(SdkError) as e:
            client.tx("00" * 32)
        assert e.value.code == "not_found"
        r = c.http.get(c.url(0) + "/v1/txs/XYZ")
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "bad_tx_id"
        r = c.http.get(c.url(0) + "/v1/trace/" + "11" * 20)  # an account that holds nothing
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "nothing_to_trace"
        r = c.http.get(c.url(0) + "/v1/trace/" + "11" * 20 + "?tx_id=" + "00" * 32)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        r = c.http.get(c.url(0) + "/v1/audit?from=x")
        assert r.status_code == 400
        assert set(r.json()["error"]) == {"code", "message"}


def test_sigterm_stops_a_node_promptly_even_with_an_open_event_stream(tmp_path: Path) -> None:
    c = Cluster(tmp_path, validators=1)
    try:
        c.start_all()
        ws_url = c.url(0).replace("http", "ws") + "/v1/events"

        async def hold_stream_then_stop() -> str:
            async with websockets.connect(ws_url) as ws:
                proc = c.procs[c.nodes[0].name]
                os.killpg(proc.pid, signal.SIGTERM)
                while True:
                    event = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    if event["type"] == "stopping":
                        return "stopping"

        assert asyncio.run(hold_stream_then_stop()) == "stopping"
        proc = c.procs.pop(c.nodes[0].name)
        assert proc.wait(timeout=10) == 0
        c.start(0)  # and it comes back on the same store
        c.wait_api(0)
    finally:
        c.stop()


def test_an_expired_final_transaction_is_forgotten_yet_still_a_parent(tmp_path: Path) -> None:
    """A node drops the id of a final transaction once it has expired and is stored:
    a copy is then refused as expired, and a child naming it is still admitted
    (the DAG asks the store)."""
    with cluster(tmp_path, validators=4) as c:
        faucet = _faucet(c)
        with Client(c.url(0)) as client:
            status = client.status()
            tips, height = client.tips()
            short = build(
                faucet,
                chain_id=status["chain_id"],
                kind="transfer",
                nonce=int(client.account(faucet.address)["nonce"]),
                parents=tips,
                valid_until=height + 2,
                payload=encode(TransferPayload(bytes(20), 5)),
                stamp_bits_min=DagLimits().stamp_bits_min,
            )
            client.submit(short)
            assert client.wait_final(short.id.hex(), FINAL_S)["status"] == "executed"
            wait_until(lambda: c.status(0)["height"] >= height + 4, FINAL_S, "two idle heights")
            # Its id has left the DAG (expired and stored): a resubmission is
            # answered from the store, as final, and is not admitted again.
            again = client.submit_detailed(short)
            assert (again.status, again.final) == ("executed", True)
            child = build(
                faucet,
                chain_id=status["chain_id"],
                kind="transfer",
                nonce=short.body.nonce + 1,
                parents=[short.id],
                valid_until=height + 1_000,
                payload=encode(TransferPayload(bytes(20), 6)),
                stamp_bits_min=DagLimits().stamp_bits_min,
            )
            client.submit(child)
            assert client.wait_final(child.id.hex(), FINAL_S)["status"] == "executed"
            assert client.account(bytes(20))["balance"] == 11

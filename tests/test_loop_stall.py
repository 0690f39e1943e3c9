"""A peer that floods junk gossip does not stall a node: its API keeps answering quickly.

The node runs as its own process; the test is a throwaway-key peer on its p2p
port that sends tens of thousands of transactions with bad signatures, then a
proposal (any proposal made the node admit its whole backlog at once), then one
good transaction, while another task polls /v1/status and records how long each
answer took. The watch ends when the flood is dealt with, not after a fixed
time: either the node dropped the peer (it blames a relay of a bad signature),
or the good transaction is known to its API (the node takes a peer's gossip in
order, so the whole flood has been through admission before it); then a few
more answers are timed.
"""

from __future__ import annotations

import asyncio
import hashlib
import statistics
import time
from pathlib import Path

import httpx

from govchain.codec import encode
from govchain.consensus.messages import Checkpoint, sign_proposal
from govchain.crypto.keys import SigningKey
from govchain.dag.limits import DagLimits
from govchain.dag.tx import Transaction, TxWire, build
from govchain.net.peers import NetLimits, PeerNetwork
from govchain.node.files import read_genesis
from govchain.replica.messages import WIRES_PER_MSG_MAX, ProposalMsg, TxMsg
from govchain.state.genesis import Genesis
from procs import Cluster

JUNK_TXS = 24_000  # about 1.5 s of signature checks in one node process
POLL_S = 0.02
# Far above what a sliced admission costs (a few ms a slice), far below what the
# synchronous admission of a junk backlog cost (1-2 s in the review): robust on
# a loaded 2-core machine, where a scheduler hiccup alone can take 100 ms.
LATENCY_S_MAX = 0.5
FLOOD_DEADLINE_S = 60.0  # the flood must be dealt with by then
SAMPLES_AFTER = 10  # status answers timed once the flood is dealt with


def junk_frames(genesis: Genesis) -> list[bytes]:
    """TxMsg frames of one well-formed record under distinct bad signatures.

    Each copy has its own id (the id hashes the signature), passes every cheap
    check and fails only the full Ed25519 check: S is canonical and R is an
    acceptable point encoding, so libsodium does the whole computation.
    """
    key = SigningKey(hashlib.sha256(b"loop-stall junk sender").digest())
    tx = build(
        key,
        chain_id=genesis.chain_id,
        kind="record",
        nonce=0,
        parents=[genesis.hash],
        valid_until=1_000,
        payload=b"junk",
        stamp_bits_min=DagLimits().stamp_bits_min,
    )
    wires = []
    for i in range(JUNK_TXS):
        h = hashlib.sha512(i.to_bytes(8, "little")).digest()
        r = h[:31] + b"\x11"  # y far below p, not a small-order encoding
        s = h[32:63] + b"\x01"  # below 2^252 < L: canonical
        wires.append(encode(TxWire(tx.body_bytes, r + s, tx.payload)))
    return [
        encode(TxMsg(tuple(wires[i : i + WIRES_PER_MSG_MAX])))
        for i in range(0, len(wires), WIRES_PER_MSG_MAX)
    ]


def marker_tx(genesis: Genesis) -> Transaction:
    """A well-formed transaction with a good signature: it follows the flood through admission."""
    return build(
        SigningKey(hashlib.sha256(b"loop-stall marker sender").digest()),
        chain_id=genesis.chain_id,
        kind="record",
        nonce=0,
        parents=[genesis.hash],
        valid_until=1_000,
        payload=b"after the junk",
        stamp_bits_min=DagLimits().stamp_bits_min,
    )


def junk_proposal(genesis: Genesis, key: SigningKey) -> bytes:
    """A signed proposal from a key that is no validator: consensus ignores it."""
    cp = Checkpoint(
        chain_id=genesis.chain_id,
        height=1,
        previous=genesis.hash,
        time_ms=genesis.time_ms + 1,
        tips=(genesis.hash,),
        state_hash=bytes(32),
        receipts_root=bytes(32),
        audit_head=bytes(32),
        validator_set_hash=genesis.validators.hash,
    )
    return encode(ProposalMsg(sign_proposal(key, 1, 0, cp, -1)))


async def flood_and_poll(c: Cluster) -> list[float]:
    """Flood node 0 from a fresh peer key while polling its status; the latencies."""
    node = c.nodes[0]
    genesis = read_genesis(node.home / "genesis.json")
    frames = junk_frames(genesis)
    key = SigningKey(hashlib.sha256(b"loop-stall junk peer").digest())
    net = PeerNetwork(
        key=key,
        chain_id=genesis.chain_id,
        genesis_hash=genesis.hash,
        listen=("127.0.0.1", 0),
        dial=[("127.0.0.1", node.p2p_port)],
        on_message=lambda _peer, _data: None,
        on_peer=lambda _peer, up: connected.set() if up else dropped.set(),
        limits=NetLimits(send_queue_max=len(frames) + 8, send_queue_bytes_max=64 * 1024 * 1024),
    )
    latencies: list[float] = []
    done = asyncio.Event()
    connected, dropped = asyncio.Event(), asyncio.Event()
    marker = marker_tx(genesis)

    async def poll() -> None:
        async with httpx.AsyncClient(timeout=10.0) as http:
            while not done.is_set():
                start = time.monotonic()
                r = await http.get(c.url(0) + "/v1/status")
                latencies.append(time.monotonic() - start)
                assert r.status_code == 200
                await asyncio.sleep(POLL_S)

    await net.start()
    poller = asyncio.create_task(poll())
    try:
        async with asyncio.timeout(10):
            await connected.wait()
        peer = net.peers()[0]
        for frame in frames:
            assert net.send(peer, frame)
        assert net.send(peer, junk_proposal(genesis, key))
        assert net.send(peer, encode(TxMsg((marker.to_wire(),))))
        async with httpx.AsyncClient(timeout=10.0) as http, asyncio.timeout(FLOOD_DEADLINE_S):
            url = f"{c.url(0)}/v1/txs/{marker.id.hex()}"
            while not dropped.is_set() and (await http.get(url)).status_code != 200:
                await asyncio.sleep(POLL_S)
            wanted = len(latencies) + SAMPLES_AFTER
            while len(latencies) < wanted:
                await asyncio.sleep(POLL_S)
    finally:
        done.set()
        await poller
        await net.stop()
    return latencies


def test_junk_gossip_and_a_proposal_do_not_stall_the_api(tmp_path: Path) -> None:
    c = Cluster(tmp_path, validators=1)
    try:
        c.start_all()
        latencies = asyncio.run(flood_and_poll(c))
        assert c.status(0)["height"] >= 1  # the node still runs
    finally:
        c.stop()
    assert len(latencies) >= 10
    slowest = max(latencies)
    assert slowest < LATENCY_S_MAX, (
        f"/v1/status took up to {slowest:.2f} s (median {statistics.median(latencies):.3f} s)"
    )

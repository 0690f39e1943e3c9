"""Signatures checked before admission (dag/preverified.py, node/verify_worker.py,
node/verify_pool.py): the same outcomes as checking inline, bounded memory, and
a node process with verify workers that takes transactions to finality and
refuses forged ones. Behaviour only: no timing is asserted here."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import io
import json
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govchain.api.app import BATCH_TXS_MAX
from govchain.codec import encode
from govchain.crypto.keys import SigningKey
from govchain.dag import graph
from govchain.dag.admission import AdmissionError, Reject, decode_checked
from govchain.dag.graph import Dag
from govchain.dag.limits import DagLimits
from govchain.dag.preverified import PRE_VERIFIED_IDS_MAX, PreVerified
from govchain.dag.tx import SIGN_DOMAIN, Transaction, TxWire, build, tx_id
from govchain.node.bench import child_pids
from govchain.node.devnet import create
from govchain.node.files import FileError, Home, read_genesis, read_node_config
from govchain.node.node import Node, node_replica_config
from govchain.node.port_leases import free_port_base
from govchain.node.verify_pool import (
    QUEUED_TXS_MAX,
    VERIFY_WORKERS_MAX,
    VerifyPool,
    _chunks,
    default_verify_workers,
)
from govchain.node.verify_worker import FRAME_HEADER, IDS_ENCODER, serve, verified_ids
from govchain.sdk.client import Client
from govchain.state.payloads import TransferPayload
from metricskit import samples
from procs import Cluster, wait_until

CHAIN = "verify-pool-test"
GENESIS = hashlib.sha256(b"verify pool genesis").digest()
STAMP_BITS = 4
LIMITS = DagLimits(stamp_bits_min=STAMP_BITS)
KEYS = [SigningKey.from_label(f"verify-pool-{i}") for i in range(4)]
STRANGER = SigningKey.from_label("verify-pool-stranger")  # signs what another key sends
# Order of the prime-order subgroup: S + L is the non-canonical twin of S.
L = 2**252 + 27742317777372353535851937790883648493
IDENTITY_KEY = b"\x01" + bytes(31)  # small order: verifies anything under lax rules
FINAL_S = 60.0
WORKERS = 2


# -- helpers ---------------------------------------------------------------
def make_tx(key: SigningKey, nonce: int, parents: list[bytes] | None = None) -> Transaction:
    """A stamped, signed record on CHAIN."""
    return build(
        key,
        chain_id=CHAIN,
        kind="record",
        nonce=nonce,
        parents=[GENESIS] if parents is None else parents,
        valid_until=100,
        payload=b"record %d" % nonce,
        stamp_bits_min=STAMP_BITS,
    )


def wire(body: bytes, signature: bytes, payload: bytes) -> bytes:
    """Wire bytes from the three parts, whatever they hold."""
    return encode(TxWire(body, signature, payload))


def flip(b: bytes, i: int) -> bytes:
    """b with one bit of byte i flipped."""
    return b[:i] + bytes([b[i] ^ 1]) + b[i + 1 :]


def small_order_body(tx: Transaction) -> bytes:
    """tx's body bytes with the sender replaced by the identity point (same length)."""
    assert tx.body.sender in tx.body_bytes
    return tx.body_bytes.replace(tx.body.sender, IDENTITY_KEY)


def variant(tx: Transaction, kind: int, at: int, other: Transaction) -> bytes:
    """One wire derived from tx: honest, forged in one of several ways, or garbage."""
    body, sig, payload = tx.body_bytes, tx.signature, tx.payload
    s = int.from_bytes(sig[32:], "little")
    forms = [
        wire(body, sig, payload),  # honest
        wire(body, flip(sig, at % 64), payload),  # a bit of R or S flipped
        wire(flip(body, at % len(body)), sig, payload),  # the signed bytes changed
        wire(body, other.signature, payload),  # another transaction's signature
        wire(body, STRANGER.sign(SIGN_DOMAIN + body), payload),  # signed by another key
        wire(body, sig[:32] + (s + L).to_bytes(32, "little"), payload),  # S not canonical
        wire(small_order_body(tx), IDENTITY_KEY + bytes(32), payload),  # small-order key
        wire(body, sig[:63], payload),  # short signature
        wire(body, sig, payload)[: at % 40],  # truncated
        secrets.token_bytes(at % 300),  # garbage
        wire(body, sig, payload) + b"\x00",  # trailing byte
    ]
    return forms[kind % len(forms)]


def outcome(dag: Dag, data: bytes) -> tuple[str, ...]:
    """What admission does with data: the ids it added, or the reason it refused."""
    try:
        tx = decode_checked(data, CHAIN, LIMITS)
        adm = dag.admit_tx(tx, 0)
    except AdmissionError as exc:
        return ("refused", exc.reason.value)
    return ("added", *(t.id.hex() for t in adm.added), "missing", *(m.hex() for m in adm.missing))


def state_of(dag: Dag) -> tuple[object, ...]:
    """What an observer can see of a DAG."""
    return (sorted(dag.vertices), list(dag.tips), dag.orphan_count(), dag.uncovered_count)


# -- the pure part: the bounded set and admission -----------------------------
def test_the_set_keeps_its_bound_and_evicts_the_oldest_first() -> None:
    held = PreVerified(ids_max=8)
    ids = [bytes([i]) * 32 for i in range(20)]
    held.add(ids)
    assert len(held) == 8
    assert [vid in held for vid in ids] == [False] * 12 + [True] * 8
    assert held.evicted == 12
    held.add(ids[-3:])  # already held: nothing moves, nothing goes
    assert len(held) == 8 and held.evicted == 12


def test_the_default_bound_holds_whatever_arrives() -> None:
    held = PreVerified()
    held.add(hashlib.sha256(b"%d" % i).digest() for i in range(3 * PRE_VERIFIED_IDS_MAX))
    assert len(held) == PRE_VERIFIED_IDS_MAX
    # A client's whole batch fits: its ids are never evicted before their admission.
    assert PRE_VERIFIED_IDS_MAX >= BATCH_TXS_MAX


def test_an_id_serves_one_admission_and_only_for_its_own_bytes() -> None:
    tx = make_tx(KEYS[0], 0)
    held = PreVerified()
    held.add([tx.id])
    assert held.take(tx) is True
    assert held.take(tx) is False  # consumed
    # A Transaction whose id field names a checked id but whose bytes differ.
    forged = msgspec.structs.replace(tx, signature=flip(tx.signature, 5))
    held.add([tx.id])
    assert held.take(forged) is False
    assert tx.id not in held  # consumed all the same


def test_a_forged_signature_is_refused_even_under_a_checked_id() -> None:
    tx = make_tx(KEYS[0], 0)
    forged = msgspec.structs.replace(tx, signature=flip(tx.signature, 40))  # id left as tx's
    dag = Dag(CHAIN, GENESIS, LIMITS)
    dag.pre_verified.add([tx.id])
    with pytest.raises(AdmissionError) as err:
        dag.admit_tx(forged, 0)
    assert err.value.reason is Reject.BAD_SIGNATURE
    assert not dag.has(tx.id)
    assert dag.admit_tx(tx, 0).added == (tx,)  # checked inline, since its id was consumed


def test_admission_skips_the_check_only_for_a_pre_verified_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[bytes] = []
    monkeypatch.setattr(graph, "check_signature", lambda tx: calls.append(tx.id))
    first, second = make_tx(KEYS[0], 0), make_tx(KEYS[1], 0)
    dag = Dag(CHAIN, GENESIS, LIMITS)
    dag.pre_verified.add([first.id])
    dag.admit_tx(first, 0)
    dag.admit_tx(second, 0)
    assert calls == [second.id]


def test_the_set_is_consumed_without_changing_what_admission_decides() -> None:
    tx = make_tx(KEYS[0], 0)
    dag = Dag(CHAIN, GENESIS, LIMITS)
    dag.pre_verified.add([tx.id])
    assert dag.admit_tx(tx, 0).added == (tx,)
    assert len(dag.pre_verified) == 0
    with pytest.raises(AdmissionError) as err:  # a second copy: refused before any check
        dag.admit_tx(tx, 0)
    assert err.value.reason is Reject.DUPLICATE


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 10), st.integers(0, 10_000), st.booleans()),
        min_size=1,
        max_size=24,
    )
)
def test_pre_verified_and_inline_admission_give_identical_results(
    plan: list[tuple[int, int, int, bool]],
) -> None:
    inline = Dag(CHAIN, GENESIS, LIMITS)
    checked = Dag(CHAIN, GENESIS, LIMITS)
    nonces = [0] * len(KEYS)
    last: list[Transaction] = [make_tx(KEYS[0], 999)]
    outcomes: list[tuple[str, ...]] = []
    for signer, kind, at, chain_on in plan:
        parents = [last[-1].id] if chain_on and len(last) > 1 else None
        tx = make_tx(KEYS[signer], nonces[signer], parents)
        nonces[signer] += 1
        data = variant(tx, kind, at, last[-1])
        last.append(tx)
        ids = verified_ids([data])  # exactly what a worker answers
        if kind % 11 not in (0, 10):  # only honest bytes ever yield an id
            assert ids == [], (kind, data.hex())
        checked.pre_verified.add(ids)
        a, b = outcome(inline, data), outcome(checked, data)
        assert a == b, (kind, a, b)
        outcomes.append(a)
        if kind % 11 in (1, 3, 4, 5):  # forged, on well-formed bytes: the signature's fault
            assert a == ("refused", Reject.BAD_SIGNATURE.value)
        if kind % 11 == 6:
            assert a == ("refused", Reject.BAD_KEY.value)
    assert state_of(inline) == state_of(checked)


def test_a_worker_yields_ids_only_for_strictly_valid_signatures() -> None:
    txs = [make_tx(KEYS[i % 3], i) for i in range(12)]
    honest = [t.to_wire() for t in txs]
    forged = [
        variant(t, k, 7 * k + 3, txs[(i + 1) % len(txs)])
        for i, t in enumerate(txs)
        for k in range(1, 10)
    ]
    assert verified_ids(honest + forged) == [t.id for t in txs]
    # The id is the hash of exactly the bytes that verified.
    assert all(tx_id(t.body_bytes, t.signature) == t.id for t in txs)


def test_the_worker_loop_answers_each_frame_in_order() -> None:
    txs = [make_tx(KEYS[1], i) for i in range(5)]
    frames = [[t.to_wire() for t in txs[:3]], [b"garbage", txs[3].to_wire()], []]
    data = b""
    for f in frames:
        body = encode(f)
        data += FRAME_HEADER.pack(len(body)) + body
    out = io.BytesIO()
    serve(io.BytesIO(data), out)
    raw = out.getvalue()
    replies = []
    while raw:
        (size,) = FRAME_HEADER.unpack(raw[:4])
        replies.append(msgspec.msgpack.decode(raw[4 : 4 + size], type=list[bytes]))
        raw = raw[4 + size :]
    assert replies == [[t.id for t in txs[:3]], [txs[3].id], []]
    assert IDS_ENCODER.encode([]) == encode([])


def test_chunks_spread_a_batch_over_the_workers_within_their_limits() -> None:
    wires = [bytes(100)] * 100
    chunks = _chunks(wires, 2)
    assert [len(c) for c in chunks] == [50, 50]
    assert [len(c) for c in _chunks(wires, 1)] == [64, 36]
    assert _chunks([], 3) == []
    assert sum(len(c) for c in _chunks(wires, 7)) == 100


def test_the_default_leaves_the_event_loop_a_core_and_a_bound() -> None:
    assert [default_verify_workers(n) for n in (1, 2, 3, 8, 64)] == [0, 1, 2, 4, 4]


@pytest.mark.parametrize("value", ["-1", "1.5", "true", '"2"', str(VERIFY_WORKERS_MAX + 1)])
def test_node_json_refuses_a_bad_verify_workers(tmp_path: Path, value: str) -> None:
    path = tmp_path / "node.json"
    path.write_text(f'{{"api": "127.0.0.1:1", "p2p": "127.0.0.1:2", "verify_workers": {value}}}')
    with pytest.raises(FileError, match="verify_workers"):
        read_node_config(path)


HARD_CAP = DagLimits().pending_count_max


@pytest.mark.parametrize("value", ["0", "-5", "2.5", '"9"', str(HARD_CAP + 1)])
def test_node_json_refuses_a_client_pending_max_outside_1_to_the_hard_cap(
    tmp_path: Path, value: str
) -> None:
    path = tmp_path / "node.json"
    path.write_text(
        f'{{"api": "127.0.0.1:1", "p2p": "127.0.0.1:2", "client_pending_max": {value}}}'
    )
    with pytest.raises(FileError, match="client_pending_max"):
        read_node_config(path)


def test_a_node_s_own_settings_reach_its_replica_and_its_file(tmp_path: Path) -> None:
    path = tmp_path / "node.json"
    path.write_text('{"api": "127.0.0.1:1", "p2p": "127.0.0.1:2"}')
    default = read_node_config(path)
    assert (default.verify_workers, default.client_pending_max) == (None, None)
    cfg = dataclasses.replace(default, verify_workers=3, client_pending_max=4_000)
    path.write_text(json.dumps(cfg.to_json()))
    assert read_node_config(path) == cfg
    genesis = create(tmp_path / "net", 1, 0, free_port_base(1))[0].home / "genesis.json"
    g = read_genesis(genesis)
    assert node_replica_config(g, cfg).dag.client_pending_max == 4_000
    assert node_replica_config(g, default).dag.client_pending_max == DagLimits().client_pending_max


# -- the pool: real worker processes -----------------------------------------
def test_the_pool_checks_in_processes_and_survives_a_worker_death() -> None:
    async def scenario() -> None:
        lost: list[int] = []
        pool = VerifyPool(WORKERS, on_lost=lambda: lost.append(1))
        await pool.start()
        try:
            txs = [make_tx(KEYS[i % 3], i) for i in range(150)]
            forged = [variant(t, 1, i, txs[0]) for i, t in enumerate(txs[:20])]
            verifying = pool.submit([t.to_wire() for t in txs] + forged + [b"\xc1junk"])
            assert verifying is not None
            assert await verifying == [t.id for t in txs]
            # Too much at once: the caller is told to check inline, nothing is queued.
            assert pool.submit([txs[0].to_wire()] * (QUEUED_TXS_MAX + 1)) is None
            assert pool.queued_txs == 0
            # A worker killed: what it owed comes back empty, the other carries on.
            os.kill(pool._workers[0].proc.pid, signal.SIGKILL)
            wait = asyncio.get_running_loop().time() + 10
            while pool.alive() == WORKERS and asyncio.get_running_loop().time() < wait:
                await asyncio.sleep(0.01)
            assert pool.alive() == WORKERS - 1 and lost == [1]
            again = pool.submit([t.to_wire() for t in txs[:10]])
            assert again is not None and await again == [t.id for t in txs[:10]]
        finally:
            await pool.close()
        assert pool.submit([txs[0].to_wire()]) is None  # closed: inline
        assert lost == [1]  # a close is no loss

    asyncio.run(scenario())


# -- a node process with verify workers ------------------------------------------
class WorkerCluster(Cluster):
    """A devnet layout whose nodes run with --verify-workers WORKERS."""

    def start(self, i: int) -> None:
        """Start node i (again) with verify workers."""
        n = self.nodes[i]
        log = (n.home / "node.log").open("ab")
        self.procs[n.name] = subprocess.Popen(
            [
                *(sys.executable, "-m", "govchain.cli.main", "node", "--home", str(n.home)),
                *("--verify-workers", str(WORKERS)),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()


@pytest.fixture
def two_validators(tmp_path: Path) -> Iterator[WorkerCluster]:
    """Two validators, each with WORKERS verify workers (gossip goes through them too)."""
    c = WorkerCluster(tmp_path, validators=2)
    try:
        c.start_all()
        yield c
    finally:
        c.stop()


def _transfer(
    c: Cluster, client: Client, key: SigningKey, nonce: int, after: Transaction | None
) -> Transaction:
    """A transfer of 1 to a fresh address; after: its sender's previous one (executes first)."""
    tips, height = client.tips()
    return build(
        key,
        chain_id=c.status(0)["chain_id"],
        kind="transfer",
        nonce=nonce,
        parents=tips if after is None else [after.id],
        valid_until=height + 1_000,
        payload=encode(TransferPayload(secrets.token_bytes(20), 1)),
        stamp_bits_min=DagLimits().stamp_bits_min,
    )


def test_a_node_with_verify_workers_finalizes_and_refuses_forgeries(
    two_validators: WorkerCluster,
) -> None:
    c = two_validators
    faucet = SigningKey(bytes.fromhex(_key_seed(c.root / "keys" / "faucet.key")))
    for i in range(2):
        assert len(child_pids(c.procs[c.nodes[i].name].pid)) == WORKERS
    with Client(c.url(0)) as client:
        txs: list[Transaction] = []
        for nonce in range(20):
            txs.append(_transfer(c, client, faucet, nonce, txs[-1] if txs else None))
        r = c.http.post(
            c.url(0) + "/v1/txs/batch",
            content=encode([t.to_wire() for t in txs]),
            headers={"content-type": "application/msgpack"},
        )
        assert r.status_code == 202, r.text
        assert all("error" not in res for res in r.json()["results"]), r.text
        for tx in txs:
            assert client.wait_final(tx.id.hex(), FINAL_S)["status"] == "executed"

        # Forged: one bit of the signature, a signature from another key, a small-order
        # sender; alone and in a batch beside an honest one.
        honest = _transfer(c, client, faucet, 20, txs[-1])
        bad = flip(honest.signature, 10)
        forged = wire(honest.body_bytes, bad, honest.payload)
        other = wire(
            honest.body_bytes, STRANGER.sign(SIGN_DOMAIN + honest.body_bytes), honest.payload
        )
        single = c.http.post(
            c.url(1) + "/v1/txs",
            content=forged,
            headers={"content-type": "application/octet-stream"},
        )
        assert single.status_code == 422, single.text
        assert single.json()["error"]["code"] == "bad_signature"
        batch = c.http.post(
            c.url(0) + "/v1/txs/batch",
            content=encode([forged, other, b"\xc1 not a transaction", honest.to_wire()]),
            headers={"content-type": "application/msgpack"},
        )
        codes = [res.get("error", {}).get("code") for res in batch.json()["results"]]
        assert codes == ["bad_signature", "bad_signature", "malformed", None], batch.text
        assert client.wait_final(honest.id.hex(), FINAL_S)["status"] == "executed"
    for i in range(2):  # the other validator took them by gossip, through its workers
        with Client(c.url(i)) as client:
            assert client.tx(honest.id.hex())["status"] == "executed"
        forged_id = tx_id(honest.body_bytes, bad).hex()
        assert c.http.get(c.url(i) + f"/v1/txs/{forged_id}").status_code == 404
        metrics = samples(c.http.get(c.url(i) + "/metrics").text)
        assert metrics["govchain_verify_workers"] == WORKERS
        assert metrics["govchain_signatures_pre_verified_total"] >= len(txs)
    wait_until(lambda: c.height(1) >= c.height(0) - 1, FINAL_S, "validator-1 to keep up")


def _key_seed(path: Path) -> str:
    seed: str = msgspec.json.decode(path.read_bytes())["seed"]
    return seed


# -- the node's admitter with workers, in-process ------------------------------------
def test_gossip_goes_through_the_workers_and_is_admitted_in_the_order_taken(
    tmp_path: Path,
) -> None:
    devnet = create(tmp_path, 1, 0, free_port_base(1))
    node = Node(Home(devnet[0].home), verify_workers=WORKERS)
    genesis = node.genesis
    keys = [SigningKey.from_label(f"verify-pool-gossip-{i}") for i in range(150)]
    txs = [
        build(
            k,
            chain_id=genesis.chain_id,
            kind="record",
            nonce=0,
            parents=[genesis.hash],
            valid_until=1_000,
            payload=b"gossip",
            stamp_bits_min=DagLimits().stamp_bits_min,
        )
        for k in keys
    ]
    forged = wire(txs[0].body_bytes, flip(txs[0].signature, 3), txs[0].payload)
    honest_peer, bad_peer = "aa" * 32, "bb" * 32

    async def scenario() -> None:
        pool = VerifyPool(WORKERS)
        await pool.start()
        node._verify_pool = pool
        admitter = asyncio.create_task(node._admitter())
        try:
            node.backlog.push(honest_peer, tuple(t.to_wire() for t in txs[:100]))
            node.backlog.push(bad_peer, (forged,))
            node.backlog.push(honest_peer, tuple(t.to_wire() for t in txs[100:]))
            node._backlog_ready.set()
            async with asyncio.timeout(30):
                while not all(node.replica.dag.has(t.id) for t in txs):
                    await asyncio.sleep(0.01)
        finally:
            node.stop()
            await admitter
            await pool.close()

    try:
        asyncio.run(scenario())
    finally:
        node.store.close()
    dag = node.replica.dag
    # Independent transactions enter the DAG as they are delivered: in the order taken.
    assert [vid for vid in dag.vertices if vid != genesis.hash] == [t.id for t in txs]
    assert not dag.holds(tx_id(txs[0].body_bytes, flip(txs[0].signature, 3)))
    assert node.metrics.pre_verified == len(txs)
    assert node.metrics.peers_blamed == 1  # the forgery's sender, by the usual path
    assert len(dag.pre_verified) == 0  # every id handed over was consumed

"""Replicas on the simulated clock and network; peer messages and their decoder.

The replicas run in conftest.SimCluster: each is driven by the shell a node
runs (ticks, group commit, persist before send) over an in-memory store, and
every send is encoded, carried by the seeded simulated network and decoded
with decode_message.
"""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SimCluster, receipt_of
from govchain.codec import DecodeError, encode
from govchain.consensus.messages import (
    Certificate,
    Checkpoint,
    VoteKind,
    sign_proposal,
    sign_vote,
)
from govchain.consensus.tendermint import Verdict
from govchain.consensus.validators import ValidatorSet
from govchain.crypto.keys import SigningKey
from govchain.dag.admission import AdmissionError, Reject
from govchain.dag.limits import DagLimits
from govchain.dag.tx import Transaction, TxWire, build
from govchain.replica.config import ReplicaConfig
from govchain.replica.messages import (
    IDS_PER_REQUEST_MAX,
    AckMsg,
    CommitMsg,
    CommitRequest,
    Message,
    ProposalMsg,
    TxMsg,
    TxRequest,
    VoteMsg,
    decode_message,
)
from govchain.replica.replica import Replica
from govchain.sim.cluster import sim_consensus_config
from govchain.state.genesis import Genesis
from govchain.state.payloads import TransferPayload

STAMP_BITS = 4
CONFIG = ReplicaConfig(
    dag=DagLimits(stamp_bits_min=STAMP_BITS),
    consensus=sim_consensus_config(frozenset()),
    idle_checkpoint_ms=0,
)
ALICE = SigningKey.from_label("replica-alice")
BOB = SigningKey.from_label("replica-bob")
VALIDATORS = [SigningKey.from_label(f"replica-validator-{i}") for i in range(4)]


def genesis(validators: int) -> Genesis:
    return Genesis(
        chain_id="replica-test",
        time_ms=0,
        balances=tuple(sorted([(ALICE.address, 1_000), (BOB.address, 500)])),
        validators=ValidatorSet.of({k.public_key: 1 for k in VALIDATORS[:validators]}),
        committee=((SigningKey.from_label("replica-regulator").public_key, 1),),
        threshold=1,
    )


GENESIS = genesis(4)


# -- helpers ---------------------------------------------------------------
def cluster(n: int = 4) -> SimCluster:
    """n validator replicas r0..r{n-1} on the simulated clock and network."""
    return SimCluster(genesis(n), VALIDATORS[:n], CONFIG)


def transfer(
    replica: Replica, key: SigningKey, to: SigningKey, amount: int, nonce: int
) -> Transaction:
    """A transfer naming the replica's newest tips as parents."""
    return build(
        key,
        chain_id=GENESIS.chain_id,
        kind="transfer",
        nonce=nonce,
        parents=replica.dag.client_tips(2),
        valid_until=replica.dag.height + 40,
        payload=encode(TransferPayload(to.address, amount)),
        stamp_bits_min=STAMP_BITS,
    )


def sample_messages() -> list[Message]:
    """One of each peer message type, signed where it carries a signature."""
    key = VALIDATORS[0]
    cp = Checkpoint(
        chain_id=GENESIS.chain_id,
        height=1,
        previous=GENESIS.hash,
        time_ms=5,
        tips=(bytes(32),),
        state_hash=bytes(32),
        receipts_root=bytes(32),
        audit_head=bytes(32),
        validator_set_hash=GENESIS.validators.hash,
    )
    vote = sign_vote(key, GENESIS.chain_id, VoteKind.PRECOMMIT, 1, 0, cp.hash)
    tx = build(
        ALICE,
        chain_id=GENESIS.chain_id,
        kind="transfer",
        nonce=0,
        parents=[GENESIS.hash],
        valid_until=40,
        payload=encode(TransferPayload(BOB.address, 1)),
        stamp_bits_min=STAMP_BITS,
    )
    return [
        TxMsg((tx.to_wire(),)),
        TxRequest((tx.id, bytes(32))),
        ProposalMsg(sign_proposal(key, 1, 0, cp, -1)),
        VoteMsg(vote),
        CommitMsg(cp, Certificate(1, 0, cp.hash, ((0, vote.signature),))),
        CommitRequest(7),
        AckMsg((tx.id,)),
    ]


# -- a cluster finalizes a transfer ----------------------------------------
def test_a_submitted_transfer_is_final_with_one_receipt_everywhere() -> None:
    net = cluster()
    net.run_until(lambda: all(net.height(n) >= 2 for n in net.names))
    tx = transfer(net.replicas["r1"], ALICE, BOB, 250, nonce=0)
    net.submit("r1", tx)
    net.run_until(net.final_everywhere(tx))
    net.run_until(lambda: len({net.height(n) for n in net.names}) == 1)

    receipts = {n: receipt_of(r, tx.id) for n, r in net.replicas.items()}
    assert len(set(receipts.values())) == 1
    rc = receipts["r0"]
    assert rc is not None and rc.status == "executed" and rc.reason is None
    for r in net.replicas.values():
        assert r.ledger.balance(ALICE.address) == 750
        assert r.ledger.balance(BOB.address) == 750
        assert r.ledger.total_supply() == GENESIS.supply
    assert len({r.ledger.state_hash for r in net.replicas.values()}) == 1


def test_two_validators_finalize_only_while_both_are_up() -> None:
    net = cluster(n=2)
    tx = transfer(net.replicas["r0"], ALICE, BOB, 1, nonce=0)
    net.submit("r0", tx)
    net.run_until(net.final_everywhere(tx))
    assert {r.ledger.balance(BOB.address) for r in net.replicas.values()} == {501}

    net.cut = {"r1"}  # one of two is not a quorum: nothing more is decided
    decided = {n: list(r.decided) for n, r in net.replicas.items()}
    net.run_for(3_000)
    assert {n: r.decided for n, r in net.replicas.items()} == decided


def test_a_spent_nonce_is_rejected_on_every_replica() -> None:
    net = cluster()
    first = transfer(net.replicas["r0"], ALICE, BOB, 100, nonce=0)
    again = transfer(net.replicas["r2"], ALICE, BOB, 999, nonce=0)
    net.submit("r0", first)
    net.run_until(net.final_everywhere(first))
    net.submit("r2", again)
    net.run_until(net.final_everywhere(again))
    for r in net.replicas.values():
        rc = receipt_of(r, again.id)
        assert rc is not None and (rc.status, rc.reason) == ("rejected", "conflict")
        assert r.ledger.balance(BOB.address) == 600


# -- restarts ----------------------------------------------------------------
def test_restarted_replica_resumes_at_the_same_height_and_state() -> None:
    net = cluster()
    tx = transfer(net.replicas["r0"], ALICE, BOB, 10, nonce=0)
    net.submit("r0", tx)
    net.run_until(net.final_everywhere(tx))
    old = net.replicas["r2"]
    before = (old.ledger.height, old.consensus.height, old.ledger.state_hash)

    new = net.restart("r2")
    assert new is not old
    assert (new.ledger.height, new.consensus.height, new.ledger.state_hash) == before
    assert new.ledger.balance(BOB.address) == 510
    assert receipt_of(new, tx.id) == receipt_of(old, tx.id)

    more = transfer(new, BOB, ALICE, 5, nonce=0)
    net.submit("r2", more)
    net.run_until(net.final_everywhere(more))
    assert new.ledger.height > before[0]
    assert new.ledger.balance(ALICE.address) == 995


def test_whole_cluster_restarted_from_its_stores_keeps_finalizing() -> None:
    net = cluster()
    tx = transfer(net.replicas["r3"], ALICE, BOB, 10, nonce=0)
    net.submit("r3", tx)
    net.run_until(lambda: all(net.height(n) >= 3 for n in net.names))
    net.run_until(net.final_everywhere(tx))
    for name in net.names:
        net.restart(name)  # in-flight messages die with the processes
    top = max(net.height(n) for n in net.names)
    more = transfer(net.replicas["r0"], ALICE, BOB, 20, nonce=1)
    net.submit("r0", more)
    net.run_until(net.final_everywhere(more))
    assert all(net.height(n) > top for n in net.names)
    assert {r.ledger.balance(BOB.address) for r in net.replicas.values()} == {530}


# -- catching up -------------------------------------------------------------
def cut_off_r3_while_a_transfer_finalizes() -> tuple[SimCluster, Transaction]:
    net = cluster()
    net.cut = {"r3"}
    tx = transfer(net.replicas["r0"], ALICE, BOB, 42, nonce=0)
    net.submit("r0", tx)
    rest = ["r0", "r1", "r2"]
    net.run_until(lambda: all(receipt_of(net.replicas[n], tx.id) is not None for n in rest))
    net.run_until(lambda: all(net.height(n) >= 8 for n in rest))
    assert net.height("r3") == 0
    assert not net.replicas["r3"].dag.has(tx.id)
    net.cut = set()
    return net, tx


def test_cut_off_replica_catches_up_through_commits_and_fetches() -> None:
    net, tx = cut_off_r3_while_a_transfer_finalizes()
    net.run_until(net.final_everywhere(tx))
    net.run_until(lambda: net.height("r3") >= net.height("r0") - 1)

    r3, r0 = net.replicas["r3"], net.replicas["r0"]
    assert r3.ledger.balance(BOB.address) == 542
    assert receipt_of(r3, tx.id) == receipt_of(r0, tx.id)
    assert r3.decided == r0.decided[: len(r3.decided)]
    asked = {t for (src, _, t) in net.traffic.delivered if src == "r3"}
    answered = {t for (_, dst, t) in net.traffic.delivered if dst == "r3"}
    assert {CommitRequest, TxRequest} <= asked
    assert {CommitMsg, TxMsg} <= answered


def test_an_idle_chain_catches_up_a_reply_after_another_not_a_heartbeat_after_another() -> None:
    # Idle, the chain decides one empty checkpoint a second (the heartbeat), and
    # consensus messages come that rarely: a catch-up that asked only when one
    # arrived took a second for each reply of commits_per_reply_max.
    net = cluster()
    net.cut = {"r3"}
    net.run_until(lambda: net.height("r0") >= 100, ms_max=200_000)
    net.cut = set()
    start = net.now_ms
    net.run_until(lambda: net.height("r3") >= 100, ms_max=60_000)
    took_ms = net.now_ms - start
    replies = -(-100 // CONFIG.commits_per_reply_max)
    assert took_ms < 2 * CONFIG.catchup_interval_ms + replies * 200, f"100 heights in {took_ms} ms"
    asked = sum(
        n for (src, _, t), n in net.traffic.delivered.items() if src == "r3" and t is CommitRequest
    )
    assert asked <= 100, f"{asked} requests for 100 heights"  # at most one a height


@pytest.mark.parametrize("restart", [False, True])
def test_decided_but_unexecuted_checkpoints_are_executed_in_a_quiet_network(
    restart: bool,
) -> None:
    net, _ = cut_off_r3_while_a_transfer_finalizes()
    # r3 learns decisions through commits but every transaction on its way is lost.
    net.lost = lambda src, dst, msg: dst == "r3" and isinstance(msg, TxMsg)
    net.run_until(lambda: len(net.replicas["r3"].decided) >= 2)
    assert net.height("r3") == 0
    net.lost = lambda src, dst, msg: False
    if restart:
        net.restart("r3")
    net.run_until(lambda: net.height("r3") >= 2, ms_max=5_000)


# -- admission at the edge ---------------------------------------------------
def test_submit_with_a_bad_signature_raises_and_sends_nothing() -> None:
    net = cluster()
    r0 = net.replicas["r0"]
    tx = transfer(r0, ALICE, BOB, 1, nonce=0)
    sig = bytes([tx.signature[0] ^ 1]) + tx.signature[1:]
    with pytest.raises(AdmissionError) as err:
        r0.submit(encode(TxWire(tx.body_bytes, sig, tx.payload)), net.now_ms)
    assert err.value.reason is Reject.BAD_SIGNATURE
    out = r0.ready()
    assert out.sends == [] and not out.must_persist()
    assert not r0.dag.has(tx.id)


# -- the peer message decoder ------------------------------------------------
@pytest.mark.parametrize("msg", sample_messages(), ids=lambda m: type(m).__name__)
def test_every_message_type_round_trips(msg: Message) -> None:
    data = encode(msg)
    assert decode_message(data) == msg
    assert encode(decode_message(data)) == data


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc1",  # never used in msgpack
        b"\x92\x09\x01",  # unknown tag 9
        b"\x92\x06",  # truncated
        b"\x93\x06\x01\x02",  # CommitRequest with an extra field
        b"\x92\x06\xa11",  # CommitRequest height as a string
        encode([6, 1]) + b"\x00",  # trailing byte
        encode({"height": 1}),
    ],
)
def test_garbage_is_a_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_message(data)


@pytest.mark.parametrize(
    "data",
    [
        b"\x92\x06\xcc\x01",  # height 1 as a uint8 instead of a fixint
        b"\x92\x06\xd1\x00\x01",  # as an int16
        b"\xdc\x00\x02\x06\x01",  # array16 header for two items
        b"\x92\x01\x91\xc5\x00\x01\x00",  # a one-byte bin with a bin16 length
    ],
)
def test_non_canonical_encodings_are_refused(data: bytes) -> None:
    with pytest.raises(DecodeError, match="non-canonical"):
        decode_message(data)


def test_a_request_for_too_many_ids_is_refused() -> None:
    ok = TxRequest(tuple(i.to_bytes(32, "big") for i in range(IDS_PER_REQUEST_MAX)))
    assert decode_message(encode(ok)) == ok
    over = msgspec.structs.replace(ok, ids=(*ok.ids, bytes(32)))
    with pytest.raises(DecodeError):
        decode_message(encode(over))


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_only_ever_raise_decode_error(data: bytes) -> None:
    try:
        msg = decode_message(data)
    except DecodeError:
        return
    assert encode(msg) == data


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sample_messages()), st.integers(0, 400), st.integers(0, 255))
def test_mutated_messages_only_ever_raise_decode_error(
    msg: Message, position: int, byte: int
) -> None:
    data = bytearray(encode(msg))
    data[position % len(data)] = byte
    try:
        decoded = decode_message(bytes(data))
    except DecodeError:
        return
    assert encode(decoded) == bytes(data)


def test_judging_a_checkpoint_changes_nothing_and_its_missing_tip_is_asked_through_ready() -> None:
    """check is a pure query; a MISSING verdict becomes TxRequests in ReplicaReady.sends."""
    net = cluster()
    net.cut.add("r3")
    tx = transfer(net.replicas["r0"], ALICE, BOB, 5, 0)
    net.submit("r0", tx)
    r3 = net.replicas["r3"]
    assert not r3.dag.holds(tx.id)
    now = 60_000
    own = r3.consensus.app.propose(1, None, now)
    assert own is not None
    cp = msgspec.structs.replace(own, tips=(tx.id,))

    assert r3.consensus.app.check(cp, None, now) is Verdict.MISSING
    assert r3.consensus.app.check(cp, None, now) is Verdict.MISSING
    assert not r3.dag.holds(tx.id)
    assert not any(isinstance(m, TxRequest) for _, m in r3.ready().sends)  # nothing asked yet

    proposer = next(k for k in VALIDATORS if k.public_key == GENESIS.validators.proposer(1, 0))
    r3.receive("r0", ProposalMsg(sign_proposal(proposer, 1, 0, cp, -1)), now)
    asked = {dst for dst, m in r3.ready().sends if isinstance(m, TxRequest) and tx.id in m.ids}
    assert asked == {"r0", "r1", "r2"}  # consensus's need: every peer, not only the sender

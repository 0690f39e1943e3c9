"""Buffers the network feeds stay within their byte budgets and per-source shares.

Each scenario is an attack from the review of issue 9, run in-process against
the real replica: a flood from one source must neither grow memory past its
share nor lock out honest clients, peers or consensus.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
from collections.abc import Iterator

from conftest import SimCluster
from govchain.codec import encode
from govchain.consensus.config import ConsensusConfig
from govchain.consensus.messages import (
    Certificate,
    Checkpoint,
    Vote,
    VoteKind,
    sign_proposal,
    sign_vote,
)
from govchain.consensus.tendermint import Relation, Tendermint, Verdict
from govchain.consensus.validators import ValidatorSet
from govchain.crypto.keys import SigningKey
from govchain.dag.admission import AdmissionError, decode_checked
from govchain.dag.graph import Dag, orphan_cost_bytes
from govchain.dag.limits import DagLimits
from govchain.dag.tx import Transaction, build
from govchain.node.backlog import Backlog, BacklogLimits
from govchain.replica.config import ReplicaConfig
from govchain.replica.messages import (
    WIRES_PER_MSG_MAX,
    CommitMsg,
    CommitRequest,
    ProposalMsg,
    TxMsg,
    TxRequest,
    VoteMsg,
)
from govchain.replica.replica import Replica
from govchain.replica.replication import SubmitState, Submitted
from govchain.sim.cluster import sim_consensus_config
from govchain.state.genesis import Genesis
from govchain.state.payloads import TransferPayload

STAMP_BITS = 4
CONFIG = ReplicaConfig(
    dag=DagLimits(stamp_bits_min=STAMP_BITS),
    consensus=sim_consensus_config(frozenset()),
    idle_checkpoint_ms=0,
)
ALICE = SigningKey.from_label("budgets-alice")
VALIDATORS = [SigningKey.from_label(f"budgets-validator-{i}") for i in range(4)]
NAMES = [f"r{i}" for i in range(4)]
OUTSIDER = SigningKey.from_label("budgets-outsider")
GENESIS = Genesis(
    chain_id="budgets-test",
    time_ms=0,
    balances=((ALICE.address, 1_000),),
    validators=ValidatorSet.of({k.public_key: 1 for k in VALIDATORS}),
    committee=((SigningKey.from_label("budgets-regulator").public_key, 1),),
    threshold=1,
)


# -- helpers ---------------------------------------------------------------
def replica(name: str = "r0", config: ReplicaConfig = CONFIG) -> Replica:
    """A started validator replica whose peers are r0..r3."""
    r = Replica(name, GENESIS, VALIDATORS[NAMES.index(name)], NAMES, config)
    r.start(0)
    r.ready()
    return r


def throwaway_keys(count: int, label: str) -> list[SigningKey]:
    """Keys that cost an attacker nothing."""
    return [SigningKey.from_label(f"{label}-{i}") for i in range(count)]


def fake_id(label: str, i: int) -> bytes:
    """An id no transaction has: a parent that never arrives."""
    return hashlib.sha256(f"{label}:{i}".encode()).digest()


def orphan_wires(
    count: int, *, keys: int, payload_bytes: int, parents: int, label: str
) -> list[bytes]:
    """Valid, signed transactions whose parents never arrive, from many keys."""
    senders = throwaway_keys(keys, label)
    wires = []
    for i in range(count):
        tx = build(
            senders[i % keys],
            chain_id=GENESIS.chain_id,
            kind="record",
            nonce=i,
            parents=sorted(fake_id(label, i * parents + k) for k in range(parents)),
            valid_until=50,
            payload=bytes([i % 251]) * payload_bytes,
            stamp_bits_min=STAMP_BITS,
        )
        wires.append(tx.to_wire())
    return wires


def batches(wires: list[bytes]) -> Iterator[TxMsg]:
    for start in range(0, len(wires), WIRES_PER_MSG_MAX):
        yield TxMsg(tuple(wires[start : start + WIRES_PER_MSG_MAX]))


def flood(r: Replica, peer: str, wires: list[bytes], now_ms: int) -> None:
    """Deliver wires from peer, taking the replica's outputs as a shell would."""
    for msg in batches(wires):
        r.receive(peer, msg, now_ms)
        r.ready()


def record(key: SigningKey, parents: list[bytes], nonce: int = 0) -> Transaction:
    return build(
        key,
        chain_id=GENESIS.chain_id,
        kind="record",
        nonce=nonce,
        parents=parents,
        valid_until=50,
        payload=b"honest",
        stamp_bits_min=STAMP_BITS,
    )


def within_budgets(r: Replica) -> None:
    """The checker the simulator runs: no buffer above its budget."""
    for name, (used, budget) in r.budgets().items():
        assert 0 <= used <= budget, f"{name}: {used} bytes > budget {budget}"


# -- the orphan pool -------------------------------------------------------
def test_an_orphan_flood_from_one_peer_stays_in_its_share_and_clients_still_get_in() -> None:
    r = replica()
    limits = r.config.dag
    # 3,000 orphans of 4,000 payload bytes (the anonymous tier's largest) from
    # 300 throwaway keys: about 13 MB, all through one peer connection.
    wires = orphan_wires(3_000, keys=300, payload_bytes=4_000, parents=1, label="flood")
    flood(r, "mallory", wires, 1_000)

    held = r.dag.orphan_count() * len(wires[0])
    assert held <= limits.orphan_bytes_per_source_max, f"{r.dag.orphan_count()} orphans held"
    assert r.dag.orphan_bytes("mallory") <= limits.orphan_bytes_per_source_max
    within_budgets(r)

    # An honest client is not refused: one source cannot fill the pool.
    assert not r.dag.client_pool_full()
    tx = record(ALICE, [GENESIS.hash])
    assert r.submit(tx.to_wire(), 1_000) == Submitted(tx.id, SubmitState.ADMITTED)

    # An honest peer's child that overtook its parent still waits for it.
    parent = record(ALICE, [tx.id], nonce=1)
    child = record(ALICE, [parent.id], nonce=2)
    r.receive("r1", TxMsg((child.to_wire(),)), 1_000)
    assert r.dag.holds(child.id)
    r.receive("r1", TxMsg((parent.to_wire(),)), 1_020)
    assert r.dag.has(child.id)
    within_budgets(r)


def test_many_sources_share_the_orphan_pool_and_spent_budget_is_back_pressure() -> None:
    limits = DagLimits(
        stamp_bits_min=STAMP_BITS, orphan_bytes_max=400_000, orphan_bytes_per_source_max=100_000
    )
    dag = Dag(GENESIS.chain_id, GENESIS.hash, limits)
    wires = orphan_wires(400, keys=40, payload_bytes=4_000, parents=1, label="sybils")
    for i, w in enumerate(wires):
        with contextlib.suppress(AdmissionError):
            dag.admit_tx(decode_checked(w, GENESIS.chain_id, limits), 0, source=f"s{i % 10}")
    assert dag.orphan_bytes() <= limits.orphan_bytes_max
    assert all(dag.orphan_bytes(f"s{k}") <= limits.orphan_bytes_per_source_max for k in range(10))
    # Ten sources spent the whole budget: clients are asked to come back later...
    assert dag.client_pool_full()
    # ... while a source that holds nothing still gets its orphan in: the
    # largest holder makes room.
    late = record(ALICE, [fake_id("late", 0)])
    assert dag.admit_tx(late, 0, source="honest").missing == late.body.parents
    assert dag.holds(late.id)
    assert dag.orphan_bytes() <= limits.orphan_bytes_max


# -- wanted fetches ----------------------------------------------------------
def proposal_naming(tip: bytes) -> ProposalMsg:
    """A valid proposal for height 1, round 0 whose only tip is tip."""
    proposer = next(k for k in VALIDATORS if k.public_key == GENESIS.validators.proposer(1, 0))
    cp = Checkpoint(
        chain_id=GENESIS.chain_id,
        height=1,
        previous=GENESIS.hash,
        time_ms=5,
        tips=(tip,),
        state_hash=bytes(32),
        receipts_root=bytes(32),
        audit_head=bytes(32),
        validator_set_hash=GENESIS.validators.hash,
    )
    return ProposalMsg(sign_proposal(proposer, 1, 0, cp, -1))


def test_a_peer_cannot_fill_the_wanted_list_and_a_proposal_tip_is_still_fetched() -> None:
    r = replica()
    # 2,600 orphans naming 8 missing parents each: 20,800 fetches wanted.
    wires = orphan_wires(2_600, keys=100, payload_bytes=0, parents=8, label="fetch")
    flood(r, "mallory", wires, 1_000)
    assert len(r._fetcher.wanted) <= 8_192, f"{len(r._fetcher.wanted)} ids wanted"
    within_budgets(r)

    tip = fake_id("tip", 0)
    r.receive("r1", proposal_naming(tip), 1_000)
    sends = r.ready().sends
    assert any(isinstance(m, TxRequest) and tip in m.ids for _, m in sends)

    # Re-requests (to every peer) stay within the share, and go once the orphans
    # that wanted them do.
    r.tick(1_000 + r.config.fetch_retry_ms)
    asked: dict[str | None, int] = {}
    for dst, m in r.ready().sends:
        if isinstance(m, TxRequest):
            asked[dst] = asked.get(dst, 0) + len(m.ids)
    assert asked and max(asked.values()) <= 8_192
    r.tick(1_000 + r.config.dag.orphan_ttl_ms)
    r.tick(1_000 + r.config.dag.orphan_ttl_ms + r.config.fetch_retry_ms)
    assert r.dag.orphan_count() == 0
    assert len(r._fetcher.wanted) <= 1  # at most the proposal's tip
    within_budgets(r)


def chain_of(count: int, *, payload_bytes: int, label: str) -> list[Transaction]:
    """count records of one key, each the parent of the next, from the genesis root."""
    key = SigningKey.from_label(label)
    txs: list[Transaction] = []
    parent = GENESIS.hash
    for i in range(count):
        tx = build(
            key,
            chain_id=GENESIS.chain_id,
            kind="record",
            nonce=i,
            parents=[parent],
            valid_until=50,
            payload=bytes([i % 251]) * payload_bytes,
            stamp_bits_min=STAMP_BITS,
        )
        txs.append(tx)
        parent = tx.id
    return txs


def test_a_needed_cone_deeper_than_a_peers_share_completes_through_full_shares() -> None:
    # Simulator seeds 1 and 1586: each peer's orphan share full, and the cone a
    # proposal (or a decided checkpoint) needs arriving child first through
    # those same peers. Charged to them, its ancestors could never enter.
    # The simulator's pool: 384 KiB, 96 KiB a source.
    small = DagLimits(
        stamp_bits_min=STAMP_BITS, orphan_bytes_max=393_216, orphan_bytes_per_source_max=98_304
    )
    r = replica(config=dataclasses.replace(CONFIG, dag=small))
    limits = r.config.dag
    flood(r, "r1", orphan_wires(400, keys=40, payload_bytes=1_000, parents=1, label="r1"), 900)
    flood(r, "r2", orphan_wires(400, keys=40, payload_bytes=1_000, parents=1, label="r2"), 900)
    assert r.dag.orphan_bytes("r1") > limits.orphan_bytes_per_source_max - 2_000

    cone = chain_of(150, payload_bytes=500, label="needed")
    cone_cost = sum(orphan_cost_bytes(t, 1) for t in cone)
    assert 2 * limits.orphan_bytes_per_source_max < cone_cost < limits.orphan_bytes_max
    r.receive("r1", proposal_naming(cone[-1].id), 1_000)
    r.ready()
    for i, tx in enumerate(reversed(cone)):
        assert tx.id in r._fetcher.wanted, f"{i}: the next ancestor is not asked for"
        r.receive("r1" if i % 2 else "r2", TxMsg((tx.to_wire(),)), 1_000 + i)
        r.ready()
        if i == 75:  # a flood meanwhile takes nothing from the needed cone
            flood(
                r,
                "mallory",
                orphan_wires(500, keys=50, payload_bytes=4_000, parents=1, label="m"),
                1_000 + i,
            )
        within_budgets(r)
    assert all(r.dag.has(t.id) for t in cone)
    assert r.dag.orphan_bytes() <= limits.orphan_bytes_max


def test_a_held_orphan_a_proposal_names_becomes_a_need_with_its_waiting_ancestors() -> None:
    r = replica()
    cone = chain_of(5, payload_bytes=10, label="held")
    for tx in reversed(cone[1:]):  # gossip from r1, the root of the cone lost
        r.receive("r1", TxMsg((tx.to_wire(),)), 100)
        r.ready()
    assert r.dag.orphan_bytes("r1") > 0 and r.dag.orphan_count() == 4
    r.receive("r2", proposal_naming(cone[-1].id), 200)
    r.ready()
    assert r.dag.orphan_bytes("r1") == 0, "the named cone moved to the replica's own needs"
    assert r.dag.orphan_count() == 4
    want = r._fetcher.wanted.get(cone[0].id)
    assert want is not None and want.source is None
    r.receive("r3", TxMsg((cone[0].to_wire(),)), 300)
    assert all(r.dag.has(t.id) for t in cone)


# -- catch-up bookkeeping ------------------------------------------------------
def test_catchup_bookkeeping_stays_bounded_under_many_peer_names() -> None:
    c = SimCluster(GENESIS, VALIDATORS, CONFIG)
    c.run_until(lambda: all(r.ledger.height >= 1 for r in c.replicas.values()))
    r = c.replica("r0")
    now = c.now_ms
    far = r.consensus.height + 5
    junk_vote = VoteMsg(sign_vote(OUTSIDER, GENESIS.chain_id, VoteKind.PREVOTE, far, 0, b""))
    for i in range(20_000):
        r.receive(f"sybil-{i}", CommitRequest(1), now)
        r.receive(f"sybil-{i}", junk_vote, now)
        if i % 256 == 0:
            r.ready()
    r.ready()
    assert len(r._catchup.sent) <= 8_192, f"{len(r._catchup.sent)} entries"
    within_budgets(r)

    # Once the flood's interval has passed, an honest peer is served again.
    later = now + r.config.catchup_interval_ms
    r.tick(later)
    r.ready()
    r.receive("r1", CommitRequest(1), later)
    assert any(isinstance(m, CommitMsg) and dst == "r1" for dst, m in r.ready().sends)
    within_budgets(r)


# -- the consensus future queue ------------------------------------------------
class FixedApp:
    """A ConsensusApp that knows the genesis set and accepts every proposal."""

    def validator_set(self, height: int) -> ValidatorSet | None:
        return GENESIS.validators

    def propose(self, height: int, previous: Checkpoint | None, now_ms: int) -> Checkpoint | None:
        return None

    def check(self, checkpoint: Checkpoint, previous: Checkpoint | None, now_ms: int) -> Verdict:
        return Verdict.VALID


def commit_of_height_one() -> tuple[Checkpoint, Certificate]:
    cp = proposal_naming(GENESIS.hash).proposal.checkpoint
    index = GENESIS.validators.index
    sigs = sorted(
        (index[k.public_key], sign_vote(k, GENESIS.chain_id, VoteKind.PRECOMMIT, 1, 0, cp.hash))
        for k in VALIDATORS[:3]
    )
    return cp, Certificate(1, 0, cp.hash, tuple((i, v.signature) for i, v in sigs))


def test_the_future_queue_takes_only_validators_signed_messages() -> None:
    config = ConsensusConfig()
    tm = Tendermint(GENESIS.chain_id, GENESIS.hash, FixedApp(), VALIDATORS[0], config, None)
    tm.start(0)
    n1 = VALIDATORS[1]
    # A non-validator's votes, and votes naming a validator with a forged signature.
    for r in range(config.future_messages_max * 4):
        junk = sign_vote(OUTSIDER, GENESIS.chain_id, VoteKind.PREVOTE, 2, r % 8, fake_id("v", r))
        assert tm.on_vote(junk, 0) is Relation.IGNORED
        forged = Vote(
            GENESIS.chain_id,
            int(VoteKind.PREVOTE),
            2,
            r % 8,
            fake_id("f", r),
            n1.public_key,
            bytes(64),
        )
        assert tm.on_vote(forged, 0) is Relation.IGNORED
    assert tm.future_bytes() == 0

    # A validator one height ahead is still heard: its vote waits and counts later.
    genuine = sign_vote(n1, GENESIS.chain_id, VoteKind.PREVOTE, 2, 0, fake_id("value", 0))
    assert tm.on_vote(genuine, 0) is Relation.FUTURE
    assert 0 < tm.future_bytes() <= config.future_bytes_max
    cp, cert = commit_of_height_one()
    assert tm.on_commit(cp, cert, 10)
    assert tm.height == 2 and tm.votes.has(genuine)
    assert tm.future_bytes() == 0


def test_one_validator_cannot_take_the_whole_future_queue() -> None:
    config = ConsensusConfig()
    tm = Tendermint(GENESIS.chain_id, GENESIS.hash, FixedApp(), VALIDATORS[0], config, None)
    tm.start(0)
    # A Byzantine validator signs many different votes for the next height.
    byz, honest = VALIDATORS[1], VALIDATORS[2]
    for r in range(config.future_messages_max * 2):
        v = sign_vote(byz, GENESIS.chain_id, VoteKind.PREVOTE, 2, r % 64, fake_id("b", r))
        tm.on_vote(v, 0)
    assert tm.future_bytes() <= config.future_bytes_per_sender_max
    genuine = sign_vote(honest, GENESIS.chain_id, VoteKind.PREVOTE, 2, 0, fake_id("value", 0))
    tm.on_vote(genuine, 0)
    cp, cert = commit_of_height_one()
    assert tm.on_commit(cp, cert, 10)
    assert tm.votes.has(genuine)


def test_replica_budgets_name_every_network_fed_buffer() -> None:
    r = replica()
    budgets = r.budgets()
    for name in ("orphans", "wanted", "unproven", "future", "catchup"):
        used, budget = budgets[name]
        assert isinstance(used, int) and isinstance(budget, int)
        assert 0 <= used <= budget and budget > 0
    # A flood of future votes from someone who is no validator leaves the queue empty.
    for r_ in range(2_000):
        v = sign_vote(OUTSIDER, GENESIS.chain_id, VoteKind.PREVOTE, 2, r_ % 8, fake_id("o", r_))
        r.receive("mallory", VoteMsg(v), 0)
    assert r.budgets()["future"][0] == 0
    within_budgets(r)


def test_a_transfer_from_an_honest_client_is_unaffected_by_budgets() -> None:
    """Sanity: normal traffic leaves every buffer nearly empty."""
    c = SimCluster(GENESIS, VALIDATORS, CONFIG)
    tx = build(
        ALICE,
        chain_id=GENESIS.chain_id,
        kind="transfer",
        nonce=0,
        parents=[GENESIS.hash],
        valid_until=40,
        payload=encode(TransferPayload(bytes(20), 5)),
        stamp_bits_min=STAMP_BITS,
    )
    c.submit("r0", tx)
    c.run_until(lambda: all(r.ledger.height >= 2 for r in c.replicas.values()))
    for r in c.replicas.values():
        assert r.dag.is_covered(tx.id)
        within_budgets(r)


# -- the node's gossip backlog -------------------------------------------------
def test_the_gossip_backlog_takes_peers_in_turn_and_pauses_only_the_flooder() -> None:
    limits = BacklogLimits(bytes_max=400_000, bytes_per_peer_max=100_000, slice_txs_max=64)
    backlog = Backlog(limits)
    junk = tuple(bytes([i % 256]) * 200 for i in range(WIRES_PER_MSG_MAX))
    for _ in range(3):
        backlog.push("mallory", junk)
    assert backlog.over("mallory")  # its share is spent: its connection stops reading
    backlog.push("honest", (b"a transfer",))
    assert not backlog.over("honest")
    assert not backlog.full()  # one peer cannot refuse clients

    # The honest peer's transaction is the second slice, not the thirteenth.
    assert backlog.take() == ("mallory", junk[:64])
    assert backlog.take() == ("honest", (b"a transfer",))
    while backlog.bytes_of("mallory") > limits.bytes_per_peer_max // 2:
        backlog.take()
    assert backlog.has_room("mallory")

    backlog.drop("mallory")
    assert not backlog and backlog.bytes == 0 and backlog.txs == 0


def test_the_gossip_backlog_budget_needs_several_peers_to_spend() -> None:
    limits = BacklogLimits(bytes_max=400_000, bytes_per_peer_max=100_000)
    backlog = Backlog(limits)
    wires = tuple(b"x" * 1_000 for _ in range(120))
    for p in range(4):
        backlog.push(f"p{p}", wires)
    assert backlog.full() and backlog.over("p0")
    assert backlog.oldest_seq() == 0
    backlog.take()
    assert backlog.oldest_seq() == 0  # p0's first message is only partly admitted

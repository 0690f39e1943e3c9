"""What a 202 promises, in the replica: a client's transaction is reported replicated only
once validators with more than a third of the weight hold it; orphans from clients are
stored and served while they wait, and released as the client's; a replica that is
behind refuses clients; missing parents are asked of every peer, with backoff.
"""

from __future__ import annotations

import pytest

from govchain.codec import encode
from govchain.consensus.config import ConsensusConfig
from govchain.consensus.messages import VoteKind, sign_vote
from govchain.consensus.validators import ValidatorSet
from govchain.crypto.keys import SigningKey
from govchain.dag.admission import AdmissionError, Reject
from govchain.dag.limits import DagLimits
from govchain.dag.tx import Transaction, build
from govchain.replica.config import ReplicaConfig
from govchain.replica.messages import AckMsg, TxMsg, TxRequest, VoteMsg, decode_message
from govchain.replica.outputs import Persisted, ReplicaReady
from govchain.replica.replica import Replica
from govchain.replica.replication import Replication, SubmitState, Submitted
from govchain.sim.cluster import sim_consensus_config
from govchain.state.payloads import TransferPayload
from test_replica import ALICE, BOB, CONFIG, GENESIS, STAMP_BITS, VALIDATORS, cluster, genesis

V = [k.public_key for k in VALIDATORS]


def transfer(
    parents: list[bytes], nonce: int, key: SigningKey = ALICE, chain_id: str = GENESIS.chain_id
) -> Transaction:
    """A transfer of 1 to BOB, valid until height 40."""
    return build(
        key,
        chain_id=chain_id,
        kind="transfer",
        nonce=nonce,
        parents=parents,
        valid_until=40,
        payload=encode(TransferPayload(BOB.address, 1)),
        stamp_bits_min=STAMP_BITS,
    )


def replica(name: str = "r0", config: ReplicaConfig = CONFIG) -> Replica:
    """One validator replica of the four, wired to nothing (the test delivers by hand)."""
    names = [f"r{i}" for i in range(4)]
    keys = dict(zip(names, VALIDATORS, strict=True))
    peer_keys = {n: k.public_key for n, k in keys.items()}
    r = Replica(name, GENESIS, keys[name], names, config, Persisted(), peer_keys=peer_keys)
    r.start(0)
    r.ready()
    return r


def sends_of(out: ReplicaReady, kind: type) -> list[tuple[str | None, object]]:
    return [(d, m) for d, m in out.sends if isinstance(m, kind)]


# -- the book -----------------------------------------------------------------------
def test_the_book_needs_more_than_a_third_of_the_weight() -> None:
    vs = ValidatorSet.of({V[0]: 1, V[1]: 1, V[2]: 1, V[3]: 1})  # f = 1: two holders
    book = Replication(entries_max=10, wait_ms=1_000)
    assert not book.track(b"x" * 32, 0, V[0], vs)
    assert book.on_ack(SigningKey.from_label("stranger").public_key, [b"x" * 32], vs) == []
    assert book.on_ack(V[0], [b"x" * 32], vs) == []  # ourselves again: still one holder
    assert book.on_ack(V[1], [b"x" * 32], vs) == [b"x" * 32]
    assert b"x" * 32 not in book


def test_the_book_weighs_holders_and_forgets_old_counts() -> None:
    heavy = ValidatorSet.of({V[0]: 3, V[1]: 1, V[2]: 1, V[3]: 1})  # skip = 3
    book = Replication(entries_max=2, wait_ms=1_000)
    assert book.track(b"h" * 32, 0, V[0], heavy)  # its own weight is enough
    assert not book.track(b"a" * 32, 0, None, heavy)  # an observer holds nothing that counts
    assert book.on_ack(V[1], [b"a" * 32], heavy) == []
    assert book.on_ack(V[2], [b"a" * 32], heavy) == []
    assert book.on_ack(V[3], [b"a" * 32], heavy) == [b"a" * 32]
    book.track(b"b" * 32, 10, None, heavy)
    book.track(b"c" * 32, 20, None, heavy)
    book.track(b"d" * 32, 30, None, heavy)  # beyond entries_max: the oldest goes
    assert b"b" * 32 not in book and len(book) == 2
    assert book.expire(1_025) == 1 and len(book) == 1


# -- a client's transaction ------------------------------------------------------------
def test_replicated_only_once_another_validator_acknowledges_after_storing() -> None:
    r0, r1 = replica("r0"), replica("r1")
    tx = transfer([GENESIS.hash], 0)
    assert r0.submit(tx.to_wire(), 10) == Submitted(tx.id, SubmitState.ADMITTED)
    out = r0.ready()
    assert out.replicated == []  # r0 alone holds it: one of four
    assert out.admitted == [tx]
    gossip = sends_of(out, TxMsg)
    assert sorted(d for d, _ in gossip if d is not None) == ["r1", "r2", "r3"]

    msg = decode_message(encode(next(m for d, m in gossip if d == "r1")))
    r1.receive("r0", msg, 12)
    out1 = r1.ready()
    assert out1.admitted == [tx]
    assert out1.acks == [("r0", AckMsg((tx.id,)))]  # the shell sends it after the commit
    assert sends_of(out1, AckMsg) == []  # never among the ordinary sends

    r0.receive("r1", out1.acks[0][1], 15)
    assert r0.ready().replicated == [tx.id]
    r0.receive("r2", AckMsg((tx.id,)), 16)  # a later acknowledgement changes nothing
    assert r0.ready().replicated == []


def test_acknowledgements_from_observers_and_strangers_count_for_nothing() -> None:
    r0 = replica("r0")
    r0.peer_keys["watcher"] = SigningKey.from_label("watcher").public_key
    tx = transfer([GENESIS.hash], 0)
    r0.submit(tx.to_wire(), 10)
    r0.ready()
    r0.receive("watcher", AckMsg((tx.id,)), 11)
    r0.receive("nobody", AckMsg((tx.id,)), 11)
    assert r0.ready().replicated == []


def test_an_observer_acknowledges_nothing() -> None:
    names = [f"r{i}" for i in range(4)]
    watcher = Replica(
        "watcher",
        GENESIS,
        SigningKey.from_label("watcher"),
        names,
        CONFIG,
        Persisted(),
        peer_keys={n: k.public_key for n, k in zip(names, VALIDATORS, strict=True)},
    )
    watcher.start(0)
    tx = transfer([GENESIS.hash], 0)
    watcher.receive("r0", TxMsg((tx.to_wire(),)), 5)
    out = watcher.ready()
    assert out.admitted == [tx] and out.acks == []


def test_the_planted_bug_reports_replicated_at_admission() -> None:
    plant = ReplicaConfig(
        dag=CONFIG.dag,
        consensus=sim_consensus_config(frozenset({"ack-before-replicate"})),
        idle_checkpoint_ms=0,
    )
    r0 = replica("r0", plant)
    tx = transfer([GENESIS.hash], 0)
    r0.submit(tx.to_wire(), 10)
    assert r0.ready().replicated == [tx.id]


def test_a_single_validator_is_its_own_quorum() -> None:
    g = genesis(1)
    r = Replica("r0", g, VALIDATORS[0], ["r0"], CONFIG, Persisted())
    r.start(0)
    r.ready()
    tx = transfer([g.hash], 0, chain_id=g.chain_id)
    r.submit(tx.to_wire(), 5)
    assert r.ready().replicated == [tx.id]


def test_a_resubmission_is_pushed_again_and_counted_again() -> None:
    r0 = replica("r0")
    tx = transfer([GENESIS.hash], 0)
    r0.submit(tx.to_wire(), 10)
    r0.ready()
    again = r0.submit(tx.to_wire(), 20)
    assert again == Submitted(tx.id, SubmitState.ADMITTED)
    out = r0.ready()
    assert out.admitted == []  # stored once
    assert len(sends_of(out, TxMsg)) == 3  # pushed to every peer again
    r0.receive("r3", AckMsg((tx.id,)), 25)
    assert r0.ready().replicated == [tx.id]


def test_a_final_transaction_resubmitted_is_said_final() -> None:
    loop = cluster()
    tx = transfer(loop.replicas["r0"].dag.client_tips(2), 0)
    loop.submit("r0", tx)
    loop.run_until(lambda: all(r.dag.is_covered(tx.id) for r in loop.replicas.values()))
    got = loop.replicas["r1"].submit(tx.to_wire(), loop.now_ms)
    assert got == Submitted(tx.id, SubmitState.FINAL)


# -- a client's orphan ---------------------------------------------------------------
def test_a_clients_orphan_is_stored_asked_of_everyone_served_and_released_as_the_clients() -> None:
    r0 = replica("r0")
    parent = transfer([GENESIS.hash], 0)
    child = transfer([parent.id], 1)
    got = r0.submit(child.to_wire(), 10)
    assert got == Submitted(child.id, SubmitState.WAITING, (parent.id,))
    out = r0.ready()
    assert out.waiting == [child] and out.admitted == [] and out.replicated == []
    asked = {d for d, m in sends_of(out, TxRequest) if parent.id in m.ids}  # type: ignore[attr-defined]
    assert asked == {"r1", "r2", "r3"}

    # Served to a peer that asks for it while it waits.
    r0.receive("r2", TxRequest((child.id,)), 11)
    served = sends_of(r0.ready(), TxMsg)
    assert served == [("r2", TxMsg((child.to_wire(),)))]

    # The parent arrives from validator r1: the child is the client's, so it goes
    # to every peer (r1 included), and its stored row goes.
    r0.receive("r1", TxMsg((parent.to_wire(),)), 12)
    out = r0.ready()
    assert out.admitted == [parent, child]
    assert out.unwaited == [child.id]
    to = {d for d, m in sends_of(out, TxMsg) if child.to_wire() in m.wires}  # type: ignore[attr-defined]
    assert to == {"r1", "r2", "r3"}


def test_an_expired_clients_orphan_leaves_the_store() -> None:
    r0 = replica("r0")
    child = transfer([b"\x07" * 32], 1)
    r0.submit(child.to_wire(), 10)
    r0.ready()
    r0.tick(10 + CONFIG.dag.orphan_ttl_ms + 1)
    assert r0.ready().unwaited == [child.id]


def test_after_a_restart_a_stored_orphan_waits_again_or_enters_if_its_parent_is_here() -> None:
    parent = transfer([GENESIS.hash], 0)
    child = transfer([parent.id], 1)
    lonely = transfer([b"\x09" * 32], 2, key=BOB)
    names = [f"r{i}" for i in range(4)]
    stored = Persisted(vertices=[parent], waiting=[child, lonely])
    r = Replica("r0", GENESIS, VALIDATORS[0], names, CONFIG, stored)
    wall = 1_764_000_000_000  # a node's clock: the replay ran before it was known
    r.start(wall)
    r.tick(wall + 20)  # ... so the replayed orphan still has its whole wait ahead
    out = r.ready()
    assert r.dag.has(child.id) and r.dag.orphan(lonely.id) is not None
    assert out.admitted == [child] and out.unwaited == [child.id]
    assert any(child.to_wire() in m.wires for _, m in sends_of(out, TxMsg))  # type: ignore[attr-defined]
    assert any(lonely.body.parents[0] in m.ids for _, m in sends_of(out, TxRequest))  # type: ignore[attr-defined]


def test_missing_parents_are_asked_of_every_peer_again_with_backoff_while_awaited() -> None:
    r0 = replica("r0")
    missing = b"\x05" * 32
    r0.submit(transfer([missing], 1).to_wire(), 0)
    r0.ready()
    asked_at: list[int] = []
    for now in range(20, 25_000, 20):
        r0.tick(now)
        reqs = [d for d, m in sends_of(r0.ready(), TxRequest) if missing in m.ids]  # type: ignore[attr-defined]
        if reqs:
            assert sorted(d for d in reqs if d is not None) == ["r1", "r2", "r3"]
            asked_at.append(now)
    gaps = [b - a for a, b in zip([0, *asked_at], asked_at, strict=False)]
    assert gaps[:4] == [260, 500, 1_000, 2_000]  # fetch_retry_ms doubling (20 ms ticks)
    assert max(gaps) <= CONFIG.fetch_backoff_max_ms + 20
    assert asked_at[-1] > 20_000  # no give-up at 20 s while the orphan still waits


# -- behind ---------------------------------------------------------------------------
def test_a_replica_behind_the_network_refuses_clients() -> None:
    r0 = replica("r0")
    assert not r0.catching_up()
    ahead = 5
    for key, name in ((VALIDATORS[1], "r1"), (VALIDATORS[2], "r2")):
        vote = sign_vote(key, GENESIS.chain_id, VoteKind.PREVOTE, ahead, 0, bytes(32))
        r0.receive(name, VoteMsg(vote), 100)
        if name == "r1":
            assert not r0.catching_up()  # one validator's word is not enough
    assert r0.catching_up()
    with pytest.raises(AdmissionError) as err:
        r0.submit(transfer([GENESIS.hash], 0).to_wire(), 110)
    assert err.value.reason is Reject.CATCHING_UP
    r0.tick(100 + CONFIG.behind_window_ms)
    assert not r0.catching_up()  # nobody repeated it: the claim lapsed


def test_default_config_values_are_consistent() -> None:
    c = ReplicaConfig(dag=DagLimits(), consensus=ConsensusConfig())
    assert c.fetch_retry_ms <= c.fetch_backoff_max_ms < c.dag.orphan_ttl_ms
    assert c.replicate_wait_ms > 0 and c.behind_heights_min >= 2

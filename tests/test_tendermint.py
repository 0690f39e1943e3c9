"""Tendermint scenarios, read as transcripts: four validators on a wire the test controls.

Validator nI owns member I of the set (members sort by public key), so the proposer
of (height h, round r) is n{(h + r) % 4}: n1 proposes height 1 round 0, n2 round 1.
Default timeouts: propose 1000 + 250 r ms, prevote and precommit 500 + 250 r ms.
"""

from __future__ import annotations

import hashlib
from typing import cast

import msgspec
import pytest

from conftest import ConsensusMsg, ConsensusWire, TranscriptApp, app_tip, only
from govchain.consensus.config import ConsensusConfig
from govchain.consensus.messages import (
    NIL,
    Certificate,
    Checkpoint,
    Vote,
    VoteKind,
    certificate_error,
    sign_proposal,
    sign_vote,
)
from govchain.consensus.tendermint import Tendermint, Verdict
from govchain.consensus.validators import ValidatorSet
from govchain.crypto.keys import SigningKey

CHAIN = "tendermint-test"
GENESIS = hashlib.sha256(b"tendermint-test genesis").digest()
KEYS = sorted(
    (SigningKey.from_label(f"tm-validator-{i}") for i in range(4)), key=lambda k: k.public_key
)
NAMES = [f"n{i}" for i in range(4)]
KEY = dict(zip(NAMES, KEYS, strict=True))
VALSET = ValidatorSet.of({k.public_key: 1 for k in KEYS})
OUTSIDER = SigningKey.from_label("tm-outsider")
# Rebroadcasts off: a transcript shows only what the rules themselves send.
CONFIG = ConsensusConfig(rebroadcast_ms=10**9, propose_timeout_ms=1_000)
PREVOTE, PRECOMMIT = VoteKind.PREVOTE, VoteKind.PRECOMMIT


# -- helpers ---------------------------------------------------------------
def wire(config: ConsensusConfig = CONFIG) -> ConsensusWire:
    """The four validators n0..n3 on a wire the test controls."""
    return ConsensusWire(CHAIN, GENESIS, KEY, config)


def vote(
    signer: SigningKey, kind: VoteKind, round_: int, value: bytes, chain_id: str = CHAIN
) -> Vote:
    """A height-1 vote signed by anyone."""
    return sign_vote(signer, chain_id, kind, 1, round_, value)


def assert_same_decision(w: ConsensusWire, height: int, names: list[str] = NAMES) -> Checkpoint:
    """Everyone named decided one checkpoint at height, with a certificate that holds."""
    got = {n: w.decided[n][height - 1] for n in names}
    assert len({cp.hash for cp, _ in got.values()}) == 1
    for cp, cert in got.values():
        assert cp.height == height
        assert certificate_error(cert, cp, VALSET) is None
    return next(iter(got.values()))[0]


# -- (a) the happy path ----------------------------------------------------
def test_four_validators_decide_heights_one_and_two() -> None:
    w = wire()
    w.start(0)
    w.deliver()
    cp1 = assert_same_decision(w, 1)
    assert cp1.tips == (app_tip("n1"),)  # n1 proposed height 1
    assert cp1.previous == GENESIS

    # Height 2 waits for propose_delay_ms (100) after the decision, then n2 proposes.
    w.tick(99)
    assert w.queue == []
    w.tick(100)
    w.deliver()
    cp2 = assert_same_decision(w, 2)
    assert cp2.tips == (app_tip("n2"),)
    assert cp2.previous == cp1.hash
    assert all(w.nodes[n].height == 3 for n in NAMES)
    assert all(w.decided[n][1][1].round == 0 for n in NAMES)


# -- (b) a silent proposer -------------------------------------------------
def test_silent_proposer_round_times_out_and_the_next_proposer_decides() -> None:
    w = wire()
    w.start(0)
    w.drop(only(src="n1"))  # n1's proposal for round 0 is lost
    w.tick(999)
    assert w.queue == []  # nobody gives up before the propose timeout

    w.tick(1_000)  # the propose timeout of round 0 fires
    for n in ("n0", "n2", "n3"):
        assert w.votes(n, PREVOTE, 0) == [NIL]
    w.drop(only(src="n1"))
    w.deliver(only(src={"n0", "n2", "n3"}))
    for n in ("n0", "n2", "n3"):
        assert w.votes(n, PRECOMMIT, 0) == [NIL]  # 2f+1 nil prevotes: precommit nil (L44)
    assert all(w.decided[n] == [] for n in NAMES)

    w.tick(1_500)  # 2f+1 precommits started the precommit timeout; round 1 begins
    assert [p.round for p in w.proposals("n2", 1)] == [1]
    w.deliver()
    cp = assert_same_decision(w, 1)
    assert cp.tips == (app_tip("n2"),)
    assert all(w.decided[n][0][1].round == 1 for n in NAMES)


# -- (c) locking -----------------------------------------------------------
def lock_n0_in_round_0(w: ConsensusWire, *, n2_sees_polka: bool) -> Checkpoint:
    """Round 0 ends undecided with n0 locked on n1's value v; returns v. Now: round 1."""
    w.start(0)
    v = w.proposals("n1", 0)[0].checkpoint
    w.deliver(only(kind="proposal", dst={"n0", "n2"}))
    w.drop(only(kind="proposal"))  # n3 never sees v
    w.tick(1_000)  # n3's propose timeout: it prevotes nil
    assert w.votes("n3", PREVOTE, 0) == [NIL]
    # n0 hears every prevote (v, v, nil): a polka for v. The others miss n0's prevote.
    w.deliver(only(kind="prevote", src={"n1", "n2", "n3"}))
    assert w.votes("n0", PRECOMMIT, 0) == [v.hash]
    w.tick(1_500)  # the others' prevote timeouts: they precommit nil
    for n in ("n1", "n2", "n3"):
        assert w.votes(n, PRECOMMIT, 0) == [NIL]
    if n2_sees_polka:  # late, after its nil precommit: v becomes n2's valid value
        w.deliver(only(kind="prevote", src="n0", dst="n2"))
    w.deliver(only(kind="precommit"))
    assert all(w.decided[n] == [] for n in NAMES)
    w.tick(2_000)  # precommit timeouts: everyone moves to round 1, n2 proposes
    assert all(w.nodes[n].round == 1 for n in NAMES)
    return v


@pytest.mark.parametrize("plant", [None, "skip-lock"])
def test_locked_validator_prevotes_nil_for_a_fresh_value_in_a_later_round(
    plant: str | None,
) -> None:
    w = wire(
        ConsensusConfig(
            rebroadcast_ms=10**9,
            propose_timeout_ms=1_000,
            plants=frozenset(cast(set[str], {plant} - {None})),
        )
    )
    v = lock_n0_in_round_0(w, n2_sees_polka=False)
    (p,) = w.proposals("n2", 1)
    assert p.valid_round == -1
    assert p.checkpoint.hash != v.hash
    w.deliver(only(kind="proposal", round_=1))
    # Locked on v, n0 prevotes nil; the planted bug (the negative control) does not.
    assert w.votes("n0", PREVOTE, 1) == [NIL if plant is None else p.checkpoint.hash]
    assert w.votes("n1", PREVOTE, 1) == [p.checkpoint.hash]  # not locked
    assert w.votes("n3", PREVOTE, 1) == [p.checkpoint.hash]


def test_locked_value_reproposed_with_its_valid_round_is_prevoted_once_the_polka_arrives() -> None:
    w = wire()
    v = lock_n0_in_round_0(w, n2_sees_polka=True)
    (p,) = w.proposals("n2", 1)
    assert (p.checkpoint, p.valid_round) == (v, 0)

    w.deliver(only(kind="proposal", round_=1, dst="n0"))
    assert w.votes("n0", PREVOTE, 1) == [v.hash]  # its lock (round 0) is not above 0

    # n3 holds two of the three round-0 prevotes for v: it may not prevote v yet.
    w.deliver(only(kind="proposal", round_=1, dst="n3"))
    assert w.votes("n3", PREVOTE, 1) == []
    w.deliver(only(kind="prevote", round_=0, dst="n3"))  # the polka, re-sent with v
    assert w.votes("n3", PREVOTE, 1) == [v.hash]


# -- (d) the double-sign guard ---------------------------------------------
def test_restart_after_prevote_resends_it_and_never_prevotes_nil_in_that_round() -> None:
    w = wire()
    w.start(0)
    w.deliver(only(kind="proposal", dst="n0"))
    (before,) = [m for m in w.signed["n0"] if isinstance(m, Vote)]
    assert (before.kind, before.round, before.value) != (PREVOTE, 0, NIL)

    w.restart("n0", 500)
    assert w.signed["n0"][-1] == before  # re-sent, signature and all
    w.tick(1_600, "n0")  # past the propose timeout of the restarted round
    w.tick(3_000, "n0")
    assert set(w.votes("n0", PREVOTE, 0)) == {before.value}


def test_restart_after_nil_prevote_does_not_prevote_the_late_proposal() -> None:
    w = wire()
    w.start(0)
    w.drop(only(dst="n0"))
    w.tick(1_000, "n0")
    assert w.votes("n0", PREVOTE, 0) == [NIL]

    w.restart("n0", 1_100)
    w.inject("n0", w.proposals("n1", 0)[0])
    assert set(w.votes("n0", PREVOTE, 0)) == {NIL}


def test_restarted_proposer_resends_its_proposal_instead_of_signing_another() -> None:
    w = wire()
    w.start(0)
    (p,) = w.proposals("n1", 0)
    w.restart("n1", 50)  # its app would now propose time_ms=50: another checkpoint
    assert w.proposals("n1", 0) == [p, p]
    w.tick(2_000, "n1")
    assert {q.checkpoint.hash for q in w.proposals("n1", 0)} == {p.checkpoint.hash}


# -- (e) a pending verdict -------------------------------------------------
def test_pending_proposal_is_prevoted_only_at_recheck_once_valid() -> None:
    w = wire()
    w.apps["n0"].verdict = Verdict.PENDING
    w.start(0)
    (p,) = w.proposals("n1", 0)
    w.deliver(only(kind="proposal", dst="n0"))
    assert w.votes("n0", PREVOTE, 0) == []

    w.nodes["n0"].recheck(10)  # vertices still missing
    w.collect("n0")
    assert w.votes("n0", PREVOTE, 0) == []

    w.apps["n0"].verdict = Verdict.VALID
    assert w.votes("n0", PREVOTE, 0) == []  # nothing happens on its own
    w.nodes["n0"].recheck(20)
    w.collect("n0")
    assert w.votes("n0", PREVOTE, 0) == [p.checkpoint.hash]


def test_a_proposal_whose_vertices_are_missing_is_asked_for_through_ready() -> None:
    """MISSING: no prevote yet, and the checkpoint goes out in Ready.wanted (once per input)."""
    w = wire()
    w.apps["n0"].verdict = Verdict.MISSING
    w.start(0)
    (p,) = w.proposals("n1", 0)
    n0 = w.nodes["n0"]
    n0.on_proposal(p, 0)
    assert n0.take_wanted() == [p.checkpoint]
    assert n0.take_wanted() == []  # taken: the caller fetches once
    assert n0.ready().wanted == []
    assert w.votes("n0", PREVOTE, 0) == []

    w.apps["n0"].verdict = Verdict.VALID  # the vertices arrived
    n0.recheck(10)
    r = n0.ready()
    assert r.wanted == []
    assert [m.value for m in r.messages if isinstance(m, Vote)] == [p.checkpoint.hash]


def test_invalid_proposal_is_prevoted_nil() -> None:
    w = wire()
    w.apps["n0"].verdict = Verdict.INVALID
    w.start(0)
    w.deliver(only(kind="proposal", dst="n0"))
    assert w.votes("n0", PREVOTE, 0) == [NIL]


# -- (f) commits from peers ------------------------------------------------
def decided_without_n0() -> tuple[ConsensusWire, Checkpoint, Certificate]:
    """n1..n3 decide height 1 while n0 hears nothing."""
    w = wire()
    w.start(0)
    w.drop(only(dst="n0"))
    w.deliver(only(dst={"n1", "n2", "n3"}))
    w.drop(only(dst="n0"))
    cp, cert = w.decided["n1"][0]
    assert w.decided["n0"] == []
    return w, cp, cert


def test_commit_with_a_valid_certificate_decides() -> None:
    w, cp, cert = decided_without_n0()
    assert w.nodes["n0"].on_commit(cp, cert, 10)
    w.collect("n0")
    assert w.decided["n0"] == [(cp, cert)]
    assert w.nodes["n0"].height == 2


def test_commit_with_a_forged_or_short_certificate_is_refused() -> None:
    w, cp, cert = decided_without_n0()
    (i, sig), *rest = cert.signatures
    forged = msgspec.structs.replace(cert, signatures=((i, bytes([sig[0] ^ 1]) + sig[1:]), *rest))
    short = msgspec.structs.replace(cert, signatures=cert.signatures[:2])
    other = msgspec.structs.replace(cp, time_ms=cp.time_ms + 1)  # cert names another value
    stranger = sign_vote(OUTSIDER, CHAIN, PRECOMMIT, 1, cert.round, cp.hash).signature
    outside = msgspec.structs.replace(cert, signatures=(*cert.signatures, (4, stranger)))
    n0 = w.nodes["n0"]
    for bad_cp, bad_cert in [(cp, forged), (cp, short), (other, cert), (cp, outside)]:
        assert not n0.on_commit(bad_cp, bad_cert, 10)
    w.collect("n0")
    assert n0.rejected_messages == 4
    assert w.decided["n0"] == []
    assert n0.height == 1


def test_commit_for_another_height_is_not_taken() -> None:
    w, cp, cert = decided_without_n0()
    w.tick(100, "n1", "n2", "n3")
    w.deliver(only(dst={"n1", "n2", "n3"}))
    cp2, cert2 = w.decided["n1"][1]
    n0 = w.nodes["n0"]
    assert not n0.on_commit(cp2, cert2, 200)  # height 2 before height 1
    assert n0.on_commit(cp, cert, 200)
    assert n0.on_commit(cp2, cert2, 200)
    w.collect("n0")
    assert [c for c, _ in w.decided["n0"]] == [cp, cp2]


# -- (g) messages that must be ignored -------------------------------------
def test_bad_signature_outsider_and_wrong_chain_messages_are_ignored() -> None:
    w = wire()
    w.start(0)
    (p,) = w.proposals("n1", 0)
    w.deliver(only(kind="proposal", dst="n0"))
    n0 = w.nodes["n0"]
    v = p.checkpoint.hash

    good = vote(KEY["n1"], PRECOMMIT, 0, v)
    forged = msgspec.structs.replace(
        good, signature=bytes([good.signature[0] ^ 1]) + good.signature[1:]
    )
    wrong_chain = vote(KEY["n2"], PRECOMMIT, 0, v, chain_id="another-chain")
    outsider = vote(OUTSIDER, PRECOMMIT, 0, v)
    r1 = msgspec.structs.replace(p.checkpoint, time_ms=7)
    p_forged = msgspec.structs.replace(sign_proposal(KEY["n2"], 1, 1, r1, -1), signature=bytes(64))
    p_usurper = sign_proposal(KEY["n3"], 1, 1, r1, -1)  # round 1 belongs to n2
    p_other_chain = sign_proposal(
        KEY["n2"], 1, 1, msgspec.structs.replace(r1, chain_id="another-chain"), -1
    )
    injected: list[ConsensusMsg] = [
        forged,
        wrong_chain,
        outsider,
        p_forged,
        p_usurper,
        p_other_chain,
    ]
    for m in injected:
        w.inject("n0", m)
    assert n0.rejected_messages == 6
    assert w.decided["n0"] == []
    assert n0.round == 0

    # Control: three genuine precommits for v do decide.
    for name in ("n1", "n2", "n3"):
        w.inject("n0", vote(KEY[name], PRECOMMIT, 0, v))
    assert [cp.hash for cp, _ in w.decided["n0"]] == [v]


@pytest.mark.parametrize("plant", [None, "double-count"])
def test_a_voter_repeating_its_precommit_counts_once(plant: str | None) -> None:
    w = wire(
        ConsensusConfig(
            rebroadcast_ms=10**9,
            propose_timeout_ms=1_000,
            plants=frozenset(cast(set[str], {plant} - {None})),
        )
    )
    w.start(0)
    (p,) = w.proposals("n1", 0)
    w.deliver(only(kind="proposal", dst="n0"))
    for _ in range(3):
        w.inject("n0", vote(KEY["n2"], PRECOMMIT, 0, p.checkpoint.hash))
    # One voter is f of 3f+1: never a decision, except with the planted double count.
    assert len(w.decided["n0"]) == (plant is not None)


# -- (h) catching up with a later round (L55) -------------------------------
def test_f_plus_one_in_a_later_round_pulls_a_node_there() -> None:
    w = wire()
    w.start(0)
    n0 = w.nodes["n0"]
    w.inject("n0", vote(KEY["n1"], PREVOTE, 3, NIL))
    w.inject("n0", vote(KEY["n1"], PRECOMMIT, 3, NIL))  # one voter weighs f, not f+1
    assert n0.round == 0
    assert w.proposals("n0", 3) == []

    w.inject("n0", vote(KEY["n2"], PREVOTE, 3, NIL))
    assert n0.round == 3
    assert w.hard["n0"] is not None and w.hard["n0"].round == 3
    (p,) = w.proposals("n0", 3)  # n0 proposes round 3 of height 1
    assert p.valid_round == -1


def test_later_round_votes_beyond_reach_are_refused() -> None:
    w = wire()
    w.start(0)
    far = CONFIG.rounds_ahead_max + 1
    for name in ("n1", "n2", "n3"):
        w.inject("n0", vote(KEY[name], PREVOTE, far, NIL))
    assert w.nodes["n0"].round == 0
    assert w.nodes["n0"].rejected_messages == 3


# -- (i) persist before send -----------------------------------------------
def test_every_fresh_signature_comes_with_a_hard_state_that_holds_it() -> None:
    w = wire()
    w.start(0)
    w.deliver()  # height 1 in round 0
    w.tick(100)
    w.drop(only(src="n2"))  # height 2: the proposer is lost, round 1 takes over
    w.tick(1_100)
    w.deliver(only(src={"n0", "n1", "n3"}))
    w.restart("n1", 1_200)
    w.tick(1_600)
    w.restart("n3", 1_650)
    w.deliver()
    assert_same_decision(w, 2)
    w.tick(1_800)
    w.deliver()
    assert_same_decision(w, 3)
    assert w.fresh_checked >= 4 * 3 * 2  # at least two votes per node per height


# -- a height whose validator set is not known yet ---------------------------
class LateApp(TranscriptApp):
    """Execution is behind: the validator set of height 1 is unknown until `known`."""

    def __init__(self, name: str) -> None:
        super().__init__(name, CHAIN, GENESIS, VALSET)
        self.known = False

    def validator_set(self, height: int) -> ValidatorSet | None:
        return VALSET if self.known else None


def test_messages_wait_for_the_validator_set_and_are_replayed_on_entry() -> None:
    app = LateApp("n0")
    n0 = Tendermint(CHAIN, GENESIS, app, KEY["n0"], CONFIG, None)
    n0.start(0)
    p = TranscriptApp("n1", CHAIN, GENESIS, VALSET).propose(1, None, 0)
    proposal = sign_proposal(KEY["n1"], 1, 0, p, -1)
    n0.on_proposal(proposal, 0)
    n0.tick(5_000)  # no set, no timeouts: it cannot even vote nil
    assert n0.ready().messages == []

    app.known = True
    n0.recheck(5_000)
    out = n0.ready()
    assert out.hard_state is not None
    assert [(m.kind, m.value) for m in out.messages if isinstance(m, Vote)] == [(PREVOTE, p.hash)]


def test_a_flood_of_messages_before_the_validator_set_is_known_is_survived() -> None:
    n0 = Tendermint(CHAIN, GENESIS, LateApp("n0"), KEY["n0"], CONFIG, None)
    n0.start(0)
    nil = vote(KEY["n1"], PREVOTE, 0, NIL)
    for _ in range(CONFIG.future_messages_max + 1):
        n0.on_vote(nil, 0)
    assert n0.ready().messages == []

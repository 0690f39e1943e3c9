"""Proposals, votes, the status table, parameters and emergency measures, as users see them."""

from __future__ import annotations

import pytest

from govchain.codec import encode
from govchain.state.governance import (
    PROPOSALS_OPEN_MAX,
    REASON_BYTES_MAX,
    TRANSITIONS,
    ProposalStatus,
    transition,
)
from govchain.state.payloads import (
    Action,
    FreezeIdentity,
    GrantRole,
    Intercept,
    ProposePayload,
    Redact,
    RemoveFilter,
    SetParam,
    SuspendService,
    UnfreezeIdentity,
)
from ledgerkit import ALICE, BOB, EVIDENCE, R0, R1, R2, Chain, genesis, outcomes, tx


def frozen_by(chain: Chain, who: bytes) -> str | None:
    ident = chain.ledger.identity(who)
    return ident.frozen_by if ident is not None else None


# -- the status table --------------------------------------------------------------
def test_the_status_table_allows_only_open_to_a_final_status() -> None:
    assert TRANSITIONS[ProposalStatus.OPEN] == {"passed", "rejected", "expired"}
    for final in ("passed", "rejected", "expired"):
        assert TRANSITIONS[ProposalStatus(final)] == frozenset()


def test_an_illegal_transition_is_our_bug_and_stops_loudly() -> None:
    chain = Chain()
    p = chain.decide(FreezeIdentity(ALICE.address))
    with pytest.raises(AssertionError):
        transition(p, ProposalStatus.EXPIRED, 9)


# -- proposing and voting ---------------------------------------------------------
def test_proposal_id_is_the_transaction_id_and_proposing_is_a_yes_vote() -> None:
    chain = Chain()
    p = chain.propose(R0, FreezeIdentity(ALICE.address), "fraud ring", evidence=EVIDENCE)
    assert outcomes(chain.run(p)) == ["executed"]
    got = chain.ledger.proposal(p.id.hex())
    assert got is not None
    assert (got.status, got.yes_weight, got.no_weight) == ("open", 1, 0)
    assert got.votes == ((R0.address, True),)
    assert (got.action_name, got.reason, got.evidence) == (
        "freeze-identity",
        "fraud ring",
        EVIDENCE,
    )
    assert (got.created_height, got.expires_height) == (1, 1 + 3_600)


def test_the_deciding_vote_passes_it_and_it_governs_from_the_next_height() -> None:
    chain = Chain()
    p = chain.propose(R0, FreezeIdentity(ALICE.address))
    # Alice's transfer in the same height as the deciding vote still executes:
    # the freeze is enacted at the end of the height.
    result = chain.run(p, chain.vote(R1, p), chain.transfer(ALICE, BOB, 5))
    assert outcomes(result) == ["executed", "executed", "executed"]
    got = chain.ledger.proposal(p.id.hex())
    assert got is not None
    assert (got.status, got.decided_height, got.enacted_height) == ("passed", 1, 1)
    assert got.outcome == "frozen"
    after = chain.run(chain.transfer(ALICE, BOB, 5))
    assert outcomes(after) == ["frozen"]
    assert after.receipts[0].governance_ref == p.id.hex()


def test_only_committee_members_propose_and_vote() -> None:
    chain = Chain()
    p = chain.propose(R0, FreezeIdentity(BOB.address))
    outsider = chain.propose(ALICE, FreezeIdentity(BOB.address))
    result = chain.run(p, outsider, chain.vote(ALICE, p))
    assert outcomes(result) == ["executed", "not_authorized", "not_authorized"]


def test_one_vote_per_member_the_proposer_included() -> None:
    chain = Chain(genesis(threshold=3))
    p = chain.propose(R0, FreezeIdentity(BOB.address))
    result = chain.run(p, chain.vote(R0, p), chain.vote(R1, p), chain.vote(R1, p, yes=False))
    assert outcomes(result) == ["executed", "duplicate_vote", "executed", "duplicate_vote"]
    assert result.receipts[1].governance_ref == p.id.hex()


def test_votes_on_unknown_or_closed_proposals_are_rejected() -> None:
    chain = Chain()
    p = chain.decide(FreezeIdentity(BOB.address))
    result = chain.run(chain.vote(R2, bytes.fromhex(p.id)), chain.vote(R2, bytes(32)))
    assert outcomes(result) == ["proposal_closed", "unknown_proposal"]


def test_no_votes_that_make_passing_impossible_reject_it() -> None:
    chain = Chain()
    p = chain.propose(R0, FreezeIdentity(BOB.address))
    result = chain.run(p, chain.vote(R1, p, yes=False), chain.vote(R2, p, yes=False))
    assert outcomes(result) == ["executed", "executed", "executed"]
    got = chain.ledger.proposal(p.id.hex())
    assert got is not None and got.status == "rejected" and got.enacted_height is None
    assert frozen_by(chain, BOB.address) is None
    kinds = [e.kind for e in result.audit]
    assert kinds == ["proposal", "vote", "vote", "proposal_rejected"]


def test_participation_min_needs_enough_voters_even_after_the_threshold() -> None:
    chain = Chain()
    chain.decide(SetParam("participation_min", 3))
    p = chain.propose(R0, FreezeIdentity(BOB.address))
    chain.run(p, chain.vote(R1, p))
    assert chain.ledger.proposal(p.id.hex()).status == "open"  # type: ignore[union-attr]
    chain.run(chain.vote(R2, p, yes=False))  # a no vote completes participation
    assert chain.ledger.proposal(p.id.hex()).status == "passed"  # type: ignore[union-attr]


def test_an_undecided_proposal_expires_after_its_ttl() -> None:
    chain = Chain()
    chain.decide(SetParam("proposal_ttl_heights", 10))
    p = chain.propose(R0, FreezeIdentity(BOB.address))
    chain.run(p)  # height 2: expires_height 12
    chain.idle(9)  # heights 3..11
    assert chain.ledger.proposal(p.id.hex()).status == "open"  # type: ignore[union-attr]
    expiring = chain.run()  # height 12
    got = chain.ledger.proposal(p.id.hex())
    assert got is not None and (got.status, got.decided_height) == ("expired", 12)
    assert [e.kind for e in expiring.audit] == ["expiry"]
    assert outcomes(chain.run(chain.vote(R1, p))) == ["proposal_closed"]


# -- arguments ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("action", "reason"),
    [
        (SetParam("no_such_param", 1), "bad_argument"),
        (SetParam("audit_retention_days", 179), "bad_argument"),
        (SetParam("participation_min", 4), "bad_argument"),
        (SetParam("hold_amount_min", 0), "bad_argument"),
        (FreezeIdentity(b"short"), "bad_argument"),
        (Redact(bytes(31)), "bad_argument"),
        (SuspendService("Not A Service Id"), "bad_argument"),
        (GrantRole(ALICE.address, "Bad Role"), "bad_argument"),
        (RemoveFilter("filter-1"), "bad_argument"),
    ],
    ids=lambda x: (getattr(x, "__struct_config__", None) and type(x).__name__) or str(x),
)
def test_a_bad_argument_rejects_the_proposal_transaction(action: Action, reason: str) -> None:
    chain = Chain()
    result = chain.run(chain.propose(R0, action))
    assert outcomes(result) == [reason]
    assert chain.ledger.proposals() == []
    assert result.audit == ()


def test_reason_text_and_evidence_are_bounded() -> None:
    chain = Chain()
    result = chain.run(
        chain.propose(R0, FreezeIdentity(BOB.address), reason=""),
        chain.propose(R0, FreezeIdentity(BOB.address), reason="x" * (REASON_BYTES_MAX + 1)),
        chain.propose(R0, FreezeIdentity(BOB.address), evidence=b"not 32 bytes"),
        chain.propose(R0, FreezeIdentity(BOB.address), reason="字" * (REASON_BYTES_MAX // 3)),
    )
    assert outcomes(result) == ["bad_argument", "bad_argument", "bad_argument", "executed"]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\x94", "malformed_payload"),  # truncated msgpack
        (encode([["no-such-action", "x"], "r", b"", False]), "bad_argument"),
        (encode([["freeze-identity", "not bytes"], "r", b"", False]), "bad_argument"),
        (
            encode([["add-filter", ["keyword", bytes(32), 0], "reject"], "r", b"", False]),
            "bad_argument",
        ),
        (encode([["add-filter", ["size", 5], "delete"], "r", b"", False]), "bad_argument"),
        (encode([["set-param", "x", 1, 2], "r", b"", False]), "bad_argument"),
    ],
    ids=[
        "truncated",
        "unknown-action",
        "wrong-type",
        "rule-out-of-bounds",
        "bad-rule-action",
        "extra-field",
    ],
)
def test_a_payload_that_does_not_fit_is_refused(payload: bytes, reason: str) -> None:
    chain = Chain()
    assert outcomes(chain.run(tx(R0, 0, "gov.propose", payload))) == [reason]
    assert chain.ledger.proposals() == []


def test_a_non_canonical_proposal_encoding_is_malformed() -> None:
    good = encode(ProposePayload(FreezeIdentity(BOB.address), "r", b""))
    wide = good.replace(b"\xc4\x14", b"\xc5\x00\x14", 1)  # bin8 length as bin16
    chain = Chain()
    assert outcomes(chain.run(tx(R0, 0, "gov.propose", wide))) == ["malformed_payload"]


def test_open_proposals_are_capped() -> None:
    chain = Chain()
    txs = [
        chain.propose(R0, FreezeIdentity(bytes([i % 256, i // 256]) * 10))
        for i in range(PROPOSALS_OPEN_MAX + 1)
    ]
    result = chain.run(*txs)
    assert outcomes(result)[-1] == "limit_reached"
    assert outcomes(result)[:-1] == ["executed"] * PROPOSALS_OPEN_MAX


# -- parameters ------------------------------------------------------------------------
def test_set_param_changes_the_value_and_none_restores_the_default() -> None:
    chain = Chain()
    assert chain.ledger.param("hold_amount_min") is None
    p = chain.decide(SetParam("hold_amount_min", 40))
    assert chain.ledger.param("hold_amount_min") == 40
    assert chain.ledger.params.set_by("hold_amount_min") == p.id
    chain.decide(SetParam("hold_amount_min", None))
    assert chain.ledger.param("hold_amount_min") is None
    assert chain.ledger.params.as_dict()["audit_retention_days"] == 180
    assert chain.ledger.params.as_dict()["participation_min"] == 2  # the threshold


# -- emergency measures ----------------------------------------------------------------
def test_an_emergency_freeze_acts_at_once_and_lapses_after_its_ttl() -> None:
    chain = Chain()
    chain.decide(SetParam("emergency_ttl_heights", 3))  # height 1
    e = chain.propose(R2, FreezeIdentity(ALICE.address), emergency=True)
    applied = chain.run(e)  # height 2: no one else voted, yet it applies at the end
    assert [x.kind for x in applied.audit] == ["proposal", "emergency"]
    assert frozen_by(chain, ALICE.address) == e.id.hex()
    assert outcomes(chain.run(chain.transfer(ALICE, BOB, 1))) == ["frozen"]  # height 3
    chain.run()  # height 4
    lapsed = chain.run()  # height 5 = 2 + 3: expires, and the freeze lapses
    assert [x.kind for x in lapsed.audit] == ["expiry", "lapse"]
    assert chain.ledger.proposal(e.id.hex()).status == "expired"  # type: ignore[union-attr]
    assert chain.ledger.identity(ALICE.address) is None
    assert outcomes(chain.run(chain.transfer(ALICE, BOB, 1))) == ["executed"]


def test_a_ratified_emergency_freeze_becomes_permanent() -> None:
    chain = Chain()
    chain.decide(SetParam("emergency_ttl_heights", 3))
    e = chain.propose(R2, FreezeIdentity(ALICE.address), emergency=True)
    chain.run(e)
    ratified = chain.run(chain.vote(R0, e))
    assert [x.kind for x in ratified.audit] == ["vote", "freeze"]
    assert "ratified" in ratified.audit[-1].reason
    chain.idle(5)
    assert frozen_by(chain, ALICE.address) == e.id.hex()
    assert outcomes(chain.run(chain.transfer(ALICE, BOB, 1))) == ["frozen"]


def test_an_emergency_rejected_by_the_committee_lapses_at_once() -> None:
    chain = Chain()
    e = chain.propose(R2, FreezeIdentity(ALICE.address), emergency=True)
    chain.run(e)
    assert frozen_by(chain, ALICE.address) == e.id.hex()
    undone = chain.run(chain.vote(R0, e, yes=False), chain.vote(R1, e, yes=False))
    assert [x.kind for x in undone.audit] == ["vote", "vote", "proposal_rejected", "lapse"]
    assert frozen_by(chain, ALICE.address) is None


def test_a_later_ordinary_freeze_survives_the_emergencys_lapse() -> None:
    chain = Chain()
    chain.decide(SetParam("emergency_ttl_heights", 3))
    e = chain.propose(R2, FreezeIdentity(ALICE.address), emergency=True)
    chain.run(e)
    p = chain.decide(FreezeIdentity(ALICE.address))
    assert "taking over" in p.outcome
    chain.idle(4)
    assert chain.ledger.proposal(e.id.hex()).status == "expired"  # type: ignore[union-attr]
    assert frozen_by(chain, ALICE.address) == p.id


def test_an_unfreeze_during_the_emergency_wins_and_the_lapse_changes_nothing() -> None:
    chain = Chain()
    chain.decide(SetParam("emergency_ttl_heights", 3))
    e = chain.propose(R2, FreezeIdentity(ALICE.address), emergency=True)
    chain.run(e)
    chain.decide(UnfreezeIdentity(ALICE.address))
    expiry = chain.run(), chain.run(), chain.run()
    assert frozen_by(chain, ALICE.address) is None
    assert "lapse" not in [x.kind for r in expiry for x in r.audit]


@pytest.mark.parametrize("action", [SetParam("hold_amount_min", 1), Redact(bytes(32))])
def test_only_freeze_and_intercept_may_be_emergencies(action: Action) -> None:
    chain = Chain()
    assert outcomes(chain.run(chain.propose(R0, action, emergency=True))) == [
        "emergency_not_allowed"
    ]


def test_an_emergency_on_a_target_that_is_not_there_does_nothing() -> None:
    chain = Chain()
    e = chain.propose(R1, Intercept(bytes(32)), emergency=True)
    result = chain.run(e)
    assert [x.kind for x in result.audit] == ["proposal", "emergency"]
    assert result.audit[-1].reason.startswith("no effect")


# -- committee members keep governing --------------------------------------------------
def test_a_frozen_committee_member_can_still_vote_to_unfreeze_itself() -> None:
    chain = Chain()
    chain.decide(FreezeIdentity(R1.address))
    p = chain.propose(R2, UnfreezeIdentity(R1.address))
    result = chain.run(p, chain.vote(R1, p))
    assert outcomes(result) == ["executed", "executed"]
    assert frozen_by(chain, R1.address) is None


def test_governance_state_is_deterministic() -> None:
    def play() -> tuple[bytes, bytes]:
        chain = Chain()
        chain.decide(SetParam("emergency_ttl_heights", 2))
        chain.run(chain.propose(R2, FreezeIdentity(ALICE.address), emergency=True))
        chain.decide(GrantRole(BOB.address, "review"))
        chain.idle(3)
        return chain.ledger.state_hash, chain.ledger.audit_head

    assert play() == play()

"""Held transfers, escrow, release and interception (ordinary and emergency)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.state.payloads import Intercept, Release, SetParam
from ledgerkit import ALICE, BOB, CAROL, R0, R1, R2, Chain, outcomes


def holding(amount_min: int = 40) -> tuple[Chain, str]:
    chain = Chain()
    p = chain.decide(SetParam("hold_amount_min", amount_min))
    return chain, p.id


def test_a_transfer_at_or_above_hold_amount_min_is_held_in_escrow() -> None:
    chain, ref = holding(40)
    big, small = chain.transfer(ALICE, BOB, 40), chain.transfer(ALICE, BOB, 39)
    result = chain.run(big, small)
    assert outcomes(result) == ["held:held_amount", "executed"]
    assert result.receipts[0].governance_ref == ref
    assert chain.ledger.balance(ALICE.address) == 100 - 40 - 39
    assert chain.ledger.balance(BOB.address) == 50 + 39
    assert chain.ledger.holds.escrow == 40
    assert chain.ledger.total_supply() == 150  # escrow counts
    hold = chain.ledger.hold(big.id)
    assert hold is not None and (hold.status, hold.amount, hold.to) == ("held", 40, BOB.address)
    assert chain.ledger.resolution(big.id) is None
    assert [e.kind for e in result.audit] == ["hold"]


def test_a_held_transfer_still_needs_the_funds() -> None:
    chain, _ = holding(40)
    assert outcomes(chain.run(chain.transfer(CAROL, BOB, 50))) == ["insufficient_funds"]


def test_release_pays_the_recipient_from_escrow() -> None:
    chain, _ = holding(40)
    big = chain.transfer(ALICE, BOB, 60)
    chain.run(big)
    p = chain.decide(Release(big.id))
    assert p.outcome == "executed"
    assert chain.ledger.balance(BOB.address) == 110
    assert chain.ledger.holds.escrow == 0
    r = chain.ledger.resolution(big.id)
    assert r is not None and (r.status, r.height, r.proposal) == ("executed", 3, p.id)
    assert chain.ledger.total_supply() == 150


def test_intercept_returns_the_amount_to_the_sender_for_good() -> None:
    chain, _ = holding(40)
    big = chain.transfer(ALICE, BOB, 60)
    chain.run(big)
    p = chain.decide(Intercept(big.id))
    assert chain.ledger.balance(ALICE.address) == 100
    r = chain.ledger.resolution(big.id)
    assert r is not None and (r.status, r.reason, r.proposal) == ("rejected", "intercepted", p.id)
    again = chain.decide(Release(big.id))
    assert again.outcome == f"release: no-op: already rejected by proposal {p.id}"
    assert chain.ledger.balance(BOB.address) == 50


def test_release_of_a_transaction_that_is_not_held_is_a_no_op_in_the_audit_log() -> None:
    chain = Chain()
    t = chain.transfer(ALICE, BOB, 1)
    chain.run(t)
    p = chain.propose(R0, Release(t.id))
    result = chain.run(p, chain.vote(R1, p))
    assert result.audit[-1].kind == "no_op"
    assert result.audit[-1].reason == "release: no-op: the transaction is not held"


def test_an_emergency_interception_keeps_the_funds_in_escrow_and_lapses_back_to_held() -> None:
    chain, _ = holding(40)
    chain.decide(SetParam("emergency_ttl_heights", 2))
    big = chain.transfer(ALICE, BOB, 60)
    chain.run(big)
    e = chain.propose(R2, Intercept(big.id), emergency=True)
    chain.run(e)
    r = chain.ledger.resolution(big.id)
    assert r is not None and (r.status, r.provisional, r.proposal) == ("rejected", True, e.id.hex())
    assert chain.ledger.holds.escrow == 60  # not back with alice yet
    chain.idle(2)
    assert chain.ledger.proposal(e.id.hex()).status == "expired"  # type: ignore[union-attr]
    assert chain.ledger.hold(big.id).status == "held"  # type: ignore[union-attr]
    assert chain.ledger.total_supply() == 150


def test_a_ratified_emergency_interception_returns_the_funds() -> None:
    chain, _ = holding(40)
    big = chain.transfer(ALICE, BOB, 60)
    chain.run(big)
    e = chain.propose(R2, Intercept(big.id), emergency=True)
    chain.run(e)
    chain.run(chain.vote(R0, e))
    r = chain.ledger.resolution(big.id)
    assert r is not None and (r.status, r.provisional) == ("rejected", False)
    assert chain.ledger.balance(ALICE.address) == 100
    assert chain.ledger.holds.escrow == 0


def test_the_committee_can_release_over_an_emergency_interception() -> None:
    chain, _ = holding(40)
    big = chain.transfer(ALICE, BOB, 60)
    chain.run(big)
    e = chain.propose(R2, Intercept(big.id), emergency=True)
    chain.run(e)
    p = chain.decide(Release(big.id))
    assert p.outcome == f"executed, overriding emergency interception {e.id.hex()}"
    assert chain.ledger.balance(BOB.address) == 110
    ratified = chain.run(chain.vote(R1, e))  # too late: nothing is held any more
    assert ratified.audit[-1].kind == "no_op"


@settings(database=None, deadline=None, max_examples=30)
@given(
    st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(1, 80)), max_size=10),
    st.lists(st.booleans(), max_size=10),
)
def test_supply_is_conserved_through_holds_releases_and_interceptions(
    moves: list[tuple[int, int, int]], releases: list[bool]
) -> None:
    keys = [ALICE, BOB, CAROL]
    chain, _ = holding(30)
    txs = [chain.transfer(keys[s], keys[r], amount) for s, r, amount in moves]
    chain.run(*txs)
    held = [t for t in txs if chain.ledger.hold(t.id) is not None]
    for t, release in zip(held, releases, strict=False):
        chain.decide(Release(t.id) if release else Intercept(t.id))
        assert chain.ledger.total_supply() == 150
    assert all(chain.ledger.balance(k.address) >= 0 for k in keys)
    assert chain.ledger.holds.escrow == sum(
        h.amount for h in chain.ledger.holds.by_tx.values() if h.escrowed
    )

"""Fund-tracing measures on the ledger: liens (freeze-amount, unfreeze-amount) and watches."""

from __future__ import annotations

import pytest

from govchain.codec import encode
from govchain.state import funds as funds_mod
from govchain.state.actions import watch as watch_mod
from govchain.state.actions.freeze_amount import FreezeAmount
from govchain.state.actions.unfreeze_amount import UnfreezeAmount
from govchain.state.actions.unwatch import Unwatch
from govchain.state.actions.watch import WatchAccounts
from govchain.state.catalog import ACTION_MODULES, BUILTIN, KIND_MODULES
from govchain.state.funds import NAMESPACE, Funds
from govchain.state.ledger import Ledger
from govchain.state.payloads import GrantRole, Intercept, Release, SetParam
from govchain.state.registry import Registry
from govchain.trace.case import Seed, TraceCase
from ledgerkit import ALICE, BOB, CAROL, R0, R1, R2, Chain, genesis, outcomes

ROOT = bytes(range(32))
ORDER = bytes(range(32, 64))
FUND_ACTIONS = (FreezeAmount, UnfreezeAmount, WatchAccounts, Unwatch)


def lien(amount: int, case: str = "ransom-17", key: bytes = ALICE.address) -> FreezeAmount:
    return FreezeAmount(key, amount, ROOT, case=case)


def funds(chain: Chain) -> Funds:
    ns = chain.ledger.namespace(NAMESPACE)
    assert isinstance(ns, Funds)
    return ns


def test_a_lien_freezes_only_its_amount_and_names_the_case_and_trace() -> None:
    chain = Chain()  # alice holds 100
    p = chain.decide(FreezeAmount(ALICE.address, 60, ROOT, ORDER, case="ransom-17"))
    assert p.outcome == f"lien of 60 (case ransom-17, trace {ROOT.hex()}, order {ORDER.hex()})"
    over, within = chain.transfer(ALICE, BOB, 41), chain.transfer(ALICE, BOB, 40)
    result = chain.run(over, within)
    assert outcomes(result) == ["frozen_amount", "executed"]
    assert result.receipts[0].governance_ref == p.id
    assert chain.ledger.balance(ALICE.address) == 60
    # No audit entry: the rejection rests on the payload, which a replay no longer has.
    assert result.audit == ()
    # Spending the rest is still refused: 60 is frozen, 60 is all there is.
    assert outcomes(chain.run(chain.transfer(ALICE, BOB, 1))) == ["frozen_amount"]
    # Receiving is not: the new money is spendable.
    chain.run(chain.transfer(BOB, ALICE, 10))
    assert outcomes(chain.run(chain.transfer(ALICE, CAROL, 10))) == ["executed"]


def test_a_replay_without_the_rejected_payload_reaches_the_same_state() -> None:
    # A transfer final as rejected loses its payload; a node replaying the height
    # takes the outcome from the certified receipt and must hash the same.
    chains = Chain(), Chain()
    results = []
    for chain in chains:
        chain.decide(lien(60))
        over, within = chain.transfer(ALICE, BOB, 41), chain.transfer(ALICE, BOB, 40)
        results.append((chain, over, within))
    first, second = results
    done = first[0].run(first[1], first[2])
    known = {first[1].id: done.receipts[0]}
    again = second[0].run(second[1].without_payload(), second[2], known=known)
    assert outcomes(again) == ["frozen_amount", "executed"]
    assert again.state_hash == done.state_hash and again.audit_head == done.audit_head


def test_the_audit_entry_of_a_lien_names_its_case() -> None:
    chain = Chain()
    p = chain.propose(R0, lien(5, case="ransom-17"))
    result = chain.run(p, chain.vote(R1, p))
    [entry] = [e for e in result.audit if e.kind == "lien"]
    assert entry.subject == f"address:{ALICE.address.hex()}"
    assert "case ransom-17" in entry.reason and ROOT.hex() in entry.reason


def test_a_lien_above_the_balance_or_the_unfrozen_rest_is_a_no_op_with_words() -> None:
    chain = Chain()
    above = chain.decide(lien(101))
    assert above.outcome.endswith(
        f"the amount 101 is above the balance 100 (case ransom-17, trace {ROOT.hex()})"
    )
    chain.decide(lien(70))
    rest = chain.decide(lien(31))
    assert "the amount 31 is above the balance 100 less the liens in force 70" in rest.outcome
    assert rest.outcome.startswith("freeze-amount: no-op: ")
    whole = chain.decide(lien(30))
    assert whole.outcome.startswith("lien of 30")
    assert funds(chain).frozen(ALICE.address) == 100


def test_a_held_transfer_must_fit_under_the_liens_too() -> None:
    chain = Chain()
    chain.decide(SetParam("hold_amount_min", 20))
    chain.decide(lien(50))
    result = chain.run(chain.transfer(ALICE, BOB, 51), chain.transfer(ALICE, BOB, 30))
    assert outcomes(result) == ["frozen_amount", "held:held_amount"]
    # The held 30 left the balance for escrow: 20 of the 70 left is spendable.
    result = chain.run(chain.transfer(ALICE, CAROL, 21), chain.transfer(ALICE, CAROL, 19))
    assert outcomes(result) == ["frozen_amount", "executed"]
    assert chain.ledger.total_supply() == 150


def test_unfreeze_lifts_newest_first_in_part_and_history_answers_frozen_at() -> None:
    chain = Chain()
    old = chain.decide(lien(30))  # height 1
    new = chain.decide(lien(20))  # height 2
    f = funds(chain)
    assert [f.frozen_at(ALICE.address, h) for h in (0, 1, 2)] == [0, 30, 50]
    lifted = chain.decide(UnfreezeAmount(ALICE.address, 25, "ransom-17"))  # height 3
    assert lifted.outcome == (
        f"lifted 25 of the liens of {new.id}, {old.id}; 25 stays frozen (case ransom-17)"
    )
    assert f.frozen(ALICE.address) == 25
    assert [(s.amount, s.proposal, s.since) for s in f.liens_in_force(ALICE.address)] == [
        (25, old.id, 1)
    ]
    # History: what was in force after each height stays as it was.
    assert [f.frozen_at(ALICE.address, h) for h in (0, 1, 2, 3, 4)] == [0, 30, 50, 25, 25]
    too_much = chain.decide(UnfreezeAmount(ALICE.address, 26))
    assert (
        too_much.outcome == "unfreeze-amount: no-op: the amount 26 is above the liens in force 25"
    )
    chain.decide(UnfreezeAmount(ALICE.address, 25))
    assert f.frozen(ALICE.address) == 0 and f.guards == {}
    none_left = chain.decide(UnfreezeAmount(ALICE.address, 1))
    assert none_left.outcome.endswith("no lien is in force on the address")
    assert [f.frozen_at(ALICE.address, h) for h in (3, 5)] == [25, 0]


def test_a_full_lien_book_refuses_new_liens_and_partial_lifts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(funds_mod, "LIEN_RECORDS_PER_ADDRESS_MAX", 2)
    chain = Chain()
    chain.decide(lien(10))
    chain.decide(lien(10))
    full = chain.decide(lien(10))
    assert "the address has 2 lien records, the most kept" in full.outcome
    partial = chain.decide(UnfreezeAmount(ALICE.address, 5))
    assert partial.outcome.endswith("lift whole liens only")
    whole = chain.decide(UnfreezeAmount(ALICE.address, 10))  # no new record needed
    assert whole.outcome.startswith("lifted 10")


def test_a_watch_holds_outgoing_transfers_for_intercept_and_release() -> None:
    chain = Chain()
    w = chain.decide(WatchAccounts((ALICE.address,), 100, "ransom-17"))
    assert w.outcome == "watching 1 address through height 100 (case ransom-17)"
    first, second = chain.transfer(ALICE, BOB, 10), chain.transfer(ALICE, CAROL, 20)
    incoming = chain.transfer(BOB, ALICE, 5)
    result = chain.run(first, second, incoming)
    assert outcomes(result) == ["held:held_watch", "held:held_watch", "executed"]
    assert {r.governance_ref for r in result.receipts[:2]} == {w.id}
    assert chain.ledger.holds.escrow == 30 and chain.ledger.total_supply() == 150
    chain.decide(Release(first.id))
    chain.decide(Intercept(second.id))
    assert chain.ledger.balance(BOB.address) == 50 - 5 + 10
    assert chain.ledger.balance(CAROL.address) == 0
    assert chain.ledger.balance(ALICE.address) == 100 - 10 + 5
    assert chain.ledger.total_supply() == 150


def test_a_watch_wins_over_review_and_hold_amount_min() -> None:
    chain = Chain()
    chain.decide(SetParam("hold_amount_min", 5))
    chain.decide(GrantRole(ALICE.address, "review"))
    w = chain.decide(WatchAccounts((ALICE.address,), 100, "c1"))
    result = chain.run(chain.transfer(ALICE, BOB, 10))
    assert outcomes(result) == ["held:held_watch"]
    assert result.receipts[0].governance_ref == w.id


def test_unwatch_ends_every_watch_of_the_case_and_only_those() -> None:
    chain = Chain()
    chain.run(chain.transfer(BOB, CAROL, 1))  # carol holds something to send
    a = chain.decide(WatchAccounts((ALICE.address,), 100, "c1"))
    b = chain.decide(WatchAccounts((BOB.address, ALICE.address), 100, "c1"))
    c = chain.decide(WatchAccounts((CAROL.address,), 100, "c2"))
    ended = chain.decide(Unwatch("c1"))
    assert ended.outcome == f"ended the watches of case c1 (proposals {a.id}, {b.id})"
    result = chain.run(chain.transfer(ALICE, BOB, 1), chain.transfer(CAROL, BOB, 1))
    assert outcomes(result) == ["executed", "held:held_watch"]
    assert result.receipts[1].governance_ref == c.id
    again = chain.decide(Unwatch("c1"))
    assert again.outcome == "unwatch: no-op: no watch of case c1 is in force"


def test_a_watch_ends_by_itself_after_until() -> None:
    chain = Chain()
    chain.decide(WatchAccounts((ALICE.address,), 3, "c1"))  # enacted at the end of height 1
    assert outcomes(chain.run(chain.transfer(ALICE, BOB, 1))) == ["held:held_watch"]  # 2
    assert outcomes(chain.run(chain.transfer(ALICE, BOB, 1))) == ["held:held_watch"]  # 3
    assert outcomes(chain.run(chain.transfer(ALICE, BOB, 1))) == ["executed"]  # 4
    # The next watch enactment drops the expired entry (deterministically, hashed).
    f = funds(chain)
    assert len(f.watches) == 1
    chain.decide(WatchAccounts((BOB.address,), 100, "c2"))
    assert [w.case for w in f.watches.values()] == ["c2"]
    assert ALICE.address not in f.guards


def test_a_watch_whose_until_has_passed_or_a_full_list_is_a_no_op(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chain = Chain()
    chain.idle(4)
    late = chain.decide(WatchAccounts((ALICE.address,), 5, "c1"))  # enacted at the end of 5
    assert late.outcome == "watch: no-op: until 5 has passed (height 5; case c1)"
    monkeypatch.setattr(watch_mod, "WATCHES_MAX", 1)
    chain.decide(WatchAccounts((ALICE.address,), 100, "c1"))
    full = chain.decide(WatchAccounts((BOB.address,), 100, "c2"))
    assert full.outcome == "watch: no-op: the watch list is full (1 watches; case c2)"


def test_an_emergency_watch_acts_at_once_and_lapses_unless_ratified() -> None:
    chain = Chain()
    chain.decide(SetParam("emergency_ttl_heights", 2))  # height 1
    e = chain.propose(R2, WatchAccounts((ALICE.address,), 100, "c1"), emergency=True)
    result = chain.run(e)  # height 2: in force at its end
    assert [x.reason for x in result.audit if x.kind == "emergency"] == [
        "watching 1 address through height 100 (case c1) pending ratification"
    ]
    assert outcomes(chain.run(chain.transfer(ALICE, BOB, 1))) == ["held:held_watch"]
    chain.idle(1)  # height 4: expires, lapses
    assert chain.ledger.proposal(e.id.hex()).status == "expired"  # type: ignore[union-attr]
    assert outcomes(chain.run(chain.transfer(ALICE, BOB, 1))) == ["executed"]


def test_a_ratified_emergency_watch_stays() -> None:
    chain = Chain()
    e = chain.propose(R2, WatchAccounts((ALICE.address,), 100, "c1"), emergency=True)
    chain.run(e)
    result = chain.run(chain.vote(R0, e))
    assert [x.reason for x in result.audit if x.kind == "watch"] == [
        "ratified: watching 1 address through height 100 (case c1)"
    ]
    chain.idle(3)
    assert outcomes(chain.run(chain.transfer(ALICE, BOB, 1))) == ["held:held_watch"]


def test_an_emergency_lien_lapses_exactly_and_keeps_its_history() -> None:
    chain = Chain()
    ordinary = chain.decide(lien(20))  # height 1
    e = chain.propose(R2, lien(50), emergency=True)
    result = chain.run(e)  # height 2
    assert [x.reason for x in result.audit if x.kind == "emergency"] == [
        f"lien of 50 pending ratification (case ransom-17, trace {ROOT.hex()})"
    ]
    f = funds(chain)
    assert f.frozen(ALICE.address) == 70
    assert outcomes(chain.run(chain.transfer(ALICE, BOB, 31))) == ["frozen_amount"]  # 3
    chain.decide(UnfreezeAmount(ALICE.address, 10))  # height 4: from the emergency's, newest
    lapsed = chain.run(chain.vote(R0, e, yes=False), chain.vote(R1, e, yes=False))  # 5
    assert [x.reason for x in lapsed.audit if x.kind == "lapse"] == [
        f"lien of 40 lifted (case ransom-17, trace {ROOT.hex()}): "
        "the emergency measure was rejected, not ratified"
    ]
    assert [(s.amount, s.proposal) for s in f.liens_in_force(ALICE.address)] == [(20, ordinary.id)]
    assert [f.frozen_at(ALICE.address, h) for h in (1, 2, 4, 5)] == [20, 70, 60, 20]


def test_a_ratified_emergency_lien_stays() -> None:
    chain = Chain()
    e = chain.propose(R2, lien(50), emergency=True)
    chain.run(e)
    result = chain.run(chain.vote(R0, e))
    assert [x.reason for x in result.audit if x.kind == "lien"] == [
        f"ratified: the lien of 50 stays (case ransom-17, trace {ROOT.hex()})"
    ]
    assert funds(chain).frozen(ALICE.address) == 50


def test_an_emergency_lien_above_the_balance_has_no_effect() -> None:
    chain = Chain()
    e = chain.propose(R2, lien(500), emergency=True)
    result = chain.run(e)
    [entry] = [x for x in result.audit if x.kind == "emergency"]
    assert entry.reason.startswith("no effect: the amount 500 is above the balance 100")
    assert funds(chain).guards == {}


@pytest.mark.parametrize(
    "action",
    [
        FreezeAmount(ALICE.address, 0, ROOT),
        FreezeAmount(ALICE.address, 1, ROOT[:31]),
        FreezeAmount(ALICE.address, 1, ROOT, ORDER[:5]),
        FreezeAmount(ALICE.address, 1, ROOT, case="no spaces"),
        FreezeAmount(ALICE.address, 1, ROOT, trace_case=b"\x93junk"),
        FreezeAmount(ALICE.address, 1, ROOT, trace_case=b"\x00" * 4097),
        FreezeAmount(ALICE.address[:19], 1, ROOT),
        UnfreezeAmount(ALICE.address, 0),
        WatchAccounts((), 10, "c1"),
        WatchAccounts((ALICE.address, ALICE.address), 10, "c1"),
        WatchAccounts(tuple(bytes([i]) * 20 for i in range(65)), 10, "c1"),
        WatchAccounts((ALICE.address,), 0, "c1"),
        WatchAccounts((ALICE.address,), 10, ""),
        WatchAccounts((ALICE.address,), 10, "x" * 65),
        Unwatch(""),
    ],
)
def test_bad_arguments_reject_the_proposal(action: object) -> None:
    chain = Chain()
    assert outcomes(chain.run(chain.propose(R0, action))) == ["bad_argument"]  # type: ignore[arg-type]


def test_a_cited_trace_case_must_be_a_canonical_case() -> None:
    case = encode(TraceCase((Seed(BOB.address, 5, label="ransom"),)))
    chain = Chain()
    p = chain.decide(FreezeAmount(ALICE.address, 5, ROOT, trace_case=case, case="c1"))
    assert p.outcome.startswith("lien of 5")
    assert p.action == FreezeAmount(ALICE.address, 5, ROOT, b"", case, "c1")


def _without_funds() -> Registry:
    """The built-in registry as it was before these actions (no funds namespace)."""
    r = Registry()
    for k in KIND_MODULES:
        r.add_kind(k.SPEC)
    for a in ACTION_MODULES:
        if a.SPEC.args not in FUND_ACTIONS:
            r.add_action(a.SPEC)
    return r


def test_chains_that_never_use_them_hash_as_before() -> None:
    old, new = Chain(), Chain()
    old.ledger = Ledger(genesis(), _without_funds())
    assert NAMESPACE in BUILTIN.namespaces and NAMESPACE not in old.ledger.registry.namespaces
    for chain in (old, new):
        chain.decide(SetParam("hold_amount_min", 30))
        chain.run(chain.transfer(ALICE, BOB, 5), chain.transfer(ALICE, CAROL, 40))
        chain.idle(1)
    assert old.ledger.state_hash == new.ledger.state_hash
    new.decide(WatchAccounts((ALICE.address,), 100, "c1"))
    old.decide(SetParam("hold_amount_min", 30))
    assert old.ledger.state_hash != new.ledger.state_hash


def test_a_registry_without_the_namespace_executes_transfers_as_before() -> None:
    chain = Chain()
    chain.ledger = Ledger(genesis(), _without_funds())
    assert outcomes(chain.run(chain.transfer(ALICE, BOB, 100))) == ["executed"]


def test_the_namespace_writes_only_when_it_changed() -> None:
    f = Funds()
    assert f.writes() is None
    f.add_lien(ALICE.address, 5, "p1", 3)
    assert f.writes() == [[[ALICE.address, [funds_mod.Lien(5, "p1", 3, 3)]]], []]
    assert f.writes() is None
    assert f.end_watch("nobody") is None and f.writes() is None

"""The movement index: execution reports every final movement of value, the stores index it.

Execution: applying a height's movements to the balances (and escrow) before
it gives the balances after it, exactly, and each movement records both ends'
balances right after it, for random histories of transfers, holds, releases,
interceptions (ordinary, emergency, ratified, lapsed), liens and watches.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.dag.tx import Transaction
from govchain.state.actions.freeze_amount import FreezeAmount
from govchain.state.actions.unfreeze_amount import UnfreezeAmount
from govchain.state.actions.unwatch import Unwatch
from govchain.state.actions.watch import WatchAccounts
from govchain.state.ledger import Executed, Ledger
from govchain.state.payloads import Intercept, Release, SetParam
from govchain.state.receipts import Receipt
from govchain.trace.movements import Movement, MovementKind, escrow_of
from ledgerkit import ALICE, BOB, CAROL, R0, R1, ROOT, Chain, outcomes

KEYS = [ALICE, BOB, CAROL]
HOLD_AMOUNT_MIN = 30


def snapshot(ledger: Ledger) -> dict[bytes, int]:
    """Every balance, and each hold's escrowed amount under its own escrow account."""
    out = {a: acct.balance for a, acct in ledger.accounts.items()}
    for tx_id, hold in ledger.holds.by_tx.items():
        if hold.escrowed and hold.amount:
            out[escrow_of(tx_id)] = hold.amount
    return out


def applied(before: dict[bytes, int], moves: tuple[Movement, ...]) -> dict[bytes, int]:
    """The balances after moving each amount, one by one, never below zero; each
    movement's recorded balances are its ends' balances right after it."""
    out = dict(before)
    for m in moves:
        out[m.src] = out.get(m.src, 0) - m.amount
        assert out[m.src] >= 0, m
        out[m.dst] = out.get(m.dst, 0) + m.amount
        assert (m.src_after, m.dst_after) == (out[m.src], out[m.dst]), m
    return out


def in_final_order(moves: tuple[Movement, ...], height: int) -> bool:
    orders = [m.order for m in moves]
    return (
        orders == sorted(orders)
        and len(set(orders)) == len(orders)
        and all(m.height == height for m in moves)
    )


class Checked(Chain):
    """A Chain whose every height is checked: movements turn the old balances into the new."""

    def run(self, *txs: Transaction, known: dict[bytes, Receipt] | None = None) -> Executed:
        """Execute txs as the next height, checking its movements."""
        before = snapshot(self.ledger)
        result = super().run(*txs, known=known)
        assert in_final_order(result.movements, result.height)
        assert all(m.amount > 0 for m in result.movements)
        want = {a: v for a, v in snapshot(self.ledger).items() if v}
        got = {a: v for a, v in applied(before, result.movements).items() if v}
        assert got == want
        return result


def holding() -> Checked:
    chain = Checked()
    chain.decide(SetParam("hold_amount_min", HOLD_AMOUNT_MIN))
    return chain


def test_a_transfer_moves_value_once_in_final_order() -> None:
    chain = Checked()
    a, b = chain.transfer(ALICE, BOB, 5), chain.transfer(BOB, CAROL, 7)
    result = chain.run(a, b)
    assert [
        (m.position, m.seq, m.tx_id, m.src, m.dst, m.amount, m.kind) for m in result.movements
    ] == [
        (0, 0, a.id, ALICE.address, BOB.address, 5, MovementKind.TRANSFER),
        (1, 0, b.id, BOB.address, CAROL.address, 7, MovementKind.TRANSFER),
    ]


def test_a_rejected_transfer_moves_nothing() -> None:
    chain = Checked()
    result = chain.run(chain.transfer(CAROL, BOB, 5))
    assert outcomes(result) == ["insufficient_funds"] and result.movements == ()


def test_a_held_transfer_goes_to_escrow_and_its_release_comes_out_after_the_transactions() -> None:
    chain = holding()
    big = chain.transfer(ALICE, BOB, 40)
    held = chain.run(big)
    assert [(m.src, m.dst, m.kind) for m in held.movements] == [
        (ALICE.address, escrow_of(big.id), MovementKind.ESCROW)
    ]
    p = chain.propose(R0, Release(big.id))
    other = chain.transfer(BOB, CAROL, 1)
    result = chain.run(p, chain.vote(R1, p), other)
    assert [(m.position, m.tx_id, m.src, m.dst, m.amount, m.kind) for m in result.movements] == [
        (2, other.id, BOB.address, CAROL.address, 1, MovementKind.TRANSFER),
        (3, p.id, escrow_of(big.id), BOB.address, 40, MovementKind.RELEASE),
    ]


def test_an_emergency_interception_moves_value_only_when_ratified() -> None:
    chain = holding()
    big = chain.transfer(ALICE, BOB, 40)
    chain.run(big)
    p = chain.propose(R0, Intercept(big.id), emergency=True)
    assert chain.run(p).movements == ()  # provisional: the amount stays in escrow
    result = chain.run(chain.vote(R1, p))
    assert [(m.tx_id, m.src, m.dst, m.kind) for m in result.movements] == [
        (p.id, escrow_of(big.id), ALICE.address, MovementKind.INTERCEPT)
    ]


def test_each_movement_records_both_balances_after_it() -> None:
    chain = holding()
    a, loop = chain.transfer(ALICE, BOB, 5), chain.transfer(BOB, BOB, 3)
    big = chain.transfer(ALICE, CAROL, 40)
    before = {k.address: chain.ledger.balance(k.address) for k in KEYS}
    moved = chain.run(a, loop, big).movements
    alice, bob = before[ALICE.address] - 5, before[BOB.address] + 5
    assert [(m.src_after, m.dst_after) for m in moved] == [
        (alice, bob),
        (bob, bob),  # to oneself: both the balance after, which it leaves as it was
        (alice - 40, 40),  # the escrow account holds just this hold's amount
    ]
    p = chain.propose(R0, Release(big.id))
    (release,) = chain.run(p, chain.vote(R1, p)).movements
    assert (release.src_after, release.dst_after) == (0, before[CAROL.address] + 40)


# A measure before a height: (what, account index, amount).
MEASURES = st.lists(
    st.tuples(
        st.sampled_from(["lien", "unfreeze", "watch", "unwatch", "none"]),
        st.integers(0, 2),
        st.integers(1, 80),
    ),
    max_size=4,
)


def measure(chain: Chain, what: str, account: bytes, amount: int) -> None:
    """A lien, its lifting, a watch (its transfers held) or its end, decided in one height."""
    if what == "lien":
        chain.decide(FreezeAmount(account, amount, ROOT, case="c1"))
    elif what == "unfreeze":
        chain.decide(UnfreezeAmount(account, amount))
    elif what == "watch":
        chain.decide(WatchAccounts((account,), chain.ledger.height + 10, "c1"))
    elif what == "unwatch":
        chain.decide(Unwatch("c1"))


@settings(database=None, deadline=None, max_examples=40)
@given(
    st.lists(
        st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(1, 60)), max_size=6),
        min_size=1,
        max_size=4,
    ),
    st.lists(st.integers(0, 3), max_size=8),
    MEASURES,
)
def test_movements_turn_the_previous_balances_into_the_new_ones(
    heights: list[list[tuple[int, int, int]]],
    decisions: list[int],
    measures: list[tuple[str, int, int]],
) -> None:
    chain = holding()
    held: list[bytes] = []
    for k, moves in enumerate(heights):
        if k < len(measures):
            what, who, amount = measures[k]
            measure(chain, what, KEYS[who].address, amount)
        txs = [chain.transfer(KEYS[s], KEYS[r], amount) for s, r, amount in moves]
        chain.run(*txs)
        held += [t.id for t in txs if chain.ledger.hold(t.id) is not None]
    for tx_id, how in zip(held, decisions, strict=False):
        if how == 0:
            chain.decide(Release(tx_id))
        elif how == 1:
            chain.decide(Intercept(tx_id))
        elif how == 2:  # emergency, then ratified in the next height
            p = chain.propose(R0, Intercept(tx_id), emergency=True)
            chain.run(p)
            chain.run(chain.vote(R1, p))
        else:  # emergency, then released over it
            chain.run(chain.propose(R0, Intercept(tx_id), emergency=True))
            chain.decide(Release(tx_id))

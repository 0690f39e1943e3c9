"""The `wr` and `wr.readings` transaction kinds: dispatch, offers and signatures.

A transition whose parties are the sender alone executes in its transaction. One
that needs others opens an offer (its id: the opening transaction's id): every
check runs at once, so a transition that could not execute is refused when
proposed (the second bank's pledge on pledged goods); each other party then
sends `sign OFFER`, and the last signature runs every check again, with the
evidence as it is then, and executes it. A refused last signature is rejected
and not counted; the party may sign again before the offer lapses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from govchain.apps.warehouse import financing as fin
from govchain.apps.warehouse import lifecycle as life
from govchain.apps.warehouse.book import NAMESPACE, OFFERS_MAX, OFFERS_PER_OPENER_MAX, WarehouseBook
from govchain.apps.warehouse.env import Env, RefusedError, refuse
from govchain.apps.warehouse.ops import (
    OP_DECODER,
    READINGS_DECODER,
    AddBin,
    AddCollateral,
    Adjust,
    AnyOp,
    Decline,
    Endorse,
    Enforce,
    Inspect,
    Intake,
    Issue,
    Merge,
    OpenWarehouse,
    Pledge,
    PostPrice,
    RegisterDevice,
    Release,
    Repay,
    Sign,
    Split,
    Withdraw,
)
from govchain.apps.warehouse.records import Offer
from govchain.apps.warehouse.sensing import check_batch, record_batch
from govchain.codec import HASH_BYTES, DecodeError, decode_canonical
from govchain.dag.tx import Transaction
from govchain.state.accounts import Account
from govchain.state.receipts import Outcome, Reason, Status, rejected
from govchain.state.registry import TxContext

_MALFORMED = rejected(Reason.MALFORMED_PAYLOAD)
OFFER_OPEN = "open"
OFFER_EXECUTED = "executed"
OFFER_DECLINED = "declined"
OFFER_LAPSED = "lapsed"


@dataclass(frozen=True, slots=True)
class Transition:
    """Who may open a transition (and who else signs), and the transition itself."""

    parties: Callable[[Env, Any], tuple[bytes, ...]]
    run: Callable[[Env, Any], None]


TRANSITIONS: dict[type, Transition] = {
    OpenWarehouse: Transition(life.parties_open_warehouse, life.open_warehouse),
    AddBin: Transition(life.operator_only, life.add_bin),
    RegisterDevice: Transition(life.parties_register_device, life.register_device),
    Intake: Transition(life.operator_only, life.intake),
    Issue: Transition(life.parties_issue, life.issue),
    Endorse: Transition(life.parties_endorse, life.endorse),
    Split: Transition(life.parties_split, life.split),
    Merge: Transition(life.parties_split, life.merge),
    Withdraw: Transition(life.parties_withdraw, life.withdraw),
    Inspect: Transition(life.parties_inspect, life.inspect),
    Pledge: Transition(fin.parties_pledge, fin.pledge),
    AddCollateral: Transition(fin.parties_borrower, fin.add_collateral),
    Repay: Transition(fin.parties_borrower, fin.repay),
    Adjust: Transition(fin.parties_bank, fin.adjust),
    Release: Transition(fin.parties_bank, fin.release),
    Enforce: Transition(fin.parties_bank, fin.enforce),
    PostPrice: Transition(fin.parties_oracle, fin.post_price),
}


def book_of(ctx: TxContext) -> WarehouseBook:
    """The warehouse namespace of this ledger."""
    return ctx.stores.namespace(NAMESPACE, WarehouseBook)


def run_wr(ctx: TxContext, tx: Transaction, sender: bytes, _acct: Account) -> Outcome | None:
    """Execute a `wr` transaction; None when it executed (or opened or signed an offer)."""
    try:
        op = decode_canonical(tx.payload, OP_DECODER)
    except DecodeError:
        return _MALFORMED
    book = book_of(ctx)
    try:
        if isinstance(op, Sign):
            _sign(ctx, book, tx, sender, op.offer)
        elif isinstance(op, Decline):
            _decline(ctx, book, sender, op.offer)
        else:
            _open(ctx, book, tx, sender, op)
    except RefusedError as r:
        return Outcome(Status.REJECTED.value, r.reason)
    return None


def _open(ctx: TxContext, book: WarehouseBook, tx: Transaction, sender: bytes, op: AnyOp) -> None:
    t = TRANSITIONS[type(op)]
    env = Env(ctx, book, sender, tx.id, tx.id, (sender,), ctx.height, executing=False)
    others = t.parties(env, op)
    if not others:
        env.executing = True
        t.run(env, op)  # every check, then (only when all passed) the writes
        return
    t.run(env, op)  # every check an offer can pass before its other parties sign
    _room(book, sender, ctx.height)
    ttl = ctx.stores.params.required("wr_offer_ttl_heights")
    needed = tuple(sorted({sender, *others}))
    offer = Offer(tx.id, op, sender, needed, [sender], ctx.height, ctx.height + ttl)
    book.offers[tx.id] = offer
    if isinstance(op, Withdraw):
        book.withdrawals[op.number] = tx.id
    book.touch_offer(offer)


def _close(book: WarehouseBook, offer: Offer, status: str) -> None:
    """An offer leaves the open list (executed, declined or lapsed), written once more."""
    offer.status = status
    del book.offers[offer.id]
    if isinstance(offer.op, Withdraw) and book.withdrawals.get(offer.op.number) == offer.id:
        del book.withdrawals[offer.op.number]
    book.touch_offer(offer)


def _room(book: WarehouseBook, opener: bytes, height: int) -> None:
    """Refuse a new offer over the limits of unexpired ones; else drop lapsed ones if full.

    The refusal is decided before anything is dropped: a rejected transaction
    must change nothing (a replay without its payload takes the receipt's word).
    """
    if len(book.offers) < OFFERS_MAX and book.offers_of(opener) < OFFERS_PER_OPENER_MAX:
        return
    lapsed = [o for o in book.offers.values() if o.expires < height]
    mine = sum(1 for o in book.offers.values() if o.opener == opener and o.expires >= height)
    if len(book.offers) - len(lapsed) >= OFFERS_MAX or mine >= OFFERS_PER_OPENER_MAX:
        raise refuse("too_many_offers")
    for o in lapsed:
        _close(book, o, OFFER_LAPSED)


def _offer(book: WarehouseBook, offer_id: bytes, sender: bytes, height: int) -> Offer:
    if len(offer_id) != HASH_BYTES:
        raise refuse("unknown_offer")
    offer = book.offers.get(offer_id)
    if offer is None:
        raise refuse("unknown_offer")
    if offer.expires < height:
        raise refuse("offer_lapsed")
    if sender not in offer.needed:
        raise refuse("not_a_party")
    return offer


def _sign(
    ctx: TxContext, book: WarehouseBook, tx: Transaction, sender: bytes, offer_id: bytes
) -> None:
    offer = _offer(book, offer_id, sender, ctx.height)
    if sender in offer.signed:
        raise refuse("signed_already")
    signed = [*offer.signed, sender]
    if len(signed) < len(offer.needed):
        offer.signed = signed
        book.touch_offer(offer)
        return
    # The last signature: the parties must be as they were, and every check pass now.
    t = TRANSITIONS[type(offer.op)]
    opener = offer.opener
    frozen = ctx.stores.identities.frozen
    if any(party in frozen for party in offer.needed):
        raise refuse("party_frozen")  # a signature given before a freeze does not count
    env = Env(ctx, book, opener, tx.id, offer.id, tuple(signed), offer.opened, executing=False)
    if tuple(sorted({opener, *t.parties(env, offer.op)})) != offer.needed:
        raise refuse("parties_changed")
    env.executing = True
    t.run(env, offer.op)  # raises before writing anything when a check fails
    offer.signed = signed
    _close(book, offer, OFFER_EXECUTED)


def _decline(ctx: TxContext, book: WarehouseBook, sender: bytes, offer_id: bytes) -> None:
    offer = _offer(book, offer_id, sender, ctx.height)
    _close(book, offer, OFFER_DECLINED)


def run_readings(ctx: TxContext, tx: Transaction, _sender: bytes, _acct: Account) -> Outcome | None:
    """Execute a gateway's batch of readings; None when every reading was recorded."""
    try:
        batch = decode_canonical(tx.payload, READINGS_DECODER)
    except DecodeError:
        return _MALFORMED
    book = book_of(ctx)
    try:
        check_batch(book, batch)
    except RefusedError as r:
        return Outcome(Status.REJECTED.value, r.reason)
    record_batch(book, batch, ctx.height, tx.id, ctx.stores.params)
    return None

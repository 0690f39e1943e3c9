"""Pledges and prices: pledge, more collateral, repayment, adjustment, release, enforcement,
and the daily mark-to-market that oracle prices trigger.

Money moves in the chain's own unit (fen): the bank pays the loan out to the
borrower when a pledge executes, repayments go back to the bank, and a buyer's
price at enforcement goes to the bank up to what is owed, the rest to the
borrower. Each payment respects liens and watches (state/funds.py) and is a
movement that fund tracing follows.
"""

from __future__ import annotations

from govchain.apps.warehouse.book import (
    PLEDGE_HISTORY_RESERVE,
    PLEDGES_MAX,
    RECEIPTS_PER_PLEDGE_MAX,
    WarehouseBook,
)
from govchain.apps.warehouse.env import ROLE_BANK, ROLE_ORACLE, Env, refuse
from govchain.apps.warehouse.lifecycle import bins_green, bins_of
from govchain.apps.warehouse.ops import (
    AddCollateral,
    Adjust,
    Enforce,
    Pledge,
    PostPrice,
    Release,
    Repay,
)
from govchain.apps.warehouse.params import valuation_params
from govchain.apps.warehouse.records import Call, Mark, PledgeRec, PriceRec, Receipt
from govchain.apps.warehouse.units import (
    BP_PER_ONE,
    LOAN_FEN_MAX,
    PRICE_FEN_PER_TONNE_MAX,
    QUANTITY_G_MAX,
    value_fen_floor,
)
from govchain.apps.warehouse.valuation import (
    Band,
    PriceUsed,
    Source,
    cure,
    eligible_value,
    ltv_bp,
    mark_rows,
    price_used,
)
from govchain.apps.warehouse.valuation import Mark as Marked
from govchain.apps.warehouse.valuation import Price as PriceIn
from govchain.crypto.keys import ADDRESS_BYTES
from govchain.state.params import Params

COMMODITY_CHARS_MAX = 64
DAY_MAX = 1_000_000  # day numbers (days since 1970) far beyond any price

CALLS_KEPT = 64  # a pledge's margin calls kept, newest last
PRICE_DAY_STEP_MAX = 7  # how far ahead of the commodity's newest price day a price may be
ACTIVE = "active"
ENFORCEABLE = "enforceable"
RELEASED = "released"
ENFORCED = "enforced"
AUDIT_ENFORCEMENT = "wr_enforcement"


# -- prices -------------------------------------------------------------------------------
def price_now(
    book: WarehouseBook, params: Params, commodity: str
) -> tuple[PriceUsed, int, tuple[tuple[str, str, int], ...]]:
    """The price used for a commodity now, its day, and the prices behind it (evidence).

    Today is the newest day either source posted; the lower fresh price is used,
    with the alarms' extra haircut. Transitions and the API's documents both use it.
    """
    found = [book.prices.get((commodity, s.value)) for s in Source]
    known = [p for p in found if p is not None]
    day = max((p.day for p in known), default=0)
    settlement, spot = (
        PriceIn(Source(p.source), p.commodity, p.fen_per_tonne, p.day) if p is not None else None
        for p in found
    )
    used = price_used(settlement, spot, day, valuation_params(params))
    return used, day, tuple((p.commodity, p.source, p.day) for p in known)


def current_price(
    env: Env, commodity: str
) -> tuple[PriceUsed, int, tuple[tuple[str, str, int], ...]]:
    """price_now for a running transition."""
    return price_now(env.book, env.params, commodity)


def ltv_today(
    book: WarehouseBook,
    params: Params,
    p: PledgeRec,
    quantity_g: int | None = None,
    outstanding: int | None = None,
) -> int | None:
    """The pledge's LTV (bp) at today's price, for its own figures or the ones given.

    None when the commodity has no price.
    """
    used, _day, _ev = price_now(book, params, p.commodity)
    if used.fen_per_tonne is None:
        return None
    haircut = min(BP_PER_ONE, p.haircut_bp + used.extra_haircut_bp)
    quantity = p.quantity_g if quantity_g is None else quantity_g
    loan = p.outstanding_fen if outstanding is None else outstanding
    return ltv_bp(loan, eligible_value(quantity, used.fen_per_tonne, haircut))


def ltv_now(env: Env, p: PledgeRec, quantity_g: int, outstanding: int) -> int:
    """The pledge's LTV at today's price for a quantity and a loan (refuses unpriced)."""
    ltv = ltv_today(env.book, env.params, p, quantity_g, outstanding)
    if ltv is None:
        raise refuse("price_missing")
    return ltv


# -- pledges -------------------------------------------------------------------------------
def _collateral(env: Env, numbers: tuple[str, ...], owner: bytes) -> list[Receipt]:
    """Valid, unencumbered, movable receipts of owner, goods matching in unsuspended bins."""
    if not 0 < len(numbers) <= RECEIPTS_PER_PLEDGE_MAX or len(set(numbers)) != len(numbers):
        raise refuse("bad_receipts")
    receipts = [env.receipt(n) for n in numbers]
    for r in receipts:
        if r.encumbrance:
            raise refuse("encumbered")  # at most one pledge per unit of goods
        if r.holder != owner or r.controller != owner:
            raise refuse("not_holder")
        env.movable(r)
        env.history_room(r, PLEDGE_HISTORY_RESERVE)
        env.not_ordered_out(r)
    if sum(r.quantity_g for r in receipts) > QUANTITY_G_MAX:
        raise refuse("bad_quantity")  # keeps every valuation figure within a msgpack int
    return receipts


def parties_pledge(env: Env, op: Pledge) -> tuple[bytes, ...]:
    """The holder pledges; the bank signs (and pays the loan out)."""
    for n in op.numbers[:RECEIPTS_PER_PLEDGE_MAX]:
        r = env.receipt(n)
        if r.holder != env.sender:
            raise refuse("not_holder")
    if len(op.bank) != ADDRESS_BYTES or op.bank == env.sender:
        raise refuse("bad_bank")
    return (op.bank,)


def pledge(env: Env, op: Pledge) -> None:
    """Receipts pledged for a loan: no encumbrance; control to the bank; LTV <= initial."""
    book = env.book
    receipts = _collateral(env, op.numbers, env.signers[0])
    commodities = {r.commodity for r in receipts}
    if len(commodities) != 1:
        raise refuse("mixed_commodities")
    env.need_role(op.bank, ROLE_BANK)
    if not 0 < op.loan_fen <= LOAN_FEN_MAX:
        raise refuse("bad_loan")
    if not 0 <= op.haircut_bp < BP_PER_ONE:
        raise refuse("bad_haircut")
    if len(book.pledges) >= PLEDGES_MAX:
        raise refuse("limit_reached")
    evidence = bins_green(env, bins_of(env, receipts))
    quantity = sum(r.quantity_g for r in receipts)
    commodity = commodities.pop()
    initial = env.params.required("wr_initial_ltv_bp")
    draft = PledgeRec(
        "", op.bank, env.signers[0], commodity, [], quantity, op.loan_fen, op.loan_fen,
        op.haircut_bp, initial, env.height,
    )  # fmt: skip
    if ltv_now(env, draft, quantity, op.loan_fen) > initial:
        raise refuse("ltv_over_initial")
    if env.executing:
        env.can_pay(op.bank, op.loan_fen)
    if not env.executing:
        return
    _used, _day, prices = current_price(env, commodity)
    draft.id = env.offer.hex()
    draft.receipts = [r.number for r in receipts]
    book.pledges[draft.id] = draft
    book.touch_pledge(draft)
    env.pay(op.bank, draft.borrower, op.loan_fen)
    for r in receipts:
        r.controller, r.encumbrance = op.bank, draft.id
        env.version(r, "pledge", readings=evidence, prices=prices, note=draft.id)


def _pledge(env: Env, pledge_id: str) -> PledgeRec:
    p = env.book.pledges.get(pledge_id)
    if p is None:
        raise refuse("unknown_pledge")
    if p.status not in (ACTIVE, ENFORCEABLE):
        raise refuse(f"pledge_{p.status}")
    return p


def parties_borrower(env: Env, op: AddCollateral | Repay) -> tuple[bytes, ...]:
    """The borrower acts alone."""
    if _pledge(env, op.pledge).borrower != env.sender:
        raise refuse("not_borrower")
    return ()


def parties_bank(env: Env, op: Release | Enforce | Adjust) -> tuple[bytes, ...]:
    """The bank opens; a buyer (enforce) or the supervisors (adjust) sign."""
    p = _pledge(env, op.pledge)
    if p.bank != env.sender:
        raise refuse("not_bank")
    env.need_role(env.sender, ROLE_BANK)  # a bank whose role was revoked acts no more
    if isinstance(op, Enforce):
        if len(op.buyer) != ADDRESS_BYTES or op.buyer in (p.bank, p.borrower):
            raise refuse("bad_buyer")
        return (op.buyer,)
    if isinstance(op, Adjust):
        numbers = [n for n in p.receipts + list(op.add) if n in env.book.receipts]
        warehouses = {env.book.receipts[n].warehouse for n in numbers}
        return tuple(sorted({env.book.warehouses[w].supervisor for w in warehouses}))
    return ()


def add_collateral(env: Env, op: AddCollateral) -> None:
    """More receipts under a pledge (a cure by collateral)."""
    p = _pledge(env, op.pledge)
    receipts = _collateral(env, op.numbers, p.borrower)
    if any(r.commodity != p.commodity for r in receipts):
        raise refuse("mixed_commodities")
    if len(p.receipts) + len(receipts) > RECEIPTS_PER_PLEDGE_MAX:
        raise refuse("bad_receipts")
    if p.quantity_g + sum(r.quantity_g for r in receipts) > QUANTITY_G_MAX:
        raise refuse("bad_quantity")
    evidence = bins_green(env, bins_of(env, receipts))
    if not env.executing:
        return
    for r in receipts:
        r.controller, r.encumbrance = p.bank, p.id
        env.version(r, "add-collateral", readings=evidence, note=p.id)
    p.receipts += [r.number for r in receipts]
    p.quantity_g += sum(r.quantity_g for r in receipts)
    _maybe_cured(env, p)
    env.book.touch_pledge(p)


def repay(env: Env, op: Repay) -> None:
    """The borrower pays the bank part or all of what is owed."""
    p = _pledge(env, op.pledge)
    if not 0 < op.amount_fen <= p.outstanding_fen:
        raise refuse("bad_amount")
    env.can_pay(p.borrower, op.amount_fen)
    if not env.executing:
        return
    env.pay(p.borrower, p.bank, op.amount_fen)
    p.outstanding_fen -= op.amount_fen
    _maybe_cured(env, p)
    env.book.touch_pledge(p)


def _maybe_cured(env: Env, p: PledgeRec) -> None:
    """A call (or enforceability) ends once LTV is back at or below the initial LTV."""
    if p.open_call is None and p.status != ENFORCEABLE:
        return
    ltv = ltv_today(env.book, env.params, p)
    if ltv is not None and ltv <= p.initial_ltv_bp:
        _cured(env, p)


def _cured(env: Env, p: PledgeRec) -> None:
    """End the open call, and lift an enforcement freeze: LTV is back at the initial LTV."""
    call = p.open_call
    if call is not None:
        call.cured_height = env.height
    if p.status == ENFORCEABLE:
        p.status = ACTIVE
        for n in p.receipts:
            r = env.book.receipts[n]
            r.enforcement = False
            env.version(r, "cure", note=p.id)
    env.book.touch_pledge(p)


def adjust(env: Env, op: Adjust) -> None:
    """Partial release or substitution: LTV after <= initial; goods match in every bin."""
    book = env.book
    p = _pledge(env, op.pledge)
    if p.status != ACTIVE:
        raise refuse(f"pledge_{p.status}")
    if (not op.add and not op.remove) or len(op.remove) > RECEIPTS_PER_PLEDGE_MAX:
        raise refuse("bad_receipts")
    if any(n not in p.receipts for n in op.remove) or len(set(op.remove)) != len(op.remove):
        raise refuse("not_in_pledge")
    added = _collateral(env, op.add, p.borrower) if op.add else []
    if any(r.commodity != p.commodity for r in added):
        raise refuse("mixed_commodities")
    removed = [env.receipt(n) for n in op.remove]
    for r in removed:
        env.movable(r)
    after = p.quantity_g + sum(r.quantity_g for r in added) - sum(r.quantity_g for r in removed)
    if len(p.receipts) + len(added) - len(removed) < 1:
        raise refuse("release_all_with_release")
    if len(p.receipts) + len(added) - len(removed) > RECEIPTS_PER_PLEDGE_MAX:
        raise refuse("bad_receipts")
    if after > QUANTITY_G_MAX:
        raise refuse("bad_quantity")
    evidence = bins_green(env, bins_of(env, added + removed))
    if ltv_now(env, p, after, p.outstanding_fen) > p.initial_ltv_bp:
        raise refuse("ltv_over_initial")
    if not env.executing:
        return
    gone = set(op.remove)
    p.receipts = [n for n in p.receipts if n not in gone] + [r.number for r in added]
    p.quantity_g = after
    for r in added:
        r.controller, r.encumbrance = p.bank, p.id
        env.version(r, "substitute-in", readings=evidence, note=p.id)
    for r in removed:
        r.controller, r.encumbrance = r.holder, ""
        env.version(r, "partial-release", readings=evidence, note=p.id)
    book.touch_pledge(p)


def release(env: Env, op: Release) -> None:
    """A repaid pledge ends: control returns to the holder."""
    p = _pledge(env, op.pledge)
    if p.outstanding_fen:
        raise refuse("loan_outstanding")
    receipts = [env.book.receipts[n] for n in p.receipts]
    for key in bins_of(env, receipts):
        if env.book.bins[key].alarms:
            raise refuse("bin_suspended")
    if not env.executing:
        return
    for r in receipts:
        r.controller, r.encumbrance, r.enforcement = r.holder, "", False
        env.version(r, "release", note=p.id)
    p.status = RELEASED
    env.book.touch_pledge(p)


def enforce(env: Env, op: Enforce) -> None:
    """An enforceable pledge's goods sold: proceeds to the bank first, the rest to the borrower."""
    p = _pledge(env, op.pledge)
    if p.status != ENFORCEABLE:
        raise refuse("not_enforceable")
    env.need_identified(op.buyer, "buyer")
    if not 0 < op.price_fen <= LOAN_FEN_MAX:
        raise refuse("bad_price")
    used, _day, _ev = current_price(env, p.commodity)
    if used.fen_per_tonne is None:
        raise refuse("price_missing")
    floor = value_fen_floor(p.quantity_g, used.fen_per_tonne) * env.params.required(
        "wr_sale_floor_bp"
    )
    if op.price_fen * BP_PER_ONE < floor:
        raise refuse("sale_below_floor")  # a sale to a friend for a fen takes the goods
    receipts = [env.book.receipts[n] for n in p.receipts]
    for r in receipts:
        if r.frozen_by:
            raise refuse("receipt_frozen")
    if env.executing:
        env.can_pay(op.buyer, op.price_fen)
    if not env.executing:
        return
    to_bank = min(op.price_fen, p.outstanding_fen)
    env.pay(op.buyer, p.bank, to_bank)
    env.pay(op.buyer, p.borrower, op.price_fen - to_bank)
    p.outstanding_fen -= to_bank
    p.proceeds = ((p.bank, to_bank), (p.borrower, op.price_fen - to_bank))
    p.status = ENFORCED
    for r in receipts:
        r.holder = r.controller = op.buyer
        r.encumbrance, r.enforcement = "", False
        env.version(r, "enforce", note=p.id)
    env.book.touch_pledge(p)
    # The regulator is notified through the audit log, which anyone checks offline.
    env.ctx.audit.append(
        env.height,
        AUDIT_ENFORCEMENT,
        p.bank,
        f"pledge:{p.id}",
        "",
        f"sold to {op.buyer.hex()} for {op.price_fen} fen; bank {to_bank}, "
        f"borrower {op.price_fen - to_bank}, still owed {p.outstanding_fen}",
    )


# -- oracle prices and the daily mark-to-market --------------------------------------------
def parties_oracle(env: Env, _op: PostPrice) -> tuple[bytes, ...]:
    """An oracle posts alone."""
    env.need_role(env.sender, ROLE_ORACLE)
    return ()


def post_price(env: Env, op: PostPrice) -> None:
    """A price for a day; the day's second price marks every pledge on the commodity."""
    book = env.book
    if op.source not in {s.value for s in Source}:
        raise refuse("bad_source")
    if not 0 < len(op.commodity) <= COMMODITY_CHARS_MAX or op.commodity != op.commodity.strip():
        raise refuse("bad_commodity")
    if not 0 < op.fen_per_tonne <= PRICE_FEN_PER_TONNE_MAX:
        raise refuse("bad_price")
    if not 0 <= op.day <= DAY_MAX:
        raise refuse("bad_day")
    old = book.prices.get((op.commodity, op.source))
    if old is not None and op.day <= old.day:
        raise refuse("price_not_newer")
    days = [p.day for p in (book.prices.get((op.commodity, s.value)) for s in Source) if p]
    if days and op.day > max(days) + PRICE_DAY_STEP_MAX:
        raise refuse("price_day_too_far")  # one far-future day would pin the price for good
    if not env.executing:
        return
    rec = PriceRec(op.commodity, op.source, op.fen_per_tonne, op.day, env.sender, env.height)
    book.prices[(op.commodity, op.source)] = rec
    book.touch_price(rec)
    both = [book.prices.get((op.commodity, s.value)) for s in Source]
    if (
        all(p is not None and p.day == op.day for p in both)
        and book.marked.get(op.commodity, -1) < op.day
    ):
        book.marked[op.commodity] = op.day
        mark_day(env, op.commodity, op.day)


def mark_day(env: Env, commodity: str, day: int) -> None:
    """Mark every live pledge on the commodity to market: calls, cures, enforceability."""
    book = env.book
    height = env.height
    live = [
        p
        for p in book.pledges.values()
        if p.commodity == commodity and p.status in (ACTIVE, ENFORCEABLE)
    ]
    prices = [
        PriceIn(Source(p.source), p.commodity, p.fen_per_tonne, p.day)
        for p in (book.prices.get((commodity, s.value)) for s in Source)
        if p is not None
    ]
    rows = ((p.id, commodity, p.quantity_g, p.outstanding_fen, p.haircut_bp) for p in live)
    marked = mark_rows(rows, prices, day, valuation_params(env.params))
    new: list[tuple[str, Mark]] = []
    add = new.append
    quiet = (Band.OK, Band.WARNING)
    for p, m in zip(live, marked, strict=True):
        band = m.band
        add((p.id, Mark(day, height, m.fen_per_tonne, m.eligible_fen, m.ltv_bp, band, m.alarms)))
        if band is None or (band in quiet and not p.calls and p.status == ACTIVE):
            continue  # the common day: nothing but the mark
        _after_mark(env, p, m, day)
    book.add_marks(new)


def _after_mark(env: Env, p: PledgeRec, m: Marked, day: int) -> None:
    """Open, cure or enforce a pledge's margin call after its mark of the day."""
    book = env.book
    assert m.ltv_bp is not None and m.band is not None and m.eligible_fen is not None
    if m.ltv_bp <= p.initial_ltv_bp:
        if p.open_call is not None or p.status == ENFORCEABLE:
            _cured(env, p)  # the price came back
        return
    call = p.open_call
    if call is None and m.band in (Band.CALL, Band.LIQUIDATION):
        # The cure returns to the pledge's own initial LTV (a later set-param does
        # not move it); a quantity beyond any warehouse's is recorded as none.
        assert m.fen_per_tonne is not None
        fix = cure(p.outstanding_fen, p.quantity_g, m.fen_per_tonne, m.haircut_bp, p.initial_ltv_bp)
        more = fix.more_quantity_g
        if more is not None and more > QUANTITY_G_MAX:
            more = None
        cure_days = env.params.required("wr_cure_days")
        p.calls.append(Call(day, env.height, day + cure_days, fix.repay_fen, more))
        del p.calls[:-CALLS_KEPT]
        book.touch_pledge(p)
    call = p.open_call
    overdue = call is not None and day > call.deadline_day
    if p.status == ACTIVE and (m.band is Band.LIQUIDATION or overdue):
        p.status = ENFORCEABLE
        for n in p.receipts:
            r = book.receipts[n]
            r.enforcement = True
            env.version(r, "enforcement-freeze", note=p.id)
        book.touch_pledge(p)

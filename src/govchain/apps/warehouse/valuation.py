"""Daily mark-to-market of pledged goods: price used, eligible value, LTV, bands, cure.

Pure integer arithmetic (units.py): every validator gets the same figures. Rounding
always favours the lender's safety: eligible value is rounded down (collateral is
never overstated), LTV up (risk is never understated), and a cure is rounded so
that it certainly cures, and is the least that does.

Prices: two sources, the exchange settlement price and the spot index. Their age
is counted in days (`day`: the day number the caller derives from the checkpoint's
timestamp, never from a clock of its own), not in heights: prices are posted once
a trading day, while the time a height takes varies with load. A price is stale
when `now_day - day > stale_after_days` (default 3, so Friday's price is still
fresh on Monday) or when it is dated after `now_day` (an oracle's error).

The price used is the lower of the fresh prices; stale prices are used only when
no fresh one exists. Two prices diverge when they differ by more than
`divergence_bp_max` of the LOWER one: |a - b| x 10,000 > 300 x min(a, b). The
lower is the price actually used, so the rule reads "the other source is more
than 3% above the price we use"; it fires a little earlier than a base of the
higher price would. Divergence, a stale or a missing price each raise an alarm
and one extra haircut (not one per alarm). With no price at all nothing is
valued: an oracle outage must not put every pledge into liquidation.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Final

import msgspec

from govchain.apps.warehouse.units import (
    BP_PER_ONE,
    G_PER_TONNE,
    LOAN_FEN_MAX,
    PRICE_FEN_PER_TONNE_MAX,
    QUANTITY_G_MAX,
)

# A loan with nothing eligible behind it has no finite LTV; it is reported as this
# (10,000%), and any larger LTV is clipped to it: beyond, the figure says no more.
LTV_BP_MAX: Final = 1_000_000
_VALUE_DIVISOR: Final = G_PER_TONNE * BP_PER_ONE  # grams x fen/t x bp -> fen

ALARM_DIVERGENCE: Final = "price_divergence"
ALARM_MISSING: Final = "price_missing"
ALARM_STALE: Final = "price_stale"


class ValuationError(ValueError):
    """A valuation input is out of range or inconsistent (the caller's input, named)."""


class Source(enum.StrEnum):
    """Where a price comes from."""

    SETTLEMENT = "settlement"  # the exchange's daily settlement price
    SPOT = "spot"  # the spot index


class Band(enum.StrEnum):
    """Where an LTV stands against the bands."""

    OK = "ok"
    WARNING = "warning"
    CALL = "call"
    LIQUIDATION = "liquidation"


class Price(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """A price posted by an oracle for one commodity on one day."""

    source: Source
    commodity: str
    fen_per_tonne: int
    day: int  # day number of the price (e.g. days since 1970-01-01 in China time)

    def __post_init__(self) -> None:
        if not 0 < self.fen_per_tonne <= PRICE_FEN_PER_TONNE_MAX:
            raise ValuationError(f"price {self.fen_per_tonne} fen/t out of range")
        if self.day < 0:
            raise ValuationError(f"price day {self.day} is negative")


class Bands(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """LTV bands in bp (governance parameters); each is reached at LTV >= the band."""

    warning_bp: int = 7_500
    call_bp: int = 8_000
    liquidation_bp: int = 8_500

    def __post_init__(self) -> None:
        if not 0 < self.warning_bp < self.call_bp < self.liquidation_bp <= LTV_BP_MAX:
            raise ValuationError("bands must satisfy 0 < warning < call < liquidation")


class ValuationParams(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """The parameters of a mark-to-market; their relations are checked here, once."""

    bands: Bands = Bands()
    initial_ltv_bp: int = 7_000  # the most a pledge may start at; a cure returns to it
    stale_after_days: int = 3
    divergence_bp_max: int = 300
    extra_haircut_bp: int = 500  # added to a pledge's haircut while a price alarm is up

    def __post_init__(self) -> None:
        if not 0 < self.initial_ltv_bp < self.bands.call_bp:
            raise ValuationError("initial LTV must be above 0 and below the call band")
        if self.stale_after_days < 0:
            raise ValuationError("stale_after_days must be >= 0")
        if not 0 <= self.divergence_bp_max <= BP_PER_ONE:
            raise ValuationError("divergence_bp_max must be within 0..10,000")
        if not 0 <= self.extra_haircut_bp <= BP_PER_ONE:
            raise ValuationError("extra_haircut_bp must be within 0..10,000")


class PriceUsed(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """The price a valuation uses, the extra haircut it carries and the alarms it raised."""

    fen_per_tonne: int | None  # None: no price at all, nothing can be valued
    extra_haircut_bp: int
    alarms: tuple[str, ...]  # sorted names


class Cure(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """Either of two least actions that bring LTV back to the target."""

    repay_fen: int  # repay this much of the loan, or
    more_quantity_g: int | None  # pledge this much more of the same goods (None: none can)


class Pledge(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """A pledged receipt as the mark-to-market sees it."""

    receipt: str
    commodity: str
    quantity_g: int
    loan_fen: int  # outstanding
    haircut_bp: int  # the pledge's own haircut, before any price alarm's extra

    def __post_init__(self) -> None:
        if not 0 <= self.quantity_g <= QUANTITY_G_MAX:
            raise ValuationError(f"{self.receipt}: quantity {self.quantity_g} g out of range")
        if not 0 <= self.loan_fen <= LOAN_FEN_MAX:
            raise ValuationError(f"{self.receipt}: loan {self.loan_fen} fen out of range")
        if not 0 <= self.haircut_bp <= BP_PER_ONE:
            raise ValuationError(f"{self.receipt}: haircut {self.haircut_bp} bp out of range")


class Mark(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """One pledge's valuation of the day (the figures are None when no price exists)."""

    receipt: str
    fen_per_tonne: int | None
    haircut_bp: int  # the pledge's haircut plus the extra, at most 100%
    eligible_fen: int | None
    ltv_bp: int | None
    band: Band | None
    cure: Cure | None  # at or above the call band only
    alarms: tuple[str, ...]


# -- prices ----------------------------------------------------------------------------
def is_fresh(price: Price, now_day: int, params: ValuationParams) -> bool:
    """True when the price is dated no later than now_day and at most stale_after_days old."""
    return 0 <= now_day - price.day <= params.stale_after_days


def price_used(
    settlement: Price | None, spot: Price | None, now_day: int, params: ValuationParams
) -> PriceUsed:
    """The lower of the fresh prices (else of the stale ones), its extra haircut and alarms."""
    if settlement is not None and settlement.source is not Source.SETTLEMENT:
        raise ValuationError("the settlement argument is not a settlement price")
    if spot is not None and spot.source is not Source.SPOT:
        raise ValuationError("the spot argument is not a spot price")
    if settlement is not None and spot is not None and settlement.commodity != spot.commodity:
        raise ValuationError("settlement and spot prices of different commodities")
    present = [p.fen_per_tonne for p in (settlement, spot) if p is not None]
    fresh = [
        p.fen_per_tonne
        for p in (settlement, spot)
        if p is not None and is_fresh(p, now_day, params)
    ]
    alarms: set[str] = set()
    if len(present) < 2:
        alarms.add(ALARM_MISSING)
    if len(fresh) < len(present):
        alarms.add(ALARM_STALE)
    usable = fresh or present
    if not usable:
        return PriceUsed(None, params.extra_haircut_bp, tuple(sorted(alarms)))
    low, high = min(usable), max(usable)
    if (high - low) * BP_PER_ONE > params.divergence_bp_max * low:
        alarms.add(ALARM_DIVERGENCE)
    extra = params.extra_haircut_bp if alarms else 0
    return PriceUsed(low, extra, tuple(sorted(alarms)))


def latest_prices(prices: Iterable[Price]) -> dict[tuple[str, Source], Price]:
    """The newest price per (commodity, source); of two on one day, the lower (the safer)."""
    latest: dict[tuple[str, Source], Price] = {}
    for p in prices:
        key = (p.commodity, p.source)
        old = latest.get(key)
        if old is None or (p.day, -p.fen_per_tonne) > (old.day, -old.fen_per_tonne):
            latest[key] = p
    return latest


# -- value, LTV, bands -----------------------------------------------------------------
def total_haircut_bp(haircut_bp: int, extra_bp: int) -> int:
    """A pledge's haircut plus an extra one, at most 100%."""
    return min(BP_PER_ONE, haircut_bp + extra_bp)


def eligible_value(quantity_g: int, fen_per_tonne: int, haircut_bp: int) -> int:
    """Quantity x price x (1 - haircut) in fen, rounded down (never overstated)."""
    if quantity_g < 0 or fen_per_tonne < 0:
        raise ValuationError("quantity and price must be >= 0")
    if not 0 <= haircut_bp <= BP_PER_ONE:
        raise ValuationError(f"haircut {haircut_bp} bp out of 0..10,000")
    return quantity_g * fen_per_tonne * (BP_PER_ONE - haircut_bp) // _VALUE_DIVISOR


def ltv_bp(loan_fen: int, eligible_fen: int) -> int:
    """Loan / eligible value in bp, rounded up (never understated), at most LTV_BP_MAX."""
    if loan_fen < 0 or eligible_fen < 0:
        raise ValuationError("loan and eligible value must be >= 0")
    if loan_fen == 0:
        return 0
    if eligible_fen == 0:
        return LTV_BP_MAX
    return min(LTV_BP_MAX, -(-loan_fen * BP_PER_ONE // eligible_fen))


def band_of(ltv: int, bands: Bands) -> Band:
    """The highest band the LTV has reached (a band is reached at LTV >= its figure)."""
    if ltv >= bands.liquidation_bp:
        return Band.LIQUIDATION
    if ltv >= bands.call_bp:
        return Band.CALL
    if ltv >= bands.warning_bp:
        return Band.WARNING
    return Band.OK


# -- cure ------------------------------------------------------------------------------
def cure(
    loan_fen: int, quantity_g: int, fen_per_tonne: int, haircut_bp: int, target_ltv_bp: int
) -> Cure:
    """The least repayment, or the least extra quantity, that brings LTV to <= the target.

    LTV (rounded up) <= t exactly when loan x 10,000 <= t x eligible, so the least
    repayment leaves floor(t x eligible / 10,000) owing, and the least quantity is the
    least whose eligible value (rounded down) reaches ceil(loan x 10,000 / t).
    """
    if not 0 < target_ltv_bp <= LTV_BP_MAX:
        raise ValuationError(f"target LTV {target_ltv_bp} bp out of range")
    eligible = eligible_value(quantity_g, fen_per_tonne, haircut_bp)
    if ltv_bp(loan_fen, eligible) <= target_ltv_bp:
        return Cure(0, 0)
    return _cure_over_target(
        loan_fen, quantity_g, eligible, fen_per_tonne * (BP_PER_ONE - haircut_bp), target_ltv_bp
    )


def _cure_over_target(
    loan_fen: int, quantity_g: int, eligible_fen: int, per_gram: int, target_ltv_bp: int
) -> Cure:
    """cure() once LTV is known to be above the target (per_gram: price x (10,000 - haircut))."""
    repay = loan_fen - target_ltv_bp * eligible_fen // BP_PER_ONE
    if per_gram == 0:
        return Cure(repay, None)
    eligible_needed = -(-loan_fen * BP_PER_ONE // target_ltv_bp)
    quantity_needed = -(-eligible_needed * _VALUE_DIVISOR // per_gram)
    return Cure(repay, max(0, quantity_needed - quantity_g))


# -- the daily batch -------------------------------------------------------------------
# (receipt, commodity, quantity_g, loan_fen, haircut_bp): a pledge as mark_rows reads it
Row = tuple[str, str, int, int, int]


def mark_to_market(
    pledges: Iterable[Pledge], prices: Iterable[Price], now_day: int, params: ValuationParams
) -> list[Mark]:
    """Every pledge valued at its commodity's price used today, in the order given."""
    rows = ((p.receipt, p.commodity, p.quantity_g, p.loan_fen, p.haircut_bp) for p in pledges)
    return mark_rows(rows, prices, now_day, params)


def mark_rows(
    rows: Iterable[Row], prices: Iterable[Price], now_day: int, params: ValuationParams
) -> list[Mark]:
    """mark_to_market over plain rows whose figures the caller has already checked.

    The chain's daily pass reads its pledge records this way: building 10,000
    checked Pledge structs a day would cost more than the valuation itself.
    """
    latest = latest_prices(prices)
    used: dict[str, PriceUsed] = {}
    bands = params.bands
    warning, call, liquidation = bands.warning_bp, bands.call_bp, bands.liquidation_bp
    target = params.initial_ltv_bp
    marks: list[Mark] = []
    append = marks.append
    for receipt, commodity, quantity, loan, own_haircut in rows:
        pu = used.get(commodity)
        if pu is None:
            pu = used[commodity] = price_used(
                latest.get((commodity, Source.SETTLEMENT)),
                latest.get((commodity, Source.SPOT)),
                now_day,
                params,
            )
        haircut = min(BP_PER_ONE, own_haircut + pu.extra_haircut_bp)
        price = pu.fen_per_tonne
        if price is None:
            append(Mark(receipt, None, haircut, None, None, None, None, pu.alarms))
            continue
        # Inlined eligible_value, ltv_bp and band_of: this loop runs 10,000 times a day.
        per_gram = price * (BP_PER_ONE - haircut)
        eligible = quantity * per_gram // _VALUE_DIVISOR
        if loan == 0:
            ltv = 0
        elif eligible == 0:
            ltv = LTV_BP_MAX
        else:
            ltv = min(LTV_BP_MAX, -(-loan * BP_PER_ONE // eligible))
        fix = None
        if ltv < warning:
            band = Band.OK
        elif ltv < call:
            band = Band.WARNING
        else:
            band = Band.CALL if ltv < liquidation else Band.LIQUIDATION
            # call <= LTV and target < call (ValuationParams), so LTV is above the target
            fix = _cure_over_target(loan, quantity, eligible, per_gram, target)
        append(Mark(receipt, price, haircut, eligible, ltv, band, fix, pu.alarms))
    return marks

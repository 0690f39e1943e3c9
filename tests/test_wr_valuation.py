"""Warehouse valuation: the issue's copper example, price rules, rounding, cures, the batch."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.apps.warehouse import valuation
from govchain.apps.warehouse.units import (
    BP_PER_ONE,
    G_PER_TONNE,
    LOAN_FEN_MAX,
    PRICE_FEN_PER_TONNE_MAX,
    QUANTITY_G_MAX,
    kg_to_g,
    percent_to_bp,
    tonnes_to_g,
    value_fen_floor,
    yuan_to_fen,
)
from govchain.apps.warehouse.valuation import (
    ALARM_DIVERGENCE,
    ALARM_MISSING,
    ALARM_STALE,
    LTV_BP_MAX,
    Band,
    Bands,
    Cure,
    Mark,
    Pledge,
    Price,
    PriceUsed,
    Source,
    ValuationError,
    ValuationParams,
    band_of,
    cure,
    eligible_value,
    latest_prices,
    ltv_bp,
    mark_to_market,
    price_used,
)
from test_house_rules import PACKAGE, forbidden_in

VECTOR = Path(__file__).resolve().parent / "vectors" / "warehouse_copper.json"
PARAMS = ValuationParams()
DAY = 20_000
COPPER = "copper"


# -- helpers ---------------------------------------------------------------
def settle(fen: int, day: int = DAY, commodity: str = COPPER) -> Price:
    return Price(Source.SETTLEMENT, commodity, fen, day)


def spot(fen: int, day: int = DAY, commodity: str = COPPER) -> Price:
    return Price(Source.SPOT, commodity, fen, day)


def load_vector() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(VECTOR.read_text())
    return data


def params_of(vector: dict[str, Any]) -> ValuationParams:
    fields = dict(vector["params"])
    return ValuationParams(**{**fields, "bands": Bands(**fields["bands"])})


quantities = st.integers(0, QUANTITY_G_MAX)
prices = st.integers(1, PRICE_FEN_PER_TONNE_MAX)
haircuts = st.integers(0, BP_PER_ONE)
loans = st.integers(0, LOAN_FEN_MAX)
targets = st.integers(1, 7_999)


# -- the worked example --------------------------------------------
def test_copper_example_in_yuan() -> None:
    quantity = tonnes_to_g(1_000)
    haircut = percent_to_bp(5)
    eligible = eligible_value(quantity, yuan_to_fen(80_000), haircut)
    assert eligible == yuan_to_fen(76_000_000)
    loan = eligible * percent_to_bp(70) // BP_PER_ONE
    assert loan == yuan_to_fen(53_200_000)
    after_fall = eligible_value(quantity, yuan_to_fen(70_000), haircut)
    assert ltv_bp(loan, after_fall) == percent_to_bp(80)
    assert band_of(ltv_bp(loan, after_fall), PARAMS.bands) is Band.CALL
    fix = cure(loan, quantity, yuan_to_fen(70_000), haircut, PARAMS.initial_ltv_bp)
    assert fix.repay_fen == yuan_to_fen(6_650_000)
    assert fix.more_quantity_g is not None
    # "about 142.9 t": 142,857,143 g, to the nearest tenth of a tonne
    assert (fix.more_quantity_g + G_PER_TONNE // 20) // (G_PER_TONNE // 10) == 1_429


def test_copper_vector_day_by_day() -> None:
    vector = load_vector()
    params = params_of(vector)
    pledge = Pledge(**vector["pledge"])
    for day in vector["days"]:
        posted = [
            Price(Source(p["source"]), COPPER, p["fen_per_tonne"], day["day"])
            for p in day["prices"]
        ]
        (mark,) = mark_to_market([pledge], posted, day["day"], params)
        expect = day["expect"]
        assert mark.fen_per_tonne == expect["fen_per_tonne"]
        assert mark.eligible_fen == expect["eligible_fen"]
        assert mark.ltv_bp == expect["ltv_bp"]
        assert mark.band == expect["band"]
        assert list(mark.alarms) == expect["alarms"]
        want = None if expect["cure"] is None else Cure(**expect["cure"])
        assert mark.cure == want


def test_copper_vector_cures_cure_and_are_least() -> None:
    vector = load_vector()
    params = params_of(vector)
    pledge = vector["pledge"]
    after = vector["after_cure"]
    price = vector["days"][1]["prices"][0]["fen_per_tonne"]
    eligible = eligible_value(pledge["quantity_g"], price, pledge["haircut_bp"])

    repaid = after["repaid"]
    assert ltv_bp(repaid["loan_fen"], eligible) == repaid["ltv_bp"] <= params.initial_ltv_bp
    assert band_of(repaid["ltv_bp"], params.bands) == repaid["band"]
    less = after["one_fen_less_repaid"]
    assert ltv_bp(less["loan_fen"], eligible) == less["ltv_bp"] > params.initial_ltv_bp

    more = after["more_goods"]
    more_eligible = eligible_value(more["quantity_g"], price, pledge["haircut_bp"])
    assert more_eligible == more["eligible_fen"]
    assert ltv_bp(pledge["loan_fen"], more_eligible) == more["ltv_bp"] <= params.initial_ltv_bp
    assert band_of(more["ltv_bp"], params.bands) == more["band"]
    gram_less = after["one_gram_less_pledged"]
    less_eligible = eligible_value(gram_less["quantity_g"], price, pledge["haircut_bp"])
    assert less_eligible == gram_less["eligible_fen"]
    assert ltv_bp(pledge["loan_fen"], less_eligible) == gram_less["ltv_bp"] > params.initial_ltv_bp


# -- units -----------------------------------------------------------------
def test_unit_conversions_are_exact() -> None:
    assert kg_to_g(1_000_000) == tonnes_to_g(1_000) == 10**9
    assert yuan_to_fen(80_000) == 8_000_000
    assert value_fen_floor(tonnes_to_g(1_000), yuan_to_fen(80_000)) == yuan_to_fen(80_000_000)
    assert value_fen_floor(1, 999_999) == 0  # a fraction of a fen is not counted


# -- the price used --------------------------------------------------------
def test_price_used_is_the_lower_of_two_fresh_prices() -> None:
    assert price_used(settle(8_000_000), spot(7_900_000), DAY, PARAMS) == PriceUsed(
        7_900_000, 0, ()
    )
    assert price_used(settle(7_900_000), spot(8_000_000), DAY, PARAMS).fen_per_tonne == 7_900_000


@pytest.mark.parametrize(
    ("low", "high", "diverges"),
    [
        (1_000_000, 1_030_000, False),  # exactly 3% of the lower: not more than 3%
        (1_000_000, 1_030_001, True),
        # 3.05% above the lower but under 3% of the higher (2.96%): the lower is the base
        (1_000_000, 1_030_500, True),
    ],
)
def test_divergence_is_measured_against_the_lower_price(
    low: int, high: int, diverges: bool
) -> None:
    used = price_used(settle(high), spot(low), DAY, PARAMS)
    assert used.fen_per_tonne == low
    assert used.alarms == ((ALARM_DIVERGENCE,) if diverges else ())
    assert used.extra_haircut_bp == (PARAMS.extra_haircut_bp if diverges else 0)


def test_a_price_is_stale_after_the_limit_and_when_dated_ahead() -> None:
    limit = PARAMS.stale_after_days
    on_the_limit = price_used(settle(8_000_000, DAY - limit), spot(8_000_000), DAY, PARAMS)
    assert on_the_limit.alarms == ()
    past = price_used(settle(7_000_000, DAY - limit - 1), spot(8_000_000), DAY, PARAMS)
    # a stale price is ignored while a fresh one exists, and costs the extra haircut
    assert past == PriceUsed(8_000_000, PARAMS.extra_haircut_bp, (ALARM_STALE,))
    ahead = price_used(settle(7_000_000, DAY + 1), spot(8_000_000), DAY, PARAMS)
    assert ahead == PriceUsed(8_000_000, PARAMS.extra_haircut_bp, (ALARM_STALE,))


def test_with_only_stale_prices_the_lower_stale_one_is_used() -> None:
    old = DAY - PARAMS.stale_after_days - 10
    used = price_used(settle(8_000_000, old), spot(7_000_000, old), DAY, PARAMS)
    assert used.fen_per_tonne == 7_000_000
    assert used.alarms == (ALARM_DIVERGENCE, ALARM_STALE)
    assert used.extra_haircut_bp == PARAMS.extra_haircut_bp  # once, not per alarm


def test_missing_prices() -> None:
    one = price_used(None, spot(8_000_000), DAY, PARAMS)
    assert one == PriceUsed(8_000_000, PARAMS.extra_haircut_bp, (ALARM_MISSING,))
    both = price_used(settle(8_000_000, 0), None, DAY, PARAMS)
    assert both.alarms == (ALARM_MISSING, ALARM_STALE)
    none = price_used(None, None, DAY, PARAMS)
    assert none.fen_per_tonne is None
    assert none.alarms == (ALARM_MISSING,)


def test_price_used_refuses_mixed_up_arguments() -> None:
    with pytest.raises(ValuationError, match="settlement"):
        price_used(spot(1), None, DAY, PARAMS)
    with pytest.raises(ValuationError, match="spot"):
        price_used(None, settle(1), DAY, PARAMS)
    with pytest.raises(ValuationError, match="commodities"):
        price_used(settle(1), spot(1, commodity="nickel"), DAY, PARAMS)


def test_the_newest_price_counts_and_of_two_on_one_day_the_lower() -> None:
    latest = latest_prices([settle(9, DAY - 1), settle(7), settle(8), settle(6, DAY - 2)])
    assert latest == {(COPPER, Source.SETTLEMENT): settle(7)}


@pytest.mark.parametrize("fen", [0, -1, PRICE_FEN_PER_TONNE_MAX + 1])
def test_a_price_out_of_range_is_refused(fen: int) -> None:
    with pytest.raises(ValuationError, match="out of range"):
        settle(fen)


# -- LTV and bands ---------------------------------------------------------
def test_ltv_edges() -> None:
    assert ltv_bp(0, 0) == 0  # no loan, no risk
    assert ltv_bp(1, 0) == LTV_BP_MAX
    assert ltv_bp(10**12, 1) == LTV_BP_MAX
    assert ltv_bp(2, 3) == 6_667  # 66.66...% rounded up
    with pytest.raises(ValuationError):
        ltv_bp(-1, 5)


@pytest.mark.parametrize(
    ("ltv", "band"),
    [
        (0, "ok"),
        (7_499, "ok"),
        (7_500, "warning"),
        (7_999, "warning"),
        (8_000, "call"),
        (8_499, "call"),
        (8_500, "liquidation"),
        (LTV_BP_MAX, "liquidation"),
    ],
)
def test_bands_are_reached_at_their_figure(ltv: int, band: str) -> None:
    assert band_of(ltv, Bands()) == band


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValuationError, match="bands"):
        Bands(warning_bp=8_000, call_bp=8_000)
    with pytest.raises(ValuationError, match="initial LTV"):
        ValuationParams(initial_ltv_bp=8_000)
    with pytest.raises(ValuationError, match="haircut"):
        Pledge("R", COPPER, 1, 1, BP_PER_ONE + 1)
    with pytest.raises(ValuationError, match="quantity"):
        Pledge("R", COPPER, QUANTITY_G_MAX + 1, 1, 0)
    with pytest.raises(ValuationError, match="haircut"):
        eligible_value(1, 1, -1)


# -- the daily batch -------------------------------------------------------
def test_mark_to_market_values_each_commodity_at_its_own_price() -> None:
    pledges = [
        Pledge("A", COPPER, tonnes_to_g(1_000), yuan_to_fen(53_200_000), 500),
        Pledge("B", "nickel", tonnes_to_g(10), yuan_to_fen(1), 500),
        Pledge("C", COPPER, tonnes_to_g(1_000), 0, 500),
    ]
    posted = [settle(7_000_000), spot(7_100_000), spot(1, commodity="nickel")]
    marks = mark_to_market(pledges, posted, DAY, PARAMS)
    assert [m.receipt for m in marks] == ["A", "B", "C"]
    assert marks[0].band is Band.CALL and marks[0].cure == Cure(665_000_000, 142_857_143)
    assert marks[1].alarms == (ALARM_MISSING,)
    assert marks[1].haircut_bp == 500 + PARAMS.extra_haircut_bp
    assert marks[2] == Mark("C", 7_000_000, 500, 6_650_000_000, 0, Band.OK, None, ())


def test_a_commodity_without_any_price_is_not_valued() -> None:
    (mark,) = mark_to_market(
        [Pledge("A", COPPER, 1, 1, 0)], [spot(5, commodity="tin")], DAY, PARAMS
    )
    assert (mark.eligible_fen, mark.ltv_bp, mark.band, mark.cure) == (None, None, None, None)
    assert mark.alarms == (ALARM_MISSING,)


# -- properties ------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(quantities, prices, haircuts)
def test_eligible_value_never_exceeds_quantity_times_price(q: int, p: int, h: int) -> None:
    eligible = eligible_value(q, p, h)
    assert type(eligible) is int
    assert 0 <= eligible <= value_fen_floor(q, p)
    assert eligible * G_PER_TONNE * BP_PER_ONE <= q * p * (BP_PER_ONE - h)


@settings(max_examples=300, deadline=None)
@given(quantities, prices, prices, haircuts, loans)
def test_ltv_never_rises_when_the_price_rises(q: int, p1: int, p2: int, h: int, loan: int) -> None:
    low, high = sorted((p1, p2))
    assert ltv_bp(loan, eligible_value(q, high, h)) <= ltv_bp(loan, eligible_value(q, low, h))


@settings(max_examples=300, deadline=None)
@given(prices, prices)
def test_the_price_used_is_never_above_either(a: int, b: int) -> None:
    used = price_used(settle(a), spot(b), DAY, PARAMS).fen_per_tonne
    assert used is not None and used <= a and used <= b


@settings(max_examples=500, deadline=None)
@given(st.integers(1, QUANTITY_G_MAX), prices, st.integers(0, 9_000), loans, targets)
def test_a_cure_cures_and_is_least(q: int, p: int, h: int, loan: int, target: int) -> None:
    eligible = eligible_value(q, p, h)
    fix = cure(loan, q, p, h, target)
    assert type(fix.repay_fen) is int and type(fix.more_quantity_g) is int
    assert ltv_bp(loan - fix.repay_fen, eligible) <= target
    assert band_of(ltv_bp(loan - fix.repay_fen, eligible), Bands()) in (Band.OK, Band.WARNING)
    if fix.repay_fen > 0:
        assert ltv_bp(loan - fix.repay_fen + 1, eligible) > target
    assert fix.more_quantity_g is not None
    assert ltv_bp(loan, eligible_value(q + fix.more_quantity_g, p, h)) <= target
    if fix.more_quantity_g > 0:
        assert ltv_bp(loan, eligible_value(q + fix.more_quantity_g - 1, p, h)) > target


def test_with_a_full_haircut_no_goods_can_cure() -> None:
    assert cure(100, 10, 10, BP_PER_ONE, 7_000) == Cure(100, None)


pledge_lists = st.lists(
    st.builds(
        Pledge,
        st.sampled_from(["R1", "R2"]),
        st.sampled_from([COPPER, "zinc", "lead"]),
        quantities,
        loans,
        haircuts,
    ),
    max_size=20,
)
price_lists = st.lists(
    st.builds(
        Price,
        st.sampled_from(list(Source)),
        st.sampled_from([COPPER, "zinc"]),
        prices,
        st.integers(DAY - 6, DAY + 1),
    ),
    max_size=8,
)


@settings(max_examples=200, deadline=None)
@given(pledge_lists, price_lists)
def test_the_batch_agrees_with_the_functions_one_by_one(
    pledges: list[Pledge], posted: list[Price]
) -> None:
    latest = latest_prices(posted)
    for pledge, mark in zip(pledges, mark_to_market(pledges, posted, DAY, PARAMS), strict=True):
        used = price_used(
            latest.get((pledge.commodity, Source.SETTLEMENT)),
            latest.get((pledge.commodity, Source.SPOT)),
            DAY,
            PARAMS,
        )
        assert mark.alarms == used.alarms and mark.fen_per_tonne == used.fen_per_tonne
        if used.fen_per_tonne is None:
            assert mark.band is None
            continue
        haircut = min(BP_PER_ONE, pledge.haircut_bp + used.extra_haircut_bp)
        eligible = eligible_value(pledge.quantity_g, used.fen_per_tonne, haircut)
        ltv = ltv_bp(pledge.loan_fen, eligible)
        assert (mark.haircut_bp, mark.eligible_fen, mark.ltv_bp) == (haircut, eligible, ltv)
        assert mark.band == band_of(ltv, PARAMS.bands)
        in_call = ltv >= PARAMS.bands.call_bp
        expected_cure = (
            cure(pledge.loan_fen, pledge.quantity_g, used.fen_per_tonne, haircut, 7_000)
            if in_call
            else None
        )
        assert mark.cure == expected_cure
        for figure in (mark.eligible_fen, mark.ltv_bp, mark.haircut_bp):
            assert type(figure) is int


# -- purity ----------------------------------------------------------------
WAREHOUSE = PACKAGE / "apps" / "warehouse"
# Off the chain, never run by execution: the API's documents (an LTV as a float, as
# the contract shows it) and the device simulator's noise models.
OFF_CHAIN = {"views.py", "iot.py"}
CORES = sorted(p for p in WAREHOUSE.glob("*.py") if p.name not in OFF_CHAIN)


def test_execution_never_imports_the_off_chain_modules() -> None:
    for path in CORES:
        for name in OFF_CHAIN:
            assert f"warehouse.{name[:-3]} " not in path.read_text(), (path.name, name)
            assert f"import {name[:-3]}\n" not in path.read_text(), (path.name, name)


@pytest.mark.parametrize("path", CORES, ids=lambda p: p.name)
def test_warehouse_cores_are_pure_and_use_no_floats(path: Path) -> None:
    source = path.read_text()
    assert forbidden_in(source) == set()
    for node in ast.walk(ast.parse(source)):
        where = f"{path.name}:{getattr(node, 'lineno', '?')}"
        assert not (isinstance(node, ast.Constant) and isinstance(node.value, float)), where
        divides = isinstance(node, ast.BinOp | ast.AugAssign) and isinstance(node.op, ast.Div)
        assert not divides, f"true division at {where}"
        assert not (isinstance(node, ast.Name) and node.id == "float"), where


def test_the_module_names_its_alarms() -> None:
    assert {ALARM_DIVERGENCE, ALARM_MISSING, ALARM_STALE} == {
        "price_divergence",
        "price_missing",
        "price_stale",
    }
    assert valuation.LTV_BP_MAX == LTV_BP_MAX

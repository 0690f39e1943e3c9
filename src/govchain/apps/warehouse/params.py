"""The warehouse's governance parameters (set-param), and the valuation they make.

The bands must keep warning < call < liquidation and the initial LTV below the
call band whatever governance sets: `relations_error` is registered as a cross
check, so a set-param that would break them is a bad argument, and one that
would break them at enactment changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from govchain.apps.warehouse.valuation import Bands, ValuationError, ValuationParams
from govchain.state.params import Params, ParamSpec

BP_MAX = 10_000
HEIGHTS_MAX = 1_000_000

PARAMS = (
    ParamSpec("wr_offer_ttl_heights", 600, 10, HEIGHTS_MAX, "heights a warehouse offer stays open"),
    ParamSpec("wr_tolerance_bp", 50, 0, 1_000, "goods-match tolerance, bp of the book quantity"),
    ParamSpec("wr_tolerance_g_min", 10_000, 0, 10**9, "goods-match tolerance floor, grams"),
    ParamSpec(
        "wr_reading_fresh_heights", 300, 1, HEIGHTS_MAX, "heights a device reading stays fresh"
    ),
    ParamSpec("wr_initial_ltv_bp", 7_000, 1, BP_MAX, "the most LTV a pledge may start at"),
    ParamSpec("wr_warning_bp", 7_500, 1, BP_MAX, "LTV warning band"),
    ParamSpec("wr_call_bp", 8_000, 1, BP_MAX, "LTV margin-call band"),
    ParamSpec("wr_liquidation_bp", 8_500, 1, BP_MAX, "LTV liquidation band"),
    ParamSpec("wr_stale_days", 3, 0, 366, "business days a price stays fresh"),
    ParamSpec("wr_divergence_bp", 300, 0, BP_MAX, "price divergence that raises an alarm"),
    ParamSpec("wr_extra_haircut_bp", 500, 0, BP_MAX, "extra haircut while a price alarm is up"),
    ParamSpec("wr_cure_days", 2, 0, 366, "business days a margin call may be cured in"),
    ParamSpec("wr_sale_floor_bp", 8_000, 0, BP_MAX, "least enforcement price, bp of market value"),
)


def _valuation(values: Mapping[str, int | None]) -> ValuationParams:
    def v(name: str) -> int:
        value = values.get(name)
        if value is None:
            raise ValuationError(f"{name} has no value")
        return value

    return ValuationParams(
        bands=Bands(v("wr_warning_bp"), v("wr_call_bp"), v("wr_liquidation_bp")),
        initial_ltv_bp=v("wr_initial_ltv_bp"),
        stale_after_days=v("wr_stale_days"),
        divergence_bp_max=v("wr_divergence_bp"),
        extra_haircut_bp=v("wr_extra_haircut_bp"),
    )


def relations_error(values: Mapping[str, int | None]) -> str | None:
    """Why these parameter values break the bands' order, or None."""
    try:
        _valuation(values)
    except ValuationError as e:
        return str(e)
    return None


def valuation_params(params: Params) -> ValuationParams:
    """The valuation parameters in force."""
    return _valuation(params.as_dict())


def tolerance_g(params: Params, book_g: int) -> int:
    """How far sensed and book quantities may differ for a book of book_g grams."""
    bp = params.required("wr_tolerance_bp")
    return max(params.required("wr_tolerance_g_min"), book_g * bp // BP_MAX)

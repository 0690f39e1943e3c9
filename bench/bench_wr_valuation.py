"""Daily mark-to-market time: mark_to_market over 10,000 pledges, on one core.

Issue 14 targets under 50 ms of CPU per 10,000 pledges on one node. Three books
of 10,000 pledges over 8 commodities (copper, aluminium, zinc, nickel, lead, tin,
rebar, hot-rolled coil) are valued against a day's settlement and spot prices:

- "typical": loans at 40-78% of eligible value, one commodity's prices diverging
  and one with a stale spot price (alarms and extra haircut on their pledges);
  most pledges land ok or warning, a few in call;
- "all call": every pledge at or above the call band, so a cure is computed for
  each (the worst case);
- "unpriced": no price for any commodity (nothing is valued; the cheapest path).

The pledges are built once (the node reads them from state); only the pass is
timed. Each figure is the median of repeated passes. Times are process CPU time
unless --clock wall.

    PYTHONPATH=src python bench/bench_wr_valuation.py [--quick] [--json] [--pledges N]
"""

from __future__ import annotations

import random
import statistics
from collections import Counter
from typing import Any

from common import Reporter, arg_parser, load_note, machine_info, machine_line, now, set_clock
from govchain.apps.warehouse.units import tonnes_to_g, yuan_to_fen
from govchain.apps.warehouse.valuation import (
    Pledge,
    Price,
    Source,
    ValuationParams,
    eligible_value,
    mark_to_market,
)

TARGET_PLEDGES = 10_000
DAY = 20_000
# commodity -> settlement price in yuan per tonne (spot is drawn around it)
COMMODITIES = {
    "copper": 80_000,
    "aluminium": 19_000,
    "zinc": 23_000,
    "nickel": 130_000,
    "lead": 16_500,
    "tin": 250_000,
    "rebar": 3_600,
    "hrc": 3_800,
}
DIVERGING, STALE = "nickel", "tin"


def day_prices(rng: random.Random) -> list[Price]:
    """Settlement and spot prices of the day; one pair diverges, one spot is stale."""
    prices: list[Price] = []
    for name, yuan in COMMODITIES.items():
        settle = yuan_to_fen(yuan)
        spread = 1.06 if name == DIVERGING else 1 + rng.uniform(-0.01, 0.01)
        spot_day = DAY - 10 if name == STALE else DAY
        prices.append(Price(Source.SETTLEMENT, name, settle, DAY))
        prices.append(Price(Source.SPOT, name, int(settle * spread), spot_day))
        prices.append(Price(Source.SETTLEMENT, name, settle + 1, DAY - 1))  # yesterday's
    return prices


def book(rng: random.Random, count: int, ltv_range: tuple[float, float]) -> list[Pledge]:
    """count pledges with loans at a random LTV (at today's settlement) within ltv_range."""
    names = list(COMMODITIES)
    pledges: list[Pledge] = []
    for i in range(count):
        name = rng.choice(names)
        quantity = rng.randint(tonnes_to_g(20), tonnes_to_g(2_000)) // 1_000 * 1_000  # kg
        haircut = rng.choice((500, 800, 1_000, 1_500))
        eligible = eligible_value(quantity, yuan_to_fen(COMMODITIES[name]), haircut)
        loan = int(eligible * rng.uniform(*ltv_range))
        pledges.append(Pledge(f"WR{i:08d}", name, quantity, loan, haircut))
    return pledges


def time_pass(pledges: list[Pledge], prices: list[Price], repeats: int) -> dict[str, Any]:
    """Median and best seconds of a whole pass, scaled to 10,000 pledges."""
    params = ValuationParams()
    mark_to_market(pledges, prices, DAY, params)  # warm up
    times: list[float] = []
    for _ in range(repeats):
        t0 = now()
        marks = mark_to_market(pledges, prices, DAY, params)
        times.append(now() - t0)
    scale = TARGET_PLEDGES / len(pledges)
    bands = Counter(str(m.band) for m in marks)
    return {
        "pledges": len(pledges),
        "ms_per_10k_median": statistics.median(times) * scale * 1e3,
        "ms_per_10k_best": min(times) * scale * 1e3,
        "us_per_pledge": statistics.median(times) / len(pledges) * 1e6,
        "bands": dict(sorted(bands.items())),
        "cures": sum(m.cure is not None for m in marks),
    }


def main() -> None:
    p = arg_parser(__doc__.splitlines()[0])
    p.add_argument("--pledges", type=int, default=TARGET_PLEDGES, help="pledges in a book")
    p.add_argument("--seed", type=int, default=14)
    args = p.parse_args()
    set_clock(args.clock)
    out = Reporter(args.json)
    info = machine_info()
    repeats = 5 if args.quick else 30
    rng = random.Random(args.seed)
    prices = day_prices(rng)
    books = {
        "typical": book(rng, args.pledges, (0.40, 0.78)),
        "all call": book(rng, args.pledges, (0.80, 0.95)),
    }
    rows: dict[str, dict[str, Any]] = {}
    for name, pledges in books.items():
        out.progress(f"{name}: {len(pledges)} pledges x {repeats} passes...")
        rows[name] = time_pass(pledges, prices, repeats)
    out.progress("unpriced...")
    rows["unpriced"] = time_pass(books["typical"], [], repeats)

    out.line(f"mark-to-market ({args.clock} time; target < 50 ms per 10,000 pledges)")
    out.line(machine_line(info))
    note = load_note(info)
    if note:
        out.line(note)
    out.line(f"{'book':<10} {'ms/10k median':>14} {'best':>8} {'us/pledge':>10}  bands")
    for name, row in rows.items():
        out.line(
            f"{name:<10} {row['ms_per_10k_median']:>14.1f} {row['ms_per_10k_best']:>8.1f} "
            f"{row['us_per_pledge']:>10.2f}  {row['bands']} cures={row['cures']}"
        )
    out.emit(
        {
            "bench": "wr_valuation",
            "clock": args.clock,
            "machine": info,
            "rows": rows,
        }
    )


if __name__ == "__main__":
    main()

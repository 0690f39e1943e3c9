"""What the warehouse pages put together from the API's documents: a receipt's timeline,
a bin's goods-match rows, a pledge's LTV chart (an ECharts option built on the server).

Pure functions of the documents: nothing here reads the chain or recomputes a figure the
chain decided (a bin's verdict is the API's `green` and `problems`, an LTV the chain's mark).
"""

from __future__ import annotations

from typing import Any

from govchain.explorer.i18n import translate
from govchain.explorer.render import bp

GRAMS_PER_TONNE = 1_000_000
BP_PER_PERCENT = 100
LTV_AXIS_STEP_PCT = 10  # the LTV axis runs between whole tens of percent, a step beyond the data
# Transitions whose note is the pledge's id: the pledge takes, keeps or lets go of the receipt.
PLEDGE_IN = frozenset({"pledge", "add-collateral", "substitute-in"})
PLEDGE_OUT = frozenset({"release", "partial-release", "enforce"})
PLEDGE_NOTED = PLEDGE_IN | PLEDGE_OUT | {"cure", "enforcement-freeze"}
RECEIPTS_NOTED = frozenset({"split", "merge"})  # their note lists receipt numbers
GOVERNANCE_STEPS = frozenset({"freeze", "unfreeze"})  # their tx is a proposal
WEIGHING_KINDS = frozenset({"weighbridge", "load_cell"})  # the devices whose grams mean goods
# Timeline order within one height: the receipt's own step, then the day's mark, then a call.
ORDER_VERSION, ORDER_MARK, ORDER_CALL, ORDER_CURED = 0, 1, 2, 3
BAND_AREAS = (  # band, colour (translucent: the line stays readable over them)
    ("ok", "rgba(19, 108, 58, 0.10)"),
    ("warning", "rgba(240, 165, 0, 0.16)"),
    ("call", "rgba(201, 90, 0, 0.20)"),
    ("liquidation", "rgba(164, 22, 26, 0.18)"),
)
BAND_PARAMS = ("wr_warning_bp", "wr_call_bp", "wr_liquidation_bp")
LINE_COLOUR = "#0b5cad"
CALL_COLOUR = "#a4161a"
CURE_COLOUR = "#136c3a"
INITIAL_COLOUR = "#4f5b6a"


def tonnes(grams: object) -> str:
    """Grams as exact tonnes: 142857143 -> "142.857143 t" (never rounded)."""
    if isinstance(grams, bool) or not isinstance(grams, int):
        return "—"
    whole, rest = divmod(abs(grams), GRAMS_PER_TONNE)
    sign = "-" if grams < 0 else ""
    if rest == 0:
        return f"{sign}{whole:,} t"
    return f"{sign}{whole:,}.{rest:06d}".rstrip("0") + " t"


def signed(value: int) -> str:
    """An exact difference with its sign (a true minus) and thousands separators: "+2,000"."""
    return f"{value:+,}".replace("-", "\u2212")


def params_of(doc: Any) -> dict[str, int | None]:
    """GET /v1/wr/params as name -> value."""
    if not isinstance(doc, dict):
        return {}
    return {p["name"]: p["value"] for p in doc.get("params", []) if isinstance(p, dict)}


def pledge_ids(receipt: dict[str, Any]) -> list[str]:
    """The pledges a receipt was ever under: its encumbrance now, then those its history names."""
    found = [e["pledge"] for e in receipt["encumbrances"]]
    for v in receipt["history"]:
        if v["transition"] in PLEDGE_NOTED and v["note"] and v["note"] not in found:
            found.append(v["note"])
    return found


def price_names(prices: list[dict[str, Any]]) -> dict[tuple[str, int], int]:
    """The newest prices by (source, day): fen per tonne."""
    return {(p["source"], p["day"]): p["fen_per_tonne"] for p in prices}


def _under(receipt: dict[str, Any], pid: str) -> tuple[int, int | None] | None:
    """The heights the receipt was under pledge pid: (from, until or None while it is)."""
    start: int | None = None
    end: int | None = None
    for v in receipt["history"]:
        if v["note"] != pid:
            continue
        if v["transition"] in PLEDGE_IN and start is None:
            start = v["height"]
        elif v["transition"] in PLEDGE_OUT:
            end = v["height"]
    return None if start is None else (start, end)


def receipt_timeline(
    receipt: dict[str, Any],
    pledges: list[dict[str, Any]],
    devices: dict[str, dict[str, Any]],
    prices: dict[tuple[str, int], int],
) -> list[dict[str, Any]]:
    """Every version of the receipt, and each mark and margin call of a pledge while it held
    the receipt, in height order.

    A version's readings carry the device's kind, and the grams when that reading is still
    the device's latest; its prices carry fen per tonne when that is still the source's newest.
    """
    events: list[dict[str, Any]] = []
    for v in receipt["history"]:
        readings = []
        for x in v["readings"]:
            d = devices.get(x["device"])
            latest = d.get("latest") if d else None
            same = (
                isinstance(latest, dict)
                and latest.get("counter") == x["counter"]
                and d is not None
                and d["kind"] in WEIGHING_KINDS
            )
            readings.append(
                {
                    **x,
                    "kind": d["kind"] if d else None,
                    "grams": latest["grams"] if same and isinstance(latest, dict) else None,
                }
            )
        note = v["note"]
        events.append(
            {
                "kind": "version",
                "height": v["height"],
                "order": ORDER_VERSION,
                "v": v,
                "readings": readings,
                "prices": [{**p, "fen": prices.get((p["source"], p["day"]))} for p in v["prices"]],
                "pledge": note if v["transition"] in PLEDGE_NOTED and note else None,
                "receipts": note.split(",") if v["transition"] in RECEIPTS_NOTED and note else [],
                "proposal": v["transition"] in GOVERNANCE_STEPS,
                "note": note if v["transition"] in GOVERNANCE_STEPS else None,
            }
        )
    for p in pledges:
        span = _under(receipt, p["id"])
        if span is None:
            continue
        start, end = span

        def within(height: int, start: int = start, end: int | None = end) -> bool:
            return start <= height and (end is None or height <= end)

        for m in p["marks"]:
            if within(m["height"]):
                events.append(
                    {
                        "kind": "mark",
                        "height": m["height"],
                        "order": ORDER_MARK,
                        "pledge": p,
                        "m": m,
                    }
                )
        for c in p["calls"]:
            if within(c["height"]):
                events.append(
                    {
                        "kind": "call",
                        "height": c["height"],
                        "order": ORDER_CALL,
                        "pledge": p,
                        "c": c,
                    }
                )
            if c["cured_height"] is not None and within(c["cured_height"]):
                events.append(
                    {
                        "kind": "cured",
                        "height": c["cured_height"],
                        "order": ORDER_CURED,
                        "pledge": p,
                        "c": c,
                    }
                )
    events.sort(key=lambda e: (e["height"], e["order"]))
    return events


def consistency_rows(b: dict[str, Any]) -> list[dict[str, Any]]:
    """A bin's goods-match panel: each comparison with the API's verdict on it.

    ok is read from the API's `problems` (the chain's rule), never recomputed here.
    """
    problems = list(b["problems"])
    sensed = b["sensed_g"]
    device_problems = [
        p for p in problems if p.partition(":")[0] in ("offline", "calibration", "firmware")
    ]
    no_sensor = [p for p in problems if p in ("no_reading", "no_load_cell")]
    return [
        {
            "key": "sensed_vs_book",
            "ok": not no_sensor and "sensed_vs_book" not in problems,
            "left": sensed,
            "right": b["book_g"],
            "diff": None if sensed is None else signed(sensed - b["book_g"]),
            "problems": no_sensor,
        },
        {
            "key": "receipted_vs_book",
            "ok": "receipted_over_book" not in problems,
            "left": b["receipted_g"],
            "right": b["book_g"],
            "diff": signed(b["receipted_g"] - b["book_g"]),
            "problems": [],
        },
        {
            "key": "book_vs_capacity",
            "ok": "over_capacity" not in problems,
            "left": b["book_g"],
            "right": b["capacity_g"],
            "diff": signed(b["book_g"] - b["capacity_g"]),
            "problems": [],
        },
        {
            "key": "freshness",
            "ok": not device_problems,
            "left": None,
            "right": None,
            "diff": None,
            "problems": device_problems,
        },
        {
            "key": "alarms",
            "ok": "alarms" not in problems,
            "left": len(b["alarms"]),
            "right": None,
            "diff": None,
            "problems": [],
        },
    ]


def _axis(values: list[float], bands: list[int]) -> tuple[int, int]:
    """The LTV axis's ends in percent: whole tens around the data and the bands."""
    step = LTV_AXIS_STEP_PCT
    low = min([*values, *(b / BP_PER_PERCENT for b in bands)])
    high = max([*values, *(b / BP_PER_PERCENT for b in bands)])
    return max(0, int(low // step) * step - step), (int(high // step) + 1) * step + step


def ltv_chart(
    pledge: dict[str, Any], params: dict[str, int | None], height: int, lang: str
) -> dict[str, Any] | None:
    """The pledge's LTV over heights (its daily marks, and today's while it is live) against
    the warning, call and liquidation bands, with its initial LTV and its calls and cures
    marked; None when nothing was ever valued."""

    def t(key: str) -> str:
        return translate(lang, key)

    points = [
        {"value": [m["height"], m["ltv_bp"] / BP_PER_PERCENT], "name": f"{t('wr_day')} {m['day']}"}
        for m in pledge["marks"]
        if m["ltv_bp"] is not None
    ]
    if pledge.get("ltv_bp") is not None:
        points.append({"value": [height, pledge["ltv_bp"] / BP_PER_PERCENT], "name": t("wr_today")})
    if not points:
        return None
    bands = [params.get(n) for n in BAND_PARAMS]
    known = [b for b in bands if isinstance(b, int)]
    low, high = _axis([p["value"][1] for p in points], [*known, pledge["initial_ltv_bp"]])
    areas = []
    if len(known) == len(BAND_PARAMS):
        edges = [low * BP_PER_PERCENT, *known, high * BP_PER_PERCENT]
        for (band, colour), lo, hi in zip(BAND_AREAS, edges, edges[1:], strict=False):
            areas.append(
                [
                    {
                        "name": t("wr_band_" + band),
                        "yAxis": max(lo / BP_PER_PERCENT, low),
                        "itemStyle": {"color": colour},
                    },
                    {"yAxis": hi / BP_PER_PERCENT},
                ]
            )
    lines: list[dict[str, Any]] = [
        {
            "yAxis": pledge["initial_ltv_bp"] / BP_PER_PERCENT,
            "lineStyle": {"type": "dashed", "color": INITIAL_COLOUR},
            "label": {
                "formatter": f"{t('wr_initial_ltv')} {bp(pledge['initial_ltv_bp'])}",
                "position": "insideStartTop",
            },
        },
        {
            "xAxis": pledge["opened"],
            "lineStyle": {"color": INITIAL_COLOUR},
            "label": {"formatter": t("wr_tr_pledge"), "position": "end"},
        },
    ]
    for c in pledge["calls"]:
        lines.append(
            {
                "xAxis": c["height"],
                "lineStyle": {"color": CALL_COLOUR},
                "label": {"formatter": t("wr_call_opened"), "position": "end"},
            }
        )
        if c["cured_height"] is not None:
            lines.append(
                {
                    "xAxis": c["cured_height"],
                    "lineStyle": {"color": CURE_COLOUR},
                    "label": {"formatter": t("wr_call_cured"), "position": "end"},
                }
            )
    xs = [p["value"][0] for p in points] + [x["xAxis"] for x in lines if "xAxis" in x]
    return {
        "animation": False,
        "aria": {"enabled": True},
        "grid": {"left": 56, "right": 28, "top": 40, "bottom": 44},
        "tooltip": {"trigger": "axis"},
        "xAxis": {
            "type": "value",
            "name": t("height"),
            "nameLocation": "middle",
            "nameGap": 26,
            "min": min(xs) - 1,
            "max": max(xs) + 1,
            "minInterval": 1,
        },
        "yAxis": {
            "type": "value",
            "name": "LTV",  # the same in both languages; the heading says it in words
            "min": low,
            "max": high,
            "axisLabel": {"formatter": "{value}%"},
        },
        "series": [
            {
                "type": "line",
                "name": t("wr_ltv"),
                "data": points,
                "symbolSize": 9,
                "lineStyle": {"width": 2, "color": LINE_COLOUR},
                "itemStyle": {"color": LINE_COLOUR},
                "markArea": {
                    "silent": True,
                    "label": {"position": "insideRight", "color": "#1b2430"},
                    "data": areas,
                },
                "markLine": {"silent": True, "symbol": ["none", "none"], "data": lines},
            }
        ],
    }

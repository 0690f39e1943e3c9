"""A trace as a hop-layered graph: the ECharts option the tracing page embeds, built on the
server from `GET /v1/trace/...`'s document (x = hop, edge width by tainted amount).

Bounded: at most GRAPH_NODES_MAX accounts are drawn (those most tainted money passed
through; seeds always), and GRAPH_EDGES_MAX edges between them; the rest are counted.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from markupsafe import escape

from govchain.explorer.i18n import translate
from govchain.explorer.render import amount, short

GRAPH_NODES_MAX = 200
GRAPH_EDGES_MAX = 600
GRAPH_LABELS_MAX = 60  # beyond this many nodes only seeds, endpoints and frozen are labelled
# The chart's box: hop columns at least HOP_PX_MIN apart (a phone scrolls the chart sideways
# rather than crush it), at least NODE_ROW_PX per account of the fullest hop in height.
HOP_SPACING = 240  # graph units; rows are spaced so the graph's aspect fits the box
HOP_PX_MIN = 120
CHART_MARGIN_PX = 80
CHART_WIDTH_PX_MAX = 4_000
CHART_HEIGHT_PX_MIN = 520
CHART_HEIGHT_PX_MAX = 1_600
NODE_ROW_PX = 26
DESKTOP_CHART_PX = 1_160  # about the page's width on a desktop: the aspect aimed at
EDGE_WIDTH_MIN = 1.0
EDGE_WIDTH_MAX = 14.0
NODE_SIZE_MIN = 12.0
NODE_SIZE_MAX = 46.0
GENESIS = "0" * 40

# Node categories, in legend order, with colours from explorer.css's palette.
CATEGORIES = (
    ("seed", "#0b5cad"),
    ("frozen", "#a4161a"),
    ("endpoint", "#6a1b9a"),
    ("holds", "#8a5300"),
    ("passed", "#7b8794"),
    ("unfollowed", "#37474f"),
    ("outside", "#b0b8c4"),
)
_CATEGORY_INDEX = {name: i for i, (name, _) in enumerate(CATEGORIES)}


def _flow(doc: dict[str, Any]) -> dict[str, int]:
    """How much tainted money passed through each account: what reached it, or was seeded
    there; for an account outside the trace (who paid the seed), what it paid in."""
    traced = {n["address"] for n in doc["nodes"]}
    flow: dict[str, int] = defaultdict(int)
    for e in doc["edges"]:
        flow[e["to"]] += e["tainted"]
        flow[e["from"]] += 0 if e["from"] in traced else e["tainted"]
    for seed, seeded in zip(doc["seeds"], doc.get("seeded", []), strict=False):
        flow[seed["address"]] += seeded
    for n in doc["nodes"]:
        flow[n["address"]] = max(flow[n["address"]], n["tainted"])
    return flow


def _category(n: dict[str, Any]) -> str:
    if n.get("outside"):
        return "outside"
    if n["hop"] == 0:
        return "seed"
    if n["frozen"] > 0:
        return "frozen"
    if n.get("endpoint"):
        return "endpoint"
    if not n["followed"]:
        return "unfollowed"
    return "holds" if n["tainted"] > 0 else "passed"


def _scaled(value: int, top: int, low: float, high: float) -> float:
    """value on a square-root scale from low (0) to high (top)."""
    if top <= 0 or value <= 0:
        return low
    return round(low + (high - low) * math.sqrt(value / top), 1)


@dataclass(frozen=True, slots=True)
class Graph:
    """The drawn graph's ECharts option, and what was left out of it."""

    option: dict[str, Any]
    width_px_min: int
    height_px: int
    nodes_drawn: int
    nodes_hidden: int
    tainted_hidden: int
    edges_hidden: int


def _pairs(edges: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The movements between each payer and payee as one edge: amounts and taint summed,
    the earliest height, the most tainted movement's transaction, and how many there were."""
    pairs: dict[tuple[str, str], dict[str, Any]] = {}
    for e in sorted(edges, key=lambda e: (-e["tainted"], e["height"], e["tx_id"])):
        key = (e["from"], e["to"])
        p = pairs.get(key)
        if p is None:
            pairs[key] = {**e, "count": 1}
        else:
            p["tainted"] += e["tainted"]
            p["amount"] += e["amount"]
            p["height"] = min(p["height"], e["height"])
            p["count"] += 1
    return list(pairs.values())


def trace_graph(doc: dict[str, Any], lang: str) -> Graph:
    """A hop-layered graph of the trace: x = hop, edge width by tainted amount.

    Nodes link to their account page, edges to their transaction. At most
    GRAPH_NODES_MAX nodes (the accounts most tainted money passed through; seeds
    always) and GRAPH_EDGES_MAX edges between them are drawn.
    """

    def t(key: str) -> str:
        return translate(lang, key)

    flow = _flow(doc)
    nodes = {n["address"]: dict(n) for n in doc["nodes"]}
    backward = doc["direction"] == "backward"
    # Accounts an edge names that the trace did not follow (the victim who paid the ransom):
    # drawn a column before the account they paid (after the one that paid them), as money
    # flows; backward the hops count the other way.
    sender_step = 1 if backward else -1
    for e in doc["edges"]:
        for end, other, step in (
            (e["from"], e["to"], sender_step),
            (e["to"], e["from"], -sender_step),
        ):
            if end not in nodes:
                hop = nodes[other]["hop"] + step if other in nodes else 0
                nodes[end] = {
                    "address": end,
                    "hop": hop,
                    "tainted": 0,
                    "freezable": 0,
                    "frozen": 0,
                    "followed": False,
                    "endpoint": None,
                    "outside": True,
                }
    ranked = sorted(
        nodes.values(), key=lambda n: (n["hop"] != 0, -flow[n["address"]], n["address"])
    )
    kept = ranked[:GRAPH_NODES_MAX]
    kept_ids = {n["address"] for n in kept}
    hidden = ranked[GRAPH_NODES_MAX:]
    edges = [e for e in doc["edges"] if e["from"] in kept_ids and e["to"] in kept_ids]
    edges = [e for e in edges if e["from"] != e["to"]]  # a transfer to oneself moves nothing
    edges = _pairs(edges)  # one line per payer and payee, however many movements
    edges.sort(key=lambda e: (-e["tainted"], e["height"], e["tx_id"]))
    drawn_edges = edges[:GRAPH_EDGES_MAX]
    top_flow = max((flow[a] for a in kept_ids), default=0)
    top_edge = max((e["tainted"] for e in drawn_edges), default=0)
    by_hop: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for n in kept:
        by_hop[n["hop"]].append(n)
    labelled_all = len(kept) <= GRAPH_LABELS_MAX
    fullest = max((len(g) for g in by_hop.values()), default=1)
    hops_span = max(by_hop, default=0) - min(by_hop, default=0)
    width_px_min = min(hops_span * HOP_PX_MIN + CHART_MARGIN_PX, CHART_WIDTH_PX_MAX)
    height_px = min(
        max(fullest * NODE_ROW_PX + CHART_MARGIN_PX, CHART_HEIGHT_PX_MIN), CHART_HEIGHT_PX_MAX
    )
    # Rows spaced so that the graph's own aspect is about the box's: ECharts then fills it.
    aspect = max(DESKTOP_CHART_PX, width_px_min) / height_px
    row_spacing = max(hops_span, 1) * HOP_SPACING / aspect / max(fullest - 1, 1)
    size_max = min(NODE_SIZE_MAX, 0.8 * height_px / fullest)
    data = []
    for hop, group in sorted(by_hop.items()):
        for i, n in enumerate(group):
            addr = n["address"]
            cat = _category(n)
            name = t("tr_genesis") if addr == GENESIS else short(addr)
            tip = (
                f"{addr}<br/>{t('tr_hop')} {hop} · {t('tr_tainted')} {amount(n['tainted'])}"
                f" · {t('tr_freezable')} {amount(n['freezable'])} · {t('tr_frozen')}"
                f" {amount(n['frozen'])}"
            )
            if n.get("endpoint"):
                # ECharts shows a tooltip's formatter as HTML: text from the chain is escaped.
                tip += f"<br/>{escape(n['endpoint'])}"
            data.append(
                {
                    "id": addr,
                    "name": name,
                    "x": (-hop if backward else hop) * HOP_SPACING,
                    "y": round((i - (len(group) - 1) / 2) * row_spacing, 1),
                    "value": n["tainted"],
                    "category": _CATEGORY_INDEX[cat],
                    "symbolSize": _scaled(
                        flow[addr], top_flow, min(NODE_SIZE_MIN, size_max), size_max
                    ),
                    "label": {"show": labelled_all or cat in ("seed", "endpoint", "frozen")},
                    "tooltip": {"formatter": tip},
                    "url": None if addr == GENESIS else f"/accounts/{addr}",
                }
            )
    links = []
    for e in drawn_edges:
        tip = (
            f"{short(e['tx_id']) or t('tr_genesis')}<br/>{short(e['from'])} → {short(e['to'])}"
            f"<br/>{t('tr_tainted')} {amount(e['tainted'])} / {amount(e['amount'])}"
            f" · {t('height')} {e['height']}"
        )
        if e["count"] > 1:  # several movements drawn as one line: the link opens the largest
            tip += f"<br/>{t('tr_movements')} {amount(e['count'])}"
        links.append(
            {
                "source": e["from"],
                "target": e["to"],
                "value": e["tainted"],
                "lineStyle": {
                    "width": _scaled(e["tainted"], top_edge, EDGE_WIDTH_MIN, EDGE_WIDTH_MAX),
                    "type": "solid" if e["tainted"] > 0 else "dashed",
                },
                "tooltip": {"formatter": tip},
                "url": f"/txs/{e['tx_id']}" if e["tx_id"] else None,
            }
        )
    option = {
        "animation": False,
        "aria": {"enabled": True},
        "tooltip": {"trigger": "item", "confine": True},
        "legend": [
            {
                "data": [t("tr_cat_" + name) for name, _ in CATEGORIES],
                "type": "scroll",
                "bottom": 0,
            }
        ],
        "series": [
            {
                "type": "graph",
                "layout": "none",
                "roam": True,
                "top": 36,
                "bottom": 64,
                "left": 48,
                "right": 48,
                "preserveAspect": "contain",
                "autoCurveness": True,
                "edgeSymbol": ["none", "arrow"],
                "edgeSymbolSize": 8,
                "label": {"position": "bottom", "fontSize": 10, "color": "#1b2430"},
                "lineStyle": {"color": "source", "opacity": 0.55},
                "emphasis": {"focus": "adjacency"},
                "categories": [
                    {"name": t("tr_cat_" + name), "itemStyle": {"color": colour}}
                    for name, colour in CATEGORIES
                ],
                "data": data,
                "links": links,
            }
        ],
    }
    return Graph(
        option=option,
        width_px_min=width_px_min,
        height_px=height_px,
        nodes_drawn=len(kept),
        nodes_hidden=len(hidden),
        tainted_hidden=sum(n["tainted"] for n in hidden),
        edges_hidden=len(doc["edges"]) - sum(e["count"] for e in drawn_edges),
    )

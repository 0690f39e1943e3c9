"""The tracing page: a form; where the money went (a hop-layered graph), where it is now,
the pinned snapshot and result_root, and the governance measures taken on what it found.

Every figure is the node's own `GET /v1/trace/{address}` answer; the graph is an ECharts
option built here, on the server, and bounded: at most GRAPH_NODES_MAX accounts are drawn
(those most money passed through), the rest are counted under the chart.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from govchain.explorer.context import Explorer
from govchain.explorer.i18n import choose_lang, translate
from govchain.explorer.reader import ApiAnswer, ApiReader
from govchain.explorer.render import amount, short

POLICIES = ("fifo", "haircut", "libr", "poison")  # the first two are the page's switch
SWITCH_POLICIES = ("fifo", "haircut")
DIRECTIONS = ("forward", "backward")
HOPS_DEFAULT = 6
HOPS_CHOICES = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)  # the API takes 1..32
FIELD_CHARS_MAX = 80  # what the form echoes back of a field (a longer one is refused anyway)
GRAPH_NODES_MAX = 200
GRAPH_EDGES_MAX = 600
GRAPH_LABELS_MAX = 60  # beyond this many nodes only seeds, endpoints and frozen are labelled
TABLE_ROWS_MAX = 500
MEASURES_SCANNED_MAX = 200  # newest proposals read per measure action
MEASURE_ACTIONS = (
    "freeze-amount",
    "unfreeze-amount",
    "watch",
    "unwatch",
    "freeze-identity",
    "unfreeze-identity",
)
BUSY_RETRIES = 8  # the node traces one at a time: a page waits a little for its turn
BUSY_WAIT_S = 0.25
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
_HEX40 = re.compile(r"[0-9a-f]{40}")

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


@dataclass(frozen=True, slots=True)
class TraceForm:
    """The form's fields as typed (normalised: hex lowercase without 0x)."""

    address: str
    tx: str
    amount: str
    direction: str
    policy: str
    hops: int

    def query(self) -> dict[str, str | None]:
        """The API's query for this form (empty fields left out)."""
        return {
            "tx_id": self.tx or None,
            "amount": self.amount or None,
            "direction": self.direction,
            "policy": self.policy,
            "hops": str(self.hops),
        }

    def link(self, **changed: object) -> dict[str, object]:
        """The page's own query, with some fields changed (for the policy switch)."""
        fields: dict[str, object] = {
            "address": self.address,
            "tx": self.tx or None,
            "amount": self.amount or None,
            "direction": self.direction,
            "policy": self.policy,
            "hops": self.hops,
        }
        fields.update(changed)
        return fields


def _hex(raw: str) -> str:
    """Hex as people paste it: blanks trimmed, any case, with or without 0x."""
    text = raw.strip()[:FIELD_CHARS_MAX].lower()
    return text.removeprefix("0x")


def read_form(query: QueryParams) -> TraceForm:
    """The form from the query string; unknown choices fall back to the defaults."""
    direction = query.get("direction", DIRECTIONS[0])
    policy = query.get("policy", POLICIES[0])
    raw_hops = query.get("hops", "")
    hops = int(raw_hops) if raw_hops.isdigit() and int(raw_hops) in HOPS_CHOICES else HOPS_DEFAULT
    return TraceForm(
        address=_hex(query.get("address", "")),
        tx=_hex(query.get("tx", "")),
        amount=query.get("amount", "").strip()[:FIELD_CHARS_MAX],
        direction=direction if direction in DIRECTIONS else DIRECTIONS[0],
        policy=policy if policy in POLICIES else POLICIES[0],
        hops=hops,
    )


async def run_trace(reader: ApiReader, form: TraceForm) -> ApiAnswer:
    """GET /v1/trace/{address}, waiting a little while the node traces for someone else."""
    if not _HEX40.fullmatch(form.address):
        # Checked here because the address is a path segment; the API's own words.
        return ApiAnswer(
            400,
            {
                "error": {
                    "code": "bad_address",
                    "message": "address must be 40 lowercase hex characters",
                }
            },
        )
    answer = await reader.get(f"/v1/trace/{form.address}", **form.query())
    for _ in range(BUSY_RETRIES):
        if answer.status != 503:
            break
        await asyncio.sleep(BUSY_WAIT_S)
        answer = await reader.get(f"/v1/trace/{form.address}", **form.query())
    return answer


# -- the graph ------------------------------------------------------------------------------
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
                tip += f"<br/>{n['endpoint']}"
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
        edges_hidden=len(doc["edges"]) - len(drawn_edges),
    )


# -- where the money is now, and the measures taken -------------------------------------------
def where_now(doc: dict[str, Any]) -> tuple[list[dict[str, Any]], int, int]:
    """Accounts holding tainted money, most first (at most TABLE_ROWS_MAX), and the rest's
    count and tainted total."""
    holding = [n for n in doc["nodes"] if n["tainted"] > 0]
    holding.sort(key=lambda n: (-n["tainted"], n["address"]))
    rest = holding[TABLE_ROWS_MAX:]
    return holding[:TABLE_ROWS_MAX], len(rest), sum(n["tainted"] for n in rest)


def _targets(args: dict[str, Any]) -> list[str]:
    """The addresses a measure's arguments name."""
    found = []
    if isinstance(args.get("address"), str):
        found.append(args["address"])
    if isinstance(args.get("addresses"), list):
        found.extend(a for a in args["addresses"] if isinstance(a, str))
    return found


async def measures_taken(reader: ApiReader, doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Governance measures on what this trace found: those citing its result_root, those on
    a traced account, and the unwatch of a case they opened (newest first)."""
    traced = {n["address"] for n in doc["nodes"]} | {s["address"] for s in doc["seeds"]}
    root = doc["result_root"]
    scanned: list[dict[str, Any]] = []
    for action in MEASURE_ACTIONS:
        answer = await reader.get(
            "/v1/governance/proposals", action=action, limit=MEASURES_SCANNED_MAX
        )
        if answer.ok and isinstance(answer.doc, dict):
            scanned.extend(answer.doc.get("proposals", []))
    found: dict[str, dict[str, Any]] = {}
    cases: set[str] = set()
    for p in scanned:
        args = p["action"]["args"]
        on = [a for a in _targets(args) if a in traced]
        cites = args.get("trace_root") == root
        if on or cites:
            found[p["id"]] = {**p, "on": on, "cites": cites}
            if args.get("case"):
                cases.add(str(args["case"]))
    for p in scanned:
        args = p["action"]["args"]
        if p["action"]["name"] == "unwatch" and args.get("case") in cases:
            found.setdefault(p["id"], {**p, "on": [], "cites": False})
    return sorted(found.values(), key=lambda p: (-p["created_height"], p["id"]))


# -- the page ---------------------------------------------------------------------------------
def trace_routes(ex: Explorer) -> list[Route]:
    """GET /trace: the form, and with an address its trace."""

    async def page(request: Request) -> Response:
        form = read_form(request.query_params)
        values: dict[str, Any] = {
            "form": form,
            "policies": POLICIES,
            "switch_policies": SWITCH_POLICIES,
            "directions": DIRECTIONS,
            "hops_choices": HOPS_CHOICES,
            "doc": None,
            "error": None,
        }
        if not form.address:
            return await ex.page(request, "trace.html", **values)
        answer = await run_trace(ex.reader, form)
        if not answer.ok or not isinstance(answer.doc, dict):
            err = answer.doc.get("error") if isinstance(answer.doc, dict) else None
            values["error"] = err if isinstance(err, dict) else {"code": "error", "message": ""}
            return await ex.page(request, "trace.html", http_status=answer.status, **values)
        doc = answer.doc
        lang = request_lang(request)
        graph = trace_graph(doc, lang)
        rows, rest_count, rest_tainted = where_now(doc)
        values.update(
            doc=doc,
            graph=graph,
            rows=rows,
            rest_count=rest_count,
            rest_tainted=rest_tainted,
            measures=await measures_taken(ex.reader, doc),
            api_url=f"/v1/trace/{form.address}",
        )
        return await ex.page(request, "trace.html", **values)

    return [Route("/trace", ex.handler(page))]


def request_lang(request: Request) -> str:
    """The request's language, as the page will render it."""
    return choose_lang(
        request.query_params, request.cookies, request.headers.get("accept-language", "")
    )

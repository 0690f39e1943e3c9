"""The explorer's tracing and warehouse pages on a 4-validator devnet where `govchain demo
warehouse` and `govchain demo ransom` were played: what a regulator or a bank reads there
(amounts, statuses, the timeline, the bands), in Chinese and in English, is what the API says."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request

from govchain.api.wr_routes import PLEDGE_STATUSES
from govchain.apps.warehouse.readings import DeviceKind
from govchain.apps.warehouse.records import AlarmKind, ReceiptStatus
from govchain.apps.warehouse.valuation import Band
from govchain.explorer.i18n import MESSAGES
from govchain.explorer.pages_trace import DIRECTIONS, POLICIES
from govchain.explorer.render import render
from govchain.explorer.trace_figures import CATEGORIES, GRAPH_NODES_MAX, HOP_SPACING, trace_graph
from govchain.explorer.wr_figures import (
    PLEDGE_NOTED,
    RECEIPTS_NOTED,
    consistency_rows,
    signed,
    tonnes,
)
from govchain.node.node import Node
from govchain.node.port_leases import free_port_base, release_port_base
from govprocs import GovNet
from procs import cluster
from test_api_fuzz import AppClient
from test_wr_api import _home

RANSOM_SEED = 3
HOPS = 12
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


# -- reading a page ----------------------------------------------------------------------------
@dataclass
class El:
    """An element of a parsed page: its tag, attributes, and content (text and elements)."""

    tag: str
    attrs: dict[str, str]
    content: list[str | El]

    @property
    def children(self) -> list[El]:
        """Its child elements."""
        return [c for c in self.content if isinstance(c, El)]

    def text(self) -> str:
        """Its text, in document order, blanks collapsed."""
        out: list[str] = []

        def walk(e: El) -> None:
            for c in e.content:
                if isinstance(c, El):
                    walk(c)
                else:
                    out.append(c)

        walk(self)
        return " ".join(" ".join(out).split())

    def _each(self, fn: Callable[[El], None]) -> None:
        fn(self)
        for c in self.children:
            c._each(fn)

    def all(self, tag: str | None = None, **attrs: str) -> list[El]:
        """Descendants with the tag and attribute values given (class_ for class)."""
        want = {k.rstrip("_"): v for k, v in attrs.items()}
        found: list[El] = []

        def match(e: El) -> None:
            fits = all(
                e.attrs.get(k) == v or (k == "class" and v in e.attrs.get(k, "").split())
                for k, v in want.items()
            )
            if e is not self and (tag is None or e.tag == tag) and fits:
                found.append(e)

        self._each(match)
        return found

    def one(self, tag: str | None = None, **attrs: str) -> El:
        """The only descendant that matches."""
        found = self.all(tag, **attrs)
        assert len(found) == 1, (tag, attrs, len(found))
        return found[0]

    def rows(self) -> list[list[str]]:
        """A table's body rows as cell texts."""
        body = self.one("tbody")
        return [[c.text() for c in r.children if c.tag in ("td", "th")] for r in body.all("tr")]


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = El("#root", {}, [])
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        el = El(tag, {k: v or "" for k, v in attrs}, [])
        self.stack[-1].content.append(el)
        if tag not in VOID:
            self.stack.append(el)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].content.append(data)


def parse(html: str) -> El:
    """The page as a tree of elements."""
    p = _Parser()
    p.feed(html)
    return p.root


def chart_option(page: El, script_id: str) -> Any:
    """The ECharts option a page embeds for explorer.js to draw."""
    return json.loads(page.one("script", id=script_id).text())


def digits(text: str) -> int:
    """An exact amount as the page prints it: 27,246 -> 27246."""
    return int(re.sub(r"[^0-9]", "", text))


# -- the devnet --------------------------------------------------------------------------------
@dataclass
class Site:
    """The devnet, what the two demos did, and how to read a page."""

    net: GovNet
    wr: dict[str, Any]
    ransom: dict[str, Any]

    def page(self, path: str, lang: str = "zh", status: int = 200) -> El:
        """GET an explorer page in lang; its parsed HTML (asserting the status)."""
        # The language goes on the path: httpx's params= would replace the path's own query.
        joined = f"{path}{'&' if '?' in path else '?'}lang={lang}"
        r = self.net.c.http.get(self.net.c.url(0) + joined)
        assert r.status_code == status, (path, r.status_code, r.text[-800:])
        assert f'<html lang="{"zh-CN" if lang == "zh" else "en"}">' in r.text
        return parse(r.text)

    def api(self, path: str) -> Any:
        """GET an API document of the same node."""
        return self.net.get(path)

    def step(self, doc: dict[str, Any], name: str) -> dict[str, Any]:
        """A demo's step by name (the first)."""
        return dict(next(s for s in doc["steps"] if s["name"] == name))

    @property
    def attacker(self) -> str:
        return str(self.step(self.ransom, "ransom")["to"])

    @property
    def ransom_tx(self) -> str:
        return str(self.step(self.ransom, "ransom")["tx_id"])

    def trace_path(self, policy: str = "fifo") -> str:
        return f"/trace?address={self.attacker}&tx={self.ransom_tx}&hops={HOPS}&policy={policy}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("apppages")
    with cluster(root / "net", validators=4) as c:
        net = GovNet(c, root)
        wr = net.ok("demo", "warehouse", "--devnet", str(c.root))
        ransom = net.ok("demo", "ransom", "--seed", str(RANSOM_SEED), "--devnet", str(c.root))
        yield Site(net, wr, ransom)


# -- tracing -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("lang", "heading"), [("zh", "资金现在在哪里"), ("en", "Where the money is now")]
)
def test_the_trace_shows_where_the_ransom_is_now(site: Site, lang: str, heading: str) -> None:
    page = site.page(site.trace_path(), lang)
    assert page.one("h2", id="now-h").text() == heading
    root = page.one("code", id="result-root").text()
    height = digits(page.one("dd", id="snapshot").one("a").text())
    # The page's case, pinned at its snapshot, gives the same root on the API.
    case = {
        "seeds": [{"address": site.attacker, "tx_id": site.ransom_tx}],
        "limits": {"hops_max": HOPS, "to_height": height},
    }
    r = site.net.c.http.post(site.net.c.url(0) + "/v1/trace", json=case)
    doc = r.json()
    assert (r.status_code, doc["result_root"]) == (200, root)
    # Where the money is now: every account holding taint, most first, exact integers.
    rows = page.one("table", id="where-now").rows()
    holding = sorted(
        (n for n in doc["nodes"] if n["tainted"] > 0), key=lambda n: (-n["tainted"], n["address"])
    )
    shown = [
        (digits(r[1]), digits(r[2]), digits(r[3]), digits(r[4]))
        for r in rows  # hop, tainted, freezable, frozen
    ]
    assert shown == [(n["hop"], n["tainted"], n["freezable"], n["frozen"]) for n in holding]
    assert sum(s[1] for s in shown) == site.ransom["ransom"]  # nothing escaped the trace
    # The liens the committee enacted show as frozen at the exchanges.
    freezes = [s for s in site.ransom["steps"] if s["name"] == "freeze-amount"]
    frozen = {n["address"]: n["frozen"] for n in doc["nodes"]}
    assert {s["address"]: frozen[s["address"]] for s in freezes} == {
        s["address"]: s["amount"] for s in freezes
    }
    # And the measures: both freezes and the watch, each a link to its proposal.
    links = {a.attrs["href"] for a in page.one("table", id="measures").all("a")}
    for s in [*freezes, site.step(site.ransom, "watch")]:
        assert f"/governance/proposals/{s['proposal_id']}" in links
    assert page.one("dd", id="truncations").text() == MESSAGES["tr_not_truncated"][lang == "en"]


def test_the_graph_is_layered_by_hop_and_links_accounts_and_transactions(site: Site) -> None:
    page = site.page(site.trace_path(), "en")
    box = page.one("div", id="trace-graph")
    assert box.attrs["data-links"] == "true" and box.attrs["aria-label"]
    series = chart_option(page, "trace-graph-option")["series"][0]
    assert series["type"] == "graph"
    nodes = {n["id"]: n for n in series["data"]}
    assert nodes[site.attacker]["url"] == f"/accounts/{site.attacker}"
    doc = site.api(f"/v1/trace/{site.attacker}?tx_id={site.ransom_tx}&hops={HOPS}")
    hops = {n["address"]: n["hop"] for n in doc["nodes"]}
    assert {a: nodes[a]["x"] for a in hops} == {a: h * HOP_SPACING for a, h in hops.items()}
    assert len(set(hops.values())) > 5  # the peel chain: one layer per hop
    links = series["links"]
    assert {link["url"] for link in links} >= {f"/txs/{site.ransom_tx}"}
    by_taint = sorted(links, key=lambda link: link["value"])
    widths = [link["lineStyle"]["width"] for link in by_taint]
    assert widths == sorted(widths) and widths[-1] > widths[0]  # wider carries more


def test_the_policy_switch_reads_haircut_as_scoring_only(site: Site) -> None:
    page = site.page(site.trace_path("haircut"), "zh")
    switch = page.one("nav", id="policy-switch")
    current = [a for a in switch.all("a") if a.attrs.get("aria-current") == "page"]
    assert [a.text() for a in current] == ["按比例分摊 (haircut)"]
    fifo = next(a for a in switch.all("a") if "policy=fifo" in a.attrs["href"])
    assert f"address={site.attacker}" in fifo.attrs["href"] and fifo.text() == "先进先出 (FIFO)"
    assert "仅用于风险评分" in page.text()
    rows = page.one("table", id="where-now").rows()
    assert rows and all(digits(r[3]) == 0 for r in rows)  # nothing freezable under haircut


def test_bad_trace_input_is_a_page_with_the_apis_words(site: Site) -> None:
    page = site.page(f"/trace?address={site.attacker}&amount=abc", "en", status=400)
    assert "bad_amount" in page.one("div", id="trace-error").text()
    assert page.one("input", id="tr-address").attrs["value"] == site.attacker  # kept to fix
    page = site.page("/trace?address=0xNOPE", "zh", status=400)
    assert "bad_address" in page.one("div", id="trace-error").text()
    page = site.page(f"/trace?address={site.attacker}&tx={'0' * 64}", "en", status=404)
    assert "not_found" in page.one("div", id="trace-error").text()
    # Uppercase with 0x is how people paste an address: it traces.
    site.page(f"/trace?address=0x{site.attacker.upper()}&tx={site.ransom_tx}", "en")
    start = site.page("/trace", "zh")
    assert start.one("form", id="trace-form") and not start.all("table")


# -- warehouse receipts ------------------------------------------------------------------------
@pytest.mark.parametrize(("lang", "cancelled"), [("zh", "已注销"), ("en", "cancelled")])
def test_the_receipts_list_shows_the_demos_receipt(site: Site, lang: str, cancelled: str) -> None:
    page = site.page("/wr", lang)
    row = next(r for r in page.one("table", id="receipts").rows() if r[0] == site.wr["receipt"])
    assert row[1] == cancelled and row[3] == "1,000 t" and row[5] == "Qingdao demo warehouse"
    pledges = page.one("table", id="pledge-list").rows()
    assert any(r[0].startswith(site.wr["pledge"][:10]) for r in pledges)
    bins = f"/wr/bins/{site.wr['warehouse']}"
    assert page.one("table", id="warehouse-list").all("a", href=bins)
    # Filters go to the API: a valid-only list leaves it out; a bad one is the API's 400.
    valid = site.page("/wr?status=valid", lang)
    assert site.wr["receipt"] not in valid.one("table", id="receipts").text()
    bad = site.page("/wr?status=lost", lang, status=400)
    assert "bad_status" in bad.one("div", id="wr-error").text()


def test_a_receipts_life_is_a_timeline_of_versions_marks_and_calls(site: Site) -> None:
    page = site.page(f"/wr/receipts/{site.wr['receipt']}", "en")
    items = page.one("ol", id="timeline").all("li")
    steps = [li.attrs.get("data-transition") or li.attrs["class"] for li in items]
    assert steps == ["issue", "pledge", "tl-mark", "tl-call", "tl-cured", "release", "withdraw"]
    heights = [int(li.attrs["data-height"]) for li in items]
    assert heights == sorted(heights)
    receipt = site.api(f"/v1/wr/receipts/{site.wr['receipt']}")
    issue = items[0]
    signers = {
        a.attrs["href"].removeprefix("/accounts/")
        for a in issue.one("dl").all("a")
        if a.attrs["href"].startswith("/accounts/")
    }
    assert signers >= set(receipt["history"][0]["signers"])
    assert f"/txs/{receipt['history'][0]['tx']}" in {a.attrs["href"] for a in issue.all("a")}
    mark, call = items[2].text(), items[3].text()
    assert "¥70,000.00/t" in mark and "80.00%" in mark and "margin call" in mark
    assert "repay ¥6,650,000.00, or pledge 142.857143 t more" in call
    pledge_links = {a.attrs["href"] for a in page.one("ol", id="timeline").all("a")}
    assert f"/wr/pledges/{site.wr['pledge']}" in pledge_links
    facts = page.one("dl", id="receipt-facts").text()
    assert "1,000,000,000 g (1,000 t)" in facts


def test_a_bins_panel_compares_sensors_book_and_receipts(site: Site) -> None:
    warehouse, bin_id = site.wr["warehouse"], site.wr["bin"]
    before = site.api(f"/v1/wr/warehouses/{warehouse}/bins")["bins"]
    page = site.page(f"/wr/bins/{warehouse}", "zh")
    after = site.api(f"/v1/wr/warehouses/{warehouse}/bins")["bins"]
    panel = page.one("section", id=f"bin-{bin_id}")
    b = next(x for x in after if x["bin"] == bin_id)
    table = panel.one("table", class_="consistency")
    checks = {r.attrs["data-check"]: r for r in table.all("tr") if "data-check" in r.attrs}
    assert list(checks) == [
        "sensed_vs_book", "receipted_vs_book", "book_vs_capacity", "freshness", "alarms"
    ]  # fmt: skip
    sensed = checks["sensed_vs_book"].text()
    assert f"传感器 {b['sensed_g']:,} g" in sensed and f"±{b['tolerance_g']:,} g" in sensed
    assert "库容 2,000,000,000 g" in checks["book_vs_capacity"].text()
    # The verdict is the API's (a device may fall silent between the reads: then skip it).
    verdict = panel.one("h2").one("span").attrs["data-verdict"]
    was = next(x["green"] for x in before if x["bin"] == bin_id)
    if was == b["green"]:
        assert verdict == ("green" if b["green"] else "not-green")
    rows = panel.one("table", class_="devices").all("tr")
    devices = [r.attrs["data-device"] for r in rows if "data-device" in r.attrs]
    assert devices == b["devices"] and len(devices) == 4
    kinds = panel.one("table", class_="devices").text()
    assert "地磅" in kinds and "称重传感器" in kinds
    # The weight drop's alarm was cleared by the inspection, which shows what it found.
    inspection = panel.one("table", class_="inspections").rows()[-1]
    assert inspection[2] == "1,000,000,000 g" and inspection[3] == "1"


@pytest.mark.parametrize(("lang", "call"), [("zh", "追保线"), ("en", "margin call")])
def test_a_pledges_ltv_is_drawn_against_the_bands(site: Site, lang: str, call: str) -> None:
    page = site.page(f"/wr/pledges/{site.wr['pledge']}", lang)
    assert page.one("dd", id="pledge-loan").text() == "¥53,200,000.00"
    assert page.one("dd", id="pledge-outstanding").text() == "¥0.00"
    marks = page.one("table", id="marks").rows()
    assert [(r[2], r[4], r[5]) for r in marks] == [("¥70,000.00", "80.00%", call)]
    (row,) = page.one("table", id="calls").rows()
    assert "¥6,650,000.00" in row[2] and "142.857143 t" in row[3]
    pledge = site.api(f"/v1/wr/pledges/{site.wr['pledge']}")
    assert str(pledge["calls"][0]["cured_height"]) in row[4]
    series = chart_option(page, "ltv-chart-option")["series"][0]
    assert series["data"][0]["value"] == [pledge["marks"][0]["height"], 80.0]
    edges = [area[1]["yAxis"] for area in series["markArea"]["data"]]
    assert edges[:3] == [75.0, 80.0, 85.0]  # the wr_* bands in force
    assert series["markLine"]["data"][0]["yAxis"] == 70.0  # the initial LTV
    assert "≥ 80.00%" in page.one("ul", id="bands").text()


def test_the_api_lists_the_warehouses_parameters(site: Site) -> None:
    doc = site.api("/v1/wr/params")
    values = {p["name"]: p["value"] for p in doc["params"]}
    assert (values["wr_warning_bp"], values["wr_call_bp"], values["wr_liquidation_bp"]) == (
        7_500,
        8_000,
        8_500,
    )
    assert all(p["description"] for p in doc["params"]) and doc["height"] > 0


# -- without a node --------------------------------------------------------------------------
def test_a_chain_without_the_warehouse_says_so_plainly(tmp_path: Path) -> None:
    port = free_port_base(2)
    node = Node(_home(tmp_path, port, ()))
    try:
        client = AppClient(node)
        r = client.get("/wr?lang=en")
        assert r.status_code == 200
        assert "This chain has no warehouse-receipt application." in r.text
        r = client.get("/wr/receipts/WR-1?lang=zh")
        assert r.status_code == 404 and "no_warehouse" in r.text
        assert client.get("/v1/wr/params").json()["error"]["code"] == "no_warehouse"
    finally:
        node.store.close()
        release_port_base(port)


def test_every_status_kind_and_transition_has_words_in_both_languages() -> None:
    keys = [
        *(f"wr_rs_{s.value}" for s in ReceiptStatus),
        *(f"wr_ps_{s}" for s in PLEDGE_STATUSES),
        *(f"wr_band_{b.value}" for b in Band),
        *(f"wr_alarm_{a.value}" for a in AlarmKind),
        *(f"wr_alarm_{a}" for a in ("price_divergence", "price_missing", "price_stale")),
        *(f"wr_dev_{d.value}" for d in DeviceKind),
        *(f"wr_tr_{t}" for t in (*PLEDGE_NOTED, *RECEIPTS_NOTED, "issue", "endorse", "withdraw")),
        *(f"tr_policy_{p}" for p in POLICIES),
        *(f"tr_dir_{d}" for d in DIRECTIONS),
        *(f"tr_cat_{c}" for c, _ in CATEGORIES),
    ]
    for key in keys:
        zh, en = MESSAGES[key]
        assert zh.strip() and en.strip(), key


def test_quantities_and_differences_are_exact() -> None:
    assert tonnes(142_857_143) == "142.857143 t"
    assert tonnes(1_000_000_000) == "1,000 t"
    assert tonnes(1) == "0.000001 t"
    assert signed(-2_000_000_000) == "\u22122,000,000,000" and signed(0) == "+0"


def _star(accounts: int) -> dict[str, Any]:
    """A trace document: a victim pays the seed, who pays `accounts` others 1, 2, 3… each."""
    seed, victim = "5e" * 20, "71" * 20
    others = [f"{i:040x}" for i in range(1, accounts + 1)]
    node: dict[str, Any] = {"frozen": 0, "followed": True, "endpoint": None, "labels": []}
    return {
        "direction": "forward",
        "seeds": [{"address": seed, "amount": 10**9, "tx_id": "aa" * 32}],
        "seeded": [10**9],
        "nodes": [
            {**node, "address": seed, "hop": 0, "tainted": 1, "freezable": 1},
            *({**node, "address": a, "hop": 1, "tainted": i, "freezable": i}
              for i, a in enumerate(others, 1)),
        ],
        "edges": [
            {"tx_id": "aa" * 32, "from": victim, "to": seed, "amount": 10**9, "tainted": 10**9,
             "height": 5},
            *({"tx_id": f"{i:064x}", "from": seed, "to": a, "amount": i, "tainted": i,
               "height": 6} for i, a in enumerate(others, 1)),
        ],
    }  # fmt: skip


def test_the_graph_draws_at_most_its_bound_and_counts_the_rest() -> None:
    doc = _star(GRAPH_NODES_MAX * 2)
    graph = trace_graph(doc, "zh")
    series = graph.option["series"][0]
    drawn = {n["id"]: n for n in series["data"]}
    assert len(drawn) == graph.nodes_drawn == GRAPH_NODES_MAX
    assert "5e" * 20 in drawn and "71" * 20 in drawn  # the seed, and the victim who paid it
    assert drawn["71" * 20]["x"] == -HOP_SPACING and drawn["5e" * 20]["x"] == 0
    # The accounts most money reached are drawn; the rest are counted, with their taint.
    kept = sorted(int(a, 16) for a in drawn if a not in ("5e" * 20, "71" * 20))
    assert kept == list(range(GRAPH_NODES_MAX * 2 - len(kept) + 1, GRAPH_NODES_MAX * 2 + 1))
    hidden = range(1, GRAPH_NODES_MAX * 2 - len(kept) + 1)
    assert (graph.nodes_hidden, graph.tainted_hidden) == (len(hidden), sum(hidden))
    assert all(x["source"] in drawn and x["target"] in drawn for x in series["links"])
    assert graph.edges_hidden == len(doc["edges"]) - len(series["links"])


def test_many_movements_between_two_accounts_are_one_line() -> None:
    """A busy payer paying the same account 50 times is one edge, as wide as the 50 together,
    that opens the most tainted of them: not 50 curves over the chart."""
    doc = _star(2)
    seed, first = "5e" * 20, f"{1:040x}"
    doc["edges"] += [
        {"tx_id": f"{100 + i:064x}", "from": seed, "to": first, "amount": 10, "tainted": 10 + i,
         "height": 7 + i} for i in range(49)
    ]  # fmt: skip
    series = trace_graph(doc, "en").option["series"][0]
    lines = [x for x in series["links"] if (x["source"], x["target"]) == (seed, first)]
    assert len(lines) == 1
    assert lines[0]["value"] == 1 + sum(10 + i for i in range(49))
    assert lines[0]["url"] == f"/txs/{148:064x}"  # the most tainted: 58
    assert "movements 50" in lines[0]["tooltip"]["formatter"]
    assert len(series["links"]) == 3  # victim -> seed, seed -> first, seed -> second


def test_text_from_the_chain_in_a_tooltip_is_escaped() -> None:
    """ECharts renders a tooltip's formatter as HTML: an endpoint label is shown, never run."""
    doc = _star(1)
    doc["nodes"][1]["endpoint"] = 'identified:<img src=x onerror="alert(1)">'
    series = trace_graph(doc, "en").option["series"][0]
    tip = next(n for n in series["data"] if n["id"] == f"{1:040x}")["tooltip"]["formatter"]
    assert "<img" not in tip and "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in tip


def test_a_bin_with_a_silent_cell_and_an_alarm_is_not_green() -> None:
    device = {
        "id": "cell-1", "kind": "load_cell", "latest": {"grams": 990_000, "tags": []},
        "latest_height": 10, "latest_tx": "ab" * 32, "offline": True, "calibrated_until": 5,
    }  # fmt: skip
    b = {
        "bin": "B-1", "capacity_g": 10**9, "sensed_g": 990_000, "book_g": 1_000_000,
        "receipted_g": 1_000_000, "outgoing_g": 0, "tolerance_g": 10_000, "green": False,
        "problems": ["offline:cell-1", "calibration:cell-1", "alarms"],
        "alarms": [{"seq": 4, "kind": "weight_drift", "height": 321, "device": "cell-1",
                    "tx": "cd" * 32, "detail": "sensed 990000 g"}],
        "devices": ["cell-1"], "lots": ["LOT-1"], "inspections": [],
    }  # fmt: skip
    rows = {r["key"]: r for r in consistency_rows(b)}
    assert {k: r["ok"] for k, r in rows.items()} == {
        "sensed_vs_book": True, "receipted_vs_book": True, "book_vs_capacity": True,
        "freshness": False, "alarms": False,
    }  # fmt: skip
    assert rows["sensed_vs_book"]["diff"] == "\u221210,000"  # within ±10,000 g: ok
    request = Request({"type": "http", "path": "/wr/bins/x", "query_string": b"lang=en",
                       "headers": []})  # fmt: skip
    body = render(
        request,
        {"chain_id": "c", "node": "n", "height": 400, "filing_number": None},
        "wr_bins.html",
        house={"address": "aa" * 20, "name": "Depot", "supervisor": "bb" * 20, "opened": 1},
        doc={"height": 400, "bins": [b], "more": False},
        panels=[{"bin": b, "rows": consistency_rows(b), "devices": [device]}],
        params={"wr_tolerance_bp": 50, "wr_tolerance_g_min": 10_000},
        devices_unread=0,
        tonnes=tonnes,
    ).body
    html = bytes(body).decode()
    page = parse(html).one("section", id="bin-B-1")
    assert page.one("h2").one("span").attrs["data-verdict"] == "not-green"
    alarm = page.one("tr", **{"data-alarm": "weight_drift"}).text()
    assert "weight drift" in alarm and "321" in alarm and "sensed 990000 g" in alarm
    cell = page.one("tr", **{"data-device": "cell-1"}).text()
    assert "offline" in cell and "expired" in cell and "390" in cell  # 400 - 10 heights ago
    freshness = page.one("tr", **{"data-check": "freshness"}).text()
    assert "device offline cell-1" in freshness and "calibration expired cell-1" in freshness

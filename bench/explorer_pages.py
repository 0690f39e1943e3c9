"""Part 1's pages: every page of the idle chain timed by its `Server-Timing`, the
busiest account followed deep into its history by its next links, the node's CPU a GET
and its RSS (see bench_explorer.py)."""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from common import Reporter
from explorer_chain import Built, chain_devnet, wait_idle
from explorer_measure import SERVER_TIMING, loadavg, rss_mb, summary
from govchain.crypto.keys import SigningKey
from govchain.node.bench import process_cpu_s

HISTORY_DEPTH = 1_000  # movements into the busiest account's history
HISTORY_PAGES_MAX = 200  # next links followed at most (a page holds 25)
SLOW_PAGE_MS = 100.0  # the issue: each page's server time under 100 ms
PAGE_BUDGET_S = 90.0  # a slow page is sampled fewer times rather than for an hour
PAGE_TIMEOUT_S = 120.0
IDLE_SAMPLE_S = 5.0  # the idle node's CPU rate, taken off each page's CPU
SEARCH_PREFIX_HEX = 16
_NEXT = re.compile(r'<a rel="next" href="([^"]+)"')


@dataclass
class PageFigures:
    """One page's timings, or why it has none."""

    label: str
    path: str
    status: int
    state: str  # "ok" | "missing" | "error"
    gets: int = 0
    server_ms: dict[str, float] = field(default_factory=dict)
    wall_ms: dict[str, float] = field(default_factory=dict)
    node_cpu_ms: float = float("nan")  # the node's CPU a GET, its idle rate taken off
    slow: bool = False


@dataclass(frozen=True)
class NodeCpu:
    """The node's process and what it burns idle (heartbeat checkpoints), per second."""

    pid: int
    idle_per_s: float

    @staticmethod
    def measure(pid: int) -> NodeCpu:
        """Sample the idle rate over IDLE_SAMPLE_S."""
        c0, t0 = process_cpu_s(pid), time.perf_counter()
        time.sleep(IDLE_SAMPLE_S)
        return NodeCpu(pid, (process_cpu_s(pid) - c0) / (time.perf_counter() - t0))


def time_page(http: httpx.Client, label: str, path: str, gets: int, node: NodeCpu) -> PageFigures:
    """GET path once to warm it, then up to gets times (within PAGE_BUDGET_S)."""
    r = http.get(path)
    timed = SERVER_TIMING.search(r.headers.get("server-timing", ""))
    if r.status_code == 404 and timed is None:
        return PageFigures(label, path, 404, "missing")
    if r.status_code >= 400 or timed is None:
        return PageFigures(label, path, r.status_code, "error")
    server: list[float] = []
    wall: list[float] = []
    start = time.perf_counter()
    cpu0 = process_cpu_s(node.pid)
    deadline = start + PAGE_BUDGET_S
    while len(server) < gets and time.perf_counter() < deadline:
        t0 = time.perf_counter()
        r = http.get(path)
        wall.append((time.perf_counter() - t0) * 1000)
        m = SERVER_TIMING.search(r.headers.get("server-timing", ""))
        server.append(float(m.group(1)) if m else float("nan"))
    busy = process_cpu_s(node.pid) - cpu0 - node.idle_per_s * (time.perf_counter() - start)
    s = summary(server)
    return PageFigures(
        label,
        path,
        r.status_code,
        "ok",
        len(server),
        s,
        summary(wall),
        round(busy / len(server) * 1000, 2),
        s["p99"] >= SLOW_PAGE_MS,
    )


def deep_history(http: httpx.Client, address: str, depth: int) -> tuple[str, int]:
    """The account page depth movements into its history, by its next links; and how deep."""
    path = f"/accounts/{address}"
    seen = 0
    for _ in range(HISTORY_PAGES_MAX):
        if seen >= depth:
            break
        html = http.get(path).text
        m = _NEXT.search(html)
        if m is None:
            break
        seen += page_rows(html)
        path = m.group(1).replace("&amp;", "&")
    return path, seen


def page_rows(html: str) -> int:
    """Rows of the history table on an account page (its <tbody>'s <tr>s)."""
    table = html[max(0, html.find('id="history"')) :]
    body = table[table.find("<tbody>") :]
    return body[: body.find("</tbody>")].count("<tr")


def page_plan(http: httpx.Client, built: Built) -> list[tuple[str, str]]:
    """(label, path) of every page to time, their data found on the idle chain."""
    st = http.get("/v1/status").json()
    height = int(st["height"])
    mid = max(1, height // 2)
    recent = http.get("/v1/dag/recent", params={"limit": 20}).json()["vertices"]
    latest = next((v["id"] for v in recent if v.get("covered_by")), built.last_transfer)
    houses = http.get("/v1/wr/warehouses").json().get("warehouses", [])
    pledges = http.get("/v1/wr/pledges", params={"limit": 1}).json().get("pledges", [])
    deep, depth = deep_history(http, built.hub, HISTORY_DEPTH)
    # An ordinary sender: its own chain of transfers, paid by the one before it.
    sender = SigningKey.from_label("bench-explorer-sender-1").address.hex()
    plan = [
        ("home", "/"),
        ("dag", "/dag"),
        ("checkpoints", "/checkpoints"),
        ("checkpoints before mid", f"/checkpoints?before={mid}"),
        ("checkpoint (mid)", f"/checkpoints/{mid}"),
        ("tx: first", f"/txs/{built.first_tx}"),
        ("tx: latest", f"/txs/{latest}"),
        ("account: busiest", f"/accounts/{built.hub}"),
        (f"account: {depth:,} deep", deep),
        ("governance", "/governance"),
        ("proposal", f"/governance/proposals/{built.rule_proposal}"),
        ("params", "/governance/params"),
        ("rules", "/governance/rules"),
        ("services", "/governance/services"),
        ("audit", "/audit"),
        ("search: tx prefix", f"/search?q={built.first_tx[:SEARCH_PREFIX_HEX]}"),
        ("search: height", f"/search?q={mid}"),
        ("trace: busiest", f"/trace?address={built.hub}"),
        ("trace: a sender", f"/trace?address={sender}"),
        # Forward from what the first transfer paid sender 1 (its recipient).
        ("trace: one transfer", f"/trace?address={sender}&tx={built.first_tx}"),
        ("wr", "/wr"),
        ("wr receipt", f"/wr/receipts/{built.receipt}"),
    ]
    if houses:
        plan.append(("wr bins", f"/wr/bins/{houses[0]['address']}"))
    if pledges:
        plan.append(("wr pledge", f"/wr/pledges/{pledges[0]['id']}"))
    plan.append(("report", "/report"))
    return plan


def run_pages(args: Any, out: Reporter) -> dict[str, Any]:
    """Part 1: the chain (built or reused), every page timed, the node's RSS."""
    with chain_devnet(args, out) as (net, built, reused):
        url = f"http://127.0.0.1:{net.nodes[0].api_port}"
        st = wait_idle(url)
        pid = net.procs[net.nodes[0].name].pid
        node = NodeCpu.measure(pid)
        load0 = loadavg()
        figures: list[PageFigures] = []
        with httpx.Client(base_url=url, timeout=PAGE_TIMEOUT_S, follow_redirects=False) as http:
            plan = page_plan(http, built)
            out.progress(f"timing {len(plan)} pages, {args.gets} GETs each, chain idle")
            for label, path in plan:
                f = time_page(http, label, path, args.gets, node)
                figures.append(f)
                shown = f.server_ms.get("p99", f.state)
                out.progress(f"  {label:<24} {shown}")
        return {
            "built": asdict(built),
            "reused": reused,
            "height": int(st["height"]),
            "dag_vertices": st["dag"]["vertices"],
            "gets": args.gets,
            "pages": [asdict(f) for f in figures],
            "slow": [f.label for f in figures if f.slow],
            "missing": [f.label for f in figures if f.state == "missing"],
            "node": rss_mb(pid),
            "node_idle_cpu_pct": round(node.idle_per_s * 100, 1),
            "loadavg_1m": [load0, loadavg()],
        }

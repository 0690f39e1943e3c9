"""The explorer's cost: page server time on a chain of a million transactions, and what five
open browsers cost a busy validator (issue 15, "Performance").

1. Pages. A devnet of --validators nodes (default 1: building is what it is for, and one
   validator builds fastest on two cores; the pages read one node's store and memory either
   way) is loaded for real through the API with --txs transactions (default 1,000,000;
   --quick 20,000), signed ahead a chunk of CHUNK_TXS at a time and sent with
   govchain.node.bench's load_until_final: transfers among 200 senders, each naming its
   previous one as parent (as bench.presign signs them; chains continue across chunks and
   each chunk's validity bound follows the height, since presign's fixed bound would lapse
   on a long build), every HUB_EVERY-th paid to one hub account, the busiest; plus RECORDS
   text records (a third of them for a registered service), a content rule passed by a
   proposal and a vote, a filing number, one proposal left open, and the warehouse demo
   (`govchain demo warehouse --devnet DIR`, a subprocess) so that every page has data. The
   chain is kept with --dir D --keep, and a later run given the same --dir reuses it.
   Then, with the chain idle, every page is fetched --gets times (default 50) one after
   another, and the p50/p99/max of its `Server-Timing: page;dur=` (what the page cost the
   node, in wall time) and of the client's wall time are printed, with the node's CPU time
   a GET (its idle rate taken off: on a shared machine wall time waits for the cores, CPU
   time much less); a page whose p99 is at or above SLOW_PAGE_MS is flagged, a page the
   explorer does not have yet (404 without Server-Timing) is reported "missing". The
   account page is timed at its first page and HISTORY_DEPTH movements deep, found by
   following its `rel="next"` links. Then the node's RSS.
2. Viewers. A fresh 4-validator devnet and 20,000 presigned transfers, exactly as
   `govchain bench --validators 4 --txs 20000` runs it (node/bench.py: create, presign,
   load_until_final), measured without viewers and with VIEWERS emulated browsers on the
   first node, --rounds times (default 2; the order alternates, round by round, so the
   machine's drift does not decide), each measurement on its own fresh devnet. An emulated
   browser does what static/explorer.js does on the home page: the page itself; a websocket
   on /v1/events?types=checkpoint (the page asks for checkpoints alone), every message read;
   every 3 s GET /v1/stats/recent?seconds=300
   then /v1/status (then /v1/checkpoints?limit=10 when the status is ahead of the
   checkpoints the socket brought); 2 s after each GET /v1/dag/recent?limit=80 the next;
   and, every 5 s, a full load of a random page (its HTML, then its styles and scripts:
   fetched the first time, revalidated with If-None-Match after, which is more than
   Chromium's heuristic cache would ask). The browsers are emulated in one separate
   process because real Chromium on the same 2 cores would charge its own layout, script
   and painting to the validator's throughput; the emulation costs the node exactly what
   the browsers' requests cost, and little besides. --real-browsers adds a third
   measurement per round: VIEWERS Playwright pages on the home page in one headless
   /usr/bin/chromium, for comparison. Before viewers attach, each fixed page is fetched
   once (a watched node compiled its templates long ago); every load, with viewers or
   not, starts SETTLE_S after the nodes first answered, so that a devnet still connecting
   its peers does not count against one side. Reported: final tx/s, latency
   p50/p99 (acceptance to receipt event, as govchain bench), each node's CPU per
   transaction, the viewers' own CPU and requests, the ratio with/without (the target is
   >= 0.95), and node 0's CPU above its three peers' mean: what the viewers added to the
   node they watch, less the drift every node suffers alike. A measurement that a node
   lagging on a crowded machine broke (load_until_final treats its catching_up as fatal)
   is taken again on a fresh devnet, at most LOAD_ATTEMPTS times. --profile records
   node 0 with py-spy during each load and prints its top frames; --viewer-parts has the
   emulated browsers do only some of what they do (socket, refresh, dag, pages), to see
   what each part costs.

Wall clock throughout; the machine may be shared, so the load average is printed beside
every figure. Prints figures; never asserts timings.

    PYTHONPATH=src python bench/bench_explorer.py [--quick] [--json] [--only pages|load]
        [--txs N] [--validators V] [--gets N] [--dir D] [--keep]
        [--load-txs N] [--rounds R] [--real-browsers] [--profile [--py-spy PATH]]
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import queue
import random
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path
from typing import Any

import httpx
import websockets

from common import Reporter, arg_parser, fmt_rate, load_note, machine_info, machine_line
from govchain.codec import encode
from govchain.crypto.keys import SigningKey
from govchain.dag.kinds import Kind
from govchain.dag.limits import DagLimits
from govchain.dag.tx import Transaction, build
from govchain.node.bench import (
    SENDER_BALANCE,
    SENDERS,
    load_until_final,
    presign,
    process_cpu_s,
    raw_verify_rate,
)
from govchain.node.devnet import (
    Devnet,
    busy_ports,
    create,
    existing,
    free_port_base,
    release_port_base,
)
from govchain.node.files import read_genesis, read_key
from govchain.sdk.client import Client
from govchain.state.payloads import AddFilter, RecordPayload, SetFilingNumber, SetParam
from govchain.state.payloads import TransferPayload as Pay
from govchain.state.policy import RuleAction, keyword_rule

# -- part 1: the chain and its pages --------------------------------------------------------
TXS_DEFAULT = 1_000_000
QUICK_TXS = 20_000
GETS_DEFAULT = 50
QUICK_GETS = 20
CHUNK_TXS = 50_000  # signed ahead, then sent, a chunk at a time: memory stays ~100 MB
HUB_EVERY = 10  # every 10th transfer pays the hub: the busiest account
RECORDS = 300
RECORD_SENDERS = 3
RECORD_MEDIA = "text/plain; charset=utf-8"
SERVICE_ID = "bench-explorer"
RULE_TERM = "基准测试违禁词"  # passed as a content rule; no record contains it
FILING_NUMBER = "京ICP备20261203号-15"
OPEN_PARAM = ("hold_amount_min", 10**12)  # proposed, never voted: the open proposal
HISTORY_DEPTH = 1_000  # movements into the busiest account's history
HISTORY_PAGES_MAX = 200  # next links followed at most (a page holds 25)
SLOW_PAGE_MS = 100.0  # the issue: each page's server time under 100 ms
PAGE_BUDGET_S = 90.0  # a slow page is sampled fewer times rather than for an hour
PAGE_TIMEOUT_S = 120.0
IDLE_TIMEOUT_S = 600.0
IDLE_POLL_S = 0.5
IDLE_SAMPLE_S = 5.0  # the idle node's CPU rate, taken off each page's CPU
SETUP_TIMEOUT_S = 60.0
DEMO_TIMEOUT_S = 600.0
MANIFEST = "bench_explorer.json"  # in --dir: what a complete build left for the next run
MANIFEST_VERSION = 1
GOVCHAIN = [sys.executable, "-m", "govchain.cli.main"]
SEARCH_PREFIX_HEX = 16

# -- part 2: viewers on a busy validator ----------------------------------------------------
LOAD_VALIDATORS = 4
LOAD_TXS_DEFAULT = 20_000
QUICK_LOAD_TXS = 10_000
ROUNDS_DEFAULT = 2
QUICK_ROUNDS = 1
VIEWERS = 5
TARGET_RATIO = 0.95
STATS_EVERY_S = 3.0  # explorer.js: setInterval(refresh, 3000)
STATS_SECONDS = 300
CHECKPOINTS_LIMIT = 10
DAG_EVERY_S = 2.0  # explorer.js: liveDag(strip, 80, ..., 2000), setTimeout after each
DAG_LIMIT = 80
PAGE_EVERY_S = 5.0
WS_RETRY_S = 2.0  # explorer.js: ws.onclose -> setTimeout(connect, 2000)
VIEWER_HTTP_TIMEOUT_S = 30.0
VIEWERS_READY_TIMEOUT_S = 90.0
VIEWERS_WARMUP_S = 3.0  # after every viewer has its page: sockets open, timers running
VIEWERS_STOP_TIMEOUT_S = 30.0
SETTLE_S = 10.0  # from the nodes' first answer to the load, in every measurement alike
LOAD_ATTEMPTS = 3  # a measurement that a lagging node's refusal broke is taken again
SPY_RATE_HZ = 50
SPY_FLAGS = ("--rate", str(SPY_RATE_HZ), "--nonblocking")  # sampled without pausing it
SPY_STOP_TIMEOUT_S = 30.0
SPY_TOP = 14  # frames printed
SPY_OURS = re.compile(r"govchain/(api|explorer)/|jinja2/environment|websockets/")
# What an emulated browser does (--viewer-parts takes some, to see what each costs): the
# websocket, the 3 s refresh, the 2 s DAG strip, the random page every 5 s.
VIEWER_PARTS = ("socket", "refresh", "dag", "pages")
CHECKPOINT_HEAD = '{"type":"checkpoint"'  # Starlette's send_json: compact separators
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FIXED_PAGES = (
    "/",
    "/dag",
    "/checkpoints",
    "/governance",
    "/governance/params",
    "/governance/rules",
    "/governance/services",
    "/audit",
    "/wr",
    "/report",
)
_ASSET = re.compile(r'(?:src|href)="(/static/[^"?#]+)"')
_NEXT = re.compile(r'<a rel="next" href="([^"]+)"')
_TIMING = re.compile(r"page;dur=([0-9.]+)")
LIMITS = DagLimits()


# -- small helpers ---------------------------------------------------------------------------
def pct(sorted_xs: list[float], q: float) -> float:
    """The q-quantile (0..1) of sorted samples, nearest rank."""
    if not sorted_xs:
        return float("nan")
    return sorted_xs[min(len(sorted_xs) - 1, max(0, round(q * (len(sorted_xs) - 1))))]


def loadavg() -> float:
    """The 1-minute load average."""
    return round(os.getloadavg()[0], 2)


def rss_mb(pid: int) -> dict[str, float]:
    """A process's resident set now and at its peak (MB, Linux /proc)."""
    found: dict[str, float] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                found[name] = round(int(value.split()[0]) / 1024, 1)
    return {"rss_mb": found.get("VmRSS", float("nan")), "peak_mb": found.get("VmHWM", float("nan"))}


def tree_cpu_s(root_pid: int) -> float:
    """CPU seconds of a process and every live descendant (Chromium's helpers too)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            parents[int(entry.name)] = int(fields[1])
    tree = {root_pid}
    grew = True
    while grew:
        grew = False
        for pid, ppid in parents.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                grew = True
    total = 0.0
    for pid in tree:
        cpu = process_cpu_s(pid)
        if cpu == cpu:  # not nan: the process may have ended meanwhile
            total += cpu
    return total


def src_env() -> dict[str, str]:
    """The environment for a govchain subprocess: src/ on PYTHONPATH."""
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


# -- part 1: building the chain ---------------------------------------------------------------
class Chains:
    """Senders whose chains go on across chunks: each transaction names its sender's previous."""

    def __init__(self, keys: list[SigningKey], chain_id: str, genesis_id: bytes) -> None:
        self.keys, self.chain_id = keys, chain_id
        self.last = [genesis_id] * len(keys)
        self.nonce = [0] * len(keys)

    def sign(self, s: int, kind: str, payload: bytes, valid_until: int) -> Transaction:
        """Sender s's next transaction."""
        tx = build(
            self.keys[s],
            chain_id=self.chain_id,
            kind=kind,
            nonce=self.nonce[s],
            parents=[self.last[s]],
            valid_until=valid_until,
            payload=payload,
            stamp_bits_min=LIMITS.stamp_bits_min,
        )
        self.last[s], self.nonce[s] = tx.id, self.nonce[s] + 1
        return tx


def transfer_chunk(
    chains: Chains, start: int, count: int, valid_until: int
) -> list[list[Transaction]]:
    """Transfers start..start+count-1, per sender: i is sent by i % senders to the next
    sender, or to the hub (sender 0) when i % HUB_EVERY == 0."""
    n = len(chains.keys)
    per: list[list[Transaction]] = [[] for _ in range(n)]
    for i in range(start, start + count):
        s = i % n
        to = 0 if i % HUB_EVERY == 0 and s != 0 else (s + 1) % n
        payload = encode(Pay(chains.keys[to].address, 1 + i % 1_000))
        per[s].append(chains.sign(s, Kind.TRANSFER, payload, valid_until))
    return per


def record_chunk(chains: Chains, count: int, valid_until: int) -> list[list[Transaction]]:
    """count text records, per sender; every third belongs to SERVICE_ID."""
    per: list[list[Transaction]] = [[] for _ in chains.keys]
    for i in range(count):
        s = i % len(chains.keys)
        text = f"bench explorer record {i}: 仓单与运输记录 {secrets.token_hex(8)}".encode()
        service = SERVICE_ID if i % 3 == 0 else ""
        payload = encode(RecordPayload(service, RECORD_MEDIA, text))
        per[s].append(chains.sign(s, Kind.RECORD, payload, valid_until))
    return per


@dataclass
class Built:
    """What a complete build left: enough to find every page's data again."""

    version: int
    validators: int
    txs: int
    records: int
    hub: str
    first_tx: str
    last_transfer: str
    service: str
    rule_proposal: str
    filing_proposal: str
    open_proposal: str
    receipt: str
    build_s: float
    load_s: float
    presign_s: float
    height_after: int
    loadavg_1m: list[float] = field(default_factory=list)


def wait_idle(url: str, timeout_s: float = IDLE_TIMEOUT_S) -> dict[str, Any]:
    """Until the node holds no pending vertex; its status then."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=10) as http:
        while True:
            st: dict[str, Any] = http.get(url + "/v1/status").json()
            if st["dag"]["pending"] == 0:
                return st
            if time.monotonic() > deadline:
                raise RuntimeError(f"still {st['dag']['pending']} pending after {timeout_s:g} s")
            time.sleep(IDLE_POLL_S)


def governance_setup(url: str, root: Path, out: Reporter) -> dict[str, str]:
    """A service, a content rule and a filing number passed (propose + vote), one open proposal."""
    faucet = read_key(root / "keys" / "faucet.key")
    reg1 = read_key(root / "keys" / "regulator-1.key")
    reg2 = read_key(root / "keys" / "regulator-2.key")
    found: dict[str, str] = {"service": SERVICE_ID}
    with Client(url, timeout_s=SETUP_TIMEOUT_S) as c:
        rec = c.wait_final(c.submit(c.register_service(faucet, SERVICE_ID)), SETUP_TIMEOUT_S)
        if rec["status"] != "executed":
            raise RuntimeError(f"service registration final as {rec['status']}")
        for name, action in (
            ("rule_proposal", AddFilter(keyword_rule(RULE_TERM), RuleAction.REJECT)),
            ("filing_proposal", SetFilingNumber(FILING_NUMBER)),
        ):
            pid = c.submit_proposal(reg1, action, f"bench_explorer: {name}")["proposal_id"]
            got = c.submit_vote(reg2, pid, True)
            if got["status"] != "passed":
                raise RuntimeError(f"{name} {pid} is {got['status']} after the second vote")
            found[name] = pid
        action_open = SetParam(*OPEN_PARAM)
        found["open_proposal"] = c.submit_proposal(
            reg1, action_open, "bench_explorer: left open, one vote of two"
        )["proposal_id"]
    out.progress(f"  service {SERVICE_ID}, 2 proposals passed, 1 open")
    return found


def warehouse_demo(root: Path, out: Reporter) -> str:
    """`govchain demo warehouse --devnet root --json`; the receipt number it issued."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [*GOVCHAIN, "demo", "warehouse", "--devnet", str(root), "--json"],
        env=src_env(),
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT_S,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"demo warehouse failed ({proc.returncode}): {proc.stderr[-2000:]}")
    doc = json.loads(proc.stdout)
    out.progress(
        f"  warehouse demo: receipt {doc['receipt']}, {len(doc['steps'])} steps in "
        f"{time.perf_counter() - t0:.0f} s"
    )
    return str(doc["receipt"])


def build_chain(root: Path, net: Devnet, args: Any, out: Reporter) -> Built:
    """Load the new devnet's chain; the manifest of what it holds."""
    node0 = net.nodes[0]
    url = f"http://127.0.0.1:{node0.api_port}"
    ws_url = f"ws://127.0.0.1:{node0.api_port}/v1/events"
    urls = [f"http://127.0.0.1:{n.api_port}" for n in net.nodes]
    genesis = read_genesis(node0.home / "genesis.json")
    keys = [SigningKey.from_label(f"bench-explorer-sender-{i}") for i in range(SENDERS)]
    rkeys = [SigningKey.from_label(f"bench-explorer-writer-{i}") for i in range(RECORD_SENDERS)]
    chains = Chains(keys, genesis.chain_id, genesis.hash)
    writers = Chains(rkeys, genesis.chain_id, genesis.hash)
    load0 = loadavg()
    t_build = time.perf_counter()
    gov = governance_setup(url, root, out)
    first_tx = last_transfer = ""
    presign_s = load_s = 0.0
    done = 0
    with httpx.Client(timeout=10) as http:
        while done < args.txs:
            count = min(CHUNK_TXS, args.txs - done)
            height = int(http.get(url + "/v1/status").json()["height"])
            valid_until = height + LIMITS.validity_window_heights_max // 2
            t0 = time.perf_counter()
            per = transfer_chunk(chains, done, count, valid_until)
            if done == 0:
                first_tx = per[0][0].id.hex()
                per += record_chunk(writers, RECORDS, valid_until)
            last_transfer = per[(done + count - 1) % SENDERS][-1].id.hex()
            t1 = time.perf_counter()
            expect = sum(len(p) for p in per)
            asyncio.run(load_until_final(urls, per, ws_url, expect))
            t2 = time.perf_counter()
            presign_s += t1 - t0
            load_s += t2 - t1
            done += count
            out.progress(
                f"  {done:,}/{args.txs:,} transfers final: chunk signed in {t1 - t0:.0f} s, "
                f"final in {t2 - t1:.0f} s ({expect / (t2 - t1):,.0f} tx/s); load "
                f"{loadavg():.1f}"
            )
    net.write_description()  # the demo finds the devnet by its devnet.json
    receipt = warehouse_demo(root, out)
    st = wait_idle(url)
    return Built(
        version=MANIFEST_VERSION,
        validators=len(net.nodes),
        txs=args.txs,
        records=RECORDS,
        hub=keys[0].address.hex(),
        first_tx=first_tx,
        last_transfer=last_transfer,
        service=gov["service"],
        rule_proposal=gov["rule_proposal"],
        filing_proposal=gov["filing_proposal"],
        open_proposal=gov["open_proposal"],
        receipt=receipt,
        build_s=round(time.perf_counter() - t_build, 1),
        load_s=round(load_s, 1),
        presign_s=round(presign_s, 1),
        height_after=int(st["height"]),
        loadavg_1m=[load0, loadavg()],
    )


@contextlib.contextmanager
def chain_devnet(args: Any, out: Reporter) -> Iterator[tuple[Devnet, Built, bool]]:
    """A running devnet holding the chain: reused from --dir's manifest, else built there
    (or in a temporary directory); stopped, and removed unless kept, on exit."""
    named = args.dir is not None
    root = Path(args.dir) if named else Path(tempfile.mkdtemp(prefix="govchain-bench-explorer-"))
    manifest = root / MANIFEST
    reused = manifest.is_file()
    base: int | None = None
    if reused:
        built = Built(**json.loads(manifest.read_text()))
        net = Devnet(root, existing(root))
        busy = busy_ports(net.nodes)
        if busy:
            raise SystemExit(f"ports {busy} of the devnet in {root} are taken: is it running?")
        out.progress(f"reusing the chain in {root}: {built.txs:,} transfers, built earlier")
    else:
        if named and root.exists() and any(root.iterdir()):
            raise SystemExit(
                f"{root} holds something but no {MANIFEST}: remove it, or name another"
            )
        base = free_port_base(args.validators)
        accounts = {
            SigningKey.from_label(f"bench-explorer-{who}-{i}").address: SENDER_BALANCE
            for who, n in (("sender", SENDERS), ("writer", RECORD_SENDERS))
            for i in range(n)
        }
        if named:
            root.mkdir(parents=True, exist_ok=True)
        create(root, args.validators, 0, base, accounts)
        net = Devnet(root, existing(root))
    net.start()
    try:
        net.wait_ready()
        if not reused:
            out.progress(
                f"building {args.txs:,} transfers on {args.validators} validator(s) in {root}"
            )
            built = build_chain(root, net, args, out)
            manifest.write_text(json.dumps(asdict(built), indent=2) + "\n")
        yield net, built, reused
    finally:
        net.stop()
        if base is not None:
            release_port_base(base)
        if not args.keep and not reused:
            shutil.rmtree(root, ignore_errors=True)
        elif not reused:
            out.progress(f"chain kept in {root}: run again with --dir {root} to reuse it")


# -- part 1: timing the pages ------------------------------------------------------------------
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


def summary(xs: list[float]) -> dict[str, float]:
    """p50, p99 and max, rounded."""
    s = sorted(xs)
    return {"p50": round(pct(s, 0.5), 2), "p99": round(pct(s, 0.99), 2), "max": round(s[-1], 2)}


def time_page(http: httpx.Client, label: str, path: str, gets: int, node: NodeCpu) -> PageFigures:
    """GET path once to warm it, then up to gets times (within PAGE_BUDGET_S)."""
    r = http.get(path)
    timed = _TIMING.search(r.headers.get("server-timing", ""))
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
        m = _TIMING.search(r.headers.get("server-timing", ""))
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


# -- part 2: the viewers ----------------------------------------------------------------------
class Tally:
    """What the viewers did: requests by kind, errors, socket traffic, page server times."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.ws_messages = 0
        self.ws_bytes = 0
        self.page_ms: dict[str, list[float]] = {}

    def doc(self) -> dict[str, Any]:
        """As plain data."""
        pages = {k: summary(v) | {"n": len(v)} for k, v in sorted(self.page_ms.items())}
        return {
            "requests": dict(self.requests),
            "errors": dict(self.errors),
            "ws_messages": self.ws_messages,
            "ws_mb": round(self.ws_bytes / 1e6, 1),
            "pages": pages,
        }


class EmulatedBrowser:
    """One browser on the home page, doing what static/explorer.js does (see the docstring)."""

    def __init__(self, base: str, rng: random.Random, tally: Tally, parts: frozenset[str]) -> None:
        self.base = base
        self.parts = parts
        self.rng = rng
        self.tally = tally
        self.http = httpx.AsyncClient(base_url=base, timeout=VIEWER_HTTP_TIMEOUT_S)
        self.etags: dict[str, str] = {}
        self.shown_height = 0  # the newest checkpoint the page shows
        self.recent: list[dict[str, Any]] = []  # the last DAG strip's vertices

    async def get(self, kind: str, path: str, **kw: Any) -> httpx.Response | None:
        """A GET counted by kind; None (and an error counted) when it fails."""
        self.tally.requests[kind] += 1
        try:
            r = await self.http.get(path, **kw)
        except httpx.HTTPError as e:
            self.tally.errors[f"{kind}: {type(e).__name__}"] += 1
            return None
        if r.status_code >= 400 and r.status_code != 404:
            self.tally.errors[f"{kind}: {r.status_code}"] += 1
        return r

    async def load_page(self, path: str) -> None:
        """A full page load: the HTML, then its styles and scripts (revalidated once cached)."""
        r = await self.get("page", path)
        if r is None:
            return
        m = _TIMING.search(r.headers.get("server-timing", ""))
        if m:
            label = re.sub(r"/[0-9a-f]{16,}|\?.*|/[0-9]+$", "/…", path) or "/"
            self.tally.page_ms.setdefault(label, []).append(float(m.group(1)))
        if path == "/":
            self.shown_height = max(self.shown_height, _height_in(r.text))
        for asset in dict.fromkeys(_ASSET.findall(r.text)):
            tag = self.etags.get(asset)
            a = await self.get("asset", asset, headers={"if-none-match": tag} if tag else None)
            if a is not None and a.status_code == 200 and "etag" in a.headers:
                self.etags[asset] = a.headers["etag"]

    def random_page(self) -> str:
        """A page as a visitor would open one: fixed ones, or one of the chain's latest."""
        choices = list(FIXED_PAGES)
        if self.shown_height:
            choices += [f"/checkpoints/{self.shown_height}", f"/search?q={self.shown_height}"]
        if self.recent:
            v = self.rng.choice(self.recent)
            choices += [f"/txs/{v['id']}", f"/accounts/{v['sender']}"]
            choices.append(f"/trace?address={v['sender']}")
        return self.rng.choice(choices)

    async def socket(self, stop: asyncio.Event) -> None:
        """The page's websocket: every message parsed; checkpoints move the shown height."""
        url = self.base.replace("http://", "ws://") + "/v1/events?types=checkpoint"
        while not stop.is_set():
            try:
                async with websockets.connect(url, max_size=None, max_queue=None) as ws:
                    async for raw in ws:
                        self.tally.ws_messages += 1
                        self.tally.ws_bytes += len(raw)
                        # The browser parses every message; parsing them here would
                        # only charge the browser's work to the shared cores. The node
                        # puts "type" first, so a checkpoint is known by its head.
                        if CHECKPOINT_HEAD in raw[: len(CHECKPOINT_HEAD) + 4]:
                            ev = json.loads(raw)
                            self.shown_height = max(self.shown_height, int(ev["height"]))
            except (OSError, websockets.WebSocketException) as e:
                self.tally.errors[f"ws: {type(e).__name__}"] += 1
            await asyncio.sleep(WS_RETRY_S)

    async def refresh(self, stop: asyncio.Event) -> None:
        """Every 3 s: stats, status, and the checkpoints the socket missed."""
        while not stop.is_set():
            await asyncio.sleep(STATS_EVERY_S)
            await self.get("stats", "/v1/stats/recent", params={"seconds": STATS_SECONDS})
            r = await self.get("status", "/v1/status")
            if r is None or r.status_code != 200:
                continue
            if int(r.json()["height"]) > self.shown_height:
                c = await self.get(
                    "checkpoints", "/v1/checkpoints", params={"limit": CHECKPOINTS_LIMIT}
                )
                if c is not None and c.status_code == 200:
                    heights = [int(x["height"]) for x in c.json()["checkpoints"]]
                    self.shown_height = max([self.shown_height, *heights])

    async def dag(self, stop: asyncio.Event) -> None:
        """The DAG strip: GET /v1/dag/recent?limit=80, then 2 s, then again."""
        while not stop.is_set():
            r = await self.get("dag", "/v1/dag/recent", params={"limit": DAG_LIMIT})
            if r is not None and r.status_code == 200:
                self.recent = r.json()["vertices"]
            await asyncio.sleep(DAG_EVERY_S)

    async def pages(self, stop: asyncio.Event) -> None:
        """Every 5 s, a full load of a random page."""
        while not stop.is_set():
            await asyncio.sleep(PAGE_EVERY_S)
            await self.load_page(self.random_page())

    async def run(self, ready: asyncio.Event, stop: asyncio.Event) -> None:
        """Open the home page, then keep it live until stop."""
        await asyncio.sleep(self.rng.uniform(0, 1))  # browsers are not opened in lockstep
        await self.load_page("/")
        every = {"socket": self.socket, "refresh": self.refresh, "dag": self.dag}
        every["pages"] = self.pages
        tasks = [asyncio.create_task(every[p](stop)) for p in VIEWER_PARTS if p in self.parts]
        ready.set()
        await stop.wait()
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        await self.http.aclose()


def _height_in(html: str) -> int:
    """The height the home page shows (its data-height)."""
    m = re.search(r'id="height"[^>]*data-height="([0-9]+)"', html) or re.search(
        r'data-height="([0-9]+)"[^>]*id="height"', html
    )
    return int(m.group(1)) if m else 0


async def _emulated(
    base: str, count: int, parts: frozenset[str], ready_q: Any, stop_ev: MpEvent
) -> Tally:
    tally = Tally()
    stop = asyncio.Event()
    readies = [asyncio.Event() for _ in range(count)]
    browsers = [EmulatedBrowser(base, random.Random(i), tally, parts) for i in range(count)]
    runs = [asyncio.create_task(b.run(r, stop)) for b, r in zip(browsers, readies, strict=True)]
    await asyncio.gather(*(r.wait() for r in readies))
    ready_q.put({"ready": True})
    while not stop_ev.is_set():
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.gather(*runs, return_exceptions=True)
    return tally


def _real(base: str, count: int, ready_q: Any, stop_ev: MpEvent) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 (only --real-browsers)

    requests: Counter[str] = Counter()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        pages = [browser.new_page() for _ in range(count)]
        for pg in pages:
            pg.on("request", lambda req: requests.update([req.url.split("?")[0].split("/", 3)[-1]]))
            pg.goto(base + "/", wait_until="load")
        ready_q.put({"ready": True})
        while not stop_ev.is_set():
            pages[0].wait_for_timeout(200)
        visible = [str(pg.evaluate("document.visibilityState")) for pg in pages]
        browser.close()
    top = dict(requests.most_common(12))
    return {"requests": top, "requests_total": sum(requests.values()), "visibility": visible}


def viewers_main(
    base: str, count: int, mode: str, parts: frozenset[str], ready_q: Any, stop_ev: MpEvent
) -> None:
    """The viewers' process: count browsers on base until stop_ev; what they did, on ready_q."""
    try:
        if mode == "emulated":
            doc = asyncio.run(_emulated(base, count, parts, ready_q, stop_ev)).doc()
        else:
            doc = _real(base, count, ready_q, stop_ev)
        ready_q.put({"done": doc})
    except Exception as e:  # the parent must hear of it, not wait for a timeout
        ready_q.put({"failed": f"{type(e).__name__}: {e}"})


class Viewers:
    """The viewers' process, started and stopped by the measurement."""

    def __init__(self, base: str, mode: str, parts: frozenset[str]) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.q: Any = ctx.Queue()
        self.stop_ev = ctx.Event()
        self.proc = ctx.Process(
            target=viewers_main,
            args=(base, VIEWERS, mode, parts, self.q, self.stop_ev),
            daemon=True,
        )
        self.proc.start()

    def _next(self, timeout_s: float) -> dict[str, Any]:
        try:
            msg: dict[str, Any] = self.q.get(timeout=timeout_s)
        except queue.Empty:
            raise RuntimeError(f"the viewers said nothing in {timeout_s:g} s") from None
        if "failed" in msg:
            raise RuntimeError(f"the viewers failed: {msg['failed']}")
        return msg

    def wait_ready(self) -> None:
        """Until every viewer has its page open."""
        self._next(VIEWERS_READY_TIMEOUT_S)

    def cpu_s(self) -> float:
        """CPU seconds of the viewers' process and its children so far."""
        return tree_cpu_s(self.proc.pid) if self.proc.pid is not None else float("nan")

    def stop(self) -> dict[str, Any]:
        """Stop them; what they did."""
        self.stop_ev.set()
        try:
            return dict(self._next(VIEWERS_STOP_TIMEOUT_S)["done"])
        finally:
            self.close()

    def close(self) -> None:
        """Make sure the process is gone (terminated by its handle if it hangs)."""
        self.stop_ev.set()
        self.proc.join(VIEWERS_STOP_TIMEOUT_S)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join()


def warm_templates(url: str) -> None:
    """GET each fixed page once: a node that browsers have watched for a while has compiled
    their templates long ago, so the first compile is kept out of the measurement."""
    with httpx.Client(base_url=url, timeout=VIEWER_HTTP_TIMEOUT_S) as http:
        for path in FIXED_PAGES:
            http.get(path)


class Spy:
    """py-spy recording one process (--profile): raw collapsed stacks, summed up at stop."""

    def __init__(self, exe: str, pid: int, path: Path) -> None:
        self.path = path
        self.proc = subprocess.Popen(
            [exe, "record", "-p", str(pid), "-o", str(path), "--format", "raw", *SPY_FLAGS],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> dict[str, Any]:
        """Stop recording (SIGINT, as py-spy expects); the top frames, own and inclusive."""
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(SPY_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return collapsed_top(self.path)


def collapsed_top(path: Path) -> dict[str, Any]:
    """From py-spy's raw output: samples, the top leaf frames, and the top API/explorer
    frames counted inclusively (each once a stack)."""
    own: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    total = 0
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            stack, _, n = line.rpartition(" ")
            if not n.isdigit():
                continue
            count = int(n)
            frames = stack.split(";")
            total += count
            own[frames[-1]] += count
            for f in set(frames):
                if SPY_OURS.search(f):
                    ours[f] += count
    whole = max(total, 1)
    return {
        "samples": total,
        "file": str(path),
        "own_pct": [(f, round(100 * c / whole, 1)) for f, c in own.most_common(SPY_TOP)],
        "api_inclusive_pct": [(f, round(100 * c / whole, 1)) for f, c in ours.most_common(SPY_TOP)],
    }


def load_run(
    txs: int, viewers: str, out: Reporter, spy: str | None, parts: frozenset[str]
) -> dict[str, Any]:
    """A measurement, taken again (fresh devnet) when a node lagging on this crowded
    machine refused the load (load_until_final treats its catching_up as fatal)."""
    failures: list[str] = []
    for _ in range(LOAD_ATTEMPTS):
        try:
            doc = load_once(txs, viewers, out, spy, parts)
        except RuntimeError as e:
            if "catching_up" not in str(e):
                raise
            failures.append(str(e)[:200])
            out.progress(f"  {viewers}: a node was catching up and refused the load; again")
            continue
        doc["failed_attempts"] = failures
        return doc
    raise RuntimeError(f"{LOAD_ATTEMPTS} attempts failed: {failures}")


def load_once(
    txs: int, viewers: str, out: Reporter, spy: str | None, parts: frozenset[str]
) -> dict[str, Any]:
    """A fresh 4-validator devnet under govchain bench's load, with viewers ("none",
    "emulated" or "real") on its first node; the figures."""
    keys = [SigningKey(secrets.token_bytes(32)) for _ in range(SENDERS)]
    with tempfile.TemporaryDirectory(prefix="govchain-bench-explorer-load-") as tmp:
        root = Path(tmp)
        base = free_port_base(LOAD_VALIDATORS)
        nodes = create(root, LOAD_VALIDATORS, 0, base, {k.address: SENDER_BALANCE for k in keys})
        genesis = read_genesis(nodes[0].home / "genesis.json")
        per_sender = presign(genesis.chain_id, genesis.hash, keys, txs)
        net = Devnet(root, nodes)
        net.start()
        watchers: Viewers | None = None
        try:
            net.wait_ready()
            urls = [f"http://127.0.0.1:{n.api_port}" for n in nodes]
            ws_url = f"ws://127.0.0.1:{nodes[0].api_port}/v1/events"
            ready_at = time.perf_counter()
            if viewers != "none":
                warm_templates(urls[0])
                watchers = Viewers(urls[0], viewers, parts)
                watchers.wait_ready()
                time.sleep(VIEWERS_WARMUP_S)
            # Every measurement starts SETTLE_S after its nodes answered (peers connected,
            # the first checkpoints behind them), viewers or not.
            time.sleep(max(0.0, ready_at + SETTLE_S - time.perf_counter()))
            load0 = loadavg()
            cpu0 = [process_cpu_s(p.pid) for p in net.procs.values()]
            vcpu0 = watchers.cpu_s() if watchers else 0.0
            spying = None
            if spy is not None:
                where = Path(tempfile.gettempdir()) / f"bench-explorer-{viewers}-{os.getpid()}"
                spying = Spy(spy, net.procs[nodes[0].name].pid, where.with_suffix(".txt"))
            t0 = time.perf_counter()
            submitted, _sent, final, refused = asyncio.run(
                load_until_final(urls, per_sender, ws_url, txs)
            )
            elapsed = max(final.values()) - t0
            node_cpu = [
                process_cpu_s(p.pid) - c for p, c in zip(net.procs.values(), cpu0, strict=True)
            ]
            vcpu = (watchers.cpu_s() - vcpu0) if watchers else 0.0
            profile = spying.stop() if spying else None
            did = watchers.stop() if watchers else {}
            watchers = None
            load1 = loadavg()
        finally:
            if watchers is not None:
                watchers.close()
            net.stop()
            release_port_base(base)
    lat = sorted((final[i] - submitted[i]) * 1000 for i in submitted if i in final)
    doc: dict[str, Any] = {
        "viewers": viewers,
        "final_tps": round(txs / elapsed, 1),
        "latency_ms": {"p50": round(pct(lat, 0.5), 1), "p99": round(pct(lat, 0.99), 1)},
        "elapsed_s": round(elapsed, 2),
        "node_cpu_us_per_tx": [round(c / txs * 1e6) for c in node_cpu],
        # Node 0 (the viewed one) above its peers: the viewers' share, less the drift
        # of a shared machine that every node suffers alike.
        "node0_excess_us_per_tx": round(
            (node_cpu[0] - statistics.mean(node_cpu[1:])) / txs * 1e6, 1
        ),
        "viewers_cpu_s": round(vcpu, 2),
        "refused_retried": refused,
        "viewers_did": did,
        "loadavg_1m": [load0, load1],
        "node0_profile": profile,
    }
    out.progress(
        f"  {viewers:<8} {doc['final_tps']:>8,.0f} tx/s  p50 {doc['latency_ms']['p50']:.0f} ms "
        f"p99 {doc['latency_ms']['p99']:.0f} ms  load {load0:.1f}->{load1:.1f}"
    )
    return doc


def run_load(args: Any, out: Reporter) -> dict[str, Any]:
    """Part 2: --rounds rounds of without/with viewers, the order alternating."""
    kinds = ["none", "emulated"] + (["real"] if args.real_browsers else [])
    rounds: list[dict[str, Any]] = []
    for r in range(args.rounds):
        order = kinds if r % 2 == 0 else list(reversed(kinds))
        out.progress(f"round {r + 1}/{args.rounds}: {' then '.join(order)}")
        runs = {k: load_run(args.load_txs, k, out, args.spy, args.parts) for k in order}
        ratios = {k: round(runs[k]["final_tps"] / runs["none"]["final_tps"], 3) for k in kinds[1:]}
        rounds.append({"order": order, "runs": runs, "ratio": ratios})
    overall: dict[str, Any] = {}
    base_tps = statistics.mean(x["runs"]["none"]["final_tps"] for x in rounds)
    base_excess = statistics.mean(x["runs"]["none"]["node0_excess_us_per_tx"] for x in rounds)
    base_node0 = statistics.mean(x["runs"]["none"]["node_cpu_us_per_tx"][0] for x in rounds)
    for k in kinds:
        tps = statistics.mean(x["runs"][k]["final_tps"] for x in rounds)
        excess = statistics.mean(x["runs"][k]["node0_excess_us_per_tx"] for x in rounds)
        overall[k] = {
            "final_tps_mean": round(tps, 1),
            "ratio": round(tps / base_tps, 3),
            "ratios": [x["ratio"][k] for x in rounds] if k != "none" else [],
            "ratio_median": (
                round(statistics.median(x["ratio"][k] for x in rounds), 3) if k != "none" else 1.0
            ),
            # What the viewers added to node 0's CPU, per final tx and in share of a core
            # at this throughput.
            "node0_added_us_per_tx": round(excess - base_excess, 1),
            "node0_added_core_pct": round((excess - base_excess) * tps / 1e4, 1),
            # The ratio a validator alone on its cores, bound by its own CPU, would see.
            "node0_bound_ratio": round(base_node0 / (base_node0 + excess - base_excess), 3),
        }
    return {
        "validators": LOAD_VALIDATORS,
        "txs": args.load_txs,
        "viewer_parts": sorted(args.parts),
        "viewers": VIEWERS,
        "rounds": rounds,
        "overall": overall,
        "target_ratio": TARGET_RATIO,
    }


# -- output ------------------------------------------------------------------------------------
def print_pages(doc: dict[str, Any], out: Reporter) -> None:
    """The page table."""
    b = doc["built"]
    out.line(
        f"pages on a chain of {b['txs']:,} transfers + {b['records']} records + governance + "
        f"the warehouse demo, {b['validators']} validator(s); height {doc['height']:,}, "
        f"{doc['dag_vertices']:,} vertices"
    )
    if doc["reused"]:
        out.line("  (chain reused from --dir, built by an earlier run)")
    out.line(
        f"  built in {b['build_s']:,.0f} s: signing {b['presign_s']:,.0f} s, loading "
        f"{b['load_s']:,.0f} s ({b['txs'] / max(b['load_s'], 1e-9):,.0f} tx/s final); load "
        f"average {b['loadavg_1m'][0]:.1f} -> {b['loadavg_1m'][1]:.1f}"
    )
    out.line(
        f"  {doc['gets']} GETs a page, one after another, chain idle; load average "
        f"{doc['loadavg_1m'][0]:.1f} -> {doc['loadavg_1m'][1]:.1f}"
    )
    out.line()
    out.line(
        f"  {'page':<24} {'server p50':>10} {'p99':>8} {'max':>8}   {'wall p50':>8} "
        f"{'p99':>8} {'CPU/GET':>8}  {'n':>3}"
    )
    for p in doc["pages"]:
        if p["state"] != "ok":
            what = "missing" if p["state"] == "missing" else f"error {p['status']}"
            out.line(f"  {p['label']:<24} {what:>10}   {p['path']}")
            continue
        s, w = p["server_ms"], p["wall_ms"]
        flag = "  SLOW (p99 >= 100 ms)" if p["slow"] else ""
        redirect = f"  ({p['status']})" if p["status"] != 200 else ""
        out.line(
            f"  {p['label']:<24} {s['p50']:>10.1f} {s['p99']:>8.1f} {s['max']:>8.1f}   "
            f"{w['p50']:>8.1f} {w['p99']:>8.1f} {p['node_cpu_ms']:>8.1f}  {p['gets']:>3}"
            f"{flag}{redirect}"
        )
    node = doc["node"]
    out.line()
    out.line(
        f"  slow pages: {', '.join(doc['slow']) or 'none'}; missing: "
        f"{', '.join(doc['missing']) or 'none'}"
    )
    out.line(
        f"  node RSS {node['rss_mb']:.0f} MB (peak {node['peak_mb']:.0f} MB); CPU/GET is the "
        f"node's CPU ms a GET, less its idle {doc['node_idle_cpu_pct']:.1f} % of a core"
    )


def print_load(doc: dict[str, Any], out: Reporter) -> None:
    """The with/without table, round by round."""
    out.line(
        f"{doc['viewers']} browsers on a busy validator: {doc['validators']} validators, "
        f"{doc['txs']:,} presigned transfers (govchain bench's load), a fresh devnet each; "
        f"emulated browsers do: {', '.join(doc['viewer_parts'])}"
    )
    out.line()
    out.line(
        f"  {'round':<6} {'viewers':<9} {'tx/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'node us/tx':>20} {'n0 +us':>6} {'viewer CPU s':>12} {'ratio':>6} {'load 1m':>11}"
    )
    for i, rd in enumerate(doc["rounds"], 1):
        for k in rd["order"]:
            x = rd["runs"][k]
            cpu = "/".join(str(c) for c in x["node_cpu_us_per_tx"])
            ratio = f"{rd['ratio'][k]:.3f}" if k in rd["ratio"] else ""
            out.line(
                f"  {i:<6} {k:<9} {fmt_rate(x['final_tps']):>7} {x['latency_ms']['p50']:>7.0f} "
                f"{x['latency_ms']['p99']:>7.0f} {cpu:>20} {x['node0_excess_us_per_tx']:>6.0f} "
                f"{x['viewers_cpu_s']:>12.1f} "
                f"{ratio:>6} {x['loadavg_1m'][0]:>5.1f}->{x['loadavg_1m'][1]:<5.1f}"
            )
    for k, o in doc["overall"].items():
        if k == "none":
            continue
        meets = "meets" if o["ratio"] >= doc["target_ratio"] else "MISSES"
        out.line(
            f"  {k}: mean {fmt_rate(o['final_tps_mean'])} tx/s against "
            f"{fmt_rate(doc['overall']['none']['final_tps_mean'])} without: ratio "
            f"{o['ratio']:.3f} ({meets} the target >= {doc['target_ratio']}); rounds "
            f"{o['ratios']}, median {o['ratio_median']:.3f}; node 0's CPU above its peers' grew by "
            f"{o['node0_added_us_per_tx']:.0f} us a tx, {o['node0_added_core_pct']:.1f} % of "
            f"a core: a validator bound by its own CPU would keep {o['node0_bound_ratio']:.3f}"
            " of its throughput"
        )
    last = doc["rounds"][-1]["runs"].get("emulated", {}).get("viewers_did")
    if last:
        out.line(
            f"  the emulated viewers' last run: requests {last['requests']}, websocket "
            f"{last['ws_messages']:,} messages ({last['ws_mb']} MB), errors {last['errors'] or 0}"
        )
        served = ", ".join(f"{k} {v['p50']:.0f}/{v['p99']:.0f}" for k, v in last["pages"].items())
        out.line(f"  their page loads, server ms p50/p99 under load: {served}")
    for k, x in doc["rounds"][-1]["runs"].items():
        prof = x.get("node0_profile")
        if not prof:
            continue
        out.line(f"  node 0 with viewers {k}, py-spy ({prof['samples']} samples, {prof['file']}):")
        out.line("    own: " + "; ".join(f"{f} {p}%" for f, p in prof["own_pct"][:8]))
        out.line("    API/explorer, inclusive: ")
        for f, p in prof["api_inclusive_pct"]:
            out.line(f"      {p:>5.1f}%  {f}")
    real = doc["rounds"][-1]["runs"].get("real", {}).get("viewers_did")
    if real:
        out.line(
            f"  real browsers' last run: {real['requests_total']} requests, pages "
            f"{real['visibility']}"
        )


def main() -> None:
    """Parse the flags, run the parts asked for, print."""
    p = arg_parser(__doc__.splitlines()[0])
    p.add_argument("--only", choices=("pages", "load"), help="run one part only")
    p.add_argument("--txs", type=int, help=f"transfers on the chain (default {TXS_DEFAULT:,})")
    p.add_argument("--validators", type=int, default=1, help="validators building the chain")
    p.add_argument("--gets", type=int, help=f"GETs a page (default {GETS_DEFAULT})")
    p.add_argument("--dir", help="where the chain is built, or reused from")
    p.add_argument("--keep", action="store_true", help="keep the chain built in --dir")
    p.add_argument("--load-txs", type=int, help=f"transfers a load (default {LOAD_TXS_DEFAULT:,})")
    p.add_argument("--rounds", type=int, help=f"rounds of the load (default {ROUNDS_DEFAULT})")
    p.add_argument("--real-browsers", action="store_true", help="also 5 headless Chromium pages")
    p.add_argument(
        "--profile",
        action="store_true",
        help="py-spy (on PATH, or --py-spy) records node 0 during each load",
    )
    p.add_argument("--py-spy", help="the py-spy executable for --profile")
    p.add_argument(
        "--viewer-parts",
        default=",".join(VIEWER_PARTS),
        help=f"what emulated browsers do, some of {','.join(VIEWER_PARTS)} (default: all)",
    )
    args = p.parse_args()
    args.txs = args.txs or (QUICK_TXS if args.quick else TXS_DEFAULT)
    args.gets = args.gets or (QUICK_GETS if args.quick else GETS_DEFAULT)
    args.load_txs = args.load_txs or (QUICK_LOAD_TXS if args.quick else LOAD_TXS_DEFAULT)
    args.rounds = args.rounds or (QUICK_ROUNDS if args.quick else ROUNDS_DEFAULT)
    args.parts = frozenset(x for x in args.viewer_parts.split(",") if x)
    if not args.parts <= set(VIEWER_PARTS):
        raise SystemExit(f"--viewer-parts takes some of {','.join(VIEWER_PARTS)}")
    args.spy = (args.py_spy or shutil.which("py-spy")) if args.profile else None
    if args.profile and args.spy is None:
        raise SystemExit("--profile needs py-spy: pip install py-spy, or name it with --py-spy")
    if args.real_browsers and not Path(CHROMIUM).is_file():
        raise SystemExit(f"--real-browsers needs {CHROMIUM}")
    out = Reporter(args.json)
    info = machine_info()
    info["verify_per_s"] = round(raw_verify_rate())
    result: dict[str, Any] = {"bench": "explorer", "quick": args.quick, "machine": info}
    out.line(
        f"machine: {machine_line(info)}; load average {info['loadavg_1m']:.2f} at start; raw "
        f"Ed25519 verify {info['verify_per_s']:,}/s"
    )
    note = load_note(info)
    if note:
        out.line(note)
    out.line()
    if args.only != "load":
        result["pages"] = run_pages(args, out)
        print_pages(result["pages"], out)
        out.line()
    if args.only != "pages":
        result["load"] = run_load(args, out)
        print_load(result["load"], out)
    out.emit(result)


if __name__ == "__main__":
    main()

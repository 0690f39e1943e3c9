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

The parts live beside this file, one job each: explorer_chain.py builds (or reuses) the
chain, explorer_pages.py times its pages, explorer_viewers.py is the browsers,
explorer_load.py the rounds they are measured in, explorer_measure.py what they share.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from common import Reporter, arg_parser, fmt_rate, load_note, machine_info, machine_line
from explorer_load import run_load
from explorer_pages import run_pages
from explorer_viewers import CHROMIUM, VIEWER_PARTS
from govchain.node.bench import raw_verify_rate

TXS_DEFAULT = 1_000_000
QUICK_TXS = 20_000
GETS_DEFAULT = 50
QUICK_GETS = 20
LOAD_TXS_DEFAULT = 20_000
QUICK_LOAD_TXS = 10_000
ROUNDS_DEFAULT = 2
QUICK_ROUNDS = 1


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

"""Run every benchmark one after another and print a Markdown summary for the README.

Each benchmark runs in its own process (with --json), so one's garbage and caches
do not colour the next; they run in sequence, never side by side, since the
machine has only two cores.

    PYTHONPATH=src python bench/run_all.py [--quick] [--json] [--clock cpu|wall]
    PYTHONPATH=src python bench/run_all.py --from saved.json   # tables from a --json run
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import fmt_opt, fmt_rate, machine_line

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
BENCHES = ("bench_admission", "bench_execution", "bench_consensus")


def run_bench(name: str, quick: bool, clock: str) -> dict[str, Any]:
    """Run one benchmark with --json; its progress lines go straight to our stderr."""
    cmd = [sys.executable, str(BENCH_DIR / f"{name}.py"), "--json", "--clock", clock]
    if quick:
        cmd.append("--quick")
    env = dict(os.environ)
    src = str(ROOT / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    print(f"== {name}{' --quick' if quick else ''}", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed with exit code {proc.returncode}")
    result: dict[str, Any] = json.loads(proc.stdout)
    result["wall_seconds"] = time.perf_counter() - t0
    print(f"   done in {result['wall_seconds']:.1f} s", file=sys.stderr, flush=True)
    return result


def markdown(results: dict[str, dict[str, Any]], quick: bool) -> str:
    """Two compact tables: ledger stages, then consensus in the simulator."""
    adm = results["bench_admission"]
    exe = results["bench_execution"]
    con = results["bench_consensus"]
    today = datetime.date.today().isoformat()
    mode = ("quick run" if quick else "full run") + f", {adm['clock']} clock"
    lines = [
        f"Machine: {machine_line(adm['machine'])} ({mode}, {today})",
        "",
        "| Stage (one core) | Throughput | Raw Ed25519 verify/s, same run | Notes |",
        "|---|---:|---:|---|",
    ]
    parts = adm["breakdown_us_per_tx"]
    sig_share = parts["check_signature"] / parts["admit_total"]
    target = "meets" if adm["meets_target"] else "below"
    lines.append(
        f"| Admission: `Dag.admit`, signatures checked ({adm['txs']:,} transfers) "
        f"| {fmt_rate(adm['admission_per_s'])} tx/s | {fmt_rate(adm['raw_verify_per_s'])} "
        f"| ratio {adm['ratio']:.3f} ({target} target >= {adm['target_ratio']}); "
        f"signature check {sig_share:.0%} of per-tx cost |"
    )
    b = exe["batched"]
    lines.append(
        f"| Ordering: `order_new` + `cover` ({exe['checkpoints_batched']} checkpoints "
        f"of {exe['batch']:,}) | {fmt_rate(b['ordering_per_s'])} tx/s "
        f"| {fmt_rate(exe['raw_verify_per_s'])} "
        f"| {b['order_new_us_per_tx'] + b['cover_us_per_tx']:.1f} us/tx |"
    )
    lines.append(
        f"| Execution: `Ledger.execute`, transfers | {fmt_rate(b['execution_per_s'])} tx/s "
        f"| {fmt_rate(exe['raw_verify_per_s'])} | {b['execute_us_per_tx']:.1f} us/tx, "
        f"receipts root {exe['receipts_root_us_per_tx']:.1f} of it |"
    )
    lines += [
        "",
        f"Consensus in the simulator (faults=none, safety phase {con['safety_ms'] / 1000:g} s, "
        f"{con['seeds_per_size']} seed(s) each; raw verify {fmt_rate(con['raw_verify_per_s'])}/s):",
        "",
        "| Validators | Checkpoints / simulated s | Messages / checkpoint "
        "| of which consensus | Wall s / simulated s | CPU s / simulated s | Violations |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in con["summary"]:
        lines.append(
            f"| {s['validators']} | {s['checkpoints_per_sim_s']:.2f} "
            f"| {fmt_opt(s['messages_per_checkpoint'], '.0f')} "
            f"| {fmt_opt(s['consensus_messages_per_checkpoint'], '.0f')} "
            f"| {s['wall_s_per_sim_s']:.2f} | {s['cpu_s_per_sim_s']:.2f} | {s['violations']} |"
        )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="each benchmark in about 5 seconds")
    p.add_argument("--json", action="store_true", help="print all results as one JSON object")
    p.add_argument("--clock", choices=("cpu", "wall"), default="cpu", help="passed to each")
    p.add_argument(
        "--from",
        dest="from_file",
        metavar="FILE",
        help="render the tables from saved --json output",
    )
    args = p.parse_args()
    if args.from_file:
        saved = json.loads(Path(args.from_file).read_text(encoding="utf-8"))
        print(markdown(saved["results"], saved["quick"]))
        return
    results = {name: run_bench(name, args.quick, args.clock) for name in BENCHES}
    if args.json:
        print(json.dumps({"quick": args.quick, "results": results}))
    else:
        print(markdown(results, args.quick))


if __name__ == "__main__":
    main()

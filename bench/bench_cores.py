"""Scaling with cores (issue 17, target 3): one validator at 0, 1 and 2 verify workers.

Runs `govchain bench --validators 1` (node/bench.py run_bench) once per
verify-worker setting and client back-pressure threshold (node.json
client_pending_max: the default 1,000, at which the latency budget rather
than the CPU bounds one validator on this machine, and 4,000, at which the
event loop's core does) and prints, for each: final tx/s, latency p50/p99
(from the 202, and from the request, to final), the node's CPU per
transaction by thread and its verify workers' apart, and the loader's.
Before that, on one core of this process: libsodium's raw verify rate, and
the rate of the worker's whole per-wire job (decode wire and body, strict
verify, hash the id: node/verify_worker.py).
From these it prints what share of the node's CPU goes to signatures and
where it runs. It asserts nothing about speed.

    .venv/bin/python bench/bench_cores.py [--txs 30000] [--workers 0,1,2]
        [--client-pending-max 1000,4000] [--lanes 32] [--json]
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from common import (
    Reporter,
    bench_genesis,
    build_transfers,
    load_note,
    machine_info,
    machine_line,
    raw_verify_rate,
    sender_keys,
)
from govchain.dag.limits import DagLimits
from govchain.node.bench import run_bench
from govchain.node.verify_worker import verified_ids

WORKER_JOB_WIRES = 2_000
WORKER_JOB_SECONDS = 2.0
SENDERS = 64


def worker_job_rate(seconds: float = WORKER_JOB_SECONDS) -> float:
    """Wires a second one core checks as a verify worker does (verified_ids), CPU clock."""
    keys = sender_keys(SENDERS)
    genesis = bench_genesis(keys)
    txs = build_transfers(
        WORKER_JOB_WIRES, keys, genesis.hash, stamp_bits_min=DagLimits().stamp_bits_min
    )
    wires = [t.to_wire() for t in txs]
    done = 0
    start = time.process_time()
    while time.process_time() - start < seconds:
        ids = verified_ids(wires)
        if len(ids) != len(wires):
            raise RuntimeError(f"{len(wires) - len(ids)} honest wires did not verify")
        done += len(wires)
    return done / (time.process_time() - start)


def one_setting(txs: int, workers: int, queued: int, lanes: int) -> dict[str, Any]:
    """One single-validator run at this many verify workers, with the load average before it."""
    load = os.getloadavg()[0]
    r = run_bench(1, txs, verify_workers=workers, lanes_per_node=lanes, client_pending_max=queued)
    threads: dict[str, int] = r["node_thread_cpu_us_per_tx"][0]
    return {
        "verify_workers": workers,
        "client_pending_max": queued,
        "loadavg_1m_before": round(load, 2),
        "final_tps": r["final_tps"],
        "latency_ms": r["latency_ms"],
        "sent_to_final_ms": r["sent_to_final_ms"],
        "node_cpu_us_per_tx": r["node_cpu_us_per_tx"][0],
        "event_loop_cpu_us_per_tx": threads.get("main", 0),
        "other_threads_cpu_us_per_tx": sum(v for k, v in threads.items() if k != "main"),
        "workers_cpu_us_per_tx": r["verify_workers_cpu_us_per_tx"][0],
        "loader_cpu_us_per_tx": r["loader_cpu_us_per_tx"],
        "refused_retried": r["refused_retried"],
        "checkpoints": r["checkpoints"],
        "verify_per_s_in_run": r["verify_per_s"],
    }


def main() -> None:
    """Measure one core's verify rates, then the validator at each worker setting."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--txs", type=int, default=30_000, help="transfers a run (100-1000000)")
    ap.add_argument("--workers", default="0,1,2", help="verify-worker settings, comma-separated")
    ap.add_argument(
        "--client-pending-max",
        default="1000,4000",
        help="each node's back-pressure thresholds to run, comma-separated (default 1,000)",
    )
    ap.add_argument("--lanes", type=int, default=32, help="the loader's requests in flight")
    ap.add_argument("--json", action="store_true", help="print one JSON object, nothing else")
    args = ap.parse_args()
    settings = [int(w) for w in args.workers.split(",")]
    budgets = [int(q) for q in args.client_pending_max.split(",")]
    rep = Reporter(args.json)
    info = machine_info()
    rep.line(f"Machine: {machine_line(info)}")
    note = load_note(info)
    if note:
        rep.line(note)
    rep.progress("one core: raw verify, then the worker's whole job")
    raw = raw_verify_rate()
    job = worker_job_rate()
    raw_us, job_us = 1e6 / raw, 1e6 / job
    rep.line(f"one core: raw Ed25519 verify {raw:,.0f}/s ({raw_us:.1f} µs)")
    rep.line(f"one core: a worker's job per wire {job:,.0f}/s ({job_us:.1f} µs)")
    runs = []
    for q in budgets:
        for w in settings:
            rep.progress(
                f"one validator, {w} verify worker(s), client_pending_max {q:,}, "
                f"{args.txs:,} transfers"
            )
            runs.append(one_setting(args.txs, w, q, args.lanes))
    rep.line()
    rep.line(
        "| client_pending_max | workers | final tx/s | 202→final p50 / p99 ms "
        "| request→final p50 / p99 ms | event loop µs/tx | other threads µs/tx "
        "| workers µs/tx | loader µs/tx | refused, sent again | load before |"
    )
    rep.line("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in runs:
        lat, sent = r["latency_ms"], r["sent_to_final_ms"]
        rep.line(
            f"| {r['client_pending_max']:,} | {r['verify_workers']} | {r['final_tps']:,.0f} "
            f"| {lat['p50']:.0f} / {lat['p99']:.0f} | {sent['p50']:.0f} / {sent['p99']:.0f} "
            f"| {r['event_loop_cpu_us_per_tx']} | {r['other_threads_cpu_us_per_tx']} "
            f"| {r['workers_cpu_us_per_tx']} | {r['loader_cpu_us_per_tx']} "
            f"| {r['refused_retried']:,} | {r['loadavg_1m_before']:.2f} |"
        )
    rep.line()
    for r in runs:
        node_us = r["node_cpu_us_per_tx"] + r["workers_cpu_us_per_tx"]
        if r["verify_workers"] == 0:
            # One verify a transaction, on the event loop: its raw cost is the floor.
            share = raw_us / max(node_us, 1)
            where = f"on the event loop (about {raw_us:.0f} of its {node_us} µs/tx)"
        else:
            share = r["workers_cpu_us_per_tx"] / max(node_us, 1)
            where = (
                f"in {r['verify_workers']} worker process(es): {r['workers_cpu_us_per_tx']} "
                f"of {node_us} µs/tx; the event loop keeps {r['event_loop_cpu_us_per_tx']}"
            )
        rep.line(
            f"{r['client_pending_max']:,} / {r['verify_workers']} workers: signatures take "
            f"{share:.0%} of the node's CPU, {where}"
        )
        rep.line(
            f"   event loop ceiling: {1e6 / max(r['event_loop_cpu_us_per_tx'], 1):,.0f} tx/s "
            "(one core, nothing else on it)"
        )
    rep.emit(
        {
            "machine": info,
            "raw_verify_per_s": round(raw, 1),
            "worker_job_per_s": round(job, 1),
            "txs": args.txs,
            "lanes": args.lanes,
            "runs": runs,
        }
    )


if __name__ == "__main__":
    main()

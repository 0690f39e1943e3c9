"""Ordering and execution throughput: Dag.order_new + Dag.cover, then Ledger.execute.

Builds a DAG of transfers (admitted without signature checks: setup only, not
timed), then times putting it in final order and executing it, once as a single
checkpoint covering everything and once as a chain of checkpoints of --batch
vertices each (closer to a running node). Raw Ed25519 verify/s is printed beside
the rates, for scale: admission costs about one verify per transaction.

    PYTHONPATH=src python bench/bench_execution.py [--quick] [--json] [--profile]
"""

from __future__ import annotations

import cProfile
import io
import pstats
import statistics
import time
from collections.abc import Callable
from typing import Any

from common import (
    CHAIN_ID,
    Reporter,
    arg_parser,
    bench_genesis,
    build_transfers,
    fmt_rate,
    load_note,
    machine_info,
    machine_line,
    now,
    raw_verify_rate,
    sender_keys,
    set_clock,
)
from govchain.dag.graph import Dag
from govchain.dag.limits import DagLimits
from govchain.dag.tx import Transaction
from govchain.state.genesis import Genesis
from govchain.state.ledger import Ledger
from govchain.state.receipts import Status, receipts_root

NOW_MS = 1_000


def fresh_dag(gid: bytes, limits: DagLimits, txs: list[Transaction]) -> Dag:
    """A DAG holding txs, none covered (setup, not timed)."""
    dag = Dag(CHAIN_ID, gid, limits)
    for tx in txs:
        dag.admit_tx(tx, NOW_MS, verify_signature=False)
    return dag


def prefix_tips(gid: bytes, txs: list[Transaction], batch: int) -> list[list[bytes]]:
    """The DAG's tips after each batch-sized prefix: what each checkpoint names."""
    tips: dict[bytes, None] = {gid: None}
    out: list[list[bytes]] = []
    for i, tx in enumerate(txs, 1):
        for p in tx.body.parents:
            tips.pop(p, None)
        tips[tx.id] = None
        if i % batch == 0 or i == len(txs):
            out.append(sorted(tips))
    return out


class Timer:
    """Accumulates the time spent in marked sections."""

    def __init__(self) -> None:
        self.total = 0.0

    def __enter__(self) -> None:
        self._t0 = now()

    def __exit__(self, *exc: object) -> None:
        self.total += now() - self._t0


def run_pass(
    genesis: Genesis, limits: DagLimits, txs: list[Transaction], checkpoints: list[list[bytes]]
) -> dict[str, float]:
    """One pass over all checkpoints on a fresh DAG and ledger; seconds per section."""
    dag = fresh_dag(genesis.hash, limits, txs)
    ledger = Ledger(genesis)
    order_t, cover_t, exec_t = Timer(), Timer(), Timer()
    executed = 0
    for height, tips in enumerate(checkpoints, 1):
        with order_t:
            order = dag.order_new(tips)
        with cover_t:
            dag.cover(order, height)
        batch = [dag.vertices[i].tx for i in order]  # what replica._execute does
        with exec_t:
            result = ledger.execute(height, batch)
        executed += sum(r.status == Status.EXECUTED for r in result.receipts)
    assert dag.uncovered_count == 0, "checkpoints did not cover the whole DAG"
    assert executed == len(txs), f"only {executed} of {len(txs)} transfers executed"
    assert ledger.total_supply() == genesis.supply
    return {"order_new": order_t.total, "cover": cover_t.total, "execute": exec_t.total}


def best_pass(fn: Callable[[], dict[str, float]], reps: int) -> dict[str, float]:
    """Per-section minimum over reps passes."""
    runs = [fn() for _ in range(reps)]
    return {k: min(r[k] for r in runs) for k in runs[0]}


def main() -> None:
    p = arg_parser(__doc__.splitlines()[0])
    p.add_argument("--txs", type=int, help="transactions (default 20000, quick 5000)")
    p.add_argument("--senders", type=int, default=50)
    p.add_argument("--batch", type=int, default=1_000, help="vertices per checkpoint")
    p.add_argument("--reps", type=int, default=3, help="timed passes; the best counts")
    p.add_argument("--verify-seconds", type=float, help="raw verify time (default 2, quick 0.6)")
    p.add_argument("--profile", action="store_true", help="also cProfile one batched pass")
    args = p.parse_args()
    set_clock(args.clock)
    n = args.txs or (5_000 if args.quick else 20_000)
    verify_s = args.verify_seconds or (0.6 if args.quick else 2.0)
    out = Reporter(args.json)
    info = machine_info()

    # One pool holds the whole run: no back-pressure limit applies here.
    limits = DagLimits(sender_pending_max=10**9, pending_count_max=10**9, client_pending_max=10**9)
    keys = sender_keys(args.senders)
    genesis = bench_genesis(keys)
    out.progress(f"building {n} transfers (no stamp work: admission is not measured here)...")
    t0 = time.perf_counter()
    # The stamp only matters to decode_checked, which this benchmark does not call.
    txs = build_transfers(n, keys, genesis.hash, stamp_bits_min=0)
    build_s = time.perf_counter() - t0

    raw_before = raw_verify_rate(verify_s / 2)
    single = [prefix_tips(genesis.hash, txs, n)[-1]]
    batched = prefix_tips(genesis.hash, txs, args.batch)
    one = best_pass(lambda: run_pass(genesis, limits, txs, single), args.reps)
    many = best_pass(lambda: run_pass(genesis, limits, txs, batched), args.reps)

    # Merkle root of receipts alone (part of execute), on one checkpoint's receipts.
    ledger = Ledger(genesis)
    dag = fresh_dag(genesis.hash, limits, txs)
    order = dag.order_new(single[0])
    receipts = ledger.execute(1, [dag.vertices[i].tx for i in order]).receipts
    root_times = []
    for _ in range(args.reps):
        t0 = now()
        receipts_root(receipts)
        root_times.append(now() - t0)
    root_s = min(root_times)
    raw_after = raw_verify_rate(verify_s / 2)
    raw = statistics.mean([raw_before, raw_after])

    def rates(sec: dict[str, float]) -> dict[str, float]:
        ordering = sec["order_new"] + sec["cover"]
        return {
            "ordering_per_s": n / ordering,
            "order_new_us_per_tx": sec["order_new"] / n * 1e6,
            "cover_us_per_tx": sec["cover"] / n * 1e6,
            "execution_per_s": n / sec["execute"],
            "execute_us_per_tx": sec["execute"] / n * 1e6,
            "order_and_execute_per_s": n / (ordering + sec["execute"]),
        }

    r_one, r_many = rates(one), rates(many)
    result: dict[str, Any] = {
        "bench": "execution",
        "quick": args.quick,
        "clock": args.clock,
        "machine": info,
        "txs": n,
        "senders": args.senders,
        "batch": args.batch,
        "checkpoints_batched": len(batched),
        "reps": args.reps,
        "build_seconds": build_s,
        "raw_verify_per_s": raw,
        "raw_verify_per_s_before": raw_before,
        "raw_verify_per_s_after": raw_after,
        "single_checkpoint": r_one,
        "batched": r_many,
        "receipts_root_us_per_tx": root_s / n * 1e6,
    }

    out.line(f"machine: {machine_line(info)}")
    note = load_note(info)
    if note:
        out.line(note)
    out.line(
        f"ordering and execution: {n} transfers from {args.senders} senders "
        f"(built in {build_s:.1f} s, not timed); best of {args.reps}, {args.clock} clock"
    )
    out.line()
    out.line(f"  {'':34} {'1 checkpoint':>14} {f'{len(batched)} x {args.batch}':>14}")
    rows = [
        ("ordering: order_new + cover, tx/s", "ordering_per_s", fmt_rate),
        ("  order_new, us/tx", "order_new_us_per_tx", lambda x: f"{x:.2f}"),
        ("  cover, us/tx", "cover_us_per_tx", lambda x: f"{x:.2f}"),
        ("execution: Ledger.execute, tx/s", "execution_per_s", fmt_rate),
        ("  execute, us/tx", "execute_us_per_tx", lambda x: f"{x:.2f}"),
        ("ordering + execution, tx/s", "order_and_execute_per_s", fmt_rate),
    ]
    for label, key, fmt in rows:
        out.line(f"  {label:<34} {fmt(r_one[key]):>14} {fmt(r_many[key]):>14}")
    out.line(f"  {'raw Ed25519 verify, /s':<34} {fmt_rate(raw):>14}")
    out.line(
        f"  receipts Merkle root: {root_s / n * 1e6:.2f} us/tx (inside execute); "
        f"execution is {r_many['execution_per_s'] / raw:.1f}x raw verify, "
        f"ordering {r_many['ordering_per_s'] / raw:.1f}x"
    )

    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        run_pass(genesis, limits, txs, batched)
        prof.disable()
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(20)
        out.line()
        out.line("cProfile of one batched pass, DAG set-up included (by own time):")
        out.line(buf.getvalue())
    out.emit(result)


if __name__ == "__main__":
    main()

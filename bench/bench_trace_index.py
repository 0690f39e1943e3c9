"""The movement index: what indexing movements costs a commit, its bytes, its reads.

Builds --checkpoints x --batch transfers among --senders accounts and their
executions with the real Dag and Ledger (not timed), then commits them into
fresh SQLite files, one commit per checkpoint: as executed (movements
indexed) and with the movements stripped (what the store wrote before the
index), ROUNDS times each, alternating. It prints the median commit time of
each and their ratio, the index's bytes
per movement (the difference of the two files), and the latency of reading
one account's movements over every height (movements_of), p50 and p99.
Wall clock: fsync time is not CPU time.

    PYTHONPATH=src python bench/bench_trace_index.py [--quick] [--json]
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench_storage import Timed, build_workload, checkpoint_wal, commit_timed, whole_readies
from common import (
    Reporter,
    arg_parser,
    bench_genesis,
    build_transfers,
    fmt_rate,
    machine_info,
    machine_line,
    sender_keys,
)
from govchain.replica.execution import Execution
from govchain.replica.outputs import ReplicaReady
from govchain.storage.sqlite import SqliteStore

ROUNDS = 3  # each variant committed this many times, alternating; medians reported
READS = 200  # accounts whose movements are read back, for the latency figures
SEED = 5


def stripped(readies: list[ReplicaReady]) -> list[ReplicaReady]:
    """The same readies, their executions without movements (the store before the index)."""
    return [
        replace(
            r,
            executed=[
                Execution(ex.checkpoint, ex.txs, replace(ex.result, movements=()))
                for ex in r.executed
            ],
        )
        for r in readies
    ]


def commit_into(path: Path, readies: list[ReplicaReady]) -> tuple[Timed, int]:
    """Commit readies into a fresh file; returns the time taken and the file's size."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    timed = Timed()
    with SqliteStore(path) as store:
        commit_timed(store, readies, timed)
    checkpoint_wal(path)
    return timed, path.stat().st_size


def median_of(runs: list[Timed]) -> Timed:
    """Median wall and median CPU time of runs."""
    out = Timed()
    out.add(statistics.median(t.wall for t in runs), statistics.median(t.cpu for t in runs))
    return out


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of values, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    p = arg_parser(__doc__.splitlines()[0])
    p.set_defaults(clock="wall")
    p.add_argument("--checkpoints", type=int, help="checkpoints (default 40, quick 5)")
    p.add_argument("--batch", type=int, default=1_000, help="transactions per checkpoint")
    p.add_argument("--senders", type=int, default=50)
    args = p.parse_args()
    n_cp = args.checkpoints or (5 if args.quick else 40)
    out = Reporter(args.json)
    info = machine_info()
    keys = sender_keys(args.senders)
    genesis = bench_genesis(keys)
    n = n_cp * args.batch
    out.progress(f"building {n} transfers and {n_cp} executions (not timed)...")
    txs = build_transfers(n, keys, genesis.hash, stamp_bits_min=0)
    w = build_workload(genesis, txs, args.batch)
    readies = whole_readies(w)
    movements = sum(len(ex.result.movements) for ex in w.executed)

    base = Path(tempfile.mkdtemp(prefix="govchain-bench-trace-"))
    plain = stripped(readies)
    runs_without: list[Timed] = []
    runs_with: list[Timed] = []
    for _ in range(ROUNDS):
        t, size_without = commit_into(base / "without.db", plain)
        runs_without.append(t)
        t, size_with = commit_into(base / "with.db", readies)
        runs_with.append(t)
    without, with_index = median_of(runs_without), median_of(runs_with)

    rng = random.Random(SEED)
    latencies_ms: list[float] = []
    found = 0
    with SqliteStore(base / "with.db") as store:
        top = store.top_height()
        for key in rng.sample(keys, min(READS, len(keys))):
            t0 = time.perf_counter()
            found += sum(1 for _ in store.movements_of(key.address, 1, top))
            latencies_ms.append((time.perf_counter() - t0) * 1e3)

    result: dict[str, Any] = {
        "bench": "trace_index",
        "quick": args.quick,
        "machine": info,
        "checkpoints": n_cp,
        "txs": n,
        "movements": movements,
        "commit_s_without": without.wall,
        "commit_s_with": with_index.wall,
        "rounds": ROUNDS,
        "commit_rate_ratio": without.wall / with_index.wall,
        "cpu_s_without": without.cpu,
        "cpu_s_with": with_index.cpu,
        "index_bytes_per_movement": (size_with - size_without) / max(movements, 1),
        "read_ms_p50": percentile(latencies_ms, 0.5),
        "read_ms_p99": percentile(latencies_ms, 0.99),
        "movements_per_account_read": found / max(len(latencies_ms), 1),
    }
    out.line(machine_line(info))
    out.line(f"{n} transfers, {movements} movements, {n_cp} commits, {args.senders} accounts")
    out.line(
        f"commit without index {without.wall:.2f} s ({fmt_rate(n / without.wall)} tx/s), "
        f"with {with_index.wall:.2f} s ({fmt_rate(n / with_index.wall)} tx/s): "
        f"ratio {result['commit_rate_ratio']:.3f}"
    )
    out.line(f"index bytes per movement: {result['index_bytes_per_movement']:.1f}")
    out.line(
        f"movements_of over all heights: p50 {result['read_ms_p50']:.2f} ms, "
        f"p99 {result['read_ms_p99']:.2f} ms "
        f"({result['movements_per_account_read']:.0f} movements an account)"
    )
    out.emit(result)


if __name__ == "__main__":
    main()

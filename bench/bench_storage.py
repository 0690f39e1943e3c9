"""Storage throughput: SqliteStore.commit of checkpoints, admission batches, and load().

Builds --checkpoints x --batch transfers and their executions with the real Dag
and Ledger (admitted without signature checks: set-up only, not timed), then
times committing them into a fresh SQLite file (WAL, synchronous=FULL: every
commit is fsync'd) in three shapes:

  whole:    one commit per checkpoint holding its decision, its execution and
            its vertices (what a replica writes while catching up);
  split:    the vertices first in commits of --gossip each (admission), then one
            commit per checkpoint that covers them (the steady state);
  single:   --singles commits of one admitted vertex each (fsync-bound).

It prints commits/s, transactions/s and bytes on disk per transaction, and the
time load() takes to read everything back. The in-memory store is timed on the
"whole" shape for scale. Wall clock by default: fsync time is not CPU time.

    PYTHONPATH=src python bench/bench_storage.py [--quick] [--json] [--dir DIR]
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
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
    raw_verify_rate,
    sender_keys,
    set_clock,
)
from govchain.consensus.messages import Certificate, Checkpoint
from govchain.consensus.tendermint import HardState
from govchain.dag.graph import Dag
from govchain.dag.limits import DagLimits
from govchain.dag.tx import Transaction
from govchain.replica.execution import Execution
from govchain.replica.outputs import ReplicaReady
from govchain.state.audit import AUDIT_EMPTY
from govchain.state.genesis import Genesis
from govchain.state.ledger import Ledger
from govchain.storage.memory import MemoryStore
from govchain.storage.sqlite import SqliteStore

NOW_MS = 1_000


@dataclass
class Workload:
    """Per checkpoint: its decision, its execution, and the vertices it newly covers."""

    decided: list[tuple[Checkpoint, Certificate]]
    executed: list[Execution]
    batches: list[list[Transaction]]  # in admission order

    @property
    def txs(self) -> int:
        return sum(len(b) for b in self.batches)


def build_workload(genesis: Genesis, txs: list[Transaction], batch: int) -> Workload:
    """Admit (no signature checks), order, cover and execute batch by batch."""
    dag = Dag(CHAIN_ID, genesis.hash, DagLimits(sender_pending_max=10**9))
    ledger = Ledger(genesis)
    valset = genesis.validators
    previous = genesis.hash
    out = Workload([], [], [])
    for height, start in enumerate(range(0, len(txs), batch), 1):
        chunk = txs[start : start + batch]
        for tx in chunk:
            dag.admit_tx(tx, NOW_MS, verify_signature=False)
        tips = tuple(dag.uncovered_tips())
        cp = Checkpoint(
            chain_id=CHAIN_ID,
            height=height,
            previous=previous,
            time_ms=NOW_MS + height,
            tips=tips,
            state_hash=ledger.state_hash,
            receipts_root=ledger.receipts_root,
            audit_head=AUDIT_EMPTY,
            validator_set_hash=valset.hash,
        )
        # The store does not verify certificates: a placeholder signature will do.
        cert = Certificate(height, 0, cp.hash, ((0, bytes(64)),))
        order = dag.order_new(tips)
        dag.cover(order, height)
        covered = tuple(dag.vertices[i].tx for i in order)
        assert len(covered) == len(chunk), "a checkpoint must cover exactly its batch"
        out.decided.append((cp, cert))
        out.executed.append(Execution(cp, covered, ledger.execute(height, covered)))
        out.batches.append(chunk)
        previous = cp.hash
    return out


def hard_state(height: int) -> HardState:
    return HardState(height=height + 1, round=0, step=0)


def whole_readies(w: Workload) -> list[ReplicaReady]:
    return [
        ReplicaReady(
            hard_state=hard_state(h),
            decided=[w.decided[h - 1]],
            executed=[w.executed[h - 1]],
            admitted=list(w.batches[h - 1]),
        )
        for h in range(1, len(w.decided) + 1)
    ]


def disk_bytes(path: Path) -> int:
    """The file's size (call after checkpoint_wal: what a restarted node keeps)."""
    return path.stat().st_size


def fs_type(directory: Path) -> str:
    """The file system type of directory from /proc/mounts (tmpfs makes fsync free)."""
    best, kind = "", "unknown"
    try:
        real = str(directory.resolve())
        with open("/proc/mounts", encoding="utf-8") as f:
            for line in f:
                parts = line.split()
                mount = parts[1]
                if (real == mount or real.startswith(mount.rstrip("/") + "/")) and len(
                    mount
                ) >= len(best):
                    best, kind = mount, parts[2]
    except OSError:
        pass
    return kind


@dataclass
class Timed:
    wall: float = 0.0
    cpu: float = 0.0

    def add(self, wall: float, cpu: float) -> None:
        self.wall += wall
        self.cpu += cpu


def commit_timed(store: Any, readies: list[ReplicaReady], into: Timed) -> None:
    for r in readies:
        w0, c0 = time.perf_counter(), time.process_time()
        store.commit(r)
        into.add(time.perf_counter() - w0, time.process_time() - c0)


def checkpoint_wal(path: Path) -> None:
    """Fold the WAL into the main file (the store is closed by now)."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def main() -> None:
    p = arg_parser(__doc__.splitlines()[0])
    p.set_defaults(clock="wall")
    p.add_argument("--checkpoints", type=int, help="checkpoints (default 20, quick 5)")
    p.add_argument("--batch", type=int, default=1_000, help="transactions per checkpoint")
    p.add_argument("--gossip", type=int, default=100, help="vertices per admission commit")
    p.add_argument("--singles", type=int, help="one-vertex commits (default 300, quick 100)")
    p.add_argument("--senders", type=int, default=50)
    p.add_argument("--dir", type=Path, help="where to put the database (default: a temp dir)")
    args = p.parse_args()
    set_clock(args.clock)
    n_cp = args.checkpoints or (5 if args.quick else 20)
    singles = args.singles or (100 if args.quick else 300)
    out = Reporter(args.json)
    info = machine_info()

    keys = sender_keys(args.senders)
    genesis = bench_genesis(keys)
    n = n_cp * args.batch
    out.progress(f"building {n} transfers and {n_cp} executions (not timed)...")
    t0 = time.perf_counter()
    txs = build_transfers(n + singles, keys, genesis.hash, stamp_bits_min=0)
    w = build_workload(genesis, txs[:n], args.batch)
    extra = txs[n:]  # admitted one per commit after the checkpoints
    build_s = time.perf_counter() - t0

    raw = raw_verify_rate(0.3 if args.quick else 1.0)
    base = args.dir or Path(tempfile.mkdtemp(prefix="govchain-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "bench": "storage",
        "quick": args.quick,
        "clock": "wall and cpu",
        "machine": info,
        "filesystem": fs_type(base),
        "checkpoints": n_cp,
        "batch": args.batch,
        "txs": n,
        "gossip": args.gossip,
        "build_seconds": build_s,
        "raw_verify_per_s": raw,
    }

    # -- whole: one commit per checkpoint with its vertices ----------------------
    path = base / "whole.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    whole = Timed()
    with SqliteStore(path) as store:
        commit_timed(store, whole_readies(w), whole)
        single = Timed()
        commit_timed(store, [ReplicaReady(admitted=[tx]) for tx in extra], single)
    checkpoint_wal(path)
    size = disk_bytes(path)
    with SqliteStore(path) as store:
        w0, c0 = time.perf_counter(), time.process_time()
        loaded = store.load()
        load_wall, load_cpu = time.perf_counter() - w0, time.process_time() - c0
        assert len(loaded.executed) == n_cp and len(loaded.vertices) == len(extra)
        probe = [tx.id for b in w.batches for tx in b[:: max(1, args.batch // 50)]]
        w0 = time.perf_counter()
        for vid in probe:
            assert store.get_tx(vid) is not None
        get_tx_s = time.perf_counter() - w0
    result["whole"] = {
        "commits_per_s": n_cp / whole.wall,
        "txs_per_s": n / whole.wall,
        "ms_per_commit": whole.wall / n_cp * 1e3,
        "cpu_ms_per_commit": whole.cpu / n_cp * 1e3,
        "bytes_per_tx": size / (n + len(extra)),
        "file_bytes": size,
    }
    result["single"] = {
        "commits_per_s": len(extra) / single.wall,
        "ms_per_commit": single.wall / len(extra) * 1e3,
        "cpu_ms_per_commit": single.cpu / len(extra) * 1e3,
    }
    result["load"] = {
        "seconds": load_wall,
        "cpu_seconds": load_cpu,
        "txs_per_s": (n + len(extra)) / load_wall,
    }
    result["get_tx_per_s"] = len(probe) / get_tx_s

    # -- split: admission commits, then checkpoint commits that cover them -------
    path = base / "split.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    admit, cover = Timed(), Timed()
    admit_commits = 0
    with SqliteStore(path) as store:
        for h in range(1, n_cp + 1):
            b = w.batches[h - 1]
            gossip = [
                ReplicaReady(admitted=b[i : i + args.gossip]) for i in range(0, len(b), args.gossip)
            ]
            admit_commits += len(gossip)
            commit_timed(store, gossip, admit)
            ready = ReplicaReady(
                hard_state=hard_state(h), decided=[w.decided[h - 1]], executed=[w.executed[h - 1]]
            )
            commit_timed(store, [ready], cover)
    checkpoint_wal(path)
    result["split"] = {
        "admission_commits_per_s": admit_commits / admit.wall,
        "admission_txs_per_s": n / admit.wall,
        "admission_cpu_ms_per_commit": admit.cpu / admit_commits * 1e3,
        "checkpoint_commits_per_s": n_cp / cover.wall,
        "checkpoint_ms_per_commit": cover.wall / n_cp * 1e3,
        "checkpoint_cpu_ms_per_commit": cover.cpu / n_cp * 1e3,
        "txs_per_s_overall": n / (admit.wall + cover.wall),
        "bytes_per_tx": disk_bytes(path) / n,
    }

    # -- the in-memory twin, for scale ------------------------------------------------
    mem = Timed()
    commit_timed(MemoryStore(), whole_readies(w), mem)
    result["memory_whole_commits_per_s"] = n_cp / mem.wall
    if args.dir is None:
        for f in base.iterdir():
            f.unlink()
        base.rmdir()

    wh, sp, si, ld = result["whole"], result["split"], result["single"], result["load"]
    out.line(f"machine: {machine_line(info)}")
    note = load_note(info)
    if note:
        out.line(note)
    out.line(
        f"storage: {n_cp} checkpoints x {args.batch} transfers (built in {build_s:.1f} s, "
        f"not timed); SQLite {result['filesystem']} file, WAL, synchronous=FULL; wall clock"
    )
    out.line()
    out.line(
        f"  whole (decision + execution + vertices per commit): "
        f"{wh['commits_per_s']:.1f} commits/s = {fmt_rate(wh['txs_per_s'])} tx/s "
        f"({wh['ms_per_commit']:.1f} ms/commit, {wh['cpu_ms_per_commit']:.1f} ms CPU)"
    )
    out.line(
        f"  split: admission in commits of {args.gossip}: "
        f"{sp['admission_commits_per_s']:.1f} commits/s = "
        f"{fmt_rate(sp['admission_txs_per_s'])} tx/s "
        f"({sp['admission_cpu_ms_per_commit']:.1f} ms CPU/commit); checkpoint covering them: "
        f"{sp['checkpoint_commits_per_s']:.1f} commits/s ({sp['checkpoint_ms_per_commit']:.1f} "
        f"ms, {sp['checkpoint_cpu_ms_per_commit']:.1f} ms CPU); overall "
        f"{fmt_rate(sp['txs_per_s_overall'])} tx/s"
    )
    out.line(
        f"  single-vertex commits: {si['commits_per_s']:.0f} commits/s "
        f"({si['ms_per_commit']:.2f} ms, {si['cpu_ms_per_commit']:.2f} ms CPU)"
    )
    out.line(
        f"  on disk: {wh['bytes_per_tx']:.0f} bytes/tx (whole), {sp['bytes_per_tx']:.0f} "
        f"bytes/tx (split), WAL folded in"
    )
    out.line(
        f"  load() of {n + len(extra)} vertices: {ld['seconds']:.2f} s "
        f"({fmt_rate(ld['txs_per_s'])} tx/s); get_tx: {fmt_rate(result['get_tx_per_s'])}/s"
    )
    out.line(
        f"  MemoryStore, whole: {result['memory_whole_commits_per_s']:.0f} commits/s "
        f"(validation and copies only); raw Ed25519 verify {fmt_rate(raw)}/s for scale"
    )
    out.emit(result)


if __name__ == "__main__":
    main()

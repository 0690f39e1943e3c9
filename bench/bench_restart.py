"""How long a node with a long chain takes to restart, with its snapshot and without.

Builds a one-validator chain of --txs transfers in --dir (kept and reused:
building a million takes minutes, most of it stamping and signing), by
driving the node's own Replica over its SqliteStore in this process, the
way the node does, without the network in between. Then starts the real
node process (`govchain node --home`) on it and times it from spawn to its
API answering at the chain's height, reporting its peak RSS:

- as built: the store holds snapshots (replica/snapshot.py), so the node
  loads the newest and re-executes only the heights after it;
- from genesis: a copy of the store with its snapshots deleted, which the
  node replays whole (what every restart did before snapshots);
- pruned: a copy pruned as `govchain node --prune` does (the ids of what
  both snapshots hold final stay, the rest of those rows goes): how long the
  prune takes, what it frees (pages SQLite reuses; `VACUUM` would hand them
  back to the file system), and the node's start on it.

    python bench/bench_restart.py --txs 1000000 --dir /tmp/restart-1m
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from common import Reporter, machine_info
from govchain.apps.catalog import registry_for
from govchain.codec import encode
from govchain.consensus.validators import ValidatorSet
from govchain.crypto.keys import SigningKey
from govchain.dag.kinds import Kind
from govchain.dag.limits import DagLimits
from govchain.dag.tx import build
from govchain.node.files import Home, NodeConfig, read_genesis, read_key, read_node_config
from govchain.node.node import node_replica_config
from govchain.replica.replica import Replica
from govchain.state.genesis import Genesis
from govchain.state.payloads import TransferPayload
from govchain.storage.sources import StoreSources
from govchain.storage.sqlite import SqliteStore

SENDERS = 200
CHUNK_PER_SENDER = 250  # 50,000 transactions signed ahead at a time
SUBMIT_BATCH = 500  # below DagLimits.client_pending_max (1,000)
TICKS_PER_BATCH = 1
TICK_MS = 60
READY_TIMEOUT_S = 600.0
MANIFEST = "bench_restart.json"


def _senders() -> list[SigningKey]:
    return [SigningKey.from_label(f"restart-sender-{i}") for i in range(SENDERS)]


def _sign_chunk(args: tuple[str, int, int, bytes, int, int]) -> tuple[list[bytes], bytes]:
    """One sender's next transfers, each naming the previous: their wires, and the last id."""
    chain_id, index, nonce, prev, count, valid_until = args
    keys = _senders()
    key, to = keys[index], keys[(index + 1) % len(keys)].address
    limits = DagLimits()
    out: list[bytes] = []
    for n in range(nonce, nonce + count):
        tx = build(
            key,
            chain_id=chain_id,
            kind=Kind.TRANSFER,
            nonce=n,
            parents=[prev],
            valid_until=valid_until,
            payload=encode(TransferPayload(to, 1)),
            stamp_bits_min=limits.stamp_bits_min,
        )
        out.append(tx.to_wire())
        prev = tx.id
    return out, prev


def make_home(home: Path, sync_every: int = 0) -> None:
    """A one-validator chain's home: its 200 senders funded, sync heights every sync_every."""
    node_key = SigningKey.from_label("restart-validator")
    genesis = Genesis(
        chain_id="govchain-restart-bench",
        time_ms=1_700_000_000_000,
        balances=tuple(sorted((k.address, 10**12) for k in _senders())),
        validators=ValidatorSet.of({node_key.public_key: 1}),
        committee=((node_key.public_key, 1),),
        threshold=1,
        typed_audit=True,
        sync_every=sync_every,
    )
    port = free_port()
    cfg = NodeConfig("restart", "127.0.0.1", port, "127.0.0.1", free_port(), ())
    Home(home).write(cfg, genesis, node_key)


def free_port() -> int:
    """A port free now on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_chain(home: Path, txs: int, rep: Reporter) -> dict[str, Any]:
    """Drive the node's replica over its store until txs transfers are final."""
    h = Home(home)
    genesis = read_genesis(h.genesis_path)
    key = read_key(h.key_path)
    store = SqliteStore(h.store_path)
    src = StoreSources(store)
    replica = Replica(
        key.public_key.hex(),
        genesis,
        key,
        [],
        node_replica_config(genesis, read_node_config(h.config_path)),
        store.load(),
        vertex_source=src.vertex,
        final_source=src.is_final,
        receipt_source=src.receipt_proof,
        decided_source=src.checkpoint,
        audit_source=src.audit,
        registry=registry_for(genesis),
    )
    now = genesis.time_ms + 1_000
    replica.start(now)
    nonces = [0] * SENDERS
    prevs = [genesis.hash] * SENDERS
    window = DagLimits().validity_window_heights_max
    sign_s = drive_s = 0.0
    done = 0
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        while done < txs:
            per = min(CHUNK_PER_SENDER, -(-(txs - done) // SENDERS))
            t0 = time.perf_counter()
            until = replica.ledger.height + window // 2
            jobs = [(genesis.chain_id, i, nonces[i], prevs[i], per, until) for i in range(SENDERS)]
            signed = list(pool.map(_sign_chunk, jobs, chunksize=8))
            chunks = [w for w, _ in signed]
            sign_s += time.perf_counter() - t0
            t0 = time.perf_counter()
            # Round-robin over senders, so that each batch holds parents before children.
            wires = [chunks[i][n] for n in range(per) for i in range(SENDERS)][: txs - done]
            for i in range(0, len(wires), SUBMIT_BATCH):
                # Keep the pool within its bounds: checkpoints drain it a height at a time.
                while replica.dag.uncovered_count > SUBMIT_BATCH:
                    now += TICK_MS
                    replica.tick(now)
                    store.commit(replica.ready())
                for r in replica.submit_many(wires[i : i + SUBMIT_BATCH], now):
                    if isinstance(r, Exception):
                        raise SystemExit(f"a transfer was refused: {r}")
                for _ in range(TICKS_PER_BATCH):
                    now += TICK_MS
                    replica.tick(now)
                    store.commit(replica.ready())
            nonces = [n + per for n in nonces]
            prevs = [last for _, last in signed]
            done += len(wires)
            drive_s += time.perf_counter() - t0
            rep.progress(f"built {done:,} of {txs:,} (height {replica.ledger.height})")
        for _ in range(200):  # let the last ones become final
            now += TICK_MS
            replica.tick(now)
            store.commit(replica.ready())
    height = replica.ledger.height
    store.close()
    return {"txs": done, "height": height, "sign_s": round(sign_s, 1), "drive_s": round(drive_s, 1)}


def _vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def time_start(home: Path, height: int, *args: str, log: Path | None = None) -> dict[str, Any]:
    """Spawn the node on home (with args); seconds until its API answers at height, peak RSS.

    log: where the node's output goes (by default nowhere, its stderr kept for a failure).
    """
    api = json.loads((home / "node.json").read_text())["api"]
    url = f"http://{api}/v1/status"
    started = time.perf_counter()
    out = log.open("wb") if log is not None else None
    proc = subprocess.Popen(
        [sys.executable, "-m", "govchain.cli.main", "node", "--home", str(home), *args],
        stdout=out if out is not None else subprocess.DEVNULL,
        stderr=subprocess.STDOUT if out is not None else subprocess.PIPE,
    )
    try:
        while time.perf_counter() - started < READY_TIMEOUT_S:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                if log is not None:
                    err = log.read_text(errors="replace")
                raise SystemExit(f"the node exited ({proc.returncode}): {err[-2000:]}")
            try:
                doc = httpx.get(url, timeout=1.0).json()
                if doc.get("height", 0) >= height:
                    return {
                        "ready_s": round(time.perf_counter() - started, 2),
                        "rss_peak_mb": round(_vm_hwm_mb(proc.pid), 1),
                    }
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.05)
        raise SystemExit("the node did not answer in time")
    finally:
        proc.kill()
        proc.wait()
        if out is not None:
            out.close()


def built_chain(root: Path, txs: int, sync_every: int, rep: Reporter) -> dict[str, Any]:
    """The chain under root/node: reused when its manifest matches, else built anew."""
    manifest = root / MANIFEST
    if manifest.is_file():
        built: dict[str, Any] = json.loads(manifest.read_text())
        if (built.get("txs"), built.get("sync_every", 0)) == (txs, sync_every):
            return built
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    make_home(root / "node", sync_every)
    built = {**build_chain(root / "node", txs, rep), "sync_every": sync_every}
    manifest.write_text(json.dumps(built))
    return built


def main() -> None:
    """Build (or reuse) the chain, then time the node's start with and without snapshots."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--txs", type=int, default=1_000_000)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/govchain-restart-bench"))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rep = Reporter(args.json)
    home = args.dir / "node"
    built = built_chain(args.dir, args.txs, 0, rep)
    db = Home(home).store_path
    with sqlite3.connect(db) as raw:
        snaps = raw.execute(
            "SELECT height, length(data) FROM snapshots ORDER BY height DESC"
        ).fetchall()
    figures: dict[str, Any] = {
        "machine": machine_info(),
        "chain": built,
        "store_mb": round(db.stat().st_size / 2**20, 1),
        "snapshots": [{"height": h, "bytes": n} for h, n in snaps],
        "load_average": os.getloadavg(),
    }
    figures["with_snapshot"] = time_start(home, built["height"])
    # The same chain without its snapshots: the node replays it from genesis.
    bare = args.dir / "bare"
    shutil.rmtree(bare, ignore_errors=True)
    shutil.copytree(home, bare)
    with sqlite3.connect(Home(bare).store_path) as raw:
        raw.execute("DELETE FROM snapshots")
    figures["from_genesis"] = time_start(bare, built["height"])
    shutil.rmtree(bare)
    figures["pruned"] = prune_copy(home, args.dir / "pruned", built["height"])
    rep.emit(figures)


def prune_copy(home: Path, copy: Path, height: int) -> dict[str, Any]:
    """Prune a copy of home's store; time it, measure what it frees, and start a node on it."""
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(home, copy)
    db = Home(copy).store_path
    store = SqliteStore(db)
    try:
        t0 = time.perf_counter()
        pruned = store.prune()
        prune_s = time.perf_counter() - t0
        pruned_to = store.pruned_height()
    finally:
        store.close()
    with sqlite3.connect(db) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = raw.execute("PRAGMA page_size").fetchone()[0]
        free = raw.execute("PRAGMA freelist_count").fetchone()[0]
        total = raw.execute("PRAGMA page_count").fetchone()[0]
    out: dict[str, Any] = {
        "txs_pruned": pruned,
        "pruned_to_height": pruned_to,
        "prune_s": round(prune_s, 2),
        "store_mb": round(total * page / 2**20, 1),
        "freed_mb": round(free * page / 2**20, 1),
        **time_start(copy, height),
    }
    shutil.rmtree(copy)
    return out


if __name__ == "__main__":
    main()

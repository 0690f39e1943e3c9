"""Part 2's measurements: govchain bench's load on a fresh 4-validator devnet, without
and with viewers on its first node, round by round in alternating order; the ratios,
node 0's added CPU, and (--profile) py-spy's top frames (see bench_explorer.py)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import signal
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from common import Reporter
from explorer_measure import loadavg, pct
from explorer_viewers import VIEWERS, Viewers, warm_templates
from govchain.crypto.keys import SigningKey
from govchain.node.bench import SENDER_BALANCE, SENDERS, load_until_final, presign, process_cpu_s
from govchain.node.devnet import Devnet, create, free_port_base, release_port_base
from govchain.node.files import read_genesis

LOAD_VALIDATORS = 4
TARGET_RATIO = 0.95
VIEWERS_WARMUP_S = 3.0  # after every viewer has its page: sockets open, timers running
SETTLE_S = 10.0  # from the nodes' first answer to the load, in every measurement alike
LOAD_ATTEMPTS = 3  # a measurement that a lagging node's refusal broke is taken again
SPY_RATE_HZ = 50
SPY_FLAGS = ("--rate", str(SPY_RATE_HZ), "--nonblocking")  # sampled without pausing it
SPY_STOP_TIMEOUT_S = 30.0
SPY_TOP = 14  # frames printed
SPY_OURS = re.compile(r"govchain/(api|explorer)/|jinja2/environment|websockets/")


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

"""govchain against a 3-node etcd cluster on the same machine, in one run (issue 17, target 1).

Starts a 3-member etcd cluster (Debian's `etcd-server`; installed with
apt-get when this runs as root and etcd is missing) on 127.0.0.1, each member
with its own data directory and etcd's default durability (an fsync per
commit), and drives it with 256-byte puts through its HTTP/JSON gateway
(`POST /v3/kv/put`) from asyncio, over the same bare keep-alive HTTP/1.1
client the govchain loader uses (node/bench.py BareHttp), spread over the
three members. Then runs `govchain bench --validators N --txs M` on the same
cores, and prints both rates, their ratio, and govchain's share of the
signature ceiling (one core's raw Ed25519 verify rate, times the cores, over
the validators, measured in this run). Then (unless --no-paced) the same
devnet load paced at half the flood's rate (`govchain bench --rate`), for the
latency a user sees when the network has room (issue 17, target 2).

    python bench/bench_peers.py --puts 20000 --txs 20000
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench_restart import free_port
from common import Reporter, machine_info, raw_verify_rate
from govchain.node.bench import BareHttp, run_bench

ETCD_MEMBERS = 3
VALUE_BYTES = 256
READY_TIMEOUT_S = 60.0


def ensure_etcd(rep: Reporter) -> str:
    """The etcd binary: installed with apt-get when missing and this runs as root."""
    found = shutil.which("etcd")
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("etcd is missing: run as root (apt-get install etcd-server) or install it")
    rep.progress("installing etcd-server with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "etcd-server"], check=True, env=env)
    found = shutil.which("etcd")
    if not found:
        raise SystemExit("apt-get installed etcd-server, but no etcd binary is on PATH")
    return found


class EtcdCluster:
    """Three etcd members on 127.0.0.1, each a process with its own data directory."""

    def __init__(self, etcd: str, root: Path) -> None:
        self.etcd = etcd
        self.root = root
        self.client_ports = [free_port() for _ in range(ETCD_MEMBERS)]
        self.peer_ports = [free_port() for _ in range(ETCD_MEMBERS)]
        self.procs: list[subprocess.Popen[bytes]] = []

    @property
    def urls(self) -> list[str]:
        """Each member's client URL."""
        return [f"http://127.0.0.1:{p}" for p in self.client_ports]

    def start(self) -> None:
        """Start every member and wait until each answers healthy."""
        initial = ",".join(f"m{i}=http://127.0.0.1:{p}" for i, p in enumerate(self.peer_ports))
        for i in range(ETCD_MEMBERS):
            peer = f"http://127.0.0.1:{self.peer_ports[i]}"
            log = (self.root / f"m{i}.log").open("wb")
            cmd = [
                self.etcd, "--name", f"m{i}", "--data-dir", str(self.root / f"m{i}"),
                "--listen-client-urls", self.urls[i], "--advertise-client-urls", self.urls[i],
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", initial, "--initial-cluster-state", "new",
                "--initial-cluster-token", "govchain-bench", "--log-level", "error",
            ]  # fmt: skip
            self.procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT))
            log.close()
        deadline = time.monotonic() + READY_TIMEOUT_S
        for url in self.urls:
            while True:
                try:
                    if httpx.get(url + "/health", timeout=1.0).json().get("health") == "true":
                        break
                except (httpx.HTTPError, ValueError):
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"etcd at {url} is not healthy after {READY_TIMEOUT_S} s")
                time.sleep(0.2)

    def stop(self) -> None:
        """Stop every member."""
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _put(i: int, value: str) -> dict[str, Any]:
    return {"key": base64.b64encode(f"bench/{i:08d}".encode()).decode(), "value": value}


async def put_load(urls: list[str], puts: int, concurrency: int, batch: int) -> dict[str, Any]:
    """256-byte puts from concurrency keep-alive connections; rate and latencies.

    batch 1: one put a request (`/v3/kv/put`); more: that many puts in one
    transaction a request (`/v3/kv/txn`), as the govchain loader sends 100
    transactions a request. A latency is a request's, shared by its puts.
    """
    value = base64.b64encode(bytes(VALUE_BYTES)).decode()
    next_index = 0
    latencies: list[float] = []
    failed = 0

    async def worker(w: int) -> None:
        nonlocal next_index, failed
        http = BareHttp(urls[w % len(urls)], content_type="application/json")
        try:
            while next_index < puts:
                first = next_index
                n = min(batch, puts - first)
                next_index += n
                doc: dict[str, Any]
                if batch == 1:
                    path, doc = "/v3/kv/put", _put(first, value)
                else:
                    ops = [{"requestPut": _put(i, value)} for i in range(first, first + n)]
                    path, doc = "/v3/kv/txn", {"success": ops}
                t0 = time.perf_counter()
                reply = await http.post(path, json.dumps(doc).encode())
                if reply.status_code != 200:
                    failed += n
                    continue
                latencies.extend([time.perf_counter() - t0] * n)
        finally:
            http.close()

    own0 = os.times()
    t0 = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    elapsed = time.perf_counter() - t0
    own1 = os.times()
    latencies.sort()
    done = len(latencies)
    loader_cpu = (own1.user - own0.user) + (own1.system - own0.system)
    return {
        "puts": done,
        "failed": failed,
        "elapsed_s": round(elapsed, 2),
        "puts_per_s": round(done / elapsed, 1),
        "latency_ms": {
            "p50": round(1000 * statistics.median(latencies), 1) if done else None,
            "p99": round(1000 * latencies[int(0.99 * (done - 1))], 1) if done else None,
        },
        "loader_cpu_us_per_put": round(1e6 * loader_cpu / max(done, 1), 1),
    }


def main() -> None:
    """Measure etcd, then govchain, then the ratios, on this machine in this run."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--puts", type=int, default=20_000)
    ap.add_argument("--txs", type=int, default=20_000)
    ap.add_argument("--validators", type=int, default=4)
    ap.add_argument("--concurrency", type=int, default=64, help="etcd client connections")
    ap.add_argument(
        "--etcd-batch", type=int, default=1, help="puts a request (more: one txn; etcd's max 128)"
    )
    ap.add_argument("--no-paced", action="store_true", help="skip the paced half-rate load")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rep = Reporter(args.json)
    etcd = ensure_etcd(rep)
    info = machine_info()
    version = subprocess.run([etcd, "--version"], capture_output=True, text=True, check=False)
    verify = raw_verify_rate()
    with tempfile.TemporaryDirectory(prefix="govchain-etcd-") as tmp:
        cluster = EtcdCluster(etcd, Path(tmp))
        try:
            cluster.start()
            rep.progress(
                f"etcd: {args.puts:,} puts over {args.concurrency} connections, "
                f"{args.etcd_batch} a request"
            )
            etcd_figures = asyncio.run(
                put_load(cluster.urls, args.puts, args.concurrency, args.etcd_batch)
            )
            etcd_figures.update(concurrency=args.concurrency, batch=args.etcd_batch)
        finally:
            cluster.stop()
    rep.progress(f"govchain: bench --validators {args.validators} --txs {args.txs:,}")
    chain = run_bench(args.validators, args.txs)
    paced: dict[str, Any] | None = None
    if not args.no_paced:
        half = round(chain["final_tps"] / 2, 1)
        rep.progress(f"govchain: the same load paced at {half:,} tx/s (--rate)")
        paced = run_bench(args.validators, args.txs, rate=half)
    ceiling = verify * info["cores"] / args.validators
    figures: dict[str, Any] = {
        "machine": info,
        "etcd_version": version.stdout.splitlines()[0] if version.stdout else None,
        "etcd": etcd_figures,
        "govchain": chain,
        "govchain_paced_half": paced,
        "verify_per_s_one_core": round(verify, 1),
        "signature_ceiling_tps": round(ceiling, 1),
        "ratio_vs_etcd": round(chain["final_tps"] / etcd_figures["puts_per_s"], 2),
        "share_of_ceiling": round(chain["final_tps"] / ceiling, 3),
    }
    e, g = etcd_figures, chain
    rep.line(f"{figures['etcd_version']}, 3 members: {e['puts_per_s']:,} puts/s, "
             f"p50 {e['latency_ms']['p50']} ms, p99 {e['latency_ms']['p99']} ms")  # fmt: skip
    rep.line(f"govchain, {args.validators} validators: {g['final_tps']:,} final tx/s, "
             f"p50 {g['latency_ms']['p50']} ms, p99 {g['latency_ms']['p99']} ms")  # fmt: skip
    if paced is not None:
        lat = paced["latency_ms"]
        rep.line(f"govchain paced at {paced['rate']:,} tx/s: {paced['final_tps']:,} final tx/s, "
                 f"p50 {lat['p50']} ms, p99 {lat['p99']} ms")  # fmt: skip
    rep.line(f"ratio {figures['ratio_vs_etcd']}x etcd; {figures['share_of_ceiling']:.0%} of "
             f"the signature ceiling ({ceiling:,.0f} tx/s)")  # fmt: skip
    rep.emit(figures)


if __name__ == "__main__":
    main()

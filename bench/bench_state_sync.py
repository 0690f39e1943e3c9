"""How long a new node takes to join a long chain: by state sync, and by replaying history.

Builds (or reuses) a one-validator chain of --txs transfers with a sync height
every --sync-every heights (bench_restart.py's builder), starts its node
process, then starts new nodes beside it, each a stranger to it with a fresh
home made from the genesis and the validator's address (`govchain init
--genesis --peer`), and times each from spawn to its API answering at the
chain's height:

- by state sync (`govchain node --state-sync URL`): the history checked from
  the genesis (every certificate, receipt root and audit head), the snapshot
  at the newest sync height installed, the tail executed;
- by replay (`govchain node`): every height fetched from the validator and
  executed (what a new node did before state sync).

    python bench/bench_state_sync.py --txs 100000 --dir /tmp/sync-100k
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench_restart import READY_TIMEOUT_S, built_chain, free_port, time_start
from common import Reporter, machine_info
from govchain.node.files import Home, read_node_config

_SYNC_LINE = re.compile(
    r"state sync: snapshot at height (\d+), (\d+) checkpoints, (\d+) final transactions "
    r"\(ids and receipts\), image (\d+) bytes, in ([0-9.]+) s"
)


def _run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def _joiner(root: Path, name: str, peer_home: Path) -> Path:
    """A new home on the chain of peer_home, dialing it (the peer does not know it)."""
    home = root / name
    shutil.rmtree(home, ignore_errors=True)
    peer = read_node_config(Home(peer_home).config_path)
    key = json.loads(httpx.get(f"http://{peer.api_host}:{peer.api_port}/v1/status").text)
    _run(
        [
            sys.executable, "-m", "govchain.cli.main", "init", "--home", str(home),
            "--name", name, "--genesis", str(Home(peer_home).genesis_path),
            "--api", f"127.0.0.1:{free_port()}", "--p2p", f"127.0.0.1:{free_port()}",
            "--peer", f"{key['node_key']}@{peer.p2p_host}:{peer.p2p_port}",
        ]
    )  # fmt: skip
    return home


def time_join(home: Path, height: int, *args: str) -> dict[str, Any]:
    """Spawn a node on home with args; seconds until it answers at height, what it synced."""
    log = home / "node.log"
    out = time_start(home, height, *args, log=log)
    out["store_mb"] = round(Home(home).store_path.stat().st_size / 2**20, 1)
    m = _SYNC_LINE.search(log.read_text(errors="replace"))
    if m:
        keys = ("snapshot_height", "checkpoints", "txs_final", "image_bytes")
        out["sync"] = {k: int(v) for k, v in zip(keys, m.groups()[:4], strict=True)}
        out["sync"]["sync_s"] = float(m.group(5))
    return out


def main() -> None:
    """Build (or reuse) the chain, serve it, and time a join by state sync and by replay."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--txs", type=int, default=100_000)
    ap.add_argument("--sync-every", type=int, default=100)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/govchain-sync-bench"))
    ap.add_argument("--no-replay", action="store_true", help="time the state sync only")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rep = Reporter(args.json)
    home = args.dir / "node"
    built = built_chain(args.dir, args.txs, args.sync_every, rep)
    peer = subprocess.Popen(
        [sys.executable, "-m", "govchain.cli.main", "node", "--home", str(home)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        cfg = read_node_config(Home(home).config_path)
        url = f"http://{cfg.api_host}:{cfg.api_port}"
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/v1/sync/offer", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        height = int(httpx.get(url + "/v1/status").json()["height"])
        figures: dict[str, Any] = {
            "machine": machine_info(),
            "chain": built,
            "peer_store_mb": round(Home(home).store_path.stat().st_size / 2**20, 1),
            "load_average": os.getloadavg(),
        }
        rep.progress(f"serving height {height}: joining by state sync")
        joiner = _joiner(args.dir, "by-sync", home)
        figures["by_state_sync"] = time_join(joiner, height, "--state-sync", url)
        if not args.no_replay:
            rep.progress("joining by replay")
            joiner = _joiner(args.dir, "by-replay", home)
            figures["by_replay"] = time_join(joiner, height)
    finally:
        peer.kill()
        peer.wait()
    rep.emit(figures)


if __name__ == "__main__":
    main()

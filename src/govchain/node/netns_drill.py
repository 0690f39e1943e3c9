"""The partition drill (issue 16, part 2): real network faults between node processes.

Four validators and an observer, each in its own Linux network namespace on
one bridge (netns.py), configured by address (netns_homes.py): the first
deployment of govchain where no node listens on 127.0.0.1. netem delays
every packet a node sends by 20-100 ms and drops 1% of them, where the kernel
has netem. Under a paced load of transfers, each scenario of
netns_scenarios.py is held for duration_s and healed (netns_live.py). Then the
load stops, every promised transaction is waited for, the nodes stop, and
their stores are compared as the soak compares them (soak_check.py).

Everything is undone in every case: the nodes are stopped (SIGTERM, then
SIGKILL), anything left in the namespaces is killed, the namespaces are
deleted (which deletes their veths, bridge, routes and qdiscs).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govchain.crypto.keys import SigningKey
from govchain.node.bench import SENDER_BALANCE
from govchain.node.devnet import LOG_NAME, STOP_TIMEOUT_S, DevnetNode, exit_text
from govchain.node.files import Home, read_genesis
from govchain.node.netns import SUBNET, NetnsNetwork, sweep_stale, unavailable
from govchain.node.netns_homes import make_homes
from govchain.node.netns_live import Drill, LiveConfig, LiveResult
from govchain.node.netns_scenarios import NODES, SCENARIO_NAMES, VALIDATORS, Scenario, by_name
from govchain.node.netns_thread import run_in_namespace
from govchain.node.soak_check import check_views, read_view

# 20-100 ms: 60 ms +- 40 ms, uniform (netem's default without a distribution).
NETEM = ("delay", "60ms", "40ms", "loss", "1%")
FALLBACK_LOSS_PERCENT = 1.0  # without netem (a kernel built without it): the loss alone


class NetnsUnavailableError(Exception):
    """Network namespaces cannot be made here; the message says why and what to install."""


@dataclass(frozen=True, slots=True)
class DrillConfig:
    """The drill's knobs; the defaults are issue 16's."""

    duration_s: float = 20.0  # each fault
    rate_per_s: float = 20.0
    senders: int = 10
    seed: int = 1
    scenarios: tuple[str, ...] = SCENARIO_NAMES
    resume_limit_s: float = 10.0
    drain_timeout_s: float = 60.0
    netem: bool = True
    work_dir: Path | None = None  # keep the homes and logs here (default: a temporary one)

    def check(self) -> list[Scenario]:
        """The scenarios to run; ValueError naming the first knob out of range."""
        if not 5 <= self.duration_s <= 3600:
            raise ValueError("--duration must lie in 5..3600 seconds")
        if not 1 <= self.rate_per_s <= 1000:
            raise ValueError("--rate must lie in 1..1000 transactions per second")
        if not 1 <= self.senders <= 1000:
            raise ValueError("--senders must lie in 1..1000")
        if not 1 <= self.resume_limit_s <= 600:
            raise ValueError("--resume-limit must lie in 1..600 seconds")
        if not 1 <= self.drain_timeout_s <= 3600:
            raise ValueError("--drain-timeout must lie in 1..3600 seconds")
        if not self.scenarios:
            raise ValueError("name at least one scenario")
        return by_name(self.scenarios)


class Nodes:
    """The node processes, each started inside its namespace."""

    def __init__(self, net: NetnsNetwork, nodes: list[DevnetNode]) -> None:
        self.net = net
        self.nodes = nodes
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        """Start every node: `ip netns exec NS python -m govchain.cli.main node --home H`."""
        for i, n in enumerate(self.nodes):
            argv = [sys.executable, "-m", "govchain.cli.main", "node", "--home", str(n.home)]
            with (n.home / LOG_NAME).open("ab") as log:
                # --exit-with-parent: a drill killed with -9 leaves no node behind.
                self.procs.append(self.net.popen(i, [*argv, "--exit-with-parent"], log))

    def dead(self) -> list[str]:
        """Nodes that exited, with how."""
        return [
            f"{n.name} ({exit_text(code)}; see {n.home / LOG_NAME})"
            for n, p in zip(self.nodes, self.procs, strict=False)
            if (code := p.poll()) is not None
        ]

    def stop(self) -> list[str]:
        """SIGTERM every node, SIGKILL what outlives the grace period; names of those that did."""
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        forced = []
        for n, p in zip(self.nodes, self.procs, strict=False):
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                forced.append(n.name)
        return forced


def _impair(net: NetnsNetwork, netem: bool) -> tuple[str, str | None]:
    """netem on every node's link, else loss alone by BPF: (what the links do, why not netem)."""
    if not netem:
        return "no delay, no loss (--no-netem)", None
    why = net.netem(NETEM)
    if why is None:
        return f"netem {' '.join(NETEM)}", None
    net.bpf_loss(FALLBACK_LOSS_PERCENT)
    return f"loss {FALLBACK_LOSS_PERCENT:g}% by BPF, no delay (the kernel has no netem)", why


def run_drill(cfg: DrillConfig, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the whole drill and return its report (see docs/network-faults.md)."""
    say = progress or (lambda _: None)
    scenarios = cfg.check()
    why = unavailable()
    if why is not None:
        raise NetnsUnavailableError(why)
    swept = sweep_stale()
    if swept:
        say(f"removed namespaces left by dead runs: {', '.join(swept)}")
    keys = [SigningKey(secrets.token_bytes(32)) for _ in range(cfg.senders)]
    started_s = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="govchain-netns-") as tmp:
        root = cfg.work_dir if cfg.work_dir is not None else Path(tmp)
        net = NetnsNetwork(NODES)
        procs: Nodes | None = None
        try:
            net.create()
            nodes = make_homes(
                root, net.hosts, VALIDATORS, {k.address: SENDER_BALANCE for k in keys}
            )
            genesis = read_genesis(Home(nodes[0].home).genesis_path)
            impairment, netem_why = _impair(net, cfg.netem)
            say(f"network {net.run}: {SUBNET}.0/24; links: {impairment}")
            procs = Nodes(net, nodes)
            procs.start()
            live_cfg = LiveConfig(
                cfg.duration_s, cfg.rate_per_s, cfg.seed, cfg.resume_limit_s, cfg.drain_timeout_s
            )
            urls = [
                f"http://{n_host}:{n.api_port}" for n, n_host in zip(nodes, net.hosts, strict=True)
            ]
            names = [n.name for n in nodes]
            drill = Drill(net, urls, names, genesis, keys, live_cfg, procs.dead, say)

            async def live() -> LiveResult:
                await drill.wait_ready()
                say("every node is up; load on")
                return await drill.run(scenarios)

            result = run_in_namespace(net.hub, live)
        finally:
            forced = procs.stop() if procs is not None else []
            leftovers = net.destroy()
        views = [read_view(n.name, Home(n.home).store_path, genesis) for n in nodes]
        verdict = check_views(result.promises, views, genesis.supply)
    network = {
        "run": net.run,
        "subnet": f"{SUBNET}.0/24",
        "nodes": [
            {"name": n.name, "address": h, "validator": n.validator}
            for n, h in zip(nodes, net.hosts, strict=True)
        ],
        "links": impairment,
        "netem_missing": netem_why,
    }
    failures = [f"{o.name}: {f}" for o in result.outcomes for f in o.failures]
    if not result.promises:
        failures.append("no transaction was promised")
    if verdict.lost:
        failures.append(f"{len(verdict.lost)} promised transactions are final on no node")
    if verdict.executed_twice:
        failures.append(f"{len(verdict.executed_twice)} transactions executed twice")
    failures.extend(verdict.disagreements[:10])
    failures.extend(f"{name} had to be killed at the stop" for name in forced)
    failures.extend(f"teardown: {p}" for p in leftovers)
    return {
        "ok": not failures,
        "failures": failures,
        "network": network,
        "load": {
            "rate_per_s": cfg.rate_per_s,
            "senders": cfg.senders,
            "accepted": len(result.promises),
            "final_seen": result.final_seen,
            "drain_s": round(result.drain_s, 2),
        },
        "scenarios": [o.to_json(names) for o in result.outcomes],
        "stores": {
            "agreement": verdict.agreement,
            "final": verdict.final,
            "lost": len(verdict.lost),
            "executed_twice": len(verdict.executed_twice),
            "supply_conserved": verdict.supply_conserved,
            "heights": verdict.heights,
        },
        "elapsed_s": round(time.monotonic() - started_s, 1),
        "cpus": os.cpu_count(),
    }

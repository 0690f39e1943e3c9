"""`govchain soak`: a devnet under paced load while validators are killed with SIGKILL.

The scenario of issues 10 and 16. A devnet of N validators in a temporary
directory; senders chain transfers and text records (each names its previous
one as parent, and is sent only once that one was promised with
`202 pending`) at a fixed total rate, each to a random node, while the
devnet's regulators propose and approve governance actions now and then;
every kill_every_s a random validator is killed -9 and restarted
restart_after_s later. After the load: no more kills, every node running, a
drain until every promised transaction is final (or a timeout), a clean stop,
and then each node's store is read and compared (soak_check.py). What a 202
promised and never became final anywhere is lost.

The live phase runs on one asyncio loop (soak_load.py for the senders and the
event streams, soak_gov.py for governance, soak_killer.py for the kills);
this module wires them and turns what they saw into the report.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import secrets
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govchain.crypto.keys import SigningKey
from govchain.net.peers import run as run_loop
from govchain.node.bench import SENDER_BALANCE
from govchain.node.devnet import REGULATORS, Devnet, DevnetNode, create, free_port_base
from govchain.node.files import Home, read_genesis, read_key
from govchain.node.soak_check import StoreVerdict, check_views, read_view
from govchain.node.soak_gov import ACTION_ROOM_S, GovAction, Governor
from govchain.node.soak_http import NodeConnection
from govchain.node.soak_killer import STATUS_TIMEOUT_S, Crash, Killer, heights
from govchain.node.soak_load import FinalityWatch, Load, Promise, Tally, clock
from govchain.state.genesis import Genesis

LOAD_GRACE_S = 10.0  # a transaction in flight when the load ends has this long to be promised
DRAIN_POLL_S = 0.25
SETTLE_TIMEOUT_S = 30.0  # after the drain, for every node to reach the highest height
PROGRESS_EVERY_S = 10.0
LATENCY_P99_AFTER_KILLS_MS_MAX = 3000.0  # issue 10: p99 after restarts stays under 3 s
CATCHUP_S_MAX = 20.0  # issue 16: each restarted validator catches up within 20 s
EVENT_TYPES = "checkpoint,receipts"  # what the finality watch reads of each node's stream
REQUEST_TIMEOUT_S = 10.0  # a node answers within ~3 s while it replicates; beyond is a hang
SHOWN_MAX = 10  # ids and sentences listed in the report; the counts cover all


@dataclass(frozen=True, slots=True)
class SoakConfig:
    """The scenario's knobs; defaults are issue 16's."""

    validators: int = 4
    duration_s: float = 120.0
    rate_per_s: float = 1000.0
    senders: int = 1000
    kill_every_s: float = 30.0
    restart_after_s: float = 5.0
    seed: int = 1
    drain_timeout_s: float = 60.0
    port_base: int | None = None
    record_share: float = 0.25  # of the load's transactions, text records (the rest transfers)
    gov_every_s: float = 10.0  # a governance action this often; 0: none

    def check(self) -> None:
        """Raise ValueError naming the first knob out of range."""
        if not 4 <= self.validators <= 16:
            raise ValueError("--validators must lie in 4..16 (a kill must leave a quorum)")
        if not 1 <= self.duration_s <= 24 * 3600:
            raise ValueError("--duration must lie in 1..86400 seconds")
        if not 1 <= self.rate_per_s <= 10_000:
            raise ValueError("--rate must lie in 1..10000 transactions per second")
        if not 1 <= self.senders <= 10_000:
            raise ValueError("--senders must lie in 1..10000")
        if not 0 < self.restart_after_s < self.kill_every_s:
            raise ValueError("--restart-after must be positive and below --kill-every")
        if not 1 <= self.drain_timeout_s <= 3600:
            raise ValueError("--drain-timeout must lie in 1..3600 seconds")
        if not 0 <= self.record_share <= 1:
            raise ValueError("--records must lie in 0..1 (a share of the load)")
        if not (self.gov_every_s == 0 or 1 <= self.gov_every_s <= 3600):
            raise ValueError("--gov-every must be 0 (no governance) or lie in 1..3600 seconds")


@dataclass(slots=True)
class LivePhase:
    """What the load, the killer and the event streams saw (clock seconds)."""

    start_s: float
    promises: dict[bytes, Promise]
    final: dict[bytes, float]
    tally: Tally
    crashes: list[Crash]
    exited: list[str]  # nodes found dead that the killer had not killed
    drain_s: float
    loader_cpu_s: float
    governance: list[GovAction] = field(default_factory=list)
    gov_stopped: str | None = None  # why governance stopped early, if it did
    sent_by_kind: dict[str, int] = field(default_factory=dict)
    load_average: tuple[float, float, float] | None = None  # at the start of the load
    unsettled: list[str] = field(default_factory=list)  # nodes behind the others at the end
    build_cpu_s: float = 0.0  # the part of loader_cpu_s spent building transactions
    stores_read_s: float = 0.0  # reading and replaying every store after the stop


def percentiles(values: Iterable[float], digits: int = 1) -> dict[str, float | int | None]:
    """count, p50, p99 and max by nearest rank (None when there are no values)."""
    xs = sorted(values)

    def rank(q: float) -> float | None:
        return round(xs[max(0, math.ceil(q * len(xs)) - 1)], digits) if xs else None

    return {"count": len(xs), "p50": rank(0.50), "p99": rank(0.99), "max": rank(1.0)}


def run_soak(cfg: SoakConfig, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the whole soak and return its report (see docs/soak.md)."""
    cfg.check()
    keys = [SigningKey(secrets.token_bytes(32)) for _ in range(cfg.senders)]
    with tempfile.TemporaryDirectory(prefix="govchain-soak-") as tmp:
        root = Path(tmp)
        base = cfg.port_base or free_port_base(cfg.validators)
        nodes = create(root, cfg.validators, 0, base, {k.address: SENDER_BALANCE for k in keys})
        genesis = read_genesis(nodes[0].home / "genesis.json")
        regulators = [
            read_key(root / "keys" / f"regulator-{i}.key") for i in range(1, REGULATORS + 1)
        ]
        bystander = read_key(root / "keys" / "faucet.key").address  # never used by the load
        net = Devnet(root, nodes)
        net.start()
        try:
            net.wait_ready()
            live = run_loop(
                _live(
                    cfg, net, genesis, keys, (regulators, bystander), progress or (lambda _: None)
                )
            )
        finally:
            net.stop()
        say = progress or (lambda _: None)
        say("devnet stopped: reading and replaying every node's store")
        read0_s = clock()
        views = [read_view(n.name, Home(n.home).store_path, genesis) for n in nodes]
        live.stores_read_s = clock() - read0_s
    proposals = [a.proposal_id for a in live.governance if a.promised]
    verdict = check_views(live.promises.keys(), views, genesis.supply, proposals)
    return report(cfg, live, verdict)


def _urls(nodes: list[DevnetNode]) -> dict[str, str]:
    return {n.name: f"http://127.0.0.1:{n.api_port}" for n in nodes}


async def _live(
    cfg: SoakConfig,
    net: Devnet,
    genesis: Genesis,
    keys: list[SigningKey],
    committee: tuple[list[SigningKey], bytes],
    progress: Callable[[str], None],
) -> LivePhase:
    """Load with kills and governance, then heal and drain; returns what was seen."""
    urls = _urls(net.nodes)
    watch = FinalityWatch(clock)
    cpu0 = os.times()  # building the senders' first transactions is the loader's too
    build0_s = time.process_time()
    # The killer's victims follow from the seed alone. The load's choices of node
    # and of kind come from a second stream of the same seed, though timing makes them vary.
    load_rng = random.Random(f"{cfg.seed}/load")
    load = Load(
        urls,
        genesis.chain_id,
        genesis.hash,
        keys,
        cfg.rate_per_s,
        load_rng,
        watch,
        record_share=cfg.record_share,
    )
    build_cpu_s = time.process_time() - build0_s  # the first transaction of every sender
    regulators, bystander = committee
    governor = Governor(load, regulators, genesis.hash, bystander, cfg.gov_every_s, clock)
    killer = Killer(
        net, urls, random.Random(cfg.seed), cfg.kill_every_s, cfg.restart_after_s, clock
    )
    followers = [
        asyncio.create_task(
            watch.follow(u.replace("http://", "ws://") + f"/v1/events?types={EVENT_TYPES}")
        )
        for u in urls.values()
    ]
    load_average = os.getloadavg()
    start_s = clock()
    until_s = start_s + cfg.duration_s
    reporter = asyncio.create_task(_report_progress(start_s, load, killer, progress))
    killing = asyncio.create_task(killer.run(until_s))
    governing = asyncio.create_task(governor.run(until_s) if cfg.gov_every_s else _nothing())
    try:
        await load.run(until_s, LOAD_GRACE_S, REQUEST_TIMEOUT_S)
        await governing  # its last action ended with the load (or the load refused it)
        await killing
        cpu1 = os.times()
        exited = _restart_the_dead(net)
        progress("load over: every node running; draining")
        drain_s = await _drain(load.promises, watch.final, cfg.drain_timeout_s)
        unsettled = await _settle(urls)
        await killer.settle()
    finally:
        # killing has ended unless something failed; then it restarts what it killed.
        for task in (killing, governing, reporter, *followers):
            task.cancel()
        await asyncio.gather(killing, governing, reporter, *followers, return_exceptions=True)
    return LivePhase(
        start_s,
        load.promises,
        watch.final,
        load.tally,
        killer.crashes,
        exited,
        drain_s,
        (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system),
        governor.actions,
        governor.stopped,
        dict(sorted(load.tally.kinds.items())),
        load_average,
        unsettled,
        build_cpu_s + load.build_cpu_s,
    )


async def _nothing() -> None:
    """A task for a part of the soak that is switched off."""


def _restart_the_dead(net: Devnet) -> list[str]:
    """Start every node that is not running (the killer restarts its own): names found dead."""
    dead = [n.name for n in net.nodes if not net.running(n.name)]
    for name in dead:
        net.start_node(name)
    return dead


async def _drain(
    promises: dict[bytes, Promise], final: dict[bytes, float], limit_s: float
) -> float:
    """Until every promised id was seen final, or limit_s; returns the seconds it took."""
    start_s = clock()
    waiting = [i for i in promises if i not in final]
    while waiting and clock() - start_s < limit_s:
        await asyncio.sleep(DRAIN_POLL_S)
        waiting = [i for i in waiting if i not in final]
    return clock() - start_s


async def _settle(urls: dict[str, str]) -> list[str]:
    """Until every node has executed the highest height any had, so the stores compare whole.

    Returns a sentence per node that had not got there within SETTLE_TIMEOUT_S.
    """
    conns = {n: NodeConnection(u, STATUS_TIMEOUT_S) for n, u in urls.items()}
    deadline_s = clock() + SETTLE_TIMEOUT_S
    target: int | None = None
    found: dict[str, int | None] = {}
    try:
        while clock() < deadline_s:
            found = await heights(conns)
            known = [h for h in found.values() if h is not None]
            if known:
                target = max(known) if target is None else target
                if len(known) == len(found) and min(known) >= target:
                    return []
            await asyncio.sleep(DRAIN_POLL_S)
    finally:
        for conn in conns.values():
            conn.close()
    return [
        f"{name} was at height {h} {SETTLE_TIMEOUT_S:g} s after the drain, not {target}"
        for name, h in found.items()
        if h is None or target is None or h < target
    ]


async def _report_progress(
    start_s: float, load: Load, killer: Killer, progress: Callable[[str], None]
) -> None:
    while True:
        await asyncio.sleep(PROGRESS_EVERY_S)
        final = sum(1 for i in load.promises if i in load.watch.final)
        progress(
            f"{clock() - start_s:5.0f} s: {len(load.promises):,} promised, {final:,} final,"
            f" {len(killer.crashes)} kills, height {load.watch.height}"
        )


def _latency(live: LivePhase) -> dict[str, Any]:
    """First submission to first final receipt, split at the first kill.

    Also from the promise (the 202) to the final receipt, over every promise:
    under back-pressure the first figure includes the waits before a node took
    the transaction, this one only what the network took once it held it.
    """
    first_kill_s = live.crashes[0].killed_s if live.crashes else math.inf
    before: list[float] = []
    after: list[float] = []
    held: list[float] = []
    for tx_id, p in live.promises.items():
        done_s = live.final.get(tx_id)
        if done_s is not None:
            (before if p.first_sent_s < first_kill_s else after).append(
                (done_s - p.first_sent_s) * 1000
            )
            held.append(max(0.0, done_s - p.promised_s) * 1000)
    return {
        "before_kills": percentiles(before),
        "after_kills": percentiles(after),
        "promised_to_final": percentiles(held),
    }


def _lost_chains(live: LivePhase, lost: list[bytes]) -> dict[str, Any]:
    """Per sender, its first lost transaction: which node promised it, and when that node died."""
    first: dict[int, tuple[bytes, Promise]] = {}
    for tx_id in lost:
        p = live.promises[tx_id]
        if p.sender not in first or p.nonce < first[p.sender][1].nonce:
            first[p.sender] = (tx_id, p)
    killed_after: list[float] = []
    examples: list[dict[str, Any]] = []
    for tx_id, p in sorted(first.values(), key=lambda tp: tp[1].promised_s):
        kill = next(
            (c for c in live.crashes if c.node == p.node and c.killed_s >= p.promised_s), None
        )
        after_s = None if kill is None else round(kill.killed_s - p.promised_s, 2)
        if after_s is not None:
            killed_after.append(after_s)
        if len(examples) < SHOWN_MAX:
            examples.append(
                {
                    "tx_id": tx_id.hex(),
                    "sender": p.sender,
                    "nonce": p.nonce,
                    "promised_by": p.node,
                    "promised_at_s": round(p.promised_s - live.start_s, 2),
                    "promiser_killed_after_s": after_s,
                }
            )
    return {
        "chains": len(first),
        "promiser_killed_later": len(killed_after),
        "killed_after_s": percentiles(killed_after, 2),
        "first_losses": examples,
    }


def _catchup_failures(crashes: list[Crash], catchups: dict[str, float | int | None]) -> list[str]:
    """Issue 16's bound: every restarted validator caught up, within CATCHUP_S_MAX."""
    out: list[str] = []
    slowest = catchups["max"]
    if slowest is not None and slowest > CATCHUP_S_MAX:
        slow = sum(
            1
            for c in crashes
            if c.caught_up_after_s is not None and c.caught_up_after_s > CATCHUP_S_MAX
        )
        out.append(
            f"{slow} restarted validators took more than {CATCHUP_S_MAX:g} s to catch up"
            f" (max {slowest:g} s)"
        )
    never = sum(1 for c in crashes if c.caught_up_after_s is None)
    if never:
        out.append(f"{never} restarted validators never caught up")
    return out


def _governance(live: LivePhase, verdict: StoreVerdict) -> dict[str, Any]:
    """The governance actions: how many were proposed, promised and enacted everywhere."""
    steps: dict[str, int] = {}
    for a in live.governance:
        steps[a.step] = steps.get(a.step, 0) + 1
    return {
        "actions": len(live.governance),
        "promised": sum(1 for a in live.governance if a.promised),
        "enacted": verdict.enacted,
        "by_step": steps,
        "not_enacted": verdict.not_enacted[:SHOWN_MAX],
        "stopped": live.gov_stopped,
    }


def _governance_failures(cfg: SoakConfig, live: LivePhase, verdict: StoreVerdict) -> list[str]:
    out: list[str] = []
    if live.gov_stopped is not None:
        out.append(f"governance stopped: {live.gov_stopped}")
    if verdict.not_enacted:
        out.append(
            f"{len(verdict.not_enacted)} of {len(live.governance)} governance actions"
            " were not enacted alike on every node"
        )
    if (
        cfg.gov_every_s
        and cfg.duration_s > cfg.gov_every_s + 2 * ACTION_ROOM_S
        and not (live.governance)
    ):
        out.append("no governance action was proposed")
    return out


def report(cfg: SoakConfig, live: LivePhase, verdict: StoreVerdict) -> dict[str, Any]:
    """The soak's JSON document, with ok and the reasons it is not."""
    catchups = percentiles(
        (c.caught_up_after_s for c in live.crashes if c.caught_up_after_s is not None), 2
    )
    latency = _latency(live)
    after_p99 = latency["after_kills"]["p99"]
    failures: list[str] = []
    if not live.promises:
        failures.append("no transaction was promised")
    if verdict.lost:
        failures.append(f"{len(verdict.lost)} promised transactions never became final")
    if verdict.executed_twice:
        failures.append(f"{len(verdict.executed_twice)} transactions executed twice")
    if not verdict.agreement:
        failures.append(f"{len(verdict.disagreements)} disagreements between the nodes' stores")
    if after_p99 is not None and after_p99 >= LATENCY_P99_AFTER_KILLS_MS_MAX:
        failures.append(f"p99 latency after the first kill is {after_p99:g} ms")
    if verdict.receipt_mismatches:
        failures.append(
            f"{len(verdict.receipt_mismatches)} transactions have another receipt on some node"
        )
    if verdict.missing_somewhere:
        failures.append(
            f"{len(verdict.missing_somewhere)} promised transactions are final on some nodes"
            " but missing from others"
        )
    if live.tally.refused_for_good:
        failures.append("a node refused a well-formed transaction for good")
    failures.extend(f"{name} exited without being killed" for name in live.exited)
    failures.extend(live.unsettled)
    failures.extend(_catchup_failures(live.crashes, catchups))
    failures.extend(_governance_failures(cfg, live, verdict))
    seen_final = sum(1 for i in live.promises if i in live.final)
    return {
        "ok": not failures,
        "failures": failures,
        "duration_s": cfg.duration_s,
        "validators": cfg.validators,
        "senders": cfg.senders,
        "seed": cfg.seed,
        "record_share": cfg.record_share,
        "gov_every_s": cfg.gov_every_s,
        "kill_every_s": cfg.kill_every_s,
        "restart_after_s": cfg.restart_after_s,
        "load_average": None if live.load_average is None else list(live.load_average),
        "rate": {
            "target_per_s": cfg.rate_per_s,
            "sent_per_s": round(live.tally.submitted / cfg.duration_s, 1),
        },
        "sent_by_kind": live.sent_by_kind,
        "kills": len(live.crashes),
        "accepted": len(live.promises),
        "final": verdict.final,
        "lost": len(verdict.lost),
        "executed_twice": len(verdict.executed_twice),
        "agreement": verdict.agreement,
        "receipts_compared": verdict.receipts_compared,
        "receipt_mismatches": len(verdict.receipt_mismatches),
        "missing_somewhere": len(verdict.missing_somewhere),
        "supply_conserved": verdict.supply_conserved,
        "governance": _governance(live, verdict),
        "heights": verdict.heights,
        "drain_s": round(live.drain_s, 2),
        "stores_read_s": round(live.stores_read_s, 1),
        "catchup_s": {
            "p50": catchups["p50"],
            "max": catchups["max"],
            "bound": CATCHUP_S_MAX,
            "restarts": len(live.crashes),
            "not_caught_up": len(live.crashes) - int(catchups["count"] or 0),
        },
        "latency_ms": latency,
        # Final in the stores but never seen on an event stream: no latency for them.
        "final_unseen": verdict.final - seen_final,
        "refused": live.tally.to_json(),
        "lost_chains": _lost_chains(live, verdict.lost),
        # The earliest promised first: the later ones are mostly their descendants.
        "lost_ids": [
            i.hex() for i in sorted(verdict.lost, key=lambda i: live.promises[i].promised_s)
        ][:SHOWN_MAX],
        "executed_twice_ids": [i.hex() for i in verdict.executed_twice[:SHOWN_MAX]],
        "disagreements": verdict.disagreements[:SHOWN_MAX],
        "crashes": [
            {
                "node": c.node,
                "killed_at_s": round(c.killed_s - live.start_s, 2),
                "catchup_s": None if c.caught_up_after_s is None else round(c.caught_up_after_s, 2),
            }
            for c in live.crashes
        ],
        "loader_cpu_us_per_tx": round(live.loader_cpu_s / max(1, live.tally.submitted) * 1e6),
        "loader_build_us_per_tx": round(live.build_cpu_s / max(1, live.tally.submitted) * 1e6),
        "cpus": os.cpu_count(),
    }

"""The partition drill's live phase: load, faults, heals and the measurements, on one loop.

Runs on a thread inside the hub's namespace (netns_thread.py), so every
socket here reaches the nodes over the bridge. The load and the event streams
are the soak's (soak_load.py): senders chaining transfers at a paced rate,
each to a random node, until a node promises it with `202 pending`.

For each scenario: the heights at the cut; the fault held for duration_s
(heights polled GRACE_S after the cut, once what was in flight has landed);
the heights just before the heal; then polls every POLL_S until every node
is above the highest height at the heal; a drain until every transaction
promised before the heal was seen final; and every node's checkpoint at
each height of the scenario, compared.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from govchain.crypto.keys import SigningKey
from govchain.node.netns import NetnsNetwork
from govchain.node.netns_measure import Outcome, above, top
from govchain.node.netns_scenarios import FLAP_S_MAX, FLAP_S_MIN, Scenario
from govchain.node.soak_http import NodeConnection, TransportError
from govchain.node.soak_killer import heights
from govchain.node.soak_load import FinalityWatch, Load, clock
from govchain.state.genesis import Genesis

GRACE_S = 2.0  # after the cut: a checkpoint whose votes were already sent may still land
POLL_S = 0.25
RESUME_WAIT_S_MAX = 60.0  # polls after a heal stop here (the verdict's limit is lower)
STATUS_TIMEOUT_S = 1.0
HEIGHT_TRIES = 3  # a status poll that times out is asked again before it counts as none
REQUEST_TIMEOUT_S = 10.0  # a load request: a node answers within ~3 s while it replicates
LOAD_GRACE_S = 10.0  # a transaction in flight when the load stops has this long to be promised
WARMUP_S = 3.0
READY_TIMEOUT_S = 90.0  # five nodes starting on a busy machine
SETTLE_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class LiveConfig:
    """What the live phase needs to know from the drill's options."""

    duration_s: float
    rate_per_s: float
    seed: int
    resume_limit_s: float
    drain_timeout_s: float


@dataclass(slots=True)
class LiveResult:
    """What the live phase saw."""

    outcomes: list[Outcome]
    promises: set[bytes]
    final_seen: int
    drain_s: float


class DrillError(Exception):
    """The drill could not run (a node died or never came up); the message says which."""


class Drill:
    """The live phase over one running network of nodes; see the module doc."""

    def __init__(
        self,
        net: NetnsNetwork,
        urls: list[str],
        names: list[str],
        genesis: Genesis,
        keys: list[SigningKey],
        cfg: LiveConfig,
        dead: Callable[[], list[str]],
        progress: Callable[[str], None],
    ) -> None:
        self.net = net
        self.urls = urls  # by node index
        self.names = names
        self.genesis = genesis
        self.cfg = cfg
        self.dead = dead
        self.say = progress
        self.watch = FinalityWatch(clock)
        load_rng = random.Random(f"{cfg.seed}/load")
        self.load = Load(
            dict(zip(names, urls, strict=True)),
            genesis.chain_id,
            genesis.hash,
            keys,
            cfg.rate_per_s,
            load_rng,
            self.watch,
        )
        self.conns = {i: NodeConnection(u, STATUS_TIMEOUT_S) for i, u in enumerate(urls)}

    async def heights(self) -> dict[int, int | None]:
        """Every node's executed height now (None: no answer, asked HEIGHT_TRIES times).

        A status request can time out on a loaded machine while the node runs
        on: asked again before it counts as no answer (no answer at the heal
        reads as no progress).
        """
        found: dict[int, int | None] = {}
        for attempt in range(HEIGHT_TRIES):
            ask = {str(i): c for i, c in self.conns.items() if found.get(i) is None}
            if not ask:
                break
            if attempt:
                await asyncio.sleep(POLL_S)
            by_name = await heights(ask)
            found.update({int(i): h for i, h in by_name.items()})
        return found

    async def wait_ready(self) -> None:
        """Until every node answers for this chain at height 1 or more; DrillError when one died."""
        deadline_s = clock() + READY_TIMEOUT_S
        while True:
            if self.dead():
                raise DrillError(f"exited before it was ready: {', '.join(self.dead())}")
            found = await self.heights()
            if all(h is not None and h >= 1 for h in found.values()):
                await self._check_chain()
                return
            if clock() > deadline_s:
                slow = [self.names[i] for i, h in found.items() if not h]
                raise DrillError(f"not ready after {READY_TIMEOUT_S:g} s: {', '.join(slow)}")
            await asyncio.sleep(POLL_S)

    async def _check_chain(self) -> None:
        """Each address answers for our chain: not some other listener that took the address."""
        for i, conn in self.conns.items():
            reply = await conn.request("GET", "/v1/status")
            theirs = reply.json().get("chain_id")
            if theirs != self.genesis.chain_id:
                raise DrillError(f"{self.urls[i]} answers for chain {theirs!r}, not ours")

    async def run(self, scenarios: list[Scenario]) -> LiveResult:
        """Load, every scenario in turn, then the final drain; returns what was seen."""
        followers = [
            asyncio.create_task(self.watch.follow(u.replace("http://", "ws://") + "/v1/events"))
            for u in self.urls
        ]
        loading = asyncio.create_task(self.load.run(math.inf, LOAD_GRACE_S, REQUEST_TIMEOUT_S))
        outcomes = []
        try:
            await asyncio.sleep(WARMUP_S)
            for sc in scenarios:
                outcomes.append(await self.scenario(sc))
                if self.dead():
                    raise DrillError(f"exited during {sc.name}: {', '.join(self.dead())}")
            now_s = clock()
            self.load.until_s, self.load.give_up_s = now_s, now_s + LOAD_GRACE_S
            await loading
            self.say("load over: draining")
            drain_s = await self.drain(set(self.load.promises), self.cfg.drain_timeout_s)
            await self.settle()
        finally:
            for task in (loading, *followers):
                task.cancel()
            await asyncio.gather(loading, *followers, return_exceptions=True)
            for conn in self.conns.values():
                conn.close()
        promised = set(self.load.promises)
        seen = sum(1 for i in promised if i in self.watch.final)
        return LiveResult(outcomes, promised, seen, drain_s)

    async def scenario(self, sc: Scenario) -> Outcome:
        """Hold one fault for duration_s, heal it, and measure; see the module doc."""
        self.say(f"{sc.name}: {sc.what}, for {self.cfg.duration_s:g} s")
        at_cut = await self.heights()
        cut_s = clock()
        before = {i for i, p in self.load.promises.items() if p.promised_s < cut_s}
        self.net.cut(sc.cut)
        flapping = asyncio.create_task(self.flap(sc.flap)) if sc.flap is not None else None
        try:
            await asyncio.sleep(GRACE_S)
            at_grace = await self.heights()
            await asyncio.sleep(max(0.0, cut_s + self.cfg.duration_s - clock()))
        finally:
            if flapping is not None:
                flapping.cancel()
                await asyncio.gather(flapping, return_exceptions=True)
        at_heal = await self.heights()
        self.net.heal()
        heal_s = clock()
        during = {i for i, p in self.load.promises.items() if cut_s <= p.promised_s < heal_s}
        out = Outcome(sc.name, sc.what, self.cfg.duration_s, at_cut, at_grace, at_heal)
        await self._after_heal(out, heal_s)
        await self.drain(before | during, self.cfg.drain_timeout_s)
        out.accepted_before = len(before)
        out.final_before = sum(1 for i in before if i in self.watch.final)
        out.accepted_during = len(during)
        out.final_during = sum(1 for i in during if i in self.watch.final)
        await self._compare_checkpoints(out, max(1, top(at_cut) - 1))
        out.judge(sc, self.cfg.resume_limit_s, self.names)
        self.say(
            f"{sc.name}: decided while cut {top(at_heal) - top(at_grace)}, progress after heal"
            f" {out.progress_after_heal_s} s, all resumed {out.resumed_after_heal_s} s,"
            f" final {out.final_before}/{out.accepted_before}, conflicts {out.conflicts}"
            + (f"; FAILED: {'; '.join(out.failures)}" if out.failures else "")
        )
        return out

    async def flap(self, node: int) -> None:
        """Node's link down and up, each state lasting FLAP_S_MIN..FLAP_S_MAX s, until cancelled."""
        rng = random.Random(f"{self.cfg.seed}/flap/{node}")
        try:
            while True:
                self.net.link(node, up=False)
                await asyncio.sleep(rng.uniform(FLAP_S_MIN, FLAP_S_MAX))
                self.net.link(node, up=True)
                await asyncio.sleep(rng.uniform(FLAP_S_MIN, FLAP_S_MAX))
        finally:
            self.net.link(node, up=True)

    async def _after_heal(self, out: Outcome, heal_s: float) -> None:
        """Poll until every node is above the top height at the heal (or RESUME_WAIT_S_MAX)."""
        target = top(out.at_heal)
        everyone = range(len(self.urls))
        while clock() - heal_s < RESUME_WAIT_S_MAX:
            found = await self.heights()
            since_s = clock() - heal_s
            if out.progress_after_heal_s is None and top(found) > target:
                out.progress_after_heal_s = since_s
            if above(found, target, everyone):
                out.resumed_after_heal_s = since_s
                return
            await asyncio.sleep(POLL_S)

    async def drain(self, ids: set[bytes], limit_s: float) -> float:
        """Until every id was seen final on some node, or limit_s; returns the seconds taken."""
        start_s = clock()
        waiting = [i for i in ids if i not in self.watch.final]
        while waiting and clock() - start_s < limit_s:
            await asyncio.sleep(POLL_S)
            waiting = [i for i in waiting if i not in self.watch.final]
        return clock() - start_s

    async def settle(self) -> None:
        """Until every node holds the top height seen now: the stores then compare whole."""
        target = top(await self.heights())
        deadline_s = clock() + SETTLE_TIMEOUT_S
        while clock() < deadline_s:
            found = await self.heights()
            if all(h is not None and h >= target for h in found.values()):
                return
            await asyncio.sleep(POLL_S)

    async def _compare_checkpoints(self, out: Outcome, low: int) -> None:
        """Every node's checkpoint hash at each height from low to the lowest node's height."""
        found = [h for h in (await self.heights()).values() if h is not None]
        high = min(found, default=0)
        for h in range(low, high + 1):
            hashes = set()
            for conn in self.conns.values():
                digest = await _checkpoint_hash(conn, h)
                if digest is None:
                    out.unanswered += 1
                else:
                    hashes.add(digest)
            out.checked_heights += 1
            if len(hashes) > 1:
                out.conflicts += 1


async def _checkpoint_hash(conn: NodeConnection, height: int) -> str | None:
    """GET /v1/checkpoints/{height}'s hash, or None when the node does not give it."""
    with contextlib.suppress(TransportError, ValueError, KeyError, TypeError):
        reply = await conn.request("GET", f"/v1/checkpoints/{height}")
        if reply.status == 200:
            return str(reply.json()["hash"])
    return None

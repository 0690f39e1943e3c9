"""The soak's killer: SIGKILL a random validator on a schedule, restart it, time its catch-up.

Its choices come from the random.Random it is given, so one seed gives one
schedule: which node dies at each kill. Catch-up is measured from the restart
(the process spawned again) until the node's executed height, polled on
GET /v1/status, reaches the lowest height of the other nodes polled at the
same moment: from then on it is as far as a live node.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

from govchain.node.devnet import Devnet
from govchain.node.soak_http import NodeConnection, TransportError

CATCHUP_POLL_S = 0.25
CATCHUP_TIMEOUT_S = 120.0  # a node not caught up by then is reported as not caught up
STATUS_TIMEOUT_S = 1.0


@dataclass(slots=True)
class Crash:
    """One kill of one node, its restart and its catch-up (clock seconds)."""

    node: str
    killed_s: float
    restarted_s: float | None = None
    caught_up_after_s: float | None = None  # since the restart; None: not (yet) caught up


async def node_height(conn: NodeConnection) -> int | None:
    """A node's executed height from GET /v1/status, or None when it does not answer."""
    try:
        reply = await conn.request("GET", "/v1/status")
        return int(reply.json()["height"]) if reply.status == 200 else None
    except (TransportError, ValueError, KeyError, TypeError):
        return None


async def heights(conns: dict[str, NodeConnection]) -> dict[str, int | None]:
    """Every node's executed height, asked at once (None: no answer)."""
    names = list(conns)
    found = await asyncio.gather(*(node_height(conns[n]) for n in names))
    return dict(zip(names, found, strict=True))


class Killer:
    """Kills and restarts validators of a running devnet; see the module doc."""

    def __init__(
        self,
        net: Devnet,
        urls: dict[str, str],
        rng: random.Random,
        kill_every_s: float,
        restart_after_s: float,
        clock: Callable[[], float],
    ) -> None:
        self.net = net
        # Status polls, one connection per node per watch (watches may overlap).
        self.urls = urls  # name -> API URL of every node
        self.victims = sorted(n.name for n in net.nodes if n.validator)
        self.rng = rng
        self.kill_every_s = kill_every_s
        self.restart_after_s = restart_after_s
        self.clock = clock
        self.crashes: list[Crash] = []
        self._watchers: list[asyncio.Task[None]] = []

    async def run(self, until_s: float) -> None:
        """Kill every kill_every_s until until_s; whatever is down at the end is restarted."""
        next_s = self.clock() + self.kill_every_s
        down: Crash | None = None
        try:
            while next_s < until_s:
                await asyncio.sleep(max(0.0, next_s - self.clock()))
                name = self.rng.choice(self.victims)
                self.net.kill_node(name)
                down = Crash(name, self.clock())
                self.crashes.append(down)
                await asyncio.sleep(min(self.restart_after_s, max(0.0, until_s - self.clock())))
                self._restart(down)
                down = None
                next_s += self.kill_every_s
        finally:
            if down is not None:  # cancelled between a kill and its restart
                self._restart(down)

    def _restart(self, crash: Crash) -> None:
        self.net.start_node(crash.node)
        crash.restarted_s = since_s = self.clock()
        proc = self.net.procs[crash.node]
        watch = self._watch_catchup(crash, proc, since_s)
        self._watchers.append(asyncio.create_task(watch))

    async def _watch_catchup(
        self, crash: Crash, proc: subprocess.Popen[bytes], since_s: float
    ) -> None:
        conns = {n: NodeConnection(u, STATUS_TIMEOUT_S) for n, u in self.urls.items()}
        deadline_s = since_s + CATCHUP_TIMEOUT_S
        try:
            while self.clock() < deadline_s and proc.poll() is None:
                by_name = await heights(conns)
                mine = by_name.pop(crash.node)
                others = [h for h in by_name.values() if h is not None]
                if mine is not None and others and mine >= min(others):
                    crash.caught_up_after_s = self.clock() - since_s
                    return
                await asyncio.sleep(CATCHUP_POLL_S)
        finally:
            for conn in conns.values():
                conn.close()

    async def settle(self) -> None:
        """Until every catch-up watch has ended (caught up, killed again, or timed out)."""
        await asyncio.gather(*self._watchers)

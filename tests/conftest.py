"""Shared test helpers: an in-process cluster on a simulated clock, an in-process API client.

`SimCluster` runs real replicas, each writing through a real Store (the
in-memory twin unless a test hands one in), over the simulator's seeded
network (sim/network.py) and a simulated clock: nothing sleeps, a seed replays
exactly, and time moves only when the test says so. Everything a replica's
outputs go through passes one method, `SimCluster.drive`: ready, persist, then
send, the order a node keeps. The shared shell (src/govchain/shell/) will take
that place; its Clock and Transport protocols are the shapes `SimClock` and
the cluster's sending already have.

`AsgiClient` serves the node's HTTP API in-process, for tests that read it
without a port.

Example:

    c = SimCluster(GENESIS, VALIDATORS, CONFIG)
    c.run_until(lambda: c.height("r3") >= 2)
    c.submit("r0", tx)
    c.run_until(c.final_everywhere(tx))
"""

from __future__ import annotations

import asyncio
import heapq
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from govchain.codec import encode
from govchain.crypto.keys import SigningKey
from govchain.dag.tx import Transaction
from govchain.replica.messages import Message, decode_message
from govchain.replica.replica import Replica, ReplicaConfig, ReplicaReady
from govchain.replica.replication import Submitted
from govchain.sim.network import LinkFaults, Network
from govchain.state.genesis import Genesis
from govchain.state.receipts import Receipt, ReceiptProof, prove
from govchain.storage.base import Store
from govchain.storage.memory import MemoryStore

TICK_MS = 20  # every replica ticks this often, as in a node
# One-way delay of every message: short, so that a height takes a few ticks,
# and drawn from the seed, so that deliveries interleave as on a real network.
LATENCY_MS_MIN = 1
LATENCY_MS_MAX = 10
RUN_MS_MAX = 10_000  # run_until fails when its condition has not held by then
SEED = 0


# -- the simulated clock ---------------------------------------------------------
@dataclass(slots=True)
class SimTimer:
    """A callback due at a simulated time; cancel() calls it off."""

    at_ms: int
    callback: Callable[[], None]
    cancelled: bool = False

    def cancel(self) -> None:
        """Do not run the callback (no-op once it ran)."""
        self.cancelled = True


class SimClock:
    """Simulated milliseconds and timers (the shell's Clock protocol); moves only in advance()."""

    def __init__(self, start_ms: int = 0) -> None:
        self._now_ms = start_ms
        self._timers: list[tuple[int, int, SimTimer]] = []
        self._seq = 0

    def now_ms(self) -> int:
        """The current simulated time."""
        return self._now_ms

    def call_later(self, delay_ms: int, callback: Callable[[], None]) -> SimTimer:
        """Run callback once, delay_ms from now."""
        if delay_ms < 0:
            raise ValueError("a timer cannot be due in the past")
        timer = SimTimer(self._now_ms + delay_ms, callback)
        self._seq += 1
        heapq.heappush(self._timers, (timer.at_ms, self._seq, timer))
        return timer

    def next_at(self) -> int | None:
        """When the next live timer is due (None: none is)."""
        while self._timers and self._timers[0][2].cancelled:
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None

    def fire_next(self) -> None:
        """Move to the next live timer's time and run it."""
        if self.next_at() is None:
            raise RuntimeError("no timer is due")
        at_ms, _, timer = heapq.heappop(self._timers)
        self._now_ms = at_ms
        timer.callback()

    def set(self, now_ms: int) -> None:
        """Move the time forward to now_ms (never back)."""
        if now_ms < self._now_ms:
            raise ValueError("simulated time never goes back")
        self._now_ms = now_ms


# -- the cluster -----------------------------------------------------------------
@dataclass(slots=True)
class Member:
    """One node: its key, its store, and its replica while it runs."""

    name: str
    key: SigningKey
    store: Store
    replica: Replica | None = None
    tick: SimTimer | None = None

    def stored_vertex(self, vid: bytes) -> Transaction | None:
        """A vertex read back from the store (the replica's vertex_source)."""
        stored = self.store.get_tx(vid)
        return stored.tx if stored is not None else None

    def stored_receipt_proof(self, vid: bytes) -> ReceiptProof | None:
        """An old receipt's proof from the store (the replica's receipt_source)."""
        stored = self.store.get_tx(vid)
        if stored is None or stored.height is None or stored.receipt is None:
            return None
        return prove(self.store.receipts(stored.height), stored.receipt.index)


Lost = Callable[[str, str, Message], bool]


@dataclass(frozen=True, slots=True)
class Blame:
    """A replica blamed a peer (ReplicaReady.blamed)."""

    by: str
    peer: str
    reason: str


@dataclass(slots=True)
class Traffic:
    """What the network did: deliveries by (src, dst, message type), and drops."""

    delivered: Counter[tuple[str, str, type]] = field(default_factory=Counter)
    dropped: int = 0


class SimCluster:
    """Validators r0..r{n-1} (or `names`), real replicas on a simulated clock and network.

    cut: members that neither send nor receive while in it.
    lost(src, dst, msg): True drops that delivery (a targeted message loss).
    record: members whose every ready() is kept in `readies`, as committed.
    """

    def __init__(
        self,
        genesis: Genesis,
        keys: Sequence[SigningKey],
        config: ReplicaConfig,
        *,
        names: Sequence[str] | None = None,
        stores: Mapping[str, Store] | None = None,
        record: Sequence[str] = (),
        seed: int = SEED,
        latency_ms: tuple[int, int] = (LATENCY_MS_MIN, LATENCY_MS_MAX),
    ) -> None:
        self.names = list(names) if names is not None else [f"r{i}" for i in range(len(keys))]
        if len(self.names) != len(keys):
            raise ValueError("one key per member")
        self.genesis = genesis
        self.config = config
        self.clock = SimClock(genesis.time_ms)
        self.net = Network(random.Random(seed))
        self.net.faults = LinkFaults(latency_ms_min=latency_ms[0], latency_ms_max=latency_ms[1])
        given: dict[str, Store] = dict(stores or {})
        self.members = {
            name: Member(name, key, given.pop(name) if name in given else MemoryStore())
            for name, key in zip(self.names, keys, strict=True)
        }
        if given:
            raise ValueError(f"stores for unknown members: {sorted(given)}")
        self.cut: set[str] = set()
        self.lost: Lost = lambda src, dst, msg: False
        self.blamed: list[Blame] = []
        self.traffic = Traffic()
        self.readies: dict[str, list[ReplicaReady]] = {name: [] for name in record}
        for name in self.names:
            self.start(name)

    # -- members -------------------------------------------------------------------
    @property
    def now_ms(self) -> int:
        """The simulated time."""
        return self.clock.now_ms()

    @property
    def replicas(self) -> dict[str, Replica]:
        """The running replicas by name."""
        return {n: m.replica for n, m in self.members.items() if m.replica is not None}

    def replica(self, name: str) -> Replica:
        """name's running replica; fails the test if it is down."""
        r = self.members[name].replica
        if r is None:
            raise AssertionError(f"{name} is down")
        return r

    def store(self, name: str) -> Store:
        """name's store."""
        return self.members[name].store

    def start(self, name: str) -> Replica:
        """Build name's replica from its store and start it (as a node does at boot)."""
        m = self.members[name]
        if m.replica is not None:
            raise RuntimeError(f"{name} is already running")
        m.replica = Replica(
            name,
            self.genesis,
            m.key,
            self.names,
            self.config,
            m.store.load(),
            vertex_source=m.stored_vertex,
            final_source=m.store.is_final,
            receipt_source=m.stored_receipt_proof,
            audit_source=lambda height: m.store.audit(height, height),
        )
        m.replica.start(self.now_ms)
        self.drive(name)
        self._arm_tick(m)
        return m.replica

    def crash(self, name: str) -> None:
        """name's process dies: its replica and timers go, and so do messages to and from it."""
        m = self.members[name]
        m.replica = None
        if m.tick is not None:
            m.tick.cancel()
            m.tick = None
        kept = [d for d in self.net.queue if name not in (d.src, d.dst)]
        self.traffic.dropped += len(self.net.queue) - len(kept)
        heapq.heapify(kept)
        self.net.queue = kept

    def restart(self, name: str, store: Store | None = None) -> Replica:
        """Crash name and start it again from its store (or from `store`, a reopened one)."""
        self.crash(name)
        if store is not None:
            self.members[name].store = store
        return self.start(name)

    def _arm_tick(self, m: Member) -> None:
        def tick() -> None:
            if m.replica is None:
                return
            m.replica.tick(self.now_ms)
            self.drive(m.name)
            self._arm_tick(m)

        m.tick = self.clock.call_later(TICK_MS, tick)

    # -- the drive step ----------------------------------------------------------------
    def drive(self, name: str) -> None:
        """Act on name's outputs: persist, then send (the one place the shell's order lives)."""
        m = self.members[name]
        if m.replica is None:
            return
        out = m.replica.ready()
        m.store.commit(out)
        if name in self.readies:
            self.readies[name].append(out)
        self.blamed.extend(Blame(name, peer, why) for peer, why in out.blamed)
        self._send(name, [*out.sends, *out.acks])

    def _send(self, src: str, sends: Sequence[tuple[str | None, Message]]) -> None:
        if src in self.cut:
            return
        for dst, msg in sends:
            data = encode(msg)
            for d in [dst] if dst is not None else [n for n in self.names if n != src]:
                if d not in self.cut:
                    self.net.send(self.now_ms, src, d, data)

    def _deliver(self, src: str, dst: str, data: bytes) -> None:
        m = self.members[dst]
        msg = decode_message(data)
        if m.replica is None or src in self.cut or dst in self.cut or self.lost(src, dst, msg):
            self.traffic.dropped += 1
            return
        self.traffic.delivered[(src, dst, type(msg))] += 1
        m.replica.receive(src, msg, self.now_ms)
        self.drive(dst)

    # -- time ---------------------------------------------------------------------------
    def advance(self, ms: int) -> None:
        """Let ms of simulated time pass: every tick and delivery due meanwhile, in order."""
        end = self.now_ms + ms
        while True:
            at_net, at_timer = self.net.next_at(), self.clock.next_at()
            if at_net is not None and at_net <= end and (at_timer is None or at_net < at_timer):
                d = self.net.pop()
                self.clock.set(d.at_ms)
                self._deliver(d.src, d.dst, d.data)
            elif at_timer is not None and at_timer <= end:
                self.clock.fire_next()
            else:
                break
        self.clock.set(end)

    def step(self) -> None:
        """One tick's worth of simulated time."""
        self.advance(TICK_MS)

    def run_for(self, ms: int) -> None:
        """Let ms of simulated time pass (a multiple of ticks, rounded up)."""
        for _ in range(-(-ms // TICK_MS)):
            self.step()

    def run_until(self, done: Callable[[], bool], ms_max: int = RUN_MS_MAX) -> None:
        """Step until done() holds; fail the test after ms_max of simulated time."""
        deadline = self.now_ms + ms_max
        while not done():
            if self.now_ms >= deadline:
                raise AssertionError(f"not done after {ms_max} ms of simulated time")
            self.step()

    # -- clients and reads -------------------------------------------------------------------
    def submit(self, name: str, tx: Transaction) -> Submitted:
        """A client's transaction to name; its outputs leave at once."""
        got = self.replica(name).submit(tx.to_wire(), self.now_ms)
        self.drive(name)
        return got

    def height(self, name: str) -> int:
        """name's executed height."""
        return self.replica(name).ledger.height

    def final_everywhere(self, *txs: Transaction) -> Callable[[], bool]:
        """A condition: every running replica holds a receipt for each of txs."""
        return lambda: all(
            receipt_of(r, tx.id) is not None for r in self.replicas.values() for tx in txs
        )


def receipt_of(replica: Replica, tx_id: bytes) -> Receipt | None:
    """tx_id's receipt among what replica executed (None: not final there)."""
    for ex in replica.executions:
        for rc in ex.result.receipts:
            if rc.tx_id == tx_id:
                return rc
    return None


# -- the HTTP API in-process -----------------------------------------------------------
class SyncAsgiTransport(httpx.BaseTransport):
    """A synchronous httpx transport onto an ASGI app (the SDK's client, served in-process)."""

    def __init__(self, app: Any) -> None:
        self.inner = httpx.ASGITransport(app=app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Serve one request on a fresh event loop."""

        async def go() -> httpx.Response:
            resp = await self.inner.handle_async_request(request)
            body = await resp.aread()
            return httpx.Response(resp.status_code, headers=resp.headers, content=body)

        return asyncio.run(go())


class AsgiClient(httpx.Client):
    """An httpx client whose requests the ASGI app answers in-process (no port, no thread)."""

    def __init__(self, app: Any) -> None:
        super().__init__(transport=SyncAsgiTransport(app), base_url="http://in-process")

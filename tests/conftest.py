"""Shared test helpers: an in-process cluster on a simulated clock, an in-process API client.

`SimCluster` runs real replicas, each driven by the shell a node runs
(shell/shell.py: ticks, group commit, persist before send) and writing through
a real Store (the in-memory twin unless a test hands one in), over the
simulator's seeded network (sim/network.py) and a simulated clock: nothing
sleeps, a seed replays exactly, and time moves only when the test says so.

`ConsensusWire` runs bare Tendermint instances for transcript tests: a
message moves only when the test delivers it, and every fresh signature is
checked to come with a hard state that holds it (persist before send).

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
import hashlib
import heapq
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import msgspec

from govchain.codec import encode
from govchain.consensus.config import ConsensusConfig
from govchain.consensus.messages import Certificate, Checkpoint, Proposal, Vote, VoteKind
from govchain.consensus.tendermint import HardState, Tendermint, Verdict
from govchain.consensus.validators import ValidatorSet
from govchain.crypto.keys import SigningKey
from govchain.dag.tx import Transaction
from govchain.replica.config import ReplicaConfig
from govchain.replica.messages import Message, decode_message
from govchain.replica.outputs import Persisted, ReplicaReady
from govchain.replica.replica import Replica
from govchain.replica.replication import Submitted
from govchain.shell.shell import Shell, ShellConfig
from govchain.sim.network import LinkFaults, Network
from govchain.state.audit import AuditEntry
from govchain.state.catalog import BUILTIN
from govchain.state.genesis import Genesis
from govchain.state.receipts import Receipt
from govchain.state.registry import Registry
from govchain.storage.base import Store, StoredTx
from govchain.storage.memory import MemoryStore
from govchain.storage.sources import StoreSources

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

    def run_for(self, ms: int) -> None:
        """Run every timer due within ms, in time order, then stand at the end."""
        end = self._now_ms + ms
        while (at := self.next_at()) is not None and at <= end:
            self.fire_next()
        self._now_ms = end

    def set(self, now_ms: int) -> None:
        """Move the time forward to now_ms (never back)."""
        if now_ms < self._now_ms:
            raise ValueError("simulated time never goes back")
        self._now_ms = now_ms


# -- the cluster -----------------------------------------------------------------
class Driver(Protocol):
    """What the cluster uses of the shell that drives a member's replica (shell.Shell)."""

    @property
    def replica(self) -> Replica:
        """The replica it drives."""
        ...

    def start(self) -> None:
        """Start the replica and its ticks."""
        ...

    def receive(self, peer: str, msg: Message) -> None:
        """A peer's message."""
        ...

    def submit(self, wire: bytes) -> Submitted:
        """A client's transaction."""
        ...

    def drain(self) -> None:
        """Persist the replica's outputs, then send them."""
        ...

    def stop(self) -> None:
        """Stop every timer."""
        ...


@dataclass(slots=True)
class Member:
    """One node: its key, its store, and its replica while it runs."""

    name: str
    key: SigningKey
    store: Store
    shell: Driver | None = None  # while it runs

    @property
    def replica(self) -> Replica | None:
        """The running replica (None while down)."""
        return self.shell.replica if self.shell is not None else None


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


class _Link:
    """One member's Transport (the shell's protocol): onto the cluster's network."""

    def __init__(self, cluster: SimCluster, name: str) -> None:
        self.cluster = cluster
        self.name = name

    def send(self, sends: Sequence[tuple[str | None, Message]]) -> None:
        """Put each message on the simulated network (None: to every other member)."""
        self.cluster.send(self.name, sends)

    def refuse(self, peer: str, reason: str) -> None:
        """Record the blame (the cluster refuses nobody: tests look at what was blamed)."""
        self.cluster.blamed.append(Blame(self.name, peer, reason))


class RecordingStore:
    """A Store that keeps every ReplicaReady committed through it, in order."""

    def __init__(self, inner: Store, log: list[ReplicaReady]) -> None:
        self.inner = inner
        self.log = log

    def commit(self, ready: ReplicaReady) -> None:
        """Commit to the inner store, then keep ready."""
        self.inner.commit(ready)
        self.log.append(ready)

    def load(self, from_snapshot: bool = True) -> Persisted:
        """As the inner store."""
        return self.inner.load(from_snapshot)

    def get_tx(self, tx_id: bytes) -> StoredTx | None:
        """As the inner store."""
        return self.inner.get_tx(tx_id)

    def is_final(self, tx_id: bytes) -> bool:
        """As the inner store."""
        return self.inner.is_final(tx_id)

    def tx_ids_with_prefix(self, prefix: str, limit: int) -> list[bytes]:
        """As the inner store."""
        return self.inner.tx_ids_with_prefix(prefix, limit)

    def get_checkpoint(self, height: int) -> tuple[Checkpoint, Certificate] | None:
        """As the inner store."""
        return self.inner.get_checkpoint(height)

    def decided_height(self) -> int:
        """As the inner store."""
        return self.inner.decided_height()

    def receipts(self, height: int) -> list[Receipt]:
        """As the inner store."""
        return self.inner.receipts(height)

    def audit(self, from_height: int, to_height: int) -> list[AuditEntry]:
        """As the inner store."""
        return self.inner.audit(from_height, to_height)

    def audit_head(self, height: int) -> bytes | None:
        """As the inner store."""
        return self.inner.audit_head(height)

    def close(self) -> None:
        """As the inner store."""
        self.inner.close()


class SimCluster:
    """Validators r0..r{n-1} (or `names`), real replicas on a simulated clock and network.

    cut: members that neither send nor receive while in it.
    lost(src, dst, msg): True drops that delivery (a targeted message loss).
    record: members whose every commit is kept in `readies[name]`, in order.
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
        registry: Registry = BUILTIN,
    ) -> None:
        self.registry = registry  # what every member executes (an application's kinds too)
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
        if m.shell is not None:
            raise RuntimeError(f"{name} is already running")
        sources = StoreSources(m.store)
        replica = Replica(
            name,
            self.genesis,
            m.key,
            self.names,
            self.config,
            m.store.load(),
            vertex_source=sources.vertex,
            final_source=sources.is_final,
            receipt_source=sources.receipt_proof,
            decided_source=sources.checkpoint,
            audit_source=sources.audit,
            registry=self.registry,
            # Peers known by key, as a node knows them after the handshake.
            peer_keys={n: mm.key.public_key for n, mm in self.members.items()},
        )
        log = self.readies.get(name)
        store = m.store if log is None else RecordingStore(m.store, log)
        m.shell = Shell(replica, store, _Link(self, name), self.clock, ShellConfig(tick_ms=TICK_MS))
        m.shell.start()
        return replica

    def crash(self, name: str) -> None:
        """name's process dies: its replica and timers go, and so do messages to and from it."""
        m = self.members[name]
        if m.shell is not None:
            m.shell.stop()  # its timers die with it; what waited for a commit is lost
            m.shell = None
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

    # -- the drive step ----------------------------------------------------------------
    def drive(self, name: str) -> None:
        """Drain name's outputs now (the shell persists, then sends)."""
        shell = self.members[name].shell
        if shell is not None:
            shell.drain()

    def send(self, src: str, sends: Sequence[tuple[str | None, Message]]) -> None:
        """src's messages onto the network (None: to every other member), unless cut off."""
        if src in self.cut:
            return
        for dst, msg in sends:
            data = encode(msg)
            for d in [dst] if dst is not None else [n for n in self.names if n != src]:
                if d not in self.cut:
                    self.net.send(self.now_ms, src, d, data)

    def _deliver(self, src: str, dst: str, data: bytes) -> None:
        shell = self.members[dst].shell
        msg = decode_message(data)
        if shell is None or src in self.cut or dst in self.cut or self.lost(src, dst, msg):
            self.traffic.dropped += 1
            return
        self.traffic.delivered[(src, dst, type(msg))] += 1
        shell.receive(src, msg)

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
        """A client's transaction to name (its outputs leave with the shell's next drain)."""
        shell = self.members[name].shell
        if shell is None:
            raise AssertionError(f"{name} is down")
        return shell.submit(tx.to_wire())

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


# -- consensus transcripts -------------------------------------------------------------
ConsensusMsg = Proposal | Vote


def app_tip(name: str) -> bytes:
    """The one tip name's TranscriptApp proposes: it tells whose value a checkpoint is."""
    return hashlib.sha256(name.encode()).digest()


class TranscriptApp:
    """A ConsensusApp with one fixed validator set and a verdict the test sets."""

    def __init__(
        self, name: str, chain_id: str, genesis_hash: bytes, validators: ValidatorSet
    ) -> None:
        self.name = name
        self.chain_id = chain_id
        self.genesis_hash = genesis_hash
        self.validators = validators
        self.verdict = Verdict.VALID

    def validator_set(self, height: int) -> ValidatorSet | None:
        """The fixed set, at every height."""
        return self.validators

    def propose(self, height: int, previous: Checkpoint | None, now_ms: int) -> Checkpoint:
        """A checkpoint naming app_tip(name), timed now (and after previous)."""
        prev_time = previous.time_ms if previous else -1
        return Checkpoint(
            chain_id=self.chain_id,
            height=height,
            previous=previous.hash if previous else self.genesis_hash,
            time_ms=max(now_ms, prev_time + 1),
            tips=(app_tip(self.name),),
            state_hash=bytes(32),
            receipts_root=bytes(32),
            audit_head=bytes(32),
            validator_set_hash=self.validators.hash,
        )

    def check(self, checkpoint: Checkpoint, previous: Checkpoint | None, now_ms: int) -> Verdict:
        """The verdict the test set."""
        return self.verdict


@dataclass(frozen=True, slots=True)
class Sent:
    """A consensus message queued on the wire from src to dst."""

    src: str
    dst: str
    msg: ConsensusMsg


def kind_of(msg: ConsensusMsg) -> str:
    """ "proposal", "prevote" or "precommit"."""
    if isinstance(msg, Proposal):
        return "proposal"
    return "prevote" if msg.kind == VoteKind.PREVOTE else "precommit"


def only(
    *,
    src: str | set[str] | None = None,
    dst: str | set[str] | None = None,
    kind: str | None = None,
    round_: int | None = None,
) -> Callable[[Sent], bool]:
    """A filter over queued messages; every given field must match."""

    def within(name: str, want: str | set[str] | None) -> bool:
        return want is None or name == want or (isinstance(want, set) and name in want)

    return lambda s: (
        within(s.src, src)
        and within(s.dst, dst)
        and (kind is None or kind_of(s.msg) == kind)
        and (round_ is None or s.msg.round == round_)
    )


class ConsensusWire:
    """One Tendermint per key (equal weights); a message moves only when the test delivers it.

    collect() acts on ready() like a careful caller (persist, then queue to
    every other node) and checks the persist-before-send rule on every fresh
    signature. Time is whatever the test passes to start, tick and restart.
    """

    def __init__(
        self,
        chain_id: str,
        genesis_hash: bytes,
        keys: Mapping[str, SigningKey],
        config: ConsensusConfig,
    ) -> None:
        self.chain_id = chain_id
        self.genesis_hash = genesis_hash
        self.keys = dict(keys)
        self.names = list(self.keys)
        self.config = config
        self.validators = ValidatorSet.of({k.public_key: 1 for k in self.keys.values()})
        self.now_ms = 0
        self.queue: list[Sent] = []
        self.apps = {
            n: TranscriptApp(n, chain_id, genesis_hash, self.validators) for n in self.names
        }
        self.hard: dict[str, HardState | None] = {n: None for n in self.names}  # as persisted
        self.decided: dict[str, list[tuple[Checkpoint, Certificate]]] = {n: [] for n in self.names}
        self.signed: dict[str, list[ConsensusMsg]] = {n: [] for n in self.names}  # own, as sent
        self.fresh_checked = 0
        self.nodes = {n: self._new(n) for n in self.names}

    def _new(self, name: str) -> Tendermint:
        last = self.decided[name][-1][0] if self.decided[name] else None
        return Tendermint(
            self.chain_id,
            self.genesis_hash,
            self.apps[name],
            self.keys[name],
            self.config,
            last,
            self.hard[name],
        )

    def start(self, now_ms: int = 0) -> None:
        """Start every node at now_ms and collect what it sends."""
        self.now_ms = now_ms
        for n in self.names:
            self.nodes[n].start(now_ms)
            self.collect(n)

    def restart(self, name: str, now_ms: int) -> None:
        """Crash name and rebuild it from what collect() persisted, then start it."""
        self.now_ms = now_ms
        self.nodes[name] = self._new(name)
        self.nodes[name].start(now_ms)
        self.collect(name)

    def tick(self, now_ms: int, *names: str) -> None:
        """Tick the named nodes (all by default) at now_ms."""
        self.now_ms = now_ms
        for n in names or self.names:
            self.nodes[n].tick(now_ms)
            self.collect(n)

    def collect(self, name: str) -> None:
        """Take name's ready(): check and persist it, then queue its messages."""
        r = self.nodes[name].ready()
        own = self.keys[name].public_key
        seen = {msgspec.msgpack.encode(m) for m in self.signed[name]}
        for m in r.messages:
            mine = (m.proposer if isinstance(m, Proposal) else m.voter) == own
            if mine and msgspec.msgpack.encode(m) not in seen:
                self._check_persisted(name, m, r.hard_state, r.decided)
            if mine:
                self.signed[name].append(m)
        if r.hard_state is not None:
            self.hard[name] = r.hard_state
        self.decided[name].extend(r.decided)
        for m in r.messages:
            self.queue.extend(Sent(name, d, m) for d in self.names if d != name)

    def _check_persisted(
        self,
        name: str,
        m: ConsensusMsg,
        hs: HardState | None,
        decided: list[tuple[Checkpoint, Certificate]],
    ) -> None:
        self.fresh_checked += 1
        if hs is None:
            raise AssertionError(f"{name} sent a fresh {kind_of(m)} with no hard state to persist")
        kept = hs.proposals if isinstance(m, Proposal) else hs.votes
        moved_on = any(cp.height >= m.height for cp, _ in decided)
        if m not in kept and not moved_on:
            raise AssertionError(f"{name}'s hard state lacks its fresh {kind_of(m)}")

    def deliver(self, which: Callable[[Sent], bool] = lambda s: True) -> int:
        """Deliver matching messages (and matching replies) until none is left."""
        count = 0
        while (i := next((i for i, s in enumerate(self.queue) if which(s)), None)) is not None:
            s = self.queue.pop(i)
            self.inject(s.dst, s.msg)
            count += 1
        return count

    def drop(self, which: Callable[[Sent], bool]) -> None:
        """Lose every queued message that matches."""
        self.queue = [s for s in self.queue if not which(s)]

    def inject(self, dst: str, msg: ConsensusMsg) -> None:
        """Hand msg to dst now (from anyone), then collect dst's outputs."""
        node = self.nodes[dst]
        if isinstance(msg, Proposal):
            node.on_proposal(msg, self.now_ms)
        else:
            node.on_vote(msg, self.now_ms)
        self.collect(dst)

    def votes(self, name: str, kind: VoteKind, round_: int, height: int = 1) -> list[bytes]:
        """Values of every vote of this kind name has sent for (height, round), repeats too."""
        return [
            m.value
            for m in self.signed[name]
            if isinstance(m, Vote) and (m.kind, m.height, m.round) == (kind, height, round_)
        ]

    def proposals(self, name: str, round_: int, height: int = 1) -> list[Proposal]:
        """Every proposal name has sent for (height, round), repeats too."""
        return [
            m
            for m in self.signed[name]
            if isinstance(m, Proposal) and (m.height, m.round) == (height, round_)
        ]


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

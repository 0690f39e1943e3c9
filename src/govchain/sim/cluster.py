"""One simulated run: N real replicas, a seeded network and clock, faults, checkers.

A run has a safety phase (faults on, workload flowing) and a liveness phase
(network healed, crashed nodes restarted) that must add checkpoints, and make
final every transaction an honest node answered 202, in bounded time.
Everything random comes from the seed: a seed replays exactly.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from govchain.apps.catalog import registry_for
from govchain.codec import DecodeError, encode
from govchain.consensus.config import ConsensusConfig
from govchain.consensus.validators import ValidatorSet
from govchain.crypto.keys import SigningKey
from govchain.dag.admission import AdmissionError, Reject
from govchain.dag.limits import DagLimits
from govchain.dag.tx import Transaction
from govchain.replica.config import ReplicaConfig
from govchain.replica.messages import Message, ProposalMsg, VoteMsg, decode_message
from govchain.replica.outputs import ReplicaReady
from govchain.replica.replica import Replica
from govchain.replica.replication import SubmitState
from govchain.replica.snapshot import SnapshotPolicy
from govchain.shell.ports import Timer
from govchain.shell.shell import SHELL_PLANTS, Shell, ShellConfig, ShellHooks
from govchain.sim.attackers import STEP_MS_MAX, STEP_MS_MIN, Attacker, Peek
from govchain.sim.byzantine import BEHAVIOURS, Collusion, rewrite
from govchain.sim.checkers import Checkers, Violation
from govchain.sim.governor import Governor, View
from govchain.sim.network import LinkFaults, Network
from govchain.sim.shell_env import CrashError, SimClock, SimTransport, TimerQueue
from govchain.sim.workload import SPAM_KINDS, Client, Workload
from govchain.sim.wr_cast import WR_PLANTS, Cast, planted
from govchain.sim.wr_checkers import WrCheckers
from govchain.sim.wr_workload import WR_INTERVAL_MS, WR_START_MS, WrWorkload
from govchain.state.genesis import Genesis, GenesisIdentity
from govchain.state.receipts import Receipt
from govchain.storage.base import CommitError
from govchain.storage.memory import MemoryStore
from govchain.storage.sources import StoreSources

FAULTS = ("none", "loss", "partition", "crash", "all")
CLIENTS = 6
CLIENT_BALANCE = 1_000_000
GOV_INTERVAL_MS = 100
ATTACKERS_MAX = 8
# How long a node refuses a peer it blamed (ReplicaReady.blamed). A node bans
# the key for NetLimits.blame_ban_s (600 s), but a real attacker comes back at
# once under a fresh key (keys cost nothing) while a simulated one keeps its
# key: 5 s lets it return within a run, as the real one would.
BLAME_MS = 5_000


# Honest replicas run with budgets scaled down to what a simulated run feeds
# them, so that attackers' floods reach them and the budget checker sees
# eviction at work. Measured with the default budgets: one honest source's
# orphans peaked near 48 KB and its wanted parents near 14 KB; one attacker's
# passed 96 KiB and 32 KiB.
SIM_DAG_LIMITS = DagLimits(
    stamp_bits_min=4,
    prune_covered=True,
    orphan_bytes_max=4 * 96 * 1024,
    orphan_bytes_per_source_max=96 * 1024,
)
SIM_DECIDED_KEPT = 4  # decided heights in memory: the rest are read from the store
SIM_WANTED_BYTES_MAX = 4 * 32 * 1024
# A snapshot every few heights: a run's restarts load one and replay a short tail.
SIM_SNAPSHOT_TXS = 40
SIM_SNAPSHOT_HEIGHTS = 8

# Crash right after a 202 (issue 10): in a run with crash faults, with this
# chance, the first honest 202 announced after a moment drawn in the window
# below crashes its node at once, before that output's sends leave, and the
# node never returns. The window leaves time before the heal for the network to
# lose what the node alone held.
CRASH_AFTER_ACCEPT_CHANCE = 0.9
CRASH_AFTER_ACCEPT_FROM_MS = 500
CRASH_AFTER_ACCEPT_BEFORE_HEAL_MS = 1_000
# A transaction that expires within this many heights of its 202 proves nothing
# when lost (it could not have executed anyway): the crash waits for a 202 of a
# transaction valid for longer.
CRASH_AFTER_ACCEPT_VALIDITY_MIN = 10
# Once the liveness target is reached, the run goes on while some transaction
# answered 202 before the heal is neither final nor expired, for at most this
# many heights past the target: an honest holder proposes it within a round of
# proposers, and a lost one must not get the time to expire unnoticed.
ACCEPTED_GRACE_HEIGHTS = 8
# One seed in this many has the governor set and clear a parameter first (the
# parameters back to none); the others reach the rest of its script sooner.
PARAMS_EMPTIED_EVERY = 3


def default_byzantine_peers(faults: str) -> int:
    """Attacker peers when none are asked for: one with --faults all, else none."""
    return 1 if faults == "all" else 0


@dataclass(frozen=True, slots=True)
class SimConfig:
    """One run's shape; the seed decides everything else."""

    seed: int
    validators: int = 4
    byzantine: int = 0
    faults: str = "all"
    plant: str | None = None
    # Byzantine non-validator peers (sim/attackers.py); None: default_byzantine_peers.
    byzantine_peers: int | None = None
    safety_ms: int = 8_000
    liveness_ms_max: int = 20_000
    liveness_checkpoints: int = 5
    client_interval_ms: int = 60

    @property
    def attackers(self) -> int:
        """The number of attacker peers this run has."""
        if self.byzantine_peers is None:
            return default_byzantine_peers(self.faults)
        return self.byzantine_peers


@dataclass(slots=True)
class SimResult:
    """What a run found."""

    seed: int
    violations: list[Violation]
    checkpoints: int
    steps: int
    messages: int
    txs_final: int
    spam_rejected: dict[str, int] = field(default_factory=dict)
    audit_kinds: dict[str, int] = field(default_factory=dict)  # governance that happened
    attacks: dict[str, int] = field(default_factory=dict)  # what attacker peers did and got
    accepted: int = 0  # transactions an honest node answered 202 before the heal
    crashed_after_accept: list[str] = field(default_factory=list)  # nodes gone for good
    warehouse: dict[str, int] = field(default_factory=dict)  # "transition:outcome" -> count


@dataclass(slots=True)
class SimNode:
    """An instance on the simulated network (twins share one key)."""

    name: str
    key: SigningKey
    honest: bool
    behaviour: str | None
    send_to: frozenset[str] | None  # twins only reach one side
    # The running incarnation: the shell nodes run, over this node's store, the
    # simulated network and clock. None while the node is down.
    shell: Shell[Replica] | None = None
    clock: SimClock | None = None
    # The node's disk: the same in-memory store the node's tests use, so that what
    # a commit deletes (redactions, rejected payloads) is deleted here too.
    store: MemoryStore = field(default_factory=MemoryStore)

    @property
    def replica(self) -> Replica | None:
        """The running replica, or None while the node is down."""
        return self.shell.replica if self.shell is not None else None


def sim_consensus_config(plants: frozenset[str]) -> ConsensusConfig:
    """Timeouts scaled to the simulated network's latencies."""
    return ConsensusConfig(
        propose_delay_ms=60,
        propose_timeout_ms=500,
        prevote_timeout_ms=250,
        precommit_timeout_ms=250,
        timeout_delta_ms=150,
        rebroadcast_ms=400,
        plants=plants,
    )


class Simulation:
    """Drives replicas through events in time order and checks invariants."""

    def __init__(self, cfg: SimConfig) -> None:
        if cfg.faults not in FAULTS:
            raise ValueError(f"faults must be one of {', '.join(FAULTS)}")
        if not 1 <= cfg.validators <= 40 or not 0 <= cfg.byzantine <= cfg.validators:
            raise ValueError("need 1..40 validators and 0..validators Byzantine ones")
        if not 0 <= cfg.attackers <= ATTACKERS_MAX:
            raise ValueError(f"need 0..{ATTACKERS_MAX} Byzantine peers")
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.now_ms = 0
        self.net = Network(self.rng)
        self._events: list[tuple[int, int, str, str]] = []
        self._seq = 0
        # The warehouse's planted bugs are the simulator's (sim/wr_cast.py), not the node's.
        plants = frozenset({cfg.plant}) - WR_PLANTS if cfg.plant else frozenset()
        # Honest nodes run the node's shell, with its own planted bugs when asked.
        self.honest_shell = ShellConfig(plants=plants & SHELL_PLANTS)
        self.timers = TimerQueue()
        self.honest_config = ReplicaConfig(
            dag=SIM_DAG_LIMITS,
            consensus=sim_consensus_config(plants),
            idle_checkpoint_ms=0,
            executions_kept_max=None,
            # Small, so that restarts in a run resume from snapshots too.
            snapshots=SnapshotPolicy(txs=SIM_SNAPSHOT_TXS, heights=SIM_SNAPSHOT_HEIGHTS),
            wanted_bytes_max=SIM_WANTED_BYTES_MAX,
            wanted_bytes_per_source_max=SIM_WANTED_BYTES_MAX // 4,
            # Few, so that older decided heights are read back from the store.
            decided_kept=SIM_DECIDED_KEPT,
        )
        self.byz_config = ReplicaConfig(
            dag=DagLimits(stamp_bits_min=4, prune_covered=True),
            consensus=sim_consensus_config(frozenset()),
            idle_checkpoint_ms=0,
        )
        self._build_nodes()
        self.checkers = Checkers(self.genesis.supply, self.names, self.genesis.sync_every)
        self.final: dict[bytes, Receipt] = {}
        # The warehouse's workload and checkers (issue 14): their own PRNG, seeded here.
        self.wr = WrWorkload(cfg.seed, self.workload, self.wr_cast, self.governor.regs, self.final)
        banks = {c.key.address for c in self.wr_cast.banks}
        self.wr_checkers = WrCheckers(
            self.checkers.fail, self.wr, {a: b for a, b in self.genesis.balances if a in banks}
        )
        self.f = (cfg.validators - 1) // 3
        self.spam_rejected: dict[str, int] = {}
        # Audit entries by kind (self.final: the first honest receipt of every final tx).
        self.audit_kinds: dict[str, int] = {}
        self._audited: set[int] = set()
        # (node, peer) -> until when node refuses peer, after blaming it.
        self._refused: dict[tuple[str, str], int] = {}
        self.blamed: dict[str, int] = {}
        # valid_until of every client transaction submitted (a 202 names only ids).
        self._valid_until: dict[bytes, int] = {}
        self.healed = False
        # Crash right after a 202: its own PRNG, so that the main draws stay as they were.
        self._crash_rng = random.Random(f"govchain-sim-crash-after-accept:{cfg.seed}")
        self._crash_after_accept_at = self._draw_crash_after_accept()
        self.gone: list[str] = []  # crashed right after a 202: never restarted
        self._heavy: str | None = None  # the validator the reweigh doubles

    # -- set-up ----------------------------------------------------------------
    def _build_nodes(self) -> None:
        cfg = self.cfg
        keys = [SigningKey.from_label(f"sim-validator-{i}") for i in range(cfg.validators)]
        self.clients = [Client(SigningKey.from_label(f"sim-client-{i}")) for i in range(CLIENTS)]
        regulators = [Client(SigningKey.from_label(f"sim-regulator-{i}")) for i in range(3)]
        kinds = {k.address: "validator" for k in keys}
        kinds.update({r.key.address: "regulator" for r in regulators})
        self.wr_cast = Cast()
        balances = [(c.key.address, CLIENT_BALANCE) for c in self.clients] + self.wr_cast.balances()
        identities = [GenesisIdentity(a, k, 3) for a, k in sorted(kinds.items())]
        self.genesis = Genesis(
            chain_id="govchain-sim",
            time_ms=0,
            balances=tuple(sorted(balances)),
            validators=ValidatorSet.of({k.public_key: 1 for k in keys}),
            # The committee: three regulators of weight 1, any two decide.
            committee=tuple(sorted((r.key.public_key, 1) for r in regulators)),
            threshold=2,
            identities=tuple(
                sorted(identities + self.wr_cast.identities(), key=lambda i: i.address)
            ),
            typed_audit=True,  # as every chain made now: the reweigh's entry is typed
            apps=("warehouse",),  # every seed runs the warehouse (sim/wr_workload.py)
            # Sync heights as often as snapshots: every seed checks their hashes
            # agree and that restarts resume from sealed snapshots.
            sync_every=SIM_SNAPSHOT_HEIGHTS,
        )
        byz_idx = sorted(self.rng.sample(range(cfg.validators), cfg.byzantine))
        if cfg.byzantine == 1:
            behaviours = [self.rng.choice(BEHAVIOURS)]
        else:
            style = self.rng.choice(("collude", "twins"))
            behaviours = [style] * cfg.byzantine
        honest_names = [f"v{i}" for i in range(cfg.validators) if i not in byz_idx]
        self.rng.shuffle(honest_names)
        cut = self.rng.randint(1, max(1, len(honest_names) - 1))
        self.collusion = Collusion(frozenset(honest_names[:cut]), frozenset(honest_names[cut:]))
        self.nodes: dict[str, SimNode] = {}
        for i, key in enumerate(keys):
            if i not in byz_idx:
                self.nodes[f"v{i}"] = SimNode(f"v{i}", key, True, None, None)
                continue
            b = behaviours[byz_idx.index(i)]
            if b == "twins":
                side_a = self.collusion.side_a | {f"v{j}" for j in byz_idx}
                side_b = self.collusion.side_b | {f"v{j}" for j in byz_idx}
                self.nodes[f"v{i}"] = SimNode(f"v{i}", key, False, b, frozenset(side_a))
                self.nodes[f"v{i}t"] = SimNode(f"v{i}t", key, False, b, frozenset(side_b))
            else:
                self.nodes[f"v{i}"] = SimNode(f"v{i}", key, False, b, None)
        self.names = sorted(self.nodes)
        self._build_attackers(keys)
        self.workload = Workload(self.rng, self.clients, stamp_bits_min=4)
        business = Client(SigningKey.from_label("sim-business"))
        self.governor = Governor(
            self.workload,
            regulators,
            business,
            self.clients,
            registry_for(self.genesis),
            params_emptied_first=self.cfg.seed % PARAMS_EMPTIED_EVERY == 0,
        )

    def _build_attackers(self, validator_keys: list[SigningKey]) -> None:
        """Attacker peers, with their own PRNG: the main one's draws stay as they were."""
        seed = self.cfg.seed
        self.attackers: dict[str, Attacker] = {}
        for i in range(self.cfg.attackers):
            rng = random.Random(f"govchain-sim-attacker:{seed}:{i}")
            self.attackers[f"x{i}"] = Attacker(
                name=f"x{i}",
                key=SigningKey(rng.randbytes(32)),
                rng=rng,
                chain_id=self.genesis.chain_id,
                validators=[k.public_key for k in validator_keys],
                stamp_bits_min=4,
            )
        self.net.unpartitioned = frozenset(self.attackers)
        # Everyone an honest replica talks to: validators and attacker peers alike.
        self.peer_names = self.names + sorted(self.attackers)
        self.peer_keys = {n.name: n.key.public_key for n in self.nodes.values()}
        self.peer_keys.update({a.name: a.key.public_key for a in self.attackers.values()})

    def _make_replica(self, node: SimNode) -> Replica:
        cfg = self.honest_config if node.honest else self.byz_config
        persisted = node.store.load()
        sources = StoreSources(node.store)
        if node.honest:
            # What the node reads back from its disk after a restart must hold
            # no payload it executed as rejected or redacted either.
            self.checkers.check_loaded(node.name, persisted)
        return Replica(
            node.name,
            self.genesis,
            node.key,
            self.peer_names,
            cfg,
            persisted,
            vertex_source=sources.vertex,
            final_source=sources.is_final,
            peer_keys=self.peer_keys,
            receipt_source=sources.receipt_proof,
            decided_source=sources.checkpoint,
            audit_source=sources.audit,
            registry=registry_for(self.genesis),  # the chain's applications too
        )

    # -- events ----------------------------------------------------------------
    def _at(self, at_ms: int, kind: str, arg: str = "") -> None:
        self._seq += 1
        heapq.heappush(self._events, (at_ms, self._seq, kind, arg))

    def _draw_crash_after_accept(self) -> int | None:
        """When this run's crash right after a 202 may come (None: it has none)."""
        if self.cfg.faults not in ("crash", "all"):
            return None
        if self._crash_rng.random() >= CRASH_AFTER_ACCEPT_CHANCE:
            return None
        last = self.cfg.safety_ms - CRASH_AFTER_ACCEPT_BEFORE_HEAL_MS
        if last < CRASH_AFTER_ACCEPT_FROM_MS:
            return None
        return self._crash_rng.randint(CRASH_AFTER_ACCEPT_FROM_MS, last)

    def _schedule_faults(self) -> None:
        f = self.cfg.faults
        end = self.cfg.safety_ms
        if f in ("loss", "all"):
            self.net.faults = LinkFaults(
                loss=self.rng.uniform(0.02, 0.25), duplicate=0.05, spike=0.05
            )
        if f in ("partition", "all"):
            t = self.rng.randint(200, 1_500)
            while t < end:
                self._at(t, "partition")
                t += self.rng.randint(300, 2_000)
                self._at(min(t, end), "unpartition")
                t += self.rng.randint(300, 2_000)
        if f in ("crash", "all"):
            t = self.rng.randint(200, 1_500)
            while t < end:
                self._at(t, "crash", self.rng.choice(self.names))
                t += self.rng.randint(400, 2_000)
        self._at(end, "heal")

    def run(self) -> SimResult:
        """Run both phases; stops at the first violation."""
        with planted(self.cfg.plant):
            return self._run()

    def _run(self) -> SimResult:
        for name in self.names:
            self._boot(self.nodes[name])
        self._at(5, "client")
        self._at(40, "gov")
        self._at(WR_START_MS, "wr")
        for name, attacker in self.attackers.items():
            self._at(attacker.rng.randint(STEP_MS_MIN, STEP_MS_MAX), "attack", name)
        if self.cfg.seed % 2 == 0:
            self._at(self.rng.randint(500, self.cfg.safety_ms // 2), "reweigh")
        self._schedule_faults()
        deadline = self.cfg.safety_ms + self.cfg.liveness_ms_max
        target: int | None = None
        steps = 0
        heal_ms = self.cfg.safety_ms
        while not self.checkers.violations:
            nxt_net = self.net.next_at()
            nxt_ev = self._events[0][0] if self._events else None
            if nxt_net is None and nxt_ev is None:
                break
            try:
                if nxt_ev is None or (nxt_net is not None and nxt_net < nxt_ev):
                    d = self.net.pop()
                    self.now_ms = d.at_ms
                    self._deliver(d.src, d.dst, d.data)
                else:
                    at, _, kind, arg = heapq.heappop(self._events)
                    self.now_ms = at
                    if kind == "heal":
                        target = self._heal()
                    else:
                        self._event(kind, arg)
            except CrashError:
                pass  # the node is down already; the rest of its step died with it
            except CommitError as exc:
                self.checkers.fail("commit", f"a node's store refused a commit: {exc}")
            steps += 1
            self.checkers.step = steps
            if target is not None and self._reached(target):
                if not self.checkers.unsettled(heal_ms):
                    break
                if self._reached(target + ACCEPTED_GRACE_HEIGHTS):
                    self.checkers.check_accepted(
                        heal_ms, f"{ACCEPTED_GRACE_HEIGHTS} heights past the liveness target"
                    )
                    break
            if self.now_ms > deadline:
                if target is not None and self._reached(target):
                    self.checkers.check_accepted(heal_ms, f"by {deadline} ms")
                else:
                    self.checkers.fail(
                        "liveness",
                        f"honest nodes did not reach height {target} by {deadline} ms",
                    )
        if not self.checkers.violations:
            # Last look at everything each honest node holds, in memory and stored.
            for n in self._honest():
                self.checkers.sweep_kept(n.name, n.replica.view if n.replica else None, n.store)
        attacks: dict[str, int] = {}
        for a in self.attackers.values():
            for k, v in a.stats.items():
                attacks[k] = attacks.get(k, 0) + v
        for k, v in self.blamed.items():
            attacks[k] = attacks.get(k, 0) + v
        return SimResult(
            seed=self.cfg.seed,
            violations=self.checkers.violations,
            checkpoints=min(
                (n.replica.view.decided_height for n in self._honest() if n.replica), default=0
            ),
            steps=steps,
            messages=self.net.sent,
            txs_final=max(
                (
                    sum(len(e.txs) for e in n.replica.view.recent_executions())
                    for n in self._honest()
                    if n.replica
                ),
                default=0,
            ),
            spam_rejected=self.spam_rejected,
            audit_kinds=self.audit_kinds,
            attacks=dict(sorted(attacks.items())),
            accepted=len(self.checkers.accepted(heal_ms)),
            crashed_after_accept=list(self.gone),
            warehouse=dict(sorted(self.wr.stats.items())),
        )

    def _honest(self) -> list[SimNode]:
        return [self.nodes[n] for n in self.names if self.nodes[n].honest]

    def _reached(self, target: int) -> bool:
        """Every honest node but those gone for good has executed target."""
        return all(
            n.replica is not None and n.replica.view.height >= target
            for n in self._honest()
            if n.name not in self.gone
        )

    def _heal(self) -> int:
        self.net.heal()
        self.healed = True
        for name in self.names:
            if self.nodes[name].replica is None and name not in self.gone:
                self._restart(name)
        top = max((n.replica.view.height for n in self._honest() if n.replica), default=0)
        return max(top, self.checkers.decided_heights()) + self.cfg.liveness_checkpoints

    def _event(self, kind: str, arg: str) -> None:
        if kind == "timer":
            self.timers.fire(int(arg))
        elif kind == "client":
            self._client_step()
            self._at(self.now_ms + self.rng.randint(1, self.cfg.client_interval_ms * 2), "client")
        elif kind == "partition":
            sides = {n: self.rng.randint(0, 1) for n in self.names}
            self.net.groups = sides
        elif kind == "unpartition":
            self.net.groups = None
        elif kind == "gov":
            self._gov_step()
            self._at(self.now_ms + GOV_INTERVAL_MS, "gov")
        elif kind == "wr":
            self._wr_step()
            self._at(self.now_ms + WR_INTERVAL_MS, "wr")
        elif kind == "reweigh":
            self._reweigh()
        elif kind == "crash":
            self._crash(arg)
        elif kind == "restart":
            self._restart(arg)
        elif kind == "attack":
            attacker = self.attackers[arg]
            self._attacker_send(attacker, attacker.step(self._peek()))
            self._at(self.now_ms + attacker.rng.randint(STEP_MS_MIN, STEP_MS_MAX), "attack", arg)

    def _crash(self, name: str) -> None:
        node = self.nodes[name]
        down = sum(1 for n in self.nodes.values() if n.replica is None)
        if node.replica is None or down >= max(1, self.f):
            return
        self._down(node)
        self._at(self.now_ms + self.rng.randint(200, 1_500), "restart", name)

    def _down(self, node: SimNode) -> None:
        """A crash loses the replica and what the shell kept in memory: its timers,
        the vertices waiting for their commit, whom it refuses."""
        if node.clock is not None:
            node.clock.alive = False
        node.shell = node.clock = None
        for key in [k for k in self._refused if k[0] == node.name]:
            del self._refused[key]

    def _restart(self, name: str) -> None:
        node = self.nodes[name]
        if node.shell is not None or name in self.gone:
            return
        self._boot(node)

    def _boot(self, node: SimNode) -> None:
        """Start a node incarnation: its replica from its store, run by the node's shell."""
        clock = SimClock(lambda: self.now_ms, self._call_later)
        shell = Shell(
            self._make_replica(node),
            node.store,
            SimTransport(
                lambda sends: self._transmit(node, sends),
                lambda peer, reason: self._blame(node, peer, reason),
            ),
            clock,
            self.honest_shell if node.honest else ShellConfig(),
            _NodeHooks(self, node),
        )
        node.shell, node.clock = shell, clock
        shell.start()

    def _call_later(self, delay_ms: int, callback: Callable[[], None]) -> Timer:
        key, timer = self.timers.add(callback)
        self._at(self.now_ms + delay_ms, "timer", str(key))
        return timer

    # -- attacker peers -----------------------------------------------------------
    def _peek(self) -> Peek:
        """What attackers may see: the most advanced honest replica, and who lags it."""
        up = [n for n in self._honest() if n.replica is not None]
        source = max(
            (n.replica.view for n in up if n.replica is not None),
            key=lambda v: v.height,
            default=None,
        )
        top = source.height if source is not None else 0
        lagging = [
            (n.name, n.replica.view.height)
            for n in up
            if n.replica is not None and n.replica.view.height < top
        ]
        return Peek(self.now_ms, source, [n.name for n in up], lagging)

    def _attacker_send(self, attacker: Attacker, sends: list[tuple[str, Message | bytes]]) -> None:
        for dst, msg in sends:
            if self._is_refused(dst, attacker.name):
                continue
            data = msg if isinstance(msg, bytes) else encode(msg)
            self.net.send(self.now_ms, attacker.name, dst, data)

    def _is_refused(self, node: str, peer: str) -> bool:
        """True while node refuses peer, after blaming it (both directions are cut)."""
        until = self._refused.get((node, peer))
        return until is not None and self.now_ms < until

    # -- message flow ------------------------------------------------------------
    def _deliver(self, src: str, dst: str, data: bytes) -> None:
        attacker = self.attackers.get(dst)
        if attacker is not None:
            try:
                reply = attacker.receive(src, decode_message(data), self._peek())
            except DecodeError:
                return
            self._attacker_send(attacker, reply)
            return
        node = self.nodes[dst]
        if node.shell is None or self._is_refused(dst, src):
            return
        try:
            msg = decode_message(data)
        except DecodeError:
            if src not in self.attackers:  # an attacker's garbage frame is its right
                self.checkers.fail("decode", f"{dst} could not decode a message from {src}")
            return
        node.shell.receive(src, msg)

    def _transmit(self, node: SimNode, sends: Sequence[tuple[str | None, Message]]) -> None:
        """What node's shell sends: rewritten when Byzantine, one side only for twins."""
        out = [(d, m) for d, m in sends if d is not None]
        if not node.honest and node.behaviour is not None:
            out = rewrite(node.behaviour, node.key, out, self.collusion)
        if node.send_to is not None:
            out = [(d, m) for d, m in out if d in node.send_to]
        self._send_all(node, out)

    def _midway(self, node: SimNode, r: ReplicaReady) -> None:
        """Between the shell's persist and its send: sometimes crash there (crash faults)."""
        down = sum(1 for n in self.nodes.values() if n.shell is None)
        if (
            self.cfg.faults in ("crash", "all")
            and down < max(1, self.f)
            and node.honest
            and r.must_persist()
            and r.sends
            and self.now_ms < self.cfg.safety_ms
            and self.rng.random() < 0.02
        ):
            self._crash_now(node)
            raise CrashError(node.name)

    def _drained(self, node: SimNode) -> None:
        replica = node.replica
        if node.honest and replica is not None:
            self.checkers.on_budgets(node.name, replica.budgets())

    def _crash_now(self, node: SimNode) -> None:
        self._down(node)
        self._at(self.now_ms + self.rng.randint(100, 800), "restart", node.name)

    def _on_replicated(self, node: SimNode, ids: Sequence[bytes]) -> None:
        """The node answers these 202s (they are stored); it may crash at once, for good.

        Only honest nodes' 202s are promises. A crash right after a 202 loses the
        rest of that shell step, and the node never returns (raises CrashError).
        """
        if not node.honest or not ids:
            return
        tops: list[int] = []
        for vid in ids:
            valid_until = self._valid_until.get(vid)
            if valid_until is None:
                self.checkers.fail(
                    "accepted-final", f"{node.name} answered 202 for unknown {vid.hex()[:16]}"
                )
                return
            tops.append(valid_until)
            if not self.healed:
                self.checkers.on_accepted(node.name, vid, self.now_ms, valid_until)
        replica = node.replica
        if replica is not None:
            self._check_promise(node, replica.view.validator_set(replica.view.height + 1), ids)
        at = self._crash_after_accept_at
        if (
            at is None
            or self.now_ms < at
            or self.healed
            or replica is None
            or max(tops) < replica.view.height + CRASH_AFTER_ACCEPT_VALIDITY_MIN
            or not self._may_lose_for_good(node)
        ):
            return
        self._crash_after_accept_at = None
        self.gone.append(node.name)
        self._down(node)
        raise CrashError(node.name)

    def _check_promise(
        self, node: SimNode, validators: ValidatorSet | None, ids: Sequence[bytes]
    ) -> None:
        """At a 202, validators whose stores hold the transaction weigh more than a third.

        That is what the 202 promises (docs/node.md). A holder that has since
        gone for good still counts: it stored the transaction when it said so,
        and the fault budget keeps the other holders alive. A key two twins
        share counts once.
        """
        if validators is None:
            return
        stores: dict[bytes, list[MemoryStore]] = {}
        for n in self.nodes.values():
            stores.setdefault(n.key.public_key, []).append(n.store)
        for vid in ids:
            held = sum(
                m.weight
                for m in validators.members
                if any(st.get_tx(vid) is not None for st in stores.get(m.public_key, ()))
            )
            self.checkers.on_promised(node.name, vid, held, validators.total)

    def _may_lose_for_good(self, node: SimNode) -> bool:
        """True when losing node for good keeps the run within its fault budget.

        Nodes gone for good plus Byzantine validators stay within f, and so does
        everyone down at once; the validator the reweigh doubles (2 of 5) is kept,
        since the rest could not reach a quorum without it.
        """
        down = sum(1 for n in self.nodes.values() if n.shell is None)
        return (
            len(self.gone) + 1 + self.cfg.byzantine <= self.f
            and down + 1 <= self.f
            and node.name != self._heavy
        )

    def _committed(self, node: SimNode, r: ReplicaReady) -> None:
        """The checkers look at what node's shell just made durable."""
        replica = node.replica
        if not node.honest or replica is None:
            return
        for cp, cert in r.decided:
            self.checkers.on_decided(node.name, cp, cert, replica.view.validator_set(cp.height))
        for ex in r.executed:
            self.checkers.on_executed(node.name, ex, replica.view.total_supply())
            for rc in ex.result.receipts:
                self.final.setdefault(rc.tx_id, rc)
            if ex.checkpoint.height not in self._audited:
                self._audited.add(ex.checkpoint.height)
                for entry in ex.result.audit:
                    self.audit_kinds[entry.kind] = self.audit_kinds.get(entry.kind, 0) + 1
        if r.snapshot is not None:
            self.checkers.on_snapshot(node.name, r.snapshot, replica.ledger)
        if r.executed:
            self.wr_checkers.on_executed(node.name, replica.ledger)
        hidden = self.checkers.on_certified(node.name, replica.view.decided_height)
        if hidden:
            self.checkers.check_kept(node.name, replica.view, node.store, hidden)

    def _blame(self, node: SimNode, peer: str, reason: str) -> None:
        """The shell's part of blame: refuse the peer a while; honest peers must never be."""
        self._refused[(node.name, peer)] = self.now_ms + BLAME_MS
        peer_node = self.nodes.get(peer)
        if node.honest:
            self.checkers.on_blamed(
                node.name, peer, reason, peer_node is not None and peer_node.honest
            )
        kind = "blamed_attacker" if peer in self.attackers else "blamed_validator"
        self.blamed[kind] = self.blamed.get(kind, 0) + 1

    def _send_all(self, node: SimNode, sends: list[tuple[str, Message]]) -> None:
        """Put node's messages on the network, with the checkers watching what leaves."""
        sends = [(d, m) for d, m in sends if not self._is_refused(node.name, d)]
        recipients: dict[int, list[str]] = {}  # the served checker sees each message once
        if node.honest:
            for dst, msg in sends:
                recipients.setdefault(id(msg), []).append(dst)
        cache: dict[int, bytes] = {}
        for dst, msg in sends:
            own = node.key.public_key
            if isinstance(msg, ProposalMsg):
                self.checkers.on_proposal_sent(msg.proposal)
            if node.honest and isinstance(msg, ProposalMsg) and msg.proposal.proposer == own:
                self.checkers.on_signed(node.name, msg.proposal)
            elif node.honest and isinstance(msg, VoteMsg) and msg.vote.voter == own:
                self.checkers.on_signed(node.name, msg.vote)
            data = cache.get(id(msg))
            if data is None:
                data = cache[id(msg)] = encode(msg)
                if node.honest:  # once per message, not once per recipient
                    self.checkers.on_served(node.name, recipients[id(msg)], msg)
            self.net.send(self.now_ms, node.name, dst, data)

    # -- clients -------------------------------------------------------------------
    def _client_step(self) -> None:
        up = [self.nodes[n] for n in self.names if self.nodes[n].replica is not None]
        if not up:
            return
        node = self.rng.choice(up)
        replica = node.replica
        assert replica is not None
        client = self.rng.choice(self.clients)
        roll = self.rng.random()
        if roll < 0.25:
            self._spam(client, node)
            return
        tx = self.workload.transfer(client, replica.view, self.now_ms)
        if self._submit(node, tx):
            client.sent(tx, self.now_ms)
        up = [n for n in up if n.replica is not None]
        if roll > 0.93 and up:
            other = self.rng.choice(up)
            assert other.replica is not None
            twin = self.workload.transfer(
                client, other.replica.view, self.now_ms, nonce=tx.body.nonce
            )
            self._submit(other, twin)

    def _reweigh(self) -> None:
        """The committee gives one honest validator double weight (2 heights after enacting).

        Never one gone for good: the other validators could not reach a quorum.
        """
        heavy = self.rng.choice([n for n in self._honest() if n.name not in self.gone])
        self._heavy = heavy.name
        self.governor.reweigh(heavy.key.public_key)

    def _gov_step(self) -> None:
        """Let the governance script act through a random live node."""
        up = [self.nodes[n] for n in self.names if self.nodes[n].replica is not None]
        ahead = [n.replica for n in self._honest() if n.replica is not None]
        if not up or not ahead:
            return
        chain = max((r.view for r in ahead), key=lambda v: v.height)
        node = self.rng.choice(up)
        assert node.replica is not None
        view = View(self.now_ms, chain, self.final)

        def submit(tx: Transaction) -> bool:
            return node.replica is not None and self._submit(node, tx)

        self.governor.step(view, node.replica.view, submit)

    def _wr_step(self) -> None:
        """Let the warehouse's cast act through a random live node (its own PRNG's choice)."""
        up = [self.nodes[n] for n in self.names if self.nodes[n].replica is not None]
        ahead = [n.replica for n in self._honest() if n.replica is not None]
        if not up or not ahead:
            return
        ledger = max((r.ledger for r in ahead), key=lambda ledger: ledger.height)
        node = self.wr.rng.choice(up)
        assert node.replica is not None

        def submit(tx: Transaction) -> bool:
            return node.replica is not None and self._submit(node, tx)

        def known(tx_id: bytes) -> bool:
            return any(r.view.has_vertex(tx_id) for r in ahead)

        self.wr.step(self.now_ms, ledger, node.replica.view, submit, known)

    def _submit(self, node: SimNode, tx: Transaction) -> bool:
        """A client's transaction to node; True when taken (admitted or waiting)."""
        assert node.shell is not None
        self._valid_until[tx.id] = tx.body.valid_until
        try:
            node.shell.submit(tx.to_wire())
        except AdmissionError:
            return False
        return True

    def _spam(self, client: Client, node: SimNode) -> None:
        assert node.shell is not None
        kind = self.rng.choice(SPAM_KINDS)
        wire = self.workload.spam(kind, client, node.shell.replica.view)
        try:
            admitted = node.shell.submit(wire)
        except AdmissionError as exc:
            self.spam_rejected[exc.reason.value] = self.spam_rejected.get(exc.reason.value, 0) + 1
            expected = {
                "bad-signature": {Reject.BAD_SIGNATURE},
                "wrong-chain": {Reject.WRONG_CHAIN},
                "missing-parents": {Reject.ORPHAN_POOL_FULL},
                "oversized": {Reject.TOO_LARGE, Reject.BAD_PAYLOAD},
            }[kind]
            # A node that is behind, or whose pool is full, refuses every client
            # before looking at the bytes (back-pressure first, decoding after):
            # the spam is refused all the same.
            if exc.reason not in expected | {Reject.CATCHING_UP, Reject.POOL_FULL}:
                self.checkers.fail("admission", f"{kind} spam refused as {exc.reason.value}")
            return
        if kind != "missing-parents" or admitted.state is not SubmitState.WAITING:
            self.checkers.fail("admission", f"{kind} spam was admitted")


class _NodeHooks(ShellHooks):
    """What one simulated node's shell tells the simulation (checkers, injected crashes)."""

    def __init__(self, sim: Simulation, node: SimNode) -> None:
        self.sim = sim
        self.node = node

    def midway(self, ready: ReplicaReady) -> None:
        """Sometimes crash between the shell's two stages."""
        self.sim._midway(self.node, ready)

    def committed(self, ready: ReplicaReady) -> None:
        """The checkers see what is now durable."""
        self.sim._committed(self.node, ready)

    def durable(self, replicated: Sequence[bytes]) -> None:
        """The node answers these 202s."""
        self.sim._on_replicated(self.node, replicated)

    def drained(self, ready: ReplicaReady) -> None:
        """The budget checker looks after each drain."""
        self.sim._drained(self.node)

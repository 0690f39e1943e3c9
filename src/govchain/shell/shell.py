"""The shell: drive a replica by a clock, persist its outputs, then send them.

The node (node/node.py) and the simulator (sim/cluster.py) run this very
object over their own Store, Transport and Clock, so the order the simulator's
seeds check is the order nodes use:

1. Inputs (peer messages, clients' transactions, ticks) go to the replica and
   schedule one drain a group-commit window later: one fsync serves them all.
2. A drain takes `replica.ready()` and commits it; only then are its messages
   sent. A vote or proposal never leaves before the state that signed it is
   durable, so a crash between the two cannot make a node sign twice.
3. Vertices that are only admitted (nothing decided, executed or voted) may
   wait up to `sync_admitted_ms` for a shared commit. What promises that they
   are stored (acknowledgements to peers, the 202 a client waits for) is held
   until that commit: a crash in the window loses vertices nobody relies on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from govchain.consensus.config import PLANTABLE
from govchain.consensus.tendermint import HardState
from govchain.dag.admission import AdmissionError
from govchain.dag.tx import Transaction
from govchain.replica.messages import AckMsg, Message
from govchain.replica.outputs import ReplicaReady
from govchain.replica.replication import Submitted
from govchain.shell.ports import Clock, Core, StoreWriter, Timer, Transport

TICK_MS = 20
GROUP_COMMIT_MS = 5
SYNC_ADMITTED_MS = 50
UNSYNCED_TXS_MAX = 5_000

# Planted bugs in the shell's own ordering (negative controls for the simulator).
PERSIST_AFTER_SEND = "persist-after-send"  # sends, then commits
# Treats a new hard state (a vote's lock and round) like admitted vertices: it
# waits for the deferred commit while the vote it signed leaves at once.
DEFER_HARD_STATE = "defer-hard-state"
# Acknowledges vertices (and answers their clients) before their deferred commit.
ACK_BEFORE_SYNC = "ack-before-sync"
SHELL_PLANTS = frozenset({PERSIST_AFTER_SEND, DEFER_HARD_STATE, ACK_BEFORE_SYNC})


@dataclass(frozen=True, slots=True)
class ShellConfig:
    """The shell's timings and limits."""

    tick_ms: int = TICK_MS
    group_commit_ms: int = GROUP_COMMIT_MS
    sync_admitted_ms: int = SYNC_ADMITTED_MS
    unsynced_txs_max: int = UNSYNCED_TXS_MAX
    plants: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if min(self.tick_ms, self.group_commit_ms, self.sync_admitted_ms) < 0:
            raise ValueError("shell timings must not be negative")
        if self.tick_ms < 1:
            raise ValueError("tick_ms must be positive")
        if not self.plants <= PLANTABLE:
            raise ValueError(f"unknown planted bug(s): {sorted(self.plants - PLANTABLE)}")


class ShellHooks:
    """What the shell's owner hears about; every method does nothing unless overridden."""

    def ticked(self) -> None:
        """A tick passed (the replica has seen it; its outputs are not drained yet)."""

    def midway(self, ready: ReplicaReady) -> None:
        """Between the drain's first stage and its second (a simulator crashes here)."""

    def committed(self, ready: ReplicaReady) -> None:
        """ready is durable (the simulator's checkers look at it here)."""

    def durable(self, replicated: Sequence[bytes]) -> None:
        """These clients' transactions are held by enough validators and stored here."""

    def drained(self, ready: ReplicaReady) -> None:
        """A drain finished: ready is persisted and its messages sent."""


C = TypeVar("C", bound=Core)


class Shell(Generic[C]):
    """Runs one replica: inputs in, ready() out, persisted before anything is sent."""

    def __init__(
        self,
        replica: C,
        store: StoreWriter,
        transport: Transport,
        clock: Clock,
        config: ShellConfig | None = None,
        hooks: ShellHooks | None = None,
    ) -> None:
        self.replica = replica
        self.store = store
        self.transport = transport
        self.clock = clock
        self.config = config or ShellConfig()
        self.hooks = hooks or ShellHooks()
        self._plant_send_first = PERSIST_AFTER_SEND in self.config.plants
        self._plant_defer_hard = DEFER_HARD_STATE in self.config.plants
        self._plant_ack_early = ACK_BEFORE_SYNC in self.config.plants
        self._unsynced_hard: HardState | None = None  # only under that plant
        self._drain_timer: Timer | None = None
        self._sync_timer: Timer | None = None
        self._tick_timer: Timer | None = None
        # Admitted vertices waiting for a shared commit, and what waits for them:
        # acknowledgements to peers, and the ids whose clients wait for a 202.
        self._unsynced: list[Transaction] = []
        self._held_acks: list[tuple[str, AckMsg]] = []
        self._held_replicated: list[bytes] = []
        self._stopping = False
        self._stopped = False

    # -- inputs ------------------------------------------------------------------
    def start(self) -> None:
        """Start the replica, drain what it produced, and start ticking."""
        self.replica.start(self.clock.now_ms())
        self.drain()
        self._tick_timer = self.clock.call_later(self.config.tick_ms, self._tick)

    def receive(self, peer: str, msg: Message) -> None:
        """A peer's message; its outputs leave with the next drain."""
        self.replica.receive(peer, msg, self.clock.now_ms())
        self.schedule_drain()

    def submit_many(self, wires: Sequence[bytes]) -> list[Submitted | AdmissionError]:
        """Clients' transactions, each taken or refused with its typed reason."""
        results = self.replica.submit_many(wires, self.clock.now_ms())
        self.schedule_drain()
        return results

    def submit(self, wire: bytes) -> Submitted:
        """One client's transaction; raises AdmissionError when refused."""
        result = self.submit_many([wire])[0]
        if isinstance(result, AdmissionError):
            raise result
        return result

    def _tick(self) -> None:
        self._tick_timer = None
        if self._stopped:
            return
        self.replica.tick(self.clock.now_ms())
        self.hooks.ticked()
        self.drain()
        if not self._stopped:
            self._tick_timer = self.clock.call_later(self.config.tick_ms, self._tick)

    def schedule_drain(self) -> None:
        """Group commit: one drain (one commit) for whatever arrives within the window."""
        if self._drain_timer is None and not self._stopped:
            self._drain_timer = self.clock.call_later(self.config.group_commit_ms, self.drain)

    # -- outputs -----------------------------------------------------------------
    def drain(self) -> None:
        """Persist the replica's outputs, then send them: the order is the safety rule."""
        if self._drain_timer is not None:
            self._drain_timer.cancel()
            self._drain_timer = None
        if self._stopped:
            return
        r = self.replica.ready()
        self._defer_admitted(r)
        if self._plant_send_first:
            self._send(r)
            self.hooks.midway(r)
            self._persist(r)
        else:
            self._persist(r)
            self.hooks.midway(r)
            self._send(r)
        self._held_acks.extend(r.acks)
        self._held_replicated.extend(r.replicated)
        if not self._unsynced or self._plant_ack_early:
            self._release_durable()
        self.hooks.drained(r)

    def _defer_admitted(self, r: ReplicaReady) -> None:
        """Let admitted-only vertices wait for a shared commit, or take back those that waited."""
        if self._plant_defer_hard and r.hard_state is not None and not r.decided and not r.executed:
            self._unsynced_hard, r.hard_state = r.hard_state, None
        defer = (
            r.hard_state is None
            and not r.decided
            and not r.executed
            and len(self._unsynced) + len(r.admitted) <= self.config.unsynced_txs_max
            and not self._stopping
        )
        if defer and (r.admitted or self._unsynced_hard is not None):
            self._unsynced.extend(r.admitted)
            r.admitted = []
            if self._sync_timer is None:
                self._sync_timer = self.clock.call_later(self.config.sync_admitted_ms, self._sync)
        elif not defer and self._unsynced:
            # What a vote or a decision relies on goes in the same commit.
            r.admitted[:0] = self._unsynced
            self._unsynced = []
        if not defer and self._unsynced_hard is not None and r.hard_state is None:
            r.hard_state, self._unsynced_hard = self._unsynced_hard, None

    def _persist(self, r: ReplicaReady) -> None:
        if r.must_persist():
            self.store.commit(r)
        self.hooks.committed(r)

    def _send(self, r: ReplicaReady) -> None:
        for peer, reason in r.blamed:
            self.transport.refuse(peer, reason)
        if r.sends:
            self.transport.send(r.sends)

    def _sync(self) -> None:
        """Commit the admitted vertices that waited sync_admitted_ms, then release what waited."""
        self._sync_timer = None
        if self._stopped or not (self._unsynced or self._unsynced_hard):
            return
        batch, self._unsynced = self._unsynced, []
        hard, self._unsynced_hard = self._unsynced_hard, None
        self.store.commit(ReplicaReady(hard_state=hard, admitted=batch))
        self._release_durable()

    def _release_durable(self) -> None:
        """Everything admitted so far is committed: acknowledge it, and answer its clients."""
        acks, self._held_acks = self._held_acks, []
        if acks:
            self.transport.send(acks)
        done, self._held_replicated = self._held_replicated, []
        if done:
            self.hooks.durable(done)

    # -- stopping ----------------------------------------------------------------
    def flush(self) -> None:
        """Drain now, committing every waiting vertex (before a clean stop)."""
        self._stopping = True
        if self._sync_timer is not None:
            self._sync_timer.cancel()
            self._sync_timer = None
        self.drain()

    def stop(self) -> None:
        """Stop every timer; the shell does nothing more (call flush() first to keep outputs)."""
        self._stopped = True
        for timer in (self._drain_timer, self._sync_timer, self._tick_timer):
            if timer is not None:
                timer.cancel()
        self._drain_timer = self._sync_timer = self._tick_timer = None

    @property
    def unsynced(self) -> int:
        """Admitted vertices waiting for their commit."""
        return len(self._unsynced)

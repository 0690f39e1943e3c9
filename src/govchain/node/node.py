"""A running node: the shell (shell/shell.py) over SQLite, asyncio and TCP peers, plus the API.

Everything happens on one asyncio loop, so the replica is never touched
concurrently. The shell commits each replica output before any message it
produced leaves the node (the double-sign guard), exactly as in the simulator,
which runs the same shell. Around it, the node stages gossip (node/backlog.py),
checks signatures in worker processes when it has them (node/verify_pool.py),
answers clients once their promise holds, and publishes events.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import os
import signal
from collections import deque
from collections.abc import Awaitable, Sequence
from typing import Any

from govchain.api.server import make_server
from govchain.apps.catalog import registry_for
from govchain.codec import DecodeError
from govchain.consensus.config import ConsensusConfig
from govchain.dag.admission import AdmissionError, Reject
from govchain.dag.limits import DagLimits
from govchain.net.peers import NetLimits, PeerNetwork
from govchain.node import malloc_tuning
from govchain.node.backlog import Backlog, BacklogLimits
from govchain.node.checked_gossip import CheckedGossip
from govchain.node.files import Home, NodeConfig, read_genesis, read_key, read_node_config
from govchain.node.metrics import NodeMetrics
from govchain.node.ports import AsyncioClock, PeerTransport, now_ms
from govchain.node.verify_pool import VERIFY_WORKERS_MAX, VerifyPool, default_verify_workers
from govchain.replica.config import ReplicaConfig
from govchain.replica.messages import ProposalMsg, TxMsg, decode_message
from govchain.replica.outputs import ReplicaReady
from govchain.replica.replica import Replica
from govchain.replica.replication import SubmitState, Submitted
from govchain.replica.snapshot import SnapshotPolicy
from govchain.replica.view import ChainView
from govchain.shell.shell import Shell, ShellHooks
from govchain.state import policy
from govchain.state.genesis import Genesis, check_unicode
from govchain.state.image import ImageError
from govchain.state.registry import Registry
from govchain.storage.base import Store
from govchain.storage.faults import store_fault
from govchain.storage.sources import StoreSources
from govchain.storage.sqlite import SqliteStore

log = logging.getLogger("govchain.node")

EVENT_QUEUE_MAX = 1_000
SUBSCRIBERS_MAX = 64
PENDING_SUBMITS_MAX = 100_000
GC_YOUNG_THRESHOLD = 20_000  # objects allocated between young collections (default 700)
# A client's submission waits at most this long for validators' acknowledgements
# (replica/replication.py) before it is answered not_replicated; and at most
# this many submissions wait at once.
REPLICATE_WAIT_S = 3.0
WAITERS_MAX = 50_000
# A node's back-pressure threshold unless node.json names its own (DagLimits).
CLIENT_PENDING_MAX = DagLimits().client_pending_max
# The propose timeout outlasts a proposer's pacing wait by this much.
PROPOSE_TIMEOUT_MARGIN_MS = 500


def node_replica_config(genesis: Genesis, node_config: NodeConfig) -> ReplicaConfig:
    """A node's replica settings, its propose timeout above what a proposer may wait.

    A proposer waits checkpoint_interval_ms after the previous checkpoint, and
    with nothing new the empty-checkpoint interval: the others' propose timeout
    must outlast that, or an idle or slowly paced chain would time out rounds.
    """
    idle = node_config.empty_checkpoint_interval_ms
    chain_idle = genesis.empty_checkpoint_interval_ms
    waits = max(genesis.checkpoint_interval_ms, (idle if idle is not None else chain_idle) or 0)
    base = ConsensusConfig()
    propose_ms = max(base.propose_timeout_ms, waits + PROPOSE_TIMEOUT_MARGIN_MS)
    queued = node_config.client_pending_max
    return ReplicaConfig(
        dag=DagLimits(
            prune_covered=True,
            client_pending_max=CLIENT_PENDING_MAX if queued is None else queued,
        ),
        consensus=dataclasses.replace(base, propose_timeout_ms=propose_ms),
        executions_txs_max=4_000,
        idle_checkpoint_ms=idle,
        # A restart loads the newest snapshot and replays at most this much (docs/snapshots.md).
        snapshots=SnapshotPolicy(),
    )


def _tune_gc() -> None:
    """Collect young objects less often; leave what the start-up built out of collections.

    Under load a node allocates a few dozen short-lived objects per transaction;
    with the default threshold (700) the collector ran about 8 times per
    millisecond of work, for about 2 % of a node's CPU. What load() rebuilt lives
    as long as the node does, so gc.freeze() keeps it out of every later scan.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)
    malloc_tuning.trim()  # what start-up built and dropped (policy.prepare's tables: ~7 MB)


class Node(ShellHooks):
    """One node process: the shell over its store, clock and peers; the API; subscribers."""

    def __init__(
        self,
        home: Home,
        config: ReplicaConfig | None = None,
        store: Store | None = None,
        registry: Registry | None = None,
        *,
        prune: bool = False,
        verify_workers: int | None = None,
    ) -> None:
        """A node from its home; store: the SQLite store there unless given; registry:
        what the chain executes (by default its genesis's: registry_for); prune: keep
        only the ids of transactions every kept snapshot holds (docs/snapshots.md);
        verify_workers: processes that check signatures (None: node.json's, else
        default_verify_workers; 0: on the event loop)."""
        # Before the store loads: the allocator's behaviour from the first large block.
        malloc_tuning.pin_mmap_threshold()
        self.home = home
        self.node_config: NodeConfig = read_node_config(home.config_path)
        if verify_workers is None:
            verify_workers = self.node_config.verify_workers
        if verify_workers is None:
            verify_workers = default_verify_workers()
        if not 0 <= verify_workers <= VERIFY_WORKERS_MAX:
            raise ValueError(f"verify workers must lie in 0..{VERIFY_WORKERS_MAX}")
        self.verify_workers = verify_workers
        self._verify_pool: VerifyPool | None = None  # started by run()
        self._checking = CheckedGossip()  # gossip slices out with the verify workers
        self.genesis: Genesis = read_genesis(home.genesis_path)
        check_unicode(self.genesis)  # before anything is opened: refuse to start
        self.key = read_key(home.key_path)
        self.store: Store = (
            store if store is not None else SqliteStore(home.store_path, self.genesis.sync_every)
        )
        # The content-rule normalizer's tables take ~0.4 s to build: at start,
        # not in the middle of the first checkpoint that screens a record.
        policy.prepare()
        peers = [p.key for p in self.node_config.peers]
        sources = StoreSources(self.store)

        def replica(from_snapshot: bool) -> Replica:
            return Replica(
                self.key.public_key.hex(),
                self.genesis,
                self.key,
                peers,
                config or node_replica_config(self.genesis, self.node_config),
                self.store.load(from_snapshot),
                vertex_source=sources.vertex,
                receipt_source=sources.receipt_proof,
                decided_source=sources.checkpoint,
                final_source=sources.is_final,
                audit_source=sources.audit,
                registry=registry if registry is not None else registry_for(self.genesis),
            )

        try:
            self.replica = replica(from_snapshot=True)
        except ImageError as exc:
            # A snapshot written by another version of the code (a state class
            # gained or lost a field): replay the chain instead; the next
            # snapshot is written in this version's image.
            log.warning("the store's snapshot does not fit this version (%s): replaying", exc)
            self.replica = replica(from_snapshot=False)
        self._configured_peers = frozenset(p.key.lower() for p in self.node_config.peers)
        self._pruning: SqliteStore | None = None
        if prune:
            if not isinstance(self.store, SqliteStore):
                raise ValueError("--prune needs the node's SQLite store")
            self._pruning = self.store
            self._prune()
        self.metrics = NodeMetrics()
        self.subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._submitted_at: dict[bytes, int] = {}
        self.net = PeerNetwork(
            key=self.key,
            chain_id=self.genesis.chain_id,
            genesis_hash=self.genesis.hash,
            listen=(self.node_config.p2p_host, self.node_config.p2p_port),
            dial=[(p.host, p.port) for p in self.node_config.peers],
            on_message=self._on_peer_message,
            limits=NetLimits(),
            reserved=self._reserved_peer,
        )
        self._stopping = asyncio.Event()
        self.failure: BaseException | None = None  # what stopped the node, if not a signal
        # Gossip waits here and is admitted a slice at a time (node/backlog.py),
        # so that votes and API requests are never stuck behind signature checks.
        self.backlog = Backlog(BacklogLimits())
        self._backlog_ready = asyncio.Event()
        self._paused: dict[str, asyncio.Future[None]] = {}  # peers not read until room
        # Proposals waiting for the gossip that came before them: (peer, proposal,
        # its encoded bytes, backlog sequence number at arrival, deadline in loop time).
        self._proposals: deque[tuple[str, ProposalMsg, int, int, float]] = deque()
        self._proposals_bytes = 0
        # Clients waiting for their transaction to be replicated, by id; and
        # those waiting for the next drain (their stored orphan is committed).
        self._waiters: dict[bytes, list[asyncio.Future[None]]] = {}
        self._waiter_count = 0
        self._drained: list[asyncio.Future[None]] = []
        self.shell = Shell(
            self.replica,
            self.store,
            PeerTransport(self.net, self._blame),
            AsyncioClock(self._fail),
            hooks=self,
        )

    @property
    def name(self) -> str:
        """The node's name from node.json."""
        return self.node_config.name

    @property
    def view(self) -> ChainView:
        """The replica's read-only view (what the API reads)."""
        return self.replica.view

    # -- inputs --------------------------------------------------------------
    def submit_many(self, wires: list[bytes]) -> list[Submitted | AdmissionError]:
        """Clients' transactions, each taken or refused with its typed reason (no waiting)."""
        t = now_ms()
        results: list[Submitted | AdmissionError]
        if self.backlog.full():
            busy = AdmissionError(Reject.POOL_FULL, "too much gossip waits here: retry later")
            results = [busy] * len(wires)
        else:
            results = self.shell.submit_many(wires)
        for result in results:
            if isinstance(result, AdmissionError):
                self.metrics.rejections[result.reason.value] += 1
                continue
            self.metrics.submitted += 1
            if (
                result.state is SubmitState.ADMITTED
                and len(self._submitted_at) < PENDING_SUBMITS_MAX
            ):
                self._submitted_at.setdefault(result.tx_id, t)
        return results

    async def accept(self, wires: list[bytes]) -> list[Submitted | AdmissionError]:
        """Clients' transactions, answered once what each answer promises holds.

        ADMITTED: validators with more than a third of the weight hold it
        (replica/replication.py); otherwise it is answered NOT_REPLICATED after
        REPLICATE_WAIT_S. WAITING: stored here (committed). FINAL: at once.
        """
        await self._pre_verify(wires)
        results = self.submit_many(wires)
        loop = asyncio.get_running_loop()
        started = loop.time()
        waits: dict[bytes, asyncio.Future[None]] = {}
        pending: list[asyncio.Future[None]] = []
        drained: asyncio.Future[None] | None = None  # one for the batch: the next drain
        for r in results:
            if not isinstance(r, Submitted):
                continue
            if r.state is SubmitState.ADMITTED and r.tx_id not in waits:
                if self._waiter_count >= WAITERS_MAX:
                    continue  # answered not_replicated below: too many wait already
                fut = waits[r.tx_id] = loop.create_future()
                self._waiters.setdefault(r.tx_id, []).append(fut)
                self._waiter_count += 1
                pending.append(fut)
            elif r.state is SubmitState.WAITING and drained is None:
                drained = loop.create_future()
                self._drained.append(drained)
                pending.append(drained)
        if pending:
            await asyncio.wait(pending, timeout=REPLICATE_WAIT_S)
        for vid, fut in waits.items():
            if not fut.done():
                fut.cancel()
                self._forget_waiter(vid, fut)
        elapsed_ms = int((loop.time() - started) * 1000)
        answers: list[Submitted | AdmissionError] = []
        for r in results:
            if isinstance(r, Submitted) and r.state is SubmitState.ADMITTED:
                fut_or_none = waits.get(r.tx_id)
                if fut_or_none is None or fut_or_none.cancelled():
                    self.metrics.not_replicated += 1
                    answers.append(
                        AdmissionError(
                            Reject.NOT_REPLICATED,
                            "held here, but too few validators acknowledged it in time: "
                            "submit the same bytes again (here or to another node)",
                        )
                    )
                    continue
                self.metrics.replicate_ms.append(elapsed_ms)
            answers.append(r)
        return answers

    async def _pre_verify(self, wires: list[bytes]) -> None:
        """With verify workers, check the batch's signatures there first.

        Only as many as the DAG has room for: under back-pressure the rest are
        refused before any signature check, and a client sends them again.
        The ids that passed go to the replica right before submit_many takes
        them, with no await in between: each is consumed by its own admission.
        """
        pool = self._verify_pool
        room = 0 if self.backlog.full() else self.replica.view.client_room()
        if pool is None or room == 0:
            return
        wires = wires[:room]
        verifying = pool.submit(wires)
        if verifying is None:  # the workers have enough queued: checked inline
            self.metrics.verified_inline += len(wires)
            return
        ids = await verifying
        if ids:
            self.replica.pre_verified(ids)
            self.metrics.pre_verified += len(ids)

    def _forget_waiter(self, vid: bytes, fut: asyncio.Future[None]) -> None:
        futs = self._waiters.get(vid)
        if futs is not None and fut in futs:
            futs.remove(fut)
            self._waiter_count -= 1
            if not futs:
                del self._waiters[vid]

    def pool_full(self) -> bool:
        """True while the node refuses new client transactions (back-pressure).

        Pending vertices, the orphan pool and the gossip backlog count: memory
        the network feeds is memory clients cannot have. One peer never holds
        more than half of either budget, so one source alone cannot cause it.
        """
        return self.replica.view.pool_full() or self.backlog.full()

    def _on_peer_message(self, peer: str, data: bytes) -> Awaitable[None] | None:
        try:
            msg = decode_message(data)
        except DecodeError:
            self.metrics.peer_decode_errors += 1
            raise  # the network closes that connection, and nothing else
        if isinstance(msg, TxMsg):
            self.backlog.push(peer, msg.wires)
            self._backlog_ready.set()
            if self.backlog.over(peer):
                paused = self._paused.get(peer)
                if paused is None:
                    paused = self._paused[peer] = asyncio.get_running_loop().create_future()
                return paused
            return None
        if isinstance(msg, ProposalMsg) and self._hold(peer, msg, len(data)):
            return None
        self.shell.receive(peer, msg)
        return None

    def _hold(self, peer: str, msg: ProposalMsg, size: int) -> bool:
        """Let a proposal wait for the gossip queued before it; False: deliver it now.

        Its tips most likely came with that gossip: admitting it first saves
        fetching them again. But the backlog may be a flood of junk, so the
        wait is bounded (proposal_wait_ms) and the admission stays sliced.
        """
        limits = self.backlog.limits
        if (
            len(self._proposals) >= limits.proposals_waiting_max
            or self._proposals_bytes + size > limits.proposals_waiting_bytes_max
            or not (self.backlog or self._checking or self._proposals)
        ):
            return False
        deadline = asyncio.get_running_loop().time() + limits.proposal_wait_ms / 1000
        self._proposals.append((peer, msg, size, self.backlog.next_seq, deadline))
        self._proposals_bytes += size
        self._release_proposals()  # in order, behind those still waiting
        return True

    def _release_proposals(self) -> None:
        """Deliver the proposals whose earlier gossip is admitted, or whose wait is over."""
        if not self._proposals:
            return
        now = asyncio.get_running_loop().time()
        oldest = self.backlog.oldest_seq()
        first = self._checking.oldest_seq()  # taken from the backlog, not admitted yet
        if first is not None:
            oldest = first if oldest is None else min(oldest, first)
        while self._proposals:
            peer, msg, size, seq, deadline = self._proposals[0]
            if oldest is not None and oldest < seq and now < deadline:
                return
            self._proposals.popleft()
            self._proposals_bytes -= size
            self.shell.receive(peer, msg)

    def _admit_slice(self) -> None:
        """Admit one slice of gossip from the next peer in turn, then wake whoever waits."""
        taken = self.backlog.take()
        if taken is not None:
            peer, wires = taken
            self.shell.receive(peer, TxMsg(wires))
        self._release_proposals()
        self._resume_readers()

    def _resume_readers(self) -> None:
        """Let paused connections read again once their part of the backlog is down to half."""
        for peer, paused in list(self._paused.items()):
            if self.backlog.has_room(peer):
                del self._paused[peer]
                if not paused.done():
                    paused.set_result(None)

    def _wake_admitter(self) -> None:
        self._backlog_ready.set()

    def _deliver_checked(self) -> bool:
        """Admit the oldest slice the workers answered for; False while it is still out."""
        s = self._checking.next_ready()
        if s is None:
            return False
        if not s.dropped:
            ids = s.verified.result()
            if ids:
                self.replica.pre_verified(ids)
                self.metrics.pre_verified += len(ids)
            self.shell.receive(s.peer, TxMsg(s.wires))
        self._release_proposals()
        self._resume_readers()
        return True

    async def _admitter(self) -> None:
        """Admit the backlog a slice at a time, yielding to the loop between slices.

        With verify workers, slices are checked there while the loop admits the
        slices before them, in the order taken (node/checked_gossip.py).
        """
        while not self._stopping.is_set():
            pool = self._verify_pool
            if pool is not None:
                self.metrics.verified_inline += self._checking.dispatch(
                    self.backlog, pool, self._wake_admitter
                )
                if self._checking:
                    if self._deliver_checked():
                        await asyncio.sleep(0)
                    else:
                        self._backlog_ready.clear()
                        await self._backlog_ready.wait()
                    continue
            if not self.backlog:
                self._release_proposals()
                self._resume_readers()
                self._backlog_ready.clear()
                await self._backlog_ready.wait()
                continue
            self._admit_slice()
            await asyncio.sleep(0)

    def _verify_worker_lost(self) -> None:
        """A verify worker stopped (logged by the pool): the gauge says how many are left."""
        if self._verify_pool is not None:
            self.metrics.verify_workers = self._verify_pool.alive()

    def _blame(self, peer: str, reason: str) -> None:
        """A peer sent what no honest peer sends: drop it, forget its gossip, refuse its key."""
        self.metrics.peers_blamed += 1
        log.warning(
            "peer %s blamed (%s): dropped and refused for %.0f s",
            peer[:12],
            reason,
            self.net.limits.blame_ban_s,
        )
        self.net.ban(peer, reason)
        self.backlog.drop(peer)
        self._checking.drop(peer)
        self._proposals = deque(p for p in self._proposals if p[0] != peer)
        self._proposals_bytes = sum(p[2] for p in self._proposals)
        self._resume_readers()

    def _fail(self, exc: BaseException) -> None:
        """A shell step raised (a store that refused a commit): stop rather than run on unsaved.

        Nothing is committed after that: the failed commit's outputs are gone
        from the replica, so a later one would store a state with a hole in it.
        A disk or file fault is one line naming the file (storage/faults.py).
        """
        if self.failure is not None:
            return
        self.shell.stop()
        fault = store_fault(exc, self.home.store_path)
        self.failure = fault or exc
        if fault is not None:
            log.critical("stopping: %s", fault)
        else:
            log.critical("stopping: %s", exc, exc_info=exc)
        self.stop()

    # -- the shell's hooks -----------------------------------------------------
    def ticked(self) -> None:
        """Deliver proposals whose wait ran out while the admitter was idle."""
        self._release_proposals()

    def durable(self, replicated: Sequence[bytes]) -> None:
        """Answer the clients whose transactions are now held by enough validators."""
        for vid in replicated:
            for fut in self._waiters.pop(vid, ()):
                self._waiter_count -= 1
                if not fut.done():
                    fut.set_result(None)

    def _reserved_peer(self, peer_id: str) -> bool:
        """A configured peer, or a validator of the next height: never crowded out."""
        if peer_id in self._configured_peers:
            return True
        try:
            key = bytes.fromhex(peer_id)
        except ValueError:
            return False
        view = self.replica.view
        vs = view.validator_set(view.height + 1)
        return vs is not None and vs.weight_of(key) > 0

    def _prune(self) -> None:
        """With --prune: drop what no kept snapshot needs, once a new one is stored."""
        if self._pruning is None:
            return
        pruned = self._pruning.prune()
        if pruned:
            log.info(
                "pruned %d transactions final at or below height %d (their ids stay)",
                pruned,
                self._pruning.pruned_height(),
            )

    def drained(self, ready: ReplicaReady) -> None:
        """Publish what executed, and wake clients whose orphans are now stored."""
        if ready.snapshot is not None:
            self._prune()
        self._publish(ready)
        drained, self._drained = self._drained, []
        for fut in drained:
            if not fut.done():
                fut.set_result(None)

    def _publish(self, r: ReplicaReady) -> None:
        # Imported here: only this method needs the API's JSON shapes.
        from govchain.api.funds_events import funds_event  # noqa: PLC0415
        from govchain.api.reports_desk import reports_executed  # noqa: PLC0415
        from govchain.api.views import funds_of, governance_events  # noqa: PLC0415
        from govchain.api.wr_events import wr_event_of  # noqa: PLC0415

        reports_executed(self, r.executed)  # marks reports these heights handled
        t = now_ms()
        for ex in r.executed:
            for rc in ex.result.receipts:
                start = self._submitted_at.pop(rc.tx_id, None)
                if start is not None:
                    self.metrics.finality_ms.append(t - start)
            if not self.subscribers:
                continue
            cp = ex.checkpoint
            self._emit(
                {
                    "type": "checkpoint",
                    "height": cp.height,
                    "hash": cp.hash.hex(),
                    "time_ms": cp.time_ms,
                    "txs": len(ex.txs),
                    "state_hash": ex.result.state_hash.hex(),
                }
            )
            if ex.result.receipts:  # one event per checkpoint keeps slow readers afloat
                self._emit(
                    {
                        "type": "receipts",
                        "height": cp.height,
                        "receipts": [
                            {"tx_id": rc.tx_id.hex(), "status": rc.status, "reason": rc.reason}
                            for rc in ex.result.receipts
                        ],
                    }
                )
            if ex.result.audit:  # governance events: one message per checkpoint, like receipts
                events = governance_events(ex.result.audit)
                self._emit({"type": "governance", "height": cp.height, "events": events})
            moved = funds_event(funds_of(self.view), ex.result.movements, cp.height)
            if moved is not None:  # value touched a watched or liened account
                self._emit(moved)
            wr = wr_event_of(self.view, ex)  # alarms, receipt versions, calls (warehouse)
            if wr is not None:
                self._emit(wr)

    def _emit(self, event: dict[str, Any]) -> None:
        for q in list(self.subscribers):
            if q.full():
                self.subscribers.discard(q)  # a slow reader loses its subscription
            else:
                q.put_nowait(event)

    def subscribe(self) -> asyncio.Queue[dict[str, Any]] | None:
        """A bounded queue of events, or None when there are too many subscribers."""
        if len(self.subscribers) >= SUBSCRIBERS_MAX:
            return None
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue(EVENT_QUEUE_MAX)
        self.subscribers.add(q)
        return q

    # -- running -------------------------------------------------------------
    async def _watch_parent(self, parent_pid: int) -> None:
        """Stop when the process that started us is gone (a devnet killed with -9)."""
        while not self._stopping.is_set():
            if os.getppid() != parent_pid:
                log.warning("parent %d is gone: stopping", parent_pid)
                self.stop()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), 1.0)

    async def run(self, serve_api: bool = True, exit_with_parent: bool = False) -> None:
        """Run until SIGINT/SIGTERM (or stop()), then close everything cleanly."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stop)
        await self.net.start()
        try:
            self.shell.start()
        except Exception as exc:  # its first commit: the same stop as any later one's
            self._fail(exc)
        if self.verify_workers:
            pool = VerifyPool(self.verify_workers, on_lost=self._verify_worker_lost)
            try:
                await pool.start()
            except OSError as exc:  # no processes to be had: slower, not wrong
                log.error("verify workers did not start (%s): checking signatures inline", exc)
                await pool.close()
            else:
                self._verify_pool = pool
                self.metrics.verify_workers = pool.alive()
        _tune_gc()
        tasks = [asyncio.create_task(self._admitter(), name="admitter")]
        if exit_with_parent:
            tasks.append(asyncio.create_task(self._watch_parent(os.getppid()), name="parent"))
        server = None
        if serve_api:
            server = make_server(self)
            tasks.append(asyncio.create_task(server.serve(), name="api"))
        log.info("node %s running", self.name)
        await self._stopping.wait()
        if server is not None:
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._verify_pool is not None:
            pool, self._verify_pool = self._verify_pool, None
            await pool.close()
        await self.net.stop()
        if self.failure is None:
            self.shell.flush()  # what the last inputs produced is persisted before closing
        self.shell.stop()
        self.store.close()

    def stop(self) -> None:
        """Ask run() to finish; event streams end with a final 'stopping' event."""
        self._stopping.set()
        self._backlog_ready.set()
        for q in list(self.subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                q.put_nowait({"type": "stopping"})

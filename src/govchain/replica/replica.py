"""A replica turns clients' transactions, peers' messages and clock ticks into ReplicaReady outputs.

Its job, in one sentence: route each input to the DAG, consensus or the ledger,
and gather what follows into one ReplicaReady that the shell persists, then sends.

The parts do the work: dag/graph.py admits and orders vertices; consensus
(Tendermint) decides checkpoints, asking only ChainApp (chain_app.py: pure
queries of the DAG and ledger); the ledger executes; Fetcher asks for missing
vertices, CatchUp helps peers behind, Replication counts who holds a client's
transaction, WithheldCopies and Purges handle payload-less vertices
(withheld.py), and ChainView (view.py) is what readers see. The shell (a node
or the simulator) calls start, tick, submit and receive, then takes ready():
persist `hard_state`, `decided` and `executed` in one atomic write, then send
`sends`. Nothing here touches a socket, file or clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import NamedTuple

from govchain.consensus.messages import Checkpoint, Proposal
from govchain.consensus.tendermint import Relation, Tendermint
from govchain.crypto.keys import SIGNATURE_BYTES, SigningKey
from govchain.dag.admission import (
    AdmissionError,
    Reject,
    check_wire,
    decode_checked,
    decode_wire,
)
from govchain.dag.graph import CLIENTS_SOURCE, NEEDED_SOURCE, Admitted, Dag, Standing
from govchain.dag.limits import DagLimits
from govchain.dag.tx import Transaction, TxWire, tx_id
from govchain.replica.books import PeerHeights
from govchain.replica.catchup import CatchUp
from govchain.replica.chain_app import ChainApp
from govchain.replica.config import ReplicaConfig
from govchain.replica.decided_log import DecidedLog, DecidedSource
from govchain.replica.execution import Execution
from govchain.replica.fetching import Fetcher
from govchain.replica.messages import (
    IDS_PER_REQUEST_MAX,
    REDACTION_ENTRIES_MAX,
    WIRES_PER_MSG_MAX,
    AckMsg,
    CommitMsg,
    CommitRequest,
    Message,
    ProposalMsg,
    RedactedTxMsg,
    TxMsg,
    TxRequest,
    VoteMsg,
)
from govchain.replica.outputs import Persisted, ReplayDivergedError, ReplicaReady
from govchain.replica.replication import Replication, SubmitState, Submitted
from govchain.replica.snapshot import Snapshot
from govchain.replica.view import ChainView
from govchain.replica.withheld import (
    REJECTED,
    UNPROVEN_BYTES_MAX,
    UNPROVEN_PEER_SHARE,
    Purges,
    WithheldCopies,
)
from govchain.state.audit import AuditEntry, AuditKind
from govchain.state.catalog import BUILTIN
from govchain.state.genesis import Genesis
from govchain.state.ledger import Ledger
from govchain.state.ledger_image import image_of, ledger_from_image
from govchain.state.receipts import Receipt, ReceiptProof, prove
from govchain.state.registry import Registry
from govchain.state.sync_point import live_of, seal, sealed_hash

# A node that heard no consensus message for this long asks a peer for commits.
UNHEARD_POLL_MS = 1_000

# What no honest peer ever relays: it admits, so checks, before it gossips.
# (Expiry, quotas, tier limits and duplicates depend on timing and state.)
_DISHONEST = frozenset(
    {Reject.MALFORMED, Reject.WRONG_CHAIN, Reject.BAD_PAYLOAD, Reject.BAD_KEY, Reject.BAD_SIGNATURE}
)


class Gossip(NamedTuple):
    """An admitted vertex waiting to be pushed, and the peer it came from (None: a client)."""

    tx: Transaction
    source: str | None


class Replica:
    """Routes one node's inputs to its DAG, consensus and ledger, and gathers their outputs.

    `peers` are the names the shell routes by.
    """

    def __init__(
        self,
        name: str,
        genesis: Genesis,
        key: SigningKey | None,
        peers: list[str],
        config: ReplicaConfig,
        persisted: Persisted | None = None,
        vertex_source: Callable[[bytes], Transaction | None] | None = None,
        peer_keys: dict[str, bytes] | None = None,
        receipt_source: Callable[[bytes], ReceiptProof | None] | None = None,
        final_source: Callable[[bytes], bool] | None = None,
        audit_source: Callable[[int], list[AuditEntry]] | None = None,
        registry: Registry = BUILTIN,
        decided_source: DecidedSource | None = None,
    ) -> None:
        # What the chain executes (an application's kinds and actions included);
        # admission lets in exactly its kinds.
        if registry.apps != genesis.apps:
            # A replica without its chain's applications would refuse or execute
            # differently what the others run: a split. Build it with
            # apps/catalog.py registry_for(genesis).
            raise ValueError(
                f"the registry runs apps {list(registry.apps)} but genesis names"
                f" {list(genesis.apps)}"
            )
        config = replace(config, dag=registry.dag_limits(config.dag))
        if config.snapshots is not None and not config.dag.prune_covered:
            raise ValueError("snapshots need pruned final vertices (DagLimits.prune_covered)")
        # vertex_source reads final vertices back from the store, the way etcd's
        # raft reads entries through its Storage interface: pure for the core.
        self.vertex_source = vertex_source
        # The same, for the proof of an old receipt (a redacted vertex travels with it).
        self.receipt_source = receipt_source
        # The audit entries a height appended, from the store (a redaction's proof).
        self.audit_source = audit_source
        # Copies fetched without their payload (catch-up), proven against the
        # certified chain; and our own payloads waiting to be purged.
        self._withheld = WithheldCopies(
            genesis.chain_id,
            config.dag,
            lambda: self.decided,
            lambda: self.ledger.height,
            self._blame,
            accept_forged_redaction="accept-forged-redaction" in config.consensus.plants,
        )
        self._purges = Purges()
        self._plant_stale_images = "image-cache-stale" in config.consensus.plants
        self._admission_pending = False  # gossip admitted, consequences not drawn yet
        # Stored vertices the replay left waiting for a parent (a withheld copy is
        # stored only with its execution): not persisted again once admitted.
        self._replayed_orphans: set[bytes] = set()
        self._replay_missing: list[bytes] = []
        self.name = name
        self.genesis = genesis
        self.key = key
        self.peers = sorted(p for p in peers if p != name)
        # Which public key each peer name stands for; a node names peers by key hex.
        self.peer_keys = peer_keys if peer_keys is not None else _keys_of_hex_names(self.peers)
        self.config = config
        self.dag = Dag(genesis.chain_id, genesis.hash, config.dag)
        self.ledger = self._planted(Ledger(genesis, registry))
        # decided_source: the store's decided heights; without it all stay in memory.
        self._decided_source = decided_source
        self.decided = DecidedLog(decided_source, config.decided_kept)
        self._decided_handed = 0  # decided heights the last ready() had handed to the shell
        self.executions: list[Execution] = []
        self._executions_txs = 0
        # Transactions final so far, and since the last snapshot (and heights).
        self._txs_final = 0
        self._since_snapshot = (0, 0)
        self._replaying = False
        self._out = ReplicaReady()
        self._gossip: list[Gossip] = []
        # Ids being fetched, and when catch-up help last went to whom: both
        # within byte budgets and per-peer shares (replica/books.py).
        self._fetcher = Fetcher(
            self.dag,
            self.peers,
            lambda peer, msg: self._out.sends.append((peer, msg)),
            retry_ms=config.fetch_retry_ms,
            backoff_max_ms=config.fetch_backoff_max_ms,
            give_up_ms=config.fetch_give_up_ms,
            wanted_bytes_max=config.wanted_bytes_max,
            wanted_bytes_per_source_max=config.wanted_bytes_per_source_max,
        )
        self._catchup = CatchUp(
            lambda: self.decided,
            lambda peer, msg: self._out.sends.append((peer, msg)),
            interval_ms=config.catchup_interval_ms,
            bytes_max=config.catchup_bytes_max,
            bytes_per_source_max=config.catchup_bytes_per_source_max,
            commits_per_reply_max=config.commits_per_reply_max,
        )
        self._replication = Replication(config.replication_entries_max, config.replicate_wait_ms)
        self._heights = PeerHeights(config.behind_window_ms)
        self._heard_ms = 0  # when a consensus message last came (see _poll_unheard)
        self._polls = 0
        self.now_ms = 0
        self._view = ChainView(self)
        restored = persisted or Persisted()
        self._replaying = True
        self._replay(restored, final_source)
        self._replaying = False
        # Heights replayed count toward the next snapshot: a store without one gets one soon.
        self._since_snapshot = (
            sum(len(ex.txs) for ex in restored.executed),
            len(restored.executed),
        )
        self._stored_height = self.ledger.height  # what the replay read back
        if final_source is not None:
            # Whether the store holds an id as final: lets the DAG forget expired
            # final ids (see Dag). Only after the replay, which re-admits them.
            self.dag.use_final_source(final_source)
        app = ChainApp(
            genesis,
            self.dag,
            self.ledger,
            limits=config.dag,
            time_drift_ms_max=config.consensus.time_drift_ms_max,
            proposal_tip_age_ms=config.proposal_tip_age_ms,
            idle_checkpoint_ms=self.idle_checkpoint_ms,
            purges_waiting=self._purges.waiting,
        )
        self.consensus = Tendermint(
            genesis.chain_id,
            genesis.hash,
            app,
            key,
            config.consensus,
            self.decided[-1][0] if self.decided else None,
            restored.hard_state,
        )

    # -- restart -----------------------------------------------------------
    def _replay(self, p: Persisted, final_source: Callable[[bytes], bool] | None) -> None:
        """Rebuild from our own store: re-admit, re-cover and re-execute, checking hashes.

        From a snapshot, only the heights after it are executed again; the DAG
        asks final_source about final vertices from before it (a tail vertex's
        parent may be one), never about the tail's own, which it re-admits.
        """
        self.decided = DecidedLog(self._decided_source, self.config.decided_kept, p.decided)
        self.decided.release(len(p.decided))  # all stored (executed or not: read back there)
        if p.snapshot is not None:
            if final_source is None:
                raise ValueError("a replica restores a snapshot only with a final_source")
            self._restore(p.snapshot, p, final_source)
        for ex in p.executed:
            for tx in ex.txs:
                if not self.dag.has(tx.id):
                    self.dag.admit_tx(tx, self.now_ms, verify_signature=False, lenient=True)
            # A redacted record's payload is gone: its stored receipt stands in.
            known = {
                tx.id: rc
                for tx, rc in zip(ex.txs, ex.result.receipts, strict=True)
                if tx.payload_missing
            }
            result = self._execute(ex.checkpoint, known)
            assert result is not None
            if (result.result.state_hash, result.result.audit_head) != (
                ex.result.state_hash,
                ex.result.audit_head,
            ):
                raise ReplayDivergedError(ex.checkpoint.height)
        for tx in p.vertices:
            if not self.dag.has(tx.id):
                adm = self.dag.admit_tx(tx, self.now_ms, verify_signature=False, lenient=True)
                self._replay_missing.extend(adm.missing)
        self._replayed_orphans = {tx.id for tx in p.vertices if not self.dag.has(tx.id)}
        # A crash may have come between an execution and the purge its next
        # checkpoint allowed: purge again (deleting twice changes nothing).
        self._out = ReplicaReady(purged=self._out.purged)
        # Clients' transactions that waited for a parent wait again (their
        # clients were answered "pending_parent", not 202); those whose parents
        # are here now enter the DAG and are gossiped, as if just released.
        for tx in p.waiting:
            if self.dag.holds(tx.id) or self.dag.is_covered(tx.id):
                self._out.unwaited.append(tx.id)
                continue
            try:
                adm = self.dag.admit_tx(tx, self.now_ms, verify_signature=False, lenient=True)
            except AdmissionError:
                self._out.unwaited.append(tx.id)
                continue
            self._on_admitted(adm, None, waited=True)
            self._replay_missing.extend(adm.missing)

    def _planted(self, ledger: Ledger) -> Ledger:
        """ledger, with the planted bug of the simulator's that lives in it, if asked for."""
        if "image-cache-emptied" in self.config.consensus.plants:
            ledger.none_when_unchanged = frozenset()
        return ledger

    def _restore(self, snap: Snapshot, p: Persisted, final_source: Callable[[bytes], bool]) -> None:
        """Take the ledger and the DAG's final part from a snapshot (an ImageError if unfit)."""
        if snap.height > len(self.decided):
            raise ValueError(f"a snapshot at height {snap.height} beyond the decided")
        self.ledger = self._planted(
            ledger_from_image(self.genesis, snap.ledger, self.ledger.registry)
        )
        if self.genesis.is_sync_height(snap.height):
            # The image holds the writes' hash; the height's own folds the image in.
            live = live_of(snap.frontier)
            if "seal-without-live" in self.config.consensus.plants:
                live = []  # the plant's bug, consistently: restarts stay in the run
            self.ledger.state_hash = sealed_hash(self.ledger.state_hash, snap.ledger, live)
        if (
            self.ledger.height != snap.height
            or snap.frontier.height != snap.height
            or self.ledger.state_hash != snap.state_hash
        ):
            raise ValueError(f"the snapshot at height {snap.height} holds another state")
        tail = {tx.id for ex in p.executed for tx in ex.txs}
        tail.update(tx.id for tx in p.vertices)
        self.dag.restore_frontier(snap.frontier, lambda vid: vid not in tail and final_source(vid))
        for height, ids in snap.purges:
            self._purges.schedule(height, set(ids))
        self._txs_final = snap.txs_final

    def _snapshot(self, image: bytes | None = None) -> Snapshot:
        """This replica's snapshot after the height it executed last (image: seal()'s)."""
        return Snapshot(
            self.ledger.height,
            self.ledger.state_hash,
            image_of(self.ledger) if image is None else image,
            self.dag.frontier(),
            self._purges.pending(),
            self._txs_final,
        )

    # -- inputs ------------------------------------------------------------
    def start(self, now_ms: int) -> None:
        """Begin consensus (after construction or a restart)."""
        self.now_ms = now_ms
        self.dag.renew_orphans(now_ms)  # the replay's orphans were admitted at time 0
        if self._replay_missing:  # parents of stored vertices, e.g. withheld copies
            missing, self._replay_missing = self._replay_missing, []
            self._fetcher.fetch(
                [m for m in dict.fromkeys(missing) if not self.dag.has(m)], None, now_ms
            )
        # Decided but not yet executed before a restart: fetch their cones again.
        self._execute_decided()
        self._heard_ms = now_ms
        self.consensus.start(now_ms)
        self._fetch_wanted()
        self._after(now_ms)

    def tick(self, now_ms: int) -> None:
        """Clock input: timeouts, orphan expiry, fetch retries."""
        self.now_ms = now_ms
        self.dag.expire_orphans(now_ms)
        self._replication.expire(now_ms)
        self._fetcher.retry(
            now_ms, {t for cp, _ in self.decided[self.ledger.height :] for t in cp.tips}
        )
        self._catchup.sent.forget_old(now_ms)  # so budgets() shows what still holds back
        self._poll_unheard(now_ms)
        self.consensus.tick(now_ms)
        self._fetch_wanted()
        self._after(now_ms)

    def submit(self, wire: bytes, now_ms: int) -> Submitted:
        """A client's transaction; raises AdmissionError. Admitted ones are gossiped."""
        result = self.submit_many([wire], now_ms)[0]
        if isinstance(result, AdmissionError):
            raise result
        return result

    def submit_many(self, wires: Sequence[bytes], now_ms: int) -> list[Submitted | AdmissionError]:
        """Clients' transactions in order, each taken or refused with its reason.

        A transaction taken as ADMITTED is gossiped to every peer and appears in
        ReplicaReady.replicated once validators with more than a third of the
        weight hold it; one that WAITS for a parent is stored (ReplicaReady.waiting)
        and its parents are asked of every peer. Resubmitting a transaction held
        here is safe: a pending one is pushed to every peer and counted again,
        a waiting one waits on, a final one is said to be FINAL. Consensus looks
        again once for the whole batch, not once per transaction.
        """
        self.now_ms = now_ms
        results: list[Submitted | AdmissionError] = []
        added = False
        behind = self.catching_up()
        for wire in wires:
            tx: Transaction | None = None
            try:
                if behind:
                    raise AdmissionError(
                        Reject.CATCHING_UP, "this node is behind the network: use another node"
                    )
                if self.dag.client_pool_full():
                    raise AdmissionError(Reject.POOL_FULL, "too many pending vertices: retry later")
                tx = decode_checked(wire, self.genesis.chain_id, self.config.dag)
                again = self._resubmitted(tx)
                if again is not None:
                    results.append(again)
                    continue
                self._check_tier(tx)
                admitted = self.dag.admit_tx(tx, now_ms)
            except AdmissionError as exc:
                if tx is not None and exc.reason is Reject.EXPIRED and self.dag.is_covered(tx.id):
                    results.append(Submitted(tx.id, SubmitState.FINAL))  # final, id forgotten
                else:
                    results.append(exc)
                continue
            self._on_admitted(admitted, None)
            added |= bool(admitted.added)
            if admitted.missing:
                self._out.waiting.append(tx)
                self._fetcher.fetch(list(admitted.missing), None, now_ms)
                results.append(Submitted(tx.id, SubmitState.WAITING, admitted.missing))
            else:
                results.append(Submitted(tx.id, SubmitState.ADMITTED))
        if added:
            self._after_admission()
        self._after(now_ms)
        return results

    def pre_verified(self, ids: Iterable[bytes]) -> None:
        """Ids whose signatures the shell checked strictly: their admission skips that check.

        The node calls this just before it submits or delivers the transactions
        (dag/preverified.py); a forged signature never yields an id here.
        """
        self.dag.pre_verified.add(ids)

    def _resubmitted(self, tx: Transaction) -> Submitted | None:
        """A client's transaction held here already (None: it is new)."""
        vid = tx.id
        standing = self.dag.standing(vid, ask_store=False)
        if standing is Standing.PENDING:
            held = self.dag.get(vid)
            assert held is not None
            self._gossip.append(Gossip(held, None))  # a copy may have been lost: push it again
            self._track(vid)
            return Submitted(vid, SubmitState.ADMITTED)
        if standing is Standing.FINAL:
            return Submitted(vid, SubmitState.FINAL)
        if standing is Standing.WAITING:
            missing = self.dag.orphan_missing(vid)
            self._fetcher.fetch(list(missing), None, self.now_ms)
            return Submitted(vid, SubmitState.WAITING, missing)
        return None  # (a final id forgotten since: admission says expired, see submit_many)

    def receive(self, peer: str, msg: Message, now_ms: int) -> None:
        """A decoded message from a peer."""
        self.now_ms = now_ms
        if isinstance(msg, TxMsg):
            self._on_txs(peer, msg, now_ms)
        elif isinstance(msg, TxRequest):
            self._on_tx_request(peer, msg)
        elif isinstance(msg, AckMsg):
            key = self.peer_keys.get(peer)
            if key is not None:
                vs = self.ledger.validator_set(self.ledger.height + 1)
                self._out.replicated.extend(self._replication.on_ack(key, msg.ids, vs))
        elif isinstance(msg, ProposalMsg):
            self._heard_ms = now_ms
            self._saw_height(peer, msg.proposal.height, now_ms)
            rel = self.consensus.on_proposal(msg.proposal, now_ms)
            self._fetch_wanted()
            self._catchup.help(peer, rel, msg.proposal.height, self.consensus.height, now_ms)
            if rel is Relation.CURRENT:
                self._fetcher.fetch(self.dag.missing(msg.proposal.checkpoint.tips), peer, now_ms)
        elif isinstance(msg, VoteMsg):
            self._heard_ms = now_ms
            self._saw_height(peer, msg.vote.height, now_ms)
            rel = self.consensus.on_vote(msg.vote, now_ms)
            self._fetch_wanted()
            self._catchup.help(peer, rel, msg.vote.height, self.consensus.height, now_ms)
        elif isinstance(msg, CommitMsg):
            self._heard_ms = now_ms
            self._saw_height(peer, msg.checkpoint.height, now_ms)
            self.consensus.on_commit(msg.checkpoint, msg.certificate, now_ms)
            self._fetch_wanted()
        elif isinstance(msg, CommitRequest):
            self._catchup.send_commits(peer, msg.height, now_ms)
        elif isinstance(msg, RedactedTxMsg) and self._on_redacted(peer, msg, now_ms):
            self._after_admission()
        self._after(now_ms)

    def _settle(self) -> None:
        """What gossip admitted since the last ready() may complete a cone: look once.

        A node admits gossip a slice at a time (a few milliseconds each, so the
        loop stays responsive); executing decided checkpoints and rechecking the
        proposal once per slice cost more than the slices themselves.
        """
        if self._admission_pending:
            self._admission_pending = False
            self._after_admission()
            self._after(self.now_ms)

    def ready(self) -> ReplicaReady:
        """Take the outputs gathered since the last call.

        The caller persists them before it calls again, so by the next call the
        store holds every execution handed out now: only then may the DAG
        forget those final ids (Dag.forget_final).
        """
        self._settle()
        self._flush_gossip()
        self._out.unwaited.extend(self.dag.take_dropped_client_orphans())
        out, self._out = self._out, ReplicaReady()
        self.dag.forget_final(self._stored_height)
        # Handed out by the previous call, so committed by now: they may leave memory
        # (executed or not: one read back later comes from the store).
        self.decided.release(self._decided_handed)
        self._decided_handed = len(self.decided)
        if out.executed:
            self._stored_height = out.executed[-1].checkpoint.height
        return out

    @property
    def view(self) -> ChainView:
        """What the API, the CLI and the simulator may read, without reaching inside."""
        return self._view

    @property
    def idle_checkpoint_ms(self) -> int | None:
        """How long a proposer with nothing new waits before an empty checkpoint (None: never)."""
        if self.config.idle_checkpoint_ms is not None:
            return self.config.idle_checkpoint_ms
        return self.genesis.empty_checkpoint_interval_ms

    # -- gossip and fetching -----------------------------------------------
    def _on_txs(self, peer: str, msg: TxMsg, now_ms: int) -> None:
        """Admit gossip (or a fetch's reply), then say which of it this validator holds.

        The acknowledgement (AckMsg) leaves only once the shell has committed
        what it names: the peer that took them from a client counts it towards
        its 202 (replica/replication.py). Observers do not acknowledge: only
        validators' copies count.
        """
        admitted_any = False
        held: list[bytes] = []
        for wire in msg.wires[:WIRES_PER_MSG_MAX]:
            vid, added = self._on_tx(peer, wire, now_ms)
            admitted_any |= added
            if vid is not None and self.dag.has(vid):
                held.append(vid)
        if admitted_any:
            self._admission_pending = True
        if held and self._is_validator_key(self.key.public_key if self.key else None):
            self._out.acks.append((peer, AckMsg(tuple(held))))

    def _on_tx(self, peer: str, wire: bytes, now_ms: int) -> tuple[bytes | None, bool]:
        """Admit one gossiped transaction: (its id unless malformed, whether the DAG grew).

        The id is hashed once, and a duplicate is dropped before the body is
        decoded: a transaction may reach a node from several peers.
        """
        new = self._decode_new(peer, wire)
        if new is None:
            return None, False
        w, vid = new
        if self.dag.holds(vid):
            return vid, False
        try:
            tx = check_wire(w, self.genesis.chain_id, self.config.dag, vid)
            lenient = vid in self._fetcher.wanted or self.dag.is_awaited(vid)
            if not lenient:  # one a checkpoint needs is admitted whatever its size
                self._check_tier(tx)
            admitted = self.dag.admit_tx(
                tx, now_ms, lenient=lenient, source=peer, needed=self._needed(vid)
            )
        except AdmissionError as exc:
            if exc.reason in _DISHONEST:
                self._blame(peer, f"relayed a transaction no honest node admits: {exc}")
            return vid, False
        self._fetcher.wanted.pop(vid, None)
        self._on_admitted(admitted, peer)
        if admitted.missing:
            self._fetcher.fetch(list(admitted.missing), peer, now_ms)
        return vid, bool(admitted.added)

    def _needed(self, vid: bytes) -> bool:
        """True when consensus needs vid: a tip it named, or an ancestor a needed orphan awaits."""
        want = self._fetcher.wanted.get(vid)
        return (want is not None and want.source is None) or (
            self.dag.awaiting_source(vid) == NEEDED_SOURCE
        )

    def _check_tier(self, tx: Transaction) -> None:
        """Refuse a payload over the sender's tier limit before it is stored or gossiped."""
        limit = self.ledger.payload_bytes_max(tx.body.sender, tx.body.kind)
        if limit is not None and tx.body.payload_len > limit:
            raise AdmissionError(
                Reject.TOO_LARGE, f"payload of {tx.body.payload_len} bytes > the tier's {limit}"
            )

    def _decode_new(self, peer: str, wire: bytes) -> tuple[TxWire, bytes] | None:
        """The outer wire and its id, unless it is malformed (its sender blamed)."""
        try:
            w = decode_wire(wire, self.config.dag)
        except AdmissionError as exc:
            if exc.reason is Reject.MALFORMED:
                self._blame(peer, f"relayed a malformed transaction: {exc}")
            return None
        if len(w.signature) != SIGNATURE_BYTES:
            self._blame(peer, "relayed a transaction whose signature is not 64 bytes")
            return None
        return w, tx_id(w.body, w.signature)

    def _on_admitted(self, admitted: Admitted, source: str | None, *, waited: bool = False) -> None:
        """Persist and gossip what entered the DAG (gossip is batched in ready()).

        A client's transaction, and a client's orphan that it released, is
        pushed to every peer (a peer's is relayed by the rules of
        _flush_gossip); the one just submitted is also counted until enough
        validators hold it (_track). waited: the first of admitted was stored
        as waiting for a parent (replayed after a restart).

        A redacted vertex is neither persisted nor gossiped: it is stored with
        the execution that covers it (after a crash it is fetched again, with
        its proof), and peers get it only by asking.
        """
        own = CLIENTS_SOURCE if source is None else source
        for i, tx in enumerate(admitted.added):
            self._fetcher.wanted.pop(tx.id, None)
            if tx.payload_missing:
                continue
            if self._replayed_orphans and tx.id in self._replayed_orphans:
                self._replayed_orphans.discard(tx.id)  # stored already, gossiped then
                continue
            self._out.admitted.append(tx)
            src = admitted.sources[i] if admitted.sources else own
            if src != CLIENTS_SOURCE:
                self._gossip.append(Gossip(tx, src))
                continue
            self._gossip.append(Gossip(tx, None))
            if i > 0 or waited:
                self._out.unwaited.append(tx.id)  # it waited for this parent: stored as waiting
            else:
                self._track(tx.id)

    def _track(self, vid: bytes) -> None:
        """Count who holds a client's transaction until the shell may answer 202."""
        vs = self.ledger.validator_set(self.ledger.height + 1)
        own = self.key.public_key if self.key is not None else None
        if "ack-before-replicate" in self.config.consensus.plants or self._replication.track(
            vid, self.now_ms, own, vs
        ):
            self._out.replicated.append(vid)

    def _lookup(self, vid: bytes) -> Transaction | None:
        """A vertex from memory (an orphan too: it is served while it waits), or the store."""
        tx = self.dag.get(vid) or self.dag.orphan(vid)
        if tx is None and self.vertex_source is not None and self.dag.is_covered(vid):
            tx = self.vertex_source(vid)
            # The store drops a purged payload only with this step's commit.
            if tx is not None and self._out.purged and vid in self._out.purged:
                tx = tx.without_payload()
        return tx

    def _after_admission(self) -> None:
        """New vertices may complete a decided cone or a pending proposal."""
        self._execute_decided()
        self.consensus.recheck(self.now_ms)
        self._fetch_wanted()

    def _fetch_wanted(self) -> None:
        """Fetch the vertices that consensus found missing in the checkpoints it judged."""
        for cp in self.consensus.take_wanted():
            self._fetcher.fetch(self.dag.missing(cp.tips), None, self.now_ms)

    def _flush_gossip(self) -> None:
        """One TxMsg per peer per WIRES_PER_MSG_MAX transactions, not one per transaction."""
        if not self._gossip:
            return
        vs = self.ledger.validator_set(self.ledger.height + 1)
        keys = {m.public_key for m in vs.members} if vs is not None else set()
        validators = {p for p in self.peers if self.peer_keys.get(p) in keys}
        wire_of: dict[bytes, bytes] = {}  # encoded once, and only if some peer gets it
        for p in self.peers:
            # Validators are meshed and every origin pushes to all of its peers, so
            # a validator does not relay a validator's transaction to another
            # validator: it would only arrive twice. A lost copy is pulled by id
            # when a proposal names it. Observers' transactions are relayed.
            wires = [
                wire_of.get(tx.id) or wire_of.setdefault(tx.id, tx.to_wire())
                for tx, source in self._gossip
                if source != p
                and (source is None or source not in validators or p not in validators)
            ]
            for start in range(0, len(wires), WIRES_PER_MSG_MAX):
                batch = tuple(wires[start : start + WIRES_PER_MSG_MAX])
                self._out.sends.append((p, TxMsg(batch)))
        self._gossip.clear()

    def _on_tx_request(self, peer: str, req: TxRequest) -> None:
        found: list[bytes] = []
        for vid in req.ids[:IDS_PER_REQUEST_MAX]:
            t = self._lookup(vid)
            if t is None:
                continue
            if not t.payload_missing:
                if vid not in self._purges or self._is_validator(peer):
                    found.append(t.to_wire())
                    continue
                # Final as rejected or redacted, not yet certified: the bytes go
                # only to a validator, which may need them to execute that height.
                t = t.without_payload()
            # Without its payload: final as rejected, or redacted. The receipt
            # proves the first; the redaction's audit entries the second.
            proof = self._receipt_proof(vid)
            if proof is None:
                continue
            entries: tuple[AuditEntry, ...] = ()
            if proof.receipt.status != REJECTED:
                entries = self._redaction_entries(vid)
                if not entries:
                    continue
            self._out.sends.append((peer, RedactedTxMsg(t.to_wire(), proof, entries)))
        for start in range(0, len(found), WIRES_PER_MSG_MAX):
            batch = tuple(found[start : start + WIRES_PER_MSG_MAX])
            self._out.sends.append((peer, TxMsg(batch)))

    def _is_validator(self, peer: str) -> bool:
        """True when peer is a member of the validator set of the next height."""
        return self._is_validator_key(self.peer_keys.get(peer))

    def _is_validator_key(self, key: bytes | None) -> bool:
        """True when key belongs to a member of the validator set of the next height."""
        vs = self.ledger.validator_set(self.ledger.height + 1)
        return vs is not None and key is not None and vs.weight_of(key) > 0

    def _saw_height(self, peer: str, height: int, now_ms: int) -> None:
        """A validator peer's message named height: how far ahead is the network?"""
        key = self.peer_keys.get(peer)
        if height > self.consensus.height and self._is_validator_key(key):
            assert key is not None
            self._heights.saw(key, height, now_ms)

    def catching_up(self) -> bool:
        """True while this replica is behind the network: it refuses clients then.

        Behind: decided checkpoints wait for their cones, or validators with
        more than a third of the weight (one honest) named a height at least
        behind_heights_min past ours within behind_window_ms.
        """
        if len(self.decided) > self.ledger.height + 1:
            return True
        vs = self.ledger.validator_set(self.ledger.height + 1)
        if vs is None:
            return False
        ahead = self._heights.ahead_weight(
            self.consensus.height + self.config.behind_heights_min, vs.weight_of, self.now_ms
        )
        return ahead >= vs.skip

    def _receipt_proof(self, vid: bytes) -> ReceiptProof | None:
        """The inclusion proof of a final vertex's receipt, from memory or the store."""
        for ex in self.executions:
            for index, tx in enumerate(ex.txs):
                if tx.id == vid:
                    return prove(ex.result.receipts, index)
        return self.receipt_source(vid) if self.receipt_source is not None else None

    def _redaction_entries(self, vid: bytes) -> tuple[AuditEntry, ...]:
        """The redaction's audit entry and those after it in its height (a proof), or ()."""
        red = self.ledger.redaction(vid)
        if red is None:
            return ()
        entries: list[AuditEntry] | None = None
        for ex in self.executions:
            if ex.checkpoint.height == red.height:
                entries = list(ex.result.audit)
        if entries is None and self.audit_source is not None:
            entries = self.audit_source(red.height)
        subject = f"tx:{vid.hex()}"
        for i, e in enumerate(entries or ()):
            if e.kind == AuditKind.REDACTION.value and e.subject == subject:
                return tuple(entries[i : i + REDACTION_ENTRIES_MAX]) if entries else ()
        return ()

    def _on_redacted(self, peer: str, msg: RedactedTxMsg, now_ms: int) -> bool:
        """A vertex we asked for, without its payload; True when it entered the DAG.

        WithheldCopies.examine judges it: anything a certified chain does not
        prove is a copy an honest peer never sends, and its sender is blamed.
        """
        new = self._decode_new(peer, msg.wire)
        if new is None:
            return False
        w, vid = new
        if self.dag.holds(vid):
            return False
        if vid not in self._fetcher.wanted and not self.dag.is_awaited(vid):
            return False  # unsolicited: only a vertex a decided cone needs comes this way
        tx = self._withheld.examine(peer, vid, w, msg)
        if tx is None:
            return False
        try:
            admitted = self.dag.admit_tx(
                tx, now_ms, lenient=True, source=peer, needed=self._needed(vid)
            )
        except AdmissionError:
            return False
        self._withheld.took(vid, msg.proof.receipt)
        self._fetcher.wanted.pop(vid, None)
        self._on_admitted(admitted, peer)
        if admitted.missing:
            self._fetcher.fetch(list(admitted.missing), peer, now_ms)
        return bool(admitted.added)

    def _blame(self, peer: str, reason: str) -> None:
        """A peer sent what no honest peer sends: the shell drops it for a while."""
        if peer:
            self._out.blamed.append((peer, reason))

    # -- budgets ---------------------------------------------------------------
    def budgets(self) -> dict[str, tuple[int, int]]:
        """(bytes used, byte budget) of every buffer the network feeds, here and in the cores.

        A `*_per_source` entry is the largest part any one source holds
        against its share. The simulator checks that no used exceeds its budget.
        """
        c = self.config
        dag = self.dag
        consensus = self.consensus
        cc = c.consensus
        return {
            "orphans": (dag.orphan_bytes(), c.dag.orphan_bytes_max),
            "orphans_per_source": (
                dag.orphan_bytes_per_source_most(),
                c.dag.orphan_bytes_per_source_max,
            ),
            "wanted": (self._fetcher.wanted.used_bytes(), c.wanted_bytes_max),
            "wanted_per_source": (
                self._fetcher.wanted.most_bytes_per_source(),
                c.wanted_bytes_per_source_max,
            ),
            "unproven": (self._withheld.used_bytes(), UNPROVEN_BYTES_MAX),
            "unproven_per_source": (
                self._withheld.most_bytes_per_source(),
                UNPROVEN_BYTES_MAX // UNPROVEN_PEER_SHARE,
            ),
            "future": (consensus.future_bytes(), cc.future_bytes_max),
            "future_per_sender": (
                consensus.future_bytes_per_sender_most(),
                cc.future_bytes_per_sender_max,
            ),
            "catchup": (self._catchup.sent.used_bytes(), c.catchup_bytes_max),
            "catchup_per_source": (
                self._catchup.sent.most_bytes_per_source(),
                c.catchup_bytes_per_source_max,
            ),
        }

    # -- decisions and execution ---------------------------------------------
    def _after(self, now_ms: int) -> None:
        """Collect consensus output, execute what we can, and loop until quiet."""
        while True:
            self._fetch_wanted()  # before the messages, as each input's are
            r = self.consensus.ready()
            if r.hard_state is not None:
                self._out.hard_state = r.hard_state
            for p_or_v in r.messages:
                m: Message = (
                    ProposalMsg(p_or_v) if isinstance(p_or_v, Proposal) else VoteMsg(p_or_v)
                )
                for p in self.peers:
                    self._out.sends.append((p, m))
            for cp, cert in r.decided:
                self.decided.append((cp, cert))
                self._out.decided.append((cp, cert))
            if not r.decided:
                break
            if self._purges.waiting():
                self._purge_certified()
            if len(self._withheld):
                for copy in self._withheld.provable():
                    self._on_redacted(copy.peer, copy.msg, now_ms)
            if self._execute_decided():
                self.consensus.recheck(now_ms)
                self._fetch_wanted()
        self._ask_ahead(now_ms)

    def _ask_ahead(self, now_ms: int) -> None:
        """Everything decided is executed, and a validator is ahead: ask it for commits now."""
        if len(self.decided) > self.ledger.height:
            return  # still executing what it has
        best = self._heights.highest(now_ms)
        # One height ahead is the normal race of a height's end: the next
        # height's messages are queued for us already (as help() has it).
        if best is None or best[1] <= self.consensus.height + 1:
            return
        key, _ = best
        for peer, peer_key in self.peer_keys.items():
            if peer_key == key and peer in self.peers:
                self._catchup.ask_ahead(peer, self.consensus.height, now_ms)
                return

    def _poll_unheard(self, now_ms: int) -> None:
        """A node no validator sends to asks its peers for commits once a quiet interval.

        Validators send consensus messages to the peers they are configured
        with. A node that joined later (by state sync, or from a genesis and a
        peer address) is a stranger to them: it hears of no new height, and
        would stay where it started. A validator always hears its peers.
        """
        if now_ms - self._heard_ms < UNHEARD_POLL_MS or not self.peers:
            return
        if len(self.decided) > self.ledger.height or self._is_validator_key(
            self.key.public_key if self.key is not None else None
        ):
            return
        self._heard_ms = now_ms
        peer = self.peers[self._polls % len(self.peers)]
        self._polls += 1
        self._catchup.ask_ahead(peer, self.consensus.height, now_ms)

    def _execute_decided(self) -> bool:
        progressed = False
        while self.ledger.height < len(self.decided):
            cp, _ = self.decided[self.ledger.height]
            missing = self.dag.missing(cp.tips)
            if missing:
                self._fetcher.fetch(missing, None, self.now_ms)
                break
            ex = self._execute(cp)
            assert ex is not None
            self._out.executed.append(ex)
            progressed = True
        return progressed

    def _execute(
        self, cp: Checkpoint, known: Mapping[bytes, Receipt] | None = None
    ) -> Execution | None:
        order = self.dag.order_new(cp.tips)
        if "unordered-exec" in self.config.consensus.plants:
            order.sort(key=lambda i: hashlib.sha256(self.name.encode() + i).digest())
        txs = tuple(self.dag.vertices[i].tx for i in order)
        self.dag.cover(order, cp.height)
        withheld = self._withheld.receipts_for(txs)
        kept = dict(self.ledger.image_parts) if self._plant_stale_images else None
        result = self.ledger.execute(cp.height, txs, {**withheld, **(known or {})} or None)
        if kept is not None:
            self.ledger.image_parts.update(kept)
        image: bytes | None = None
        if self.genesis.is_sync_height(cp.height):
            live = self.dag.live_final(cp.height)
            if "seal-without-live" in self.config.consensus.plants:
                live = []
            image = seal(self.ledger, live)
            result = replace(result, state_hash=self.ledger.state_hash)
        # Final as rejected, or redacted: the payload leaves memory and the store
        # once the next checkpoint certifies this height (_purge_certified); the
        # header and receipt stay.
        gone = {
            tx.id
            for tx, rc in zip(txs, result.receipts, strict=True)
            if rc.status == REJECTED and tx.payload
        }
        gone.update(result.redacted)
        if gone:
            self._purges.schedule(cp.height, gone)
            if self._gossip:  # admitted and final in one step: never gossiped now
                self._gossip = [g for g in self._gossip if g.tx.id not in gone]
            # Fetches answered earlier in this step leave after this commit:
            # from then on these payloads go to validators only.
            self._scrub_sends(gone, outsiders_only=True)
        self._withheld.confirm(cp.height, result.audit_head)
        ex = Execution(cp, txs, result)
        self.executions.append(ex)
        self._executions_txs += len(txs)
        self._txs_final += len(txs)
        policy = self.config.snapshots
        if policy is not None and not self._replaying:
            since_txs, since_heights = self._since_snapshot
            self._since_snapshot = (since_txs + len(txs), since_heights + 1)
            # Always at a sync height: the image is made anyway, and a snapshot
            # there is one peers can join from (the store keeps the newest).
            if image is not None or policy.due(*self._since_snapshot):
                self._out.snapshot = self._snapshot(image)
                self._since_snapshot = (0, 0)
        kept_max = self.config.executions_kept_max
        while len(self.executions) > 1 and (
            (kept_max is not None and len(self.executions) > kept_max)
            or self._executions_txs > self.config.executions_txs_max
        ):
            self._executions_txs -= len(self.executions.pop(0).txs)
        if self._purges.waiting():
            self._purge_certified()
        return ex

    def _purge_certified(self) -> None:
        """Payloads whose removal a decided checkpoint now proves leave memory and the store."""
        ids = self._purges.certified(len(self.decided))
        if not ids:
            return
        self._forget_payloads(ids)
        self._out.purged.extend(sorted(ids))

    def _forget_payloads(self, ids: set[bytes]) -> None:
        """Purged transactions keep their headers in memory, never their payloads."""
        for i, e in enumerate(self.executions):
            if any(tx.id in ids for tx in e.txs):
                txs = tuple(tx.without_payload() if tx.id in ids else tx for tx in e.txs)
                self.executions[i] = Execution(e.checkpoint, txs, e.result)
        self._drop_payloads(ids)

    def _drop_payloads(self, ids: set[bytes]) -> None:
        """Forget payloads in the DAG and in what waits to be gossiped or persisted."""
        for vid in ids:
            v = self.dag.vertices.get(vid)
            if v is not None:
                v.tx = v.tx.without_payload()
        if self._gossip:
            self._gossip = [g for g in self._gossip if g.tx.id not in ids]
        out = self._out
        if out.admitted:
            out.admitted = [tx.without_payload() if tx.id in ids else tx for tx in out.admitted]
        # A fetch answered earlier in this step may carry one of these payloads to
        # a validator; it leaves after this step's commit certifies the removal,
        # so it must not leave at all (the peer asks again and gets the proof).
        self._scrub_sends(ids, outsiders_only=False)

    def _scrub_sends(self, ids: set[bytes], *, outsiders_only: bool) -> None:
        """Take these payloads out of the TxMsgs this step sends (to non-validators only, or all).

        The shell sends a step's messages after the step's commit, so a payload
        put in a message before the same step made it final as rejected or
        redacted would otherwise leave after that commit.
        """
        out = self._out
        if not any(isinstance(m, TxMsg) for _, m in out.sends):
            return
        kept: list[tuple[str | None, Message]] = []
        for dst, msg in out.sends:
            validator = dst is not None and self._is_validator(dst)
            if not isinstance(msg, TxMsg) or (outsiders_only and validator):
                kept.append((dst, msg))
                continue
            rest = _without_wires(msg, ids, self.config.dag)
            if rest.wires:
                kept.append((dst, rest))
        out.sends = kept


def _without_wires(msg: TxMsg, ids: set[bytes], limits: DagLimits) -> TxMsg:
    """msg without the transactions whose ids are in ids."""
    kept: list[bytes] = []
    for wire in msg.wires:
        w = decode_wire(wire, limits)  # our own encoding: it decodes
        if tx_id(w.body, w.signature) not in ids:
            kept.append(wire)
    return msg if len(kept) == len(msg.wires) else TxMsg(tuple(kept))


def _keys_of_hex_names(names: list[str]) -> dict[str, bytes]:
    """Peer names that are public keys in hex, decoded; other names map to nothing."""
    out: dict[str, bytes] = {}
    for n in names:
        try:
            out[n] = bytes.fromhex(n)
        except ValueError:
            continue
    return out

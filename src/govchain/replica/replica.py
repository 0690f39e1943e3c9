"""A replica: the DAG, Tendermint and the ledger driven by one set of inputs.

The shell (a real node or the simulator) calls start, tick, submit and receive,
then takes ready(): persist `hard_state`, `decided` and `executed` in one
atomic write, then send `sends`. Nothing here touches a socket, file or clock.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from govchain.codec import encode
from govchain.consensus.config import ConsensusConfig
from govchain.consensus.messages import Certificate, Checkpoint, Proposal
from govchain.consensus.tendermint import HardState, Relation, Tendermint, Verdict
from govchain.consensus.validators import ValidatorSet
from govchain.crypto.keys import SIGNATURE_BYTES, SigningKey
from govchain.dag.admission import (
    AdmissionError,
    Reject,
    check_wire,
    decode_checked,
    decode_wire,
)
from govchain.dag.graph import Admitted, Dag
from govchain.dag.limits import DagLimits
from govchain.dag.tx import Transaction, TxWire, tx_id
from govchain.replica.books import SentBook, Want, Wanted
from govchain.replica.messages import (
    IDS_PER_REQUEST_MAX,
    REDACTION_ENTRIES_MAX,
    WIRES_PER_MSG_MAX,
    CommitMsg,
    CommitRequest,
    Message,
    ProposalMsg,
    RedactedTxMsg,
    TxMsg,
    TxRequest,
    VoteMsg,
)
from govchain.state.audit import AuditEntry, AuditKind
from govchain.state.genesis import Genesis
from govchain.state.ledger import Executed, Ledger
from govchain.state.receipts import Receipt, ReceiptProof, Status, prove

UNPROVEN_MAX = 1_024  # withheld copies waiting for the checkpoint that certifies them
UNPROVEN_BYTES_MAX = 8 * 1024 * 1024  # ... and their encoded size, all told
UNPROVEN_PEER_SHARE = 4  # one peer holds at most 1/4 of either
# A receipt this far past the decided height waits for a later fetch, not here.
UNPROVEN_HEIGHTS_AHEAD_MAX = 64
# What no honest peer ever relays: it admits, so checks, before it gossips.
# (Expiry, quotas, tier limits and duplicates depend on timing and state.)
_DISHONEST = frozenset(
    {Reject.MALFORMED, Reject.WRONG_CHAIN, Reject.BAD_PAYLOAD, Reject.BAD_KEY, Reject.BAD_SIGNATURE}
)
_REJECTED = Status.REJECTED.value


@dataclass(frozen=True, slots=True)
class ReplicaConfig:
    """Limits and timings of the glue between the cores."""

    dag: DagLimits = field(default_factory=DagLimits)
    consensus: ConsensusConfig = field(default_factory=ConsensusConfig)
    # With nothing new to cover, wait this long after the previous checkpoint's
    # time before proposing an empty one (a heartbeat, not a flood). Keep it
    # well below the consensus propose timeout. 0: propose at once.
    idle_checkpoint_ms: int = 1_000
    fetch_retry_ms: int = 400
    executions_kept_max: int = 64  # recent executions kept in memory (the store has all)
    # ... and at most this many of their transactions together (the latest one is
    # always kept): under load a checkpoint covers thousands.
    executions_txs_max: int = 20_000
    fetch_give_up_ms: int = 20_000  # unless a decided checkpoint needs the vertex
    # Ids being fetched (books.Wanted), about 20,000 and 5,000 of them: parents
    # wanted for one peer's orphans stay within its share, and this replica's
    # own needs (checkpoint tips) take the place of peers' when all is spent.
    wanted_bytes_max: int = 8 * 1024 * 1024
    wanted_bytes_per_source_max: int = 2 * 1024 * 1024
    commits_per_reply_max: int = 16
    catchup_interval_ms: int = 300
    # Catch-up stamps (books.SentBook), about 4,000 and 32 of them: a peer asks
    # a few heights per interval while it catches up; stamps older than the
    # interval are forgotten, and beyond these no help is sent.
    catchup_bytes_max: int = 1024 * 1024
    catchup_bytes_per_source_max: int = 8 * 1024
    # A proposal names only tips of vertices this proposer admitted at least this
    # long ago: by then gossip has most likely brought them to the other
    # validators, who can vote at once instead of fetching parent after parent.
    proposal_tip_age_ms: int = 50


@dataclass(frozen=True, slots=True)
class Execution:
    """One executed checkpoint: the order it finalized and what came of it."""

    checkpoint: Checkpoint
    txs: tuple[Transaction, ...]
    result: Executed


@dataclass(slots=True)
class Persisted:
    """What a replica needs back after a restart (the shell's store holds it)."""

    hard_state: HardState | None = None
    decided: list[tuple[Checkpoint, Certificate]] = field(default_factory=list)
    executed: list[Execution] = field(default_factory=list)
    vertices: list[Transaction] = field(default_factory=list)


@dataclass(slots=True)
class ReplicaReady:
    """Outputs: persist everything but `sends` atomically, then send.

    admitted vertices are persisted too: a validator that prevoted for a cone
    must still hold it after a crash, or a locked value could become unavailable.
    """

    hard_state: HardState | None = None
    decided: list[tuple[Checkpoint, Certificate]] = field(default_factory=list)
    executed: list[Execution] = field(default_factory=list)
    admitted: list[Transaction] = field(default_factory=list)
    sends: list[tuple[str | None, Message]] = field(default_factory=list)
    # Peers that sent what an honest peer never sends (a forged copy, an
    # unprovable withheld payload): the shell drops them and refuses them a while.
    blamed: list[tuple[str, str]] = field(default_factory=list)
    # Final vertices whose payload must leave the store in this commit: final as
    # rejected, or redacted, at a height whose receipts (and audit head) the
    # checkpoint just decided certifies, so peers catching up can prove them.
    purged: list[bytes] = field(default_factory=list)

    def must_persist(self) -> bool:
        """True when something must reach storage before anything is sent."""
        return (
            self.hard_state is not None
            or bool(self.decided)
            or bool(self.executed)
            or bool(self.admitted)
            or bool(self.purged)
        )


class Replica:
    """One node's deterministic core; `peers` are the names the shell routes by."""

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
    ) -> None:
        # vertex_source reads final vertices back from the store, the way etcd's
        # raft reads entries through its Storage interface: pure for the core.
        self.vertex_source = vertex_source
        # The same, for the proof of an old receipt (a redacted vertex travels with it).
        self.receipt_source = receipt_source
        # The audit entries a height appended, from the store (a redaction's proof).
        self.audit_source = audit_source
        # Vertices fetched without their payload for catch-up: their certified
        # receipts stand in for the payload at execution; proofs wait here, with
        # the peer that sent them, until h+1 is decided.
        self._known_receipts: dict[bytes, Receipt] = {}
        # id -> (peer, message, its encoded size): bounded in count and bytes,
        # and per peer, since a peer decides what it sends.
        self._unproven: dict[bytes, tuple[str, RedactedTxMsg, int]] = {}
        self._unproven_bytes = 0
        self._unproven_by_peer: dict[str, tuple[int, int]] = {}  # peer -> (count, bytes)
        # Redacted records taken before this node could check the redaction's
        # certified audit head: id -> (peer, height of the redaction, the head its
        # entries chain to). Checked when execution reaches that height.
        self._redactions_to_confirm: dict[bytes, tuple[str, int, bytes]] = {}
        # Height h -> ids whose payload goes once checkpoint h + 1 is decided: until
        # then only the payload proves what a peer catching up must execute.
        self._purge_at: dict[int, set[bytes]] = {}
        self._purge_ids: set[bytes] = set()  # every id in _purge_at
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
        self.ledger = Ledger(genesis)
        self.decided: list[tuple[Checkpoint, Certificate]] = []
        self.executions: list[Execution] = []
        self._executions_txs = 0
        self._out = ReplicaReady()
        self._gossip: list[tuple[Transaction, str | None]] = []  # (tx, who sent it to us)
        # Ids being fetched, and when catch-up help last went to whom: both
        # within byte budgets and per-peer shares (replica/books.py).
        self._wanted = Wanted(config.wanted_bytes_max, config.wanted_bytes_per_source_max)
        self._catchup_sent = SentBook(
            config.catchup_interval_ms,
            config.catchup_bytes_max,
            config.catchup_bytes_per_source_max,
        )
        self.now_ms = 0
        restored = persisted or Persisted()
        self._replay(restored)
        self._stored_height = self.ledger.height  # what the replay read back
        if final_source is not None:
            # Whether the store holds an id as final: lets the DAG forget expired
            # final ids (see Dag). Only after the replay, which re-admits them.
            self.dag.use_final_source(final_source)
        self.consensus = Tendermint(
            genesis.chain_id,
            genesis.hash,
            self,
            key,
            config.consensus,
            self.decided[-1][0] if self.decided else None,
            restored.hard_state,
        )

    # -- restart -----------------------------------------------------------
    def _replay(self, p: Persisted) -> None:
        """Rebuild from our own store: re-admit, re-cover and re-execute, checking hashes."""
        self.decided = list(p.decided)
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
            assert result is not None and result.result.state_hash == ex.result.state_hash, (
                "replayed execution diverged from the stored state hash"
            )
            assert result.result.audit_head == ex.result.audit_head, (
                "replayed execution diverged from the stored audit head"
            )
        for tx in p.vertices:
            if not self.dag.has(tx.id):
                adm = self.dag.admit_tx(tx, self.now_ms, verify_signature=False, lenient=True)
                self._replay_missing.extend(adm.missing)
        self._replayed_orphans = {tx.id for tx in p.vertices if not self.dag.has(tx.id)}
        # A crash may have come between an execution and the purge its next
        # checkpoint allowed: purge again (deleting twice changes nothing).
        purged = self._out.purged
        self._out = ReplicaReady(purged=purged)

    # -- inputs ------------------------------------------------------------
    def start(self, now_ms: int) -> None:
        """Begin consensus (after construction or a restart)."""
        self.now_ms = now_ms
        if self._replay_missing:  # parents of stored vertices, e.g. withheld copies
            missing, self._replay_missing = self._replay_missing, []
            self._fetch([m for m in dict.fromkeys(missing) if not self.dag.has(m)], None, now_ms)
        # Decided but not yet executed before a restart: fetch their cones again.
        self._execute_decided()
        self.consensus.start(now_ms)
        self._after(now_ms)

    def tick(self, now_ms: int) -> None:
        """Clock input: timeouts, orphan expiry, fetch retries."""
        self.now_ms = now_ms
        self.dag.expire_orphans(now_ms)
        self._retry_fetches(now_ms)
        self.consensus.tick(now_ms)
        self._after(now_ms)

    def submit(self, wire: bytes, now_ms: int) -> Admitted:
        """A client's transaction; raises AdmissionError. Admitted ones are gossiped."""
        result = self.submit_many([wire], now_ms)[0]
        if isinstance(result, AdmissionError):
            raise result
        return result

    def submit_many(self, wires: Sequence[bytes], now_ms: int) -> list[Admitted | AdmissionError]:
        """Clients' transactions in order, each admitted or refused with its reason.

        Consensus looks again once for the whole batch, not once per transaction.
        """
        self.now_ms = now_ms
        results: list[Admitted | AdmissionError] = []
        added = False
        for wire in wires:
            try:
                if self.dag.client_pool_full():
                    raise AdmissionError(Reject.POOL_FULL, "too many pending vertices: retry later")
                tx = decode_checked(wire, self.genesis.chain_id, self.config.dag)
                self._check_tier(tx)
                admitted = self.dag.admit_tx(tx, now_ms)
            except AdmissionError as exc:
                results.append(exc)
                continue
            self._on_admitted(admitted, None)
            added |= bool(admitted.added)
            self._fetch(list(admitted.missing), None, now_ms)
            results.append(admitted)
        if added:
            self._after_admission()
        self._after(now_ms)
        return results

    def receive(self, peer: str, msg: Message, now_ms: int) -> None:
        """A decoded message from a peer."""
        self.now_ms = now_ms
        if isinstance(msg, TxMsg):
            admitted_any = False
            for wire in msg.wires[:WIRES_PER_MSG_MAX]:
                admitted_any |= self._on_tx(peer, wire, now_ms)
            if admitted_any:
                self._admission_pending = True
        elif isinstance(msg, TxRequest):
            self._on_tx_request(peer, msg)
        elif isinstance(msg, ProposalMsg):
            rel = self.consensus.on_proposal(msg.proposal, now_ms)
            self._help(peer, rel, msg.proposal.height, now_ms)
            if rel is Relation.CURRENT:
                self._fetch(self.dag.missing(msg.proposal.checkpoint.tips), peer, now_ms)
        elif isinstance(msg, VoteMsg):
            rel = self.consensus.on_vote(msg.vote, now_ms)
            self._help(peer, rel, msg.vote.height, now_ms)
        elif isinstance(msg, CommitMsg):
            self.consensus.on_commit(msg.checkpoint, msg.certificate, now_ms)
        elif isinstance(msg, CommitRequest):
            self._send_commits(peer, msg.height, now_ms)
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
        out, self._out = self._out, ReplicaReady()
        self.dag.forget_final(self._stored_height)
        if out.executed:
            self._stored_height = out.executed[-1].checkpoint.height
        return out

    # -- ConsensusApp --------------------------------------------------------
    def validator_set(self, height: int) -> ValidatorSet | None:
        """The set certifying height, once execution knows it."""
        return self.ledger.validator_set(height)

    def propose(self, height: int, previous: Checkpoint | None, now_ms: int) -> Checkpoint | None:
        """Our tips as a new checkpoint, once the previous height is executed."""
        if self.ledger.height != height - 1:
            return None
        valset = self.ledger.validator_set(height)
        assert valset is not None
        prev_time = previous.time_ms if previous else self.genesis.time_ms
        tips = self.dag.uncovered_tips(now_ms - self.config.proposal_tip_age_ms)
        # Payloads to delete wait for the next checkpoint: do not make them wait
        # for the idle heartbeat as well.
        if not tips and not self._purge_at and now_ms - prev_time < self.config.idle_checkpoint_ms:
            return None
        return Checkpoint(
            chain_id=self.genesis.chain_id,
            height=height,
            previous=previous.hash if previous else self.genesis.hash,
            time_ms=max(now_ms, prev_time + 1),
            tips=tuple(tips),
            state_hash=self.ledger.state_hash,
            receipts_root=self.ledger.receipts_root,
            audit_head=self.ledger.audit_head,
            validator_set_hash=valset.hash,
        )

    def check(self, cp: Checkpoint, previous: Checkpoint | None, now_ms: int) -> Verdict:
        """Valid when it extends our chain, matches our execution, and we hold its tips."""
        if self.ledger.height != cp.height - 1:
            return Verdict.PENDING
        prev_time = previous.time_ms if previous else self.genesis.time_ms
        valset = self.ledger.validator_set(cp.height)
        tips = cp.tips
        if (
            cp.previous != (previous.hash if previous else self.genesis.hash)
            or not prev_time < cp.time_ms <= now_ms + self.config.consensus.time_drift_ms_max
            or len(tips) > self.config.dag.tips_per_checkpoint_max
            or any(a >= b for a, b in itertools.pairwise(tips))
            or cp.state_hash != self.ledger.state_hash
            or cp.receipts_root != self.ledger.receipts_root
            or cp.audit_head != self.ledger.audit_head
            or valset is None
            or cp.validator_set_hash != valset.hash
        ):
            return Verdict.INVALID
        missing = self.dag.missing(tips)
        if missing:
            self._fetch(missing, None, now_ms)
            return Verdict.PENDING
        return Verdict.VALID

    # -- gossip and fetching -----------------------------------------------
    def _on_tx(self, peer: str, wire: bytes, now_ms: int) -> bool:
        """Admit one gossiped transaction; True when something entered the DAG.

        The id is hashed once, and a duplicate is dropped before the body is
        decoded: a transaction may reach a node from several peers.
        """
        new = self._decode_new(peer, wire)
        if new is None:
            return False
        w, vid = new
        try:
            tx = check_wire(w, self.genesis.chain_id, self.config.dag, vid)
            lenient = vid in self._wanted or self.dag.is_awaited(vid)
            if not lenient:  # one a checkpoint needs is admitted whatever its size
                self._check_tier(tx)
            admitted = self.dag.admit_tx(tx, now_ms, lenient=lenient, source=peer)
        except AdmissionError as exc:
            if exc.reason in _DISHONEST:
                self._blame(peer, f"relayed a transaction no honest node admits: {exc}")
            return False
        self._wanted.pop(vid, None)
        self._on_admitted(admitted, peer)
        if admitted.missing:
            self._fetch(list(admitted.missing), peer, now_ms)
        return bool(admitted.added)

    def _check_tier(self, tx: Transaction) -> None:
        """Refuse a payload over the sender's tier limit before it is stored or gossiped."""
        limit = self.ledger.payload_bytes_max(tx.body.sender, tx.body.kind)
        if limit is not None and tx.body.payload_len > limit:
            raise AdmissionError(
                Reject.TOO_LARGE, f"payload of {tx.body.payload_len} bytes > the tier's {limit}"
            )

    def _decode_new(self, peer: str, wire: bytes) -> tuple[TxWire, bytes] | None:
        """The outer wire and its id, unless it is malformed (its sender blamed) or held here."""
        try:
            w = decode_wire(wire, self.config.dag)
        except AdmissionError as exc:
            if exc.reason is Reject.MALFORMED:
                self._blame(peer, f"relayed a malformed transaction: {exc}")
            return None
        if len(w.signature) != SIGNATURE_BYTES:
            self._blame(peer, "relayed a transaction whose signature is not 64 bytes")
            return None
        vid = tx_id(w.body, w.signature)
        return None if self.dag.holds(vid) else (w, vid)

    def _on_admitted(self, admitted: Admitted, source: str | None) -> None:
        """Persist and gossip what entered the DAG (gossip is batched in ready()).

        A redacted vertex is neither: it is stored with the execution that covers
        it (after a crash it is fetched again, with its proof), and peers get it
        only by asking.
        """
        for tx in admitted.added:
            self._wanted.pop(tx.id, None)
            if tx.payload_missing:
                continue
            if self._replayed_orphans and tx.id in self._replayed_orphans:
                self._replayed_orphans.discard(tx.id)  # stored already, gossiped then
                continue
            self._out.admitted.append(tx)
            self._gossip.append((tx, source))

    def _lookup(self, vid: bytes) -> Transaction | None:
        """A vertex from memory, or (pruned once final) from the store."""
        tx = self.dag.get(vid)
        if tx is None and self.vertex_source is not None and self.dag.is_covered(vid):
            tx = self.vertex_source(vid)
        return tx

    def _after_admission(self) -> None:
        """New vertices may complete a decided cone or a pending proposal."""
        self._execute_decided()
        self.consensus.recheck(self.now_ms)

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
                if vid not in self._purge_ids or self._is_validator(peer):
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
            if proof.receipt.status != _REJECTED:
                entries = self._redaction_entries(vid)
                if not entries:
                    continue
            self._out.sends.append((peer, RedactedTxMsg(t.to_wire(), proof, entries)))
        for start in range(0, len(found), WIRES_PER_MSG_MAX):
            batch = tuple(found[start : start + WIRES_PER_MSG_MAX])
            self._out.sends.append((peer, TxMsg(batch)))

    def _is_validator(self, peer: str) -> bool:
        """True when peer is a member of the validator set of the next height."""
        vs = self.ledger.validator_set(self.ledger.height + 1)
        key = self.peer_keys.get(peer)
        return vs is not None and key is not None and any(m.public_key == key for m in vs.members)

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

        Taken only when its receipt is certified and says rejected, or, for a
        record, when the certified chain redacted it. Anything else is a copy
        an honest peer never sends: its sender is blamed.
        """
        new = self._decode_new(peer, msg.wire)
        if new is None:
            return False
        w, vid = new
        if vid not in self._wanted and not self.dag.is_awaited(vid):
            return False  # unsolicited: only a vertex a decided cone needs comes this way
        if msg.proof.receipt.tx_id != vid:
            self._blame(peer, "a withheld copy whose receipt names another transaction")
            return False
        try:
            tx = check_wire(w, self.genesis.chain_id, self.config.dag, vid, payload_withheld=True)
        except AdmissionError as exc:
            self._blame(peer, f"a withheld copy with a bad header: {exc}")
            return False
        verdict = self._proof_verdict(msg.proof)
        if verdict is None:
            self._park_unproven(peer, vid, msg)
            return False
        if not verdict:
            self._blame(peer, "a withheld copy whose receipt is not certified")
            return False
        problem = self._withheld_problem(peer, tx, msg)
        if problem is not None:
            self._blame(peer, problem)
            return False
        try:
            admitted = self.dag.admit_tx(tx, now_ms, lenient=True, source=peer)
        except AdmissionError:
            return False
        self._known_receipts[vid] = msg.proof.receipt
        self._wanted.pop(vid, None)
        self._on_admitted(admitted, peer)
        if admitted.missing:
            self._fetch(list(admitted.missing), peer, now_ms)
        return bool(admitted.added)

    def _withheld_problem(self, peer: str, tx: Transaction, msg: RedactedTxMsg) -> str | None:
        """Why a certified vertex may not travel without its payload, or None when it may.

        A record's redaction is checked against the audit head certified after
        its height when this node holds that checkpoint; before that (a node
        catching up holds decisions only a little past its execution), the
        entries must chain among themselves, and execution confirms their head
        when it reaches that height (_confirm_redactions).
        """
        if "accept-forged-redaction" in self.config.consensus.plants:
            return None
        receipt = msg.proof.receipt
        if receipt.status == _REJECTED:
            return None
        if tx.body.kind != "record":
            return f"a {tx.body.kind} final as {receipt.status} sent without its payload"
        entries = msg.redaction
        if not entries or len(entries) > REDACTION_ENTRIES_MAX:
            return "a record final as executed or held sent without its payload or a redaction"
        first = entries[0]
        if (
            first.kind != AuditKind.REDACTION.value
            or first.subject != f"tx:{tx.id.hex()}"
            or first.height < receipt.height
            or any(e.height != first.height for e in entries)
            or any(b.prev != a.hash for a, b in itertools.pairwise(entries))
        ):
            return "a redaction proof that does not name the record or does not chain"
        head = entries[-1].hash
        r = first.height
        if len(self.decided) > r:
            if self.decided[r][0].audit_head != head:
                return f"a redaction proof that misses the audit head certified after {r}"
        elif self.ledger.height >= r:
            return f"a redaction proof for height {r}, executed here without it"
        else:
            self._redactions_to_confirm[tx.id] = (peer, r, head)
        return None

    def _confirm_redactions(self, height: int, audit_head: bytes) -> None:
        """Execution reached height: the redactions taken on trust must end at its head."""
        for vid, (peer, r, head) in list(self._redactions_to_confirm.items()):
            if r != height:
                continue
            del self._redactions_to_confirm[vid]
            if head != audit_head:
                # The record executed exactly from its certified receipt, so state
                # is right; only its payload is missing here. Blame the sender.
                self._blame(peer, f"a forged redaction of {vid.hex()} at height {r}")

    def _blame(self, peer: str, reason: str) -> None:
        """A peer sent what no honest peer sends: the shell drops it for a while."""
        if peer:
            self._out.blamed.append((peer, reason))

    def _proof_verdict(self, proof: ReceiptProof) -> bool | None:
        """Whether the receipt is under the receipts root certified at its height + 1
        (None while that height is not decided here yet)."""
        h = proof.receipt.height
        if h < 1:
            return False
        if len(self.decided) < h + 1:
            return None
        return proof.verify(self.decided[h][0].receipts_root)

    def _park_unproven(self, peer: str, vid: bytes, msg: RedactedTxMsg) -> None:
        """Keep a copy until its receipt's height is decided here, within every budget.

        The first copy of an id stays: a peer cannot push out another's. One
        that fails its check later is dropped and its sender blamed, and the
        fetch asks again.
        """
        if vid in self._unproven or msg.proof.receipt.height > (
            len(self.decided) + UNPROVEN_HEIGHTS_AHEAD_MAX
        ):
            return
        size = len(encode(msg))
        count, used = self._unproven_by_peer.get(peer, (0, 0))
        if (
            len(self._unproven) >= UNPROVEN_MAX
            or self._unproven_bytes + size > UNPROVEN_BYTES_MAX
            or (count + 1) * UNPROVEN_PEER_SHARE > UNPROVEN_MAX
            or (used + size) * UNPROVEN_PEER_SHARE > UNPROVEN_BYTES_MAX
        ):
            return
        self._unproven[vid] = (peer, msg, size)
        self._unproven_bytes += size
        self._unproven_by_peer[peer] = (count + 1, used + size)

    def _retry_unproven(self, now_ms: int) -> bool:
        added = False
        for vid, (peer, msg, size) in list(self._unproven.items()):
            if self._proof_verdict(msg.proof) is not None:
                del self._unproven[vid]
                self._unproven_bytes -= size
                count, used = self._unproven_by_peer.pop(peer)
                if count > 1:
                    self._unproven_by_peer[peer] = (count - 1, used - size)
                added |= self._on_redacted(peer, msg, now_ms)
        return added

    def _fetch(self, ids: list[bytes], peer: str | None, now_ms: int) -> None:
        """Ask peer (None: every peer) for ids, each within its source's share of wanted ids."""
        if not self.peers:
            return
        cursor = self.peers.index(peer) if peer in self.peers else 0
        fresh: list[bytes] = []
        for i in ids:
            if i in self._wanted or self.dag.has(i):
                continue
            # A parent is charged to the source of the orphan that needs it, not
            # to whoever relayed it; a tip that consensus needs is our own need.
            if self._wanted.add(i, Want(now_ms, cursor, now_ms, self.dag.awaiting_source(i))):
                fresh.append(i)
        if fresh:
            self._request(fresh, self.peers[cursor], peer is None)

    def _request(self, ids: list[bytes], peer: str, everyone: bool) -> None:
        for start in range(0, len(ids), IDS_PER_REQUEST_MAX):
            msg = TxRequest(tuple(ids[start : start + IDS_PER_REQUEST_MAX]))
            for p in self.peers if everyone else [peer]:
                self._out.sends.append((p, msg))

    def _retry_fetches(self, now_ms: int) -> None:
        """Ask the next peer for ids still missing; drop those nobody needs any more."""
        due: dict[int, list[bytes]] = {}
        needed = {t for cp, _ in self.decided[self.ledger.height :] for t in cp.tips}
        for vid, want in self._wanted.items():
            stale = now_ms - want.first_ms >= self.config.fetch_give_up_ms and vid not in needed
            # Wanted as a parent of orphans that have all gone (expired or evicted).
            unawaited = want.source is not None and not self.dag.is_awaited(vid)
            if self.dag.has(vid) or stale or (unawaited and vid not in needed):
                self._wanted.pop(vid)
            elif now_ms - want.asked_ms >= self.config.fetch_retry_ms:
                want.asked_ms = now_ms
                want.cursor = (want.cursor + 1) % len(self.peers)
                due.setdefault(want.cursor, []).append(vid)
        for cursor, ids in sorted(due.items()):
            self._request(ids, self.peers[cursor], everyone=False)
        self._catchup_sent.forget_old(now_ms)  # so budgets() shows what still holds back

    # -- catch-up ------------------------------------------------------------
    def _help(self, peer: str, rel: Relation, height: int, now_ms: int) -> None:
        if rel is Relation.PAST:
            self._send_commits(peer, height, now_ms)
        elif (
            rel is Relation.FUTURE
            and height > self.consensus.height
            # Our own request, stamped under the negated height: apart from our answers.
            and self._catchup_sent.allow(peer, -self.consensus.height, now_ms)
        ):
            self._out.sends.append((peer, CommitRequest(self.consensus.height)))

    def _send_commits(self, peer: str, height: int, now_ms: int) -> None:
        if not 1 <= height <= len(self.decided):
            return
        if not self._catchup_sent.allow(peer, height, now_ms):
            return  # helped within the interval, or the peer (or everyone) asks too much
        last = min(len(self.decided), height - 1 + self.config.commits_per_reply_max)
        for h in range(height, last + 1):
            cp, cert = self.decided[h - 1]
            self._out.sends.append((peer, CommitMsg(cp, cert)))

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
            "wanted": (self._wanted.used_bytes(), c.wanted_bytes_max),
            "wanted_per_source": (
                self._wanted.most_bytes_per_source(),
                c.wanted_bytes_per_source_max,
            ),
            "unproven": (self._unproven_bytes, UNPROVEN_BYTES_MAX),
            "unproven_per_source": (
                max((used for _, used in self._unproven_by_peer.values()), default=0),
                UNPROVEN_BYTES_MAX // UNPROVEN_PEER_SHARE,
            ),
            "future": (consensus.future_bytes(), cc.future_bytes_max),
            "future_per_sender": (
                consensus.future_bytes_per_sender_most(),
                cc.future_bytes_per_sender_max,
            ),
            "catchup": (self._catchup_sent.used_bytes(), c.catchup_bytes_max),
            "catchup_per_source": (
                self._catchup_sent.most_bytes_per_source(),
                c.catchup_bytes_per_source_max,
            ),
        }

    # -- decisions and execution ---------------------------------------------
    def _after(self, now_ms: int) -> None:
        """Collect consensus output, execute what we can, and loop until quiet."""
        while True:
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
            if self._purge_at:
                self._purge_certified()
            if self._unproven:
                self._retry_unproven(now_ms)
            if self._execute_decided():
                self.consensus.recheck(now_ms)

    def _execute_decided(self) -> bool:
        progressed = False
        while self.ledger.height < len(self.decided):
            cp, _ = self.decided[self.ledger.height]
            missing = self.dag.missing(cp.tips)
            if missing:
                self._fetch(missing, None, self.now_ms)
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
        withheld = {
            tx.id: self._known_receipts.pop(tx.id)
            for tx in txs
            if tx.payload_missing and tx.id in self._known_receipts
        }
        result = self.ledger.execute(cp.height, txs, {**withheld, **(known or {})} or None)
        # Final as rejected, or redacted: the payload leaves memory and the store
        # once the next checkpoint certifies this height (_purge_certified); the
        # header and receipt stay.
        gone = {
            tx.id
            for tx, rc in zip(txs, result.receipts, strict=True)
            if rc.status == _REJECTED and tx.payload
        }
        gone.update(result.redacted)
        if gone:
            self._purge_at[cp.height] = gone
            self._purge_ids |= gone
            if self._gossip:  # admitted and final in one step: never gossiped now
                self._gossip = [(tx, src) for tx, src in self._gossip if tx.id not in gone]
        if self._redactions_to_confirm:
            self._confirm_redactions(cp.height, result.audit_head)
        ex = Execution(cp, txs, result)
        self.executions.append(ex)
        self._executions_txs += len(txs)
        while len(self.executions) > 1 and (
            len(self.executions) > self.config.executions_kept_max
            or self._executions_txs > self.config.executions_txs_max
        ):
            self._executions_txs -= len(self.executions.pop(0).txs)
        if self._purge_at:
            self._purge_certified()
        return ex

    def _purge_certified(self) -> None:
        """Payloads whose removal a decided checkpoint now proves leave memory and the store.

        A transaction final as rejected at h can be proven so only by the
        receipts root that checkpoint h + 1 certifies. Deleting its payload
        earlier would strand a validator still executing h: no peer could send
        the bytes, nor a copy it could check, and with f others down h + 1 would
        never be decided. Until then the payload is served only to a validator
        that asks for it by id, never gossiped, and never shown by the API.
        """
        due = sorted(h for h in self._purge_at if h < len(self.decided))
        if not due:
            return
        ids: set[bytes] = set()
        for h in due:
            ids |= self._purge_at.pop(h)
        self._purge_ids -= ids
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
            self._gossip = [(tx, src) for tx, src in self._gossip if tx.id not in ids]
        out = self._out
        if out.admitted:
            out.admitted = [tx.without_payload() if tx.id in ids else tx for tx in out.admitted]


def _keys_of_hex_names(names: list[str]) -> dict[str, bytes]:
    """Peer names that are public keys in hex, decoded; other names map to nothing."""
    out: dict[str, bytes] = {}
    for n in names:
        try:
            out[n] = bytes.fromhex(n)
        except ValueError:
            continue
    return out

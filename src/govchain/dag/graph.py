"""The DAG of admitted transactions: tips, orphans, coverage by checkpoints, order."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum

import msgspec

from govchain.dag.admission import AdmissionError, Reject, check_signature, decode_checked
from govchain.dag.limits import ORPHAN_ENTRY_BYTES, ORPHAN_MISSING_PARENT_BYTES, DagLimits
from govchain.dag.preverified import PreVerified
from govchain.dag.tx import Transaction

# The source that clients' submissions are charged to. The core cannot tell one
# HTTP client from another, and sender keys are free to make, so all clients
# share one source; no peer is named "" (peers are named by key or by label).
CLIENTS_SOURCE = ""
# The share this replica's own needs are charged to: a tip that consensus named
# (a proposal's, or a decided checkpoint's) and every ancestor it waits for.
# Gossip fills each peer's share; were a needed cone charged to the peer that
# relayed it, ancestors could find that share full of orphans waiting for them,
# and the cone would never complete (simulator seeds 1 and 1586). No peer name
# holds a NUL.
NEEDED_SOURCE = "\x00needed"


def orphan_cost_bytes(tx: Transaction, missing_count: int) -> int:
    """What an orphan is charged in the pool's budget: its wire bytes and its upkeep."""
    return (
        len(tx.body_bytes)
        + len(tx.signature)
        + len(tx.payload)
        + ORPHAN_ENTRY_BYTES
        + missing_count * ORPHAN_MISSING_PARENT_BYTES
    )


class Standing(Enum):
    """Where an id stands in a DAG: the one classification every membership query reads."""

    UNKNOWN = "unknown"  # never seen, or an orphan's forgotten since
    WAITING = "waiting"  # in the orphan pool: a parent is missing
    PENDING = "pending"  # admitted, no decided checkpoint covers it yet
    FINAL = "final"  # covered by a decided checkpoint (or the genesis root)


_VERTEX = frozenset({Standing.PENDING, Standing.FINAL})


@dataclass(slots=True)
class Vertex:
    """An admitted transaction and the checkpoint height that covered it, if any."""

    tx: Transaction
    height: int | None = None


@dataclass(slots=True)
class _Orphan:
    tx: Transaction
    expires_ms: int
    source: str  # who sent it: gossip relays it by this once it is released
    share: str  # the share of the pool it is charged to: source, or NEEDED_SOURCE
    cost_bytes: int
    missing: set[bytes] = field(default_factory=set)


class Admitted(msgspec.Struct, frozen=True):
    """Outcome of admitting one transaction.

    added: vertices that entered the DAG, the transaction itself and any orphans
    it released, parents before children. missing: parent ids to fetch when the
    transaction had to wait in the orphan pool. sources: for each of added, the
    source it came from (a released orphan's own, not its parent's; CLIENTS_SOURCE
    for a client), so that a client's orphan is gossiped as the client's once it
    is released.
    """

    added: tuple[Transaction, ...]
    missing: tuple[bytes, ...]
    sources: tuple[str, ...] = ()


class DagFrontier(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """The final part of a DAG as memory holds it after height (a snapshot keeps it)."""

    height: int
    tips: list[bytes]  # tips that are final, in the tips' order
    latest_by_sender: list[tuple[bytes, bytes]]  # sender key -> newest vertex id
    expiring: list[tuple[int, list[bytes]]]  # final ids still held, by the height they may go


def live_after(
    height: int, expiring: Iterable[tuple[int, Iterable[bytes]]]
) -> list[tuple[int, list[bytes]]]:
    """The final ids kept past height, grouped by valid_until ascending, each group sorted.

    A final id is kept until max(valid_until, its final height): past height,
    that is its valid_until.
    """
    return sorted((until, sorted(ids)) for until, ids in expiring if until > height)


class Dag:
    """Admitted vertices with their coverage; holds no sockets, clock or files.

    Invariant: every parent of a vertex is a vertex (or the genesis root), so a
    vertex's past cone is complete once the vertex itself is held.

    Pruned final vertices (limits.prune_covered) leave their ids behind, so that
    a copy arriving later is refused. With a final_source (the store's answer
    to "is this id final?"), an id is kept only while its transaction is still
    valid and the store may not know it yet: once the height reaches its
    valid_until, gossip admission refuses a copy as expired anyway, and the
    questions that must still be right for old ids (a parent, a proposal's tip,
    a lenient fetch) ask final_source. The caller says, through forget_final,
    up to which height the store holds the executions. Memory then holds the
    final ids of about one validity window, not those of the whole chain.
    """

    def __init__(
        self,
        chain_id: str,
        genesis_id: bytes,
        limits: DagLimits,
        final_source: Callable[[bytes], bool] | None = None,
    ) -> None:
        self.chain_id = chain_id
        self.genesis_id = genesis_id
        self.limits = limits
        self.final_source = final_source
        self.vertices: dict[bytes, Vertex] = {}
        # Insertion-ordered dicts, never sets: iteration order must not depend
        # on the process's hash seed, or a simulator seed would not replay.
        self.tips: dict[bytes, None] = {genesis_id: None}
        # Ids of pruned final vertices (prune_covered); with a final_source, each
        # leaves once expired and stored (see _expiring and forget_final).
        self.covered_ids: set[bytes] = set()
        # The same ids by the height from which they may go: the later of their
        # valid_until and the height that covered them (used with a final_source).
        self._expiring: dict[int, list[bytes]] = {}
        self._forget_from = 1  # the lowest height whose ids may still be in _expiring
        self._forgotten = 0  # final ids dropped from memory (final_source knows them)
        self.height = 0
        # Orphans in admission order (so also in expiry order: one TTL for all).
        self._orphans: dict[bytes, _Orphan] = {}
        self._orphan_bytes = 0
        # Per source: its orphans' ids, oldest first, and what they are charged.
        self._orphans_of: dict[str, dict[bytes, None]] = {}
        self._orphan_bytes_of: dict[str, int] = {}
        self._waiting: dict[bytes, list[bytes]] = {}
        # Clients' orphans dropped (expired or evicted) since take_dropped_client_orphans:
        # the shell stored them and deletes them.
        self._dropped_client_orphans: list[bytes] = []
        self._pending_by_sender: dict[bytes, int] = {}
        self.latest_by_sender: dict[bytes, bytes] = {}  # sender key -> newest vertex id
        self.uncovered_count = 0
        # Uncovered vertex id -> when it was admitted here (the caller's clock).
        self._admitted_ms: dict[bytes, int] = {}
        # Ids whose signatures the shell checked off the event loop (node/verify_pool.py):
        # admission skips that check once for each. Empty in the simulator.
        self.pre_verified = PreVerified()

    # -- snapshots ---------------------------------------------------------
    def frontier(self) -> DagFrontier:
        """What memory holds of the final part of the DAG: a snapshot keeps it.

        Only with pruned final vertices (prune_covered): then the final part is
        its tips, each sender's newest vertex and the final ids still held.
        """
        assert self.limits.prune_covered, "a frontier needs pruned final vertices"
        vertices = self.vertices
        return DagFrontier(
            self.height,
            [t for t in self.tips if t not in vertices],
            list(self.latest_by_sender.items()),
            sorted((h, list(ids)) for h, ids in self._expiring.items()),
        )

    def live_final(self, height: int) -> list[tuple[int, list[bytes]]]:
        """Final ids still valid after height, grouped by valid_until (dag: live_after).

        Called just after covering height, before any later one: then it is a
        function of the chain alone (state/sync_point.py).
        """
        assert height == self.height, (height, self.height)
        if self.limits.prune_covered:
            # Each group sorted in place, not copied: timsort merges the sorted
            # run left by the previous sync height with the new tail, and a million
            # live ids would otherwise be copied for a moment (~10 MB, and time).
            # The caller uses the lists at once (seal), before anything appends.
            live = []
            for until in sorted(u for u in self._expiring if u > height):
                ids = self._expiring[until]
                ids.sort()
                live.append((until, ids))
            return live
        groups: dict[int, list[bytes]] = {}
        for vid, v in self.vertices.items():
            if v.height is not None and v.tx.body.valid_until > height:
                groups.setdefault(v.tx.body.valid_until, []).append(vid)
        return live_after(height, groups.items())

    def restore_frontier(
        self, frontier: DagFrontier, final_source: Callable[[bytes], bool]
    ) -> None:
        """Start from a snapshot's frontier (an empty DAG only); final_source knows the rest.

        final_source answers for the final ids memory does not hold, which from
        a snapshot are all those that expired before it.
        """
        assert not self.vertices and self.height == 0, "a frontier restores an empty DAG"
        self.height = frontier.height
        self.tips = dict.fromkeys(frontier.tips)
        self.latest_by_sender = dict(frontier.latest_by_sender)
        self._expiring = {h: list(ids) for h, ids in frontier.expiring}
        self.covered_ids = {vid for _, ids in frontier.expiring for vid in ids}
        self._forget_from = min(self._expiring, default=frontier.height + 1)
        self.final_source = final_source
        self._forgotten = 1  # anything final below the frontier is asked of final_source

    # -- queries -----------------------------------------------------------
    # Membership is one classification, standing(); the rest name its common
    # questions. The store is asked (final_source) only for ids memory forgot,
    # and never by holds(), which gossip asks of every copy that arrives.
    #
    #   has(vid)         PENDING or FINAL: a vertex (what a parent must be)
    #   is_covered(vid)  FINAL
    #   holds(vid)       anything memory holds: WAITING, PENDING or FINAL
    #   missing(ids)     those of ids that are not has()
    def standing(self, vid: bytes, *, ask_store: bool = True) -> Standing:
        """Where vid stands; ask_store=False: from memory alone (no final_source lookup)."""
        v = self.vertices.get(vid)
        if v is not None:
            return Standing.PENDING if v.height is None else Standing.FINAL
        if vid == self.genesis_id or vid in self.covered_ids:
            return Standing.FINAL
        if ask_store and self._forgotten_final(vid):
            return Standing.FINAL
        return Standing.WAITING if vid in self._orphans else Standing.UNKNOWN

    def has(self, vid: bytes) -> bool:
        """True when vid is the genesis root or an admitted vertex."""
        return self.standing(vid) in _VERTEX

    def use_final_source(self, final_source: Callable[[bytes], bool]) -> None:
        """From now on, forget final ids once expired and stored; ask final_source about them.

        Set after a restart's replay (everything replayed is stored): the replay
        re-admits what the store holds as final, so it must not be told that
        those ids are held already.
        """
        self.final_source = final_source
        self.forget_final(self.height)

    def forget_final(self, stored_height: int) -> None:
        """Drop the ids that are expired and covered at or below stored_height.

        stored_height: the store holds every execution up to it, so final_source
        answers for those ids. Without a final_source nothing is dropped.
        """
        if self.final_source is None:
            return
        for h in range(self._forget_from, min(stored_height, self.height) + 1):
            for vid in self._expiring.pop(h, ()):
                self.covered_ids.remove(vid)
                self._forgotten += 1
            self._forget_from = h + 1

    def _forgotten_final(self, vid: bytes) -> bool:
        """A final vertex whose id memory no longer holds (only with a final_source)."""
        return self._forgotten > 0 and self.final_source is not None and self.final_source(vid)

    def get(self, vid: bytes) -> Transaction | None:
        """The admitted transaction with this id, unless it was pruned once final."""
        v = self.vertices.get(vid)
        return v.tx if v is not None else None

    def is_covered(self, vid: bytes) -> bool:
        """True when a final checkpoint already covers vid."""
        return self.standing(vid) is Standing.FINAL

    def missing(self, ids: Iterable[bytes]) -> list[bytes]:
        """Those of ids that are not held."""
        return [i for i in ids if not self.has(i)]

    def holds(self, vid: bytes) -> bool:
        """True when vid is admitted or waiting in the orphan pool (memory alone)."""
        return self.standing(vid, ask_store=False) is not Standing.UNKNOWN

    def count(self) -> int:
        """Vertices admitted so far, pruned ones included."""
        return len(self.vertices) + len(self.covered_ids) + self._forgotten

    def orphan(self, vid: bytes) -> Transaction | None:
        """The transaction waiting in the orphan pool under this id, if any."""
        o = self._orphans.get(vid)
        return o.tx if o is not None else None

    def orphan_missing(self, vid: bytes) -> tuple[bytes, ...]:
        """The parents the orphan vid still waits for, in its parents' order (() if none)."""
        o = self._orphans.get(vid)
        if o is None:
            return ()
        return tuple(p for p in o.tx.body.parents if p in o.missing)

    def take_dropped_client_orphans(self) -> list[bytes]:
        """Ids of clients' orphans dropped without release since the last call."""
        dropped, self._dropped_client_orphans = self._dropped_client_orphans, []
        return dropped

    def is_awaited(self, vid: bytes) -> bool:
        """True when an orphan waits for vid as a parent."""
        return vid in self._waiting

    def awaiting_source(self, vid: bytes) -> str | None:
        """The share of the orphans that wait for vid as a parent (None: none waits).

        NEEDED_SOURCE when any of them is needed; else the first one's.
        """
        waiters = self._waiting.get(vid)
        if not waiters:
            return None
        shares = [self._orphans[w].share for w in waiters]
        return NEEDED_SOURCE if NEEDED_SOURCE in shares else shares[0]

    def need(self, vid: bytes) -> list[bytes]:
        """Charge the orphan vid, and the orphans it waits for, to NEEDED_SOURCE.

        Returns the ids the cone still lacks that no orphan holds: what to fetch.
        """
        lacking: list[bytes] = []
        seen: set[bytes] = set()
        stack = [vid]
        while stack:
            v = stack.pop()
            o = self._orphans.get(v)
            if o is None or v in seen:
                continue
            seen.add(v)
            if o.share != NEEDED_SOURCE:
                self._uncharge_orphan(o, v)
                o.share = NEEDED_SOURCE
                self._charge_orphan(o, v)
            for p in sorted(o.missing):
                if p in self._orphans:
                    stack.append(p)
                else:
                    lacking.append(p)
        return lacking

    def pending_of(self, sender: bytes) -> int:
        """Admitted or parked transactions of sender that no checkpoint covers yet."""
        return self._pending_by_sender.get(sender, 0)

    def orphan_count(self) -> int:
        """Transactions waiting for parents."""
        return len(self._orphans)

    def orphan_bytes(self, source: str | None = None) -> int:
        """Bytes the orphan pool is charged (see orphan_cost_bytes), or one source's part."""
        if source is None:
            return self._orphan_bytes
        return self._orphan_bytes_of.get(source, 0)

    def orphan_bytes_per_source_most(self) -> int:
        """The largest part of the orphan pool that any one source holds (needs apart)."""
        return max((b for s, b in self._orphan_bytes_of.items() if s != NEEDED_SOURCE), default=0)

    def uncovered_tips(self, admitted_by_ms: int | None = None) -> list[bytes]:
        """Tips no checkpoint covers yet, at most the checkpoint limit, sorted by id.

        The limit takes the tips admitted here first (then the lower ids): a
        DAG wider than the limit is covered oldest first, so no tip waits
        forever. Taking the lowest ids left a high one behind for as long as
        the DAG stayed wide (the soak's p99 wait from promise to final: 8 s).

        admitted_by_ms: the tips of only those uncovered vertices admitted here
        by then. Parents are admitted before their children, so that set is
        closed under ancestry and its tips cover exactly it.
        """
        if admitted_by_ms is None:
            tips = [t for t in self.tips if not self.is_covered(t)]
        else:
            aged = {v for v, t in self._admitted_ms.items() if t <= admitted_by_ms}
            inner = {p for v in aged for p in self.vertices[v].tx.body.parents if p in aged}
            tips = list(aged - inner)
        limit = self.limits.tips_per_checkpoint_max
        if len(tips) > limit:
            admitted = self._admitted_ms
            tips = sorted(tips, key=lambda t: (admitted.get(t, 0), t))[:limit]
        return sorted(tips)

    def client_tips(self, count_max: int) -> list[bytes]:
        """Parents a client should name: the newest tips, or the genesis root."""
        tips = list(self.tips)[-count_max:]
        return sorted(tips) if tips else [self.genesis_id]

    # -- admission ---------------------------------------------------------
    def admit(self, wire: bytes, now_ms: int) -> Admitted:
        """Admit a client's transaction from the wire; raises AdmissionError with a typed reason."""
        if self.client_pool_full():
            raise AdmissionError(Reject.POOL_FULL, "too many pending vertices: retry later")
        tx = decode_checked(wire, self.chain_id, self.limits)
        return self.admit_tx(tx, now_ms)

    def client_pool_full(self) -> bool:
        """True while new client transactions are refused (back-pressure).

        Either too many vertices wait for finality, or the orphan pool has no
        room left for a largest orphan: memory the network feeds is spent. One
        source holds at most half the pool (DagLimits), so it takes several
        sources to get here.
        """
        return (
            self.uncovered_count >= self.limits.client_pending_max
            or self._orphan_bytes + self.limits.orphan_cost_bytes_max > self.limits.orphan_bytes_max
        )

    def admit_tx(
        self,
        tx: Transaction,
        now_ms: int,
        *,
        verify_signature: bool = True,
        lenient: bool = False,
        source: str | None = None,
        needed: bool = False,
    ) -> Admitted:
        """Admit a decoded transaction (stateful checks, then the signature).

        source: the peer it came from, which an orphan is charged to (None: a
        client, see CLIENTS_SOURCE). needed: consensus needs it (a tip, or an
        ancestor a needed orphan waits for): an orphan is charged to
        NEEDED_SOURCE instead, and so are the orphans it waits for.

        lenient: the vertex was fetched by id (a proposal's or decided checkpoint's
        tip, or the parent of a vertex we hold), so the gossip-time rules (validity
        window, quotas) no longer apply: a final checkpoint may cover an expired
        vertex, which then executes as rejected, and a parent that the cone
        needs must be admitted whatever its age.

        verify_signature: check the signature, unless pre_verified holds the id
        (the shell checked it already); False only for what this node stored itself.
        """
        body = tx.body
        if self.holds(tx.id) or (lenient and self._forgotten_final(tx.id)):
            # Not lenient: a forgotten final id is past its valid_until (below).
            raise AdmissionError(Reject.DUPLICATE, "already held")
        if not lenient:
            # The next checkpoint is height + 1: a bound at or below height can
            # only ever execute as expired, so it is not worth a place in the DAG.
            if body.valid_until <= self.height:
                raise AdmissionError(
                    Reject.EXPIRED, f"valid until {body.valid_until} <= {self.height}"
                )
            if body.valid_until > self.height + self.limits.validity_window_heights_max:
                raise AdmissionError(Reject.VALIDITY_TOO_FAR, f"valid until {body.valid_until}")
            if self._pending_by_sender.get(body.sender, 0) >= self.limits.sender_pending_max:
                raise AdmissionError(Reject.QUOTA_EXCEEDED, "sender has too many pending vertices")
            if self.uncovered_count >= self.limits.pending_count_max:
                raise AdmissionError(Reject.POOL_FULL, "too many pending vertices: retry later")
        if verify_signature and not self.pre_verified.take(tx):
            check_signature(tx)
        src = CLIENTS_SOURCE if source is None else source
        missing = [p for p in body.parents if not self.has(p)]
        if missing:
            self._add_orphan(tx, set(missing), now_ms, src, NEEDED_SOURCE if needed else src)
            if needed:
                lacking = [p for p in missing if p not in self._orphans]
                for p in missing:
                    if p in self._orphans:
                        lacking += self.need(p)
                return Admitted((), tuple(dict.fromkeys(lacking)))
            return Admitted((), tuple(missing))
        added, sources = self._insert_with_released(tx, src, now_ms)
        return Admitted(tuple(added), (), tuple(sources))

    def _add_orphan(
        self, tx: Transaction, missing: set[bytes], now_ms: int, source: str, share: str
    ) -> None:
        cost = orphan_cost_bytes(tx, len(missing))
        held = self._orphan_bytes_of.get(share, 0)
        if share != NEEDED_SOURCE and held + cost > self.limits.orphan_bytes_per_source_max:
            raise AdmissionError(
                Reject.ORPHAN_POOL_FULL, "this source's share of the orphan pool is full"
            )
        self._make_orphan_room(share, cost)
        o = _Orphan(tx, now_ms + self.limits.orphan_ttl_ms, source, share, cost, missing)
        self._orphans[tx.id] = o
        self._charge_orphan(o, tx.id)
        self._count_pending(tx.body.sender, +1)
        for p in sorted(missing):
            self._waiting.setdefault(p, []).append(tx.id)

    def _make_orphan_room(self, share: str, cost: int) -> None:
        """Make room for an orphan of cost bytes charged to share.

        When the pool is full, the source holding the most gives up its oldest
        orphans, as long as it still holds at least as much as share will: a
        flood from a few sources cannot keep anyone else out. Needs come
        first: they take the room from the peers holding the most, and no peer
        takes theirs. Otherwise the orphan is refused, and nothing has changed.
        """
        limits = self.limits
        short_bytes = self._orphan_bytes + cost - limits.orphan_bytes_max
        short_count = len(self._orphans) + 1 - limits.orphans_count_max
        if short_bytes <= 0 and short_count <= 0:
            return
        peers = {s: b for s, b in self._orphan_bytes_of.items() if s != NEEDED_SOURCE}
        if share == NEEDED_SOURCE:
            peer_count = sum(len(self._orphans_of[s]) for s in peers)
            if sum(peers.values()) < short_bytes or peer_count < short_count:
                raise AdmissionError(Reject.ORPHAN_POOL_FULL, "orphan pool is full of needs")
        else:
            held_after = self._orphan_bytes_of.get(share, 0) + cost
            # Ties go to the larger name: deterministic, whatever the hash seed.
            victim, most = max(peers.items(), key=lambda kv: (kv[1], kv[0]), default=(share, 0))
            if victim == share or most - max(short_bytes, 0) < held_after:
                raise AdmissionError(Reject.ORPHAN_POOL_FULL, "orphan pool is full")
            peers = {victim: most}
        while (
            self._orphan_bytes + cost > limits.orphan_bytes_max
            or len(self._orphans) >= limits.orphans_count_max
        ):
            victim = max(
                (s for s in self._orphan_bytes_of if s in peers),
                key=lambda s: (self._orphan_bytes_of[s], s),
            )
            self._drop_orphan(next(iter(self._orphans_of[victim])))

    def _insert_with_released(
        self, tx: Transaction, source: str, now_ms: int
    ) -> tuple[list[Transaction], list[str]]:
        added: list[Transaction] = []
        sources: list[str] = []
        ready = [(tx, source)]
        while ready:
            t, src = ready.pop()
            self._insert(t, now_ms)
            added.append(t)
            sources.append(src)
            waiters = self._waiting.pop(t.id, None)
            if waiters is None:
                continue
            for child_id in waiters:
                orphan = self._orphans.get(child_id)
                if orphan is None:
                    continue
                orphan.missing.discard(t.id)
                if not orphan.missing:
                    del self._orphans[child_id]
                    self._uncharge_orphan(orphan, child_id)
                    self._count_pending(orphan.tx.body.sender, -1)
                    ready.append((orphan.tx, orphan.source))
        return added, sources

    def _insert(self, tx: Transaction, now_ms: int) -> None:
        assert tx.id not in self.vertices
        self.vertices[tx.id] = Vertex(tx)
        self._admitted_ms[tx.id] = now_ms
        for p in tx.body.parents:
            self.tips.pop(p, None)
        self.tips[tx.id] = None
        self.latest_by_sender[tx.body.sender] = tx.id
        self.uncovered_count += 1
        self._count_pending(tx.body.sender, +1)

    def _count_pending(self, sender: bytes, delta: int) -> None:
        n = self._pending_by_sender.get(sender, 0) + delta
        assert n >= 0
        if n:
            self._pending_by_sender[sender] = n
        else:
            self._pending_by_sender.pop(sender, None)

    def renew_orphans(self, now_ms: int) -> None:
        """Let every orphan wait a whole TTL from now_ms (a replay admitted them before
        the clock was known); the pool's order stays its expiry order."""
        for o in self._orphans.values():
            o.expires_ms = now_ms + self.limits.orphan_ttl_ms

    def expire_orphans(self, now_ms: int) -> int:
        """Drop orphans whose wait has run out; returns how many went.

        Orphans are held in admission order with one TTL, so the expired ones
        come first (a clock stepping back only delays some expiries).
        """
        gone = 0
        while self._orphans:
            oid, o = next(iter(self._orphans.items()))
            if o.expires_ms > now_ms:
                break
            self._drop_orphan(oid)
            gone += 1
        return gone

    def _drop_orphan(self, oid: bytes) -> None:
        """Forget an orphan that was not released: expired, or evicted for room."""
        o = self._orphans.pop(oid)
        if o.source == CLIENTS_SOURCE:
            self._dropped_client_orphans.append(oid)
        self._uncharge_orphan(o, oid)
        self._count_pending(o.tx.body.sender, -1)
        for p in o.missing:
            waiters = self._waiting.get(p)
            if waiters is not None:
                waiters.remove(oid)
                if not waiters:
                    del self._waiting[p]

    def _charge_orphan(self, o: _Orphan, oid: bytes) -> None:
        self._orphan_bytes += o.cost_bytes
        self._orphan_bytes_of[o.share] = self._orphan_bytes_of.get(o.share, 0) + o.cost_bytes
        self._orphans_of.setdefault(o.share, {})[oid] = None

    def _uncharge_orphan(self, o: _Orphan, oid: bytes) -> None:
        self._orphan_bytes -= o.cost_bytes
        left = self._orphan_bytes_of[o.share] - o.cost_bytes
        ids = self._orphans_of[o.share]
        del ids[oid]
        if ids:
            self._orphan_bytes_of[o.share] = left
        else:
            assert left == 0, (o.share, left)
            del self._orphan_bytes_of[o.share]
            del self._orphans_of[o.share]

    # -- checkpoints -------------------------------------------------------
    def order_new(self, tips: Iterable[bytes]) -> list[bytes]:
        """The vertices that tips newly cover, in the one deterministic order.

        Tips are taken in ascending id order; from each, a depth-first walk visits
        parents in their (ascending) order and emits a vertex after all its
        uncovered parents: a post-order, hence a topological order. docs/ordering.md.
        """
        out: list[bytes] = []
        seen: set[bytes] = set()
        vertices = self.vertices
        for tip in sorted(set(tips)):
            if tip in seen or self.is_covered(tip):
                continue
            seen.add(tip)
            stack: list[tuple[bytes, int]] = [(tip, 0)]
            while stack:
                vid, i = stack[-1]
                parents = vertices[vid].tx.body.parents
                while i < len(parents) and (parents[i] in seen or self.is_covered(parents[i])):
                    i += 1
                if i < len(parents):
                    stack[-1] = (vid, i + 1)
                    seen.add(parents[i])
                    stack.append((parents[i], 0))
                else:
                    stack.pop()
                    out.append(vid)
        return out

    def cover(self, ordered: Iterable[bytes], height: int) -> None:
        """Mark vertices final at height (what a final checkpoint newly covered)."""
        assert height == self.height + 1, (height, self.height)
        for vid in ordered:
            v = self.vertices[vid]
            assert v.height is None
            v.height = height
            del self._admitted_ms[vid]
            self.uncovered_count -= 1
            self._count_pending(v.tx.body.sender, -1)
            if self.limits.prune_covered:
                del self.vertices[vid]
                self.covered_ids.add(vid)
                self._expiring.setdefault(max(v.tx.body.valid_until, height), []).append(vid)
        self.height = height

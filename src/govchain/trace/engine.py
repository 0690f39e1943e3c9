"""The trace engine: a pure function from (movement source, case) to a sealed result.

Movements are processed in final order, merged across every account the trace
follows, so money never leaves an account before it arrived. An account is
followed from the moment taint first reaches it, and only its movements from
then on are read: its balance then, held clean at the front, is what the
movement that brought the taint records. Movements stored without balances
fall back to the whole history (genesis included when the source holds it:
trace/genesis.py; else the least opening balance that keeps it non-negative).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from itertools import islice

from govchain.trace.backward import trace_backward
from govchain.trace.books import CLEAN, Book, Parcel, open_book, parcel_taint
from govchain.trace.case import Direction, Seed, TraceCase, check_case
from govchain.trace.history import balance_at_start, delta, window
from govchain.trace.movements import (
    UNKNOWN,
    Movement,
    MovementSource,
    balance_before,
)
from govchain.trace.result import TraceEdge, TraceNode, TraceResult, assemble

Order = tuple[int, int, int]


@dataclass
class _Track:
    """An account the taint reached."""

    hop: int
    book: Book | None  # None: a limit stopped the trace here (a frontier account)
    movements: list[Movement] = field(default_factory=list)
    cursor: int = 0
    received: int = 0  # frontier accounts: taint that arrived
    seeds: set[int] = field(default_factory=set)
    # Dormant: it holds no taint, so its movements are not merged; its books
    # catch up (all clean money) when taint reaches it again. Seed accounts
    # never sleep: their seeds need their books current.
    dormant: bool = False
    may_sleep: bool = True


def _seed_parcel(parcel: Parcel, amount: int, index: int) -> tuple[Parcel, int]:
    """The first `amount` clean units of the parcel retagged as seed index; and how many."""
    out: Parcel = []
    left = amount
    for seg_amount, seg_index in parcel:
        if left and seg_index == CLEAN:
            take = min(left, seg_amount)
            left -= take
            out.append((take, index))
            if seg_amount > take:
                out.append((seg_amount - take, CLEAN))
        else:
            out.append((seg_amount, seg_index))
    return out, amount - left


class _Trace:
    """One run of the engine (not reusable)."""

    def __init__(self, source: MovementSource, case: TraceCase) -> None:
        self.source = source
        self.case = case
        lim = case.limits
        self.lo = lim.from_height
        self.hi = min(lim.to_height, source.top_height())
        self.tracks: dict[bytes, _Track] = {}
        self.followed = 0
        self.events = 0
        self.exhausted = False  # the events budget ran out; nothing more is loaded
        self.heap: list[tuple[Order, bytes]] = []
        self.edges: list[TraceEdge] = []
        self.cut: dict[str, list[int]] = {}  # limit -> [accounts, taint]
        self.cut_by: dict[bytes, str] = {}
        self.seeded = [0] * len(case.seeds)
        self.last: Order | None = None  # the last movement processed

    # -- loading ---------------------------------------------------------
    def _load(self, account: bytes, from_height: int) -> list[Movement] | None:
        """The account's movements from from_height to the snapshot, within the budget."""
        if self.exhausted:
            return None
        budget = self.case.limits.events_max - self.events
        stream = self.source.movements_of(account, from_height, self.hi)
        movements = list(islice(stream, budget + 1))
        if len(movements) > budget:
            self.exhausted = True
            return None
        self.events += len(movements)
        return movements

    def _opened(self, account: bytes, at: Movement | None) -> tuple[int, list[Movement]] | None:
        """The balance just before `at` (None: the window's start) and the movements from
        there (those before `at` in its height included); None when the budget ran out.

        Only what follows the taint's arrival is read: the balance comes from the
        balances the movements record. Where they are unrecorded, the whole history
        is read and the balance inferred (history.window).
        """
        if at is None:
            movements = self._load(account, self.lo)
            if movements is None:
                return None
            balance, looked_back = balance_at_start(self.source, account, self.lo, movements)
            self.events += looked_back
            if balance != UNKNOWN:
                return balance, movements
        else:
            balance = balance_before(account, at)
            if balance != UNKNOWN:
                movements = self._load(account, at.height)
                return None if movements is None else (balance, movements)
        loaded = self._load(account, 0)
        if loaded is None:
            return None
        balance, movements = window(account, loaded, self.lo)
        cursor = 0
        while at is not None and cursor < len(movements) and movements[cursor].order < at.order:
            balance += delta(account, movements[cursor])
            cursor += 1
        return balance, movements[cursor:]

    def _follow(
        self, account: bytes, hop: int, at: Movement | None, may_sleep: bool = True
    ) -> _Track | None:
        """Open the account's books just before `at` (None: the window's start).

        The movement `at` itself is the caller's to apply.
        """
        opened = self._opened(account, at)
        if opened is None:
            return None
        balance, movements = opened
        cursor = 0
        while at is not None and cursor < len(movements) and movements[cursor].order <= at.order:
            cursor += 1  # before `at` in its height: already in the balance; `at`: the caller's
        track = _Track(hop, open_book(self.case.policy, balance), movements, cursor)
        track.may_sleep = may_sleep
        self.tracks[account] = track
        self.followed += 1
        self._advance(account, track)
        return track

    def _stop(self, account: bytes, hop: int, limit: str) -> _Track:
        track = _Track(hop, None)
        self.tracks[account] = track
        self.cut_by[account] = limit
        self.cut.setdefault(limit, [0, 0])[0] += 1
        return track

    def _advance(self, account: bytes, track: _Track) -> None:
        """Skip movements already processed; queue the next one (none while taint-free).

        A busy account the taint passes through would otherwise have every
        later movement merged and booked for nothing.
        """
        while track.cursor < len(track.movements) and self._done(track.movements[track.cursor]):
            track.cursor += 1
        if track.may_sleep and track.book is not None and not track.book.tainted():
            track.dormant = True  # the cursor is at its first movement not yet booked
            return
        if track.cursor < len(track.movements):
            heapq.heappush(self.heap, (track.movements[track.cursor].order, account))

    def _wake(self, account: bytes, track: _Track, at: Movement) -> None:
        """Bring a dormant account's books to just before `at` (all clean money), then
        queue its movements after `at` again: taint is about to arrive."""
        book = track.book
        assert book is not None and track.dormant
        movements = track.movements
        while track.cursor < len(movements) and movements[track.cursor].order < at.order:
            m = movements[track.cursor]
            if m.src == account:
                book.debit(m.amount)
            if m.dst == account:
                book.credit([(m.amount, CLEAN)])
            track.cursor += 1
        if track.cursor < len(movements) and movements[track.cursor].order == at.order:
            track.cursor += 1  # `at` itself is the caller's to apply
        track.dormant = False
        if track.cursor < len(movements):
            heapq.heappush(self.heap, (movements[track.cursor].order, account))

    def _done(self, m: Movement) -> bool:
        return self.last is not None and m.order <= self.last

    # -- running ---------------------------------------------------------
    def run(self) -> None:
        """Process every movement of every followed account, in final order."""
        for account in sorted({s.account for s in self.case.seeds}):
            if self._follow(account, 0, None, may_sleep=False) is None:
                self._stop(account, 0, "events")
        pending = sorted(
            (max(s.height, self.lo), i) for i, s in enumerate(self.case.seeds) if not s.tx_id
        )
        while self.heap:
            order, account = heapq.heappop(self.heap)
            track = self.tracks[account]
            m = track.movements[track.cursor]
            if self.last is not None and order <= self.last:
                self._advance(account, track)
                continue
            while pending and pending[0][0] <= m.height:
                self._seed_height(pending.pop(0)[1])
            self._process(m)
            self.last = order
            self._advance(account, track)
        for _, index in pending:
            self._seed_height(index)

    def _seed_height(self, index: int) -> None:
        seed = self.case.seeds[index]
        track = self.tracks[seed.account]
        if track.book is not None:
            self.seeded[index] += track.book.taint_newest(seed.amount - self.seeded[index], index)
            if self.seeded[index]:
                track.seeds.add(index)

    def _seed_tx(self, m: Movement, parcel: Parcel) -> Parcel:
        for index, seed in enumerate(self.case.seeds):
            if seed.tx_id == m.tx_id and seed.account == m.dst and self._is_open(seed):
                parcel, done = _seed_parcel(parcel, seed.amount - self.seeded[index], index)
                self.seeded[index] += done
        return parcel

    def _is_open(self, seed: Seed) -> bool:
        return self.tracks[seed.account].book is not None

    def _process(self, m: Movement) -> None:
        src = self.tracks.get(m.src)
        parcel: Parcel = [(m.amount, CLEAN)]
        if src is not None and src.book is not None and not src.dormant:
            parcel = src.book.debit(m.amount)  # (a dormant sender's books catch up on waking)
        parcel = self._seed_tx(m, parcel)
        tainted = min(m.amount, parcel_taint(parcel))
        dst = self.tracks.get(m.dst)
        if dst is None and tainted:
            dst = self._reach(m, src.hop + 1 if src is not None else 0)
        if dst is not None and dst.dormant:
            if not tainted:
                return  # clean money into a sleeping account: its waking books it
            self._wake(m.dst, dst, m)
        if dst is not None:
            dst.seeds.update(index for _, index in parcel if index != CLEAN)
            if dst.book is not None:
                dst.book.credit(parcel)
            else:
                dst.received += tainted
                self.cut[self.cut_by[m.dst]][1] += tainted
        if tainted:
            self.edges.append(
                TraceEdge(m.height, m.position, m.seq, m.tx_id, m.src, m.dst, m.amount, tainted)
            )

    def _reach(self, m: Movement, hop: int) -> _Track:
        """Taint reached a new account: follow it if the limits allow."""
        lim = self.case.limits
        if hop > lim.hops_max:
            return self._stop(m.dst, hop, "hops")
        if self.followed >= lim.accounts_max:
            return self._stop(m.dst, hop, "accounts")
        track = self._follow(m.dst, hop, m)
        return track if track is not None else self._stop(m.dst, hop, "events")

    # -- the answer ------------------------------------------------------
    def result(self, state_hash: bytes) -> TraceResult:
        """Nodes sorted by account, edges in final order, totals, truncations; sealed."""
        labels = [s.label for s in self.case.seeds]
        nodes = []
        for account in sorted(self.tracks):
            t = self.tracks[account]
            if t.book is not None:
                held, cap = sum(t.book.tainted().values()), t.book.cap()
                seeds = t.seeds | set(t.book.tainted())
            else:
                held, cap, seeds = t.received, 0, t.seeds
            names = tuple(sorted({labels[i] for i in seeds}))
            nodes.append(TraceNode(account, t.hop, held, cap, t.book is not None, names))
        return assemble(
            self.case, self.hi, state_hash, self.seeded, nodes, self.edges, self.events, self.cut
        )


def trace(source: MovementSource, case: TraceCase, state_hash: bytes = b"") -> TraceResult:
    """Follow the case's seeds through the source's movements; raise TraceError on a bad case."""
    check_case(case)
    if case.direction == Direction.BACKWARD:
        return trace_backward(source, case, state_hash)
    run = _Trace(source, case)
    run.run()
    return run.result(state_hash)

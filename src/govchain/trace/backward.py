"""Backward tracing (where did it come from), under first in, first out.

The seed's units are numbered in the account's FIFO order (history.History);
each unit interval maps to the credits that brought those units, and each
credit's units map to the sender's departure interval for that movement, and
so on back. Movements are processed in reverse final order, so an account's
hop is fixed by the latest movement that reaches it. Taint that reaches an
account's opening balance (anything older than the window, or genesis when
the source does not serve it) ends there: that is the account's `tainted` in
a backward result. Served genesis balances (trace/genesis.py) end at GENESIS,
which is never followed: its history is just every genesis balance.
"""

from __future__ import annotations

import heapq
from itertools import islice

from govchain.trace.case import Policy, TraceCase, TraceError
from govchain.trace.history import History, balance_at_start, window
from govchain.trace.movements import GENESIS, UNKNOWN, Movement, MovementSource
from govchain.trace.result import TraceEdge, TraceNode, TraceResult, assemble

Order = tuple[int, int, int]
Item = tuple[int, int, int, int]  # (movement index in the receiver's history, seed, first, end)


class _Back:
    """One backward run (not reusable)."""

    def __init__(self, source: MovementSource, case: TraceCase) -> None:
        self.source = source
        self.case = case
        self.lo = case.limits.from_height
        self.hi = min(case.limits.to_height, source.top_height())
        self.hist: dict[bytes, History] = {}
        self.index: dict[bytes, dict[Order, int]] = {}
        self.hop: dict[bytes, int] = {}
        self.origin: dict[bytes, int] = {}
        self.received: dict[bytes, int] = {}
        self.reached: dict[bytes, set[int]] = {}
        self.cut: dict[str, list[int]] = {}
        self.cut_by: dict[bytes, str] = {}
        self.events = 0
        self.exhausted = False
        self.pending: dict[Order, tuple[bytes, list[Item]]] = {}
        self.heap: list[tuple[int, int, int]] = []  # negated orders: latest first
        self.edges: dict[Order, tuple[Movement, int]] = {}
        self.seeded = [0] * len(case.seeds)

    def _follow(self, account: bytes, hop: int, upto: int | None = None) -> bool:
        """Read the account's window, up to height upto (None: the snapshot).

        A seed account is read to the snapshot; any other is reached through a
        debit at upto, and only that debit and earlier ones are ever traced
        back through it (credits are processed latest first).
        """
        self.hop[account] = hop
        self.reached.setdefault(account, set())
        if account == GENESIS:
            # Where every genesis balance came from: the trail ends here. Its
            # history is every genesis balance, which tells nothing more.
            self.received[account] = 0
            return False
        opened = self._opened(account, self.hi if upto is None else upto)
        if opened is None:
            self._stop(account, "events")
            return False
        opening, movements = opened
        self.hist[account] = History(account, movements, opening)
        self.index[account] = {m.order: i for i, m in enumerate(movements)}
        self.origin[account] = 0
        return True

    def _load(self, account: bytes, lo: int, hi: int) -> list[Movement] | None:
        """The account's movements in lo..hi, within the events budget (None: over it)."""
        if self.exhausted:
            return None
        budget = self.case.limits.events_max - self.events
        loaded = list(islice(self.source.movements_of(account, lo, hi), budget + 1))
        if len(loaded) > budget:
            self.exhausted = True
            return None
        self.events += len(loaded)
        return loaded

    def _opened(self, account: bytes, upto: int) -> tuple[int, list[Movement]] | None:
        """The balance at the window's start (FIFO's opening lot) and the window's
        movements up to height upto; None when the budget ran out.

        The opening comes from the balances the movements record; where they are
        unrecorded, the whole history to the snapshot is read and the opening
        inferred (history.window), as FIFO order at the window's start depends
        on everything before it.
        """
        movements = self._load(account, self.lo, upto)
        if movements is None:
            return None
        opening, looked_back = balance_at_start(self.source, account, self.lo, movements)
        self.events += looked_back
        if opening != UNKNOWN:
            return opening, movements
        loaded = self._load(account, 0, self.hi)
        return None if loaded is None else window(account, loaded, self.lo)

    def _stop(self, account: bytes, limit: str) -> None:
        self.received[account] = 0
        self.cut_by[account] = limit
        self.cut.setdefault(limit, [0, 0])[0] += 1

    def _edge(self, m: Movement, units: int) -> None:
        _, before = self.edges.get(m.order, (m, 0))
        self.edges[m.order] = (m, before + units)

    def _attribute(self, account: bytes, seed: int, start: int, end: int) -> None:
        """Units [start, end) of the account, traced to where they came from."""
        hist = self.hist[account]
        opening, parts = hist.sources(start, end)
        self.origin[account] += opening
        for i, first, last in parts:
            order = hist.movements[i].order
            if order not in self.pending:
                self.pending[order] = (account, [])
                heapq.heappush(self.heap, (-order[0], -order[1], -order[2]))
            self.pending[order][1].append((i, seed, first, last))

    def _seed(self, index: int) -> None:
        seed = self.case.seeds[index]
        hist = self.hist.get(seed.account)
        if hist is None:
            return
        if seed.tx_id:
            left = seed.amount
            for i, m in enumerate(hist.movements):
                if left and m.tx_id == seed.tx_id and m.src == seed.account:
                    take = min(left, m.amount)
                    start = hist.departure[i]
                    self._edge(m, take)
                    self._attribute(seed.account, index, start, start + take)
                    self.seeded[index] += take
                    left -= take
        else:
            height = self.hi if seed.height == -1 else seed.height
            start, end = hist.units_at_end_of(height)
            take = min(seed.amount, end - start)
            self._attribute(seed.account, index, start, start + take)
            self.seeded[index] += take
        if self.seeded[index]:
            self.reached[seed.account].add(index)

    def run(self) -> None:
        """Seed, then walk back through the credits, latest first."""
        for account in sorted({s.account for s in self.case.seeds}):
            self._follow(account, 0)
        for index in range(len(self.case.seeds)):
            self._seed(index)
        lim = self.case.limits
        while self.heap:
            negated = heapq.heappop(self.heap)
            dst, items = self.pending.pop((-negated[0], -negated[1], -negated[2]))
            m = self.hist[dst].movements[items[0][0]]
            units = sum(last - first for _, _, first, last in items)
            self._edge(m, units)
            src = m.src
            if src not in self.hop:
                hop = self.hop[dst] + 1
                if hop > lim.hops_max:
                    self.hop[src] = hop
                    self._stop(src, "hops")
                elif len(self.hist) >= lim.accounts_max:
                    self.hop[src] = hop
                    self._stop(src, "accounts")
                else:
                    self._follow(src, hop, m.height)
                self.reached.setdefault(src, set())
            self.reached[src].update(seed for _, seed, _, _ in items)
            if src in self.hist:
                start = self.hist[src].departure[self.index[src][m.order]]
                for _, seed, first, last in items:
                    self._attribute(src, seed, start + first, start + last)
            else:
                self.received[src] += units
                if src in self.cut_by:  # (GENESIS is an end, not a cut)
                    self.cut[self.cut_by[src]][1] += units

    def result(self, state_hash: bytes) -> TraceResult:
        """Nodes sorted by account (tainted: taint that ends there), edges in final order."""
        labels = [s.label for s in self.case.seeds]
        nodes = []
        for account in sorted(self.hop):
            followed = account in self.hist
            held = self.origin[account] if followed else self.received[account]
            followed = followed or account == GENESIS  # an end, not a cut
            names = tuple(sorted({labels[i] for i in self.reached[account]}))
            nodes.append(TraceNode(account, self.hop[account], held, 0, followed, names))
        edges = [
            TraceEdge(
                m.height, m.position, m.seq, m.tx_id, m.src, m.dst, m.amount, min(m.amount, u)
            )
            for _, (m, u) in sorted(self.edges.items())
        ]
        return assemble(
            self.case, self.hi, state_hash, self.seeded, nodes, edges, self.events, self.cut
        )


def trace_backward(source: MovementSource, case: TraceCase, state_hash: bytes) -> TraceResult:
    """Where the seeds' money came from (FIFO and LIBR follow the same lots backward)."""
    if case.policy not in (Policy.FIFO, Policy.LIBR):
        raise TraceError(f"backward tracing supports fifo and libr, not {case.policy}")
    run = _Back(source, case)
    run.run()
    return run.result(state_hash)

"""A plain, slow reference trace: one list entry per unit of money, every account, every movement.

It reads the whole history in final order, keeps every account's balance, and
for each followed account a list of unit tags (a seed index, or CLEAN). It
shares no code with the engine beyond the result records and the case; the
events limit is not modelled (property tests leave it unreached).
"""

from __future__ import annotations

from govchain.trace.case import Policy, TraceCase
from govchain.trace.memory import MemorySource
from govchain.trace.movements import Movement
from govchain.trace.result import TraceEdge, TraceNode, TraceResult, assemble

CLEAN = -1


class RefAccount:
    def __init__(self, hop: int, followed: bool, balance: int) -> None:
        self.hop = hop
        self.followed = followed
        self.units = [CLEAN] * balance  # fifo/libr: unit tags, oldest first
        self.balance = balance
        self.share: dict[int, int] = {}  # haircut
        self.poison: set[int] = set()
        self.low: int | None = None  # libr
        self.received = 0
        self.seeds: set[int] = set()

    def taint(self, policy: str) -> dict[int, int]:
        out: dict[int, int] = {}
        if policy in (Policy.FIFO, Policy.LIBR):
            for u in self.units:
                if u != CLEAN:
                    out[u] = out.get(u, 0) + 1
        elif policy == Policy.HAIRCUT:
            out = {i: t for i, t in self.share.items() if t}
        elif self.poison and self.balance:
            out = {min(self.poison): self.balance}
        return out

    def watch_low(self) -> None:
        if all(u == CLEAN for u in self.units):
            self.low = None
        elif self.low is None:
            self.low = len(self.units)
        else:
            self.low = min(self.low, len(self.units))


def balances_at(movements: list[Movement], lo: int, hi: int) -> dict[bytes, int]:
    """Every account's balance at the start of height lo: the least opening balances
    that keep the history up to hi non-negative, moved by everything before lo."""
    running: dict[bytes, int] = {}
    opening: dict[bytes, int] = {}
    for m in movements:
        if m.height > hi:
            break
        running[m.src] = running.get(m.src, 0) - m.amount
        opening[m.src] = max(opening.get(m.src, 0), -running[m.src])
        running[m.dst] = running.get(m.dst, 0) + m.amount
        opening[m.dst] = max(opening.get(m.dst, 0), -running[m.dst])
    out = dict(opening)
    for m in movements:
        if m.height >= lo:
            break
        out[m.src] -= m.amount
        out[m.dst] += m.amount
    return out


def reference_trace(source: MemorySource, case: TraceCase) -> TraceResult:
    lim = case.limits
    policy = case.policy
    lo, hi = lim.from_height, min(lim.to_height, source.top_height())
    history = [m for m in source.movements if lo <= m.height <= hi]

    def delta(a: bytes, m: Movement) -> int:
        return (m.amount if m.dst == a else 0) - (m.amount if m.src == a else 0)

    balance = balances_at(source.movements, lo, hi)
    for seed in case.seeds:
        balance.setdefault(seed.account, 0)

    accounts: dict[bytes, RefAccount] = {}
    cut: dict[str, list[int]] = {}
    cut_by: dict[bytes, str] = {}
    for s in sorted({s.account for s in case.seeds}):
        accounts[s] = RefAccount(0, True, balance[s])
    seeded = [0] * len(case.seeds)
    edges: list[TraceEdge] = []

    def seed_height(i: int) -> None:
        seed = case.seeds[i]
        acc = accounts[seed.account]
        want = seed.amount - seeded[i]
        if policy in (Policy.FIFO, Policy.LIBR):
            for k in range(len(acc.units) - 1, -1, -1):
                if want and acc.units[k] == CLEAN:
                    acc.units[k] = i
                    want -= 1
                    seeded[i] += 1
            if policy == Policy.LIBR:
                acc.watch_low()
        elif policy == Policy.HAIRCUT:
            done = min(want, acc.balance - sum(acc.share.values()))
            if done:
                acc.share[i] = acc.share.get(i, 0) + done
            seeded[i] += done
        else:
            done = min(want, acc.balance)
            if done:
                acc.poison.add(i)
            seeded[i] += done
        if seeded[i]:
            acc.seeds.add(i)

    pending = sorted((max(s.height, lo), i) for i, s in enumerate(case.seeds) if not s.tx_id)
    for m in history:
        while pending and pending[0][0] <= m.height:
            seed_height(pending.pop(0)[1])
        src = accounts.get(m.src)
        # the units this movement carries, as tags
        if src is not None and src.followed:
            if policy in (Policy.FIFO, Policy.LIBR):
                parcel = src.units[: m.amount]
                del src.units[: m.amount]
                if policy == Policy.LIBR:
                    src.watch_low()
            elif policy == Policy.HAIRCUT:
                parts: dict[int, int] = {}
                for i in sorted(src.share):
                    parts[i] = src.share[i] * m.amount // src.balance
                    src.share[i] -= parts[i]
                # remainders beyond the balance left go too, lowest seed first
                excess = sum(src.share.values()) - (src.balance - m.amount)
                for i in sorted(src.share):
                    take = max(0, min(excess, src.share[i]))
                    src.share[i] -= take
                    parts[i] += take
                    excess -= take
                parcel = [i for i in sorted(parts) for _ in range(parts[i])]
                parcel += [CLEAN] * (m.amount - len(parcel))
            else:
                tag = min(src.poison) if src.poison else CLEAN
                parcel = [tag] * m.amount
            src.balance -= m.amount
        else:
            parcel = [CLEAN] * m.amount
        for i, seed in enumerate(case.seeds):
            acc = accounts.get(seed.account)
            if seed.tx_id == m.tx_id and seed.account == m.dst and acc and acc.followed:
                for k in range(len(parcel)):
                    if seeded[i] < seed.amount and parcel[k] == CLEAN:
                        parcel[k] = i
                        seeded[i] += 1
        tainted = sum(1 for u in parcel if u != CLEAN)
        dst = accounts.get(m.dst)
        if dst is None and tainted:
            hop = src.hop + 1 if src is not None else 0
            limit = None
            if hop > lim.hops_max:
                limit = "hops"
            elif sum(1 for a in accounts.values() if a.followed) >= lim.accounts_max:
                limit = "accounts"
            if limit is None:
                dst = RefAccount(hop, True, balance[m.dst])
            else:
                dst = RefAccount(hop, False, 0)
                cut_by[m.dst] = limit
                cut.setdefault(limit, [0, 0])[0] += 1
            accounts[m.dst] = dst
        if dst is not None:
            dst.seeds.update(u for u in parcel if u != CLEAN)
            if dst.followed:
                dst.balance += m.amount
                if policy in (Policy.FIFO, Policy.LIBR):
                    dst.units += parcel
                    if policy == Policy.LIBR:
                        dst.watch_low()
                elif policy == Policy.HAIRCUT:
                    for u in parcel:
                        if u != CLEAN:
                            dst.share[u] = dst.share.get(u, 0) + 1
                else:
                    dst.poison.update(u for u in parcel if u != CLEAN)
            else:
                dst.received += tainted
                cut[cut_by[m.dst]][1] += tainted
        for a in {m.src, m.dst}:
            balance[a] = balance.get(a, 0) + delta(a, m)
        if tainted:
            edges.append(
                TraceEdge(m.height, m.position, m.seq, m.tx_id, m.src, m.dst, m.amount, tainted)
            )
    for _, i in pending:
        seed_height(i)

    labels = [s.label for s in case.seeds]
    nodes = []
    for a in sorted(accounts):
        acc = accounts[a]
        if acc.followed:
            taint = acc.taint(policy)
            held = sum(taint.values())
            if policy == Policy.FIFO:
                cap = held
            elif policy == Policy.LIBR:
                cap = held if acc.low is None else min(held, acc.low)
            else:
                cap = 0
            seeds = acc.seeds | set(taint)
        else:
            held, cap, seeds = acc.received, 0, acc.seeds
        names = tuple(sorted({labels[i] for i in seeds}))
        nodes.append(TraceNode(a, acc.hop, held, cap, acc.followed, names))
    # The engine's own assembly: what the reference checks is the tracing.
    return assemble(case, hi, b"", seeded, nodes, edges, 0, cut)


Tag = tuple[str, bytes, int, int]  # ("open", account, unit, 0) or ("in", b"", movement, offset)


def reference_backward(source: MemorySource, case: TraceCase) -> TraceResult:
    """Backward FIFO, unit by unit: every unit carries the tag of how it arrived."""
    lim = case.limits
    lo, hi = lim.from_height, min(lim.to_height, source.top_height())
    history = [m for m in source.movements if lo <= m.height <= hi]
    at_lo = balances_at(source.movements, lo, hi)

    def opening(a: bytes) -> int:
        return at_lo.get(a, 0)

    def simulate(a: bytes, upto: int) -> tuple[list[Tag], dict[int, list[Tag]]]:
        """A's queue after every movement up to height `upto`, and the tags each debit took."""
        queue: list[Tag] = [("open", a, k, 0) for k in range(opening(a))]
        taken: dict[int, list[Tag]] = {}
        for i, m in enumerate(history):
            if m.height > upto:
                break
            if m.src == a:
                taken[i] = queue[: m.amount]
                del queue[: m.amount]
            if m.dst == a:
                queue += [("in", b"", i, o) for o in range(m.amount)]
        return queue, taken

    outtags: dict[int, list[Tag]] = {}
    for a in {m.src for m in history}:
        outtags.update(simulate(a, hi)[1])

    traced: dict[tuple[Tag, int], int] = {}
    edge: dict[int, int] = {}
    seeded = [0] * len(case.seeds)
    hop: dict[bytes, int] = {}
    followed: set[bytes] = set()
    reached: dict[bytes, set[int]] = {}
    received: dict[bytes, int] = {}
    cut: dict[str, list[int]] = {}
    cut_by: dict[bytes, str] = {}
    for a in sorted({s.account for s in case.seeds}):
        hop[a] = 0
        followed.add(a)
        reached[a] = set()

    def mark(tags: list[Tag], seed: int) -> None:
        for tag in tags:
            traced[(tag, seed)] = traced.get((tag, seed), 0) + 1

    for idx, seed in enumerate(case.seeds):
        if seed.tx_id:
            for i, m in enumerate(history):
                if m.tx_id == seed.tx_id and m.src == seed.account:
                    take = min(seed.amount - seeded[idx], m.amount)
                    if take:
                        mark(outtags[i][:take], idx)
                        edge[i] = edge.get(i, 0) + take
                        seeded[idx] += take
        else:
            queue, _ = simulate(seed.account, hi if seed.height == -1 else seed.height)
            take = min(seed.amount, len(queue))
            mark(queue[:take], idx)
            seeded[idx] += take
        if seeded[idx]:
            reached[seed.account].add(idx)

    for i in range(len(history) - 1, -1, -1):
        m = history[i]
        units: list[tuple[int, int, int]] = []  # (offset, seed, count)
        for o in range(m.amount):
            for s in range(len(case.seeds)):
                count = traced.get((("in", b"", i, o), s), 0)
                if count:
                    units.append((o, s, count))
        total = sum(c for _, _, c in units)
        if not total:
            continue
        edge[i] = edge.get(i, 0) + total
        src = m.src
        if src not in hop:
            hop[src] = hop[m.dst] + 1
            reached[src] = set()
            if hop[src] > lim.hops_max:
                limit = "hops"
            elif len(followed) >= lim.accounts_max:
                limit = "accounts"
            else:
                limit = ""
                followed.add(src)
            if limit:
                cut_by[src] = limit
                received[src] = 0
                cut.setdefault(limit, [0, 0])[0] += 1
        reached[src].update(s for _, s, _ in units)
        if src in followed:
            for o, s, count in units:
                tag = outtags[i][o]
                traced[(tag, s)] = traced.get((tag, s), 0) + count
        else:
            received[src] += total
            cut[cut_by[src]][1] += total

    origin: dict[bytes, int] = {}
    for (tag, _), count in traced.items():
        if tag[0] == "open":
            origin[tag[1]] = origin.get(tag[1], 0) + count
    labels = [s.label for s in case.seeds]
    nodes = []
    for a in sorted(hop):
        held = origin.get(a, 0) if a in followed else received[a]
        names = tuple(sorted({labels[s] for s in reached[a]}))
        nodes.append(TraceNode(a, hop[a], held, 0, a in followed, names))
    edges = [
        TraceEdge(m.height, m.position, m.seq, m.tx_id, m.src, m.dst, m.amount, min(m.amount, n))
        for i, n in sorted(edge.items())
        for m in [history[i]]
    ]
    # The engine's own assembly: what the reference checks is the tracing.
    return assemble(case, hi, b"", seeded, nodes, edges, 0, cut)

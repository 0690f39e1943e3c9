"""Fund tracing at scale: a million transfers through the SQLite index, and 6-hop traces over it.

Builds --transfers transfers among --accounts accounts (deterministic for --seed)
and commits them into a fresh SQLite store through SqliteStore.commit, one
checkpoint of up to 2,000 transfers at a time: per transfer a well-formed
transaction (its id and payload hash check out; the signature is a placeholder,
the store does not verify signatures), its receipt and its movement, as a
replica commits an executed checkpoint. The same checkpoints with their
movements stripped (the store before the index) go into a second store,
alternating commit by commit, for what the index costs.

The history: a genesis balance for every ordinary account; background
transfers whose senders and recipients follow a Zipf law over the accounts (a
few busy, exchange-like accounts, a long tail of quiet ones), each moving a
log-uniform fraction of the sender's balance; and, --cases times over, three
planted patterns on fresh accounts (no genesis balance, as an attacker's):
a peel chain (a ransom peeled hop by hop through 12 accounts, each peel to a
busy account), a smurf (one to 50 mules, the 50 to one collector) and a mix (a
tainted deposit and 10 clean ones into one account, then split in 20).

It reports the index's build rate, its bytes per transfer (dbstat), the
store's cold open, then the wall time of 6-hop traces as the node answers them
(a snapshot of the index wrapped with the genesis balances built once, per trace) from
about 50 seeds a set: forward (fifo and libr) from the planted deposits and
random credits of the history's first half, backward (fifo) from the planted
pay-outs and random debits of its second half; and a few poison traces, which
reach the 10,000-account limit. Each with the accounts it touched, the
movements it read and the share of its time spent reading them. Every trace
is checked (taint never exceeds the seed and is conserved; libr's caps are
within fifo's taint; a peel chain's hop-6 account is reached) and a broken
check is reported, never hidden. Peak RSS and the machine's load are printed.

    PYTHONPATH=src python bench/bench_trace.py [--quick] [--transfers N] [--accounts N]
        [--seed S] [--cases K] [--hops K] [--no-wide] [--profile] [--dir D --keep] [--json]
"""

from __future__ import annotations

import cProfile
import hashlib
import io
import os
import pstats
import resource
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from itertools import accumulate
from pathlib import Path
from random import Random
from typing import Any

from bench_storage import checkpoint_wal
from common import CHAIN_ID, Reporter, arg_parser, fmt_rate, machine_info, machine_line
from govchain.codec import digest, encode
from govchain.consensus.messages import Certificate, Checkpoint
from govchain.consensus.tendermint import HardState
from govchain.crypto.keys import address_of
from govchain.dag.tx import Transaction, TxBody, payload_hash, tx_id
from govchain.replica.execution import Execution
from govchain.replica.outputs import ReplicaReady
from govchain.state.audit import AUDIT_EMPTY
from govchain.state.ledger import Executed
from govchain.state.payloads import TransferPayload
from govchain.state.receipts import Receipt, Status, receipts_root
from govchain.storage.sqlite import SqliteStore
from govchain.trace.case import Direction, Limits, Policy, Seed, TraceCase
from govchain.trace.engine import trace
from govchain.trace.genesis import GenesisMovements, WithGenesis
from govchain.trace.movements import Movement, MovementKind, MovementSource, last_before
from govchain.trace.result import TraceResult

# -- sizes -------------------------------------------------------------------------
TRANSFERS_DEFAULT = 1_000_000
ACCOUNTS_DEFAULT = 100_000
QUICK_TRANSFERS = 50_000
QUICK_ACCOUNTS = 5_000
PER_HEIGHT_MAX = 2_000  # transfers a checkpoint
HEIGHTS_MIN = 100  # smaller runs use smaller checkpoints: the patterns must span heights
CASES_DEFAULT = 4  # each plants a peel chain, a smurf and a mix
SEEDS_PER_SET = 50  # traces a set: the planted ones, then random ones up to this
WIDE_STARTS = 8  # traces of the wide set (the first planted patterns' deposits)
HOPS = 6
TARGET_S = 1.0  # issue 13: a 6-hop trace touching up to 10,000 accounts, under 1 s
TARGET_ACCOUNTS = 10_000

# -- the background ----------------------------------------------------------------
ZIPF_EXPONENT = 0.8  # activity of the k-th busiest account ~ 1 / k^0.8
GENESIS_BALANCE = 1_000_000
FRACTION_LOG10_MIN = -2.0  # a payment moves 1% ...
FRACTION_LOG10_MAX = 0.0  # ... to all of the sender's balance, log-uniform
BUSY_RANKS = 20  # peels, smurfs and ransoms cash out at one of the busiest accounts
REDRAWS_MAX = 32  # redraws of an empty sender before any funded account is taken

# -- the planted patterns ----------------------------------------------------------
RANSOM = 50_000_000
PEEL_HOPS = 12  # accounts after the first: the chain is 13 accounts long
PEEL_PERCENT_MIN, PEEL_PERCENT_MAX = 2, 6
PEEL_GAP_MAX = 2  # heights between two hops (1 or 2)
FAN = 50
SMURF_SUM = 5_000_000
SMURF_SPREAD = 3  # the mules pay the collector over this many heights
DIRTY = 3_000_000
MIX_CLEAN = 10
MIX_OUTPUTS = 20
# Per case: victim, 13 chain accounts; smurf funder, source, 50 mules, collector;
# mix funder, tainted account, mixer.
RESERVED_PER_CASE = 1 + (PEEL_HOPS + 1) + 1 + 1 + FAN + 1 + 3
PLANT_SPAN_HEIGHTS = PEEL_GAP_MAX * PEEL_HOPS + 2  # the longest pattern, end to end
POOL_MIN = 2 * BUSY_RANKS + MIX_OUTPUTS + MIX_CLEAN  # ordinary accounts a run needs

PLACEHOLDER_SIGNATURE = bytes(64)
VALID_UNTIL = 2**31
ACCOUNT_LABEL = b"govchain/bench-trace/account"
PROFILE_LINES = 25

Transfer = tuple[int, int, int, str]  # (sender, recipient, amount, tag or "")
Step = Callable[[list[int]], list[Transfer]]  # balances -> transfers, evaluated in place


@dataclass(frozen=True)
class Tagged:
    """A transfer the traces start from, as the chain finalized it."""

    src: bytes
    dst: bytes
    amount: int
    tx_id: bytes
    height: int


@dataclass
class Plant:
    """One planted pattern: where its forward and backward traces start."""

    label: str
    kind: str  # "peel" | "smurf" | "mix"
    forward_tag: str  # the deposit into the pattern's first account
    backward_tag: str  # a pay-out from its last account
    chain_index: list[int] = field(default_factory=list)  # peel: the chain's accounts, in order
    chain: list[bytes] = field(default_factory=list)  # their addresses, once built


@dataclass
class Commits:
    """Wall time of each commit, and the CPU time of all."""

    wall: list[float] = field(default_factory=list)
    cpu: float = 0.0

    @property
    def total(self) -> float:
        """Wall seconds of every commit together."""
        return sum(self.wall)


@dataclass
class Built:
    """What the builder wrote and where the traces start."""

    path: Path
    baseline_path: Path | None
    transfers: int
    heights: int
    per_height: int
    accounts: int
    genesis: list[tuple[bytes, int]]
    plants: list[Plant]
    tagged: dict[str, Tagged]
    random_forward: list[str]
    random_backward: list[str]
    commit_with: Commits
    commit_without: Commits
    generate_s: float
    busiest: int  # movements of the busiest account


# -- the history ---------------------------------------------------------------------
class History:
    """Balances, the schedule of planted steps and the Zipf draws: transfers height by height."""

    def __init__(self, transfers: int, accounts: int, cases: int, seed: int) -> None:
        self.rng = Random(seed)
        self.transfers = transfers
        self.per_height = max(1, min(PER_HEIGHT_MAX, transfers // HEIGHTS_MIN))
        self.heights = -(-transfers // self.per_height)
        reserved = cases * RESERVED_PER_CASE
        if accounts - reserved < POOL_MIN:
            raise SystemExit(f"--accounts must be at least {reserved + POOL_MIN} for {cases} cases")
        if self.heights < PLANT_SPAN_HEIGHTS + 3:
            raise SystemExit(
                f"--transfers too small: the patterns need {PLANT_SPAN_HEIGHTS} heights"
            )
        self.accounts = accounts
        self.balance = [0] * accounts
        pool = list(range(reserved, accounts))
        self.rng.shuffle(pool)  # pool[k] is the k-th busiest
        self.pool = pool
        weights = [1.0 / (k + 1) ** ZIPF_EXPONENT for k in range(len(pool))]
        self.cum = list(accumulate(weights))
        for a in pool:
            self.balance[a] = GENESIS_BALANCE
        self.schedule: dict[int, list[Step]] = {}
        self.plants: list[Plant] = []
        for c in range(cases):
            self._plant_case(c, c * RESERVED_PER_CASE)
        self.random_forward: list[str] = []
        self.random_backward: list[str] = []
        self.sample_at: dict[int, list[tuple[int, str]]] = {}  # height -> (background index, tag)
        randoms = max(0, SEEDS_PER_SET - len(self.plants))
        half = self.heights // 2
        for k in range(randoms):
            self._sample(f"random-f{k}", self.rng.randint(1, half), self.random_forward)
            self._sample(
                f"random-b{k}", self.rng.randint(half + 1, self.heights), self.random_backward
            )
        self.genesis = [(a, b) for a, b in enumerate(self.balance) if b > 0]

    def _sample(self, tag: str, height: int, into: list[str]) -> None:
        self.sample_at.setdefault(height, []).append((self.rng.randrange(self.per_height), tag))
        into.append(tag)

    def _start(self) -> int:
        return self.rng.randint(2, self.heights - PLANT_SPAN_HEIGHTS - 1)

    def _at(self, height: int, step: Step) -> None:
        self.schedule.setdefault(height, []).append(step)

    def _busy(self) -> int:
        return self.pool[self.rng.randrange(BUSY_RANKS)]

    def _plant_case(self, c: int, base: int) -> None:
        victim, chain = base, list(range(base + 1, base + PEEL_HOPS + 2))
        funder, source = base + PEEL_HOPS + 2, base + PEEL_HOPS + 3
        mules = list(range(source + 1, source + 1 + FAN))
        collector = source + 1 + FAN
        dirty_funder, tainted, mixer = collector + 1, collector + 2, collector + 3
        assert mixer == base + RESERVED_PER_CASE - 1
        self.balance[victim], self.balance[funder] = RANSOM, SMURF_SUM
        self.balance[dirty_funder] = DIRTY
        self._plant_peel(c, victim, chain)
        self._plant_smurf(c, funder, source, mules, collector)
        self._plant_mix(c, dirty_funder, tainted, mixer)

    def _plant_peel(self, c: int, victim: int, chain: list[int]) -> None:
        h = self._start()
        self._at(h, lambda bal: [(victim, chain[0], RANSOM, f"peel{c}:in")])
        for i in range(PEEL_HOPS):
            h += self.rng.randint(1, PEEL_GAP_MAX)
            self._at(h, _peel_step(chain[i], chain[i + 1], self._busy(), self.rng))
        last, exchange = chain[-1], self._busy()
        self._at(h + 1, lambda bal: [(last, exchange, bal[last], f"peel{c}:out")])
        self.plants.append(Plant(f"peel{c}", "peel", f"peel{c}:in", f"peel{c}:out", chain))

    def _plant_smurf(self, c: int, funder: int, source: int, mules: list[int], to: int) -> None:
        h = self._start()
        self._at(h, lambda bal: [(funder, source, SMURF_SUM, f"smurf{c}:in")])

        def fan_out(bal: list[int]) -> list[Transfer]:
            share, total = bal[source] // FAN, bal[source]
            return [
                (source, m, share if i < FAN - 1 else total - share * (FAN - 1), "")
                for i, m in enumerate(mules)
            ]

        self._at(h + 1, fan_out)
        for k in range(SMURF_SPREAD):
            self._at(h + 2 + k, _collect(mules[k::SMURF_SPREAD], to))
        exchange = self._busy()
        self._at(h + 2 + SMURF_SPREAD, lambda bal: [(to, exchange, bal[to], f"smurf{c}:out")])
        self.plants.append(Plant(f"smurf{c}", "smurf", f"smurf{c}:in", f"smurf{c}:out"))

    def _plant_mix(self, c: int, funder: int, tainted: int, mixer: int) -> None:
        h = self._start()
        clean = self.rng.sample(self.pool[BUSY_RANKS:], MIX_CLEAN)
        outputs = self.rng.sample(self.pool, MIX_OUTPUTS)
        self._at(h, lambda bal: [(funder, tainted, DIRTY, f"mix{c}:in")])

        def mix_in(bal: list[int]) -> list[Transfer]:
            out: list[Transfer] = [(tainted, mixer, bal[tainted], "")]
            return out + [(p, mixer, bal[p] // 4, "") for p in clean if bal[p] // 4 > 0]

        def split(bal: list[int]) -> list[Transfer]:
            share, total = bal[mixer] // MIX_OUTPUTS, bal[mixer]
            last = total - share * (MIX_OUTPUTS - 1)
            return [
                (mixer, q, share if i < MIX_OUTPUTS - 1 else last, f"mix{c}:out" if i == 0 else "")
                for i, q in enumerate(outputs)
            ]

        self._at(h + 1, mix_in)
        self._at(h + 2, split)
        self.plants.append(Plant(f"mix{c}", "mix", f"mix{c}:in", f"mix{c}:out"))

    def height(self, h: int, done: int) -> list[Transfer]:
        """Height h's transfers in final order (done: transfers before it), balances applied."""
        rng, bal = self.rng, self.balance
        steps = self.schedule.get(h, [])
        target = self.transfers if h == self.heights else min(self.transfers, h * self.per_height)
        planted = 0  # steps are evaluated in place; their sizes are known only then
        background = max(0, target - done - sum(_step_size(s, bal) for s in steps))
        slots = sorted(rng.sample(range(background + len(steps)), len(steps)))
        senders = rng.choices(self.pool, cum_weights=self.cum, k=background)
        recipients = rng.choices(self.pool, cum_weights=self.cum, k=background)
        samples = dict(self.sample_at.get(h, []))
        wanted = {i % max(background, 1): tag for i, tag in samples.items()}
        out: list[Transfer] = []
        b = 0
        for slot in range(background + len(steps)):
            if planted < len(steps) and slot == slots[planted]:
                for src, dst, amount, tag in steps[planted](bal):
                    if amount > 0:
                        out.append(_apply(bal, src, dst, amount, tag))
                planted += 1
                continue
            s = self._funded(senders[b])
            r = recipients[b]
            while r == s:
                r = self.pool[rng.randrange(len(self.pool))]
            fraction = 10 ** rng.uniform(FRACTION_LOG10_MIN, FRACTION_LOG10_MAX)
            amount = max(1, int(bal[s] * fraction))
            out.append(_apply(bal, s, r, amount, wanted.get(b, "")))
            b += 1
        return out

    def _funded(self, s: int) -> int:
        """s, or a redrawn sender when s has nothing left."""
        for _ in range(REDRAWS_MAX):
            if self.balance[s] > 0:
                return s
            s = self.pool[self.rng.randrange(len(self.pool))]
        return next(a for a in self.pool if self.balance[a] > 0)


def _step_size(step: Step, bal: list[int]) -> int:
    """How many transfers a step would make now (steps only read the balances).

    An estimate: the step runs later in the height, after some background
    transfers; the last height, which has no steps, makes the total exact.
    """
    return sum(1 for t in step(bal) if t[2] > 0)


def _apply(bal: list[int], src: int, dst: int, amount: int, tag: str) -> Transfer:
    if not 0 < amount <= bal[src]:
        raise AssertionError(f"account {src} pays {amount} out of {bal[src]}")
    bal[src] -= amount
    bal[dst] += amount
    return (src, dst, amount, tag)


def _collect(mules: list[int], to: int) -> Step:
    def step(bal: list[int]) -> list[Transfer]:
        return [(m, to, bal[m], "") for m in mules]

    return step


def _peel_step(src: int, nxt: int, exchange: int, rng: Random) -> Step:
    percent = rng.randint(PEEL_PERCENT_MIN, PEEL_PERCENT_MAX)

    def step(bal: list[int]) -> list[Transfer]:
        peel = bal[src] * percent // 100
        return [(src, exchange, peel, ""), (src, nxt, bal[src] - peel, "")]

    return step


# -- the chain -----------------------------------------------------------------------
class Chain:
    """Turns a height's transfers into what a replica commits: decision, execution, vertices."""

    def __init__(self, accounts: int, seed: int, genesis: Sequence[tuple[int, int]] = ()) -> None:
        self.balance = [0] * accounts  # running balances: each movement records both ends'
        for a, b in genesis:
            self.balance[a] = b
        self.keys = [
            hashlib.sha256(ACCOUNT_LABEL + seed.to_bytes(8, "big") + i.to_bytes(8, "big")).digest()
            for i in range(accounts)
        ]  # stand-ins for public keys: 32 bytes each, never signed with
        self.addresses = [address_of(k) for k in self.keys]
        self.nonces = [0] * accounts
        self.previous = digest(b"govchain/bench-trace/genesis", seed.to_bytes(8, "big"))
        self.parent = self.previous
        self.state_hash = self.previous
        self.receipts_root = receipts_root([])

    def ready(self, h: int, transfers: list[Transfer]) -> tuple[ReplicaReady, list[bytes]]:
        """Height h as one commit, and each transfer's transaction id."""
        txs: list[Transaction] = []
        receipts: list[Receipt] = []
        movements = []
        kind = MovementKind.TRANSFER.value
        for i, (src, dst, amount, _) in enumerate(transfers):
            payload = encode(TransferPayload(self.addresses[dst], amount))
            body = TxBody(
                chain_id=CHAIN_ID,
                sender=self.keys[src],
                kind="transfer",
                nonce=self.nonces[src],
                parents=(self.parent,),
                valid_until=VALID_UNTIL,
                payload_hash=payload_hash(payload),
                payload_len=len(payload),
                stamp=0,
            )
            self.nonces[src] += 1
            body_bytes = encode(body)
            tid = tx_id(body_bytes, PLACEHOLDER_SIGNATURE)
            self.parent = tid
            txs.append(Transaction(tid, body, body_bytes, PLACEHOLDER_SIGNATURE, payload))
            receipts.append(Receipt(tid, h, i, Status.EXECUTED.value))
            src_a, dst_a = self.addresses[src], self.addresses[dst]
            bal = self.balance
            bal[src] -= amount
            bal[dst] += amount
            movements.append(Movement(h, i, 0, tid, src_a, dst_a, amount, kind, bal[src], bal[dst]))
        cp = Checkpoint(
            chain_id=CHAIN_ID,
            height=h,
            previous=self.previous,
            time_ms=h,
            tips=(self.parent,),
            state_hash=self.state_hash,
            receipts_root=self.receipts_root,
            audit_head=AUDIT_EMPTY,
            validator_set_hash=bytes(32),
        )
        # The store does not verify certificates: a placeholder signature will do.
        cert = Certificate(h, 0, cp.hash, ((0, PLACEHOLDER_SIGNATURE),))
        self.previous = cp.hash
        self.state_hash = digest(b"govchain/bench-trace/state", self.state_hash, cp.hash)
        self.receipts_root = receipts_root(receipts)
        result = Executed(
            h, receipts, self.receipts_root, self.state_hash, movements=tuple(movements)
        )
        ready = ReplicaReady(
            hard_state=HardState(h + 1, 0, 0),
            decided=[(cp, cert)],
            executed=[Execution(cp, tuple(txs), result)],
            admitted=txs,
        )
        return ready, [tx.id for tx in txs]


def stripped(ready: ReplicaReady) -> ReplicaReady:
    """The same commit without movements: what the store wrote before the index."""
    ex = [Execution(e.checkpoint, e.txs, replace(e.result, movements=())) for e in ready.executed]
    return replace(ready, executed=ex)


def _commit(store: SqliteStore, ready: ReplicaReady, into: Commits) -> None:
    w0, c0 = time.perf_counter(), time.process_time()
    store.commit(ready)
    into.wall.append(time.perf_counter() - w0)
    into.cpu += time.process_time() - c0


def build(
    directory: Path,
    transfers: int,
    accounts: int,
    seed: int,
    cases: int = CASES_DEFAULT,
    baseline: bool = True,
    progress: Callable[[str], None] | None = None,
) -> Built:
    """Write the history into directory/trace.db (and, with baseline, directory/baseline.db)."""
    t0 = time.perf_counter()
    history = History(transfers, accounts, cases, seed)
    chain = Chain(accounts, seed, history.genesis)
    path, baseline_path = directory / "trace.db", directory / "baseline.db"
    with_index, without = Commits(), Commits()
    tagged: dict[str, Tagged] = {}
    moves = [0] * accounts
    done = 0
    store = SqliteStore(path)
    plain = SqliteStore(baseline_path) if baseline else None
    try:
        for h in range(1, history.heights + 1):
            height = history.height(h, done)
            ready, ids = chain.ready(h, height)
            done += len(height)
            for (src, dst, amount, tag), tid in zip(height, ids, strict=True):
                moves[src] += 1
                moves[dst] += 1
                if tag:
                    a = chain.addresses
                    tagged[tag] = Tagged(a[src], a[dst], amount, tid, h)
            # Alternate which store goes first, so neither always finds the caches cold.
            order = [(store, ready, with_index)]
            if plain is not None:
                pair = (plain, stripped(ready), without)
                order = [*order, pair] if h % 2 else [pair, *order]
            for target, r, timed in order:
                _commit(target, r, timed)
            if progress is not None and h % 50 == 0:
                progress(f"  height {h}/{history.heights}: {done:,} transfers")
    finally:
        store.close()
        if plain is not None:
            plain.close()
    checkpoint_wal(path)
    if baseline:
        checkpoint_wal(baseline_path)
    if done != transfers:
        raise AssertionError(f"built {done} transfers, not {transfers}")
    for plant in history.plants:
        plant.chain = [chain.addresses[i] for i in plant.chain_index]
    spent = time.perf_counter() - t0 - with_index.total - without.total
    return Built(
        path=path,
        baseline_path=baseline_path if baseline else None,
        transfers=done,
        heights=history.heights,
        per_height=history.per_height,
        accounts=accounts,
        genesis=[(chain.addresses[i], b) for i, b in history.genesis],
        plants=history.plants,
        tagged=tagged,
        random_forward=[t for t in history.random_forward if t in tagged],
        random_backward=[t for t in history.random_backward if t in tagged],
        commit_with=with_index,
        commit_without=without,
        generate_s=spent,
        busiest=max(moves),
    )


# -- the traces ----------------------------------------------------------------------
@dataclass
class Run:
    """One trace: what it was asked, what it took, what it found."""

    label: str
    direction: str
    policy: str
    amount: int
    wall_ms: float
    cpu_ms: float
    store_ms: float  # of wall_ms, reading the source
    genesis_ms: float  # of wall_ms, wrapping the snapshot with the genesis balances
    accounts: int  # nodes: every account the taint reached
    followed: int  # of those, the ones whose movements were read
    events: int  # movements read
    edges: int
    seeded: int
    truncated: list[str]
    root: str
    problems: list[str]


@dataclass(frozen=True)
class Start:
    """Where a trace starts: a seed and, for a planted chain, the account it must reach."""

    seed: Seed
    must_reach: bytes = b""  # a peel chain's account the trace must reach, or b"": none
    at_hop: int = 0  # ... and at which hop


def starts(built: Built, direction: str, hops: int) -> list[Start]:
    """The planted patterns' seeds first, then the random ones."""
    out: list[Start] = []
    forward = direction == Direction.FORWARD
    for p in built.plants:
        t = built.tagged[p.forward_tag if forward else p.backward_tag]
        account = t.dst if forward else t.src
        reach = b""
        if p.chain:  # the chain's account `hops` away (or its far end, when nearer)
            at = min(hops, PEEL_HOPS)
            reach = p.chain[at] if forward else p.chain[PEEL_HOPS - at]
        seed = Seed(account, t.amount, t.tx_id, label=p.label)
        out.append(Start(seed, reach, at) if reach else Start(seed))
    for tag in built.random_forward if forward else built.random_backward:
        t = built.tagged[tag]
        seed = Seed(t.dst if forward else t.src, t.amount, t.tx_id, label=tag)
        out.append(Start(seed))
    return out


def check(
    start: Start, result: TraceResult, policy: str, fifo: dict[bytes, int] | None
) -> list[str]:
    """What is wrong with the result (nothing, for a sound trace)."""
    s, problems = result.summary, []
    if s.seeded > start.seed.amount:
        problems.append(f"seeded {s.seeded} > seed {start.seed.amount}")
    conserved = s.tainted_followed + s.tainted_unfollowed == s.seeded
    if policy != Policy.POISON and not conserved:  # poison multiplies taint by design
        problems.append(
            f"taint not conserved: {s.tainted_followed} + {s.tainted_unfollowed} != {s.seeded}"
        )
    if start.must_reach:
        hop = {n.account: n.hop for n in result.nodes}.get(start.must_reach)
        if hop != start.at_hop:
            problems.append(f"the chain's hop-{start.at_hop} account reached at hop {hop}")
    if fifo is not None:
        over = [n for n in result.nodes if n.freezable_cap > fifo.get(n.account, 0)]
        if over:
            problems.append(f"{len(over)} libr caps above the fifo taint")
    return problems


@dataclass(frozen=True)
class TraceSet:
    """One set of traces: a direction, a policy and which starts."""

    name: str
    direction: str
    policy: str
    starts_max: int = SEEDS_PER_SET


SETS = (
    TraceSet("forward fifo", Direction.FORWARD, Policy.FIFO),
    TraceSet("forward libr", Direction.FORWARD, Policy.LIBR),
    TraceSet("backward fifo", Direction.BACKWARD, Policy.FIFO),
)
# Poison taints every payment out of a tainted account: the traces that reach the
# 10,000-account limit the target speaks of. A few: each reads ~1M movements.
WIDE = TraceSet("forward poison (wide)", Direction.FORWARD, Policy.POISON, WIDE_STARTS)


def run_set(
    store: SqliteStore,
    built: Built,
    plan: list[Start],
    ts: TraceSet,
    hops: int,
    fifo: dict[str, dict[bytes, int]] | None = None,
    keep: dict[str, dict[bytes, int]] | None = None,
) -> list[Run]:
    """Trace each start alone, as the node answers one request.

    The node's read path: a snapshot of the index (a read-only connection of
    its own, opened per trace and timed with it) with the genesis balances in
    front. fifo: fifo taint per label, which libr caps are checked against;
    keep: filled with each result's taint per account (for a later libr set).
    """
    runs = []
    genesis = GenesisMovements(built.genesis)  # the node builds it once (api/app.py)
    for start in plan:
        case = TraceCase((start.seed,), ts.direction, ts.policy, Limits(hops_max=hops))
        w0, c0 = time.perf_counter(), time.process_time()
        snap = store.movement_snapshot()
        try:
            g0 = time.perf_counter()
            source = WithGenesis(snap, genesis)  # as the node wraps it, per request
            genesis_s = time.perf_counter() - g0
            timed = TimedSource(source)
            result = trace(timed, case)
        finally:
            snap.close()
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        label = start.seed.label
        cut = fifo.get(label) if fifo is not None else None
        problems = check(start, result, ts.policy, cut)
        if keep is not None:
            keep[label] = {n.account: n.tainted for n in result.nodes}
        s = result.summary
        runs.append(
            Run(
                label=label,
                direction=ts.direction,
                policy=ts.policy,
                amount=start.seed.amount,
                wall_ms=wall * 1e3,
                cpu_ms=cpu * 1e3,
                store_ms=timed.wall * 1e3,
                genesis_ms=genesis_s * 1e3,
                accounts=s.accounts,
                followed=sum(1 for n in result.nodes if n.followed),
                events=s.events,
                edges=s.edges,
                seeded=s.seeded,
                truncated=[f"{t.limit}:{t.accounts}" for t in result.truncations],
                root=result.result_root.hex(),
                problems=problems,
            )
        )
    return runs


def run_all(
    store: SqliteStore,
    built: Built,
    hops: int,
    wide: bool = True,
    profiler: cProfile.Profile | None = None,
) -> dict[str, list[Run]]:
    """The sets of traces (the wide one too, if asked); the profiler watches every trace."""
    fifo: dict[str, dict[bytes, int]] = {}
    out: dict[str, list[Run]] = {}
    with _profiled(profiler):
        for ts in (*SETS, WIDE) if wide else SETS:
            plan = starts(built, ts.direction, hops)[: ts.starts_max]
            keep = fifo if ts is SETS[0] else None
            check_against = fifo if ts.policy == Policy.LIBR else None
            out[ts.name] = run_set(store, built, plan, ts, hops, check_against, keep)
    return out


@contextmanager
def _profiled(profiler: cProfile.Profile | None) -> Iterator[None]:
    if profiler is not None:
        profiler.enable()
    try:
        yield
    finally:
        if profiler is not None:
            profiler.disable()


class TimedSource:
    """The source it wraps, with the wall time its reads take (each account's list read whole)."""

    def __init__(self, source: MovementSource) -> None:
        self.source = source
        self.wall = 0.0

    def movements_of(self, account: bytes, from_height: int, to_height: int) -> Iterator[Movement]:
        """The wrapped source's movements, read in full and timed."""
        w0 = time.perf_counter()
        out = list(self.source.movements_of(account, from_height, to_height))
        self.wall += time.perf_counter() - w0
        return iter(out)

    def last_before(self, account: bytes, height: int) -> Movement | None:
        """The wrapped source's last movement of account below height, timed."""
        w0 = time.perf_counter()
        out = last_before(self.source, account, height)
        self.wall += time.perf_counter() - w0
        return out

    def top_height(self) -> int:
        """The wrapped source's top height."""
        return self.source.top_height()


# -- figures -------------------------------------------------------------------------
INDEX_TABLES = ("movements", "movement_accounts")


def table_bytes(path: Path) -> dict[str, int]:
    """Bytes of pages each index table holds (SQLite's dbstat, aggregated per table)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        marks = ",".join("?" * len(INDEX_TABLES))
        rows = conn.execute(
            f"SELECT name, pgsize FROM dbstat('main', 1) WHERE name IN ({marks})", INDEX_TABLES
        ).fetchall()
    finally:
        conn.close()
    return {str(name): int(size) for name, size in rows}


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of values, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summarize(runs: list[Run]) -> dict[str, Any]:
    """p50, p99 and max of a set's latencies, accounts touched and movements read."""
    out: dict[str, Any] = {"traces": len(runs)}
    for name in ("wall_ms", "cpu_ms", "genesis_ms", "accounts", "followed", "events"):
        values = [float(getattr(r, name)) for r in runs]
        out[name] = {
            "p50": percentile(values, 0.5),
            "p99": percentile(values, 0.99),
            "max": max(values),
        }
    in_scope = [r for r in runs if r.followed <= TARGET_ACCOUNTS]
    out["under_target"] = sum(1 for r in in_scope if r.wall_ms < TARGET_S * 1e3)
    out["in_scope"] = len(in_scope)
    out["truncated"] = sum(1 for r in runs if r.truncated)
    out["store_share"] = sum(r.store_ms for r in runs) / max(sum(r.wall_ms for r in runs), 1e-9)
    events = sum(r.events for r in runs)
    out["us_per_event"] = sum(r.wall_ms for r in runs) * 1e3 / max(events, 1)
    out["problems"] = [f"{r.label}: {p}" for r in runs for p in r.problems]
    return out


def peak_rss_mb() -> float:
    """This process's peak resident set size so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def roots_digest(sets: dict[str, list[Run]]) -> str:
    """One hash over every result_root, in order: equal across runs of one seed."""
    h = hashlib.sha256()
    for runs in sets.values():
        for r in runs:
            h.update(bytes.fromhex(r.root))
    return h.hexdigest()


def main() -> None:
    p = arg_parser(__doc__.splitlines()[0])
    p.add_argument("--transfers", type=int, help=f"default {TRANSFERS_DEFAULT:,} (quick 50,000)")
    p.add_argument("--accounts", type=int, help=f"default {ACCOUNTS_DEFAULT:,} (quick 5,000)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--cases", type=int, default=CASES_DEFAULT, help="planted pattern sets")
    p.add_argument("--hops", type=int, default=HOPS)
    p.add_argument("--profile", action="store_true", help="cProfile the traces (to stderr)")
    p.add_argument("--no-wide", action="store_true", help="skip the wide (poison) traces")
    p.add_argument("--dir", type=Path, help="where the stores go (default: a temp dir)")
    p.add_argument("--keep", action="store_true", help="keep the stores (to trace them again)")
    args = p.parse_args()
    n_tx = args.transfers or (QUICK_TRANSFERS if args.quick else TRANSFERS_DEFAULT)
    n_acc = args.accounts or (QUICK_ACCOUNTS if args.quick else ACCOUNTS_DEFAULT)
    out = Reporter(args.json)
    info = machine_info()
    directory = args.dir or Path(tempfile.mkdtemp(prefix="govchain-bench-trace-"))
    directory.mkdir(parents=True, exist_ok=True)
    out.progress(f"building {n_tx:,} transfers among {n_acc:,} accounts in {directory} ...")
    built = build(directory, n_tx, n_acc, args.seed, args.cases, progress=out.progress)
    size_with = built.path.stat().st_size
    assert built.baseline_path is not None
    size_without = built.baseline_path.stat().st_size
    tables = table_bytes(built.path)
    index_bytes = sum(tables.values())
    rss_build = peak_rss_mb()

    out.progress("opening the store afresh and tracing ...")
    w0 = time.perf_counter()
    store = SqliteStore(built.path)
    open_ms = (time.perf_counter() - w0) * 1e3
    profiler = cProfile.Profile() if args.profile else None
    try:
        sets = run_all(store, built, args.hops, not args.no_wide, profiler)
    finally:
        store.close()
    load_end = os.getloadavg()[0]
    w, wo = built.commit_with, built.commit_without
    summaries = {name: summarize(runs) for name, runs in sets.items()}
    result: dict[str, Any] = {
        "bench": "trace",
        "quick": args.quick,
        "machine": info,
        "loadavg_1m_end": load_end,
        "transfers": built.transfers,
        "accounts": built.accounts,
        "heights": built.heights,
        "per_height": built.per_height,
        "seed": args.seed,
        "cases": args.cases,
        "hops": args.hops,
        "busiest_account_movements": built.busiest,
        "genesis_balances": len(built.genesis),
        "generate_s": built.generate_s,
        "commit_s_with": w.total,
        "commit_s_without": wo.total,
        "commit_cpu_s_with": w.cpu,
        "commit_cpu_s_without": wo.cpu,
        "commit_ms_with": {
            "p50": percentile(w.wall, 0.5) * 1e3,
            "p99": percentile(w.wall, 0.99) * 1e3,
        },
        "commit_ms_without": {
            "p50": percentile(wo.wall, 0.5) * 1e3,
            "p99": percentile(wo.wall, 0.99) * 1e3,
        },
        "build_rate_with": built.transfers / w.total,
        "build_rate_without": built.transfers / wo.total,
        "build_rate_ratio": wo.total / w.total,
        "index_us_per_transfer": (w.total - wo.total) / built.transfers * 1e6,
        "index_table_bytes": tables,
        "index_bytes_per_transfer": index_bytes / built.transfers,
        "file_bytes_per_transfer_with": size_with / built.transfers,
        "file_bytes_per_transfer_without": size_without / built.transfers,
        "file_difference_bytes_per_transfer": (size_with - size_without) / built.transfers,
        "open_ms": open_ms,
        "sets": summaries,
        "roots_digest": roots_digest(sets),
        "peak_rss_mb_build": rss_build,
        "peak_rss_mb": peak_rss_mb(),
        "runs": {name: [r.__dict__ for r in runs] for name, runs in sets.items()},
    }
    report(out, result)
    if profiler is not None:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(PROFILE_LINES)
        out.progress(text.getvalue())
    out.emit(result)
    if args.keep:
        out.progress(f"stores kept in {directory}")
        return
    for path in (built.path, built.baseline_path):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    if args.dir is None:
        directory.rmdir()  # the temp dir this run made, empty now


def report(out: Reporter, r: dict[str, Any]) -> None:
    """The human table."""
    m = r["machine"]
    out.line(machine_line(m))
    out.line(
        f"load average (1 min): {m['loadavg_1m']:.2f} at start, {r['loadavg_1m_end']:.2f} at end"
    )
    out.line(
        f"{r['transfers']:,} transfers among {r['accounts']:,} accounts, {r['heights']} heights "
        f"of {r['per_height']:,}, seed {r['seed']}, {r['cases']} planted cases; "
        f"busiest account: {r['busiest_account_movements']:,} movements"
    )
    out.line()
    out.line(
        "| build (wall clock, one commit a height) | transfers/s | commit s | CPU s "
        "| commit p50 / p99 ms |"
    )
    out.line("|---|---:|---:|---:|---:|")
    for name, key in (
        ("with the movement index", "with"),
        ("without (movements stripped)", "without"),
    ):
        ms = r[f"commit_ms_{key}"]
        out.line(
            f"| {name} | {fmt_rate(r[f'build_rate_{key}'])} | {r[f'commit_s_{key}']:.1f} "
            f"| {r[f'commit_cpu_s_{key}']:.1f} | {ms['p50']:.0f} / {ms['p99']:.0f} |"
        )
    out.line(
        f"rate ratio with/without {r['build_rate_ratio']:.3f}; the index costs "
        f"{r['index_us_per_transfer']:.1f} us a transfer; generating the history "
        f"(not timed above) {r['generate_s']:.1f} s"
    )
    t = r["index_table_bytes"]
    out.line(
        f"index bytes per transfer: {r['index_bytes_per_transfer']:.1f} (dbstat pages: movements "
        f"{t.get('movements', 0) / 2**20:.1f} MiB + movement_accounts "
        f"{t.get('movement_accounts', 0) / 2**20:.1f} MiB); file difference "
        f"{r['file_difference_bytes_per_transfer']:.1f}; whole file "
        f"{r['file_bytes_per_transfer_with']:.0f} a transfer"
    )
    out.line(f"open the store afresh: {r['open_ms']:.0f} ms (OS page cache warm: just written)")
    out.line()
    out.line(
        f"| {r['hops']}-hop traces | n | p50 ms | p99 ms | max ms | accounts p50 / p99 / max "
        f"| events p50 / p99 / max | us/event | store share | truncated | < {TARGET_S:g} s |"
    )
    out.line("|---|---:|---:|---:|---:|---|---|---:|---:|---:|---:|")
    for name, s in r["sets"].items():
        wall, acc, ev = s["wall_ms"], s["accounts"], s["events"]
        out.line(
            f"| {name} | {s['traces']} | {wall['p50']:.0f} | {wall['p99']:.0f} | {wall['max']:.0f} "
            f"| {acc['p50']:,.0f} / {acc['p99']:,.0f} / {acc['max']:,.0f} "
            f"| {ev['p50']:,.0f} / {ev['p99']:,.0f} / {ev['max']:,.0f} "
            f"| {s['us_per_event']:.1f} | {s['store_share']:.0%} "
            f"| {s['truncated']} | {s['under_target']}/{s['in_scope']} |"
        )
    genesis = r["sets"]["forward fifo"]["genesis_ms"]["p50"]
    out.line(
        f"each trace's time includes opening a snapshot and wrapping it with the "
        f"{r['genesis_balances']:,} genesis balances (built once, as the node does; the "
        f"wrap per request): the wrap alone {genesis:.2f} ms (p50)"
    )
    problems = [p for s in r["sets"].values() for p in s["problems"]]
    out.line()
    out.line(f"checks: {'all sound' if not problems else f'{len(problems)} PROBLEMS'}")
    for p in problems:
        out.line(f"  {p}")
    out.line(
        f"peak RSS {r['peak_rss_mb']:.0f} MB (after the build {r['peak_rss_mb_build']:.0f} MB); "
        f"roots digest {r['roots_digest'][:16]}"
    )


if __name__ == "__main__":
    main()

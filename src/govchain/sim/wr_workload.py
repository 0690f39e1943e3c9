"""The warehouse workload: sends the cast's bursts and remembers what it moved.

Issue 14 (docs/warehouse.md). The cast (wr_cast.py) is identified at genesis;
the committee grants the roles by proposal and vote, like any grant-role. Then
each burst draws one or two moves (wr_moves.py); the first business burst tries
the Qingdao double pledge. The checkers (wr_checkers.py) judge the books, and
`stats` counts outcomes.

A burst (wr_burst.py) is a few transactions sent to one node at once, each
naming those it depends on as parents, so the final order runs them in order,
often within one height. The next burst waits until this one is final (or
lost, or too slow: see BURST_LOST_MS) and is planned from the most advanced
honest ledger. The workload keeps its own record of the goods it moved
(`booked_g`), of the receipts whose goods it weighed out at the gate
(`departed`) and of the readings it made short (`understated_g`): what only
sensors tell the chain. Its choices come from its own PRNG seeded with the
seed, so a seed replays exactly.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence

from govchain.apps.warehouse.book import NAMESPACE, WarehouseBook
from govchain.codec import encode
from govchain.dag.kinds import Kind
from govchain.dag.tx import Transaction
from govchain.replica.view import ChainView
from govchain.sim.workload import Client, Workload
from govchain.sim.wr_burst import Burst, Move, Plan, voting
from govchain.sim.wr_cast import Cast
from govchain.sim.wr_checkers import LIVE_PLEDGE, departed_receipts, grams_by_bin
from govchain.sim.wr_moves import BINS, MOVE_WEIGHTS, PLEDGE_ENDING, WrMoves
from govchain.state.actions.grant_role import GrantRole
from govchain.state.kinds.gov_propose import ProposePayload
from govchain.state.ledger import Ledger
from govchain.state.receipts import Reason, Status
from govchain.state.receipts import Receipt as TxReceipt

WR_START_MS = 20
WR_INTERVAL_MS = 100
# A burst not all final is given up on (the next is planned from what is) once one of
# its transactions has been unknown to every live honest node for BURST_LOST_MS, or
# after BURST_WAIT_MS_MAX whatever: heights may stall for seconds under partitions.
BURST_LOST_MS = 1_000
BURST_WAIT_MS_MAX = 8_000
# Bursts start at least this far apart. Measured over seeds 1..50 (and crash seeds
# 251..290), the warehouse adds 31% (46%) to a run's final transactions.
BURST_GAP_MS = 300
MOVES_PER_BURST_MAX = 2
RESYNC_OUTCOMES = frozenset({"unsettled", Reason.NONCE_GAP.value, Reason.EXPIRED.value})


class WrWorkload:
    """Plans and sends the warehouse's bursts; knows the goods it moved."""

    def __init__(
        self,
        seed: int,
        workload: Workload,
        cast: Cast,
        committee: Sequence[Client],
        final: Mapping[bytes, TxReceipt],
    ) -> None:
        self.rng = random.Random(f"govchain-sim-warehouse:{seed}")
        self.workload = workload
        self.cast = cast
        self.proposer, self.voter = committee[0], committee[1]
        self.final = final
        self.moves = WrMoves(self.rng, cast)  # shares the PRNG: same draws, same order
        self.stats: dict[str, int] = {}  # "label:outcome" -> count
        self._intents: dict[bytes, tuple[Move, ...]] = {}  # tx id -> what it moves
        # Readings' tx id -> (its order's tx id, receipt): goods weighed out at the gate.
        self._departures: dict[bytes, tuple[bytes, str]] = {}
        self._inflight: list[tuple[str, bytes, Client]] = []  # (label, tx id, sender)
        self._sent_ms = 0
        self._lost_ms: int | None = None  # since when the burst's pending ones are unknown

    # -- what only the workload knows (wr_checkers.Physics) ---------------------------
    def booked_g(self, warehouse: bytes, bin_code: str, height: int) -> int | None:
        """Grams that the intakes and withdrawals executed by height left in the bin's book."""
        if warehouse != self.cast.operator.key.address:
            return None
        total = 0
        for tx, moves in self._intents.items():
            if self._executed(tx, height):
                total += sum(g for code, g in moves if code == bin_code)
        return total

    def departed(self, height: int) -> list[str]:
        """Receipts whose goods were weighed out at the gate by height, under an open order."""
        return [
            number
            for readings, (order, number) in self._departures.items()
            if self._executed(readings, height) and self._executed(order, height)
        ]

    def _executed(self, tx: bytes, height: int) -> bool:
        r = self.final.get(tx)
        return r is not None and r.height <= height and r.status == Status.EXECUTED

    def understated_g(self, device: str, counter: int) -> int | None:
        """When the workload made that reading short, the bin's grams it understated."""
        return self.moves.drifts.get((device, counter))

    # -- driving ----------------------------------------------------------------------
    def step(
        self,
        now_ms: int,
        ledger: Ledger,
        node: ChainView,
        submit: Callable[[Transaction], bool],
        known: Callable[[bytes], bool],
    ) -> None:
        """Send the next burst once the last one is final (or given up on).

        ledger: the most advanced honest one; node: where the burst goes; known:
        whether some live honest node holds a transaction.
        """
        if now_ms - self._sent_ms < BURST_GAP_MS and self._sent_ms:
            return
        if self._inflight and not self._settled(now_ms, known):
            return
        self._tally(ledger)
        burst = self._plan(ledger)
        ids: list[bytes] = []
        for s in burst.sends:
            tx = self.workload.build(
                s.actor, node, now_ms, s.kind, s.payload(ids), after=[ids[i] for i in s.after]
            )
            if not submit(tx):
                break  # what depends on it would wait for a parent that never comes
            s.actor.sent(tx, now_ms)
            ids.append(tx.id)
            self._inflight.append((s.label, tx.id, s.actor))
            if s.intent:
                self._intents[tx.id] = s.intent
            if s.departs is not None:
                self._departures[tx.id] = (ids[s.departs[0]], s.departs[1])
        self._sent_ms, self._lost_ms = now_ms, None

    def _tally(self, ledger: Ledger) -> None:
        """Count how the last burst ended; senders whose chain of nonces broke start over."""
        broken: dict[bytes, Client] = {}
        for label, sent, actor in self._inflight:
            r = self.final.get(sent)
            outcome = "unsettled" if r is None else (r.reason or r.status)
            key = f"{label}:{outcome}"
            self.stats[key] = self.stats.get(key, 0) + 1
            if outcome in RESYNC_OUTCOMES:
                broken[actor.key.address] = actor
        for address, actor in broken.items():
            # A lost transaction leaves a gap that every later one of its sender's falls
            # into (nonce_gap): the next one takes the sender's nonce as final state has it.
            account = ledger.accounts.get(address)
            actor.nonce, actor.last = (account.nonce if account is not None else 0), None
        self._inflight = []

    def _settled(self, now_ms: int, known: Callable[[bytes], bool]) -> bool:
        """True when the burst in flight is final, lost, or waited for long enough."""
        pending = [sent for _, sent, _ in self._inflight if sent not in self.final]
        if not pending or now_ms - self._sent_ms >= BURST_WAIT_MS_MAX:
            return True
        if any(known(sent) for sent in pending):
            self._lost_ms = None
            return False
        if self._lost_ms is None:
            self._lost_ms = now_ms
        return now_ms - self._lost_ms >= BURST_LOST_MS

    def _plan(self, ledger: Ledger) -> Burst:
        missing = [
            (c, r) for c, r in self.cast.roles() if not ledger.identities.has_role(c.key.address, r)
        ]
        if missing:
            return self._grants(missing)
        book = ledger.namespace(NAMESPACE)
        assert isinstance(book, WarehouseBook)  # the sim's genesis runs the warehouse
        p = Plan(ledger, book)

        # What the load cells weigh: the goods booked, less those weighed out and still due.
        left = grams_by_bin(book, departed_receipts(book, self.departed(ledger.height)))
        p.belief = {
            code: (self.booked_g(self.cast.operator.key.address, code, ledger.height) or 0)
            - left.get((self.cast.operator.key.address, code), 0)
            for code, _ in BINS
        }
        self.moves.infrastructure(p)
        if not book.receipts:
            self.moves.first_receipt(p)
            return p.burst
        moves = self.moves.table()
        pool = [name for name, weight in MOVE_WEIGHTS for _ in range(weight)]
        if not any(x.status in LIVE_PLEDGE for x in book.pledges.values()):
            pool += ["pledge"] * 3  # a pledge to try the double pledge on
        self.rng.shuffle(pool)
        want, done, tried = self.rng.randint(1, MOVES_PER_BURST_MAX), 0, set()
        for name in pool:
            if name in tried:
                continue
            tried.add(name)
            if moves[name](p):
                done += 1
                if done == want:
                    break
                if name in PLEDGE_ENDING:
                    tried |= PLEDGE_ENDING
        return p.burst

    def _grants(self, missing: list[tuple[Client, str]]) -> Burst:
        """The committee grants the missing roles: each proposal with its deciding vote."""
        burst = Burst()
        for client, role in missing:
            action = GrantRole(client.key.address, role)
            proposal = encode(ProposePayload(action, "sim warehouse cast", b"", False))
            i = burst.add("grant-role", self.proposer, Kind.GOV_PROPOSE, proposal)
            burst.add(
                "grant-role/vote",
                self.voter,
                Kind.GOV_VOTE,
                voting(i),
                (i,),
            )
        return burst

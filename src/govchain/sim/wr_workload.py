"""The warehouse on every simulated seed: a cast, its devices, and random receipt transitions.

Issue 14 (docs/warehouse.md). The cast (an operator, its supervisor, two
depositors, two banks, an oracle, an inspector, a gateway that relays device
readings, a buyer) is identified at genesis; the committee grants the roles by
proposal and vote, like any grant-role. Then the cast runs receipts' lives in a
warehouse of two bins, with a weighbridge, a gate, an RFID reader and a load
cell per bin, each signing its own readings.

The first business burst books goods, issues a receipt, pledges it to one bank
and at once tries to pledge it to the other (the Qingdao double pledge, refused
unless the bug is planted). Later bursts draw one or two moves: intakes (and a
second intake of pieces in use), issues, endorsements, pledges, double pledges,
more collateral, adjustments, repayments, releases, enforcement, moving
prices, readings that sometimes drift or see a tag leave, inspections, splits,
merges and withdrawals. Whether a move succeeds is the chain's business: the
checkers (wr_checkers.py) judge the books, and `stats` counts outcomes.

A burst is a few transactions sent to one node at once, each naming those it
depends on as parents (an offer before its signatures, a weighing before the
intake), so the final order runs them in order, often within one height. The
next burst waits until this one is final (or lost, or too slow: see
BURST_LOST_MS) and is planned from the most advanced honest ledger. The
workload keeps its own record of the goods it moved (`booked_g`), of the
receipts whose goods it weighed out at the gate (`departed`) and of the
readings it made short (`understated_g`): what only sensors tell the chain.
Its choices come from its own PRNG seeded with the seed, so a seed replays
exactly.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from govchain.apps.warehouse import financing
from govchain.apps.warehouse import kind as wr_kind
from govchain.apps.warehouse.book import NAMESPACE, WarehouseBook
from govchain.apps.warehouse.commitment import Spec
from govchain.apps.warehouse.env import (
    ROLE_BANK,
    ROLE_DEPOSITOR,
    ROLE_INSPECTOR,
    ROLE_ORACLE,
    ROLE_SUPERVISOR,
    ROLE_WAREHOUSE,
    Env,
)
from govchain.apps.warehouse.ops import (
    KIND_READINGS,
    KIND_WR,
    AddCollateral,
    Adjust,
    AnyOp,
    Endorse,
    Enforce,
    Inspect,
    Intake,
    Issue,
    Merge,
    OpenWarehouse,
    Pledge,
    PostPrice,
    ReadingsPayload,
    RegisterDevice,
    Release,
    Repay,
    Sign,
    Split,
    Withdraw,
)
from govchain.apps.warehouse.params import tolerance_g, valuation_params
from govchain.apps.warehouse.readings import DeviceKind, Reading, SignedReading, sign_reading
from govchain.apps.warehouse.records import PledgeRec, Receipt, ReceiptStatus
from govchain.apps.warehouse.units import BP_PER_ONE, G_PER_TONNE
from govchain.apps.warehouse.valuation import eligible_value
from govchain.codec import encode
from govchain.crypto.keys import SigningKey
from govchain.dag.kinds import Kind
from govchain.dag.tx import Transaction
from govchain.replica.view import ChainView
from govchain.sim.workload import AFTER_MAX, Client, Workload
from govchain.sim.wr_checkers import LIVE_PLEDGE, departed_receipts, grams_by_bin, price_now
from govchain.state.actions.grant_role import GrantRole
from govchain.state.genesis import GenesisIdentity
from govchain.state.kinds.gov_propose import ProposePayload
from govchain.state.kinds.gov_vote import VotePayload
from govchain.state.ledger import Ledger
from govchain.state.receipts import Reason, Status
from govchain.state.receipts import Receipt as TxReceipt

DOUBLE_PLEDGE = "double-pledge"
WR_PLANTS = frozenset({DOUBLE_PLEDGE})  # the simulator's own planted bugs (not the node's)

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
CAST_BALANCE_FEN = 10**12  # funded members: ten billion yuan each
IDENTITY_TIER = 2  # holders must be identified; tier 2 sends 64 KiB payloads
COMMODITY = "copper_cathode"
FIRST_DAY = 20_000  # business days since 1970
PRICE_START_FEN_PER_TONNE = 8_000_000  # 80,000 yuan a tonne
PRICE_MIN_FEN_PER_TONNE = 1_000_000
PRICE_MOVE_PERCENT_SD = 4.0  # a day's move, one standard deviation
PRICE_CRASH_CHANCE = 0.2  # a day's fall of PRICE_CRASH_PERCENT: calls and enforcement
PRICE_CRASH_PERCENT = 25
PRICE_DIVERGE_CHANCE = 0.1  # spot 5% off settlement: the divergence alarm
LOT_KG = (20_000, 150_000)  # net weight of an intake
TARE_G = G_PER_TONNE  # pallets
PIECE_G = 2_500_000  # a bundle of copper cathode
TAGS_PER_LOT_MAX = 24
BINS = (("A1", 2_000 * G_PER_TONNE), ("A2", 400 * G_PER_TONNE))
LTV_TARGET_BP = (3_000, 6_800)  # below the initial 7,000 bp
HAIRCUT_BP = (300, 1_500)
DRIFT_CHANCE = 0.1  # a cell reading after an intake reads short
PLEDGE_LEAVING_CHANCE = 0.3  # a withdrawal's holder pledges the receipt as the goods leave
CALIBRATED_UNTIL = 10**6  # heights
FIRMWARE = hashlib.sha256(b"sim load cell firmware 1.0").digest()
DOC = hashlib.sha256(b"sim receipt document").digest()
REPORT = hashlib.sha256(b"sim inspection report").digest()

# name -> the role the committee grants it (None: identified only).
CAST: tuple[tuple[str, str | None], ...] = (
    ("operator", ROLE_WAREHOUSE),
    ("supervisor", ROLE_SUPERVISOR),
    ("depositor-0", ROLE_DEPOSITOR),
    ("depositor-1", ROLE_DEPOSITOR),
    ("bank-a", ROLE_BANK),
    ("bank-b", ROLE_BANK),
    ("oracle", ROLE_ORACLE),
    ("inspector", ROLE_INSPECTOR),
    ("gateway", None),
    ("buyer", None),
)
FUNDED = ("depositor-0", "depositor-1", "bank-a", "bank-b", "buyer")
# (device, kind, bin): the weighbridge and gate serve the warehouse, readers and cells a bin.
DEVICES = (
    ("scale-1", DeviceKind.WEIGHBRIDGE, "A1"),
    ("gate-1", DeviceKind.GATE, "A1"),
    ("rfid-A1", DeviceKind.RFID, "A1"),
    ("cell-A1", DeviceKind.LOAD_CELL, "A1"),
    ("cell-A2", DeviceKind.LOAD_CELL, "A2"),
)
# At most one of these per burst: a double pledge must meet its receipt still pledged.
PLEDGE_ENDING = frozenset({"double-pledge", "release", "adjust", "enforce"})
# Moves after the first receipt, and how often each is drawn.
MOVE_WEIGHTS = (
    ("price", 3),
    ("intake", 2),
    ("double-intake", 1),
    ("issue", 3),
    ("endorse", 2),
    ("pledge", 3),
    ("double-pledge", 4),
    ("add-collateral", 1),
    ("repay", 2),
    ("release", 2),
    ("adjust", 2),
    ("enforce", 3),
    ("drift", 1),
    ("tag-left", 1),
    ("inspect", 4),
    ("split", 2),
    ("merge", 2),
    ("withdraw", 2),
)


class Cast:
    """The warehouse's parties, each a client of the simulation with its own key."""

    def __init__(self) -> None:
        self.by_name = {n: Client(SigningKey.from_label(f"sim-wr-{n}")) for n, _ in CAST}
        self.operator, self.supervisor = self.by_name["operator"], self.by_name["supervisor"]
        self.depositors = (self.by_name["depositor-0"], self.by_name["depositor-1"])
        self.banks = (self.by_name["bank-a"], self.by_name["bank-b"])
        self.oracle, self.inspector = self.by_name["oracle"], self.by_name["inspector"]
        self.gateway, self.buyer = self.by_name["gateway"], self.by_name["buyer"]
        self._by_address = {c.key.address: c for c in self.by_name.values()}

    def balances(self) -> list[tuple[bytes, int]]:
        """Genesis balances of the funded members."""
        return [(self.by_name[n].key.address, CAST_BALANCE_FEN) for n in FUNDED]

    def identities(self) -> list[GenesisIdentity]:
        """Genesis identities of the whole cast."""
        return [
            GenesisIdentity(c.key.address, "organization", IDENTITY_TIER)
            for c in self.by_name.values()
        ]

    def roles(self) -> list[tuple[Client, str]]:
        """Who must hold which role."""
        return [(self.by_name[n], role) for n, role in CAST if role is not None]

    def of(self, address: bytes) -> Client | None:
        """The member with that address, if any."""
        return self._by_address.get(address)


@dataclass(slots=True)
class _Device:
    """A device's key and its reading counter."""

    name: str
    kind: str
    bin: str
    key: SigningKey
    counter: int = 0


Payload = Callable[[list[bytes]], bytes]  # the burst's ids so far -> the payload
Move = tuple[str, int]  # (bin, grams) the book gains or loses once a transaction executes


@dataclass(frozen=True, slots=True)
class _Send:
    label: str
    actor: Client
    kind: str
    payload: Payload
    after: tuple[int, ...]  # indexes of earlier sends it depends on
    intent: tuple[Move, ...]  # what it moves once it executes
    departs: tuple[int, str] | None  # (the order's index, receipt): goods weighed out


def _constant(data: bytes) -> Payload:
    """A payload that depends on no earlier transaction."""

    def build(_ids: list[bytes]) -> bytes:
        return data

    return build


def _signing(offer: int) -> Payload:
    """`sign` of the offer that the burst's transaction at that index opened."""

    def build(ids: list[bytes]) -> bytes:
        return encode(Sign(ids[offer]))

    return build


def _voting(proposal: int) -> Payload:
    """A yes vote on the proposal that the burst's transaction at that index made."""

    def build(ids: list[bytes]) -> bytes:
        return encode(VotePayload(ids[proposal], True))

    return build


class Burst:
    """Transactions to send together, each after those it depends on."""

    def __init__(self) -> None:
        self.sends: list[_Send] = []

    def add(
        self,
        label: str,
        actor: Client,
        kind: str,
        payload: bytes | Payload,
        after: Iterable[int | None] = (),
        intent: tuple[Move, ...] = (),
        departs: tuple[int, str] | None = None,
    ) -> int:
        """Add one transaction; returns its index (what later ones depend on)."""
        deps = tuple(sorted({i for i in after if i is not None}))
        if len(deps) > AFTER_MAX:
            raise ValueError(f"{label} depends on {len(deps)} transactions, at most {AFTER_MAX}")
        build = _constant(payload) if isinstance(payload, bytes) else payload
        self.sends.append(_Send(label, actor, kind, build, deps, intent, departs))
        return len(self.sends) - 1

    def op(
        self,
        label: str,
        actor: Client,
        op: AnyOp,
        after: Iterable[int | None] = (),
        signers: Sequence[tuple[str, Client]] = (),
        intent: tuple[Move, ...] = (),
    ) -> int:
        """A `wr` transition; with signers, the offer and each signature, in turn.

        The signatures follow each other, so the last executes the transition
        (and carries the intent). Returns the last one's index.
        """
        first = self.add(label, actor, KIND_WR, encode(op), after, () if signers else intent)
        last = first
        for n, (who, signer) in enumerate(signers):
            last = self.add(
                f"{label}/sign-{who}",
                signer,
                KIND_WR,
                _signing(first),
                (first, last),
                intent if n == len(signers) - 1 else (),
            )
        return last


@dataclass(slots=True)
class _Plan:
    """One burst being planned: the ledger it starts from and what it adds."""

    ledger: Ledger
    book: WarehouseBook
    burst: Burst = field(default_factory=Burst)
    base: list[int | None] = field(default_factory=list)  # what every move waits for
    belief: dict[str, int] = field(default_factory=dict)  # bin -> grams, as the burst goes


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
        self.devices = {
            n: _Device(n, k, b, SigningKey.from_label(f"sim-wr-device-{n}")) for n, k, b in DEVICES
        }
        self.stats: dict[str, int] = {}  # "label:outcome" -> count
        self._intents: dict[bytes, tuple[Move, ...]] = {}  # tx id -> what it moves
        # Readings' tx id -> (its order's tx id, receipt): goods weighed out at the gate.
        self._departures: dict[bytes, tuple[bytes, str]] = {}
        self._drifts: dict[tuple[str, int], int] = {}  # (device, counter) -> grams read short of
        self._inflight: list[tuple[str, bytes, Client]] = []  # (label, tx id, sender)
        self._sent_ms = 0
        self._lost_ms: int | None = None  # since when the burst's pending ones are unknown
        self._seq = 0
        self._day = FIRST_DAY
        self._price = PRICE_START_FEN_PER_TONNE

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
        return self._drifts.get((device, counter))

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
        p = _Plan(ledger, book)
        # What the load cells weigh: the goods booked, less those weighed out and still due.
        left = grams_by_bin(book, departed_receipts(book, self.departed(ledger.height)))
        p.belief = {
            code: (self.booked_g(self.cast.operator.key.address, code, ledger.height) or 0)
            - left.get((self.cast.operator.key.address, code), 0)
            for code, _ in BINS
        }
        self._infrastructure(p)
        if not book.receipts:
            self._first_receipt(p)
            return p.burst
        moves = self._moves()
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
                _voting(i),
                (i,),
            )
        return burst

    # -- the warehouse, its devices and prices ------------------------------------------
    def _infrastructure(self, p: _Plan) -> None:
        """Open the warehouse, register devices and post first prices, where missing;
        then honest readings of every load cell, which every move waits for."""
        op, sup = self.cast.operator, self.cast.supervisor
        opened: int | None = None
        if op.key.address not in p.book.warehouses:
            opening = OpenWarehouse("Sim Qingdao", sup.key.address, BINS)
            opened = p.burst.op("open-warehouse", op, opening, (), [("supervisor", sup)])
        devices = opened
        for d in self.devices.values():
            if d.name not in p.book.devices:
                reg = RegisterDevice(
                    d.name, d.kind, d.bin, d.key.public_key, CALIBRATED_UNTIL, FIRMWARE
                )
                devices = p.burst.op(
                    "register-device", op, reg, (opened, devices), [("supervisor", sup)]
                )
        prices = None
        if not p.book.prices:
            prices = self._post_prices(p.burst, self._price)
        # Only cells whose latest reading is not the goods there now read again.
        cells = [
            (name, p.belief[code], ())
            for code, _ in BINS
            if (cell := p.book.devices.get(name := f"cell-{code}")) is None
            or cell.latest is None
            or cell.latest.grams != p.belief[code]
        ]
        readings = None
        if cells:
            batch = self._readings(cells)
            readings = p.burst.add("reading", self.cast.gateway, KIND_READINGS, batch, (devices,))
        p.base = [devices, prices, readings]

    def _post_prices(self, burst: Burst, settlement: int) -> int:
        """Both sources' prices of the next day (the second one marks pledges to market)."""
        self._day += 1
        spot = settlement + self.rng.randint(-settlement // 200, settlement // 200)
        if self.rng.random() < PRICE_DIVERGE_CHANCE:
            spot = settlement * 95 // 100
        oracle = self.cast.oracle
        first = burst.add(
            "price",
            oracle,
            KIND_WR,
            encode(PostPrice(COMMODITY, "settlement", settlement, self._day)),
        )
        return burst.add(
            "price",
            oracle,
            KIND_WR,
            encode(PostPrice(COMMODITY, "spot", spot, self._day)),
            (first,),
        )

    def _readings(
        self, readings: Iterable[tuple[str, int, tuple[str, ...]]], short_of: int | None = None
    ) -> bytes:
        """A gateway batch: each device's next signed reading of (grams, tags); short_of:
        the readings are drifts, short of that many grams in the bin."""
        signed: list[SignedReading] = []
        for name, grams, tags in readings:
            d = self.devices[name]
            d.counter += 1
            signed.append(
                sign_reading(
                    d.key, Reading(name, d.counter, d.counter, max(grams, 0), tags, FIRMWARE)
                )
            )
            if short_of is not None:
                self._drifts[(name, d.counter)] = short_of
        return encode(ReadingsPayload(tuple(signed)))

    # -- moves --------------------------------------------------------------------------
    def _moves(self) -> dict[str, Callable[[_Plan], bool]]:
        return {
            "price": self._m_price,
            "intake": self._m_intake,
            "double-intake": self._m_double_intake,
            "issue": self._m_issue,
            "endorse": self._m_endorse,
            "pledge": self._m_pledge,
            "double-pledge": self._m_double_pledge,
            "add-collateral": self._m_add_collateral,
            "repay": self._m_repay,
            "release": self._m_release,
            "adjust": self._m_adjust,
            "enforce": self._m_enforce,
            "drift": self._m_drift,
            "tag-left": self._m_tag_left,
            "inspect": self._m_inspect,
            "split": self._m_split,
            "merge": self._m_merge,
            "withdraw": self._m_withdraw,
        }

    def _first_receipt(self, p: _Plan) -> None:
        """Goods booked, a receipt issued, pledged, and pledged again to the other bank."""
        code, _ = BINS[0]
        lot, grams, weighed = self._intake(p, code, drift=False)
        holder = self.rng.choice(self.cast.depositors)
        number, issued = self._issue(p, ((lot, grams),), holder, (weighed,))
        bank, other = self._two_banks()
        pledged = self._pledge(p, "pledge", (number,), holder, bank, grams, (issued,))
        self._pledge(p, "double-pledge", (number,), holder, other, grams, (pledged,))

    def _m_price(self, p: _Plan) -> bool:
        move = self.rng.gauss(0, PRICE_MOVE_PERCENT_SD)
        if self.rng.random() < PRICE_CRASH_CHANCE:
            move = -PRICE_CRASH_PERCENT
        self._price = max(PRICE_MIN_FEN_PER_TONNE, int(self._price * (100 + move) / 100))
        self._post_prices(p.burst, self._price)
        return True

    def _m_intake(self, p: _Plan) -> bool:
        code, capacity = self.rng.choice(BINS)
        if p.belief[code] + LOT_KG[1] * 1_000 > capacity:
            return False
        self._intake(p, code)
        return True

    def _m_double_intake(self, p: _Plan) -> bool:
        """Pieces in use brought in again under a fresh salt (refused: tags in use)."""
        lots = [lot for lot in p.book.lots.values() if lot.live]
        if not lots:
            return False
        lot = self.rng.choice(lots)
        self._intake(
            p, lot.bin, tags=lot.tags[: self.rng.randint(1, len(lot.tags))], label="double-intake"
        )
        return True

    def _m_issue(self, p: _Plan) -> bool:
        free = [
            lot for lot in p.book.lots.values() if lot.live and lot.quantity_g > lot.receipted_g
        ]
        if not free:
            return False
        lot = self.rng.choice(free)
        room = lot.quantity_g - lot.receipted_g
        grams = room if self.rng.random() < 0.5 else self.rng.randint(1, room)
        self._issue(p, ((lot.id, grams),), self.rng.choice(self.cast.depositors), p.base)
        return True

    def _m_endorse(self, p: _Plan) -> bool:
        picked = self._receipt(p, lambda r: not r.encumbrance)
        if picked is None:
            return False
        r, holder = picked
        others = [c for c in (*self.cast.depositors, self.cast.buyer) if c is not holder]
        to = self.rng.choice(others)
        p.burst.op(
            "endorse", holder, Endorse(r.number, to.key.address), p.base, [("transferee", to)]
        )
        return True

    def _m_pledge(self, p: _Plan) -> bool:
        picked = self._receipt(p, lambda r: not r.encumbrance)
        if picked is None:
            return False
        r, holder = picked
        numbers = [r.number]
        more = [n for n in self._free(p, r.holder) if n != r.number]
        if more and self.rng.random() < 0.3:
            numbers.append(self.rng.choice(more))
        quantity = sum(p.book.receipts[n].quantity_g for n in numbers)
        self._pledge(
            p, "pledge", tuple(numbers), holder, self.rng.choice(self.cast.banks), quantity, p.base
        )
        return True

    def _m_double_pledge(self, p: _Plan) -> bool:
        """A pledged receipt's holder pledges it to the other bank as well."""
        picked = self._receipt(p, lambda r: bool(r.encumbrance))
        if picked is None:
            return False
        r, holder = picked
        pledge = p.book.pledges[r.encumbrance]
        other = next(b for b in self.cast.banks if b.key.address != pledge.bank)
        self._pledge(p, "double-pledge", (r.number,), holder, other, r.quantity_g, p.base)
        return True

    def _m_add_collateral(self, p: _Plan) -> bool:
        pledge = self._live_pledge(p, lambda x: x.status == financing.ACTIVE)
        borrower = self.cast.of(pledge.borrower) if pledge else None
        if pledge is None or borrower is None:
            return False
        free = self._free(p, pledge.borrower)
        if not free:
            return False
        p.burst.op(
            "add-collateral", borrower, AddCollateral(pledge.id, (self.rng.choice(free),)), p.base
        )
        return True

    def _m_repay(self, p: _Plan) -> bool:
        pledge = self._live_pledge(p, lambda x: x.outstanding_fen > 0)
        borrower = self.cast.of(pledge.borrower) if pledge else None
        if pledge is None or borrower is None:
            return False
        amount = self.rng.randint(1, pledge.outstanding_fen)
        p.burst.op("repay", borrower, Repay(pledge.id, amount), p.base)
        return True

    def _m_release(self, p: _Plan) -> bool:
        """Repay what is owed, then the bank releases."""
        pledge = self._live_pledge(p, lambda x: x.status == financing.ACTIVE)
        borrower = self.cast.of(pledge.borrower) if pledge else None
        bank = self.cast.of(pledge.bank) if pledge else None
        if pledge is None or borrower is None or bank is None:
            return False
        repaid = None
        if pledge.outstanding_fen:
            repaid = p.burst.op(
                "repay-all", borrower, Repay(pledge.id, pledge.outstanding_fen), p.base
            )
        p.burst.op("release", bank, Release(pledge.id), [*p.base, repaid])
        return True

    def _m_adjust(self, p: _Plan) -> bool:
        """Partial release of one receipt, or its substitution by another."""
        pledge = self._live_pledge(p, lambda x: x.status == financing.ACTIVE)
        bank = self.cast.of(pledge.bank) if pledge else None
        if pledge is None or bank is None:
            return False
        free = self._free(p, pledge.borrower)
        add = (self.rng.choice(free),) if free and self.rng.random() < 0.5 else ()
        if len(pledge.receipts) < 2 and not add:
            return False
        remove = (self.rng.choice(pledge.receipts),)
        sup = self.cast.supervisor
        p.burst.op("adjust", bank, Adjust(pledge.id, add, remove), p.base, [("supervisor", sup)])
        return True

    def _m_enforce(self, p: _Plan) -> bool:
        pledge = self._live_pledge(p, lambda x: x.status == financing.ENFORCEABLE)
        bank = self.cast.of(pledge.bank) if pledge else None
        if pledge is None or bank is None:
            return False
        price = max(1, pledge.outstanding_fen * self.rng.randint(80, 120) // 100)
        buyer = self.cast.buyer
        sale = Enforce(pledge.id, buyer.key.address, price)
        p.burst.op("enforce", bank, sale, p.base, [("buyer", buyer)])
        return True

    def _m_drift(self, p: _Plan) -> bool:
        """A load cell reads short, beyond tolerance: the chain must not call its bin green."""
        code, _ = self.rng.choice(BINS)
        tol = tolerance_g(p.ledger.stores.params, p.belief[code])
        if p.belief[code] < 4 * tol or self._withdrawing(p, code):
            return False
        grams = p.belief[code] - self.rng.randint(2 * tol, p.belief[code] // 2)
        batch = self._readings([(f"cell-{code}", grams, ())], short_of=p.belief[code])
        p.burst.add("drift", self.cast.gateway, KIND_READINGS, batch, p.base)
        return True

    def _m_tag_left(self, p: _Plan) -> bool:
        """The bin's reader sees a live piece leave without a withdrawal order."""
        lots = [lot for lot in p.book.lots.values() if lot.live and lot.bin == "A1"]
        if not lots:
            return False
        tag = self.rng.choice(self.rng.choice(lots).tags)
        batch = self._readings([("rfid-A1", 0, (tag,))])
        p.burst.add("tag-left", self.cast.gateway, KIND_READINGS, batch, p.base)
        return True

    def _m_inspect(self, p: _Plan) -> bool:
        """An inspector finds the goods the workload put in an alarmed bin (read honestly)."""
        alarmed = [b for b in p.book.bins.values() if b.alarms]
        if not alarmed:
            return False
        b = self.rng.choice(alarmed)
        found = Inspect(b.warehouse, b.code, p.belief.get(b.code, b.book_g), REPORT)
        p.burst.op("inspect", self.cast.inspector, found, p.base)
        return True

    def _m_split(self, p: _Plan) -> bool:
        picked = self._receipt(p, lambda r: all(g >= 2 for _, g in r.lots), movable_only=False)
        if picked is None:
            return False
        r, _holder = picked
        one = tuple((lot, g // 2) for lot, g in r.lots)
        two = tuple((lot, g - g // 2) for lot, g in r.lots)
        children = ((self._number(), one), (self._number(), two))
        p.burst.op("split", self.cast.operator, Split(r.number, children), p.base)
        return True

    def _m_merge(self, p: _Plan) -> bool:
        groups: dict[tuple[bytes, bytes, str, str], list[str]] = {}
        for r in self._valid(p):
            if not r.frozen_by and not r.enforcement:
                groups.setdefault((r.holder, r.controller, r.encumbrance, r.commodity), []).append(
                    r.number
                )
        pairs = [g for g in groups.values() if len(g) >= 2]
        if not pairs:
            return False
        numbers = tuple(self.rng.sample(self.rng.choice(pairs), 2))
        p.burst.op("merge", self.cast.operator, Merge(numbers, self._number()), p.base)
        return True

    def _m_withdraw(self, p: _Plan) -> bool:
        """The order, the goods weighed out and seen at the gate, then the operator signs;
        sometimes the holder pledges the receipt while its goods are leaving (refused)."""
        picked = self._receipt(p, lambda r: not r.encumbrance)
        if picked is None:
            return False
        r, controller = picked
        order = p.burst.op("withdraw", controller, Withdraw(r.number), p.base)
        leaving: dict[str, int] = {}
        for lot_id, grams in r.lots:
            code = p.book.lots[lot_id].bin
            leaving[code] = leaving.get(code, 0) + grams
        first_lot = p.book.lots[r.lots[0][0]]
        seen = [
            ("scale-1", r.quantity_g, ()),
            ("gate-1", 0, first_lot.tags[:2]),
            *((f"cell-{code}", p.belief[code] - g, ()) for code, g in sorted(leaving.items())),
        ]
        batch = self._readings(seen)
        weighed = p.burst.add(
            "reading", self.cast.gateway, KIND_READINGS, batch, (order,), departs=(order, r.number)
        )
        for code, g in leaving.items():
            p.belief[code] -= g
        if self.rng.random() < PLEDGE_LEAVING_CHANCE:
            bank = self.rng.choice(self.cast.banks)
            self._pledge(
                p, "pledge-leaving", (r.number,), controller, bank, r.quantity_g, (weighed,)
            )
        intent = tuple((code, -g) for code, g in sorted(leaving.items()))
        p.burst.add(
            "withdraw/sign-warehouse",
            self.cast.operator,
            KIND_WR,
            _signing(order),
            (order, weighed),
            intent,
        )
        return True

    # -- building blocks ------------------------------------------------------------------
    def _intake(
        self,
        p: _Plan,
        code: str,
        tags: tuple[str, ...] | None = None,
        label: str = "intake",
        drift: bool = True,
    ) -> tuple[str, int, int]:
        """Goods weighed in and booked into a bin, then its load cell read; returns
        (lot, net grams, the reading's index)."""
        net = self.rng.randint(*LOT_KG) * 1_000
        lot = f"L{self._next()}"
        pieces = max(1, net // PIECE_G)
        if tags is None:
            tags = tuple(f"{lot}-{i:02d}" for i in range(min(pieces, TAGS_PER_LOT_MAX)))
        spec = Spec(COMMODITY, "JCC", "Cu-CATH-1", pieces, net + TARE_G, TARE_G, net)
        gw = self.cast.gateway
        scale = p.burst.add(
            "reading", gw, KIND_READINGS, self._readings([("scale-1", spec.gross_g, ())]), p.base
        )
        intake = Intake(lot, code, tags, spec, self.rng.randbytes(32), b"", "scale-1")
        booked = p.burst.op(label, self.cast.operator, intake, (scale,), intent=((code, net),))
        p.belief[code] += net
        short = drift and self.rng.random() < DRIFT_CHANCE
        sensed = p.belief[code] // 2 if short else p.belief[code]
        cell = self._readings([(f"cell-{code}", sensed, ())], p.belief[code] if short else None)
        read = p.burst.add("reading", gw, KIND_READINGS, cell, (booked,))
        return lot, net, read

    def _issue(
        self,
        p: _Plan,
        lots: tuple[tuple[str, int], ...],
        holder: Client,
        after: Iterable[int | None],
    ) -> tuple[str, int]:
        """The operator issues, the supervisor and the holder sign; returns (number, index)."""
        number = self._number()
        issue = Issue(number, holder.key.address, lots, DOC)
        signers = [("supervisor", self.cast.supervisor), ("holder", holder)]
        return number, p.burst.op("issue", self.cast.operator, issue, after, signers)

    def _pledge(
        self,
        p: _Plan,
        label: str,
        numbers: tuple[str, ...],
        holder: Client,
        bank: Client,
        quantity_g: int,
        after: Iterable[int | None],
    ) -> int:
        """The holder pledges receipts to the bank for a loan within the initial LTV."""
        haircut = self.rng.randint(*HAIRCUT_BP)
        used = price_now(p.book.prices, COMMODITY, valuation_params(p.ledger.stores.params))
        price = used.fen_per_tonne or self._price
        eligible = eligible_value(
            quantity_g, price, min(BP_PER_ONE - 1, haircut + used.extra_haircut_bp)
        )
        loan = max(1, eligible * self.rng.randint(*LTV_TARGET_BP) // BP_PER_ONE)
        op = Pledge(numbers, bank.key.address, loan, haircut)
        return p.burst.op(label, holder, op, [*after, p.base[1]], [("bank", bank)])

    def _valid(self, p: _Plan) -> list[Receipt]:
        return [r for r in p.book.receipts.values() if r.status == ReceiptStatus.VALID]

    def _free(self, p: _Plan, holder: bytes) -> list[str]:
        """The holder's valid receipts that no pledge encumbers."""
        return [
            r.number
            for r in self._valid(p)
            if r.holder == holder and not r.encumbrance and r.controller == r.holder
        ]

    def _receipt(
        self, p: _Plan, keep: Callable[[Receipt], bool], movable_only: bool = True
    ) -> tuple[Receipt, Client] | None:
        """A random valid receipt that keep accepts, and its holder (a cast member)."""
        found = []
        for r in self._valid(p):
            holder = self.cast.of(r.holder)
            if holder is None or not keep(r):
                continue
            if movable_only and (r.frozen_by or r.enforcement):
                continue
            found.append((r, holder))
        return self.rng.choice(found) if found else None

    def _live_pledge(self, p: _Plan, keep: Callable[[PledgeRec], bool]) -> PledgeRec | None:
        live = [x for x in p.book.pledges.values() if x.status in LIVE_PLEDGE and keep(x)]
        return self.rng.choice(live) if live else None

    def _withdrawing(self, p: _Plan, code: str) -> bool:
        """True when an open withdrawal order covers goods of the bin."""
        for o in p.book.offers.values():
            r = p.book.receipts.get(o.op.number) if isinstance(o.op, Withdraw) else None
            if r is not None and any(p.book.lots[lot].bin == code for lot, _ in r.lots):
                return True
        return False

    def _two_banks(self) -> tuple[Client, Client]:
        a, b = self.cast.banks
        return (a, b) if self.rng.random() < 0.5 else (b, a)

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def _number(self) -> str:
        return f"R{self._next()}"


# -- the planted bug ----------------------------------------------------------------------
@contextmanager
def planted(plant: str | None) -> Iterator[None]:
    """For one run, with plant "double-pledge", pledges look past existing pledges.

    The chain's code stays as it is: the pledge transition is swapped in kind.py's
    table for one that hides each receipt's pledge while the real one checks it,
    and put back when the run ends.
    """
    if plant != DOUBLE_PLEDGE:
        yield
        return
    original = wr_kind.TRANSITIONS[Pledge]
    wr_kind.TRANSITIONS[Pledge] = wr_kind.Transition(original.parties, _pledge_past_pledges)
    try:
        yield
    finally:
        wr_kind.TRANSITIONS[Pledge] = original


def _pledge_past_pledges(env: Env, op: Pledge) -> None:
    """financing.pledge, blind to the receipts' pledges: the planted double pledge."""
    hidden = [
        (r, r.encumbrance, r.controller)
        for n in op.numbers
        if (r := env.book.receipts.get(n)) is not None
    ]
    for r, _, _ in hidden:
        r.encumbrance, r.controller = "", r.holder
    try:
        financing.pledge(env, op)
    finally:
        for r, encumbrance, controller in hidden:
            if not r.encumbrance:  # not taken by this pledge: as it was
                r.encumbrance, r.controller = encumbrance, controller

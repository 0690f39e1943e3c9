"""The warehouse's moves: what a burst asks of the chain, drawn from the workload's PRNG.

Issue 14 (docs/warehouse.md). The cast runs receipts' lives in a warehouse of
two bins, with a weighbridge, a gate, an RFID reader and a load cell per bin,
each signing its own readings. The first business burst books goods, issues a
receipt, pledges it to one bank and at once tries to pledge it to the other
(the Qingdao double pledge, refused unless the bug is planted). Later bursts
draw moves: intakes (and a second intake of pieces in use), issues,
endorsements, pledges, double pledges, more collateral, adjustments,
repayments, releases, enforcement, moving prices, readings that sometimes drift
or see a tag leave, inspections, splits, merges and withdrawals. Whether a move
succeeds is the chain's business (wr_checkers.py judges the books).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable

from govchain.apps.warehouse import financing
from govchain.apps.warehouse.commitment import Spec
from govchain.apps.warehouse.ops import (
    KIND_READINGS,
    KIND_WR,
    AddCollateral,
    Adjust,
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
    Split,
    Withdraw,
)
from govchain.apps.warehouse.params import tolerance_g, valuation_params
from govchain.apps.warehouse.readings import Reading, SignedReading, sign_reading
from govchain.apps.warehouse.records import PledgeRec, Receipt, ReceiptStatus
from govchain.apps.warehouse.units import BP_PER_ONE, G_PER_TONNE
from govchain.apps.warehouse.valuation import eligible_value
from govchain.codec import encode
from govchain.crypto.keys import SigningKey
from govchain.sim.workload import Client
from govchain.sim.wr_burst import Burst, Plan, signing
from govchain.sim.wr_cast import DEVICES, Cast, Device
from govchain.sim.wr_checkers import LIVE_PLEDGE, price_now

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


class WrMoves:
    """Plans the warehouse's moves into a burst; owns the devices, the price and the day."""

    def __init__(self, rng: random.Random, cast: Cast) -> None:
        self.rng = rng  # the workload's own: one PRNG, so a seed replays exactly
        self.cast = cast
        self.devices = {
            n: Device(n, k, b, SigningKey.from_label(f"sim-wr-device-{n}")) for n, k, b in DEVICES
        }
        self.drifts: dict[tuple[str, int], int] = {}  # (device, counter) -> grams read short of
        self._seq = 0
        self._day = FIRST_DAY
        self._price = PRICE_START_FEN_PER_TONNE

    # -- the warehouse, its devices and prices ------------------------------------------
    def infrastructure(self, p: Plan) -> None:
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
                self.drifts[(name, d.counter)] = short_of
        return encode(ReadingsPayload(tuple(signed)))

    # -- moves --------------------------------------------------------------------------
    def table(self) -> dict[str, Callable[[Plan], bool]]:
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

    def first_receipt(self, p: Plan) -> None:
        """Goods booked, a receipt issued, pledged, and pledged again to the other bank."""
        code, _ = BINS[0]
        lot, grams, weighed = self._intake(p, code, drift=False)
        holder = self.rng.choice(self.cast.depositors)
        number, issued = self._issue(p, ((lot, grams),), holder, (weighed,))
        bank, other = self._two_banks()
        pledged = self._pledge(p, "pledge", (number,), holder, bank, grams, (issued,))
        self._pledge(p, "double-pledge", (number,), holder, other, grams, (pledged,))

    def _m_price(self, p: Plan) -> bool:
        move = self.rng.gauss(0, PRICE_MOVE_PERCENT_SD)
        if self.rng.random() < PRICE_CRASH_CHANCE:
            move = -PRICE_CRASH_PERCENT
        self._price = max(PRICE_MIN_FEN_PER_TONNE, int(self._price * (100 + move) / 100))
        self._post_prices(p.burst, self._price)
        return True

    def _m_intake(self, p: Plan) -> bool:
        code, capacity = self.rng.choice(BINS)
        if p.belief[code] + LOT_KG[1] * 1_000 > capacity:
            return False
        self._intake(p, code)
        return True

    def _m_double_intake(self, p: Plan) -> bool:
        """Pieces in use brought in again under a fresh salt (refused: tags in use)."""
        lots = [lot for lot in p.book.lots.values() if lot.live]
        if not lots:
            return False
        lot = self.rng.choice(lots)
        self._intake(
            p, lot.bin, tags=lot.tags[: self.rng.randint(1, len(lot.tags))], label="double-intake"
        )
        return True

    def _m_issue(self, p: Plan) -> bool:
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

    def _m_endorse(self, p: Plan) -> bool:
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

    def _m_pledge(self, p: Plan) -> bool:
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

    def _m_double_pledge(self, p: Plan) -> bool:
        """A pledged receipt's holder pledges it to the other bank as well."""
        picked = self._receipt(p, lambda r: bool(r.encumbrance))
        if picked is None:
            return False
        r, holder = picked
        pledge = p.book.pledges[r.encumbrance]
        other = next(b for b in self.cast.banks if b.key.address != pledge.bank)
        self._pledge(p, "double-pledge", (r.number,), holder, other, r.quantity_g, p.base)
        return True

    def _m_add_collateral(self, p: Plan) -> bool:
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

    def _m_repay(self, p: Plan) -> bool:
        pledge = self._live_pledge(p, lambda x: x.outstanding_fen > 0)
        borrower = self.cast.of(pledge.borrower) if pledge else None
        if pledge is None or borrower is None:
            return False
        amount = self.rng.randint(1, pledge.outstanding_fen)
        p.burst.op("repay", borrower, Repay(pledge.id, amount), p.base)
        return True

    def _m_release(self, p: Plan) -> bool:
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

    def _m_adjust(self, p: Plan) -> bool:
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

    def _m_enforce(self, p: Plan) -> bool:
        pledge = self._live_pledge(p, lambda x: x.status == financing.ENFORCEABLE)
        bank = self.cast.of(pledge.bank) if pledge else None
        if pledge is None or bank is None:
            return False
        price = max(1, pledge.outstanding_fen * self.rng.randint(80, 120) // 100)
        buyer = self.cast.buyer
        sale = Enforce(pledge.id, buyer.key.address, price)
        p.burst.op("enforce", bank, sale, p.base, [("buyer", buyer)])
        return True

    def _m_drift(self, p: Plan) -> bool:
        """A load cell reads short, beyond tolerance: the chain must not call its bin green."""
        code, _ = self.rng.choice(BINS)
        tol = tolerance_g(p.ledger.stores.params, p.belief[code])
        if p.belief[code] < 4 * tol or self._withdrawing(p, code):
            return False
        grams = p.belief[code] - self.rng.randint(2 * tol, p.belief[code] // 2)
        batch = self._readings([(f"cell-{code}", grams, ())], short_of=p.belief[code])
        p.burst.add("drift", self.cast.gateway, KIND_READINGS, batch, p.base)
        return True

    def _m_tag_left(self, p: Plan) -> bool:
        """The bin's reader sees a live piece leave without a withdrawal order."""
        lots = [lot for lot in p.book.lots.values() if lot.live and lot.bin == "A1"]
        if not lots:
            return False
        tag = self.rng.choice(self.rng.choice(lots).tags)
        batch = self._readings([("rfid-A1", 0, (tag,))])
        p.burst.add("tag-left", self.cast.gateway, KIND_READINGS, batch, p.base)
        return True

    def _m_inspect(self, p: Plan) -> bool:
        """An inspector finds the goods the workload put in an alarmed bin (read honestly)."""
        alarmed = [b for b in p.book.bins.values() if b.alarms]
        if not alarmed:
            return False
        b = self.rng.choice(alarmed)
        found = Inspect(b.warehouse, b.code, p.belief.get(b.code, b.book_g), REPORT)
        p.burst.op("inspect", self.cast.inspector, found, p.base)
        return True

    def _m_split(self, p: Plan) -> bool:
        picked = self._receipt(p, lambda r: all(g >= 2 for _, g in r.lots), movable_only=False)
        if picked is None:
            return False
        r, _holder = picked
        one = tuple((lot, g // 2) for lot, g in r.lots)
        two = tuple((lot, g - g // 2) for lot, g in r.lots)
        children = ((self._number(), one), (self._number(), two))
        p.burst.op("split", self.cast.operator, Split(r.number, children), p.base)
        return True

    def _m_merge(self, p: Plan) -> bool:
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

    def _m_withdraw(self, p: Plan) -> bool:
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
            signing(order),
            (order, weighed),
            intent,
        )
        return True

    # -- building blocks ------------------------------------------------------------------
    def _intake(
        self,
        p: Plan,
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
        p: Plan,
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
        p: Plan,
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

    def _valid(self, p: Plan) -> list[Receipt]:
        return [r for r in p.book.receipts.values() if r.status == ReceiptStatus.VALID]

    def _free(self, p: Plan, holder: bytes) -> list[str]:
        """The holder's valid receipts that no pledge encumbers."""
        return [
            r.number
            for r in self._valid(p)
            if r.holder == holder and not r.encumbrance and r.controller == r.holder
        ]

    def _receipt(
        self, p: Plan, keep: Callable[[Receipt], bool], movable_only: bool = True
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

    def _live_pledge(self, p: Plan, keep: Callable[[PledgeRec], bool]) -> PledgeRec | None:
        live = [x for x in p.book.pledges.values() if x.status in LIVE_PLEDGE and keep(x)]
        return self.rng.choice(live) if live else None

    def _withdrawing(self, p: Plan, code: str) -> bool:
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

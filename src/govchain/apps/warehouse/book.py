"""The warehouse namespace: every warehouse, bin, device, lot, receipt, pledge, price and offer.

One object per ledger (registered as namespace `warehouse`). Transitions
(transitions.py) check and then write through it; it keeps the indexes that make
the invariants cheap to enforce (live commitments and tags, receipt numbers ever
used) and records which records changed, for the state hash. Reads here are what
the API and the simulator's checkers see.
"""

from __future__ import annotations

import heapq
from collections import deque
from typing import Any

import msgspec

from govchain.apps.warehouse.readings import DeviceKind
from govchain.apps.warehouse.records import (
    Bin,
    Device,
    Lot,
    Mark,
    Offer,
    PledgeRec,
    PriceRec,
    Receipt,
    ReceiptStatus,
    Warehouse,
)
from govchain.apps.warehouse.units import BP_PER_ONE
from govchain.state.params import Params

NAMESPACE = "warehouse"
WAREHOUSES_MAX = 10_000
BINS_PER_WAREHOUSE_MAX = 1_000
DEVICES_MAX = 100_000
LOTS_MAX = 1_000_000
RECEIPTS_MAX = 1_000_000
PLEDGES_MAX = 1_000_000
RECEIPTS_PER_PLEDGE_MAX = 256
PLEDGE_HISTORY_RESERVE = 32  # versions a pledged receipt keeps free for release or enforcement
OFFERS_MAX = 10_000  # open at once
OFFERS_PER_OPENER_MAX = 64
MARKS_KEPT = 400  # a pledge's daily marks kept on the chain (more than a year)
ALARMS_PER_BIN_MAX = 64
INSPECTIONS_KEPT = 32
VERSIONS_MAX = 256  # a receipt's history
ALARM_HEIGHTS_KEPT = 256

_T_WAREHOUSE, _T_BIN, _T_DEVICE, _T_LOT = "warehouse", "bin", "device", "lot"
_T_RECEIPT, _T_PLEDGE, _T_PRICE, _T_OFFER, _T_MARKS = (
    "receipt",
    "pledge",
    "price",
    "offer",
    "marks",
)


class Consistency(msgspec.Struct, frozen=True):
    """A bin's goods-match figures (货单一致) and whether they agree, with fresh readings."""

    sensed_g: int | None  # None: no load cell, or none has read
    book_g: int
    receipted_g: int
    outgoing_g: int  # under open withdrawal orders
    capacity_g: int
    tolerance_g: int
    problems: tuple[str, ...]  # empty: green

    @property
    def green(self) -> bool:
        """True when sensor, book and receipts agree within tolerance, with fresh readings."""
        return not self.problems


class WarehouseBook:
    """The namespace's state and its dirty marks."""

    def __init__(self) -> None:
        self.warehouses: dict[bytes, Warehouse] = {}
        self.bins: dict[tuple[bytes, str], Bin] = {}
        self.devices: dict[str, Device] = {}
        self.lots: dict[str, Lot] = {}
        self.receipts: dict[str, Receipt] = {}  # every number ever issued
        self.pledges: dict[str, PledgeRec] = {}
        self.marks: dict[str, list[Mark]] = {}  # pledge -> its last MARKS_KEPT marks
        self.prices: dict[tuple[str, str], PriceRec] = {}
        self.marked: dict[str, int] = {}  # commodity -> the last day marked to market
        self.offers: dict[bytes, Offer] = {}  # open ones, in opening order
        self.withdrawals: dict[str, bytes] = {}  # receipt -> its open withdrawal order (offer)
        self.live_commitments: dict[bytes, str] = {}  # commitment -> live lot
        self.live_tags: dict[str, str] = {}  # tag -> live lot
        self.alarm_seq = 0
        # Devices to look at for the offline alarm: (height due, device), one entry per
        # device at most (offline_pending), so the heap never outgrows the devices.
        self.offline_due: list[tuple[int, str]] = []
        self.offline_pending: set[str] = set()
        # The heap moves at the end of heights without a write to name it: the
        # ledger then images this part afresh (unwritten_change; not state).
        self._heap_moved = False
        # Heights that raised an alarm, newest last: readers (the API's events) learn
        # of alarms a height hook raised without a warehouse transaction. Not state.
        self.alarm_heights: deque[int] = deque(maxlen=ALARM_HEIGHTS_KEPT)
        self._dirty: dict[tuple[str, Any], None] = {}
        self._new_marks: dict[str, list[Mark]] = {}

    # -- marks ---------------------------------------------------------------------------
    def touch_warehouse(self, w: Warehouse) -> None:
        """Mark a warehouse changed."""
        self._dirty[(_T_WAREHOUSE, w.address)] = None

    def touch_bin(self, b: Bin) -> None:
        """Mark a bin changed."""
        self._dirty[(_T_BIN, (b.warehouse, b.code))] = None

    def touch_device(self, d: Device) -> None:
        """Mark a device changed."""
        self._dirty[(_T_DEVICE, d.id)] = None

    def touch_lot(self, lot: Lot) -> None:
        """Mark a lot changed."""
        self._dirty[(_T_LOT, lot.id)] = None

    def touch_receipt(self, r: Receipt) -> None:
        """Mark a receipt changed."""
        self._dirty[(_T_RECEIPT, r.number)] = None

    def touch_pledge(self, p: PledgeRec) -> None:
        """Mark a pledge changed."""
        self._dirty[(_T_PLEDGE, p.id)] = None

    def touch_price(self, p: PriceRec) -> None:
        """Mark a price changed."""
        self._dirty[(_T_PRICE, (p.commodity, p.source))] = None

    def touch_offer(self, o: Offer) -> None:
        """Mark an offer changed (a closed one is written once, then dropped)."""
        self._dirty[(_T_OFFER, o.id)] = None

    def add_marks(self, marks: list[tuple[str, Mark]]) -> None:
        """Append a day's marks, (pledge, mark) in pass order; each keeps MARKS_KEPT."""
        kept, new = self.marks, self._new_marks
        for pledge, mark in marks:
            history = kept.get(pledge)
            if history is None:
                kept[pledge] = [mark]
            else:
                history.append(mark)
                if len(history) > MARKS_KEPT:
                    del history[0]
            fresh = new.get(pledge)
            if fresh is None:
                new[pledge] = [mark]
            else:
                fresh.append(mark)

    def watch_device(self, d: Device, fresh: int) -> None:
        """Look at d again once it may have gone quiet for longer than fresh heights."""
        if d.id not in self.offline_pending:
            self.offline_pending.add(d.id)
            heapq.heappush(self.offline_due, (last_heard(d) + fresh + 1, d.id))
            self._heap_moved = True

    def pop_due(self) -> str:
        """The device due first for a look, out of the heap."""
        _at, device = heapq.heappop(self.offline_due)
        self.offline_pending.discard(device)
        self._heap_moved = True
        return device

    def unwritten_change(self) -> bool:
        """Whether fields writes() does not name moved since the last call (the offline heap)."""
        moved, self._heap_moved = self._heap_moved, False
        return moved

    # -- reads ---------------------------------------------------------------------------
    def bin_of(self, warehouse: bytes, code: str) -> Bin | None:
        """A bin, or None."""
        return self.bins.get((warehouse, code))

    def live_receipts(self) -> list[Receipt]:
        """Every valid receipt, in issue order."""
        return [r for r in self.receipts.values() if r.status == ReceiptStatus.VALID]

    def offers_of(self, opener: bytes) -> int:
        """Open offers of one opener."""
        return sum(1 for o in self.offers.values() if o.opener == opener)

    def withdrawal_order(self, number: str, height: int) -> Offer | None:
        """The receipt's open, unexpired withdrawal order, or None."""
        oid = self.withdrawals.get(number)
        o = self.offers.get(oid) if oid is not None else None
        return o if o is not None and o.expires >= height else None

    def orders_out(self, height: int) -> dict[str, int]:
        """Lot -> grams under open withdrawal orders of valid, unencumbered receipts."""
        out: dict[str, int] = {}
        for number in self.withdrawals:
            r = self.receipts.get(number)
            if r is None or r.status != "valid" or r.encumbrance:
                continue
            if self.withdrawal_order(number, height) is None:
                continue
            for lot_id, grams in r.lots:
                out[lot_id] = out.get(lot_id, 0) + grams
        return out

    def outgoing_g(self, b: Bin, orders: dict[str, int]) -> int:
        """Grams of the bin's lots under open withdrawal orders (orders: orders_out's)."""
        return sum(orders.get(lot, 0) for lot in b.lots)

    def sensed_g(self, b: Bin) -> tuple[int | None, list[Device]]:
        """The bin's sensed quantity (sum of its load cells' latest) and those cells."""
        cells = [self.devices[d] for d in b.devices if self.devices[d].kind == DeviceKind.LOAD_CELL]
        if not cells or any(c.latest is None for c in cells):
            return None, cells
        return sum(c.latest.grams for c in cells if c.latest is not None), cells

    def consistency(
        self, b: Bin, height: int, params: Params, orders: dict[str, int] | None = None
    ) -> Consistency:
        """The bin's goods-match figures now, and every reason they are not green.

        orders: orders_out(height), when the caller looks at many bins (one scan of offers).
        """
        sensed, cells = self.sensed_g(b)
        receipted = sum(self.lots[lot].receipted_g for lot in b.lots)
        outgoing = self.outgoing_g(b, self.orders_out(height) if orders is None else orders)
        bp = params.required("wr_tolerance_bp")
        tol = max(params.required("wr_tolerance_g_min"), b.book_g * bp // BP_PER_ONE)
        fresh = params.required("wr_reading_fresh_heights")
        problems: list[str] = []
        if not cells:
            problems.append("no_load_cell")
        elif sensed is None:
            problems.append("no_reading")
        for c in cells:
            if c.latest is not None and height - c.latest_height > fresh:
                problems.append(f"offline:{c.id}")
            if c.calibrated_until < height:
                problems.append(f"calibration:{c.id}")
            if c.latest is not None and c.latest.firmware != c.firmware:
                problems.append(f"firmware:{c.id}")
        if b.alarms:
            problems.append("alarms")
        if b.book_g > b.capacity_g:
            problems.append("over_capacity")
        if receipted > b.book_g:
            problems.append("receipted_over_book")
        if sensed is not None and not b.book_g - outgoing - tol <= sensed <= b.book_g + tol:
            problems.append("sensed_vs_book")
        return Consistency(
            sensed, b.book_g, receipted, outgoing, b.capacity_g, tol, tuple(problems)
        )

    # -- the namespace protocol -------------------------------------------------------------
    def writes(self) -> list[Any] | None:
        """[[table, key, record or None]...] and [[pledge, new marks]...] when changed."""
        if not self._dirty and not self._new_marks:
            return None
        tables: dict[str, dict[Any, Any]] = {
            _T_WAREHOUSE: self.warehouses,
            _T_BIN: self.bins,
            _T_DEVICE: self.devices,
            _T_LOT: self.lots,
            _T_RECEIPT: self.receipts,
            _T_PLEDGE: self.pledges,
            _T_PRICE: self.prices,
            _T_OFFER: self.offers,
        }
        rows = [[t, k, tables[t].get(k)] for t, k in sorted(self._dirty, key=_row_order)]
        marks = [[p, self._new_marks[p]] for p in sorted(self._new_marks)]
        self._dirty.clear()
        self._new_marks.clear()
        return [rows, marks]

    def status(self) -> dict[str, Any]:
        """Nothing for `govchain status`: the warehouse has its own views (/v1/wr/...)."""
        return {}


def last_heard(d: Device) -> int:
    """The height of d's latest reading, or of its registration when it never read."""
    return d.latest_height if d.latest is not None else d.registered


def _row_order(row: tuple[str, Any]) -> tuple[str, bytes]:
    """A total order over dirty keys of any table (keys are bytes, str or tuples of them)."""
    table, key = row
    return table, msgspec.msgpack.encode(key)

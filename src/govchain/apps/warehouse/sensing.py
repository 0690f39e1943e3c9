"""Device readings reaching the chain: checked, recorded, and turned into alarms.

A `wr.readings` batch is all or nothing: an unknown device, a bad signature, a
replayed counter or a malformed reading refuses the whole batch (the gateway
relays; it cannot pick what the chain keeps). An accepted reading moves its
device's counter, latest reading and rolling digest, then raises the alarms it
shows (docs/warehouse.md, "Goods match receipts"). An alarm suspends pledges
and releases on its bin until an inspection clears it.
"""

from __future__ import annotations

from govchain.apps.warehouse.book import ALARMS_PER_BIN_MAX, NAMESPACE, WarehouseBook, last_heard
from govchain.apps.warehouse.env import refuse
from govchain.apps.warehouse.ops import ReadingsPayload
from govchain.apps.warehouse.params import tolerance_g
from govchain.apps.warehouse.readings import (
    READINGS_PER_BATCH_MAX,
    DeviceKind,
    reading_problem,
    roll,
    signature_ok,
)
from govchain.apps.warehouse.records import Alarm, AlarmKind, Bin, Device
from govchain.state.context import Stores
from govchain.state.params import Params


def check_batch(book: WarehouseBook, batch: ReadingsPayload) -> None:
    """Refuse the batch unless every reading is well formed, known, signed and new."""
    if not 0 < len(batch.readings) <= READINGS_PER_BATCH_MAX:
        raise refuse("bad_batch")
    counters: dict[str, int] = {}
    for signed in batch.readings:
        r = signed.reading
        if reading_problem(r) is not None:
            raise refuse("reading_malformed")
        d = book.devices.get(r.device)
        if d is None:
            raise refuse("reading_unknown_device")
        if r.counter <= counters.get(r.device, d.counter):
            raise refuse("reading_replayed")
        counters[r.device] = r.counter
        if not signature_ok(d.public_key, signed):
            raise refuse("reading_signature")


def record_batch(
    book: WarehouseBook, batch: ReadingsPayload, height: int, tx_id: bytes, params: Params
) -> None:
    """Record a checked batch and raise what it shows."""
    orders = book.orders_out(height)  # once per batch: an offer scan per reading would not scale
    fresh = params.required("wr_reading_fresh_heights")
    for signed in batch.readings:
        r = signed.reading
        d = book.devices[r.device]
        d.counter, d.latest, d.latest_height, d.latest_tx = r.counter, r, height, tx_id
        d.digest = roll(d.digest, r)
        d.readings += 1
        book.touch_device(d)
        book.watch_device(d, fresh)
        b = book.bins[(d.warehouse, d.bin)]
        if r.firmware != d.firmware:
            _alarm(book, b, d, AlarmKind.FIRMWARE, height, tx_id, r.firmware.hex())
        if d.calibrated_until < height:
            _alarm(book, b, d, AlarmKind.CALIBRATION, height, tx_id, str(d.calibrated_until))
        if d.kind == DeviceKind.LOAD_CELL:
            _weight(book, b, d, height, tx_id, params, orders)
        elif d.kind in (DeviceKind.RFID, DeviceKind.GATE):
            _tags(book, d, r.tags, height, tx_id, orders)


def _weight(
    book: WarehouseBook,
    b: Bin,
    d: Device,
    height: int,
    tx_id: bytes,
    p: Params,
    orders: dict[str, int],
) -> None:
    sensed, _cells = book.sensed_g(b)
    if sensed is None:
        return
    low = b.book_g - book.outgoing_g(b, orders) - tolerance_g(p, b.book_g)
    if sensed < low:
        _alarm(
            book,
            b,
            d,
            AlarmKind.WEIGHT_DRIFT,
            height,
            tx_id,
            f"sensed {sensed} g, book {b.book_g} g",
        )
    if sensed > b.capacity_g:
        _alarm(
            book,
            b,
            d,
            AlarmKind.CAPACITY,
            height,
            tx_id,
            f"sensed {sensed} g, capacity {b.capacity_g} g",
        )


def _tags(
    book: WarehouseBook,
    d: Device,
    tags: tuple[str, ...],
    height: int,
    tx_id: bytes,
    orders: dict[str, int],
) -> None:
    """Tags of live lots leaving their bin (a reader) or the warehouse (the gate), unordered."""
    for tag in sorted(set(tags)):
        lot_id = book.live_tags.get(tag)
        if lot_id is None:
            continue
        lot = book.lots[lot_id]
        if lot.warehouse != d.warehouse or lot_id in orders:
            continue
        if d.kind == DeviceKind.RFID and lot.bin != d.bin:
            continue
        where = book.bins[(lot.warehouse, lot.bin)]
        kind = AlarmKind.TAG_LEFT if d.kind == DeviceKind.RFID else AlarmKind.GATE
        _alarm(book, where, d, kind, height, tx_id, f"{tag} of lot {lot_id}")


def _alarm(
    book: WarehouseBook, b: Bin, d: Device, kind: AlarmKind, height: int, tx_id: bytes, detail: str
) -> None:
    """Raise an alarm on a bin, once per (kind, device) while one is in force."""
    if any(a.kind == kind and a.device == d.id for a in b.alarms):
        return
    if len(b.alarms) >= ALARMS_PER_BIN_MAX:
        return  # the bin is suspended already; the evidence stays in the device's stream
    book.alarm_seq += 1
    if not book.alarm_heights or book.alarm_heights[-1] != height:
        book.alarm_heights.append(height)
    b.alarms.append(Alarm(book.alarm_seq, kind.value, height, d.id, tx_id, detail[:256]))
    book.touch_bin(b)


def raise_offline(height: int, stores: Stores) -> None:
    """At the end of a height: a device silent for more than wr_reading_fresh_heights alarms.

    Execution has no clock, so the end of each height is when silence is noticed;
    the heap holds one entry per device, due when its silence would be too long.
    """
    book = stores.namespace(NAMESPACE, WarehouseBook)
    due = book.offline_due
    if not due or due[0][0] > height:
        return
    fresh = stores.params.required("wr_reading_fresh_heights")
    while due and due[0][0] <= height:
        d = book.devices[book.pop_due()]
        heard = last_heard(d)
        if height - heard > fresh:
            b = book.bins[(d.warehouse, d.bin)]
            _alarm(book, b, d, AlarmKind.OFFLINE, height, b"", f"no reading since height {heard}")
        else:
            book.watch_device(d, fresh)  # it read meanwhile, or the parameter grew

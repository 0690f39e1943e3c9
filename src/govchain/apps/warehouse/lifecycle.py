"""Transitions of warehouses, devices, lots and receipts (pledges are in financing.py).

Each transition is two functions: `parties_*` (who may open it, and who else must
sign: refuses an opener who may not) and the transition itself, which checks
everything and returns before writing when `env.executing` is False (an offer
being opened). See docs/warehouse.md for the table.
"""

from __future__ import annotations

from govchain.apps.warehouse.book import (
    BINS_PER_WAREHOUSE_MAX,
    DEVICES_MAX,
    INSPECTIONS_KEPT,
    LOTS_MAX,
    RECEIPTS_MAX,
    RECEIPTS_PER_PLEDGE_MAX,
    WAREHOUSES_MAX,
)
from govchain.apps.warehouse.commitment import (
    TEXT_CHARS_MAX,
    CommitmentError,
    canonical_tags,
    commitment_of,
)
from govchain.apps.warehouse.env import (
    NAME_CHARS_MAX,
    ROLE_DEPOSITOR,
    ROLE_INSPECTOR,
    ROLE_SUPERVISOR,
    ROLE_WAREHOUSE,
    Env,
    number_ok,
    refuse,
)
from govchain.apps.warehouse.ops import (
    AddBin,
    Endorse,
    Inspect,
    Intake,
    Issue,
    Merge,
    OpenWarehouse,
    RegisterDevice,
    Split,
    Withdraw,
)
from govchain.apps.warehouse.params import tolerance_g
from govchain.apps.warehouse.readings import DEVICE_ID_CHARS_MAX, DeviceKind
from govchain.apps.warehouse.records import (
    Bin,
    Device,
    Inspection,
    Lot,
    Receipt,
    ReceiptStatus,
    Warehouse,
)
from govchain.apps.warehouse.units import QUANTITY_G_MAX
from govchain.codec import HASH_BYTES
from govchain.crypto.keys import ADDRESS_BYTES, point_is_acceptable

LOTS_PER_RECEIPT_MAX = 64
CHILDREN_MAX = 64
DEVICES_PER_BIN_MAX = 64


# -- warehouses and bins ------------------------------------------------------------------
def parties_open_warehouse(env: Env, op: OpenWarehouse) -> tuple[bytes, ...]:
    """The operator opens; the supervisor signs."""
    env.need_role(env.sender, ROLE_WAREHOUSE)
    if len(op.supervisor) != ADDRESS_BYTES or op.supervisor == env.sender:
        raise refuse("bad_supervisor")
    return (op.supervisor,)


def open_warehouse(env: Env, op: OpenWarehouse) -> None:
    """A warehouse at the operator's address, with its bins."""
    book = env.book
    if env.sender in book.warehouses:
        raise refuse("warehouse_exists")
    if len(book.warehouses) >= WAREHOUSES_MAX:
        raise refuse("limit_reached")
    env.need_role(op.supervisor, ROLE_SUPERVISOR)
    if not 0 < len(op.name) <= NAME_CHARS_MAX or op.name != op.name.strip():
        raise refuse("bad_name")
    codes = [code for code, _ in op.bins]
    if not 0 < len(codes) <= BINS_PER_WAREHOUSE_MAX or len(set(codes)) != len(codes):
        raise refuse("bad_bins")
    for code, capacity in op.bins:
        _bin_ok(code, capacity)
    if not env.executing:
        return
    book.warehouses[env.sender] = w = Warehouse(env.sender, op.name, op.supervisor, env.height, [])
    for code, capacity in op.bins:
        _new_bin(env, w, code, capacity)
    book.touch_warehouse(w)


def _bin_ok(code: str, capacity: int) -> None:
    if not number_ok(code) or len(code) > TEXT_CHARS_MAX:
        raise refuse("bad_bin_code")
    if not 0 < capacity <= QUANTITY_G_MAX:
        raise refuse("bad_capacity")


def _new_bin(env: Env, w: Warehouse, code: str, capacity: int) -> None:
    b = Bin(w.address, code, capacity, [], [])
    env.book.bins[(w.address, code)] = b
    w.bins.append(code)
    env.book.touch_bin(b)


def operator_only(env: Env, _op: object) -> tuple[bytes, ...]:
    """The sender must run a warehouse and still hold the role; nobody else signs."""
    if env.sender not in env.book.warehouses:
        raise refuse("not_a_warehouse")
    env.need_role(env.sender, ROLE_WAREHOUSE)
    return ()


def add_bin(env: Env, op: AddBin) -> None:
    """A new bin, or a bin's new capacity (never below its book)."""
    w = env.book.warehouses[env.sender]
    _bin_ok(op.bin, op.capacity_g)
    b = env.book.bin_of(w.address, op.bin)
    if b is None and len(w.bins) >= BINS_PER_WAREHOUSE_MAX:
        raise refuse("limit_reached")
    if b is not None and op.capacity_g < b.book_g:
        raise refuse("capacity_below_book")
    if not env.executing:
        return
    if b is None:
        _new_bin(env, w, op.bin, op.capacity_g)
        env.book.touch_warehouse(w)
    else:
        b.capacity_g = op.capacity_g
        env.book.touch_bin(b)


# -- devices ------------------------------------------------------------------------------
def parties_register_device(env: Env, op: RegisterDevice) -> tuple[bytes, ...]:
    """The operator registers; its supervisor signs (independent supervision)."""
    operator_only(env, op)
    return (env.book.warehouses[env.sender].supervisor,)


def register_device(env: Env, op: RegisterDevice) -> None:
    """A device on a bin with its key, calibration and firmware (or recalibrated)."""
    book = env.book
    if not number_ok(op.device) or len(op.device) > DEVICE_ID_CHARS_MAX:
        raise refuse("bad_device_id")
    if op.device_kind not in {k.value for k in DeviceKind}:
        raise refuse("bad_device_kind")
    b = book.bin_of(env.sender, op.bin)
    if b is None:
        raise refuse("unknown_bin")
    if len(op.public_key) != 32 or not point_is_acceptable(op.public_key):
        raise refuse("bad_device_key")
    if len(op.firmware) != HASH_BYTES:
        raise refuse("bad_firmware")
    if op.calibrated_until < env.height:
        raise refuse("calibration_expired")
    old = book.devices.get(op.device)
    if old is not None and (old.warehouse != env.sender or old.kind != op.device_kind):
        raise refuse("device_exists")
    if old is None and len(book.devices) >= DEVICES_MAX:
        raise refuse("limit_reached")
    if old is None and len(b.devices) >= DEVICES_PER_BIN_MAX:
        raise refuse("limit_reached")
    if not env.executing:
        return
    if old is None:
        d = Device(
            op.device,
            op.device_kind,
            env.sender,
            op.bin,
            op.public_key,
            op.calibrated_until,
            op.firmware,
            env.height,
        )
        book.devices[op.device] = d
        b.devices.append(op.device)
        book.touch_bin(b)
        book.watch_device(d, env.params.required("wr_reading_fresh_heights"))
    else:
        d = old
        if d.bin != op.bin:
            moved_from = book.bins[(d.warehouse, d.bin)]
            moved_from.devices.remove(d.id)
            book.touch_bin(moved_from)
            b.devices.append(d.id)
            book.touch_bin(b)
        if d.bin != op.bin or d.public_key != op.public_key:
            d.latest = None  # what it read belongs to its old place or key
        d.bin, d.public_key = op.bin, op.public_key
        d.calibrated_until, d.firmware = op.calibrated_until, op.firmware
    book.touch_device(d)


def fresh_reading(env: Env, device_id: str, warehouse: bytes, kind: str) -> Device:
    """A device of the warehouse of that kind whose latest reading is fresh and trusted."""
    d = env.book.devices.get(device_id)
    if d is None or d.warehouse != warehouse or d.kind != kind:
        raise refuse(f"no_{kind}")
    if d.latest is None or env.height - d.latest_height > env.params.required(
        "wr_reading_fresh_heights"
    ):
        raise refuse(f"{kind}_reading_stale")
    if d.calibrated_until < env.height:
        raise refuse(f"{kind}_calibration_expired")
    if d.latest.firmware != d.firmware:
        raise refuse(f"{kind}_firmware_mismatch")
    return d


# -- lots ---------------------------------------------------------------------------------
def intake(env: Env, op: Intake) -> None:
    """Goods weighed in become a lot: net = gross - tare, tags and commitment unused."""
    book = env.book
    b = book.bin_of(env.sender, op.bin)
    if b is None:
        raise refuse("unknown_bin")
    if b.alarms:
        raise refuse("bin_suspended")
    if not number_ok(op.lot) or op.lot in book.lots:
        raise refuse("bad_lot_id")
    if len(book.lots) >= LOTS_MAX:
        raise refuse("limit_reached")
    if len(op.certificate) not in (0, HASH_BYTES):
        raise refuse("bad_certificate")
    if not op.tags:
        raise refuse("no_tags")
    try:
        commitment = commitment_of(env.sender, op.bin, op.tags, op.spec, op.salt)
    except CommitmentError as e:
        raise refuse(str(e)) from None
    if commitment in book.live_commitments:
        raise refuse("commitment_in_use")
    tags = canonical_tags(op.tags)
    if any(t in book.live_tags for t in tags):
        raise refuse("tags_in_use")
    if b.book_g + op.spec.net_g > b.capacity_g:
        raise refuse("over_capacity")
    scale = fresh_reading(env, op.weighbridge, env.sender, DeviceKind.WEIGHBRIDGE)
    assert scale.latest is not None
    if abs(scale.latest.grams - op.spec.gross_g) > tolerance_g(env.params, op.spec.gross_g):
        raise refuse("gross_not_weighed")
    if scale.used_counter >= scale.counter:
        raise refuse("weighing_used")  # one truck weighed in books one lot
    if not env.executing:
        return
    lot = Lot(
        op.lot,
        env.sender,
        op.bin,
        op.spec,
        tags,
        commitment,
        op.certificate,
        op.spec.net_g,
        0,
        env.height,
        env.tx_id,
        (scale.id, scale.counter),
    )
    book.lots[op.lot] = lot
    book.live_commitments[commitment] = op.lot
    for t in tags:
        book.live_tags[t] = op.lot
    b.lots.append(op.lot)
    b.book_g += op.spec.net_g
    scale.used_counter = scale.counter
    book.touch_device(scale)
    book.touch_lot(lot)
    book.touch_bin(b)


def bins_green(env: Env, bins: set[tuple[bytes, str]]) -> tuple[tuple[str, int], ...]:
    """Refuse unless every bin's goods match (fresh); the load cells' readings as evidence."""
    evidence: list[tuple[str, int]] = []
    for key in sorted(bins):
        b = env.book.bins[key]
        c = env.book.consistency(b, env.height, env.params)
        if b.alarms:
            raise refuse("bin_suspended")
        if not c.green:
            raise refuse("goods_mismatch")
        evidence += [
            (d, env.book.devices[d].counter)
            for d in b.devices
            if env.book.devices[d].kind == DeviceKind.LOAD_CELL
        ]
    return tuple(evidence)


def bins_of(env: Env, receipts: list[Receipt]) -> set[tuple[bytes, str]]:
    """The bins holding a receipt's goods."""
    lots = env.book.lots
    return {(lots[lot].warehouse, lots[lot].bin) for r in receipts for lot, _ in r.lots}


# -- receipts -----------------------------------------------------------------------------
def parties_issue(env: Env, op: Issue) -> tuple[bytes, ...]:
    """The operator issues; the supervisor and the depositor (holder) sign."""
    operator_only(env, op)
    if len(op.holder) != ADDRESS_BYTES or op.holder == env.sender:
        raise refuse("bad_holder")
    return (env.book.warehouses[env.sender].supervisor, op.holder)


def _new_number(env: Env, number: str) -> None:
    if not number_ok(number):
        raise refuse("bad_number")
    if number in env.book.receipts:
        raise refuse("number_used")
    if len(env.book.receipts) >= RECEIPTS_MAX:
        raise refuse("limit_reached")


def _lots_ok(env: Env, warehouse: bytes, lots: tuple[tuple[str, int], ...]) -> str:
    """Refuse bad (lot, grams) lists; returns their one commodity."""
    ids = [lot for lot, _ in lots]
    if not 0 < len(ids) <= LOTS_PER_RECEIPT_MAX or len(set(ids)) != len(ids):
        raise refuse("bad_lots")
    commodities = set()
    for lot_id, grams in lots:
        lot = env.book.lots.get(lot_id)
        if lot is None or lot.warehouse != warehouse or not lot.live:
            raise refuse("unknown_lot")
        if not 0 < grams <= QUANTITY_G_MAX:
            raise refuse("bad_quantity")
        commodities.add(lot.spec.commodity)
    if len(commodities) != 1:
        raise refuse("mixed_commodities")
    return commodities.pop()


def issue(env: Env, op: Issue) -> None:
    """A receipt on lots: Σ receipted <= in stock, the bins' goods match."""
    book = env.book
    _new_number(env, op.number)
    env.need_identified(op.holder, "holder")
    env.need_role(op.holder, ROLE_DEPOSITOR)
    env.need_role(book.warehouses[env.sender].supervisor, ROLE_SUPERVISOR)
    if len(op.document) != HASH_BYTES:
        raise refuse("bad_document")
    commodity = _lots_ok(env, env.sender, op.lots)
    for lot_id, grams in op.lots:
        lot = book.lots[lot_id]
        if lot.receipted_g + grams > lot.quantity_g:
            raise refuse("over_stock")
    bins = {(env.sender, book.lots[lot].bin) for lot, _ in op.lots}
    evidence = bins_green(env, bins)
    if not env.executing:
        return
    for lot_id, grams in op.lots:
        lot = book.lots[lot_id]
        lot.receipted_g += grams
        book.touch_lot(lot)
    r = Receipt(
        op.number,
        env.sender,
        env.sender,
        op.lots,
        op.holder,
        op.holder,
        ReceiptStatus.VALID,
        op.document,
        commodity,
        sum(g for _, g in op.lots),
    )
    book.receipts[op.number] = r
    env.version(r, "issue", readings=evidence)


def parties_holder(env: Env, number: str) -> None:
    """Refuse unless the sender holds the receipt."""
    r = env.receipt(number)
    if r.holder != env.sender:
        raise refuse("not_holder")


def parties_endorse(env: Env, op: Endorse) -> tuple[bytes, ...]:
    """The holder endorses; the transferee signs."""
    parties_holder(env, op.number)
    if len(op.to) != ADDRESS_BYTES or op.to == env.sender:
        raise refuse("bad_transferee")
    return (op.to,)


def endorse(env: Env, op: Endorse) -> None:
    """Title (and possession) pass to an identified transferee: unencumbered, not frozen."""
    r = env.receipt(op.number)
    env.movable(r)
    env.history_room(r)
    env.not_ordered_out(r)
    if r.encumbrance:
        raise refuse("encumbered")
    env.need_identified(op.to, "transferee")
    if not env.executing:
        return
    r.holder = r.controller = op.to
    env.version(r, "endorse")


def parties_split(env: Env, op: Split | Merge) -> tuple[bytes, ...]:
    """The receipt's warehouse splits or merges."""
    operator_only(env, op)
    return ()


def split(env: Env, op: Split) -> None:
    """Children replace a receipt: per lot, grams sum to the parent's; encumbrances carried."""
    parent = env.receipt(op.number)
    if parent.warehouse != env.sender:
        raise refuse("not_this_warehouse")
    env.movable(parent)
    env.history_room(parent)
    env.not_ordered_out(parent)
    if not 2 <= len(op.children) <= CHILDREN_MAX:
        raise refuse("bad_children")
    numbers = [n for n, _ in op.children]
    if len(set(numbers)) != len(numbers):
        raise refuse("bad_children")
    totals: dict[str, int] = {}
    for number, lots in op.children:
        _new_number(env, number)
        _lots_ok(env, env.sender, lots)
        for lot, grams in lots:
            totals[lot] = totals.get(lot, 0) + grams
    if totals != dict(parent.lots):
        raise refuse("children_not_parent")
    if parent.encumbrance:
        carried = len(env.book.pledges[parent.encumbrance].receipts) - 1 + len(op.children)
        if carried > RECEIPTS_PER_PLEDGE_MAX:
            raise refuse("pledge_receipts_full")
    if not env.executing:
        return
    _replace(env, [parent], [(n, lots) for n, lots in op.children], ReceiptStatus.SPLIT, "split")


def merge(env: Env, op: Merge) -> None:
    """One receipt replaces several of one holder, controller, encumbrance and commodity."""
    if not 2 <= len(op.numbers) <= CHILDREN_MAX or len(set(op.numbers)) != len(op.numbers):
        raise refuse("bad_receipts")
    parents = [env.receipt(n) for n in op.numbers]
    first = parents[0]
    for r in parents:
        if r.warehouse != env.sender:
            raise refuse("not_this_warehouse")
        env.movable(r)
        env.history_room(r)
        env.not_ordered_out(r)
        same = (r.holder, r.controller, r.encumbrance, r.commodity)
        if same != (first.holder, first.controller, first.encumbrance, first.commodity):
            raise refuse("receipts_differ")
    _new_number(env, op.into)
    totals: dict[str, int] = {}
    for r in parents:
        for lot, grams in r.lots:
            totals[lot] = totals.get(lot, 0) + grams
    lots = tuple(sorted(totals.items()))
    if len(lots) > LOTS_PER_RECEIPT_MAX:
        raise refuse("bad_lots")
    if not env.executing:
        return
    _replace(env, parents, [(op.into, lots)], ReceiptStatus.MERGED, "merge")


def _replace(
    env: Env,
    parents: list[Receipt],
    children: list[tuple[str, tuple[tuple[str, int], ...]]],
    ended: ReceiptStatus,
    transition: str,
) -> None:
    """Children take the parents' place, carrying holder, controller and encumbrance."""
    book = env.book
    first = parents[0]
    made = []
    for number, lots in children:
        child = Receipt(
            number,
            first.warehouse,
            env.sender,
            lots,
            first.holder,
            first.controller,
            ReceiptStatus.VALID,
            first.document,
            first.commodity,
            sum(g for _, g in lots),
            encumbrance=first.encumbrance,
            parent=first.number if len(parents) == 1 else "",
        )
        book.receipts[number] = child
        made.append(number)
        env.version(child, transition, note=",".join(p.number for p in parents))
    for p in parents:
        p.status = ReceiptStatus(ended).value
        p.children = tuple(made)
        env.version(p, transition, note=",".join(made))
    if first.encumbrance:
        pledge = book.pledges[first.encumbrance]
        gone = {p.number for p in parents}
        pledge.receipts = [n for n in pledge.receipts if n not in gone] + made
        book.touch_pledge(pledge)


def parties_withdraw(env: Env, op: Withdraw) -> tuple[bytes, ...]:
    """The controller orders the goods out; the warehouse signs once they left."""
    r = env.receipt(op.number)
    if r.controller != env.sender:
        raise refuse("not_controller")
    return (r.warehouse,)


def withdraw(env: Env, op: Withdraw) -> None:
    """Goods out: weighed out within tolerance, seen at the gate; the number is never reused."""
    book = env.book
    r = env.receipt(op.number)
    env.movable(r)
    env.history_room(r)
    env.not_ordered_out(r)  # one order at a time: goods leave once
    if r.encumbrance:
        raise refuse("encumbered")
    if not env.executing:
        return
    scale = _latest_since(env, r.warehouse, DeviceKind.WEIGHBRIDGE)
    assert scale.latest is not None
    if abs(scale.latest.grams - r.quantity_g) > tolerance_g(env.params, r.quantity_g):
        raise refuse("outbound_weight_mismatch")
    gate = _latest_since(env, r.warehouse, DeviceKind.GATE)
    for lot_id, grams in r.lots:
        lot = book.lots[lot_id]
        b = book.bins[(lot.warehouse, lot.bin)]
        lot.quantity_g -= grams
        lot.receipted_g -= grams
        b.book_g -= grams
        if not lot.live:
            book.live_commitments.pop(lot.commitment, None)
            for t in lot.tags:
                book.live_tags.pop(t, None)
            b.lots.remove(lot_id)
        book.touch_lot(lot)
        book.touch_bin(b)
    r.status = ReceiptStatus.CANCELLED.value
    readings = ((scale.id, scale.counter), (gate.id, gate.counter))
    env.version(r, "withdraw", readings=readings)


def _latest_since(env: Env, warehouse: bytes, kind: str) -> Device:
    """The warehouse's device of kind with the newest reading since the order opened."""
    best: Device | None = None
    for d in env.book.devices.values():
        if d.warehouse != warehouse or d.kind != kind or d.latest is None:
            continue
        if d.latest_height >= env.opened and (best is None or d.latest_height > best.latest_height):
            best = d
    if best is None:
        raise refuse(f"no_{kind}_since_order")
    fresh_reading(env, best.id, warehouse, kind)
    return best


# -- inspections ----------------------------------------------------------------------------
def parties_inspect(env: Env, _op: Inspect) -> tuple[bytes, ...]:
    """An inspector inspects alone."""
    env.need_role(env.sender, ROLE_INSPECTOR)
    return ()


def inspect(env: Env, op: Inspect) -> None:
    """An inspection that finds the book's goods clears the bin's alarms."""
    b = env.book.bin_of(op.warehouse, op.bin)
    if b is None:
        raise refuse("unknown_bin")
    if len(op.report) != HASH_BYTES:
        raise refuse("bad_report")
    if not 0 <= op.found_g <= QUANTITY_G_MAX:
        raise refuse("bad_quantity")
    if abs(op.found_g - b.book_g) > tolerance_g(env.params, b.book_g):
        raise refuse("inspection_shortfall")
    if not env.executing:
        return
    cleared = tuple(a.seq for a in b.alarms)
    b.inspections.append(Inspection(env.height, env.sender, op.found_g, op.report, cleared))
    del b.inspections[:-INSPECTIONS_KEPT]
    b.alarms.clear()
    env.book.touch_bin(b)

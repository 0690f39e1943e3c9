"""The warehouse's JSON documents (GET /v1/wr/..., `govchain wr ...`): pure functions of the book.

The book, the parameters in force and the executed height go in; plain dicts
come out (addresses, ids and hashes as lowercase hex; an empty hash or id as
null). Nothing here writes: a reader cannot change the book by mistake.

"ltv" is a pledge's LTV at today's price as a fraction (ltv_bp / 10,000, e.g.
0.8) at the price a transition would use now (financing.ltv_today: the lower
of the two sources, with their alarms' extra haircut). null when nothing
prices the commodity, or when there is no live pledge.
"""

from __future__ import annotations

from typing import Any

import msgspec

from govchain.apps.warehouse.book import WarehouseBook
from govchain.apps.warehouse.financing import ACTIVE, ENFORCEABLE, ltv_today
from govchain.apps.warehouse.kind import OFFER_OPEN
from govchain.apps.warehouse.ops import AnyOp, ReadingsPayload, op_name
from govchain.apps.warehouse.params import valuation_params
from govchain.apps.warehouse.readings import Reading
from govchain.apps.warehouse.records import (
    Alarm,
    Bin,
    Call,
    Device,
    Inspection,
    Lot,
    Mark,
    Offer,
    PledgeRec,
    PriceRec,
    Receipt,
    Version,
    Warehouse,
)
from govchain.apps.warehouse.units import BP_PER_ONE
from govchain.apps.warehouse.valuation import (
    band_of,
)
from govchain.state.params import Params

LIVE_PLEDGE = frozenset({ACTIVE, ENFORCEABLE})
OFFER_LAPSED = "lapsed"  # an open offer past its last height (the book drops it later)


def _hex_or_none(value: bytes) -> str | None:
    return value.hex() if value else None


def _text_or_none(value: str) -> str | None:
    return value or None


# -- prices and LTV ---------------------------------------------------------------------
def pledge_ltv(book: WarehouseBook, params: Params, p: PledgeRec) -> tuple[int | None, str | None]:
    """A live pledge's LTV (bp) and band at today's price; (None, None) when unpriced or ended."""
    if p.status not in LIVE_PLEDGE:
        return None, None
    ltv = ltv_today(book, params, p)
    if ltv is None:
        return None, None
    return ltv, band_of(ltv, valuation_params(params).bands).value


def ltv_fraction(bp: int | None) -> float | None:
    """Basis points as a fraction (8,000 -> 0.8); None stays None."""
    return None if bp is None else bp / BP_PER_ONE


# -- warehouses and bins ----------------------------------------------------------------
def warehouse_json(w: Warehouse) -> dict[str, Any]:
    """A warehouse: its address (the operator's), name, supervisor, bins, opening height."""
    return {
        "address": w.address.hex(),
        "name": w.name,
        "supervisor": w.supervisor.hex(),
        "bins": list(w.bins),
        "opened": w.opened,
    }


def alarm_json(a: Alarm) -> dict[str, Any]:
    """An alarm in force, with the transaction that carried its evidence."""
    return {
        "seq": a.seq,
        "kind": a.kind,
        "height": a.height,
        "device": a.device,
        "tx": a.tx.hex(),
        "detail": a.detail,
    }


def inspection_json(i: Inspection) -> dict[str, Any]:
    """An inspector's finding and the alarms it cleared."""
    return {
        "height": i.height,
        "inspector": i.inspector.hex(),
        "found_g": i.found_g,
        "report": i.report.hex(),
        "cleared": list(i.cleared),
    }


def bin_json(
    book: WarehouseBook,
    b: Bin,
    height: int,
    params: Params,
    orders: dict[str, int] | None = None,
) -> dict[str, Any]:
    """A bin's goods-match figures (货单一致) now, its alarms, devices, lots, inspections.

    orders: book.orders_out(height), computed once for a page of bins.
    """
    c = book.consistency(b, height, params, orders)
    return {
        "bin": b.code,
        "capacity_g": b.capacity_g,
        "sensed_g": c.sensed_g,
        "book_g": c.book_g,
        "receipted_g": c.receipted_g,
        "outgoing_g": c.outgoing_g,
        "tolerance_g": c.tolerance_g,
        "green": c.green,
        "problems": list(c.problems),
        "alarms": [alarm_json(a) for a in b.alarms],
        "devices": list(b.devices),
        "lots": list(b.lots),
        "inspections": [inspection_json(i) for i in b.inspections],
    }


# -- receipts and lots ------------------------------------------------------------------
def receipt_summary_json(r: Receipt) -> dict[str, Any]:
    """A receipt in a list: who holds and controls it, what and how much, its standing."""
    return {
        "number": r.number,
        "status": str(r.status),
        "holder": r.holder.hex(),
        "controller": r.controller.hex(),
        "warehouse": r.warehouse.hex(),
        "commodity": r.commodity,
        "quantity_g": r.quantity_g,
        "encumbrance": _text_or_none(r.encumbrance),
        "frozen_by": _text_or_none(r.frozen_by),
        "enforcement": r.enforcement,
        "version": len(r.versions),
    }


def version_json(v: Version) -> dict[str, Any]:
    """One step of a receipt's history: who signed, and the readings and prices behind it."""
    return {
        "version": v.version,
        "height": v.height,
        "tx": v.tx.hex(),
        "transition": v.transition,
        "signers": [s.hex() for s in v.signers],
        "holder": v.holder.hex(),
        "controller": v.controller.hex(),
        "status": str(v.status),
        "readings": [{"device": d, "counter": n} for d, n in v.readings],
        "prices": [{"commodity": c, "source": s, "day": d} for c, s, d in v.prices],
        "note": v.note,
    }


def receipt_json(book: WarehouseBook, r: Receipt, params: Params) -> dict[str, Any]:
    """A receipt with its encumbrance, LTV and band at today's price, and every version."""
    encumbrances = []
    ltv: int | None = None
    band: str | None = None
    pledge = book.pledges.get(r.encumbrance) if r.encumbrance else None
    if pledge is not None:
        encumbrances.append(
            {
                "pledge": pledge.id,
                "bank": pledge.bank.hex(),
                "outstanding_fen": pledge.outstanding_fen,
                "status": pledge.status,
            }
        )
        ltv, band = pledge_ltv(book, params, pledge)
    return {
        "number": r.number,
        "status": str(r.status),
        "holder": r.holder.hex(),
        "controller": r.controller.hex(),
        "warehouse": r.warehouse.hex(),
        "issuer": r.issuer.hex(),
        "commodity": r.commodity,
        "quantity_g": r.quantity_g,
        "lots": [{"lot": lot, "grams": g} for lot, g in r.lots],
        "encumbrances": encumbrances,
        "frozen_by": _text_or_none(r.frozen_by),
        "enforcement": r.enforcement,
        "ltv": ltv_fraction(ltv),
        "band": band,
        "parent": _text_or_none(r.parent),
        "children": list(r.children),
        "document": r.document.hex(),
        "version": len(r.versions),
        "history": [version_json(v) for v in r.versions],
    }


def lot_json(lot: Lot) -> dict[str, Any]:
    """A lot: what the goods are, where, their commitment, and how much receipts cover."""
    s = lot.spec
    device, counter = lot.evidence
    return {
        "id": lot.id,
        "warehouse": lot.warehouse.hex(),
        "bin": lot.bin,
        "spec": {
            "commodity": s.commodity,
            "brand": s.brand,
            "grade": s.grade,
            "pieces": s.pieces,
            "gross_g": s.gross_g,
            "tare_g": s.tare_g,
            "net_g": s.net_g,
        },
        "tags": list(lot.tags),
        "commitment": lot.commitment.hex(),
        "certificate": _hex_or_none(lot.certificate),
        "quantity_g": lot.quantity_g,
        "receipted_g": lot.receipted_g,
        "intake_height": lot.intake_height,
        "intake_tx": _hex_or_none(lot.intake_tx),
        "evidence": {"device": device, "counter": counter},
        "live": lot.live,
    }


# -- devices ----------------------------------------------------------------------------
def reading_json(r: Reading) -> dict[str, Any]:
    """A reading as its device signed it."""
    return {
        "device": r.device,
        "counter": r.counter,
        "time_ms": r.time_ms,
        "grams": r.grams,
        "tags": list(r.tags),
        "firmware": r.firmware.hex(),
        "raw": _hex_or_none(r.raw),
    }


def device_json(d: Device, height: int, params: Params) -> dict[str, Any]:
    """A device, its latest reading and rolling digest; offline when not read freshly."""
    fresh = params.required("wr_reading_fresh_heights")
    return {
        "id": d.id,
        "kind": d.kind,
        "warehouse": d.warehouse.hex(),
        "bin": d.bin,
        "public_key": d.public_key.hex(),
        "calibrated_until": d.calibrated_until,
        "firmware": d.firmware.hex(),
        "registered": d.registered,
        "counter": d.counter,
        "latest": None if d.latest is None else reading_json(d.latest),
        "latest_height": d.latest_height if d.latest is not None else None,
        "latest_tx": _hex_or_none(d.latest_tx),
        "digest": d.digest.hex(),
        "readings": d.readings,
        "offline": d.latest is None or height - d.latest_height > fresh,
    }


# -- pledges, valuations, prices --------------------------------------------------------
def call_json(c: Call) -> dict[str, Any]:
    """A margin call: its day, deadline, the least cure, and when it was cured."""
    return {
        "day": c.day,
        "height": c.height,
        "deadline_day": c.deadline_day,
        "repay_fen": c.repay_fen,
        "more_g": c.more_g,
        "cured_height": c.cured_height,
        "open": c.cured_height is None,
    }


def mark_json(m: Mark) -> dict[str, Any]:
    """One day's valuation of a pledge."""
    return {
        "day": m.day,
        "height": m.height,
        "fen_per_tonne": m.fen_per_tonne,
        "eligible_fen": m.eligible_fen,
        "ltv_bp": m.ltv_bp,
        "band": m.band,
        "alarms": list(m.alarms),
    }


def pledge_summary_json(p: PledgeRec) -> dict[str, Any]:
    """A pledge in a list."""
    return {
        "id": p.id,
        "bank": p.bank.hex(),
        "borrower": p.borrower.hex(),
        "commodity": p.commodity,
        "receipts": list(p.receipts),
        "quantity_g": p.quantity_g,
        "outstanding_fen": p.outstanding_fen,
        "status": p.status,
        "opened": p.opened,
    }


def pledge_json(book: WarehouseBook, p: PledgeRec, params: Params) -> dict[str, Any]:
    """A pledge: its loan, LTV and band at today's price, calls, daily marks and proceeds."""
    ltv, band = pledge_ltv(book, params, p)
    return {
        "id": p.id,
        "bank": p.bank.hex(),
        "borrower": p.borrower.hex(),
        "commodity": p.commodity,
        "receipts": list(p.receipts),
        "quantity_g": p.quantity_g,
        "loan_fen": p.loan_fen,
        "outstanding_fen": p.outstanding_fen,
        "haircut_bp": p.haircut_bp,
        "initial_ltv_bp": p.initial_ltv_bp,
        "opened": p.opened,
        "status": p.status,
        "ltv": ltv_fraction(ltv),
        "ltv_bp": ltv,
        "band": band,
        "calls": [call_json(c) for c in p.calls],
        "marks": [mark_json(m) for m in book.marks.get(p.id, ())],
        "proceeds": [{"to": to.hex(), "fen": fen} for to, fen in p.proceeds],
    }


def valuation_json(p: PledgeRec, m: Mark) -> dict[str, Any]:
    """A pledge's mark of one day, with what the pledge stands at now."""
    return {
        "pledge": p.id,
        "commodity": p.commodity,
        **mark_json(m),
        "status": p.status,
        "outstanding_fen": p.outstanding_fen,
    }


def price_json(p: PriceRec) -> dict[str, Any]:
    """The newest price of a commodity from one source."""
    return {
        "commodity": p.commodity,
        "source": p.source,
        "fen_per_tonne": p.fen_per_tonne,
        "day": p.day,
        "oracle": p.oracle.hex(),
        "height": p.height,
    }


# -- offers and operations --------------------------------------------------------------
def _plain(value: Any) -> Any:
    """An op's field as JSON: bytes as hex, structs as objects, tuples as lists."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, msgspec.Struct):
        return {f: _plain(getattr(value, f)) for f in value.__struct_fields__}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def op_json(op: AnyOp) -> dict[str, Any]:
    """A transition's name and its fields (bytes as hex): {"op", "args"}."""
    return {"op": op_name(op), "args": {f: _plain(getattr(op, f)) for f in op.__struct_fields__}}


def readings_payload_json(batch: ReadingsPayload) -> dict[str, Any]:
    """A gateway's batch: how many readings, and of which devices (sorted, distinct)."""
    return {
        "count": len(batch.readings),
        "devices": sorted({s.reading.device for s in batch.readings}),
    }


def offer_json(o: Offer, height: int) -> dict[str, Any]:
    """An open offer: its transition, who must sign, who did, and until when."""
    return {
        "id": o.id.hex(),
        "transition": op_name(o.op),
        "op": op_json(o.op),
        "opener": o.opener.hex(),
        "needed": [a.hex() for a in o.needed],
        "signed": [a.hex() for a in o.signed],
        "waiting_for": [a.hex() for a in o.needed if a not in o.signed],
        "opened": o.opened,
        "expires": o.expires,
        "status": OFFER_LAPSED if o.status == OFFER_OPEN and o.expires < height else o.status,
    }

"""The warehouse in the SDK: payloads of `wr` and `wr.readings`, and reads of GET /v1/wr/....

A `wr` transaction carries one transition (govchain.apps.warehouse.ops:
`Intake(...)`, `Issue(...)`, `Pledge(...)`, `Sign(offer_id)`, ...); a
multi-party transition opens an offer whose id is the opening transaction's id,
and each other party sends `Sign(bytes.fromhex(offer_id))`. A `wr.readings`
transaction relays device-signed readings (`sign_reading(device_key, Reading(...))`).
`Client.wr(key, op)` / `Client.wr_readings(key, readings)` build them;
`Sender.wr(op)` / `Sender.wr_readings(readings)` send them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import quote

from govchain.apps.warehouse.ops import Op, ReadingsPayload
from govchain.apps.warehouse.readings import READINGS_PER_BATCH_MAX, SignedReading
from govchain.codec import encode
from govchain.sdk.errors import SdkError


def wr_payload(op: Op) -> bytes:
    """The canonical payload of a `wr` transaction: one transition (an ops.Op)."""
    if not isinstance(op, Op):  # a caller without type checks may pass anything
        raise SdkError("bad_op", f"a wr transaction carries one warehouse op, not {type(op)}")
    return encode(op)


def readings_payload(readings: Sequence[SignedReading]) -> bytes:
    """The canonical payload of a `wr.readings` batch (1..256 device-signed readings)."""
    if not 0 < len(readings) <= READINGS_PER_BATCH_MAX:
        raise SdkError("bad_batch", f"a batch holds 1..{READINGS_PER_BATCH_MAX} readings")
    return encode(ReadingsPayload(tuple(readings)))


class _Gets(Protocol):
    def _get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]: ...


def _segment(value: str) -> str:
    """A path segment as typed (a stray / or ? cannot reach another route; the node checks it)."""
    return quote(value, safe="")


def _query(**values: object) -> dict[str, str] | None:
    """Query parameters without the unset ones; bytes as hex."""
    out = {
        k: v.hex() if isinstance(v, bytes) else str(v) for k, v in values.items() if v is not None
    }
    return out or None


class WrReads:
    """GET /v1/wr/...: the warehouse's documents (Client has these methods)."""

    def wr_warehouses(self: _Gets, limit: int | None = None) -> dict[str, Any]:
        """{"warehouses": [...], "more", "height"}."""
        return self._get("/v1/wr/warehouses", _query(limit=limit))

    def wr_warehouse(self: _Gets, address: bytes) -> dict[str, Any]:
        """One warehouse: address, name, supervisor, bins, opened."""
        return self._get(f"/v1/wr/warehouses/{address.hex()}")

    def wr_bins(self: _Gets, warehouse: bytes, limit: int | None = None) -> dict[str, Any]:
        """{"warehouse", "height", "bins": [goods-match figures, alarms, ...], "more"}."""
        return self._get(f"/v1/wr/warehouses/{warehouse.hex()}/bins", _query(limit=limit))

    def wr_receipts(
        self: _Gets,
        holder: bytes | None = None,
        status: str | None = None,
        warehouse: bytes | None = None,
        limit: int | None = None,
    ) -> dict[str, Any]:
        """{"receipts": [summaries, newest first], "more", "height"}."""
        q = _query(holder=holder, status=status, warehouse=warehouse, limit=limit)
        return self._get("/v1/wr/receipts", q)

    def wr_receipt(self: _Gets, number: str) -> dict[str, Any]:
        """A receipt: holder, controller, lots, encumbrances, ltv, band, history."""
        return self._get(f"/v1/wr/receipts/{_segment(number)}")

    def wr_lot(self: _Gets, lot: str) -> dict[str, Any]:
        """A lot: spec, tags, commitment, quantity, receipted, intake evidence."""
        return self._get(f"/v1/wr/lots/{_segment(lot)}")

    def wr_device(self: _Gets, device: str) -> dict[str, Any]:
        """A device: key, calibration, firmware, counter, latest reading, digest, offline."""
        return self._get(f"/v1/wr/devices/{_segment(device)}")

    def wr_alarms(
        self: _Gets, warehouse: bytes | None = None, limit: int | None = None
    ) -> dict[str, Any]:
        """{"alarms": [alarms in force, newest first, with warehouse and bin], ...}."""
        return self._get("/v1/wr/alarms", _query(warehouse=warehouse, limit=limit))

    def wr_pledges(
        self: _Gets,
        bank: bytes | None = None,
        borrower: bytes | None = None,
        status: str | None = None,
        commodity: str | None = None,
        limit: int | None = None,
    ) -> dict[str, Any]:
        """{"pledges": [summaries, newest first], "more", "height"}."""
        q = _query(bank=bank, borrower=borrower, status=status, commodity=commodity, limit=limit)
        return self._get("/v1/wr/pledges", q)

    def wr_pledge(self: _Gets, pledge_id: str) -> dict[str, Any]:
        """A pledge: loan, outstanding, ltv and band now, calls, marks, proceeds."""
        return self._get(f"/v1/wr/pledges/{_segment(pledge_id)}")

    def wr_valuations(
        self: _Gets,
        commodity: str | None = None,
        day: int | None = None,
        limit: int | None = None,
    ) -> dict[str, Any]:
        """{"valuations": [each pledge's latest mark, or its mark of `day`], ...}."""
        return self._get("/v1/wr/valuations", _query(commodity=commodity, day=day, limit=limit))

    def wr_offers(
        self: _Gets, party: bytes | None = None, limit: int | None = None
    ) -> dict[str, Any]:
        """{"offers": [open offers, newest first; party: those it is needed in], ...}."""
        return self._get("/v1/wr/offers", _query(party=party, limit=limit))

    def wr_offer(self: _Gets, offer_id: str) -> dict[str, Any]:
        """An open offer: transition, op, needed, signed, waiting_for, expires, status."""
        return self._get(f"/v1/wr/offers/{_segment(offer_id)}")

    def wr_prices(self: _Gets, commodity: str | None = None) -> dict[str, Any]:
        """{"prices": [the newest price per commodity and source], ...}."""
        return self._get("/v1/wr/prices", _query(commodity=commodity))

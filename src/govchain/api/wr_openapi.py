"""The OpenAPI description of GET /v1/wr/... (api/wr_routes.py), merged into /openapi.json.

Each path parameter and query parameter carries the pattern or bounds the
route checks, so that a request the schema allows is one the API takes; each
answer names the keys its document always has.
"""

from __future__ import annotations

from typing import Any

from govchain.api.wr_routes import (
    COMMODITY_REGEX,
    LIMIT_DEFAULT,
    LIMIT_MAX,
    NO_WAREHOUSE,
    PLEDGE_STATUSES,
    RECEIPT_STATUSES,
)
from govchain.apps.warehouse.financing import DAY_MAX

_ERROR = {"$ref": "#/components/schemas/Error"}
_NAME = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"}
_ADDRESS = {"type": "string", "pattern": "^[0-9a-f]{40}$"}
_ID = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_QUERY: dict[str, tuple[dict[str, Any], str]] = {
    "limit": (
        {"type": "integer", "minimum": 1, "maximum": LIMIT_MAX},
        f"at most this many (1..{LIMIT_MAX}, default {LIMIT_DEFAULT}); more: true when others"
        " matched",
    ),
    "holder": (_ADDRESS, "only receipts this address holds"),
    "warehouse": (_ADDRESS, "only this warehouse's"),
    "status": ({"type": "string", "enum": list(RECEIPT_STATUSES)}, "only receipts in this status"),
    "pledge_status": ({"type": "string", "enum": list(PLEDGE_STATUSES)}, "only in this status"),
    "bank": (_ADDRESS, "only this bank's pledges"),
    "borrower": (_ADDRESS, "only this borrower's pledges"),
    "party": (_ADDRESS, "only offers this address is a party to"),
    "commodity": (
        {"type": "string", "pattern": COMMODITY_REGEX},
        "only this commodity (as its oracle names it)",
    ),
    "day": ({"type": "integer", "minimum": 0, "maximum": DAY_MAX}, "the marks of this day"),
}


def _get(
    summary: str,
    keys: list[str],
    path: dict[str, dict[str, Any]] | None = None,
    query: list[str] | None = None,
) -> dict[str, Any]:
    """A GET of a document with these keys; path: name -> schema; query: _QUERY names."""
    params: list[dict[str, Any]] = [
        {"name": n, "in": "path", "required": True, "schema": s} for n, s in (path or {}).items()
    ]
    for q in query or []:
        schema, text = _QUERY[q]
        name = "status" if q == "pledge_status" else q
        params.append(
            {"name": name, "in": "query", "required": False, "schema": schema, "description": text}
        )
    op: dict[str, Any] = {
        "summary": summary,
        "tags": ["warehouse"],
        "responses": {
            "200": {
                "description": "OK",
                "content": {"application/json": {"schema": {"type": "object", "required": keys}}},
            },
            "400": {
                "description": "a bad argument (bad_<name>)",
                "content": {"application/json": {"schema": _ERROR}},
            },
            "404": {
                "description": f"not_found, or no_warehouse: {NO_WAREHOUSE}",
                "content": {"application/json": {"schema": _ERROR}},
            },
        },
    }
    if params:
        op["parameters"] = params
    return {"get": op}


_LIST = ["more", "height"]
_RECEIPT_KEYS = [
    "number", "status", "holder", "controller", "warehouse", "issuer", "commodity",
    "quantity_g", "lots", "encumbrances", "frozen_by", "enforcement", "ltv", "band", "parent",
    "children", "document", "version", "history",
]  # fmt: skip
_LOT_KEYS = [
    "id", "warehouse", "bin", "spec", "tags", "commitment", "certificate", "quantity_g",
    "receipted_g", "intake_height", "intake_tx", "evidence", "live",
]  # fmt: skip
_DEVICE_KEYS = [
    "id", "kind", "warehouse", "bin", "public_key", "calibrated_until", "firmware", "counter",
    "latest", "latest_height", "latest_tx", "digest", "readings", "offline",
]  # fmt: skip
_PLEDGE_KEYS = [
    "id", "bank", "borrower", "commodity", "receipts", "quantity_g", "loan_fen",
    "outstanding_fen", "haircut_bp", "initial_ltv_bp", "status", "ltv", "band", "calls",
    "marks", "proceeds",
]  # fmt: skip
_BINS_SUMMARY = (
    "A warehouse's bins, each with its goods-match figures now (sensed_g: the load cells'"
    " latest, null without a reading; book_g; receipted_g; outgoing_g under withdrawal"
    " orders; tolerance_g), green or its problems, alarms in force, devices, lots and"
    " inspections"
)

WR_PATHS: dict[str, Any] = {
    "/v1/wr/warehouses": _get(
        "Warehouses in opening order: address (the operator's), name, supervisor, bins, opened",
        ["warehouses", *_LIST],
        query=["limit"],
    ),
    "/v1/wr/warehouses/{address}": _get(
        "One warehouse", ["address", "name", "supervisor", "bins", "opened"], {"address": _ADDRESS}
    ),
    "/v1/wr/warehouses/{address}/bins": _get(
        _BINS_SUMMARY,
        ["warehouse", "height", "bins", "more"],
        {"address": _ADDRESS},
        ["limit"],
    ),
    "/v1/wr/receipts": _get(
        "Receipts, newest first: number, status, holder, controller, warehouse, commodity,"
        " quantity_g, encumbrance, frozen_by, enforcement, version",
        ["receipts", *_LIST],
        query=["holder", "warehouse", "status", "limit"],
    ),
    "/v1/wr/receipts/{number}": _get(
        "A receipt: holder (title), controller (possession), lots, encumbrances, frozen_by,"
        " enforcement, ltv (its pledge's LTV at today's price as a fraction, e.g. 0.8; null"
        " when unpriced or unpledged) and band, parent, children, and its whole history: each"
        " version's transaction, signers, readings and prices",
        _RECEIPT_KEYS,
        {"number": _NAME},
    ),
    "/v1/wr/lots/{lot}": _get(
        "A lot: warehouse, bin, spec, tags, goods commitment, certificate, quantity_g,"
        " receipted_g, intake height and transaction, the weighbridge's evidence, live",
        _LOT_KEYS,
        {"lot": _NAME},
    ),
    "/v1/wr/devices/{device}": _get(
        "A device: kind, bin, public key, calibration, firmware, counter, latest reading and"
        " its height and transaction, rolling digest, readings count, offline (not read within"
        " wr_reading_fresh_heights, or never)",
        _DEVICE_KEYS,
        {"device": _NAME},
    ),
    "/v1/wr/alarms": _get(
        "Alarms in force, newest first, each with its warehouse and bin",
        ["alarms", *_LIST],
        query=["warehouse", "limit"],
    ),
    "/v1/wr/pledges": _get(
        "Pledges, newest first",
        ["pledges", *_LIST],
        query=["bank", "borrower", "pledge_status", "commodity", "limit"],
    ),
    "/v1/wr/pledges/{pledge}": _get(
        "A pledge (its id: the opening transaction's): bank, borrower, receipts, loan and"
        " outstanding fen, haircut, initial LTV, status, ltv and band at today's price, calls,"
        " daily marks (the last 400), proceeds of an enforcement",
        _PLEDGE_KEYS,
        {"pledge": _ID},
    ),
    "/v1/wr/valuations": _get(
        "Each pledge's latest daily mark (or its mark of `day`), newest pledge first: day,"
        " price, eligible value, ltv_bp, band, price alarms",
        ["valuations", *_LIST],
        query=["commodity", "day", "limit"],
    ),
    "/v1/wr/offers": _get(
        "Open offers (transitions waiting for signatures), newest first",
        ["offers", *_LIST],
        query=["party", "limit"],
    ),
    "/v1/wr/offers/{offer}": _get(
        "An open offer (its id: the opening transaction's): transition, op, opener, needed,"
        " signed, waiting_for, opened, expires, status (open or lapsed); executed and declined"
        " offers leave the book (404)",
        ["id", "transition", "opener", "needed", "signed", "opened", "expires", "status"],
        {"offer": _ID},
    ),
    "/v1/wr/prices": _get(
        "The newest price of each commodity and source (settlement, spot): fen per tonne,"
        " business day, oracle, height",
        ["prices", *_LIST],
        query=["commodity", "limit"],
    ),
    "/v1/wr/params": _get(
        "The warehouse's governance parameters (wr_*), each with its value in force, default"
        " and description: the LTV bands (wr_warning_bp, wr_call_bp, wr_liquidation_bp), the"
        " initial LTV, goods-match tolerance, reading freshness, price staleness, cure days",
        ["height", "params"],
    ),
}

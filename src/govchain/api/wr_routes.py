"""The warehouse routes, GET /v1/wr/...: receipts, lots, bins, devices, alarms, pledges, prices,
and the application's parameters in force.

Every answer is built from the executed state (the replica's `warehouse`
namespace, read through ChainView) by the pure functions of
apps/warehouse/views.py, within one handler step: execution runs on the same
event loop, so a document never mixes two heights. A chain without the
warehouse answers 404 no_warehouse on every route. Lists are newest first,
at most `limit` (1..1000, default 100) long, with `more: true` when more
matched; path and query arguments are checked before anything is read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from govchain.api.errors import ApiError
from govchain.apps.catalog import registry_for
from govchain.apps.warehouse import views as wv
from govchain.apps.warehouse.book import NAMESPACE, WarehouseBook
from govchain.apps.warehouse.env import NUMBER_PATTERN
from govchain.apps.warehouse.financing import (
    ACTIVE,
    COMMODITY_CHARS_MAX,
    DAY_MAX,
    ENFORCEABLE,
    ENFORCED,
    RELEASED,
)
from govchain.apps.warehouse.params import PARAMS as WR_PARAMS
from govchain.apps.warehouse.records import ReceiptStatus
from govchain.replica.view import ChainView
from govchain.state.params import Params
from govchain.state.registry import Registry

if TYPE_CHECKING:
    from govchain.api.port import NodePort

LIMIT_DEFAULT = 100
LIMIT_MAX = 1_000
LIMIT_DIGITS_MAX = 4
DAY_DIGITS_MAX = 7  # DAY_MAX is 1,000,000
NO_WAREHOUSE = "no warehouse application on this chain"
ADDRESS_CHARS = 40
ID_CHARS = 64
PLEDGE_STATUSES = (ACTIVE, ENFORCEABLE, RELEASED, ENFORCED)
RECEIPT_STATUSES = tuple(s.value for s in ReceiptStatus)
_HEX = {n: re.compile(f"[0-9a-f]{{{n}}}") for n in (ADDRESS_CHARS, ID_CHARS)}
# A commodity as oracles name it: no control characters, no blanks around it (the same
# text is the OpenAPI pattern, so that what the schema allows the API takes).
_ENDS = r"[^\s\x00-\x1f\x7f]"
COMMODITY_REGEX = rf"^{_ENDS}(?:[^\x00-\x1f\x7f]{{0,{COMMODITY_CHARS_MAX - 2}}}{_ENDS})?$"
COMMODITY_PATTERN = re.compile(COMMODITY_REGEX)

_T = TypeVar("_T")


# -- arguments ---------------------------------------------------------------------------
def hex_text(value: str, chars: int, what: str) -> bytes:
    """Exactly `chars` lowercase hex digits (nothing else), or a 400 bad_<what>."""
    if _HEX[chars].fullmatch(value) is None:
        raise ApiError(400, "bad_" + what, f"{what} must be {chars} lowercase hex characters")
    return bytes.fromhex(value)


def name_text(value: str, what: str) -> str:
    """A receipt number, lot, device or bin id: [A-Za-z0-9][A-Za-z0-9_.-]{0,63}, or a 400."""
    if NUMBER_PATTERN.fullmatch(value) is None:
        raise ApiError(400, "bad_" + what, f"{what} must match [A-Za-z0-9][A-Za-z0-9_.-]{{0,63}}")
    return value


def _digits(request: Request, name: str, digits_max: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > digits_max:
        raise ApiError(400, "bad_" + name, f"{name} must be a non-negative integer")
    return int(raw)


def limit_of(request: Request) -> int:
    """?limit=: 1..LIMIT_MAX, LIMIT_DEFAULT when absent."""
    limit = _digits(request, "limit", LIMIT_DIGITS_MAX)
    if limit is None:
        return LIMIT_DEFAULT
    if not 1 <= limit <= LIMIT_MAX:
        raise ApiError(400, "bad_limit", f"limit must lie in 1..{LIMIT_MAX}")
    return limit


def address_query(request: Request, name: str) -> bytes | None:
    """An optional address filter (40 lowercase hex)."""
    raw = request.query_params.get(name)
    return None if raw is None else hex_text(raw, ADDRESS_CHARS, name)


def choice_query(request: Request, name: str, choices: Iterable[str]) -> str | None:
    """An optional filter among fixed values."""
    raw = request.query_params.get(name)
    allowed = tuple(choices)
    if raw is not None and raw not in allowed:
        raise ApiError(400, "bad_" + name, f"{name} is one of {', '.join(allowed)}")
    return raw


def commodity_query(request: Request) -> str | None:
    """An optional commodity: 1..64 printable characters, no surrounding blanks."""
    raw = request.query_params.get("commodity")
    if raw is not None and COMMODITY_PATTERN.fullmatch(raw) is None:
        raise ApiError(
            400,
            "bad_commodity",
            f"commodity is 1..{COMMODITY_CHARS_MAX} printable characters without surrounding"
            " blanks",
        )
    return raw


def day_query(request: Request) -> int | None:
    """An optional business day number (0..DAY_MAX)."""
    day = _digits(request, "day", DAY_DIGITS_MAX)
    if day is not None and day > DAY_MAX:
        raise ApiError(400, "bad_day", f"day must lie in 0..{DAY_MAX}")
    return day


def first(items: Iterable[_T], limit: int) -> tuple[list[_T], bool]:
    """At most limit items, and whether there were more."""
    out: list[_T] = []
    for item in items:
        if len(out) >= limit:
            return out, True
        out.append(item)
    return out, False


# -- the book and the parameters -----------------------------------------------------------
def params_now(view: ChainView, registry: Registry) -> Params:
    """The application's parameters in force, as a Params the views and the book read.

    ChainView hands out values, not the ledger's Params; this snapshot holds the
    registry's table with every value in force (a few dict writes per request).
    """
    snap = Params(1, 1, registry.params.values())
    for name, spec in registry.params.items():
        value = view.param(name)
        if value != spec.default:
            snap.set(name, value, "")
    return snap


def book_of(view: ChainView) -> WarehouseBook:
    """The chain's warehouse namespace, or 404 no_warehouse."""
    ns = view.namespace(NAMESPACE)
    if not isinstance(ns, WarehouseBook):
        raise ApiError(404, "no_warehouse", NO_WAREHOUSE)
    return ns


def _found(value: _T | None, what: str) -> _T:
    if value is None:
        raise ApiError(404, "not_found", f"no {what}")
    return value


def wr_routes(node: NodePort) -> list[Route]:
    """The /v1/wr routes over one node."""
    view = node.view
    registry = registry_for(node.genesis)

    def listed(key: str, docs: Iterable[dict[str, Any]], limit: int) -> JSONResponse:
        shown, more = first(docs, limit)
        return JSONResponse({key: shown, "more": more, "height": view.height})

    async def warehouses(request: Request) -> JSONResponse:
        limit = limit_of(request)
        book = book_of(view)
        return listed("warehouses", map(wv.warehouse_json, book.warehouses.values()), limit)

    async def warehouse(request: Request) -> JSONResponse:
        addr = hex_text(request.path_params["address"], ADDRESS_CHARS, "address")
        w = _found(book_of(view).warehouses.get(addr), "warehouse at this address")
        return JSONResponse(wv.warehouse_json(w))

    async def bins(request: Request) -> JSONResponse:
        addr = hex_text(request.path_params["address"], ADDRESS_CHARS, "address")
        limit = limit_of(request)
        book = book_of(view)
        w = _found(book.warehouses.get(addr), "warehouse at this address")
        params, height = params_now(view, registry), view.height
        codes, more = first(w.bins, limit)
        orders = book.orders_out(height)
        docs = [
            wv.bin_json(book, book.bins[(addr, code)], height, params, orders) for code in codes
        ]
        return JSONResponse({"warehouse": addr.hex(), "height": height, "bins": docs, "more": more})

    async def receipts(request: Request) -> JSONResponse:
        holder = address_query(request, "holder")
        where = address_query(request, "warehouse")
        status = choice_query(request, "status", RECEIPT_STATUSES)
        limit = limit_of(request)
        found = (
            r
            for r in reversed(book_of(view).receipts.values())
            if (holder is None or r.holder == holder)
            and (where is None or r.warehouse == where)
            and (status is None or r.status == status)
        )
        return listed("receipts", map(wv.receipt_summary_json, found), limit)

    async def receipt(request: Request) -> JSONResponse:
        number = name_text(request.path_params["number"], "number")
        book = book_of(view)
        r = _found(book.receipts.get(number), f"receipt numbered {number}")
        return JSONResponse(wv.receipt_json(book, r, params_now(view, registry)))

    async def lot(request: Request) -> JSONResponse:
        lot_id = name_text(request.path_params["lot"], "lot")
        return JSONResponse(wv.lot_json(_found(book_of(view).lots.get(lot_id), f"lot {lot_id}")))

    async def device(request: Request) -> JSONResponse:
        device_id = name_text(request.path_params["device"], "device")
        d = _found(book_of(view).devices.get(device_id), f"device {device_id}")
        return JSONResponse(wv.device_json(d, view.height, params_now(view, registry)))

    async def alarms(request: Request) -> JSONResponse:
        where = address_query(request, "warehouse")
        limit = limit_of(request)
        found = [
            {**wv.alarm_json(a), "warehouse": b.warehouse.hex(), "bin": b.code}
            for b in book_of(view).bins.values()
            if where is None or b.warehouse == where
            for a in b.alarms
        ]
        found.sort(key=lambda a: -int(a["seq"]))  # newest first
        return listed("alarms", found, limit)

    async def pledges(request: Request) -> JSONResponse:
        bank = address_query(request, "bank")
        borrower = address_query(request, "borrower")
        status = choice_query(request, "status", PLEDGE_STATUSES)
        commodity = commodity_query(request)
        limit = limit_of(request)
        found = (
            p
            for p in reversed(book_of(view).pledges.values())
            if (bank is None or p.bank == bank)
            and (borrower is None or p.borrower == borrower)
            and (status is None or p.status == status)
            and (commodity is None or p.commodity == commodity)
        )
        return listed("pledges", map(wv.pledge_summary_json, found), limit)

    async def pledge(request: Request) -> JSONResponse:
        pid = hex_text(request.path_params["pledge"], ID_CHARS, "pledge").hex()
        book = book_of(view)
        p = _found(book.pledges.get(pid), f"pledge {pid}")
        return JSONResponse(wv.pledge_json(book, p, params_now(view, registry)))

    async def valuations(request: Request) -> JSONResponse:
        commodity = commodity_query(request)
        day = day_query(request)
        limit = limit_of(request)
        book = book_of(view)

        def marks() -> Iterable[dict[str, Any]]:
            for p in reversed(book.pledges.values()):
                kept = book.marks.get(p.id)
                if not kept or (commodity is not None and p.commodity != commodity):
                    continue
                if day is None:
                    yield wv.valuation_json(p, kept[-1])
                else:
                    yield from (wv.valuation_json(p, m) for m in kept if m.day == day)

        return listed("valuations", marks(), limit)

    async def offers(request: Request) -> JSONResponse:
        party = address_query(request, "party")
        limit = limit_of(request)
        height = view.height
        found = (
            wv.offer_json(o, height)
            for o in reversed(book_of(view).offers.values())
            if party is None or party in o.needed
        )
        return listed("offers", found, limit)

    async def offer(request: Request) -> JSONResponse:
        oid = hex_text(request.path_params["offer"], ID_CHARS, "offer")
        o = book_of(view).offers.get(oid)
        if o is None:
            raise ApiError(
                404,
                "not_found",
                "no open offer with this id: executed and declined offers leave the book"
                " (GET /v1/txs/{id} shows the opening transaction)",
            )
        return JSONResponse(wv.offer_json(o, view.height))

    async def params(_: Request) -> JSONResponse:
        book_of(view)  # a chain without the warehouse has none of its parameters
        docs = [
            {
                "name": spec.name,
                "value": view.param(spec.name),
                "default": spec.default,
                "description": spec.doc,
            }
            for spec in WR_PARAMS
        ]
        return JSONResponse({"height": view.height, "params": docs})

    async def prices(request: Request) -> JSONResponse:
        commodity = commodity_query(request)
        limit = limit_of(request)
        book = book_of(view)
        found = (
            wv.price_json(p)
            for key, p in sorted(book.prices.items())
            if commodity is None or key[0] == commodity
        )
        return listed("prices", found, limit)

    return [
        Route("/v1/wr/warehouses", warehouses),
        Route("/v1/wr/warehouses/{address}", warehouse),
        Route("/v1/wr/warehouses/{address}/bins", bins),
        Route("/v1/wr/receipts", receipts),
        Route("/v1/wr/receipts/{number}", receipt),
        Route("/v1/wr/lots/{lot}", lot),
        Route("/v1/wr/devices/{device}", device),
        Route("/v1/wr/alarms", alarms),
        Route("/v1/wr/pledges", pledges),
        Route("/v1/wr/pledges/{pledge}", pledge),
        Route("/v1/wr/valuations", valuations),
        Route("/v1/wr/offers", offers),
        Route("/v1/wr/offers/{offer}", offer),
        Route("/v1/wr/prices", prices),
        Route("/v1/wr/params", params),
    ]

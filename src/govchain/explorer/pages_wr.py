"""The warehouse-receipt pages: receipts (filtered), warehouses and their bins; one receipt's
life as a timeline; a warehouse's bins, each with its goods-match panel; a pledge's LTV over
time against the bands, and its margin calls.

Every figure is read from `GET /v1/wr/...`; a chain without the warehouse application says so
(`/wr` answers 200 with words, the other pages the API's 404 no_warehouse). The timeline and
the LTV chart are put together here from the documents (wr_figures.py), nothing recomputed.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from govchain.api.wr_routes import LIMIT_MAX, PLEDGE_STATUSES, RECEIPT_STATUSES
from govchain.explorer.context import Explorer
from govchain.explorer.pages_trace import request_lang
from govchain.explorer.reader import ApiReader, PageError
from govchain.explorer.render import number_choice
from govchain.explorer.wr_figures import (
    consistency_rows,
    ltv_chart,
    params_of,
    pledge_ids,
    price_names,
    receipt_timeline,
    tonnes,
)

RECEIPTS_SIZES = (50, 100, 200, 500, LIMIT_MAX)  # ?limit= steps: "more" moves to the next
RECEIPTS_SIZE_DEFAULT = RECEIPTS_SIZES[0]
WAREHOUSES_MAX = 100
SIDE_LIST_MAX = 20  # pledges, alarms and prices on the index page
BINS_MAX = 100
DEVICES_MAX = 64  # device documents read for one page
PLEDGES_PER_RECEIPT_MAX = 8
_HEX40 = re.compile(r"[0-9a-f]{40}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # the API's receipt number


def _hex_arg(raw: str, pattern: re.Pattern[str], what: str, chars: int) -> str:
    """A hex path or query argument as people paste it (0x, any case), or a 400 page."""
    text = raw.strip().lower().removeprefix("0x")
    if not pattern.fullmatch(text):
        raise PageError(400, "bad_" + what, f"{what} must be {chars} lowercase hex characters")
    return text


def _words(doc: Any) -> str:
    """An API error document's message ("" when it has none)."""
    err = doc.get("error") if isinstance(doc, dict) else None
    return str(err.get("message", "")) if isinstance(err, dict) else ""


async def _devices(reader: ApiReader, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The device documents of ids (at most DEVICES_MAX; unknown ones left out)."""
    found: dict[str, dict[str, Any]] = {}
    for device in ids[:DEVICES_MAX]:
        if not _NAME.fullmatch(device):
            continue
        answer = await reader.get(f"/v1/wr/devices/{device}")
        if answer.ok and isinstance(answer.doc, dict):
            found[device] = answer.doc
    return found


async def _params(reader: ApiReader) -> dict[str, int | None]:
    """The warehouse's parameters in force, by name (empty when the API has none)."""
    answer = await reader.get("/v1/wr/params")
    return params_of(answer.doc) if answer.ok else {}


def wr_routes(ex: Explorer) -> list[Route]:
    """The warehouse-receipt pages."""
    r = ex.reader

    async def index(request: Request) -> Response:
        q = request.query_params
        limit = number_choice(q.get("limit"), RECEIPTS_SIZES, RECEIPTS_SIZE_DEFAULT)
        holder = q.get("holder", "").strip().lower().removeprefix("0x") or None
        where = q.get("warehouse") or None
        status = q.get("status") or None
        filters = {"holder": holder, "warehouse": where, "status": status}
        houses = await r.get("/v1/wr/warehouses", limit=WAREHOUSES_MAX)
        if houses.error_code == "no_warehouse":
            return await ex.page(request, "wr_index.html", no_warehouse=True, filters=filters)
        if not houses.ok:
            raise PageError(houses.status, houses.error_code or "error", _words(houses.doc))
        values: dict[str, Any] = {
            "no_warehouse": False,
            "filters": filters,
            "statuses": RECEIPT_STATUSES,
            "pledge_statuses": PLEDGE_STATUSES,
            "warehouses": houses.doc["warehouses"],
            "houses_more": houses.doc["more"],
            "limit": limit,
            "next_limit": next((s for s in RECEIPTS_SIZES if s > limit), None),
            "tonnes": tonnes,
            "error": None,
        }
        answer = await r.get("/v1/wr/receipts", **filters, limit=limit)
        http_status = 200
        if answer.ok:
            values["receipts"] = answer.doc
        else:  # a bad filter: the form again, with the API's words
            values["error"] = {"code": answer.error_code or "error", "message": _words(answer.doc)}
            values["receipts"] = {"receipts": [], "more": False, "height": None}
            http_status = answer.status
        values["pledges"] = (await r.must("/v1/wr/pledges", limit=SIDE_LIST_MAX))["pledges"]
        values["alarms"] = (await r.must("/v1/wr/alarms", limit=SIDE_LIST_MAX))["alarms"]
        values["prices"] = (await r.must("/v1/wr/prices", limit=SIDE_LIST_MAX))["prices"]
        values["names"] = {w["address"]: w["name"] for w in values["warehouses"]}
        return await ex.page(request, "wr_index.html", http_status=http_status, **values)

    async def receipt(request: Request) -> Response:
        number = request.path_params["number"]
        if not _NAME.fullmatch(number):
            raise PageError(400, "bad_number", "number must match [A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
        doc = await r.must(f"/v1/wr/receipts/{number}")
        pledges = []
        for pid in pledge_ids(doc)[:PLEDGES_PER_RECEIPT_MAX]:
            answer = await r.get(f"/v1/wr/pledges/{pid}")
            if answer.ok and isinstance(answer.doc, dict):
                pledges.append(answer.doc)
        devices = sorted({x["device"] for v in doc["history"] for x in v["readings"]})
        prices = await r.get("/v1/wr/prices", commodity=doc["commodity"], limit=LIMIT_MAX)
        timeline = receipt_timeline(
            doc,
            pledges,
            await _devices(r, devices),
            price_names(prices.doc["prices"] if prices.ok else []),
        )
        house = await r.get(f"/v1/wr/warehouses/{doc['warehouse']}")
        return await ex.page(
            request,
            "wr_receipt.html",
            r=doc,
            pledges=pledges,
            timeline=timeline,
            house=house.doc if house.ok else None,
            tonnes=tonnes,
        )

    async def bins(request: Request) -> Response:
        addr = _hex_arg(request.path_params["warehouse"], _HEX40, "address", 40)
        if addr != request.path_params["warehouse"]:  # one URL per warehouse
            return RedirectResponse(f"/wr/bins/{addr}", status_code=308)
        house = await r.must(f"/v1/wr/warehouses/{addr}")
        doc = await r.must(f"/v1/wr/warehouses/{addr}/bins", limit=BINS_MAX)
        ids = [d for b in doc["bins"] for d in b["devices"]]
        devices = await _devices(r, ids)
        params = await _params(r)
        panels = [
            {
                "bin": b,
                "rows": consistency_rows(b),
                "devices": [devices.get(d) for d in b["devices"]],
            }
            for b in doc["bins"]
        ]
        return await ex.page(
            request,
            "wr_bins.html",
            house=house,
            doc=doc,
            panels=panels,
            params=params,
            devices_unread=max(len(ids) - DEVICES_MAX, 0),
            tonnes=tonnes,
        )

    async def pledge(request: Request) -> Response:
        pid = request.path_params["pid"]
        if not _HEX64.fullmatch(pid):
            raise PageError(400, "bad_pledge", "pledge must be 64 lowercase hex characters")
        doc = await r.must(f"/v1/wr/pledges/{pid}")
        params = await _params(r)
        status = await r.must("/v1/status")
        chart = ltv_chart(doc, params, status["height"], request_lang(request))
        return await ex.page(
            request, "wr_pledge.html", p=doc, params=params, chart=chart, tonnes=tonnes
        )

    return [
        Route("/wr", ex.handler(index)),
        Route("/wr/receipts/{number}", ex.handler(receipt)),
        Route("/wr/bins/{warehouse}", ex.handler(bins)),
        Route("/wr/pledges/{pid}", ex.handler(pledge)),
    ]

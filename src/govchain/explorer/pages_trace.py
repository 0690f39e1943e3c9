"""The tracing page: a form; where the money went (a hop-layered graph), where it is now,
the pinned snapshot and result_root, and the governance measures taken on what it found.

Every figure is the node's own `GET /v1/trace/{address}` answer; the graph is an ECharts
option built on the server (trace_figures.py), bounded, with what it leaves out counted.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from govchain.explorer.context import Explorer
from govchain.explorer.i18n import choose_lang
from govchain.explorer.reader import ApiAnswer, ApiReader
from govchain.explorer.render import number_choice
from govchain.explorer.trace_figures import trace_graph

POLICIES = ("fifo", "haircut", "libr", "poison")  # the first two are the page's switch
SWITCH_POLICIES = ("fifo", "haircut")
DIRECTIONS = ("forward", "backward")
HOPS_DEFAULT = 6
HOPS_CHOICES = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)  # the API takes 1..32
FIELD_CHARS_MAX = 80  # what the form echoes back of a field (a longer one is refused anyway)
TABLE_ROWS_MAX = 500
MEASURES_SCANNED_MAX = 200  # newest proposals read per measure action
MEASURE_ACTIONS = (
    "freeze-amount",
    "unfreeze-amount",
    "watch",
    "unwatch",
    "freeze-identity",
    "unfreeze-identity",
)
BUSY_RETRIES = 8  # the node traces one at a time: a page waits a little for its turn
BUSY_WAIT_S = 0.25
_HEX40 = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True, slots=True)
class TraceForm:
    """The form's fields as typed (normalised: hex lowercase without 0x)."""

    address: str
    tx: str
    amount: str
    direction: str
    policy: str
    hops: int

    def query(self) -> dict[str, str | None]:
        """The API's query for this form (empty fields left out)."""
        return {
            "tx_id": self.tx or None,
            "amount": self.amount or None,
            "direction": self.direction,
            "policy": self.policy,
            "hops": str(self.hops),
        }

    def link(self, **changed: object) -> dict[str, object]:
        """The page's own query, with some fields changed (for the policy switch)."""
        fields: dict[str, object] = {
            "address": self.address,
            "tx": self.tx or None,
            "amount": self.amount or None,
            "direction": self.direction,
            "policy": self.policy,
            "hops": self.hops,
        }
        fields.update(changed)
        return fields


def _hex(raw: str) -> str:
    """Hex as people paste it: blanks trimmed, any case, with or without 0x."""
    text = raw.strip()[:FIELD_CHARS_MAX].lower()
    return text.removeprefix("0x")


def read_form(query: QueryParams) -> TraceForm:
    """The form from the query string; unknown choices fall back to the defaults."""
    direction = query.get("direction", DIRECTIONS[0])
    policy = query.get("policy", POLICIES[0])
    hops = number_choice(query.get("hops"), HOPS_CHOICES, HOPS_DEFAULT)
    return TraceForm(
        address=_hex(query.get("address", "")),
        tx=_hex(query.get("tx", "")),
        amount=query.get("amount", "").strip()[:FIELD_CHARS_MAX],
        direction=direction if direction in DIRECTIONS else DIRECTIONS[0],
        policy=policy if policy in POLICIES else POLICIES[0],
        hops=hops,
    )


async def run_trace(reader: ApiReader, form: TraceForm, client: str | None) -> ApiAnswer:
    """GET /v1/trace/{address} as the browser's client (the API traces one at a time per
    client), waiting a little while the node traces for that client already."""
    if not _HEX40.fullmatch(form.address):
        # Checked here because the address is a path segment; the API's own words.
        return ApiAnswer(
            400,
            {
                "error": {
                    "code": "bad_address",
                    "message": "address must be 40 lowercase hex characters",
                }
            },
        )
    answer = await reader.get_as(client, f"/v1/trace/{form.address}", **form.query())
    for _ in range(BUSY_RETRIES):
        if answer.status != 503:
            break
        await asyncio.sleep(BUSY_WAIT_S)
        answer = await reader.get_as(client, f"/v1/trace/{form.address}", **form.query())
    return answer


# -- where the money is now, and the measures taken -------------------------------------------
def where_now(doc: dict[str, Any]) -> tuple[list[dict[str, Any]], int, int]:
    """Accounts holding tainted money, most first (at most TABLE_ROWS_MAX), and the rest's
    count and tainted total."""
    holding = [n for n in doc["nodes"] if n["tainted"] > 0]
    holding.sort(key=lambda n: (-n["tainted"], n["address"]))
    rest = holding[TABLE_ROWS_MAX:]
    return holding[:TABLE_ROWS_MAX], len(rest), sum(n["tainted"] for n in rest)


def _targets(args: dict[str, Any]) -> list[str]:
    """The addresses a measure's arguments name."""
    found = []
    if isinstance(args.get("address"), str):
        found.append(args["address"])
    if isinstance(args.get("addresses"), list):
        found.extend(a for a in args["addresses"] if isinstance(a, str))
    return found


async def measures_taken(reader: ApiReader, doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Governance measures on what this trace found: those citing its result_root, those on
    a traced account, and the unwatch of a case they opened (newest first)."""
    traced = {n["address"] for n in doc["nodes"]} | {s["address"] for s in doc["seeds"]}
    root = doc["result_root"]
    scanned: list[dict[str, Any]] = []
    for action in MEASURE_ACTIONS:
        answer = await reader.get(
            "/v1/governance/proposals", action=action, limit=MEASURES_SCANNED_MAX
        )
        if answer.ok and isinstance(answer.doc, dict):
            scanned.extend(answer.doc.get("proposals", []))
    found: dict[str, dict[str, Any]] = {}
    cases: set[str] = set()
    for p in scanned:
        args = p["action"]["args"]
        on = [a for a in _targets(args) if a in traced]
        cites = args.get("trace_root") == root
        if on or cites:
            found[p["id"]] = {**p, "on": on, "cites": cites}
            if args.get("case"):
                cases.add(str(args["case"]))
    for p in scanned:
        args = p["action"]["args"]
        if p["action"]["name"] == "unwatch" and args.get("case") in cases:
            found.setdefault(p["id"], {**p, "on": [], "cites": False})
    return sorted(found.values(), key=lambda p: (-p["created_height"], p["id"]))


# -- the page ---------------------------------------------------------------------------------
def trace_routes(ex: Explorer) -> list[Route]:
    """GET /trace: the form, and with an address its trace."""

    async def page(request: Request) -> Response:
        form = read_form(request.query_params)
        values: dict[str, Any] = {
            "form": form,
            "policies": POLICIES,
            "switch_policies": SWITCH_POLICIES,
            "directions": DIRECTIONS,
            "hops_choices": HOPS_CHOICES,
            "doc": None,
            "error": None,
        }
        if not form.address:
            return await ex.page(request, "trace.html", **values)
        answer = await run_trace(ex.reader, form, request.client.host if request.client else None)
        if not answer.ok or not isinstance(answer.doc, dict):
            err = answer.doc.get("error") if isinstance(answer.doc, dict) else None
            values["error"] = err if isinstance(err, dict) else {"code": "error", "message": ""}
            return await ex.page(request, "trace.html", http_status=answer.status, **values)
        doc = answer.doc
        lang = request_lang(request)
        graph = trace_graph(doc, lang)
        rows, rest_count, rest_tainted = where_now(doc)
        values.update(
            doc=doc,
            graph=graph,
            rows=rows,
            rest_count=rest_count,
            rest_tainted=rest_tainted,
            measures=await measures_taken(ex.reader, doc),
            api_url=f"/v1/trace/{form.address}",
        )
        return await ex.page(request, "trace.html", **values)

    return [Route("/trace", ex.handler(page))]


def request_lang(request: Request) -> str:
    """The request's language, as the page will render it."""
    return choose_lang(
        request.query_params, request.cookies, request.headers.get("accept-language", "")
    )

"""Rendering: the Jinja2 environment, its filters, and a page response in the request's language."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from govchain.explorer.i18n import (
    HTML_LANG,
    LANG_COOKIE,
    LANGS,
    choose_lang,
    script_words,
    translate,
)

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
LANG_COOKIE_MAX_AGE_S = 365 * 24 * 3600
HEX_SHORT_HEAD = 10
HEX_SHORT_TAIL = 6
FEN_PER_YUAN = 100


def number_choice(raw: str | None, choices: Iterable[int], default: int) -> int:
    """The choice a query value names exactly ("300" -> 300), else default.

    Compared as text: str.isdigit() takes "²" and "٣", and int() of a long
    string raises, both of which a hostile URL would turn into a 500.
    """
    return {str(c): c for c in choices}.get(raw or "", default)


def short(value: object) -> str:
    """A long hex id shortened for tables: head…tail (the full id stays in the link and title)."""
    text = str(value)
    if len(text) <= HEX_SHORT_HEAD + HEX_SHORT_TAIL + 1:
        return text
    return f"{text[:HEX_SHORT_HEAD]}…{text[-HEX_SHORT_TAIL:]}"


def short_subject(value: object) -> str:
    """An audit subject like "proposal:<64 hex>" with its id shortened."""
    text = str(value)
    head, sep, tail = text.rpartition(":")
    return f"{head}{sep}{short(tail)}" if sep else short(text)


def amount(value: object) -> str:
    """An exact integer with thousands separators (never rounded, never a float)."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int):
        return str(value)
    return f"{value:,}"


def yuan(value: object) -> str:
    """Fen as exact yuan: 5320000000 -> ¥53,200,000.00."""
    if isinstance(value, bool) or not isinstance(value, int):
        return "—"
    sign = "-" if value < 0 else ""
    whole, cents = divmod(abs(value), FEN_PER_YUAN)
    return f"{sign}¥{whole:,}.{cents:02d}"


def utc(time_ms: object) -> str:
    """A unix time in milliseconds as UTC text (the browser shows local time where it can)."""
    if isinstance(time_ms, bool) or not isinstance(time_ms, int):
        return "—"
    moment = dt.datetime.fromtimestamp(time_ms / 1000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(time_ms: object) -> str:
    """A unix time in milliseconds as ISO 8601 for <time datetime=...>."""
    if isinstance(time_ms, bool) or not isinstance(time_ms, int):
        return ""
    return dt.datetime.fromtimestamp(time_ms / 1000, tz=dt.UTC).isoformat()


def percent(value: object, digits: int = 2) -> str:
    """A ratio (0.5) as a percentage (50.00%)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "—"
    return f"{value * 100:.{digits}f}%"


def bp(value: object) -> str:
    """Basis points as a percentage: 6500 -> 65.00%."""
    if isinstance(value, bool) or not isinstance(value, int):
        return "—"
    return f"{value // 100}.{value % 100:02d}%"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,  # a missing value is a bug to see, not an empty cell
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        short=short,
        short_subject=short_subject,
        amount=amount,
        yuan=yuan,
        utc=utc,
        iso=iso,
        percent=percent,
        bp=bp,
    )
    return env


ENV = _environment()


class Page:
    """What every template sees of its request: the language, words, and links."""

    def __init__(self, request: Request, chain: dict[str, Any]) -> None:
        self.request = request
        self.lang = choose_lang(
            request.query_params, request.cookies, request.headers.get("accept-language", "")
        )
        self.html_lang = HTML_LANG[self.lang]
        self.other_lang = LANGS[1] if self.lang == LANGS[0] else LANGS[0]
        self.chain = chain
        self.path = request.url.path

    def t(self, key: str) -> str:
        """The words for key in this page's language."""
        return translate(self.lang, key)

    def url(self, path: str, **query: object) -> str:
        """A link: path with the query values that are not None."""
        kept = {k: str(v) for k, v in query.items() if v is not None and v != ""}
        return f"{path}?{urlencode(kept)}" if kept else path

    def switch_url(self) -> str:
        """This page in the other language."""
        query = dict(self.request.query_params)
        query["lang"] = self.other_lang
        return f"{self.path}?{urlencode(query)}"


def render(
    request: Request, chain: dict[str, Any], template: str, http_status: int = 200, **values: Any
) -> HTMLResponse:
    """A page in the request's language; a ?lang= choice is kept in a cookie."""
    page = Page(request, chain)
    html = ENV.get_template(template).render(
        page=page, t=page.t, js_words=script_words(page.lang), **values
    )
    response = HTMLResponse(html, status_code=http_status)
    response.headers["Content-Language"] = page.html_lang
    response.headers["Vary"] = "Accept-Language, Cookie"
    # The pages load nothing from elsewhere: a policy that says so stops an
    # injected script or a CDN link from working even if one slipped in.
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    if request.query_params.get("lang") in LANGS:
        response.set_cookie(
            LANG_COOKIE, page.lang, max_age=LANG_COOKIE_MAX_AGE_S, samesite="lax", httponly=False
        )
    return response

"""The explorer's languages: which one a request gets, and the words of each.

Simplified Chinese is the default: the people who watch this chain are
mostly in China. A `?lang=` choice is kept in a cookie, so it persists; else
the browser's Accept-Language decides.
"""

from __future__ import annotations

from collections.abc import Mapping

from govchain.explorer.messages import CORE_MESSAGES
from govchain.explorer.messages_apps import APP_MESSAGES

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
LANG_COOKIE = "lang"
HTML_LANG = {"zh": "zh-CN", "en": "en"}
ACCEPT_LANGUAGE_CHARS_MAX = 512  # a longer header is not worth parsing
MESSAGES = {**CORE_MESSAGES, **APP_MESSAGES}


def _accepted(header: str) -> str | None:
    """The first of our languages the Accept-Language header prefers (q-values honoured)."""
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(header[:ACCEPT_LANGUAGE_CHARS_MAX].split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGS and q > 0:
            ranked.append((-q, i, primary))
    return min(ranked)[2] if ranked else None


def choose_lang(query: Mapping[str, str], cookies: Mapping[str, str], accept: str) -> str:
    """The request's language: ?lang=, then the cookie, then Accept-Language, then Chinese."""
    for chosen in (query.get("lang"), cookies.get(LANG_COOKIE)):
        if chosen in LANGS:
            return chosen
    return _accepted(accept) or DEFAULT_LANG


def translate(lang: str, key: str) -> str:
    """The words for key in lang (the key itself when the catalog lacks it: a visible bug)."""
    words = MESSAGES.get(key)
    if words is None:
        return key
    return words[0] if lang == "zh" else words[1]


def script_words(lang: str) -> dict[str, str]:
    """The words the pages' scripts show (keys starting "js_"), for a JSON block in the page."""
    return {key: translate(lang, key) for key in MESSAGES if key.startswith("js_")}

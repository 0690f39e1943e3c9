"""The explorer without a node: languages, words in both languages, templates, assets, weight."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from govchain.explorer.i18n import MESSAGES, choose_lang, script_words, translate
from govchain.explorer.reader import ApiReader
from govchain.explorer.render import ENV, STATIC, TEMPLATES, amount, bp, number_choice, short, yuan

SCRIPT_BYTES_MAX = 1_500_000  # the budget for every script a page may load
# Keys a template builds from a prefix and a value the API gives (status names and such).
DYNAMIC = {
    "st_": ("pending", "waiting", "executed", "rejected", "held"),
    "ps_": ("open", "passed", "rejected", "expired"),
    "val_": ("active", "late", "absent"),
    "vote_": ("yes", "no"),
    "svc_": ("active", "suspended"),
    "dir_": ("in", "out", "self"),
    "mk_": ("transfer", "escrow", "release", "intercept", "genesis"),
    "cat_": ("illegal_content", "fraud", "privacy", "other"),
    "kind_": ("tx", "address", "checkpoint", "proposal", "receipt", "warehouse", "service"),
}


def _template_keys() -> set[str]:
    keys: set[str] = set()
    for path in TEMPLATES.glob("*.html"):
        text = path.read_text()
        keys |= set(re.findall(r"t\('([a-z_0-9]+)'\)", text))
        for prefix in re.findall(r"t\('([a-z_]+)' ~", text):
            if prefix in DYNAMIC:
                keys |= {prefix + v for v in DYNAMIC[prefix]}
            else:  # an application's prefix: at least its words exist
                assert any(k.startswith(prefix) for k in MESSAGES), (path.name, prefix)
    return keys


def test_chinese_is_the_default_and_a_choice_persists() -> None:
    assert choose_lang({}, {}, "") == "zh"
    assert choose_lang({}, {}, "en-US,en;q=0.9") == "en"
    assert choose_lang({}, {}, "fr-FR, zh-CN;q=0.8, en;q=0.5") == "zh"
    assert choose_lang({}, {}, "en;q=0.2, zh-TW;q=0.9") == "zh"
    assert choose_lang({}, {"lang": "en"}, "zh-CN") == "en"  # the cookie beats the header
    assert choose_lang({"lang": "zh"}, {"lang": "en"}, "en") == "zh"  # ?lang= beats both
    assert choose_lang({"lang": "xx"}, {"lang": "<script>"}, "de") == "zh"  # garbage ignored
    assert choose_lang({}, {}, "en;q=abc, " * 500) in ("zh", "en")  # a hostile header: no error
    assert choose_lang({}, {}, "en;q=abc, de") == "zh"  # a bad q-value drops its language


def test_every_word_a_template_shows_exists_in_both_languages() -> None:
    keys = _template_keys()
    assert len(keys) > 150
    missing = sorted(k for k in keys if k not in MESSAGES)
    assert not missing, missing
    for key in keys:
        zh, en = MESSAGES[key]
        assert zh.strip() and en.strip(), key
    assert translate("zh", "nav_home") == "首页"
    assert translate("en", "nav_home") == "Home"


def test_script_words_are_translated_too() -> None:
    js = (STATIC / "explorer.js").read_text()
    used = set(re.findall(r'w\("(js_[a-z_]+)"\)', js))
    assert used
    assert used <= set(script_words("zh")), used - set(script_words("zh"))
    assert script_words("zh")["js_pending"] != script_words("en")["js_pending"]


def test_templates_compile() -> None:
    names = ENV.list_templates()
    assert "base.html" in names and "home.html" in names
    for name in names:
        ENV.get_template(name)


def test_nothing_is_loaded_from_elsewhere() -> None:
    """No CDN: every src/href in the templates is a path on this node (or a fragment)."""
    for path in TEMPLATES.glob("*.html"):
        for url in re.findall(r'(?:src|href)="([^"]+)"', path.read_text()):
            assert url.startswith(("/", "#", "{{", "?")), (path.name, url)
    for path in STATIC.glob("*.js"):
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", path.read_text()), path.name


def test_script_weight_is_within_budget() -> None:
    scripts = [p for p in STATIC.rglob("*.js")]
    total = sum(p.stat().st_size for p in scripts)
    assert any(p.name == "echarts.min.js" for p in scripts)
    assert total < SCRIPT_BYTES_MAX, f"{total} bytes of script"


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0"), (1234567, "1,234,567"), (10**18, "1,000,000,000,000,000,000"), (None, "—")],
)
def test_amounts_are_exact(value: int | None, text: str) -> None:
    assert amount(value) == text


def test_money_and_ratios_are_exact() -> None:
    assert yuan(5_320_000_000) == "¥53,200,000.00"
    assert yuan(-1) == "-¥0.01"
    assert bp(6500) == "65.00%"
    assert bp(7) == "0.07%"
    assert short("ab" * 32) == "ababababab…ababab"
    assert short("abc") == "abc"


def test_vendored_assets_carry_their_licenses() -> None:
    vendor = STATIC / "vendor"
    assert (vendor / "VENDORED.md").is_file()
    assert (vendor / "echarts" / "LICENSE").is_file()
    assert Path(vendor / "echarts" / "echarts.min.js").stat().st_size > 100_000


def test_a_read_made_for_a_browser_carries_its_address() -> None:
    """The API traces one at a time per client address: the explorer asks as each browser, so
    viewers on different machines never queue behind one another on a shared address."""

    async def who(request: Request) -> JSONResponse:
        return JSONResponse({"client": request.client.host if request.client else None})

    reader = ApiReader()
    reader.bind(Starlette(routes=[Route("/who", who)]))

    async def both() -> tuple[object, object]:
        mine = await reader.get_as("203.0.113.7", "/who")
        shared = await reader.get("/who")
        return mine.doc, shared.doc

    mine, shared = asyncio.run(both())
    assert mine == {"client": "203.0.113.7"}
    assert shared != mine


def test_a_hostile_choice_in_the_query_falls_back_to_the_default() -> None:
    """/dag?sample=², ?hops=٣ or ten thousand digits: the default, never a 500."""
    choices = (100, 300, 1000)
    assert number_choice("300", choices, 300) == 300
    assert number_choice("1000", choices, 300) == 1000
    for raw in (None, "", "²", "٣", "0300", " 300", "9" * 10_000, "-1", "3e2"):
        assert number_choice(raw, choices, 300) == 300, raw

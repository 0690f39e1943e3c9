"""Helpers for the browser tests: Debian's chromium, overflow at phone width, axe, screenshots.

Playwright is imported only where a browser is launched, so that a machine
without it (or without chromium) collects these tests and skips them with a
message saying what to install; GOVCHAIN_REQUIRE_BROWSER=1 (set by .ci/run)
turns that skip into a failure.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Request, ViewportSize

# Debian's chromium: Playwright launches it and never downloads a browser of its own.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--no-sandbox",  # CI runs as root, where chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
REQUIRE_ENV = "GOVCHAIN_REQUIRE_BROWSER"  # "1": a missing browser fails the tests
# "1": every screenshot also goes to docs/screenshots/; "home-zh,dag-en": only those.
TO_DOCS_ENV = "GOVCHAIN_SCREENSHOTS_TO_DOCS"

HERE = Path(__file__).resolve().parent
SCREENSHOTS = HERE / "screenshots"  # git-ignored
DOCS_SCREENSHOTS = HERE.parent.parent / "docs" / "screenshots"
AXE_JS = HERE / "vendor" / "axe-core" / "axe.min.js"
AXE_IMPACTS = ("serious", "critical")  # what fails a page; minor and moderate do not
AXE_TARGETS_SHOWN_MAX = 5  # per violated rule, in the message

PHONE_WIDTH_PX = 390
PHONE_HEIGHT_PX = 844
DESKTOP_WIDTH_PX = 1280
DESKTOP_HEIGHT_PX = 800
PHONE: ViewportSize = {"width": PHONE_WIDTH_PX, "height": PHONE_HEIGHT_PX}
DESKTOP: ViewportSize = {"width": DESKTOP_WIDTH_PX, "height": DESKTOP_HEIGHT_PX}
OVERFLOW_SHOWN_MAX = 5  # elements named when a page is wider than the phone
TIMEOUT_MS = 10_000  # any one wait of a page (load, selector); a page that slow fails

OpenPage = Callable[[str], "Page"]  # the open_page fixture: a fresh page (see new_context)

LOCALES = {"zh": "zh-CN", "en": "en-US"}  # what a browser of each language sends
HTML_LANG = {"zh": "zh-CN", "en": "en"}  # the explorer's <html lang> in each language


def missing_browser() -> str | None:
    """Why the browser tests cannot run here (None: they can)."""
    if not CHROMIUM.exists():
        return (
            f"Debian's chromium is not at {CHROMIUM}: `sudo apt-get install chromium "
            f"fonts-wqy-microhei` to run the browser tests ({REQUIRE_ENV}=1 makes this a failure)"
        )
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed: `pip install -e '.[dev]'` (or ./scripts/test)"
    return None


def launch(playwright: Any) -> Browser:
    """Debian's chromium, headless, through Playwright (a sync_playwright() instance)."""
    browser: Browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS)
    )
    return browser


def new_context(browser: Browser, base_url: str, lang: str) -> BrowserContext:
    """A fresh desktop-sized context (no cookies) whose browser asks for lang.

    lang: "zh" or "en" (a browser set to that language), or any locale ("fr-FR").
    """
    ctx = browser.new_context(
        base_url=base_url,
        locale=LOCALES.get(lang, lang),
        viewport=DESKTOP,
    )
    ctx.set_default_timeout(TIMEOUT_MS)
    return ctx


# Elements reaching past the viewport's right edge, by their box or by content that
# spills out of a box that lets it (overflow-x: visible), such as an unbroken hex id;
# only the innermost are named (their ancestors stick out because of them).
_WIDER_THAN_VIEWPORT_JS = """
(max) => {
  const width = window.innerWidth;
  const wide = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    const spills = getComputedStyle(el).overflowX === 'visible';
    const right = spills ? Math.max(r.right, r.left + el.scrollWidth) : r.right;
    if (right > width + 1) wide.push([el, right]);
  }
  const inner = wide.filter(([a]) => !wide.some(([b]) => b !== a && a.contains(b)));
  const named = inner.slice(0, max).map(([el, right]) => {
    const id = el.id ? '#' + el.id : '';
    const cls = el.classList.length ? '.' + [...el.classList].join('.') : '';
    const parent = el.parentElement;
    const within = parent ? parent.closest('[id]') : null;  // where it is, by a name
    const up = (within ? '#' + within.id + ' ' : '') + (parent ? parent.tagName.toLowerCase() : '');
    return `${up} > ${el.tagName.toLowerCase()}${id}${cls} (to ${Math.round(right)} px)`;
  });
  return {scroll: document.scrollingElement.scrollWidth, width: width, wide: named};
}
"""


def no_horizontal_overflow(page: Page) -> str | None:
    """Load page again on a 390 px phone; None if nothing scrolls sideways, else what sticks out.

    Reloaded, not only resized: what a phone shows is the page laid out for it
    (a chart drawn for the desktop may keep its width until it is redrawn).
    """
    page.set_viewport_size(PHONE)
    page.reload()
    got = page.evaluate(_WIDER_THAN_VIEWPORT_JS, OVERFLOW_SHOWN_MAX)
    if got["scroll"] <= got["width"]:
        return None
    return f"{got['scroll']} px wide at a {got['width']} px viewport; sticking out: " + (
        "; ".join(got["wide"]) or "nothing measurable (a margin or a transform?)"
    )


def axe_violations(page: Page) -> list[str]:
    """Run the vendored axe-core on page; each serious or critical violation, in words.

    The script goes in through page.evaluate (DevTools), which no Content-Security-
    Policy of the page blocks, and nothing of it stays in the page's own files.
    """
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_JS.read_text(encoding="utf-8") + "\n;undefined")
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    found = []
    for v in result["violations"]:
        if v["impact"] not in AXE_IMPACTS:
            continue
        targets = [", ".join(map(str, n["target"])) for n in v["nodes"]]
        shown = "; ".join(targets[:AXE_TARGETS_SHOWN_MAX])
        hidden = len(targets) - AXE_TARGETS_SHOWN_MAX
        more = f" and {hidden} more" if hidden > 0 else ""
        found.append(f"{v['id']} ({v['impact']}): {v['help']} — at {shown}{more}")
    return found


def shoot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """A PNG of page under tests/browser/screenshots/ (and docs/screenshots/ when asked).

    All of them weigh about 12 MB: for the README, name the few it shows, e.g.
    GOVCHAIN_SCREENSHOTS_TO_DOCS=home-zh,receipt-en.
    """
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    wanted = os.environ.get(TO_DOCS_ENV, "")
    if wanted == "1" or name in wanted.split(","):
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_SCREENSHOTS / path.name)
    return path


@contextlib.contextmanager
def requests_elsewhere(page: Page, origin: str) -> Iterator[list[str]]:
    """While inside: every URL page requests from anywhere but origin (data: and blob: aside)."""
    seen: list[str] = []
    local = (origin.rstrip("/") + "/", "data:", "blob:")

    def note(request: Request) -> None:
        if not request.url.startswith(local):
            seen.append(request.url)

    page.on("request", note)
    try:
        yield seen
    finally:
        page.remove_listener("request", note)


def appears(page: Page, selector: str) -> bool:
    """Whether an element matching selector is attached within TIMEOUT_MS (scripts may add it)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout  # noqa: PLC0415 (lazy)

    try:
        page.locator(selector).first.wait_for(state="attached", timeout=TIMEOUT_MS)
    except PlaywrightTimeout:
        return False
    return True


def main_text(page: Page) -> str:
    """The visible text of <main id="main"> ("" when the page has none), without waiting."""
    text: str = page.evaluate("document.querySelector('main#main')?.innerText ?? ''")
    return text

"""Fixtures of the browser tests: Debian's chromium through Playwright, and a live devnet.

Both are module-scoped: a test module pays for one devnet (about 15 s to start
and fill) and one browser, and they stop when it ends, so that the rest of the
suite does not run beside them. Without chromium or playwright every test that
needs them skips, saying what to install, or fails under GOVCHAIN_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from browser.livenet import Live, LiveNet, live_devnet
from browser.pagekit import (
    DESKTOP,
    REQUIRE_ENV,
    OpenPage,
    launch,
    missing_browser,
    new_context,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page


def pytest_configure(config: pytest.Config) -> None:
    """Know xdist's group marker even without xdist (-p no:xdist) under --strict-markers."""
    config.addinivalue_line("markers", "xdist_group(name): run on one xdist worker (loadgroup)")


@pytest.fixture(scope="module")
def chromium() -> None:
    """Skip (or fail, under GOVCHAIN_REQUIRE_BROWSER=1) when the browser tests cannot run."""
    reason = missing_browser()
    if reason is not None:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def browser(chromium: None) -> Iterator[Browser]:
    """Debian's chromium, headless, for the whole module."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 (only once it is there)

    with sync_playwright() as pw:
        b = launch(pw)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def devnet(chromium: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNet]:
    """A 4-validator devnet with one of everything and background traffic, for the module."""
    with live_devnet(tmp_path_factory.mktemp("explorer")) as running:
        yield running


@pytest.fixture(scope="module")
def live(devnet: LiveNet) -> Live:
    """What the devnet holds: the ids and texts the pages should show."""
    return devnet.live


@pytest.fixture(scope="module")
def page_in(browser: Browser, live: Live) -> Iterator[OpenPage]:
    """page_in(lang): the module's one page for lang, desktop-sized again (a context costs
    a third of a second here: the tests of every page share one per language)."""
    pages: dict[str, Page] = {}

    def reused(lang: str) -> Page:
        if lang not in pages:
            pages[lang] = new_context(browser, live.url, lang).new_page()
        page = pages[lang]
        page.set_viewport_size(DESKTOP)
        return page

    yield reused
    for page in pages.values():
        page.context.close()


@pytest.fixture
def open_page(browser: Browser, live: Live) -> Iterator[OpenPage]:
    """open_page(lang): a new page in a fresh context (no cookies) asking for lang, on node 0."""
    contexts: list[BrowserContext] = []

    def opened(lang: str) -> Page:
        ctx = new_context(browser, live.url, lang)
        contexts.append(ctx)
        return ctx.new_page()

    yield opened
    for ctx in contexts:
        ctx.close()

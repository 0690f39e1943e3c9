"""Part 2's browsers: VIEWERS emulated browsers doing what static/explorer.js does on
the home page, or (--real-browsers) headless Chromium pages, in a process of their own
beside the devnet (see bench_explorer.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import queue
import random
import re
from collections import Counter
from multiprocessing.synchronize import Event as MpEvent
from typing import Any

import httpx
import websockets

from explorer_measure import SERVER_TIMING, summary, tree_cpu_s

VIEWERS = 5
STATS_EVERY_S = 3.0  # explorer.js: setInterval(refresh, 3000)
STATS_SECONDS = 300
CHECKPOINTS_LIMIT = 10
DAG_EVERY_S = 2.0  # explorer.js: liveDag(strip, 80, ..., 2000), setTimeout after each
DAG_LIMIT = 80
PAGE_EVERY_S = 5.0
WS_RETRY_S = 2.0  # explorer.js: ws.onclose -> setTimeout(connect, 2000)
VIEWER_HTTP_TIMEOUT_S = 30.0
VIEWERS_READY_TIMEOUT_S = 90.0
VIEWERS_STOP_TIMEOUT_S = 30.0
# What an emulated browser does (--viewer-parts takes some, to see what each costs): the
# websocket, the 3 s refresh, the 2 s DAG strip, the random page every 5 s.
VIEWER_PARTS = ("socket", "refresh", "dag", "pages")
CHECKPOINT_HEAD = '{"type":"checkpoint"'  # Starlette's send_json: compact separators
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FIXED_PAGES = (
    "/",
    "/dag",
    "/checkpoints",
    "/governance",
    "/governance/params",
    "/governance/rules",
    "/governance/services",
    "/audit",
    "/wr",
    "/report",
)
_ASSET = re.compile(r'(?:src|href)="(/static/[^"?#]+)"')


class Tally:
    """What the viewers did: requests by kind, errors, socket traffic, page server times."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.ws_messages = 0
        self.ws_bytes = 0
        self.page_ms: dict[str, list[float]] = {}

    def doc(self) -> dict[str, Any]:
        """As plain data."""
        pages = {k: summary(v) | {"n": len(v)} for k, v in sorted(self.page_ms.items())}
        return {
            "requests": dict(self.requests),
            "errors": dict(self.errors),
            "ws_messages": self.ws_messages,
            "ws_mb": round(self.ws_bytes / 1e6, 1),
            "pages": pages,
        }


class EmulatedBrowser:
    """One browser on the home page, doing what static/explorer.js does (see the docstring)."""

    def __init__(self, base: str, rng: random.Random, tally: Tally, parts: frozenset[str]) -> None:
        self.base = base
        self.parts = parts
        self.rng = rng
        self.tally = tally
        self.http = httpx.AsyncClient(base_url=base, timeout=VIEWER_HTTP_TIMEOUT_S)
        self.etags: dict[str, str] = {}
        self.shown_height = 0  # the newest checkpoint the page shows
        self.recent: list[dict[str, Any]] = []  # the last DAG strip's vertices

    async def get(self, kind: str, path: str, **kw: Any) -> httpx.Response | None:
        """A GET counted by kind; None (and an error counted) when it fails."""
        self.tally.requests[kind] += 1
        try:
            r = await self.http.get(path, **kw)
        except httpx.HTTPError as e:
            self.tally.errors[f"{kind}: {type(e).__name__}"] += 1
            return None
        if r.status_code >= 400 and r.status_code != 404:
            self.tally.errors[f"{kind}: {r.status_code}"] += 1
        return r

    async def load_page(self, path: str) -> None:
        """A full page load: the HTML, then its styles and scripts (revalidated once cached)."""
        r = await self.get("page", path)
        if r is None:
            return
        m = SERVER_TIMING.search(r.headers.get("server-timing", ""))
        if m:
            label = re.sub(r"/[0-9a-f]{16,}|\?.*|/[0-9]+$", "/…", path) or "/"
            self.tally.page_ms.setdefault(label, []).append(float(m.group(1)))
        if path == "/":
            self.shown_height = max(self.shown_height, _height_in(r.text))
        for asset in dict.fromkeys(_ASSET.findall(r.text)):
            tag = self.etags.get(asset)
            a = await self.get("asset", asset, headers={"if-none-match": tag} if tag else None)
            if a is not None and a.status_code == 200 and "etag" in a.headers:
                self.etags[asset] = a.headers["etag"]

    def random_page(self) -> str:
        """A page as a visitor would open one: fixed ones, or one of the chain's latest."""
        choices = list(FIXED_PAGES)
        if self.shown_height:
            choices += [f"/checkpoints/{self.shown_height}", f"/search?q={self.shown_height}"]
        if self.recent:
            v = self.rng.choice(self.recent)
            choices += [f"/txs/{v['id']}", f"/accounts/{v['sender']}"]
            choices.append(f"/trace?address={v['sender']}")
        return self.rng.choice(choices)

    async def socket(self, stop: asyncio.Event) -> None:
        """The page's websocket: every message parsed; checkpoints move the shown height."""
        url = self.base.replace("http://", "ws://") + "/v1/events?types=checkpoint"
        while not stop.is_set():
            try:
                async with websockets.connect(url, max_size=None, max_queue=None) as ws:
                    async for raw in ws:
                        self.tally.ws_messages += 1
                        self.tally.ws_bytes += len(raw)
                        # The browser parses every message; parsing them here would
                        # only charge the browser's work to the shared cores. The node
                        # puts "type" first, so a checkpoint is known by its head.
                        if CHECKPOINT_HEAD in raw[: len(CHECKPOINT_HEAD) + 4]:
                            ev = json.loads(raw)
                            self.shown_height = max(self.shown_height, int(ev["height"]))
            except (OSError, websockets.WebSocketException) as e:
                self.tally.errors[f"ws: {type(e).__name__}"] += 1
            await asyncio.sleep(WS_RETRY_S)

    async def refresh(self, stop: asyncio.Event) -> None:
        """Every 3 s: stats, status, and the checkpoints the socket missed."""
        while not stop.is_set():
            await asyncio.sleep(STATS_EVERY_S)
            await self.get("stats", "/v1/stats/recent", params={"seconds": STATS_SECONDS})
            r = await self.get("status", "/v1/status")
            if r is None or r.status_code != 200:
                continue
            if int(r.json()["height"]) > self.shown_height:
                c = await self.get(
                    "checkpoints", "/v1/checkpoints", params={"limit": CHECKPOINTS_LIMIT}
                )
                if c is not None and c.status_code == 200:
                    heights = [int(x["height"]) for x in c.json()["checkpoints"]]
                    self.shown_height = max([self.shown_height, *heights])

    async def dag(self, stop: asyncio.Event) -> None:
        """The DAG strip: GET /v1/dag/recent?limit=80, then 2 s, then again."""
        while not stop.is_set():
            r = await self.get("dag", "/v1/dag/recent", params={"limit": DAG_LIMIT})
            if r is not None and r.status_code == 200:
                self.recent = r.json()["vertices"]
            await asyncio.sleep(DAG_EVERY_S)

    async def pages(self, stop: asyncio.Event) -> None:
        """Every 5 s, a full load of a random page."""
        while not stop.is_set():
            await asyncio.sleep(PAGE_EVERY_S)
            await self.load_page(self.random_page())

    async def run(self, ready: asyncio.Event, stop: asyncio.Event) -> None:
        """Open the home page, then keep it live until stop."""
        await asyncio.sleep(self.rng.uniform(0, 1))  # browsers are not opened in lockstep
        await self.load_page("/")
        every = {"socket": self.socket, "refresh": self.refresh, "dag": self.dag}
        every["pages"] = self.pages
        tasks = [asyncio.create_task(every[p](stop)) for p in VIEWER_PARTS if p in self.parts]
        ready.set()
        await stop.wait()
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        await self.http.aclose()


def _height_in(html: str) -> int:
    """The height the home page shows (its data-height)."""
    m = re.search(r'id="height"[^>]*data-height="([0-9]+)"', html) or re.search(
        r'data-height="([0-9]+)"[^>]*id="height"', html
    )
    return int(m.group(1)) if m else 0


async def _emulated(
    base: str, count: int, parts: frozenset[str], ready_q: Any, stop_ev: MpEvent
) -> Tally:
    tally = Tally()
    stop = asyncio.Event()
    readies = [asyncio.Event() for _ in range(count)]
    browsers = [EmulatedBrowser(base, random.Random(i), tally, parts) for i in range(count)]
    runs = [asyncio.create_task(b.run(r, stop)) for b, r in zip(browsers, readies, strict=True)]
    await asyncio.gather(*(r.wait() for r in readies))
    ready_q.put({"ready": True})
    while not stop_ev.is_set():
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.gather(*runs, return_exceptions=True)
    return tally


def _real(base: str, count: int, ready_q: Any, stop_ev: MpEvent) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 (only --real-browsers)

    requests: Counter[str] = Counter()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        pages = [browser.new_page() for _ in range(count)]
        for pg in pages:
            pg.on("request", lambda req: requests.update([req.url.split("?")[0].split("/", 3)[-1]]))
            pg.goto(base + "/", wait_until="load")
        ready_q.put({"ready": True})
        while not stop_ev.is_set():
            pages[0].wait_for_timeout(200)
        visible = [str(pg.evaluate("document.visibilityState")) for pg in pages]
        browser.close()
    top = dict(requests.most_common(12))
    return {"requests": top, "requests_total": sum(requests.values()), "visibility": visible}


def viewers_main(
    base: str, count: int, mode: str, parts: frozenset[str], ready_q: Any, stop_ev: MpEvent
) -> None:
    """The viewers' process: count browsers on base until stop_ev; what they did, on ready_q."""
    try:
        if mode == "emulated":
            doc = asyncio.run(_emulated(base, count, parts, ready_q, stop_ev)).doc()
        else:
            doc = _real(base, count, ready_q, stop_ev)
        ready_q.put({"done": doc})
    except Exception as e:  # the parent must hear of it, not wait for a timeout
        ready_q.put({"failed": f"{type(e).__name__}: {e}"})


class Viewers:
    """The viewers' process, started and stopped by the measurement."""

    def __init__(self, base: str, mode: str, parts: frozenset[str]) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.q: Any = ctx.Queue()
        self.stop_ev = ctx.Event()
        self.proc = ctx.Process(
            target=viewers_main,
            args=(base, VIEWERS, mode, parts, self.q, self.stop_ev),
            daemon=True,
        )
        self.proc.start()

    def _next(self, timeout_s: float) -> dict[str, Any]:
        try:
            msg: dict[str, Any] = self.q.get(timeout=timeout_s)
        except queue.Empty:
            raise RuntimeError(f"the viewers said nothing in {timeout_s:g} s") from None
        if "failed" in msg:
            raise RuntimeError(f"the viewers failed: {msg['failed']}")
        return msg

    def wait_ready(self) -> None:
        """Until every viewer has its page open."""
        self._next(VIEWERS_READY_TIMEOUT_S)

    def cpu_s(self) -> float:
        """CPU seconds of the viewers' process and its children so far."""
        return tree_cpu_s(self.proc.pid) if self.proc.pid is not None else float("nan")

    def stop(self) -> dict[str, Any]:
        """Stop them; what they did."""
        self.stop_ev.set()
        try:
            return dict(self._next(VIEWERS_STOP_TIMEOUT_S)["done"])
        finally:
            self.close()

    def close(self) -> None:
        """Make sure the process is gone (terminated by its handle if it hangs)."""
        self.stop_ev.set()
        self.proc.join(VIEWERS_STOP_TIMEOUT_S)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join()


def warm_templates(url: str) -> None:
    """GET each fixed page once: a node that browsers have watched for a while has compiled
    their templates long ago, so the first compile is kept out of the measurement."""
    with httpx.Client(base_url=url, timeout=VIEWER_HTTP_TIMEOUT_S) as http:
        for path in FIXED_PAGES:
            http.get(path)

"""Time to the chat bubble and the bytes before it: the loader against the single widget.js.

Run: python -m tests.bench.bench_widget_load [--rounds 3]
A child process serves, on one loopback port, the same small library page twice:
``/new/`` embeds today's loader (built and served by the bridge's own code, with its
brotli/gzip files and cache headers) and ``/old/`` embeds the single widget.js from before
the split (commit LEGACY, read with git; served as the bridge served it: uncompressed,
``max-age=300``, the bubble after ``/widget/config``). Debian's Chromium loads each page
at loopback, 1.6 Mbps/150 ms and 500 kbps/400 ms (``Network.emulateNetworkConditions``),
cold (a new browser profile) and warm (the same profile, a second page).

Per case it prints the median (min to max) of: the bubble's time from navigation start and
from the embed script's request start (the moment the page's own markup is done with
and the widget's cost begins); the bytes on the wire before the bubble (Chromium's
network log, widget requests only, headers included); the widget code downloaded on the
whole visit, the chat fetched by a hover included; and for the loader, what opening the
chat then costs (click to the panel, the chat fetched then). The physical minimum for
the bubble after the script starts is one request's latency plus the loader's bytes at
the line's rate, as ``floor_ms`` computes. Never asserts: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import subprocess
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

from aiohttp import web
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from adapters.i18n import Catalog
from adapters.i18n.web import TextsEndpoint
from adapters.widget.assets import WidgetAssets
from adapters.widget.bundle import build
from adapters.widget.steps import WidgetSettings
from tests.browser import CHROMIUM
from tests.e2e.conftest import CHROMIUM_ARGS
from tests.e2e.network_log import NetworkLog

LEGACY = "e1ec063"  # the last commit with the single widget.js
ROOT = Path(__file__).resolve().parents[2]
LINES: dict[str, tuple[float, float, float] | None] = {  # (latency ms, down B/s, up B/s)
    "loopback": None,
    "1.6 Mbps/150 ms": (150, 1_600_000 / 8, 750_000 / 8),
    "500 kbps/400 ms": (400, 500_000 / 8, 500_000 / 8),
}
PAGE = ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Library</title>"
        "</head><body><h1>Perpustakaan Kota Pustaka</h1><p>Opening hours, catalogue, "
        "events.</p><script src=\"widget.js\" async></script></body></html>")
# Notes the moment the bubble's element enters the page (it carries its shadow root and
# launcher already, in both versions); it paints in the frame that follows.
WATCH = """
new MutationObserver((changes, observer) => {
  if (document.querySelector("pustaka-chat")) {
    window.__bubbleAt = performance.now();
    observer.disconnect();
  }
}).observe(document, { childList: true, subtree: true });
"""
LAUNCHER = 'button[part="launcher"]'


# -- the server's process -------------------------------------------------------------------

def legacy_script() -> bytes:
    try:
        return subprocess.run(["git", "show", f"{LEGACY}:adapters/widget/static/widget.js"],
                              cwd=ROOT, check=True, capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit(f"need git and commit {LEGACY} for the single widget.js: {exc}") from exc


def site(legacy: bytes) -> web.Application:
    settings = WidgetSettings(library="Perpustakaan Kota Pustaka", greeting={"en": "Hello!"})
    config = {**settings.public(), "availability": {"staffed": True}, "files": {"enabled": False}}

    async def page(_: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    async def widget_config(_: web.Request) -> web.Response:
        return web.json_response(config, headers={"Cache-Control": "no-store"})

    async def old_script(_: web.Request) -> web.Response:
        return web.Response(body=legacy, content_type="application/javascript",
                            headers={"Cache-Control": "public, max-age=300"})

    app = web.Application()
    for prefix in ("new", "old"):
        sub = web.Application()
        sub.router.add_get("/", page)
        sub.router.add_get("/widget/config", widget_config)
        if prefix == "new":
            WidgetAssets(build(settings.public())).add_routes(sub)
            sub.add_routes(TextsEndpoint(Catalog.bundled()).routes())  # the chat's words
        else:
            sub.router.add_get("/widget.js", old_script)
        app.add_subapp(f"/{prefix}", sub)
    return app


def serve(conn: Connection) -> None:
    async def main() -> None:
        runner = web.AppRunner(site(legacy_script()))
        await runner.setup()
        server = web.TCPSite(runner, "127.0.0.1", 0)
        await server.start()
        conn.send(runner.addresses[0][1])
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        await runner.cleanup()

    asyncio.run(main())


# -- one visit --------------------------------------------------------------------------------

@dataclass
class Visit:
    bubble: float  # ms from navigation start
    after_script: float  # ms from the embed script's request start
    wire_before: int  # widget bytes on the wire before the bubble
    code: int  # widget code downloaded on the whole visit (bodies, compressed)
    open_ms: float | None = None  # click to the panel shown (the loader only)
    open_bytes: int | None = None  # the chat fetched by that click


async def visit(context: BrowserContext, url: str, line: tuple[float, float, float] | None,
                *, hover: bool, click: bool) -> Visit:
    page = await context.new_page()
    log = await NetworkLog.attach(page)
    if line is not None:
        latency, down, up = line
        await log.cdp.send("Network.emulateNetworkConditions", {
            "offline": False, "latency": latency, "downloadThroughput": down,
            "uploadThroughput": up})
    await page.goto(url, wait_until="commit")
    await page.wait_for_function("() => window.__bubbleAt !== undefined", timeout=30_000)
    result = await _bubble_figures(page, log)
    if click:
        result.open_ms, result.open_bytes = await _open(page, log)
    elif hover:
        await page.locator(LAUNCHER).hover()
        await page.wait_for_function("() => window.PustakaChat.state().loaded", timeout=30_000)
    await page.wait_for_load_state("networkidle")
    result.code = sum(f.body for f in log.fetches() if f.url.endswith(".js"))
    await page.close()
    return result


async def _bubble_figures(page: Page, log: NetworkLog) -> Visit:
    times = await page.evaluate("""() => {
        const script = performance.getEntriesByType("resource")
            .find((e) => e.name.endsWith("/widget.js"));
        return [window.__bubbleAt, script ? script.startTime : NaN,
                performance.timeOrigin + window.__bubbleAt];
    }""")
    bubble, script_start, bubble_wall = times
    wire = sum(f.wire for f in log.fetches() if "/widget" in f.url and f.done
               and f.finished_wall(bubble_wall / 1000))
    return Visit(bubble, bubble - script_start, wire, 0)


async def _open(page: Page, log: NetworkLog) -> tuple[float, int]:
    before = {id(f) for f in log.fetches()}
    took: float = await page.evaluate("""() => new Promise((resolve) => {
        const began = performance.now();
        const root = document.querySelector("pustaka-chat").shadowRoot;
        root.querySelector('button[part="launcher"]').click();
        const check = () => {
            const panel = root.querySelector('[part="panel"]');
            if (panel && !panel.hidden) resolve(performance.now() - began);
            else requestAnimationFrame(check);
        };
        check();
    })""")
    fetched = sum(f.body for f in log.fetches() if id(f) not in before and f.url.endswith(".js"))
    return took, fetched


# -- the runs and the table ----------------------------------------------------------------

@dataclass
class Case:
    visits: list[Visit] = field(default_factory=list)

    def figure(self, name: str) -> str:
        values = [getattr(v, name) for v in self.visits if getattr(v, name) is not None]
        if not values:
            return "-"
        mid = statistics.median(values)
        unit = " B" if name in ("wire_before", "code", "open_bytes") else " ms"
        return f"{mid:,.0f}{unit} ({min(values):,.0f}–{max(values):,.0f})"


async def measure(browser: Browser, base: str, rounds: int) -> dict[tuple[str, str, str], Case]:
    cases: dict[tuple[str, str, str], Case] = {}
    for line_name, line in LINES.items():
        for variant in ("old", "new"):
            for _ in range(rounds):
                context = await watched(browser)
                url = f"{base}/{variant}/"
                new = variant == "new"
                cold = await visit(context, url, line, hover=new, click=False)
                warm = await visit(context, url + "?again", line, hover=new, click=False)
                await context.close()
                context = await watched(browser)
                opened = await visit(context, url, line, hover=False, click=True)
                await context.close()
                cold.open_ms, cold.open_bytes = opened.open_ms, opened.open_bytes
                cases.setdefault((line_name, variant, "cold"), Case()).visits.append(cold)
                cases.setdefault((line_name, variant, "warm"), Case()).visits.append(warm)
    return cases


def floor_ms(line: tuple[float, float, float] | None, size: int) -> float:
    """One request's added latency plus ``size`` bytes at the line's download rate."""
    return 0.0 if line is None else line[0] + size / line[1] * 1000


def report(cases: dict[tuple[str, str, str], Case], loader_bytes: int) -> None:
    head = (f"{'line':<16} {'widget':<7} {'cache':<5} {'bubble from nav':<22} "
            f"{'bubble after script':<22} {'bytes before bubble':<24} {'code downloaded':<26} "
            f"{'click to panel (cold)':<22}")
    print(head)
    print("-" * len(head))
    for (line_name, variant, cache), case in cases.items():
        print(f"{line_name:<16} {variant:<7} {cache:<5} {case.figure('bubble'):<22} "
              f"{case.figure('after_script'):<22} {case.figure('wire_before'):<24} "
              f"{case.figure('code'):<26} {case.figure('open_ms') if cache == 'cold' else '':<22}")
    print()
    print(f"loader: {loader_bytes:,} B brotli; physical minimum for the bubble after the "
          "script starts (latency + loader bytes at the line's rate):")
    for name, line in LINES.items():
        print(f"  {name:<16} {floor_ms(line, loader_bytes):,.0f} ms")
    print("targets: <= 10 KB before the bubble; bubble <= 150 ms after the script starts on "
          "loopback and <= 800 ms at 500 kbps/400 ms cold; 0 B of widget code on a warm visit")


async def main(rounds: int) -> None:
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(child,))
    server.start()
    try:
        base = f"http://127.0.0.1:{parent.recv()}"
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            cases = await measure(browser, base, rounds)
            await browser.close()
        report(cases, len(build(WidgetSettings().public()).loader.brotli))
    finally:
        parent.send("stop")
        server.join(10)


async def watched(browser: Browser) -> BrowserContext:
    """A new browser profile that notes when the bubble appears on each of its pages."""
    context = await browser.new_context(locale="en-GB")
    await context.add_init_script(WATCH)
    return context


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args().rounds))

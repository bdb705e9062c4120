"""The light loader in a real browser: the bubble alone on first paint, the chat fetched
when the patron reaches for it, nothing downloaded again on a return visit, and the
branding a page asks for. Bytes are counted by Chromium's own network log."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, Route, expect

from bridge.demo import demo_bridge
from bridge.web_guard import PAGE_CSP
from tests.e2e.conftest import Desk, page_in_language
from tests.e2e.network_log import NetworkLog
from tests.e2e.test_widget_browser import LAUNCHER, PANEL, ask, open_chat

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

CHAT = "/widget/static/chat."
READY = "() => window.PustakaChat && window.PustakaChat.state().ready"


@pytest_asyncio.fixture(loop_scope="module")
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context(locale="en-GB")
    errors: list[str] = []
    context.on("weberror", lambda e: errors.append(str(e.error)))
    yield context
    await context.close()
    assert errors == [], errors


async def visit(context: BrowserContext, url: str) -> tuple[Page, NetworkLog]:
    """A new tab of the same browser on ``url``, logged from its first request."""
    page = await context.new_page()
    log = await NetworkLog.attach(page)
    await page.goto(url)
    await page.wait_for_function(READY)
    await page.wait_for_load_state("networkidle")
    return page, log


async def test_first_paint_is_the_loader_alone(context: BrowserContext, desk: Desk) -> None:
    """A first-time visitor gets the bubble from one compressed file of at most 10 KB;
    neither the chat nor its config nor a socket is fetched until they reach for it."""
    sockets: list[str] = []
    page = await context.new_page()
    page.on("websocket", lambda ws: sockets.append(ws.url))
    log = await NetworkLog.attach(page)
    await page.goto(desk.bridge.url + "/")
    await page.wait_for_function(READY)
    await page.wait_for_load_state("networkidle")
    await expect(page.locator(LAUNCHER)).to_be_visible()
    [loader] = log.fetches("/widget.js")
    assert loader.status == 200 and 0 < loader.body <= 10_000, loader
    assert log.fetches(CHAT) == [] and log.fetches("/widget/config") == [] and sockets == []
    assert (await page.evaluate("window.PustakaChat.state()"))["loaded"] is False


async def test_the_chat_comes_on_hover_and_opens_on_click(
    context: BrowserContext, desk: Desk
) -> None:
    """Pointing at the bubble fetches the chat without opening it; a click opens it."""
    page, log = await visit(context, desk.bridge.url + "/")
    await page.locator(LAUNCHER).hover()
    await page.wait_for_function("() => window.PustakaChat.state().loaded")
    await expect(page.locator(PANEL)).to_be_hidden()
    [chat] = log.fetches(CHAT)
    assert chat.status == 200
    await open_chat(page)


async def test_a_click_before_the_chat_arrived_opens_it(browser: Browser, desk: Desk) -> None:
    """A patron who clicks at once (no hover first: a touch screen, a keyboard) sees the
    chat open as soon as it has arrived, and can ask."""
    context = await browser.new_context(locale="en-GB", has_touch=True)
    try:
        page, log = await visit(context, desk.bridge.url + "/")
        await page.evaluate("window.PustakaChat.open()")
        await expect(page.locator(PANEL)).to_be_visible()
        await page.wait_for_function("() => window.PustakaChat.state().connected")
        await ask(page, "Is the library open on Sunday?")
        assert len(log.fetches(CHAT)) == 1
    finally:
        await context.close()


async def test_a_return_visit_downloads_no_widget_code(context: BrowserContext, desk: Desk) -> None:
    """After a conversation, the next page starts the chat at once (replies reach the
    patron while they browse) from the browser's cache: no byte of widget code again."""
    page, _ = await visit(context, desk.bridge.url + "/")
    await open_chat(page)
    await ask(page, "Do you lend e-readers?")
    await page.close()
    page, log = await visit(context, desk.bridge.url + "/?page=2")
    await page.wait_for_function("() => window.PustakaChat.state().connected")
    assert log.fetches(CHAT), "a returning patron's chat starts without a click"
    for fetch in log.fetches("/widget.js") + log.fetches(CHAT):
        assert fetch.wire == 0 and fetch.body == 0, fetch


async def _branded_page(context: BrowserContext, desk: Desk, attributes: str,
                        csp: str = PAGE_CSP, violations: list[str] | None = None) -> Page:
    """A library page whose embed tag carries ``attributes``, under ``csp``; the CSP
    violations the browser reports go into ``violations``."""
    html = (f'<!doctype html><html lang="en"><title>Branch</title><body><h1>Branch</h1>'
            f'<script src="/widget.js" {attributes} async></script></body></html>')

    async def serve(route: Route) -> None:
        await route.fulfill(body=html, content_type="text/html",
                            headers={"Content-Security-Policy": csp})

    page = await context.new_page()
    if violations is not None:
        page.on("console", lambda m: violations.append(m.text)
                if "Content Security Policy" in m.text else None)
    await page.route(desk.bridge.url + "/branch.html", serve)
    await page.goto(desk.bridge.url + "/branch.html")
    await page.wait_for_function(READY)
    return page


async def test_data_attributes_brand_the_bubble_for_one_page(
    context: BrowserContext, desk: Desk
) -> None:
    """Size, side, offsets, colour (with readable ink on it) and a text label come from
    the tag; the panel opens on the same side, at the same offset."""
    page = await _branded_page(context, desk, 'data-size="large" data-position="left" '
                               'data-offset-x="40" data-offset-y="30" data-colour="#ffcc00" '
                               'data-label="Ask a librarian"')
    launcher = page.locator(LAUNCHER)
    await expect(launcher).to_contain_text("Ask a librarian")
    box = await launcher.bounding_box()
    viewport = page.viewport_size
    assert box and viewport
    assert (box["x"], box["height"]) == (40, 72)
    assert viewport["height"] - (box["y"] + box["height"]) == 30
    colours = await launcher.evaluate(
        "el => [getComputedStyle(el).backgroundColor, getComputedStyle(el).color]")
    assert colours == ["rgb(255, 204, 0)", "rgb(17, 24, 39)"]  # dark ink on yellow
    await launcher.click()
    panel = page.locator(PANEL)
    await expect(panel).to_be_visible()
    await panel.evaluate("el => Promise.all(el.getAnimations().map(a => a.finished))")
    panel_box = await panel.bounding_box()
    assert panel_box and panel_box["x"] == 40 and panel_box["width"] == 420


async def test_bad_data_attributes_fall_back_to_the_bridges_branding(
    context: BrowserContext, desk: Desk
) -> None:
    """Values a page got wrong are ignored, one by one: the bridge's colour, the normal
    size, the right side, the 20-pixel offset; the icon-only bubble keeps its name."""
    page = await _branded_page(context, desk, 'data-size="huge" data-position="middle" '
                               'data-offset-x="-5" data-colour="red;background:url(x)"')
    launcher = page.locator(LAUNCHER)
    box = await launcher.bounding_box()
    viewport = page.viewport_size
    assert box and viewport
    assert (box["width"], box["height"]) == (60, 60)
    assert viewport["width"] - (box["x"] + box["width"]) == 20
    background = await launcher.evaluate("el => getComputedStyle(el).backgroundColor")
    assert background == "rgb(11, 83, 148)"  # the bridge's #0b5394
    await expect(launcher).to_have_attribute("aria-label", "Chat with Perpustakaan Kota Pustaka")


@pytest_asyncio.fixture(loop_scope="module")
async def branded(tmp_path: Path) -> AsyncIterator[Desk]:
    """A bridge whose library chose a compact bubble with words, on the left, in plum."""
    bridge, emulator, _ = await demo_bridge(
        "127.0.0.1", 0, tmp_path, rate_limits=False, desk_port=0,
        overrides={"widget": {"size": "compact", "launcher_label": "Tanya <b>kami</b>",
                              "position": "left", "colour": "#7a1f5c", "offset_y": 0,
                              "logo": "https://library.example/logo.png"}})
    try:
        yield Desk(bridge, emulator)
    finally:
        await bridge.stop()
        await emulator.stop()


async def test_the_bridges_branding_draws_the_bubble_and_the_header(
    context: BrowserContext, branded: Desk
) -> None:
    """The library's settings reach the bubble before any other request: a compact bubble
    with its words (as text, markup and all), white ink on plum, at the left edge with no
    bottom offset; the header shows the logo once the chat opens."""
    page, log = await visit(context, branded.bridge.url + "/")
    launcher = page.locator(LAUNCHER)
    await expect(launcher.locator('[part="label"]')).to_have_text("Tanya <b>kami</b>")
    box = await launcher.bounding_box()
    viewport = page.viewport_size
    assert box and viewport
    assert (box["x"], box["height"]) == (20, 48)
    assert viewport["height"] - (box["y"] + box["height"]) == 0
    colours = await launcher.evaluate(
        "el => [getComputedStyle(el).backgroundColor, getComputedStyle(el).color]")
    assert colours == ["rgb(122, 31, 92)", "rgb(255, 255, 255)"]
    assert log.fetches(CHAT) == []
    await launcher.click()
    await expect(page.locator('img[part="logo"]')).to_have_attribute(
        "src", "https://library.example/logo.png")


async def test_a_page_that_allows_no_inline_styles_still_gets_the_whole_look(
    context: BrowserContext, desk: Desk
) -> None:
    """Under a CSP with no 'unsafe-inline' for styles, the bubble and the panel are styled
    all the same (constructed style sheets and CSSOM properties), and no violation is
    reported."""
    violations: list[str] = []
    strict = ("default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
              "img-src 'self'; object-src 'none'; base-uri 'none'")
    page = await _branded_page(context, desk, 'data-colour="#ffcc00"', csp=strict,
                               violations=violations)
    launcher = page.locator(LAUNCHER)
    box = await launcher.bounding_box()
    assert box and (box["width"], box["height"]) == (60, 60)
    background = await launcher.evaluate("el => getComputedStyle(el).backgroundColor")
    assert background == "rgb(255, 204, 0)"
    await launcher.click()
    panel = page.locator(PANEL)
    await expect(panel).to_be_visible()
    await panel.evaluate("el => Promise.all(el.getAnimations().map(a => a.finished))")
    panel_box = await panel.bounding_box()
    assert panel_box and panel_box["width"] == 380
    await page.wait_for_function("() => window.PustakaChat.state().connected")
    assert violations == []


async def test_a_loader_naming_a_chat_that_is_gone_renews_itself(
    context: BrowserContext, desk: Desk
) -> None:
    """When the chat a cached loader names is gone (the bridge was upgraded meanwhile), the
    loader fetches itself afresh, hands over to the new copy, and the click still opens
    the chat, with one bubble on the page."""
    gone: list[str] = []

    async def upgraded(route: Route) -> None:
        if not gone:
            gone.append(route.request.url)
            await route.fulfill(status=404, body="gone")
        else:
            await route.continue_()

    page = await context.new_page()
    await page.route("**/widget/static/chat.*.js", upgraded)
    log = await NetworkLog.attach(page)
    await page.goto(desk.bridge.url + "/")
    await page.wait_for_function(READY)
    await page.locator(LAUNCHER).click()
    await expect(page.locator(PANEL)).to_be_visible()
    assert gone and await page.locator("pustaka-chat").count() == 1
    _, _, renewed = log.fetches("/widget.js")  # the page's, the cache's refresh, its own
    assert "renewed=" in renewed.url and renewed.status == 200 and renewed.body > 0


async def test_a_click_while_offline_keeps_the_bubble_and_opens_once_back(
    browser: Browser, desk: Desk
) -> None:
    """With the network down the chat cannot come: the bubble stays (the loader does not
    mistake the outage for an upgrade), and the chat opens by itself once the network is
    back, since the patron asked for it."""
    context = await browser.new_context(locale="en-GB")
    try:
        page, _ = await visit(context, desk.bridge.url + "/")
        await context.set_offline(True)
        await page.locator(LAUNCHER).click()
        await page.wait_for_function(
            "() => !window.PustakaChat._loader.loading && window.PustakaChat._loader.failures")
        assert await page.locator("pustaka-chat").count() == 1
        await expect(page.locator(LAUNCHER)).to_be_visible()
        await context.set_offline(False)
        await expect(page.locator(PANEL)).to_be_visible(timeout=20_000)
    finally:
        await context.close()


@pytest_asyncio.fixture(loop_scope="module")
async def worded(tmp_path: Path) -> AsyncIterator[Desk]:
    """A bridge whose library words the bubble itself, in English and Indonesian."""
    bridge, emulator, _ = await demo_bridge(
        "127.0.0.1", 0, tmp_path, rate_limits=False, desk_port=0,
        overrides={"widget": {"texts": {"en": {"open": "Ask the desk at {library}"},
                                        "id": {"open": "Tanya meja layanan {library}"}}}})
    try:
        yield Desk(bridge, emulator)
    finally:
        await bridge.stop()
        await emulator.stop()


@pytest.mark.parametrize(("lang", "label"), [
    ("", "Ask the desk at Perpustakaan Kota Pustaka"),
    ("id", "Tanya meja layanan Perpustakaan Kota Pustaka")])
async def test_the_librarys_own_bubble_words_come_with_the_loader(
    browser: Browser, worded: Desk, lang: str, label: str
) -> None:
    """A library's [widget.texts.<code>] open = "…" labels the bubble from the loader
    alone, in the page's language, while the chat and its texts are still unfetched."""
    context = await browser.new_context(locale="en-GB")
    await page_in_language(context, lang)
    try:
        page, log = await visit(context, worded.bridge.url + "/")
        await expect(page.locator(LAUNCHER)).to_have_attribute("aria-label", label)
        assert log.fetches(CHAT) == [] and log.fetches("/widget/texts/") == []
    finally:
        await context.close()

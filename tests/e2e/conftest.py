"""Fixtures for the browser tests: Debian's Chromium, the demo bridge with its Bot API
emulator, a page holding the sample library site, and a network cable a test can unplug.

All of it runs on one event loop per module (``loop_scope="module"``), so the browser is
launched once per module while every test still gets a fresh bridge and browser context.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from adapters.telegram.emulator import BotApiEmulator
from bridge.app import Bridge
from bridge.demo import demo_bridge
from routing.model import Channel, Contact
from tests.browser import CHROMIUM, require_chromium
from tests.eventually import eventually

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


class Desk:
    """The librarians' side: the emulated Telegram group and one librarian in it."""

    LIBRARIAN = "Rina Kusuma"

    def __init__(self, bridge: Bridge, emulator: BotApiEmulator) -> None:
        self.bridge = bridge
        self.emulator = emulator
        self.group = bridge.config.telegram.group_id
        self.librarian = emulator.add_user("Rina", last_name="Kusuma", username="rina")
        emulator.add_member(self.group, self.librarian)

    def topics(self) -> list[int]:
        return [t["message_thread_id"] for t in self.emulator.topics(self.group)]

    def texts(self, thread: int) -> list[str]:
        """Message texts in a topic; the first patron message shares its post with the info
        card, so only the part after the card counts."""
        return [_body(m.get("text", "")) for m in self.emulator.messages(self.group, thread)]

    def reply(self, thread: int, text: str) -> None:
        self.emulator.user_sends(self.group, self.librarian, text, message_thread_id=thread)

    async def topic_with(self, text: str) -> int:
        """The topic whose messages include ``text``, once it got there."""
        found = await eventually(lambda: [t for t in self.topics() if text in self.texts(t)])
        assert len(found) == 1, found
        return int(found[0])

    async def patron_of(self, page: Page) -> Any:
        """The stored patron behind the visitor token this page keeps."""
        token = await page.evaluate("localStorage.getItem('pustaka.token')")
        visitor = token.split(".")[1]
        return await self.bridge.store.patron_by_contact(Contact(Channel.WIDGET, visitor))


LANGUAGE_SCRIPT = """(() => {
  const [lang, embed] = %s;
  let done = false;
  const fix = () => {
    const html = document.documentElement;
    if (html && !done) { done = true; html.setAttribute("lang", lang); }
    for (const tag of document.querySelectorAll('script[src$="/widget.js"]')) {
      for (const [name, value] of Object.entries(embed)) tag.setAttribute(name, value);
    }
  };
  new MutationObserver(fix).observe(document, { childList: true, subtree: true });
})();"""


async def page_in_language(context: BrowserContext, lang: str,
                           embed: dict[str, str] | None = None) -> None:
    """The sample site's pages say ``<html lang=lang>`` in this browser instead of their
    own Indonesian, which the chat would follow (data-lang, then the page, then the
    browser): "" leaves the choice to the browser's languages, as most tests want.
    ``embed`` adds attributes to the widget's tag (``{"data-lang": "fr"}``). Changed as
    the parser builds the page (not by rewriting the response, which would make Chromium
    treat the page as public and block its socket to the loopback bridge)."""
    await context.add_init_script(LANGUAGE_SCRIPT % json.dumps([lang, embed or {}]))


def _body(text: str) -> str:
    return text.rsplit("\n\n", 1)[-1] if text.startswith("💬 New conversation") else text


class Cable:
    """A TCP link between the browser and the bridge that a test can unplug.

    Unplugging aborts every open connection (the browser sees its WebSocket close, as when
    Wi-Fi drops) and refuses new ones until it is plugged in again.
    """

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self.plugged = True
        self.url = ""

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._link, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self.url

    def unplug(self) -> None:
        self.plugged = False
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    def plug(self) -> None:
        self.plugged = True

    async def stop(self) -> None:
        self.unplug()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.plugged:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self._host, self._port)
        except OSError:
            writer.transport.abort()
            return
        self._open |= {writer, up_writer}
        try:
            await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))
        finally:
            for end in (writer, up_writer):
                self._open.discard(end)
                end.transport.abort()


async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    sink.transport.abort()  # one side went away: so does the other, as on a real link


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Browser]:
    require_chromium()  # fails when missing; skips only on PUSTAKA_SKIP_BROWSER=1
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@pytest_asyncio.fixture(loop_scope="module")
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    bridge, emulator, _ = await demo_bridge("127.0.0.1", 0, tmp_path, rate_limits=False,
                                            desk_port=0)
    try:
        yield Desk(bridge, emulator)
    finally:
        await bridge.stop()
        await emulator.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def cable(desk: Desk) -> AsyncIterator[Cable]:
    cable = Cable(desk.bridge.url)
    await cable.start()
    yield cable
    await cable.stop()


Visitor = Callable[..., Awaitable[Page]]


@pytest_asyncio.fixture(loop_scope="module")
async def visitor(browser: Browser, desk: Desk) -> AsyncIterator[Visitor]:
    """Opens the sample library page in a new browser context (a new visitor)."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    async def open_page(base: str | None = None, *, init_script: str | None = None,
                        html_lang: str | None = "", embed: dict[str, str] | None = None,
                        referer: str | None = None, **options: Any) -> Page:
        context = await browser.new_context(**{"locale": "en-GB", **options})
        contexts.append(context)
        if init_script:
            await context.add_init_script(init_script)
        if html_lang is not None:
            await page_in_language(context, html_lang, embed)
        page = await context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto((base or desk.bridge.url) + "/", referer=referer)
        await page.wait_for_function("() => window.PustakaChat && window.PustakaChat.state().ready")
        return page

    yield open_page
    for context in contexts:  # before the bridge stops, so no long-poll keeps it waiting
        await context.close()
    assert errors == [], errors

"""Fixtures for the pre-chat form and greeting rule browser tests: the sample library
site (also at /opac/search and /e-resources) whose widget follows a test's own
``[widget.prechat]`` and ``[[widget.greetings]]``, on top of the real demo bridge of
conftest's ``desk`` (same store, outbox worker, widget hub and Bot API emulator); only
the router it hands the widget differs, in its topics and in a desk the test staffs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest_asyncio
from aiohttp import web
from playwright.async_api import Browser, BrowserContext, Page

from adapters.i18n.web import TextsEndpoint
from adapters.widget.availability import Availability
from adapters.widget.server import WidgetServer
from adapters.widget.tokens import VisitorTokens
from bridge.app import signing_secret, widget_settings
from bridge.config import widget_texts
from bridge.config_widget import greeting_rules, prechat
from bridge.demo import sample_page_routes
from routing.ports import SystemClock
from routing.router import Router, RouterPolicy
from tests.e2e.conftest import Desk, page_in_language

__all__ = ["Guest", "PrechatSite", "Site", "guest", "site"]

TOPICS = [{"label": "Borrowing", "tag": "borrowing"},
          {"label": "Research help", "tag": "research-help"}]


class PrechatSite:
    def __init__(self, desk: Desk, form: dict[str, Any], rules: list[dict[str, Any]],
                 **server: Any) -> None:
        bridge = desk.bridge
        widget = replace(bridge.config.widget, prechat=prechat(form),
                         greetings=greeting_rules(rules))
        config = replace(bridge.config, widget=widget)
        self.staffed = True
        self.router = Router(bridge.store, SystemClock(), on_enqueue=bridge.worker.wake,
                             policy=RouterPolicy(widget.max_text, topics=frozenset(
                                 t.tag for t in widget.prechat.topics)),
                             staffed=lambda now: self.staffed)
        self.texts = widget_texts(config)
        self.server = WidgetServer(self.router, bridge.hub,
                                   VisitorTokens(signing_secret(bridge.config)),
                                   widget_settings(config, self.texts),
                                   availability=lambda: Availability(self.staffed, "", ""),
                                   texts=self.texts, **server)
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        self.server.add_routes(app)
        app.add_routes(TextsEndpoint(self.texts).routes())
        sample = sample_page_routes()[0].handler
        app.add_routes([*sample_page_routes(), web.get("/opac/search", sample),
                        web.get("/e-resources", sample)])
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        tcp = web.TCPSite(self._runner, "127.0.0.1", 0)
        await tcp.start()
        self.url = f"http://127.0.0.1:{tcp._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


Site = Callable[..., Awaitable[PrechatSite]]


@pytest_asyncio.fixture(loop_scope="module")
async def site(desk: Desk) -> AsyncIterator[Site]:
    """``await site(form={...}, rules=[...])``: the sample site with that form and rules
    (and any other WidgetServer option, e.g. ``beacon_every=1``)."""
    started: list[PrechatSite] = []

    async def make(form: dict[str, Any] | None = None,
                   rules: list[dict[str, Any]] | None = None, **server: Any) -> PrechatSite:
        made = PrechatSite(desk, form or {}, rules or [], **server)
        await made.start()
        started.append(made)
        return made

    yield make
    await desk.bridge.hub.close_all()
    for made in started:
        await made.stop()


Guest = Callable[..., Awaitable[Page]]


@pytest_asyncio.fixture(loop_scope="module")
async def guest(browser: Browser) -> AsyncIterator[Guest]:
    """``await guest(site, "/opac/search")``: a page in a new browser (or ``context=``)."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    async def open_page(at: PrechatSite, path: str = "/", *,
                        context: BrowserContext | None = None,
                        init_script: str | None = None, locale: str = "en-GB",
                        html_lang: str = "") -> Page:
        if context is None:
            context = await browser.new_context(locale=locale)
            contexts.append(context)
            await page_in_language(context, "")  # the browser's locale, not the page's id
            if init_script:
                await context.add_init_script(init_script)
            # The sample pages say <html lang="id">: let the browser's language decide.
            await page_in_language(context, html_lang)
        page = await context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(at.url + path)
        await page.wait_for_function("() => window.PustakaChat && window.PustakaChat.state().ready")
        return page

    yield open_page
    for context in contexts:
        await context.close()
    assert errors == [], errors

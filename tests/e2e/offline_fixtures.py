"""Fixtures for the after-hours browser tests: a library page whose widget asks a desk
that a test staffs or leaves empty, and fresh browser contexts opened at any address.

``after_hours`` runs the widget endpoints and the sample page on a second loopback port,
on top of the real demo bridge of conftest's ``desk``: same store, outbox worker, widget
hub (so librarians' replies reach these sockets), desk poller and Bot API emulator. Only
the router it hands the widget differs, in knowing when the desk is staffed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest_asyncio
from aiohttp import web
from playwright.async_api import Browser, BrowserContext, Page

from adapters.widget.availability import Availability
from adapters.widget.server import WidgetServer
from adapters.widget.tokens import VisitorTokens
from bridge.app import signing_secret, widget_settings
from bridge.config import widget_texts
from bridge.demo import sample_page_routes
from routing.model import Conversation, Patron
from routing.ports import SystemClock
from routing.router import Router, RouterPolicy
from tests.e2e.conftest import Desk
from tests.eventually import eventually

__all__ = ["OPENS_EN", "AfterHoursSite", "Guest", "after_hours", "guest", "topic_to_answer"]

OPENS_EN = "We answer from Monday 08:00 (WIB)."
OPENS_ID = "Kami menjawab mulai Senin pukul 08.00 WIB."


class AfterHoursSite:
    """The sample library site with a desk whose duty state the test sets."""

    def __init__(self, desk: Desk) -> None:
        bridge = desk.bridge
        self.desk = desk
        self.staffed = False
        self.router = Router(bridge.store, SystemClock(),
                             policy=RouterPolicy(bridge.config.widget.max_text),
                             on_enqueue=bridge.worker.wake, staffed=lambda now: self.staffed)
        self.tokens = VisitorTokens(signing_secret(bridge.config))
        self.questions: list[tuple[Patron, Conversation]] = []
        self.server = WidgetServer(self.router, bridge.hub, self.tokens,
                                   widget_settings(bridge.config, widget_texts(bridge.config)),
                                   availability=self.availability,
                                   on_offline_question=self.question_asked)
        self.url = ""
        self._runner: web.AppRunner | None = None

    def availability(self) -> Availability:
        return Availability(self.staffed, OPENS_EN, OPENS_ID)

    async def question_asked(self, patron: Patron, conversation: Conversation) -> None:
        """Stands where the lead wires the acknowledgement email."""
        self.questions.append((patron, conversation))

    async def start(self) -> None:
        app = web.Application()
        self.server.add_routes(app)
        app.add_routes(sample_page_routes())
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


async def topic_to_answer(desk: Desk, text: str) -> int:
    """The topic holding ``text``, once the bridge has also recorded it as the
    conversation's topic. The post shows in the group a moment before the outbox stores
    the topic id; a reply in that moment finds no conversation and is dropped."""
    topic = await desk.topic_with(text)
    await eventually(lambda: desk.bridge.router.desk.conversation_for_thread(topic), within=5)
    return topic


@pytest_asyncio.fixture(loop_scope="module")
async def after_hours(desk: Desk) -> AsyncIterator[AfterHoursSite]:
    site = AfterHoursSite(desk)
    await site.start()
    yield site
    await desk.bridge.hub.close_all()  # before the site stops, so no socket keeps it waiting
    await site.stop()


Guest = Callable[..., Awaitable[Page]]


@pytest_asyncio.fixture(loop_scope="module")
async def guest(browser: Browser, after_hours: AfterHoursSite) -> AsyncIterator[Guest]:
    """Opens an address of the after-hours site in a new browser context (a new browser).

    ``guest("/#pustaka=...")`` is a patron following an email link; ``context=`` reuses
    a context (the same browser coming back)."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    async def open_page(path: str = "/", *, context: BrowserContext | None = None,
                        init_script: str | None = None, **options: Any) -> Page:
        if context is None:
            context = await browser.new_context(**{"locale": "en-GB", **options})
            contexts.append(context)
            if init_script:
                await context.add_init_script(init_script)
        page = await context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(after_hours.url + path)
        await page.wait_for_function("() => window.PustakaChat && window.PustakaChat.state().ready")
        return page

    yield open_page
    for context in contexts:
        await context.close()
    assert errors == [], errors

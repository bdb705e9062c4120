"""Starts and stops what ``bridge.bootstrap.build`` wired.

The background loops live in the web application's ``cleanup_ctx`` and the patrons'
sockets close in its ``on_shutdown``, so aiohttp runs shutdown in one order: stop
listening, close the widget sockets, stop the IMAP intake, drain in-flight deliveries,
cancel the loops; then the bot, the member directory and the store close.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Mapping
from typing import Any

from aiohttp import web
from telegram import Bot

from adapters.directory.member import MemberDirectory
from adapters.email.imap import ImapIntake
from adapters.widget.hub import WidgetHub
from bridge.bootstrap import Parts, Sleep, build
from bridge.channels import (  # re-exported: tests and benches import them from here
    make_bot,
    signing_secret,
    sip2_settings,
    telegram_budget,
    widget_settings,
)
from bridge.check import RECENT, check_addresses
from bridge.config import Config
from bridge.conn_guard import GuardedSite
from bridge.gc_pacing import pace_collections
from bridge.store.sqlite import SqliteStore
from routing.duty import DutyRoster
from routing.model import Channel
from routing.outbox import DeliveryWorker
from routing.ports import Clock, Sender
from routing.router import Router

__all__ = [
    "Bridge",
    "make_bot",
    "serve_until_signalled",
    "signing_secret",
    "sip2_settings",
    "telegram_budget",
    "widget_settings",
]

log = logging.getLogger(__name__)


class Bridge:
    """``Bridge(config, …)``: the keyword arguments go to ``build`` (a test's own store,
    clock and sleep, bot, or recording senders); ``start`` builds and listens, ``stop``
    undoes it."""

    def __init__(self, config: Config, extra_routes: list[web.RouteDef] | None = None, *,
                 store: SqliteStore | None = None, clock: Clock | None = None,
                 sleep: Sleep = asyncio.sleep, bot: Bot | None = None,
                 senders: Mapping[Channel, Sender] | None = None) -> None:
        self.config = config
        self.extra_routes = extra_routes or []
        self.url = ""
        self._inject: dict[str, Any] = {"store": store, "clock": clock, "sleep": sleep,
                                        "bot": bot, "senders": senders}
        self._parts: Parts | None = None
        self._runner: web.AppRunner | None = None
        self._drain_timeout = 10.0

    async def start(self) -> str:
        """Build, start the loops and listen; returns the address patrons' browsers use."""
        parts = await build(self.config, extra_routes=self.extra_routes, **self._inject)
        parts.web_app.cleanup_ctx.append(self._background)
        parts.web_app.on_shutdown.append(self._close_sockets)
        runner = web.AppRunner(parts.web_app, handle_signals=False)
        self._parts = parts
        try:
            await runner.setup()  # starts the loops (cleanup_ctx)
            server = self.config.server
            await GuardedSite(runner, server.host, server.port).start()  # conn_guard.py
        except BaseException:
            await runner.cleanup()
            await parts.close()
            self._parts = None
            raise
        self._runner = runner
        port = runner.addresses[0][1]
        self.url = server.public_url.rstrip("/") or f"http://{server.host}:{port}"
        await self._warn_about_proxies()
        log.info("Pustaka Bridge listening on %s (desk group %s, %s%s)", self.url,
                 parts.target.chat_id,
                 "forum topics" if parts.target.forum else "replies, no topics",
                 ", email on" if parts.imap is not None else "")
        return self.url

    async def stop(self, drain_timeout: float = 10.0) -> None:
        """Stop taking patrons, deliver what is in flight, then close everything."""
        if self._runner is not None:
            self._drain_timeout = drain_timeout
            await self._runner.cleanup()  # on_shutdown, then cleanup_ctx: see the docstring
            self._runner = None
        if self._parts is not None:
            await self._parts.close()

    async def _background(self, _: web.Application) -> AsyncIterator[None]:
        parts = self.parts
        tasks = [asyncio.create_task(run(), name=name) for name, run in parts.runners().items()]
        yield
        if parts.imap is not None:
            await parts.imap.stop()  # finishes the batch in hand, then logs out
        await parts.worker.drain(self._drain_timeout)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _close_sockets(self, _: web.Application) -> None:
        await self.parts.hub.close_all()  # no new frames from patrons

    async def _warn_about_proxies(self) -> None:
        """Behind a proxy it does not trust, the bridge sees one address for everyone."""
        recent = await self.parts.store.conversations(limit=RECENT)
        for finding in check_addresses(self.config.public_url,
                                       self.config.server.trusted_proxies, recent):
            if not finding.ok:
                log.warning("%s", finding.sentence)

    @property
    def parts(self) -> Parts:
        if self._parts is None:
            raise RuntimeError("the bridge is not started")
        return self._parts

    # The parts tests and the dashboard reach most often, by name.
    @property
    def store(self) -> SqliteStore:
        return self.parts.store

    @property
    def router(self) -> Router:
        return self.parts.router

    @property
    def worker(self) -> DeliveryWorker:
        return self.parts.worker

    @property
    def hub(self) -> WidgetHub:
        return self.parts.hub

    @property
    def bot(self) -> Bot:
        return self.parts.bot

    @property
    def roster(self) -> DutyRoster:
        return self.parts.roster

    @property
    def directory(self) -> MemberDirectory | None:
        return self.parts.directory

    @property
    def imap(self) -> ImapIntake | None:
        return self.parts.imap

    @property
    def web_app(self) -> web.Application:
        return self.parts.web_app

    @property
    def clock(self) -> Clock:
        return self.parts.clock


async def serve_until_signalled(bridge: Bridge) -> None:
    """Run until SIGINT or SIGTERM, then stop the bridge cleanly."""
    # What lives long (startup's parts, sockets, lanes) is kept out of the automatic full
    # collections, whose pause otherwise grows with it and lands on acks (bridge.gc_pacing).
    pacing = asyncio.create_task(pace_collections(), name="gc pacing")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        print("pustaka: shutting down, delivering what is in flight …", flush=True)
        pacing.cancel()
        await bridge.stop()

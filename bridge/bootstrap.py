"""The one composition root: ``build(config, store=, clock=, sleep=, bot=)`` wires every part.

Nothing here starts a task or listens on a port: ``bridge.app`` does that with what
``build`` returns. Tests build the bridge through this function too, handing in their own
clock (and its ``sleep``) where time matters, so no test waits real minutes for a
reminder or an email fallback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

from aiohttp import web
from telegram import Bot

from adapters.directory import open_directory
from adapters.telegram.desk import DeskTarget
from adapters.widget.queue_view import QueueWatch
from bridge.admin.app import admin_app
from bridge.admin.context import AdminContext
from bridge.admin.retention import BotTopics, RetentionJob
from bridge.channels import (
    library_origins,
    load_roster,
    make_bot,
    sip2_settings,
)
from bridge.config import Config, ConfigError
from bridge.filemodes import private_dir
from bridge.metrics import BridgeMetrics
from bridge.parts import Parts
from bridge.redact import redact_secrets
from bridge.store.sqlite import SqliteStore
from bridge.web import build_web_app
from bridge.wiring import (
    Sleep,
    Wiring,
    common_parts,
    desk_poller,
    imap_intake,
    outbox,
    reminders,
    timed_router,
    widget_server,
)
from routing.model import Channel
from routing.outbox import DeliveryWorker
from routing.ports import Clock, Sender, SystemClock

__all__ = ["Parts", "Sleep", "build"]


async def build(
    config: Config,
    *,
    store: SqliteStore | None = None,
    clock: Clock | None = None,
    sleep: Sleep = asyncio.sleep,
    bot: Bot | None = None,
    senders: Mapping[Channel, Sender] | None = None,
    extra_routes: list[web.RouteDef] | None = None,
) -> Parts:
    """Wire the bridge for ``config``. A ``store`` or ``bot`` handed in is the caller's:
    it must be open already and the caller closes it. ``clock`` and ``sleep`` are the
    time every timer in the bridge reads and waits on (reminders, fallbacks, retries).
    ``senders`` replace the outbox's sender for their channels (a test's recorder)."""
    check_required(config)
    private_dir(Path(config.data_dir))  # patrons' records: only this service reads them
    redact_secrets(config.telegram_token, config.secret, config.directory_token,
                   config.imap_password, config.smtp_password)
    closers: list[Callable[[], Awaitable[Any]]] = []
    try:
        if store is None:
            store = SqliteStore(Path(config.data_dir) / "pustaka.db")
            await store.open()
            closers.append(store.close)
        if bot is None:
            bot = make_bot(config)
            closers.append(bot.shutdown)
            await bot.initialize()
        chat = await bot.get_chat(config.telegram.group_id)
        target = DeskTarget(config.telegram.group_id, forum=bool(chat.is_forum),
                            origins=library_origins(config))
        wiring = Wiring(config, store, bot, target, clock or SystemClock(), sleep,
                         dict(senders or {}))
        return await _wire(wiring, extra_routes or [], closers)
    except BaseException:
        for close in reversed(closers):  # a wrong token or group must not leave files open
            with suppress(Exception):
                await close()
        raise


def check_required(config: Config) -> None:
    if not config.telegram_token:
        raise ConfigError("PUSTAKA_TELEGRAM_TOKEN is not set (the bot token from BotFather)")
    if not config.telegram.group_id:
        raise ConfigError("telegram.group_id is not set (the librarians' group chat id)")


async def _wire(w: Wiring, extra_routes: list[web.RouteDef],
                closers: list[Callable[[], Awaitable[Any]]]) -> Parts:
    config, store = w.config, w.store
    common = common_parts(w)
    roster = await load_roster(config, store)
    directory = open_directory(config.directory.kind, config.directory.path,
                               config.directory.url, config.directory_token,
                               config.directory.timeout, sip2=sip2_settings(config))
    if directory is not None:
        closers.append(directory.close)
    metrics = BridgeMetrics()
    # The router keeps the desk's topics (DeskTopics), so it comes before the senders;
    # it wakes the worker built after them.
    worker: DeliveryWorker
    router = timed_router(w, metrics, roster, lambda queued: worker.wake(queued))
    worker = outbox(w, common, router, metrics)
    metrics.watch(worker.stats, lambda: common.hub.connections)
    queue = QueueWatch(common.hub, store, store.waiting, roster.desk_size, w.clock,
                       default_wait=config.queue.default_wait_minutes * 60,
                       history=config.queue.history)
    widget = widget_server(w, router, roster, queue, common, worker)
    admin = admin_app(AdminContext(config, store, router, worker, w.clock, common.blobs,
                                   common.hub, w.bot, config.telegram.group_id, roster,
                                   directory))
    web_app = build_web_app(config, widget, store=store, hub=common.hub, blobs=common.blobs,
                            metrics=metrics, texts=common.texts, extra_routes=extra_routes,
                            admin=admin)
    return Parts(config, w.clock, store, w.bot, w.target, common.hub, common.blobs,
                 common.files, roster, directory, worker, router, queue, widget,
                 desk_poller(w, router, roster, directory, worker, common), web_app, metrics,
                 reminders=reminders(w, router, roster),
                 imap=imap_intake(config, store, router, common), closers=closers,
                 retention=RetentionJob(config.retention, store, w.clock, config.library.timezone,
                                        blob_root=config.data_dir / "blobs", sleep=w.sleep,
                                        topics=BotTopics(w.bot, w.target, w.sleep)))



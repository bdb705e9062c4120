"""The one composition root: ``build(config, store=, clock=, sleep=, bot=)`` wires every part.

Nothing here starts a task or listens on a port: ``bridge.app`` does that with what
``build`` returns. Tests build the bridge through this function too, handing in their own
clock (and its ``sleep``) where time matters, so no test waits real minutes for a
reminder or an email fallback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from telegram import Bot, Update

from adapters.blobs import BlobStore, DiskFloor
from adapters.directory import open_directory
from adapters.directory.member import MemberDirectory
from adapters.email.imap import ImapIntake
from adapters.email.intake import EmailIntake
from adapters.email.smtp import EmailSender
from adapters.email.tokens import ReplyTokens
from adapters.email.transcript_mail import composer, patron_request
from adapters.files import FilePolicy
from adapters.i18n import Catalog
from adapters.telegram.commands import DeskCommands, DeskHooks, DeskSettings
from adapters.telegram.desk import DeskPoller, DeskSender, DeskTarget
from adapters.telegram.patron import PatronChats
from adapters.telegram.patron_sender import PatronSender
from adapters.widget.hub import WidgetHub, WidgetSender
from adapters.widget.identity import VisitorEpochs
from adapters.widget.presence import CityLookup
from adapters.widget.queue_view import QueueWatch
from adapters.widget.quota import QuotaPolicy, UploadQuota
from adapters.widget.server import WidgetServer
from adapters.widget.steps import no_offline_hook
from adapters.widget.tokens import VisitorTokens
from bridge.admin.app import admin_app
from bridge.admin.context import AdminContext
from bridge.admin.retention import BotTopics, RetentionJob
from bridge.admin.transcript_query import zone
from bridge.channels import (
    PatronReach,
    ack_words,
    duty_hook,
    email_settings,
    library_origins,
    load_roster,
    local_stamp,
    make_bot,
    offline_ack,
    patron_greeting,
    reminder_hook,
    resume_links,
    signing_secret,
    sip2_settings,
    telegram_budget,
    verify_hook,
    widget_availability,
    widget_settings,
)
from bridge.config import Config, ConfigError, disk_floor, widget_texts
from bridge.filemodes import private_dir
from bridge.metrics import BridgeMetrics, TimedRouter
from bridge.parts import Parts
from bridge.redact import redact_secrets
from bridge.store.sqlite import SqliteStore
from bridge.web import build_web_app
from routing.duty import DutyRoster
from routing.email_proof import EmailProofs
from routing.model import Channel
from routing.outbox import DeliveryWorker, RetryPolicy
from routing.ports import Clock, Sender, SystemClock
from routing.reminders import ReminderPolicy, Reminders
from routing.router import Router, RouterPolicy

__all__ = ["Parts", "Sleep", "build"]

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


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
        wiring = _Wiring(config, store, bot, target, clock or SystemClock(), sleep,
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


@dataclass
class _Wiring:
    """What every step below reads: the config and the parts handed in or opened first."""

    config: Config
    store: SqliteStore
    bot: Bot
    target: DeskTarget
    clock: Clock
    sleep: Sleep
    senders: dict[Channel, Sender]


@dataclass
class _Common:
    """What several channels share: the secrets, files, hub, texts and the patron email."""

    visitor_tokens: VisitorTokens
    reply_tokens: ReplyTokens | None
    hub: WidgetHub
    blobs: BlobStore
    files: FilePolicy
    email: EmailSender | None
    texts: Catalog  # patrons' languages, the library's overrides in


def _common(w: _Wiring) -> _Common:
    config = w.config
    secret = signing_secret(config)
    visitor_tokens = VisitorTokens(secret)
    private_dir(config.data_dir / "blobs")  # patrons' files: no one else may list them
    blobs = BlobStore(config.data_dir / "blobs",  # every channel's files
                      floor=DiskFloor(*disk_floor(config.files.min_free_disk)))
    if gone := blobs.clear_spool():
        log.info("removed %d half-received uploads left by the last run", gone)
    files = FilePolicy(config.files.max_bytes, tuple(config.files.allowed_types),
                       config.files.enabled)
    reply_tokens = ReplyTokens(secret) if config.email.enabled else None
    texts = widget_texts(config)
    acked = ack_words(config, texts)  # a mail's patron: the library's language
    email = None
    if config.email.enabled:
        email = EmailSender(email_settings(config), w.store, tokens=reply_tokens,
                            resume_link=resume_links(config, visitor_tokens),
                            library_name=config.library.name,
                            ack_text=lambda _c: acked(""), blobs=blobs, texts=texts)
    hub = WidgetHub(clock=w.clock.now)
    hub.watch_presence(origins=library_origins(config), cities=CityLookup(
        config.widget.geoip_db) if config.widget.geoip_db else None)
    return _Common(visitor_tokens, reply_tokens, hub, blobs, files, email, texts)


def _outbox(w: _Wiring, common: _Common, router: Router, metrics: BridgeMetrics
            ) -> DeliveryWorker:
    config, store, bot = w.config, w.store, w.bot
    senders: dict[Channel, Sender] = {
        Channel.DESK: DeskSender(bot, w.target, store, topics=router.records,
                                 blobs=common.blobs),
        Channel.WIDGET: PatronReach(WidgetSender(common.hub, tokens=common.visitor_tokens,
                                                 texts=common.texts),
                                    common.email, common.hub, w.clock,
                                    config.email.fallback_after_minutes * 60),
        Channel.TELEGRAM: PatronSender(bot, store, w.clock, blobs=common.blobs),
    }
    if common.email is not None:
        senders[Channel.EMAIL] = common.email
    return DeliveryWorker(
        store, w.clock, metrics.timed(senders | w.senders),
        concurrency=config.outbox.concurrency,
        sleep=w.sleep,
        policy=RetryPolicy(base=config.outbox.backoff_base, cap=config.outbox.backoff_cap,
                           max_attempts=config.outbox.max_attempts),
        budget=telegram_budget(config), stamp=local_stamp(config.library.timezone),
    )


async def _wire(w: _Wiring, extra_routes: list[web.RouteDef],
                closers: list[Callable[[], Awaitable[Any]]]) -> Parts:
    config, store = w.config, w.store
    common = _common(w)
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
    router = TimedRouter(
        metrics.ack, store, w.clock, on_enqueue=lambda queued: worker.wake(queued),
        staffed=roster.staffed,
        policy=RouterPolicy(config.widget.max_text,
                            reopen_seconds=config.desk.reopen_days * 86400,
                            blocked_text=config.desk.blocked_text,
                            topics=frozenset(t.tag for t in config.widget.prechat.topics)))
    worker = _outbox(w, common, router, metrics)
    metrics.watch(worker.stats, lambda: common.hub.connections)
    queue = QueueWatch(common.hub, store, store.waiting, roster.desk_size, w.clock,
                       default_wait=config.queue.default_wait_minutes * 60,
                       history=config.queue.history)
    widget = _widget(w, router, roster, queue, common, worker)
    admin = admin_app(AdminContext(config, store, router, worker, w.clock, common.blobs,
                                   common.hub, w.bot, config.telegram.group_id, roster,
                                   directory))
    web_app = build_web_app(config, widget, store=store, hub=common.hub, blobs=common.blobs,
                            metrics=metrics, texts=common.texts, extra_routes=extra_routes,
                            admin=admin)
    return Parts(config, w.clock, store, w.bot, w.target, common.hub, common.blobs,
                 common.files, roster, directory, worker, router, queue, widget,
                 _desk(w, router, roster, directory, worker, common), web_app, metrics,
                 reminders=_reminders(w, router, roster),
                 imap=_imap(config, store, router, common), closers=closers,
                 retention=RetentionJob(config.retention, store, w.clock, config.library.timezone,
                                        blob_root=config.data_dir / "blobs", sleep=w.sleep,
                                        topics=BotTopics(w.bot, w.target, w.sleep)))


def _widget(w: _Wiring, router: Router, roster: DutyRoster, queue: QueueWatch,
            common: _Common, worker: DeliveryWorker) -> WidgetServer:
    config, email = w.config, common.email
    return WidgetServer(router, common.hub, common.visitor_tokens,
                        widget_settings(config, common.texts),
                        availability=widget_availability(roster, w.clock),
                        on_offline_question=(offline_ack(config, email, common.texts)
                                             or no_offline_hook),
                        blobs=common.blobs, files=common.files, queue=queue,
                        epochs=VisitorEpochs(w.store),
                        proofs=EmailProofs(w.store, w.clock) if email else None,
                        send_code=email.send_code if email else None,
                        quota=UploadQuota(w.store, w.clock, QuotaPolicy(
                            config.files.visitor_bytes_per_day, config.files.ip_bytes_per_day)),
                        texts=common.texts,
                        transcript_mail=patron_request(
                            w.store, w.store, w.clock, worker.wake,
                            composer(library=config.library.name,
                                     timezone=zone(config.library.timezone)))
                        if email else None)


def _desk(w: _Wiring, router: Router, roster: DutyRoster, directory: MemberDirectory | None,
          worker: DeliveryWorker, common: _Common) -> DeskPoller:
    """The librarians' group and the patrons' private chats: one getUpdates poller."""
    config, store, bot = w.config, w.store, w.bot
    commands = DeskCommands(
        bot, store, router, w.target,
        DeskSettings(canned=dict(config.desk.canned), reopen_days=config.desk.reopen_days,
                     blocked_text=config.desk.blocked_text,
                     timezone=config.library.timezone,
                     question_kinds=tuple(config.desk.question_kinds)),
        DeskHooks(on_duty=duty_hook(roster, store, w.clock), **verify_hook(directory),
                  presence=common.hub.presence),
        w.clock, calls=worker)
    patrons = PatronChats(bot, store, router, patron_greeting(config),
                          blobs=common.blobs, files=common.files, clock=w.clock)

    async def elsewhere(update: Update) -> None:  # patrons' private chats and buttons
        await patrons.handle(update)

    return DeskPoller(bot, store, router, w.target,
                      timeout=config.telegram.poll_timeout, commands=commands,
                      elsewhere=elsewhere, elsewhere_albums=patrons.handle_album,
                      blobs=common.blobs, files=common.files)


def _reminders(w: _Wiring, router: Router, roster: DutyRoster) -> Reminders | None:
    config = w.config
    if not config.reminders.enabled:
        return None
    return Reminders(
        w.store.waiting, reminder_hook(router, roster, w.clock), w.clock, sleep=w.sleep,
        staffed=roster.staffed,
        policy=ReminderPolicy(first_after=config.reminders.first_after_minutes * 60,
                              cap=config.reminders.cap_minutes * 60),
        tick=config.reminders.check_seconds,
        blocked=router.moderation.conversation_blocked)


def _imap(config: Config, store: SqliteStore, router: Router,
          common: _Common) -> ImapIntake | None:
    if common.email is None:
        return None
    settings = email_settings(config)
    intake = EmailIntake(router, store, common.blobs, settings, tokens=common.reply_tokens,
                         acknowledge=common.email.acknowledge,
                         set_aside_dir=config.data_dir / "mail-set-aside")
    return ImapIntake(settings, store, intake)

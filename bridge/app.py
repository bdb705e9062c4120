"""The composition root: builds the store, router, outbox and adapters; starts and stops them.

Every background task is started here and stopped here. Shutdown stops taking patrons,
drains in-flight deliveries, then closes sockets, the bot and the store, in that order.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web
from telegram import Bot, Update

from adapters.blobs import BlobStore
from adapters.directory import Sip2Settings, open_directory
from adapters.directory.member import MemberDirectory
from adapters.email.imap import ImapIntake
from adapters.email.intake import EmailIntake
from adapters.email.smtp import EmailSender
from adapters.email.tokens import ReplyTokens
from adapters.files import FilePolicy
from adapters.telegram.aiohttp_request import AiohttpRequest
from adapters.telegram.commands import DeskCommands, DeskHooks, DeskSettings
from adapters.telegram.desk import DeskPoller, DeskSender, DeskTarget
from adapters.telegram.patron import PatronChats
from adapters.telegram.patron_sender import PatronSender
from adapters.widget.hub import WidgetHub, WidgetSender
from adapters.widget.identity import VisitorEpochs
from adapters.widget.queue_view import QueueWatch
from adapters.widget.server import WidgetServer, WidgetSettings
from adapters.widget.steps import no_offline_hook
from adapters.widget.tokens import VisitorTokens
from bridge.channels import (
    PatronReach,
    email_settings,
    offline_ack,
    patron_greeting,
    resume_links,
    widget_availability,
)
from bridge.check import RECENT, check_addresses
from bridge.config import Config, ConfigError, opening_hours
from bridge.conn_guard import GuardedSite
from bridge.filemodes import private_dir, private_secret
from bridge.redact import redact_secrets
from bridge.store.sqlite import SqliteStore
from bridge.web import build_web_app
from routing.duty import STATE_KEY as DUTY_KEY
from routing.duty import DutyRoster
from routing.email_proof import EmailProofs
from routing.limits import SendBudget, WindowRule
from routing.model import Channel
from routing.outbox import DeliveryWorker, RetryPolicy
from routing.ports import Sender, SystemClock
from routing.reminders import ReminderPolicy, Reminders, Waiting
from routing.router import Router, RouterPolicy

__all__ = ["Bridge", "make_bot"]

log = logging.getLogger(__name__)


def make_bot(config: Config) -> Bot:
    api = config.telegram.api_url.rstrip("/")
    return Bot(
        config.telegram_token,
        base_url=f"{api}/bot",
        base_file_url=f"{api}/file/bot",
        # aiohttp, not PTB's default httpx: under 50 concurrent sends to a slow Telegram it
        # keeps p99 near the latency, where httpx queues (tests/bench/bench_transport.py).
        request=AiohttpRequest(connection_pool_size=config.outbox.concurrency,
                               read_timeout=30.0, write_timeout=30.0, pool_timeout=10.0),
        get_updates_request=AiohttpRequest(connection_pool_size=1,
                                           read_timeout=config.telegram.poll_timeout + 10.0),
    )


def signing_secret(config: Config) -> str:
    """The secret from the environment, or one kept in the data directory (demo, first run)."""
    if config.secret:
        return config.secret
    path = config.data_dir / "secret"
    value, made = private_secret(path)
    if made:
        log.warning("PUSTAKA_SECRET is not set; generated one in %s", path)
    return value


@dataclass
class Bridge:
    config: Config
    extra_routes: list[web.RouteDef] = field(default_factory=list)
    store: SqliteStore = field(init=False)
    router: Router = field(init=False)
    worker: DeliveryWorker = field(init=False)
    hub: WidgetHub = field(init=False)
    bot: Bot = field(init=False)
    web_app: web.Application = field(init=False)
    url: str = field(init=False, default="")
    roster: DutyRoster = field(init=False)
    directory: MemberDirectory | None = field(init=False, default=None)
    imap: ImapIntake | None = field(init=False, default=None)
    _runner: web.AppRunner | None = field(init=False, default=None)
    _tasks: list[asyncio.Task[None]] = field(init=False, default_factory=list)

    async def start(self) -> str:
        """Start everything; returns the address patrons' browsers use."""
        config = self.config
        if not config.telegram_token:
            raise ConfigError("PUSTAKA_TELEGRAM_TOKEN is not set (the bot token from BotFather)")
        if not config.telegram.group_id:
            raise ConfigError("telegram.group_id is not set (the librarians' group chat id)")
        private_dir(Path(config.data_dir))  # patrons' records: only this service reads them
        redact_secrets(config.telegram_token, config.secret, config.directory_token,
                       config.imap_password, config.smtp_password)
        self.store = SqliteStore(Path(config.data_dir) / "pustaka.db")
        await self.store.open()
        self.bot = make_bot(config)
        try:
            await self.bot.initialize()
            chat = await self.bot.get_chat(config.telegram.group_id)
        except BaseException:
            await self.store.close()  # a wrong token or group must not leave files open
            raise
        target = DeskTarget(config.telegram.group_id, forum=bool(chat.is_forum),
                            origins=library_origins(config))
        await self._wire(target)
        return self.url

    async def _wire(self, target: DeskTarget) -> None:
        config, clock = self.config, SystemClock()
        secret = signing_secret(config)
        visitor_tokens = VisitorTokens(secret)
        self.hub = WidgetHub()
        private_dir(config.data_dir / "blobs")  # patrons' files: no one else may list them
        self.blobs = BlobStore(config.data_dir / "blobs")  # every channel's files
        if gone := self.blobs.clear_spool():
            log.info("removed %d half-received uploads left by the last run", gone)
        self.files = FilePolicy(config.files.max_bytes, tuple(config.files.allowed_types),
                                config.files.enabled)
        self.roster = await load_roster(config, self.store)
        self.directory = open_directory(config.directory.kind, config.directory.path,
                                        config.directory.url, config.directory_token,
                                        config.directory.timeout, sip2=sip2_settings(config))
        email, mail_settings = None, email_settings(config)
        reply_tokens = ReplyTokens(secret) if config.email.enabled else None
        if config.email.enabled:
            email = EmailSender(mail_settings, self.store, tokens=reply_tokens,
                                resume_link=resume_links(config, visitor_tokens),
                                library_name=config.library.name,
                                ack_text=lambda _c: config.email.ack_text, blobs=self.blobs)
        senders: dict[Channel, Sender] = {
            Channel.DESK: DeskSender(self.bot, target, self.store, blobs=self.blobs),
            Channel.WIDGET: PatronReach(WidgetSender(self.hub, tokens=visitor_tokens), email,
                                        self.hub, clock,
                                        config.email.fallback_after_minutes * 60),
            Channel.TELEGRAM: PatronSender(self.bot, self.store, clock, blobs=self.blobs),
        }
        if email is not None:
            senders[Channel.EMAIL] = email
        self.worker = DeliveryWorker(
            self.store, clock, senders, concurrency=config.outbox.concurrency,
            policy=RetryPolicy(base=config.outbox.backoff_base, cap=config.outbox.backoff_cap,
                               max_attempts=config.outbox.max_attempts),
            budget=telegram_budget(config), stamp=local_stamp(config.library.timezone),
        )
        self.router = Router(
            self.store, clock, on_enqueue=self.worker.wake, staffed=self.roster.staffed,
            policy=RouterPolicy(config.widget.max_text,
                                reopen_seconds=config.desk.reopen_days * 86400,
                                blocked_text=config.desk.blocked_text))
        queue = QueueWatch(self.hub, self.store, self.store.waiting, self.roster.desk_size, clock,
                           default_wait=config.queue.default_wait_minutes * 60,
                           history=config.queue.history)
        widget = WidgetServer(self.router, self.hub, visitor_tokens, widget_settings(config),
                              availability=widget_availability(self.roster, clock),
                              on_offline_question=offline_ack(config, email) or no_offline_hook,
                              blobs=self.blobs, files=self.files, queue=queue,
                              epochs=VisitorEpochs(self.store),
                              proofs=EmailProofs(self.store, clock) if email else None,
                              send_code=email.send_code if email else None)
        commands = DeskCommands(
            self.bot, self.store, self.router, target,
            DeskSettings(canned=dict(config.desk.canned), reopen_days=config.desk.reopen_days,
                         blocked_text=config.desk.blocked_text,
                         timezone=config.library.timezone),
            DeskHooks(on_duty=self._on_duty, **verify_hook(self.directory)), clock,
            budget=self.worker.budget)
        patrons = PatronChats(self.bot, self.store, self.router, patron_greeting(config),
                              blobs=self.blobs, files=self.files, clock=clock)

        async def elsewhere(update: Update) -> None:  # patrons' private chats and buttons
            await patrons.handle(update)

        poller = DeskPoller(self.bot, self.store, self.router, target,
                            timeout=config.telegram.poll_timeout, commands=commands,
                            elsewhere=elsewhere, elsewhere_albums=patrons.handle_album,
                            blobs=self.blobs, files=self.files)
        self.web_app = build_web_app(self, widget, self.extra_routes)
        self._runner = web.AppRunner(self.web_app, handle_signals=False)
        await self._runner.setup()
        site = GuardedSite(self._runner, config.server.host, config.server.port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = config.server.public_url.rstrip("/") or f"http://{config.server.host}:{port}"
        self._tasks = [
            asyncio.create_task(self.worker.run(), name="outbox"),
            asyncio.create_task(poller.run(), name="desk-poller"),
            asyncio.create_task(queue.run(), name="widget-queue"),
        ]
        if config.reminders.enabled:
            reminders = Reminders(
                self.store.waiting, self._remind, clock, staffed=self.roster.staffed,
                policy=ReminderPolicy(first_after=config.reminders.first_after_minutes * 60,
                                      cap=config.reminders.cap_minutes * 60),
                tick=config.reminders.check_seconds,
                blocked=self.router.conversation_blocked)
            self._tasks.append(asyncio.create_task(reminders.run(), name="reminders"))
        if email is not None:
            intake = EmailIntake(self.router, self.store, self.blobs,
                                 mail_settings, tokens=reply_tokens,
                                 acknowledge=email.acknowledge,
                                 set_aside_dir=config.data_dir / "mail-set-aside")
            self.imap = ImapIntake(mail_settings, self.store, intake)
            self._tasks.append(asyncio.create_task(self.imap.run(), name="imap-intake"))
        await self._warn_about_proxies()
        log.info("Pustaka Bridge listening on %s (desk group %s, %s%s)", self.url,
                 target.chat_id, "forum topics" if target.forum else "replies, no topics",
                 ", email on" if email is not None else "")

    async def _warn_about_proxies(self) -> None:
        """Behind a proxy it does not trust, the bridge sees one address for everyone."""
        recent = await self.store.conversations(limit=RECENT)
        for finding in check_addresses(self.config.public_url,
                                       self.config.server.trusted_proxies, recent):
            if not finding.ok:
                log.warning("%s", finding.sentence)

    async def _remind(self, waiting: Waiting, count: int) -> None:
        """A patron waits unanswered: say so in the topic and name who is on duty."""
        minutes = max(1, round((time.time() - waiting.since) / 60))
        present = ", ".join(d.name for d in self.roster.present(time.time()))
        text = f"⏰ This patron has waited {minutes} min for an answer."
        if present:
            text += f" On duty: {present}."
        await self.router.notify_desk(waiting.conversation_id, text, event="reminder")

    async def _on_duty(self, librarian_id: str, name: str, on: bool) -> None:
        now = time.time()
        if on:
            self.roster.on_duty(librarian_id, name, now)
        else:
            self.roster.off_duty(librarian_id, now)
        await self.store.set_state(DUTY_KEY, self.roster.to_json())

    async def stop(self, drain_timeout: float = 10.0) -> None:
        if self._runner is not None:
            await self.hub.close_all()
            await self._runner.shutdown()  # no new patrons or frames
        if self.imap is not None:
            await self.imap.stop()  # finishes the batch in hand, then logs out
            self.imap = None
        if self._tasks:
            await self.worker.drain(drain_timeout)
            for task in self._tasks:
                task.cancel()
            for task in self._tasks:
                with suppress(asyncio.CancelledError):
                    await task
            self._tasks = []
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            with suppress(Exception):
                await self.bot.shutdown()
            if self.directory is not None:
                await self.directory.close()
            await self.store.close()


def library_origins(config: Config) -> tuple[str, ...]:
    """The library's own sites: the info card links a patron's page only on these."""
    sites = (*config.widget.allowed_origins, config.public_url, config.widget.home_url)
    return tuple(site for site in sites if site)


def telegram_budget(config: Config) -> SendBudget:
    t = config.telegram
    return SendBudget({
        "bot": WindowRule(t.messages_per_second, 1.0),
        "group": WindowRule(t.group_messages_per_minute, 60.0),
        "private": WindowRule(1, 1.0 / t.private_messages_per_second),
    })


def local_stamp(timezone: str) -> Callable[[float], str]:
    """Times in coalesced desk messages, in the library's own time zone."""
    try:
        zone: dt.tzinfo = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = dt.UTC
    return lambda at: dt.datetime.fromtimestamp(at, zone).strftime("%H:%M")


def widget_settings(config: Config) -> WidgetSettings:
    w = config.widget
    return WidgetSettings(
        library=config.library.name, colour=w.colour, position=w.position, logo=w.logo,
        greeting={"en": w.greeting_en, "id": w.greeting_id}, max_text=w.max_text,
        messages_per_minute=w.messages_per_minute, allowed_origins=tuple(w.allowed_origins),
        trusted_proxies=tuple(config.server.trusted_proxies),
        email_answers=config.email.enabled,
        new_visitors_per_ip_hour=w.new_visitors_per_ip_hour,
        new_conversations_per_ip_hour=w.new_conversations_per_ip_hour,
    )


async def load_roster(config: Config, store: SqliteStore) -> DutyRoster:
    """Who said /onduty, as saved; an unreadable record means nobody is on duty."""
    hours, shift = opening_hours(config), config.hours.shift_hours * 3600 or None
    try:
        return DutyRoster.from_json(await store.get_state(DUTY_KEY), hours, shift)
    except ValueError:
        log.warning("the saved duty roster is unreadable; nobody is on duty", exc_info=True)
        return DutyRoster(hours, shift)


def sip2_settings(config: Config) -> Sip2Settings:
    d = config.directory
    return Sip2Settings(d.sip2_host, d.sip2_port, d.sip2_tls, d.sip2_user,
                        config.sip2_password, d.sip2_location, d.sip2_institution, d.timeout)


def verify_hook(directory: MemberDirectory | None) -> dict[str, Any]:
    return {} if directory is None else {"verify": directory.lookup}

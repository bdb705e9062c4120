"""The composition root's steps, one per part: what the channels share, the router, the
outbox and its senders, the widget, the desk's poller, reminders and the mailbox.

``bridge.bootstrap.build`` opens the store and the bot and calls these in order; each
reads the config and the parts built before it, and none starts a task.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from telegram import Bot, Update

from adapters.blobs import BlobStore, DiskFloor
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
from bridge.admin.transcript_query import zone
from bridge.channels import (
    ack_words,
    duty_hook,
    email_settings,
    library_origins,
    local_stamp,
    offline_ack,
    patron_greeting,
    reminder_hook,
    resume_links,
    signing_secret,
    telegram_budget,
    verify_hook,
    widget_availability,
    widget_settings,
)
from bridge.config import Config, disk_floor, widget_texts
from bridge.filemodes import private_dir
from bridge.metrics import BridgeMetrics, TimedRouter
from bridge.patron_reach import PatronReach
from bridge.store.sqlite import SqliteStore
from routing.duty import DutyRoster
from routing.email_proof import EmailProofs
from routing.model import Channel, Delivery
from routing.outbox import DeliveryWorker, RetryPolicy
from routing.ports import Clock, Sender
from routing.reminders import ReminderPolicy, Reminders
from routing.router import Router, RouterPolicy

__all__ = ["Common", "Sleep", "Wiring", "common_parts", "desk_poller", "imap_intake",
           "outbox", "reminders", "timed_router", "widget_server"]

log = logging.getLogger("bridge.bootstrap")  # the name operators' log filters know

Sleep = Callable[[float], Awaitable[None]]


@dataclass
class Wiring:
    """What every step below reads: the config and the parts handed in or opened first."""

    config: Config
    store: SqliteStore
    bot: Bot
    target: DeskTarget
    clock: Clock
    sleep: Sleep
    senders: dict[Channel, Sender]


@dataclass
class Common:
    """What several channels share: the secrets, files, hub, texts and the patron email."""

    visitor_tokens: VisitorTokens
    reply_tokens: ReplyTokens | None
    hub: WidgetHub
    blobs: BlobStore
    files: FilePolicy
    email: EmailSender | None
    texts: Catalog  # patrons' languages, the library's overrides in


def common_parts(w: Wiring) -> Common:
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
    return Common(visitor_tokens, reply_tokens, hub, blobs, files, email, texts)


def timed_router(w: Wiring, metrics: BridgeMetrics, roster: DutyRoster,
                 on_enqueue: Callable[[Sequence[Delivery]], None]) -> TimedRouter:
    config = w.config
    return TimedRouter(
        metrics.ack, w.store, w.clock, on_enqueue=on_enqueue,
        staffed=roster.staffed,
        policy=RouterPolicy(config.widget.max_text,
                            reopen_seconds=config.desk.reopen_days * 86400,
                            blocked_text=config.desk.blocked_text,
                            topics=frozenset(t.tag for t in config.widget.prechat.topics)))


def outbox(w: Wiring, common: Common, router: Router, metrics: BridgeMetrics
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


def widget_server(w: Wiring, router: Router, roster: DutyRoster, queue: QueueWatch,
            common: Common, worker: DeliveryWorker) -> WidgetServer:
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


def desk_poller(w: Wiring, router: Router, roster: DutyRoster,
                directory: MemberDirectory | None, worker: DeliveryWorker,
                common: Common) -> DeskPoller:
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


def reminders(w: Wiring, router: Router, roster: DutyRoster) -> Reminders | None:
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


def imap_intake(config: Config, store: SqliteStore, router: Router,
          common: Common) -> ImapIntake | None:
    if common.email is None:
        return None
    settings = email_settings(config)
    intake = EmailIntake(router, store, common.blobs, settings, tokens=common.reply_tokens,
                         acknowledge=common.email.acknowledge,
                         set_aside_dir=config.data_dir / "mail-set-aside")
    return ImapIntake(settings, store, intake)

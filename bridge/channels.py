"""Config → the settings and small glue each channel needs; used by ``bridge.wiring``.

Kept apart from the composition root so that ``bootstrap.py`` stays a list of parts, and
every translation from config keys lives in one place.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from telegram import Bot

from adapters.directory import Sip2Settings
from adapters.directory.member import MemberDirectory
from adapters.email.settings import EmailSettings
from adapters.email.smtp import EmailSender
from adapters.i18n import Catalog
from adapters.telegram.aiohttp_request import AiohttpRequest
from adapters.widget.availability import Availability
from adapters.widget.links import resume_link
from adapters.widget.server import WidgetSettings
from adapters.widget.tokens import VisitorTokens
from bridge.config import Config, EmailSection, WidgetSection, opening_hours
from bridge.filemodes import private_secret
from bridge.patron_reach import PatronReach, visitor_of
from routing.duty import STATE_KEY as DUTY_KEY
from routing.duty import DutyRoster
from routing.limits import SendBudget, WindowRule
from routing.model import Conversation, Patron
from routing.ports import Clock, Store
from routing.reminders import Remind, Waiting
from routing.router import Router

# PatronReach and visitor_of are bridge.patron_reach's; named here, where callers found them.
__all__ = [
    "PatronReach",
    "ack_words",
    "duty_hook",
    "email_settings",
    "library_origins",
    "load_roster",
    "local_stamp",
    "make_bot",
    "patron_greeting",
    "reminder_hook",
    "signing_secret",
    "sip2_settings",
    "telegram_budget",
    "verify_hook",
    "visitor_of",
    "widget_availability",
    "widget_greetings",
    "widget_settings",
]

log = logging.getLogger(__name__)


def email_settings(config: Config) -> EmailSettings:
    e = config.email
    return EmailSettings(
        imap_host=e.imap_host, imap_port=e.imap_port, imap_user=e.imap_user,
        imap_password=config.imap_password, imap_mailbox=e.imap_mailbox, imap_ssl=e.imap_ssl,
        poll_interval=e.poll_interval, first_run=e.first_run,
        smtp_host=e.smtp_host, smtp_port=e.smtp_port, smtp_user=e.smtp_user,
        smtp_password=config.smtp_password, smtp_starttls=e.smtp_starttls, smtp_ssl=e.smtp_ssl,
        from_address=e.from_address, from_name=e.from_name or config.library.name,
        help_address=e.help_address or e.from_address,
        max_message_bytes=e.max_message_bytes, max_attachment_bytes=e.max_attachment_bytes,
        max_text=config.widget.max_text, away_minutes=e.fallback_after_minutes,
        trusted_authserv_id=e.trusted_authserv_id,
    )


def patron_greeting(config: Config) -> Callable[[str], str]:
    """The text a Telegram patron gets first, with the opening hours, in their language."""
    hours = opening_hours(config)
    texts = {"en": config.telegram.patron_greeting_en, "id": config.telegram.patron_greeting_id}

    def greeting(lang: str) -> str:
        lang = lang if lang in texts else "en"
        return f"{texts[lang]}\n\n{hours.describe(lang)}. {hours.opens_text(time.time(), lang)}."

    return greeting


def widget_availability(roster: DutyRoster, clock: Clock) -> Callable[[], Availability]:
    # Asked at every hello: the roster is read once for both languages' sentences (its
    # opens_text asks whether the desk is staffed once per language), and a staffed
    # desk's sentence is "open now" at any moment, so that answer is made once.
    hours = roster.hours
    open_now = Availability(True, hours.sentence(0, 0, "en"), hours.sentence(0, 0, "id"))

    def availability() -> Availability:
        now = clock.now()
        if roster.staffed(now):
            return open_now
        when = roster.next_staffed(now)
        return Availability(False, roster.hours.sentence(now, when, "en"),
                            roster.hours.sentence(now, when, "id"))

    return availability


def resume_links(
    config: Config, tokens: VisitorTokens
) -> Callable[[Conversation, Patron], str | None]:
    """Links in emails that reopen the conversation in the widget, on a trusted page."""
    ttl = config.widget.resume_ttl_days * 86400

    def link(conversation: Conversation, patron: Patron) -> str | None:
        visitor = visitor_of(patron)
        home = config.widget.home_url or config.public_url + "/"
        if visitor is None:
            return None
        return resume_link(conversation.page.url, tokens.resume_token(visitor, ttl),
                           allowed_origins=config.widget.allowed_origins, home_url=home)

    return link


OfflineAck = Callable[[Patron, Conversation], Awaitable[None]]


def ack_words(config: Config, texts: Catalog) -> Callable[[str], str]:
    """The acknowledgement's text in a language: the translation ("mail.ackText", which
    ``[widget.texts.<lang>]`` may change), or ``email.ack_text`` for everyone when the
    library wrote its own there."""
    own = config.email.ack_text != EmailSection().ack_text
    return lambda lang: config.email.ack_text if own else texts.say(lang, "mail.ackText")


def widget_greetings(config: Config, texts: Catalog) -> dict[str, str]:
    """The widget's greeting in every language ("greeting" of the texts, overridable per
    language); ``widget.greeting_en`` / ``greeting_id`` win where the library changed them."""
    greetings = {code: texts.say(code, "greeting") for code in texts.codes}
    defaults, widget = WidgetSection(), config.widget
    for code, own, default in (("en", widget.greeting_en, defaults.greeting_en),
                               ("id", widget.greeting_id, defaults.greeting_id)):
        if own != default:
            greetings[code] = own
    return greetings


def offline_ack(config: Config, sender: EmailSender | None,
                texts: Catalog | None = None) -> OfflineAck | None:
    """What the widget's offline form triggers: the after-hours acknowledgement email,
    in the patron's language (the library's default when unknown)."""
    if sender is None or not config.email.ack_text:
        return None
    texts = texts or Catalog.bundled()
    words = ack_words(config, texts)

    async def acknowledge(patron: Patron, conversation: Conversation) -> None:
        lang = patron.language or conversation.page.language
        subject = texts.say(lang, "mail.ackSubject", library=config.library.name)
        await sender.send_ack(conversation, patron, subject=subject, text=words(lang),
                              in_reply_to="")

    return acknowledge


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


def widget_settings(config: Config, texts: Catalog) -> WidgetSettings:
    w = config.widget
    return WidgetSettings(
        library=config.library.name, colour=w.colour, position=w.position, logo=w.logo,
        size=w.size, launcher_label=w.launcher_label, offset_x=w.offset_x, offset_y=w.offset_y,
        greeting=widget_greetings(config, texts), max_text=w.max_text,
        messages_per_minute=w.messages_per_minute, allowed_origins=tuple(w.allowed_origins),
        trusted_proxies=tuple(config.server.trusted_proxies),
        email_answers=config.email.enabled, languages=texts.codes, language=w.language,
        new_visitors_per_ip_hour=w.new_visitors_per_ip_hour,
        new_conversations_per_ip_hour=w.new_conversations_per_ip_hour,
        prechat=w.prechat.public(), greetings=tuple(rule.public() for rule in w.greetings),
    )


async def load_roster(config: Config, store: Store) -> DutyRoster:
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


def reminder_hook(router: Router, roster: DutyRoster, clock: Clock) -> Remind:
    """A patron waits unanswered: say so in the topic and name who is on duty."""

    async def remind(waiting: Waiting, count: int) -> None:
        now = clock.now()
        minutes = max(1, round((now - waiting.since) / 60))
        present = ", ".join(d.name for d in roster.present(now))
        text = f"⏰ This patron has waited {minutes} min for an answer."
        if present:
            text += f" On duty: {present}."
        await router.records.notify_desk(waiting.conversation_id, text, event="reminder")

    return remind


def duty_hook(
    roster: DutyRoster, store: Store, clock: Clock
) -> Callable[[str, str, bool], Awaitable[None]]:
    """/onduty and /offduty in the group: the roster changes and is saved at once."""

    async def on_duty(librarian_id: str, name: str, on: bool) -> None:
        now = clock.now()
        if on:
            roster.on_duty(librarian_id, name, now)
        else:
            roster.off_duty(librarian_id, now)
        await store.set_state(DUTY_KEY, roster.to_json())

    return on_duty

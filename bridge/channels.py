"""Config → the settings and small glue each channel needs; used only by ``bridge.app``.

Kept apart from the composition root so that ``app.py`` stays a list of parts and the
order they start in, and every translation from config keys lives in one place.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from adapters.email.settings import EmailSettings
from adapters.email.smtp import EmailSender, patron_email
from adapters.i18n import Catalog
from adapters.widget.availability import Availability
from adapters.widget.hub import WidgetHub
from adapters.widget.links import resume_link
from adapters.widget.tokens import VisitorTokens
from bridge.config import Config, EmailSection, WidgetSection, opening_hours
from routing.duty import DutyRoster
from routing.model import Channel, Conversation, Delivery, Message, Patron
from routing.ports import Clock, Sender, Sent

__all__ = ["PatronReach", "ack_words", "email_settings", "patron_greeting", "visitor_of",
           "widget_availability", "widget_greetings"]


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
    def availability() -> Availability:
        now = clock.now()
        return Availability(roster.staffed(now), roster.opens_text(now, "en"),
                            roster.opens_text(now, "id"))

    return availability


def visitor_of(patron: Patron) -> str | None:
    return next((c.address for c in patron.contacts if c.channel is Channel.WIDGET), None)


@dataclass
class PatronReach:
    """The sender for widget patrons: live in the widget while they are there; by email
    once they have been away longer than ``email.fallback_after_minutes`` and gave an
    address. The widget shows the reply from history when they come back either way."""

    widget: Sender
    email: EmailSender | None
    hub: WidgetHub
    clock: Clock
    away_after: float

    def budget_keys(
        self, delivery: Delivery, conversation: Conversation, patron: Patron, message: Message
    ) -> tuple[str, ...]:
        """The widget and email spend no Telegram budget."""
        return ()

    async def send(
        self, delivery: Delivery, message: Message, conversation: Conversation, patron: Patron
    ) -> Sent:
        visitor = visitor_of(patron)
        if (self.email is not None and visitor is not None and patron_email(patron)
                and self.hub.away_for(visitor, self.clock.now()) > self.away_after):
            return await self.email.send(delivery, message, conversation, patron)
        return await self.widget.send(delivery, message, conversation, patron)


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

"""Sending mail to patrons: the ``Sender`` for ``Channel.EMAIL``, and the acknowledgement.

A librarian's reply (or a status line the patron must read, such as "closed") is
composed by ``compose_reply``: threaded under the patron's last mail (In-Reply-To and
References from the conversation's thread record), Reply-To carrying the signed
``help+<token>@`` address, a plain and an HTML part, and a link back to the widget when
one is given. It goes out through aiosmtplib. A 4xx answer or a dropped connection is a
``TemporaryFailure`` (the outbox retries); a 5xx answer is a ``PermanentFailure`` (the
outbox tells the topic).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from email.message import EmailMessage

import aiosmtplib

from adapters.email.compose import compose_ack, compose_reply
from adapters.email.parse import ParsedMail
from adapters.email.settings import EmailSettings
from adapters.email.thread import ReplyTokens, load_thread, reply_address, save_thread
from routing.model import Channel, Conversation, Delivery, Direction, Message, Patron
from routing.ports import Link, PermanentFailure, Sent, Store, TemporaryFailure
from routing.router import Accepted

__all__ = ["EVENT_TEXTS", "AckText", "EmailSender", "ResumeLink", "patron_email"]

log = logging.getLogger(__name__)

ResumeLink = Callable[[Conversation, Patron], "str | None"]
AckText = Callable[[Conversation], str]  # e.g. "We are closed; we answer from 08:00."

# System lines the patron reads by email, in the email's own words; other events
# ("claimed", "reopened") are live-chat news and not worth a mail.
EVENT_TEXTS = {
    "closed": "This conversation is now closed. If you need anything more, just reply to "
              "this email and we will pick it up again.",
    "rating_request": "How did we do? Reply with a number from 1 (poor) to 5 (excellent), "
                      "and a comment if you like.",
}


def patron_email(patron: Patron) -> str:
    """Where the patron gets mail: the address they gave, else their email contact."""
    if patron.email:
        return patron.email
    for contact in patron.contacts:
        if contact.channel is Channel.EMAIL:
            return contact.address
    return ""


class EmailSender:
    """``routing.ports.Sender`` for email."""

    def __init__(self, settings: EmailSettings, store: Store, *,
                 tokens: ReplyTokens | None = None, resume_link: ResumeLink | None = None,
                 library_name: str = "", ack_text: AckText | None = None) -> None:
        self._settings = settings
        self._store = store
        self._tokens = tokens
        self._resume_link = resume_link or (lambda conversation, patron: None)
        self._library = library_name or settings.from_name or settings.from_address
        self._ack_text = ack_text

    async def send(self, delivery: Delivery, message: Message, conversation: Conversation,
                   patron: Patron) -> Sent:
        text = self._text(message)
        if text is None:
            return Sent()
        address = patron_email(patron)
        if not address:
            raise PermanentFailure("the patron gave no email address")
        thread = await load_thread(self._store, conversation.id)
        subject = thread.subject or f"Your question to {self._library}"
        mail = self._compose(compose_reply, conversation, patron, address, subject,
                             text, thread.last_patron_id, thread.references)
        await self._deliver(mail, self._settings.from_address)
        message_id = str(mail["Message-ID"])
        await self._store.save_link(Link(Channel.EMAIL.value, message_id, conversation.id,
                                         message.id))
        fresh = await load_thread(self._store, conversation.id)  # a mail may have come in
        await save_thread(self._store, conversation.id,
                          replace(fresh, subject=fresh.subject or subject).cite(message_id))
        return Sent(external_id=message_id)

    async def send_ack(self, conversation: Conversation, patron: Patron, *, subject: str,
                       text: str, in_reply_to: str, references: tuple[str, ...] = ()) -> str:
        """The after-hours acknowledgement (RFC 3834: auto-replied, null envelope sender)."""
        address = patron_email(patron)
        if not address:
            raise PermanentFailure("the patron gave no email address")
        mail = self._compose(compose_ack, conversation, patron, address, subject, text,
                             in_reply_to, references)
        await self._deliver(mail, "")
        return str(mail["Message-ID"])

    async def acknowledge(self, parsed: ParsedMail, accepted: Accepted) -> None:
        """``EmailIntake``'s after-hours hook: acknowledge a patron's first mail.

        Never to a null Return-Path (RFC 3834 section 3.3: an automatic sender), and
        only when an acknowledgement text is configured.
        """
        if (self._ack_text is None or parsed.return_path == "" or parsed.auto is not None
                or parsed.no_auto_reply):
            return
        await self.send_ack(accepted.conversation, accepted.patron, subject=parsed.subject,
                            text=self._ack_text(accepted.conversation),
                            in_reply_to=parsed.message_id, references=parsed.references)

    def _text(self, message: Message) -> str | None:
        if message.direction is Direction.NOTE or message.event == "withdrawn":
            return None  # never for the patron; an email cannot be unsent
        if message.direction is Direction.SYSTEM:
            return EVENT_TEXTS.get(message.event)
        return message.text

    def _compose(self, compose: Callable[..., EmailMessage], conversation: Conversation,
                 patron: Patron, address: str, subject: str, text: str, in_reply_to: str,
                 references: tuple[str, ...]) -> EmailMessage:
        s = self._settings
        try:
            return compose(
                from_address=s.from_address, from_name=s.from_name or self._library,
                to_address=address, to_name=patron.name,
                subject=subject, text=text,
                in_reply_to=in_reply_to or None, references=references,
                reply_to=reply_address(s.help_address or s.from_address, self._tokens,
                                       conversation.id),
                message_id_domain=s.id_domain, library_name=self._library,
                link=self._resume_link(conversation, patron))
        except ValueError as exc:  # an address that cannot be one: retrying will not help
            raise PermanentFailure(f"cannot compose the email: {exc}") from exc

    async def _deliver(self, mail: EmailMessage, envelope_from: str) -> None:
        s = self._settings
        try:
            await aiosmtplib.send(
                mail, sender=envelope_from, hostname=s.smtp_host, port=s.smtp_port,
                username=s.smtp_user or None, password=s.smtp_password or None,
                use_tls=s.smtp_ssl, start_tls=s.smtp_starttls and not s.smtp_ssl,
                timeout=s.smtp_timeout)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            raise _by_code(min(codes) if codes else 550, str(exc)) from exc
        except aiosmtplib.SMTPAuthenticationError as exc:
            # Wrong credentials are the library's to fix; the mail waits meanwhile.
            raise TemporaryFailure(f"SMTP login refused: {exc.code} {exc.message}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise _by_code(exc.code, f"{exc.code} {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise TemporaryFailure(f"SMTP {s.smtp_host}:{s.smtp_port}: {exc!r}") from exc


def _by_code(code: int, text: str) -> Exception:
    if 400 <= code < 500:
        return TemporaryFailure(f"SMTP {text}")
    return PermanentFailure(f"SMTP {text}")

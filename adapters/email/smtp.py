"""Sending mail to patrons: the ``Sender`` for ``Channel.EMAIL``, and the acknowledgement.

A librarian's reply (or a line the patron must read, such as the rating request) is
composed by ``compose_reply``: threaded under the patron's last mail (In-Reply-To and
References from the conversation's thread record), Reply-To carrying the signed
``help+<token>@`` address, a plain and an HTML part, the reply's files beside them
(``outgoing.py``), and a link back to the widget when one is given. Its Message-ID comes
from the delivery's idempotency key, so a send the outbox retries after a crash is the
same mail to the patron's client. It goes out through aiosmtplib. A 4xx answer or a
dropped connection is a ``TemporaryFailure`` (the outbox retries); a 5xx answer is a
``PermanentFailure`` (the outbox tells the topic), except that a mail the server finds
too large is sent again with its files named in the text instead of attached.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from email.message import EmailMessage
from typing import Any, Protocol

import aiosmtplib

from adapters.blobs import BlobStore
from adapters.email.compose import compose_ack, compose_reply, delivery_message_id, reply_subject
from adapters.email.outgoing import EVENT_TEXTS, MailContent, content_for, file_lines
from adapters.email.parse import ParsedMail
from adapters.email.rating_mail import rating_html
from adapters.email.settings import EmailSettings
from adapters.email.thread import (
    ReplyTokens,
    Thread,
    load_thread,
    reply_address,
    save_thread,
)
from adapters.i18n import Catalog
from routing.mail_quota import MailQuota
from routing.model import Channel, Conversation, Delivery, Message, PageInfo, Patron
from routing.ports import (
    Clock,
    Cursors,
    DeskState,
    PermanentFailure,
    Sent,
    SystemClock,
    TemporaryFailure,
)
from routing.router import Accepted
from routing.transcript_mail import TRANSCRIPT_EVENT, confirmed_address

__all__ = ["EVENT_TEXTS", "AckText", "EmailSender", "MailTooLarge", "ResumeLink", "SenderStore",
           "patron_email"]

log = logging.getLogger(__name__)

ResumeLink = Callable[[Conversation, Patron], "str | None"]
AckText = Callable[[Conversation], str]  # e.g. "We are closed; we answer from 08:00."
ACKS_PER_DAY = 1  # automatic mails to one address a day (RFC 3834 section 2: not repeated)


class MailTooLarge(PermanentFailure):
    """The mail server refused the mail for its size (552, or 5.3.4 / 5.2.3)."""


def patron_email(patron: Patron) -> str:
    """Where the patron gets mail: the address they gave, else their email contact."""
    if patron.email:
        return patron.email
    for contact in patron.contacts:
        if contact.channel is Channel.EMAIL:
            return contact.address
    return ""


class SenderStore(DeskState, Cursors, Protocol):
    """The roles of the store the email sender uses: the conversation's mail thread, and
    the daily quota of mails an address may get (key-value)."""


class EmailSender:
    """``routing.ports.Sender`` for email."""

    def __init__(self, settings: EmailSettings, store: SenderStore, *,
                 tokens: ReplyTokens | None = None, resume_link: ResumeLink | None = None,
                 library_name: str = "", ack_text: AckText | None = None,
                 blobs: BlobStore | None = None,
                 languages: Sequence[str] = ("en", "id"), clock: Clock | None = None,
                 texts: Catalog | None = None) -> None:
        """``blobs``: where librarians' files are (without it, files are named in the
        text); ``languages``: the rating request's, in order, when the patron's is
        unknown; ``texts``: the library's words (subjects, link, files, rating), said in
        the patron's language (``Patron.language``), else in the library's default."""
        self._quota = MailQuota(store, clock or SystemClock())
        self._settings = settings
        self._store = store
        self._tokens = tokens
        self._resume_link = resume_link or (lambda conversation, patron: None)
        self._library = library_name or settings.from_name or settings.from_address
        self._ack_text = ack_text
        self._blobs = blobs
        self._languages = tuple(languages) or ("en",)
        self._texts = texts or Catalog.bundled()

    def _lang(self, patron: Patron) -> str:
        """The patron's language when the library has it, else the library's default."""
        return patron.language if patron.language in self._texts.codes else self._texts.default

    def budget_keys(
        self, delivery: Delivery, conversation: Conversation, patron: Patron, message: Message
    ) -> tuple[str, ...]:
        """Mail is not limited by Telegram; the server's own quota is ``MailQuota``."""
        return ()

    async def send(self, delivery: Delivery, message: Message, conversation: Conversation,
                   patron: Patron) -> Sent:
        lang = self._lang(patron)
        languages = (lang,) if patron.language else self._languages
        content = await content_for(message, self._blobs, languages=languages,
                                    max_bytes=self._settings.max_attachment_bytes,
                                    texts=self._texts)
        if content is None:
            return Sent()
        address = patron_email(patron)
        if message.event == TRANSCRIPT_EVENT:  # a chat's copy: only to a proved address
            address = confirmed_address(patron)
        if not address:
            raise PermanentFailure("the patron gave no (confirmed) email address")
        thread = await load_thread(self._store, conversation.id)
        subject = thread.subject or self._texts.say(lang, "mail.replySubject",
                                                    library=self._library)
        mail = self._reply(content, delivery, conversation, patron, address, subject, thread)
        try:
            await self._deliver(mail, self._settings.from_address)
        except MailTooLarge:
            if not content.attachments:
                raise
            log.warning("mail for %s too large for the server; sending it without files",
                        delivery.id)
            mail = self._reply(self._without_files(content, message, lang), delivery,
                               conversation, patron, address, subject, thread)
            await self._deliver(mail, self._settings.from_address)
        message_id = str(mail["Message-ID"])
        # The outbox links the Message-ID to the conversation when it records the send.
        fresh = await load_thread(self._store, conversation.id)  # a mail may have come in
        await save_thread(self._store, conversation.id,
                          replace(fresh, subject=fresh.subject or subject).cite(message_id))
        return Sent(external_id=message_id)

    def _reply(self, content: MailContent, delivery: Delivery, conversation: Conversation,
               patron: Patron, address: str, subject: str, thread: Thread) -> EmailMessage:
        """The reply for a delivery; its Message-ID is the delivery's own."""
        s = self._settings
        try:
            answer_to = reply_address(s.help_address or s.from_address, self._tokens,
                                      conversation.id, rating=content.rating)
        except ValueError as exc:  # an id no token can carry: retrying will not help
            raise PermanentFailure(f"cannot compose the email: {exc}") from exc
        html_text = None
        if content.rating:
            languages = (self._lang(patron),) if patron.language else self._languages
            html_text = rating_html(languages, answer_address=answer_to, texts=self._texts,
                                    subject=reply_subject(subject, self._library))
        return self._compose(compose_reply, conversation, patron, address, subject,
                             content.text, thread.last_patron_id, thread.references,
                             reply_to=answer_to, message_key=delivery.idempotency_key,
                             html_text=html_text, attachments=content.attachments)

    def _without_files(self, content: MailContent, message: Message, lang: str) -> MailContent:
        sent = {a.filename for a in content.attachments}
        lines = file_lines([a for a in message.attachments if a.name in sent], lang,
                           self._texts)
        return MailContent("\n\n".join(p for p in (content.text, "\n".join(lines)) if p))

    async def send_ack(self, conversation: Conversation, patron: Patron, *, subject: str,
                       text: str, in_reply_to: str, references: tuple[str, ...] = (),
                       key: str = "") -> str:
        """The after-hours acknowledgement (RFC 3834: auto-replied, null envelope sender),
        at most one a day to an address (kept in the store, so a restart resets nothing);
        "" when that one was already sent.

        Anyone can type any address into the offline form, so the acknowledgement holds
        nothing a patron typed: no display name in To, the library's own text, and a
        link to the library's home page rather than the page the patron's browser named.
        ``key`` names what is acknowledged (the patron's message), making the Message-ID
        the same if the acknowledgement is ever sent again; without one it is random.
        """
        address = patron_email(patron)
        if not address:
            raise PermanentFailure("the patron gave no email address")
        if not await self._quota.take("ack", address, ACKS_PER_DAY):
            log.info("acknowledgement for %s skipped: one was sent today", conversation.id)
            return ""
        # An answer to an unproved address's acknowledgement starts its own conversation.
        s = self._settings
        plain = None if patron.email_confirmed else s.help_address or s.from_address
        mail = self._compose(compose_ack, replace(conversation, page=PageInfo()),
                             replace(patron, name=""), address, subject, text, in_reply_to,
                             references, reply_to=plain,
                             message_key=f"ack:{key}" if key else "")
        await self._deliver(mail, "")
        return str(mail["Message-ID"])

    async def send_code(self, address: str, code: str, lang: str = "") -> None:
        """A one-time code that confirms ``address`` (``routing.email_proof``); the mail
        holds nothing the patron typed but the address it goes to."""
        s, say = self._settings, self._texts.say
        mail = compose_ack(
            from_address=s.from_address, from_name=s.from_name or self._library,
            to_address=address, to_name="",
            subject=say(lang, "mail.codeSubject", library=self._library),
            text=say(lang, "mail.codeText", library=self._library, code=code),
            in_reply_to=None, references=(), reply_to=s.help_address or s.from_address,
            message_id_domain=s.id_domain, library_name=self._library,
            link_label=say(lang, "mail.continueLink"))
        await self._deliver(mail, "")

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
                            in_reply_to=parsed.message_id, references=parsed.references,
                            key=accepted.message.id)

    def _compose(self, compose: Callable[..., EmailMessage], conversation: Conversation,
                 patron: Patron, address: str, subject: str, text: str, in_reply_to: str,
                 references: tuple[str, ...], *, reply_to: str | None = None,
                 message_key: str = "", **extra: Any) -> EmailMessage:
        """``message_key``: what makes the Message-ID (else it is random)."""
        s = self._settings
        if reply_to is None:
            reply_to = reply_address(s.help_address or s.from_address, self._tokens,
                                     conversation.id)
        try:
            message_id = delivery_message_id(message_key, s.id_domain) if message_key else None
            return compose(
                from_address=s.from_address, from_name=s.from_name or self._library,
                to_address=address, to_name=patron.name,
                subject=subject, text=text,
                link_label=self._texts.say(self._lang(patron), "mail.continueLink"),
                in_reply_to=in_reply_to or None, references=references, reply_to=reply_to,
                message_id_domain=s.id_domain, library_name=self._library,
                link=self._resume_link(conversation, patron), message_id=message_id, **extra)
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
            raise TemporaryFailure(f"SMTP login refused: {exc.code} {exc.message}",
                                   maybe_sent=False) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise _by_code(exc.code, f"{exc.code} {exc.message}") from exc
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPConnectTimeoutError) as exc:
            # No connection, no mail: the retry cannot double it.
            raise TemporaryFailure(f"SMTP {s.smtp_host}:{s.smtp_port}: {exc!r}",
                                   maybe_sent=False) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            # A cut after DATA may hide a mail the server already took.
            raise TemporaryFailure(f"SMTP {s.smtp_host}:{s.smtp_port}: {exc!r}") from exc


def _by_code(code: int, text: str) -> Exception:
    if 400 <= code < 500:  # the server answered "not now": it did not take the mail
        return TemporaryFailure(f"SMTP {text}", maybe_sent=False)
    if code == 552 or "5.3.4" in text or "5.2.3" in text:
        return MailTooLarge(f"SMTP {text}")
    return PermanentFailure(f"SMTP {text}")

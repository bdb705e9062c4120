"""Received mail to router calls: a patron's mail joins (or opens) a conversation.

For each mail from the IMAP intake: parse it; skip it when it was taken before (its
Message-ID is linked) or is our own; an automatic mail (auto-reply, bounce, list) never
starts a conversation, and a bounce of one of our replies is told to that conversation's
topic. Otherwise the conversation is looked for by the signed reply token, then by the
Message-IDs it answers (In-Reply-To, References), and given to the router as a hint it
checks against the patron. Its files are kept by ``BlobStore`` and go with the message
as ``Attachment`` records (``intake_files.py``). An answer to a rating request that is a
rating ("5 thanks!") rates the conversation instead of reopening it (``rating_reply.py``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from pathlib import Path

from adapters.blobs import BlobStore
from adapters.email.authres import Verdict, sender_verdict, unverified_address
from adapters.email.autoreply import AutoKind
from adapters.email.headers import storable
from adapters.email.imap_fetch import FetchedMail
from adapters.email.intake_files import MailFiles, keep_files
from adapters.email.parse import ParsedMail, parse_email
from adapters.email.rating_reply import rated_conversation
from adapters.email.set_aside import SET_ASIDE_AFTER, SetAside
from adapters.email.settings import EmailSettings
from adapters.email.thread import MailStore, ReplyTokens, load_thread, save_thread
from adapters.files import human_size
from routing.model import Channel, Inbound
from routing.router import Accepted, Refused, Router

__all__ = ["Acknowledge", "EmailIntake", "human_size"]

log = logging.getLogger(__name__)

Acknowledge = Callable[[ParsedMail, Accepted], Awaitable[None]]
_THREAD_PARSE_BYTES = 512 * 1024  # parse larger mails off the event loop


def mail_key(parsed: ParsedMail, raw: bytes) -> str:
    """The mail's Message-ID, or one made from its bytes when it has none."""
    if parsed.message_id:
        return parsed.message_id
    return f"<{hashlib.sha256(raw).hexdigest()[:40]}@sha256.pustaka.invalid>"


class EmailIntake:
    """The IMAP intake's handler: takes a batch of fetched mail into the router."""

    def __init__(self, router: Router, store: MailStore, blobs: BlobStore,
                 settings: EmailSettings, *, tokens: ReplyTokens | None = None,
                 acknowledge: Acknowledge | None = None, set_aside_dir: Path | None = None,
                 set_aside_after: int = SET_ASIDE_AFTER) -> None:
        self._router = router
        self._aside = SetAside(set_aside_dir, set_aside_after)
        self._store = store
        self._blobs = blobs
        self._settings = settings
        self._tokens = tokens
        self._acknowledge = acknowledge
        own = {settings.from_address.lower(), settings.help_address.lower()}
        self._own = own - {""}
        self.counts: Counter[str] = Counter()  # what became of each mail, for tests and logs

    async def __call__(self, mails: Sequence[FetchedMail]) -> None:
        """Take a batch: one sender's mails in order, different senders side by side.

        Each mail is routed as soon as it is parsed, so parsing the next one overlaps
        with the store writing the last.
        """
        chains: dict[str, asyncio.Task[None]] = {}
        for mail in mails:
            parsed = await self._parse(mail)
            before = chains.get(parsed.from_address)
            chains[parsed.from_address] = asyncio.create_task(self._after(before, mail, parsed))
            await asyncio.sleep(0)
        results = await asyncio.gather(*chains.values(), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _after(self, before: asyncio.Task[None] | None, mail: FetchedMail,
                     parsed: ParsedMail) -> None:
        if before is not None:
            await before  # a failure there fails this one too: neither is counted taken
        self.counts[await self._guarded(mail, parsed)] += 1

    async def _guarded(self, mail: FetchedMail, parsed: ParsedMail) -> str:
        """``take``; a failure is raised (the batch is read again) until the same mail
        has failed ``set_aside_after`` times: then it is set aside and intake goes on."""
        key = mail_key(parsed, mail.raw)
        try:
            outcome = await self.take(mail, parsed)
        except Exception as exc:
            if not self._aside.failed(key):
                raise
            log.exception("mail %s (UID %s) keeps failing; it is set aside", key, mail.uid)
            await self._set_aside(mail, parsed, key, type(exc).__name__)
            return "set_aside"
        self._aside.succeeded(key)
        return outcome

    async def _set_aside(self, mail: FetchedMail, parsed: ParsedMail, key: str,
                         error: str) -> None:
        """Keep the mail and tell the desk: in the sender's topic, else only the log."""
        where = await self._aside.keep(mail.uid, mail.raw)
        kept = f"kept on the server as {where} and " if where else ""
        note = (f"\u26a0\ufe0f An email could not be taken in ({error}, several times). It is "
                f"{kept}left in the mailbox {self._settings.imap_mailbox} (UID {mail.uid}, "
                f"Message-ID {key}); its text and files are not shown here.")
        if not parsed.from_address or parsed.from_address in self._own:
            log.error("%s", note)
            return
        inbound = replace(self._inbound(parsed, key, self._verdict(parsed)),
                          text="(An email from this patron could not be read.)")
        try:
            accepted = await self._router.intake.accept(inbound)
            await self._router.records.notify_desk(accepted.conversation.id, note,
                                                   event="set_aside")
            await self._router.trail.mail_taken(key, accepted.conversation.id,
                                                accepted.message.id)
        except Exception:  # the mail is kept; the log is the last place left to say so
            log.exception("%s The desk could not be told.", note)

    async def _parse(self, mail: FetchedMail) -> ParsedMail:
        def parse() -> ParsedMail:
            return parse_email(mail.raw, max_attachment_bytes=self._settings.max_attachment_bytes,
                               reply_local_part=self._settings.help_local_part or None)

        if len(mail.raw) > _THREAD_PARSE_BYTES:
            return await asyncio.to_thread(parse)
        return parse()

    async def take(self, mail: FetchedMail, parsed: ParsedMail) -> str:
        """Route one mail; returns what became of it ("taken", "duplicate", "auto" ...)."""
        key = mail_key(parsed, mail.raw)
        if await self._store.find_link(Channel.EMAIL.value, key) is not None:
            return "duplicate"
        if parsed.from_address in self._own:
            return "own"
        if parsed.auto is not None:
            return await self._automatic(parsed, key)
        if not parsed.from_address:
            log.warning("mail %s has no sender address; it cannot be answered", key)
            return "no_sender"
        verdict = self._verdict(parsed)
        if verdict.verified and await self._rated(parsed, key):
            return "rated"
        inbound = self._inbound(parsed, key, verdict)
        if verdict.verified:  # a forged sender names no conversation, and rates none
            inbound = replace(inbound, conversation_id=await self._hint(parsed))
        if await self._router.intake.is_blocked(inbound):  # keep no files accept would refuse
            log.info("mail %s from %s refused: blocked", key, parsed.from_address)
            return "refused_blocked"
        files = await self._files(parsed, mail)
        inbound = replace(inbound, text=storable(self._text(parsed, files)),
                          attachments=files.attachments)
        try:
            accepted = await self._router.intake.accept(inbound)
        except Refused as refused:
            log.info("mail %s from %s refused: %s", key, parsed.from_address, refused.code)
            return f"refused_{refused.code}"
        conversation_id = accepted.conversation.id
        await self._router.trail.mail_taken(key, conversation_id, accepted.message.id)
        await self._remember_thread(conversation_id, parsed, key)
        if verdict.verified:  # an acknowledgement to a forged sender is backscatter
            await self._maybe_acknowledge(parsed, accepted)
        return "duplicate" if accepted.duplicate else "taken"

    def _verdict(self, parsed: ParsedMail) -> Verdict:
        """What the receiving server found of the sender (see ``authres.py``)."""
        return sender_verdict(parsed.authentication_results,
                              self._settings.trusted_authserv_id, parsed.from_address)

    def _inbound(self, parsed: ParsedMail, key: str, verdict: Verdict) -> Inbound:
        """The mail as the router takes it, text to come. A sender the receiving server
        found forged writes as a patron of their own, never as the address's owner."""
        address = parsed.from_address if verdict.verified else unverified_address(
            parsed.from_address)
        return Inbound(
            channel=Channel.EMAIL, address=address, text="",
            client_id=f"email:{key}"[:200], name=storable(parsed.from_name),
            email=parsed.from_address, external_id=key, subject=storable(parsed.subject),
            sender_unverified=not verdict.verified,
        )

    async def _rated(self, parsed: ParsedMail, key: str) -> bool:
        """Take a rating given in answer to the rating request; False for anything else."""
        found = await rated_conversation(parsed, self._store, self._tokens)
        if found is None:
            return False
        conversation_id, score, comment = found
        if not await self._router.claims.rate(conversation_id, score, comment):
            return False  # reopened meanwhile, say: then it is a message like any other
        await self._router.trail.mail_taken(key, conversation_id)
        return True

    async def _files(self, parsed: ParsedMail, mail: FetchedMail) -> MailFiles:
        s = self._settings
        return await keep_files(parsed.attachments, mail.refused, self._blobs,
                                max_attachment_bytes=s.max_attachment_bytes,
                                max_message_bytes=s.max_message_bytes, max_files=s.max_files)

    async def _automatic(self, parsed: ParsedMail, key: str) -> str:
        if parsed.auto is not AutoKind.BOUNCE or not parsed.bounce_of:
            return "auto"
        ours = await self._store.find_link(Channel.EMAIL.value, parsed.bounce_of)
        if ours is None:
            return "auto"
        reason = (parsed.full_text or parsed.subject).strip().splitlines()
        summary = " ".join(line.strip() for line in reason[:6] if line.strip())[:500]
        await self._router.records.notify_desk(
            ours.conversation_id,
            f"The email to the patron bounced: {summary}", event="bounce")
        await self._router.trail.mail_taken(key, ours.conversation_id)
        return "bounce"

    async def _hint(self, parsed: ParsedMail) -> str:
        """The conversation the mail answers, by reply token, then by threading ids."""
        if parsed.reply_token and self._tokens is not None:
            found = self._tokens.conversation_for(parsed.reply_token)
            if found:
                return found
        for cited in (parsed.in_reply_to, *reversed(parsed.references)):
            if cited:
                link = await self._store.find_link(Channel.EMAIL.value, cited)
                if link is not None:
                    return link.conversation_id
        return ""

    def _text(self, parsed: ParsedMail, files: MailFiles) -> str:
        """What the patron wrote, cut to the router's limit, and a line naming any files
        beyond the ones that go with the message. A mail of files alone has no text."""
        body = parsed.text or parsed.full_text or parsed.raw_text_fallback.strip()
        if not body and not files.attachments and not files.overflow:
            body = parsed.subject or "(an empty email)"
        room = max(200, self._settings.max_text - len(files.overflow) - 2)
        if len(body) > room:
            cut = room - 60
            body = body[:cut].rstrip() + f"\n[... {len(body) - cut} more characters]"
        return f"{body}\n\n{files.overflow}".strip() if files.overflow else body

    async def _remember_thread(self, conversation_id: str, parsed: ParsedMail, key: str) -> None:
        thread = await load_thread(self._store, conversation_id)
        thread = replace(thread, subject=thread.subject or parsed.subject,
                         last_patron_id=key)
        await save_thread(self._store, conversation_id,
                          thread.cite(*parsed.references, parsed.in_reply_to, key))

    async def _maybe_acknowledge(self, parsed: ParsedMail, accepted: Accepted) -> None:
        """One after-hours acknowledgement per conversation, never to an automatic mail."""
        conversation = accepted.conversation
        if self._acknowledge is None or accepted.duplicate or not conversation.after_hours:
            return
        if (await load_thread(self._store, conversation.id)).acknowledged:
            return
        try:
            await self._acknowledge(parsed, accepted)
        except Exception:  # an acknowledgement is a courtesy: the mail is already taken
            log.exception("after-hours acknowledgement to %s failed", parsed.from_address)
            return
        thread = await load_thread(self._store, conversation.id)  # cited meanwhile, maybe
        await save_thread(self._store, conversation.id, replace(thread, acknowledged=True))

"""Patron intake: which conversation a patron's message belongs to, and who the patron is.

A patron's message becomes a stored message plus an outbox row for the desk. The
patron's details (a name, a typed or proved email) are kept under the lock of the
contact they came by, the lock every writer of that patron takes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

from routing import logctx
from routing.blocks import inbound_keys
from routing.conversation_log import ConversationLog, Refused, delivery
from routing.frozen import quick_init
from routing.intake_rules import mail_key, opening_tags, proves_email, with_typed_email
from routing.model import (
    Channel,
    Contact,
    Conversation,
    DeliveryKind,
    Direction,
    Inbound,
    Message,
    PageInfo,
    Patron,
    Status,
    new_id,
)

__all__ = ["Accepted", "PatronIntake", "RouterPolicy"]

log = logging.getLogger(__name__)

_PAGE = 500  # messages read at a time for a patron's view of their conversation
WEEK = 7 * 86400.0


@dataclass(frozen=True, slots=True)
class RouterPolicy:
    max_text: int = 4000  # leaves room for the author line within Telegram's 4,096
    max_files: int = 10  # one album: Telegram's sendMediaGroup takes 2 to 10 items
    reopen_seconds: float = WEEK  # a patron writing this soon after a close reopens it
    topics: frozenset[str] = frozenset()  # tags a patron may choose for a new conversation
    blocked_text: str = (
        "Sorry, we cannot take messages from you at the moment. "
        "Please contact the library in person."
    )


@quick_init
@dataclass(frozen=True, slots=True)
class Accepted:
    message: Message
    conversation: Conversation
    patron: Patron
    duplicate: bool


class PatronIntake:
    """``accept`` a patron's message; ``identify`` and ``confirm_email`` them;
    ``patron_view`` shows them their conversation."""

    def __init__(
        self, log: ConversationLog, *, policy: RouterPolicy | None = None,
        staffed: Callable[[float], bool] = lambda now: True,
    ) -> None:
        self._log = log
        self._store = log.store
        self._policy = policy or RouterPolicy()
        self._staffed = staffed

    async def accept(self, inbound: Inbound) -> Accepted:
        """Store a patron's message and queue it for the desk.

        Messages of one patron are numbered in the order ``accept`` was called: nothing
        before the patron's lock awaits, the lock serves waiters first come first
        served, and the id is taken before the next waiter can run. A channel that hands
        over a patron's messages in order (the widget's pipeline) can rely on it. A
        blocked patron is told so whatever they sent (a channel may leave out the files
        of a blocked patron, so "empty" would be the wrong answer).
        """
        contact = Contact(inbound.channel, inbound.address)
        async with self._log.lock(contact):
            # One read of the patron serves the block check and the update: under the
            # contact's lock no other intake step can change them in between.
            known = await self._store.patron_by_contact(contact)
            if await self._blocked(inbound, known):
                raise Refused("blocked", self._policy.blocked_text)
            text = self._clean_text(inbound.text, bool(inbound.attachments))
            if inbound.topic and inbound.topic not in self._policy.topics:
                raise Refused("bad_topic", "Please choose one of the topics offered.")
            if len(inbound.attachments) > self._policy.max_files:
                raise Refused("too_many_files", f"{len(inbound.attachments)} files at once; "
                              f"the limit is {self._policy.max_files}.")
            if known is None and not inbound.conversation_id:
                # Nothing to join: written whole under the lock, so the patron's next
                # message finds the patron and the conversation.
                return await self._first_message(contact, inbound, text)
            patron = await self._patron_for(contact, inbound, known)
            conversation = await self._open_conversation(patron, inbound)
        # The caller's lines from here on (its acknowledgement, its failures) are about it.
        logctx.bind(conversation_id=conversation.id, channel=inbound.channel.value,
                    patron_id=patron.id)
        message = self._message(inbound, conversation, patron, text)
        queued = [delivery(message, DeliveryKind.TO_DESK, Channel.DESK)]
        stored, created = await self._log.write(message, queued)
        return Accepted(stored, conversation, patron, duplicate=not created)

    async def _first_message(self, contact: Contact, inbound: Inbound, text: str) -> Accepted:
        """A new patron's first message: the patron, a new conversation and the message
        in one commit, where three were awaited in a row; all of it is stored or none."""
        patron = self._new_patron(contact, inbound)
        conversation = self._new_conversation(patron, inbound)
        logctx.bind(conversation_id=conversation.id, channel=inbound.channel.value,
                    patron_id=patron.id)
        message = self._message(inbound, conversation, patron, text)
        queued = [delivery(message, DeliveryKind.TO_DESK, Channel.DESK)]
        stored, created = await self._log.write_first(patron, conversation, message, queued)
        log.info("new conversation%s", " after hours" if conversation.after_hours else "")
        return Accepted(stored, conversation, patron, duplicate=not created)

    def _message(self, inbound: Inbound, conversation: Conversation, patron: Patron,
                 text: str) -> Message:
        return Message(
            id=new_id(),
            conversation_id=conversation.id,
            direction=Direction.PATRON,
            text=text,
            author=patron.name,
            client_id=inbound.client_id,
            external_id=inbound.external_id,
            created_at=self._log.clock.now(),
            attachments=inbound.attachments,
        )

    def new_contact(self, contact: Contact) -> None:
        """``contact`` was made just now (a new widget visitor): nobody has it yet."""
        self._store.new_contact(contact)

    async def is_blocked(self, inbound: Inbound) -> bool:
        """Whether ``accept`` would refuse this patron as blocked: a channel asks first
        before it fetches and keeps files that would never be used."""
        contact = Contact(inbound.channel, inbound.address)
        return await self._blocked(inbound, await self._store.patron_by_contact(contact))

    async def identify(self, contact: Contact, *, name: str = "", email: str = "",
                       member_number: str = "") -> Patron:
        """Record the name, email or member number a patron gave, creating the patron if
        new. A typed address is unconfirmed: it is where this patron's answers may go, and
        it joins no one's email until ``confirm_email``. A typed member number is kept as
        typed; the desk shows it as not verified until /verify."""
        async with self._log.lock(contact):
            patron = await self._store.patron_by_contact(contact)
            if patron is None:
                patron = Patron(new_id(), contacts=(contact,), created_at=self._log.clock.now())
            given = replace(patron, name=name or patron.name,
                            member_number=member_number or patron.member_number)
            changed = with_typed_email(given, email)
            if changed == patron:
                return patron
            await self._store.save_patron(changed)
            return changed

    async def confirm_email(self, contact: Contact, email: str) -> Patron | None:
        """The patron proved they read ``email`` (a code sent there came back): it is
        confirmed and joins their email contact, unless another patron already holds
        that contact. None when the patron's address is no longer ``email``."""
        async with self._log.lock(contact):
            patron = await self._store.patron_by_contact(contact)
            if patron is None or mail_key(patron.email) != mail_key(email):
                return None
            confirmed = await self._with_email_contact(replace(patron, email_confirmed=True))
            if confirmed != patron:
                await self._store.save_patron(confirmed)
            return confirmed

    async def patron_view(
        self, contact: Contact, after: str = ""
    ) -> tuple[Conversation | None, list[Message]]:
        """The patron's current conversation and what they may see of it (no notes), a
        page at a time: an empty page means there is nothing more after ``after``."""
        patron = await self._store.patron_by_contact(contact)
        if patron is None:
            return None, []
        conversation = await self._store.latest_conversation(patron.id)
        if conversation is None:
            return None, []
        while True:
            page = await self._store.history(conversation.id, after=after, limit=_PAGE)
            shown = [m for m in page if m.direction is not Direction.NOTE]
            if shown or len(page) < _PAGE:
                return conversation, shown
            after = page[-1].id  # a whole page of notes: the patron's next lines are later

    # -- steps -------------------------------------------------------------------------

    def _clean_text(self, text: str, has_files: bool = False) -> str:
        """The text as stored; a message of files alone may have none."""
        text = text.replace("\r\n", "\n").strip()
        if not text and not has_files:
            raise Refused("empty", "The message is empty.")
        if len(text) > self._policy.max_text:
            raise Refused(
                "too_long",
                f"The message is {len(text)} characters; the limit is {self._policy.max_text}.",
            )
        return text

    async def _blocked(self, inbound: Inbound, patron: Patron | None) -> bool:
        keys = inbound_keys(inbound, patron)
        return await self._store.find_block(keys, self._log.clock.now()) is not None

    async def _patron_for(self, contact: Contact, inbound: Inbound,
                          patron: Patron | None) -> Patron:
        """``patron``, the one ``contact`` names now, with what this message tells of them;
        a new patron when None."""
        if patron is None:
            patron = self._new_patron(contact, inbound)
            await self._store.save_patron(patron)
            return patron
        mailed = proves_email(inbound)
        language = inbound.page.language if inbound.page is not None else ""
        # A known patron's next message usually changes nothing: no copy, no compare then.
        name, language = inbound.name or patron.name, language or patron.language
        renamed = (patron if name == patron.name and language == patron.language
                   else replace(patron, name=name, language=language))
        changed = with_typed_email(renamed, inbound.email, confirmed=mailed)
        if changed is not patron and changed != patron:
            patron = await self._with_email_contact(changed)
            await self._store.save_patron(patron)
        return patron

    def _new_patron(self, contact: Contact, inbound: Inbound) -> Patron:
        """The patron a first message from ``contact`` makes, not yet saved."""
        language = inbound.page.language if inbound.page is not None else ""
        patron = Patron(new_id(), name=inbound.name, contacts=(contact,),
                        created_at=self._log.clock.now(), language=language)
        return with_typed_email(patron, inbound.email, confirmed=proves_email(inbound))

    async def _with_email_contact(self, patron: Patron) -> Patron:
        """Add the patron's confirmed email as a contact, so their later email joins
        them; an address another patron already holds stays theirs, and an unconfirmed
        one joins nobody (typing someone's address must not route their mail)."""
        if not patron.email or not patron.email_confirmed:
            return patron
        contact = Contact(Channel.EMAIL, mail_key(patron.email))
        if contact in patron.contacts:
            return patron
        holder = await self._store.patron_by_contact(contact)
        if holder is not None and holder.id != patron.id:
            return patron
        return replace(patron, contacts=(*patron.contacts, contact))

    async def _open_conversation(self, patron: Patron, inbound: Inbound) -> Conversation:
        """The patron's open conversation; else the one their reply token names, or the
        one closed within ``reopen_seconds``, reopened; else a new one."""
        now = self._log.clock.now()
        hinted = await self._hinted(patron, inbound) if inbound.conversation_id else None
        conversation = hinted or await self._store.latest_conversation(patron.id)
        if conversation is not None and conversation.status is Status.OPEN:
            return conversation
        if conversation is not None and (hinted or self._may_reopen(conversation, now)):
            return await self._reopen(conversation)
        conversation = self._new_conversation(patron, inbound)
        await self._store.save_conversation(conversation)
        logctx.bind(conversation_id=conversation.id, channel=inbound.channel.value,
                    patron_id=patron.id)
        log.info("new conversation%s", " after hours" if conversation.after_hours else "")
        return conversation

    def _new_conversation(self, patron: Patron, inbound: Inbound) -> Conversation:
        now = self._log.clock.now()
        return Conversation(
            id=new_id(),
            patron_id=patron.id,
            origin=inbound.channel,
            page=inbound.page or PageInfo(),
            created_at=now,
            updated_at=now,
            after_hours=not self._staffed(now),
            subject=inbound.subject,
            tags=opening_tags(inbound),
        )

    async def _hinted(self, patron: Patron, inbound: Inbound) -> Conversation | None:
        """A stranger never joins someone else's conversation by naming it. An answer by
        mail from the address the conversation's patron typed (its replies went there,
        reply token and all) joins it, though it proves nothing for their other mail."""
        if not inbound.conversation_id:
            return None
        found = await self._store.get_conversation(inbound.conversation_id)
        if found is None or found.patron_id == patron.id:
            return found
        if inbound.channel is Channel.EMAIL:
            owner = await self._store.get_patron(found.patron_id)
            if owner is not None and mail_key(owner.email) == mail_key(inbound.address):
                return found
        return None

    def _may_reopen(self, conversation: Conversation, now: float) -> bool:
        return bool(conversation.closed_at) and (
            now - conversation.closed_at <= self._policy.reopen_seconds
        )

    async def _reopen(self, conversation: Conversation) -> Conversation:
        """A closed conversation the patron came back to; its topic opens again."""
        now = self._log.clock.now()
        reopened = replace(conversation, status=Status.OPEN, closed_at=0.0, updated_at=now)
        await self._store.save_conversation(reopened)
        await self._log.system(reopened, "reopened", "The patron wrote again; reopened",
                               reopened.claimed_by, to_desk=True)
        return reopened


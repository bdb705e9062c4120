"""The router: which conversation a message belongs to and where it must go.

Inbound patron messages become a stored message plus an outbox row for the desk; a
librarian's reply becomes a stored message plus an outbox row for the patron's channel.
Nothing is sent here: the delivery worker sends what the outbox holds.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from routing.blocks import inbound_keys
from routing.claims import ClaimResult, Claims
from routing.desk_actions import DeskActions
from routing.desk_records import DeskRecords
from routing.model import (
    SENDER_UNVERIFIED_TAG,
    Channel,
    Contact,
    Conversation,
    DeliveryKind,
    DeskReply,
    Direction,
    Inbound,
    Message,
    PageInfo,
    Patron,
    Status,
    new_id,
)
from routing.router_base import Claimed, Refused, RouterPolicy

__all__ = ["Accepted", "ClaimResult", "Claimed", "Refused", "Router", "RouterPolicy"]

_PAGE = 500  # messages read at a time for a patron's view of their conversation


@dataclass(frozen=True, slots=True)
class Accepted:
    message: Message
    conversation: Conversation
    patron: Patron
    duplicate: bool


class Router(Claims, DeskActions, DeskRecords):
    """``Router(store, clock, *, policy, on_enqueue, staffed)``: see RouterBase."""

    # -- patron side -------------------------------------------------------------------

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
        async with self._lock(contact):
            await self._refuse_blocked(inbound)
            text = self._clean_text(inbound.text, bool(inbound.attachments))
            if len(inbound.attachments) > self._policy.max_files:
                raise Refused("too_many_files", f"{len(inbound.attachments)} files at once; "
                              f"the limit is {self._policy.max_files}.")
            patron = await self._patron_for(contact, inbound)
            conversation = await self._open_conversation(patron, inbound)
        now = self._clock.now()
        message = Message(
            id=new_id(),
            conversation_id=conversation.id,
            direction=Direction.PATRON,
            text=text,
            author=patron.name,
            client_id=inbound.client_id,
            external_id=inbound.external_id,
            created_at=now,
            attachments=inbound.attachments,
        )
        queued = [self._delivery(message, DeliveryKind.TO_DESK, Channel.DESK)]
        stored, created = await self._store.append(message, queued)
        if created:
            self._on_enqueue(queued)
        return Accepted(stored, conversation, patron, duplicate=not created)

    async def identify(self, contact: Contact, *, name: str = "", email: str = "") -> Patron:
        """Record the name or email a patron gave, creating the patron if new. A typed
        address is unconfirmed: it is where this patron's answers may go, and it joins
        no one's email until ``confirm_email``."""
        async with self._lock(contact):
            patron = await self._store.patron_by_contact(contact)
            if patron is None:
                patron = Patron(new_id(), contacts=(contact,), created_at=self._clock.now())
                changed = _with_typed_email(replace(patron, name=name), email)
            else:
                changed = _with_typed_email(replace(patron, name=name or patron.name), email)
            if changed == patron:
                return patron
            await self._store.save_patron(changed)
            return changed

    async def confirm_email(self, contact: Contact, email: str) -> Patron | None:
        """The patron proved they read ``email`` (a code sent there came back): it is
        confirmed and joins their email contact, unless another patron already holds
        that contact. None when the patron's address is no longer ``email``."""
        async with self._lock(contact):
            patron = await self._store.patron_by_contact(contact)
            if patron is None or _mail_key(patron.email) != _mail_key(email):
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

    # -- desk side ---------------------------------------------------------------------

    async def reply(self, reply: DeskReply) -> Message | None:
        """A librarian wrote in a conversation's topic; the first to reply claims it.

        Raises ``Claimed`` when another librarian holds the conversation: nothing is
        stored or sent, so a patron never gets two librarians' answers.
        """
        text = reply.text.strip()
        if not text and not reply.attachments:
            return None
        async with self._lock(reply.conversation_id):
            # Read inside the lock: two librarians answering at once make one claim.
            conversation = await self._store.get_conversation(reply.conversation_id)
            if conversation is None:
                return None
            if conversation.claimed_by_id not in ("", reply.librarian_id):
                raise Claimed(conversation.claimed_by_id, conversation.claimed_by)
            conversation = await self._first_answer(conversation, reply)
        message = Message(
            id=new_id(),
            conversation_id=conversation.id,
            direction=Direction.LIBRARIAN,
            text=text,
            author=reply.librarian_name,
            # A desk message redelivered after a restart is the same message, not a new one.
            client_id=f"desk:{reply.external_id}" if reply.external_id else "",
            external_id=reply.external_id,
            created_at=self._clock.now(),
            attachments=reply.attachments,
        )
        queued = [self._delivery(message, DeliveryKind.TO_PATRON, conversation.origin)]
        stored, created = await self._store.append(message, queued)
        if created:
            await self._link_reply(stored)  # so an edit of it in the topic finds it
            self._on_enqueue(queued)
        return stored

    async def _first_answer(self, conversation: Conversation, reply: DeskReply) -> Conversation:
        """Claim on the first reply and note when the patron first got an answer."""
        now = self._clock.now()
        claim = not conversation.claimed_by_id
        if not claim and conversation.first_response_at:
            return conversation
        answered = replace(
            conversation, claimed_by=conversation.claimed_by or reply.librarian_name,
            claimed_by_id=conversation.claimed_by_id or reply.librarian_id,
            first_response_at=conversation.first_response_at or now, updated_at=now,
        )
        await self._store.save_conversation(answered)
        if claim:
            await self._system(answered, "claimed", f"{reply.librarian_name} is answering",
                               reply.librarian_name, to_desk=True)
        return answered

    async def conversation_for_thread(self, desk_thread: int) -> Conversation | None:
        return await self._store.conversation_by_thread(desk_thread)

    async def conversation_for_desk_message(self, external_id: str) -> Conversation | None:
        """For groups without topics: the conversation a forwarded desk message belongs to."""
        link = await self._store.find_link(Channel.DESK.value, external_id)
        if link is None:
            return None
        return await self._store.get_conversation(link.conversation_id)

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

    async def _patron_for(self, contact: Contact, inbound: Inbound) -> Patron:
        # A mail's own sender address is as proved as mail can prove it; an address
        # typed into a form (the widget's offline form) is not.
        # A forged From (sender_unverified) proves nothing, so it claims no one's address.
        mailed = (inbound.channel is Channel.EMAIL and not inbound.sender_unverified
                  and _mail_key(inbound.email) == _mail_key(inbound.address))
        patron = await self._store.patron_by_contact(contact)
        language = inbound.page.language if inbound.page is not None else ""
        if patron is None:
            patron = Patron(new_id(), name=inbound.name, contacts=(contact,),
                            created_at=self._clock.now(), language=language)
            patron = _with_typed_email(patron, inbound.email, confirmed=mailed)
            await self._store.save_patron(patron)
            return patron
        changed = _with_typed_email(replace(patron, name=inbound.name or patron.name,
                                            language=language or patron.language),
                                    inbound.email, confirmed=mailed)
        if changed != patron:
            patron = await self._with_email_contact(changed)
            await self._store.save_patron(patron)
        return patron

    async def _with_email_contact(self, patron: Patron) -> Patron:
        """Add the patron's confirmed email as a contact, so their later email joins
        them; an address another patron already holds stays theirs, and an unconfirmed
        one joins nobody (typing someone's address must not route their mail)."""
        if not patron.email or not patron.email_confirmed:
            return patron
        contact = Contact(Channel.EMAIL, _mail_key(patron.email))
        if contact in patron.contacts:
            return patron
        holder = await self._store.patron_by_contact(contact)
        if holder is not None and holder.id != patron.id:
            return patron
        return replace(patron, contacts=(*patron.contacts, contact))

    async def is_blocked(self, inbound: Inbound) -> bool:
        """Whether ``accept`` would refuse this patron as blocked: a channel asks first
        before it fetches and keeps files that would never be used."""
        contact = Contact(inbound.channel, inbound.address)
        patron = await self._store.patron_by_contact(contact)
        found = await self._store.find_block(inbound_keys(inbound, patron), self._clock.now())
        return found is not None

    async def _refuse_blocked(self, inbound: Inbound) -> None:
        if await self.is_blocked(inbound):
            raise Refused("blocked", self._policy.blocked_text)

    async def _open_conversation(self, patron: Patron, inbound: Inbound) -> Conversation:
        """The patron's open conversation; else the one their reply token names, or the
        one closed within ``reopen_seconds``, reopened; else a new one."""
        now = self._clock.now()
        hinted = await self._hinted(patron, inbound)
        conversation = hinted or await self._store.latest_conversation(patron.id)
        if conversation is not None and conversation.status is Status.OPEN:
            return conversation
        if conversation is not None and (hinted or self._may_reopen(conversation, now)):
            return await self._reopen(conversation)
        conversation = Conversation(
            id=new_id(),
            patron_id=patron.id,
            origin=inbound.channel,
            page=inbound.page or PageInfo(),
            created_at=now,
            updated_at=now,
            after_hours=not self._staffed(now),
            subject=inbound.subject,
            tags=(SENDER_UNVERIFIED_TAG,) if inbound.sender_unverified else (),
        )
        await self._store.save_conversation(conversation)
        return conversation

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
            if owner is not None and _mail_key(owner.email) == _mail_key(inbound.address):
                return found
        return None


def _mail_key(address: str) -> str:
    return address.strip().lower()


def _with_typed_email(patron: Patron, email: str, *, confirmed: bool = False) -> Patron:
    """The patron with ``email`` as their address: a new address starts unconfirmed
    (unless ``confirmed``); the same address keeps what it had."""
    if not email:
        return patron
    if _mail_key(email) == _mail_key(patron.email):
        return replace(patron, email_confirmed=patron.email_confirmed or confirmed)
    return replace(patron, email=email, email_confirmed=confirmed)

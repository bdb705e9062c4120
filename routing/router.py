"""The router: which conversation a message belongs to and where it must go.

Inbound patron messages become a stored message plus an outbox row for the desk; a
librarian's reply becomes a stored message plus an outbox row for the patron's channel.
Nothing is sent here: the delivery worker sends what the outbox holds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace

from routing.model import (
    Channel,
    Contact,
    Conversation,
    Delivery,
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
from routing.ports import Clock, Store

__all__ = ["Accepted", "Refused", "Router", "RouterPolicy"]

_STRIPES = 256


class Refused(Exception):
    """A message the router will not take; ``code`` is stable, the text is for people."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RouterPolicy:
    max_text: int = 4000  # leaves room for the author line within Telegram's 4,096


@dataclass(frozen=True, slots=True)
class Accepted:
    message: Message
    conversation: Conversation
    patron: Patron
    duplicate: bool


class Router:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        policy: RouterPolicy | None = None,
        on_enqueue: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._policy = policy or RouterPolicy()
        self._on_enqueue = on_enqueue
        # Striped locks: two first messages from one patron must open one conversation,
        # and a fixed set of stripes keeps memory bounded however many patrons come.
        self._locks = [asyncio.Lock() for _ in range(_STRIPES)]

    # -- patron side -------------------------------------------------------------------

    async def accept(self, inbound: Inbound) -> Accepted:
        text = self._clean_text(inbound.text)
        contact = Contact(inbound.channel, inbound.address)
        async with self._lock(contact):
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
        )
        stored, created = await self._store.append(
            message, [self._delivery(message, DeliveryKind.TO_DESK, Channel.DESK)]
        )
        if created:
            self._on_enqueue()
        return Accepted(stored, conversation, patron, duplicate=not created)

    async def identify(self, contact: Contact, *, name: str = "", email: str = "") -> Patron:
        """Record the name or email a patron gave, creating the patron if new."""
        async with self._lock(contact):
            patron = await self._store.patron_by_contact(contact)
            if patron is None:
                patron = Patron(new_id(), contacts=(contact,), created_at=self._clock.now())
                changed = replace(patron, name=name, email=email)
            else:
                changed = replace(patron, name=name or patron.name, email=email or patron.email)
                if changed == patron:
                    return patron
            await self._store.save_patron(changed)
            return changed

    async def patron_view(
        self, contact: Contact, after: str = ""
    ) -> tuple[Conversation | None, list[Message]]:
        """The patron's current conversation and what they may see of it (no notes)."""
        patron = await self._store.patron_by_contact(contact)
        if patron is None:
            return None, []
        conversation = await self._store.latest_conversation(patron.id)
        if conversation is None:
            return None, []
        messages = await self._store.history(conversation.id, after=after)
        return conversation, [m for m in messages if m.direction is not Direction.NOTE]

    # -- desk side ---------------------------------------------------------------------

    async def reply(self, reply: DeskReply) -> Message | None:
        """A librarian wrote in a conversation's topic; the first to reply claims it."""
        text = reply.text.strip()
        if not text:
            return None
        async with self._lock(reply.conversation_id):
            # Read inside the lock: two librarians answering at once make one claim.
            conversation = await self._store.get_conversation(reply.conversation_id)
            if conversation is None:
                return None
            if not conversation.claimed_by_id:
                conversation = replace(
                    conversation,
                    claimed_by=reply.librarian_name,
                    claimed_by_id=reply.librarian_id,
                    updated_at=self._clock.now(),
                )
                await self._store.save_conversation(conversation)
                await self._system(conversation, "claimed",
                                   f"{reply.librarian_name} is answering",
                                   reply.librarian_name, to_desk=True)
        now = self._clock.now()
        message = Message(
            id=new_id(),
            conversation_id=conversation.id,
            direction=Direction.LIBRARIAN,
            text=text,
            author=reply.librarian_name,
            # A desk message redelivered after a restart is the same message, not a new one.
            client_id=f"desk:{reply.external_id}" if reply.external_id else "",
            external_id=reply.external_id,
            created_at=now,
        )
        stored, created = await self._store.append(
            message, [self._delivery(message, DeliveryKind.TO_PATRON, conversation.origin)]
        )
        if created:
            self._on_enqueue()
        return stored

    async def conversation_for_thread(self, desk_thread: int) -> Conversation | None:
        return await self._store.conversation_by_thread(desk_thread)

    async def conversation_for_desk_message(self, external_id: str) -> Conversation | None:
        """For groups without topics: the conversation a forwarded desk message belongs to."""
        link = await self._store.find_link(Channel.DESK.value, external_id)
        if link is None:
            return None
        return await self._store.get_conversation(link.conversation_id)

    # -- steps -------------------------------------------------------------------------

    def _lock(self, key: object) -> asyncio.Lock:
        return self._locks[hash(key) % _STRIPES]

    def _clean_text(self, text: str) -> str:
        text = text.replace("\r\n", "\n").strip()
        if not text:
            raise Refused("empty", "The message is empty.")
        if len(text) > self._policy.max_text:
            raise Refused(
                "too_long",
                f"The message is {len(text)} characters; the limit is {self._policy.max_text}.",
            )
        return text

    async def _patron_for(self, contact: Contact, inbound: Inbound) -> Patron:
        patron = await self._store.patron_by_contact(contact)
        if patron is None:
            patron = Patron(
                new_id(),
                name=inbound.name,
                email=inbound.email,
                contacts=(contact,),
                created_at=self._clock.now(),
            )
            await self._store.save_patron(patron)
        elif (inbound.name and inbound.name != patron.name) or (
            inbound.email and inbound.email != patron.email
        ):
            patron = replace(patron, name=inbound.name or patron.name,
                             email=inbound.email or patron.email)
            await self._store.save_patron(patron)
        return patron

    async def _open_conversation(self, patron: Patron, inbound: Inbound) -> Conversation:
        conversation = await self._store.latest_conversation(patron.id)
        if conversation is not None and conversation.status is Status.OPEN:
            return conversation
        now = self._clock.now()
        conversation = Conversation(
            id=new_id(),
            patron_id=patron.id,
            origin=inbound.channel,
            page=inbound.page or PageInfo(),
            created_at=now,
            updated_at=now,
        )
        await self._store.save_conversation(conversation)
        return conversation

    async def _system(
        self, conversation: Conversation, event: str, text: str, author: str, *, to_desk: bool
    ) -> None:
        message = Message(
            id=new_id(),
            conversation_id=conversation.id,
            direction=Direction.SYSTEM,
            text=text,
            author=author,
            event=event,
            created_at=self._clock.now(),
        )
        deliveries = []
        if conversation.origin is Channel.WIDGET:  # a live status line; by email it is noise
            deliveries.append(self._delivery(message, DeliveryKind.TO_PATRON, Channel.WIDGET))
        if to_desk:
            deliveries.append(self._delivery(message, DeliveryKind.DESK_NOTICE, Channel.DESK))
        await self._store.append(message, deliveries)
        self._on_enqueue()

    def _delivery(self, message: Message, kind: DeliveryKind, destination: Channel) -> Delivery:
        return Delivery(
            id=new_id(),
            conversation_id=message.conversation_id,
            message_id=message.id,
            kind=kind,
            destination=destination,
            idempotency_key=f"{message.id}:{destination.value}",
            next_attempt_at=message.created_at,
            created_at=message.created_at,
        )

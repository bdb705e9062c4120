"""The conversation log every router service shares: one small collaborator.

It holds what the services have in common and nothing else: the store, the clock, the
per-conversation and per-contact locks, the hook that wakes the outbox, and the one way
a line is written (a message plus its outbox rows in one commit). The services
(intake.py, desk_replies.py, claims.py, moderation.py, desk_records.py) are each handed
this log; none reaches into another.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager

from routing.model import (
    Channel,
    Conversation,
    Delivery,
    DeliveryKind,
    Direction,
    Message,
    Patron,
    new_id,
)
from routing.ports import Clock, Store

__all__ = ["LIVE_CHANNELS", "Claimed", "ConversationLog", "Refused", "delivery"]

_STRIPES = 256
# Live status lines ("claimed", "reopened") reach patrons in a chat; by email they are noise.
LIVE_CHANNELS = frozenset({Channel.WIDGET, Channel.TELEGRAM})


class Refused(Exception):
    """A message the router will not take; ``code`` is stable, the text is for people."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class Claimed(Refused):
    """A librarian wrote in a conversation another librarian holds: nothing is sent."""

    def __init__(self, holder_id: str, holder_name: str) -> None:
        super().__init__("claimed", f"{holder_name} is answering this conversation.")
        self.holder_id = holder_id
        self.holder_name = holder_name


class ConversationLog:
    """The store, the clock, the locks and the outbox's wake-up, shared by the services."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        on_enqueue: Callable[[Sequence[Delivery]], None] = lambda queued: None,
    ) -> None:
        self.store = store
        self.clock = clock
        self._on_enqueue = on_enqueue
        # Striped locks: two first messages from one patron must open one conversation,
        # and a fixed set of stripes keeps memory bounded however many patrons come.
        self._locks = [asyncio.Lock() for _ in range(_STRIPES)]

    def lock(self, key: object) -> asyncio.Lock:
        """The lock every writer of ``key`` (a conversation id, a contact) takes."""
        return self._locks[hash(key) % _STRIPES]

    @asynccontextmanager
    async def locks(self, keys: Iterable[object]) -> AsyncIterator[None]:
        """The locks of several keys (a patron's contacts), taken in one order: nobody
        else holds two at once, so this cannot deadlock."""
        held = {id(lock): lock for lock in map(self.lock, keys)}
        async with AsyncExitStack() as stack:
            for lock in sorted(held.values(), key=self._locks.index):
                await stack.enter_async_context(lock)
            yield

    async def write(
        self, message: Message, deliveries: Sequence[Delivery]
    ) -> tuple[Message, bool]:
        """Store ``message`` and its outbox rows in one commit and wake the outbox for
        them; a resent message (same client id) is the stored one, queued once."""
        stored, created = await self.store.append(message, deliveries)
        if created:
            self.wake(deliveries)
        return stored, created

    async def write_first(
        self, patron: Patron, conversation: Conversation, message: Message,
        deliveries: Sequence[Delivery],
    ) -> tuple[Message, bool]:
        """``write`` for a new patron's first message: the patron and their new
        conversation are stored in the same commit as it."""
        stored, created = await self.store.append_first(patron, conversation, message,
                                                        deliveries)
        if created:
            self.wake(deliveries)
        return stored, created

    def wake(self, queued: Sequence[Delivery]) -> None:
        """Tell the outbox these rows are due (a writer that links a message first
        wakes it itself, after the link is saved)."""
        if queued:
            self._on_enqueue(queued)

    async def notice(self, conversation_id: str, text: str, event: str = "") -> None:
        """A line for the conversation's topic only (bounces, an unreachable patron,
        reminders, command answers). Stored as a NOTE, so no patron path can show it."""
        if await self.store.get_conversation(conversation_id) is None:
            return
        message = Message(
            id=new_id(), conversation_id=conversation_id, direction=Direction.NOTE,
            text=text, event=event or "notice", created_at=self.clock.now(),
        )
        await self.write(message, [delivery(message, DeliveryKind.DESK_NOTICE, Channel.DESK)])

    async def system(
        self, conversation: Conversation, event: str, text: str, author: str, *,
        to_desk: bool, to_patron: Iterable[Channel] = (),
    ) -> Message:
        """A SYSTEM line; by default a live status line for a patron in a chat (the widget,
        Telegram) but not by email, where it is noise; or to the channels in ``to_patron``."""
        message = Message(
            id=new_id(), conversation_id=conversation.id, direction=Direction.SYSTEM,
            text=text, author=author, event=event, created_at=self.clock.now(),
        )
        deliveries = [delivery(message, DeliveryKind.TO_PATRON, channel)
                      for channel in dict.fromkeys(to_patron)]
        if not deliveries and conversation.origin in LIVE_CHANNELS:
            deliveries.append(delivery(message, DeliveryKind.TO_PATRON, conversation.origin))
        if to_desk:
            deliveries.append(delivery(message, DeliveryKind.DESK_NOTICE, Channel.DESK))
        stored, _ = await self.write(message, deliveries)
        return stored


def delivery(message: Message, kind: DeliveryKind, destination: Channel) -> Delivery:
    """The outbox row that takes ``message`` to ``destination``, due at once."""
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

"""What every part of the router shares: its ports, its locks and how it writes a line.

``Router`` (router.py) is assembled from this base, the claim rules (claims.py) and the
desk's bookkeeping (desk_actions.py); each part stays small and is tested on its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from routing.model import (
    Channel,
    Conversation,
    Delivery,
    DeliveryKind,
    Direction,
    Message,
    new_id,
)
from routing.ports import Clock, RouterStore
from routing.trail import Trail

__all__ = ["LIVE_CHANNELS", "Claimed", "Refused", "RouterBase", "RouterPolicy"]

_STRIPES = 256
WEEK = 7 * 86400.0
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


@dataclass(frozen=True, slots=True)
class RouterPolicy:
    max_text: int = 4000  # leaves room for the author line within Telegram's 4,096
    max_files: int = 10  # one album: Telegram's sendMediaGroup takes 2 to 10 items
    reopen_seconds: float = WEEK  # a patron writing this soon after a close reopens it
    blocked_text: str = (
        "Sorry, we cannot take messages from you at the moment. "
        "Please contact the library in person."
    )


class RouterBase:
    """Ports, locks and the one way a line is written (message plus its outbox rows)."""

    def __init__(
        self,
        store: RouterStore,
        clock: Clock,
        *,
        policy: RouterPolicy | None = None,
        on_enqueue: Callable[[Sequence[Delivery]], None] = lambda queued: None,
        staffed: Callable[[float], bool] = lambda now: True,
    ) -> None:
        self._store = store
        self._clock = clock
        self.trail = Trail(store)  # the verbs adapters record links with
        self._policy = policy or RouterPolicy()
        self._on_enqueue = on_enqueue
        self._staffed = staffed
        # Striped locks: two first messages from one patron must open one conversation,
        # and a fixed set of stripes keeps memory bounded however many patrons come.
        self._locks = [asyncio.Lock() for _ in range(_STRIPES)]

    def _lock(self, key: object) -> asyncio.Lock:
        return self._locks[hash(key) % _STRIPES]

    async def notify_desk(self, conversation_id: str, text: str, event: str = "") -> None:
        """A line for the conversation's topic only (bounces, an unreachable patron,
        reminders, command answers). Stored as a NOTE, so no patron path can show it."""
        if await self._store.get_conversation(conversation_id) is None:
            return
        message = Message(
            id=new_id(), conversation_id=conversation_id, direction=Direction.NOTE,
            text=text, event=event or "notice", created_at=self._clock.now(),
        )
        notice = [self._delivery(message, DeliveryKind.DESK_NOTICE, Channel.DESK)]
        await self._store.append(message, notice)
        self._on_enqueue(notice)

    async def _system(
        self, conversation: Conversation, event: str, text: str, author: str, *,
        to_desk: bool, to_patron: Iterable[Channel] = (),
    ) -> Message:
        """A SYSTEM line; by default a live status line for a patron in a chat (the widget,
        Telegram) but not by email, where it is noise; or to the channels in ``to_patron``."""
        message = Message(
            id=new_id(), conversation_id=conversation.id, direction=Direction.SYSTEM,
            text=text, author=author, event=event, created_at=self._clock.now(),
        )
        deliveries = [self._delivery(message, DeliveryKind.TO_PATRON, channel)
                      for channel in dict.fromkeys(to_patron)]
        if not deliveries and conversation.origin in LIVE_CHANNELS:
            deliveries.append(
                self._delivery(message, DeliveryKind.TO_PATRON, conversation.origin))
        if to_desk:
            deliveries.append(self._delivery(message, DeliveryKind.DESK_NOTICE, Channel.DESK))
        await self._store.append(message, deliveries)
        self._on_enqueue(deliveries)
        return message

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

"""The outbox's small rules: retry timing, lanes, coalesced text, notices."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from routing.model import (
    Channel,
    Delivery,
    DeliveryKind,
    Direction,
    Message,
    new_id,
)
from routing.ports import ConversationLog

__all__ = [
    "IDEMPOTENT",
    "Lane",
    "RetryPolicy",
    "coalesce",
    "coalesced_text",
    "desk_notice",
    "lane_of",
    "utc_stamp",
    "worth_reporting",
]

# Live status lines for the patron; their failure is noise next to the reply's own.
STATUS_EVENTS = frozenset({"claimed", "reopened"})
Lane = tuple[str, str]  # (conversation id, destination)
# Destinations that show a message id once however often it is pushed: no crash note.
IDEMPOTENT = frozenset({Channel.WIDGET})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base: float = 1.0
    factor: float = 2.0
    cap: float = 300.0
    max_attempts: int = 12  # about half an hour of trying with the defaults
    rand: Callable[[], float] = random.random

    def delay(self, attempts: int, retry_after: float | None) -> float:
        """Seconds to wait before attempt ``attempts + 1``.

        A server's ``retry_after`` is obeyed exactly (waiting less earns another 429,
        waiting more wastes the budget); otherwise exponential backoff with jitter in
        [0.5, 1] of the ceiling, so a crowd of retries spreads out.
        """
        if retry_after is not None:
            return max(0.0, retry_after)
        exponent = min(max(0, attempts - 1), 64)  # the cap applies long before; no overflow
        ceiling = min(self.cap, self.base * self.factor**exponent)
        return ceiling * (0.5 + self.rand() / 2)


def utc_stamp(at: float) -> str:
    return time.strftime("%H:%M", time.gmtime(at))


def worth_reporting(delivery: Delivery, message: Message) -> bool:
    """Whether a delivery that failed for good earns a "Could not deliver" note in the topic.

    Not a desk notice (a broken desk would feed on its own reports), nor a status line
    to the patron such as "X is answering" (the reply it announces reports itself).
    """
    if delivery.kind is DeliveryKind.DESK_NOTICE:
        return False
    return not (delivery.kind is DeliveryKind.TO_PATRON
                and message.direction is Direction.SYSTEM and message.event in STATUS_EVENTS)


def lane_of(delivery: Delivery) -> Lane:
    return (delivery.conversation_id, delivery.destination.value)


async def coalesce(
    store: ConversationLog, lane: Sequence[Delivery], head: Message, room: int,
    stamp: Callable[[float], str], read: Mapping[str, Message] | None = None,
) -> tuple[Message, list[Delivery]]:
    """Join the patron messages queued behind ``lane[0]`` into one send (``read``: the
    messages the lane has already read, so they are not read again).

    Under a short budget (20 a minute into one group) a busy patron's messages pile up
    in their lane; one combined message, each part with its time, keeps the topic
    current instead of leaving it minutes behind a queue of single sends.
    """
    first = lane[0]
    if (first.kind is not DeliveryKind.TO_DESK or head.direction is not Direction.PATRON
            or head.attachments):
        return head, [first]  # files go as their own post: a caption cannot hold the queue
    parts, group = [head], [first]
    size = len(head.text)
    for follower in lane[1:]:
        if follower.kind is not DeliveryKind.TO_DESK:
            break
        message = (read or {}).get(follower.message_id)
        if message is None:
            message = await store.get_message(follower.message_id)
        if message is None or message.direction is not Direction.PATRON or message.attachments:
            break
        size += len(message.text) + 10
        if size > room:
            break
        parts.append(message)
        group.append(follower)
    if len(parts) == 1:
        return head, group
    return replace(head, text=coalesced_text(parts, stamp)), group


def coalesced_text(parts: Sequence[Message], stamp: Callable[[float], str]) -> str:
    """Queued patron messages as one post, each part with its time (and author, if any)."""
    return "\n\n".join(
        f"[{stamp(m.created_at)}] {m.author + ': ' if m.author else ''}{m.text}" for m in parts
    )


def desk_notice(conversation_id: str, text: str, now: float) -> tuple[Message, Delivery]:
    """A note for librarians only, and its outbox row into the conversation's topic."""
    notice = Message(
        id=new_id(),
        conversation_id=conversation_id,
        direction=Direction.NOTE,
        text=text,
        event="delivery_failed",
        created_at=now,
    )
    row = Delivery(
        id=new_id(),
        conversation_id=conversation_id,
        message_id=notice.id,
        kind=DeliveryKind.DESK_NOTICE,
        destination=Channel.DESK,
        idempotency_key=f"{notice.id}:desk",
        next_attempt_at=now,
        created_at=now,
    )
    return notice, row

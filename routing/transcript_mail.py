"""Queueing a conversation's transcript to the patron by email: where it may go, how
often, and the outbox row that carries it.

The transcript travels as an internal note (``event = "transcript"``): notes never reach
the widget or the desk, and the email sender sends this one, and only this kind, to the
patron. Only to an address the patron proved (a code they typed, or mail they sent from
it), so the dashboard or a visitor cannot mail a chat to a stranger; at most one a day
per conversation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

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
from routing.store_roles import ConversationLog, Directory

__all__ = ["TRANSCRIPT_EVENT", "TRANSCRIPT_GAP", "Compose", "TranscriptRefused",
           "confirmed_address", "queue_transcript", "sent_recently", "transcript_mail"]

TRANSCRIPT_EVENT = "transcript"
TRANSCRIPT_GAP = 86_400.0  # one transcript a conversation a day
# the copy's text from the conversation, its patron and every message (adapters/email)
Compose = Callable[[Conversation, Patron | None, Sequence[Message]], str]


class TranscriptRefused(ValueError):
    """Why a transcript cannot go: a sentence for staff or the patron, and a ``reason``
    a program can act on ("no_email": the widget offers the address confirmation)."""

    def __init__(self, sentence: str, reason: str = "") -> None:
        super().__init__(sentence)
        self.reason = reason


def confirmed_address(patron: Patron | None) -> str:
    """The address the patron proved they read, or "" when there is none."""
    if patron is None:
        return ""
    if patron.email and patron.email_confirmed:
        return patron.email
    for contact in patron.contacts:
        if contact.channel is Channel.EMAIL:  # they wrote from it
            return contact.address
    return ""


def sent_recently(history: Sequence[Message], now: float) -> bool:
    """Whether a transcript of this conversation went within the last day."""
    return any(m.event == TRANSCRIPT_EVENT and m.direction is Direction.NOTE
               and now - m.created_at < TRANSCRIPT_GAP for m in history)


def transcript_mail(conversation_id: str, text: str, by: str,
                    now: float) -> tuple[Message, Delivery]:
    """The note holding the transcript's text, and its outbox row to the patron's email."""
    note = Message(new_id(), conversation_id, Direction.NOTE, text, author=by,
                   event=TRANSCRIPT_EVENT, created_at=now)
    row = Delivery(new_id(), conversation_id, note.id, DeliveryKind.TO_PATRON, Channel.EMAIL,
                   f"{note.id}:transcript", next_attempt_at=now, created_at=now)
    return note, row


async def queue_transcript(log: ConversationLog, directory: Directory, conversation_id: str,
                           *, by: str, now: float, compose: Compose) -> str:
    """Queue the conversation's copy to its patron's confirmed address (one a day);
    returns the address. The caller wakes the outbox."""
    conversation = await log.get_conversation(conversation_id)
    if conversation is None:
        raise TranscriptRefused("no conversation has that id")
    patron = await directory.get_patron(conversation.patron_id)
    address = confirmed_address(patron)
    if not address:
        raise TranscriptRefused("the patron has no confirmed email address", "no_email")
    history: list[Message] = []
    while page := await log.history(conversation_id, history[-1].id if history else "", 500):
        history.extend(page)
    if sent_recently(history, now):
        raise TranscriptRefused("a copy of this conversation was emailed less than a day ago")
    note, row = transcript_mail(conversation_id, compose(conversation, patron, history), by,
                                now)
    await log.append(note, [row])
    return address

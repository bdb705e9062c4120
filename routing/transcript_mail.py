"""Queueing a conversation's transcript to the patron by email: where it may go, how
often, and the outbox row that carries it.

The transcript travels as an internal note (``event = "transcript"``): notes never reach
the widget or the desk, and the email sender sends this one, and only this kind, to the
patron. Only to an address the patron proved (a code they typed, or mail they sent from
it), so the dashboard or a visitor cannot mail a chat to a stranger; at most one a day
per conversation.
"""

from __future__ import annotations

from collections.abc import Sequence

from routing.model import (
    Channel,
    Delivery,
    DeliveryKind,
    Direction,
    Message,
    Patron,
    new_id,
)

__all__ = ["TRANSCRIPT_EVENT", "TRANSCRIPT_GAP", "confirmed_address", "sent_recently",
           "transcript_mail"]

TRANSCRIPT_EVENT = "transcript"
TRANSCRIPT_GAP = 86_400.0  # one transcript a conversation a day


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

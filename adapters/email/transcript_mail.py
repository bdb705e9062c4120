"""A conversation as plain text for the patron's own copy by email ("Email me this
chat", or a librarian sending it from the dashboard).

What the patron saw, in order, with the library's clock: their messages, the librarians'
answers (an edit in place of what it edits, a withdrawn answer left out), the system
lines, and each file by name and size. Internal notes are never in it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

from adapters.files import human_size
from routing.model import Conversation, Delivery, Direction, Message
from routing.ports import Clock
from routing.store_roles import ConversationLog, Directory
from routing.transcript_mail import confirmed_address, sent_recently, transcript_mail

__all__ = ["TranscriptRefused", "patron_request", "queue_transcript", "transcript_text"]


def _visible(messages: Sequence[Message]) -> list[Message]:
    """The patron's view: notes out, withdrawn answers out, an edit in its original's place."""
    withdrawn = {m.replaces for m in messages if m.event == "withdrawn"}
    edits = {m.replaces: m for m in messages if m.event == "edited" and m.replaces}
    shown = []
    for m in messages:
        if (m.direction is Direction.NOTE or m.id in withdrawn or m.event in (
                "withdrawn", "edited")):
            continue
        edit = edits.get(m.id)
        shown.append(replace(m, text=edit.text) if edit is not None else m)
    return shown


def _line(m: Message, tz: dt.tzinfo, patron_name: str) -> str:
    at = dt.datetime.fromtimestamp(m.created_at, tz).strftime("%Y-%m-%d %H:%M")
    if m.direction is Direction.SYSTEM:
        return f"[{at}] — {m.text or m.event}"
    who = (patron_name or "You") if m.direction is Direction.PATRON else (m.author or "Librarian")
    files = [f"  (file: {f.name}, {human_size(f.size)})" for f in m.attachments]
    return "\n".join([f"[{at}] {who}: {m.text}".rstrip(), *files])


def transcript_text(conversation: Conversation, messages: Sequence[Message], *,
                    library: str, timezone: dt.tzinfo, patron_name: str = "") -> str:
    """The whole transcript as the mail's text."""
    started = dt.datetime.fromtimestamp(conversation.created_at, timezone)
    head = (f"{library}: a copy of your conversation of {started:%Y-%m-%d}"
            f" ({started.tzname()}).")
    body = [_line(m, timezone, patron_name) for m in _visible(messages)]
    return "\n\n".join([head, *body]) if body else head


class TranscriptRefused(ValueError):
    """Why a transcript cannot go: a sentence for staff or the patron."""


async def queue_transcript(store: ConversationLog, directory: Directory,
                           conversation_id: str, *, by: str, now: float, library: str,
                           timezone: dt.tzinfo) -> str:
    """Queue the conversation's transcript to its patron's confirmed address (one a day);
    returns the address. The caller wakes the outbox."""
    conversation = await store.get_conversation(conversation_id)
    if conversation is None:
        raise TranscriptRefused("no conversation has that id")
    patron = await directory.get_patron(conversation.patron_id)
    address = confirmed_address(patron)
    if not address:
        raise TranscriptRefused("the patron has no confirmed email address")
    history: list[Message] = []
    while page := await store.history(conversation_id, history[-1].id if history else "", 500):
        history.extend(page)
    if sent_recently(history, now):
        raise TranscriptRefused("a copy of this conversation was emailed less than a day ago")
    text = transcript_text(conversation, history, library=library, timezone=timezone,
                           patron_name=patron.name if patron else "")
    await store.append(*_queued(transcript_mail(conversation_id, text, by, now)))
    return address


def _queued(pair: tuple[Message, Delivery]) -> tuple[Message, list[Delivery]]:
    return pair[0], [pair[1]]


def patron_request(store: Any, clock: Clock, wake: Callable[[], None], *, library: str,
                   timezone: dt.tzinfo) -> Callable[[str], Awaitable[str]]:
    """The widget's "Email me this chat" (``TranscriptHook``): queue, then wake the outbox."""
    async def request(conversation_id: str) -> str:
        address = await queue_transcript(store, store, conversation_id, by="patron (widget)",
                                         now=clock.now(), library=library, timezone=timezone)
        wake()
        return address

    return request

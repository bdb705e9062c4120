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

from adapters.files import human_size
from routing.model import Conversation, Direction, Message, Patron
from routing.ports import Clock
from routing.store_roles import ConversationLog, Directory
from routing.transcript_mail import Compose, queue_transcript

__all__ = ["composer", "patron_request", "transcript_text"]


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


def composer(*, library: str, timezone: dt.tzinfo) -> Compose:
    """``transcript_text`` for ``routing.transcript_mail.queue_transcript``."""
    def compose(conversation: Conversation, patron: Patron | None,
                messages: Sequence[Message]) -> str:
        return transcript_text(conversation, messages, library=library, timezone=timezone,
                               patron_name=patron.name if patron else "")

    return compose


def patron_request(log: ConversationLog, directory: Directory, clock: Clock,
                   wake: Callable[[], None], compose: Compose) -> Callable[[str], Awaitable[str]]:
    """The widget's "Email me this chat" (``TranscriptHook``): queue, then wake the outbox."""
    async def request(conversation_id: str) -> str:
        address = await queue_transcript(log, directory, conversation_id,
                                         by="patron (widget)", now=clock.now(), compose=compose)
        wake()
        return address

    return request

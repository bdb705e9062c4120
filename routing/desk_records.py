"""The desk's records of a conversation: notes, notices, tags, history, figures, its topic,
its patron's verified member number. None of it reaches the patron.

The topic and the member number are saved under the lock every other writer of that
record takes, so a claim or a patron's new address saved meanwhile is never overwritten.
"""

from __future__ import annotations

import re
from dataclasses import replace

from routing.conversation_log import ConversationLog
from routing.model import Conversation, Direction, Message, Patron, new_id
from routing.stats import DayStats, day_stats

__all__ = ["DeskRecords", "clean_tag"]

_TAG = re.compile(r"[^\w-]+")
_TRIES = 5  # a patron gaining contacts while we wait for their locks, again and again


def clean_tag(text: str) -> str:
    """"#Inter-Library Loan" -> "inter-library_loan"; "" when nothing is left."""
    return _TAG.sub("_", text.strip().lstrip("#").lower()).strip("_")[:32]


class DeskRecords:
    """``/note``, desk notices, ``/tag``, ``/history``, ``/stats``, ``/verify`` and the
    desk sender's topics (``routing.ports.DeskTopics``)."""

    def __init__(self, log: ConversationLog) -> None:
        self._log = log
        self._store = log.store

    async def note(
        self, conversation_id: str, librarian_name: str, text: str, external_id: str = ""
    ) -> Message | None:
        """``/note``: kept in the log for librarians; never delivered anywhere."""
        text = text.strip()
        if not text or await self._store.get_conversation(conversation_id) is None:
            return None
        message = Message(
            id=new_id(), conversation_id=conversation_id, direction=Direction.NOTE,
            text=text, author=librarian_name, event="note",
            client_id=f"desk:{external_id}" if external_id else "",
            external_id=external_id, created_at=self._log.clock.now(),
        )
        stored, _ = await self._log.write(message, [])
        return stored

    async def notify_desk(self, conversation_id: str, text: str, event: str = "") -> None:
        """A line for the conversation's topic only (bounces, an unreachable patron,
        reminders, command answers); no patron path can show it."""
        await self._log.notice(conversation_id, text, event)

    async def tag(self, conversation_id: str, tag: str) -> Conversation | None:
        """Add a tag (for the reports); a tag already there is kept once."""
        name = clean_tag(tag)
        if not name:
            return None
        async with self._log.lock(conversation_id):
            conversation = await self._store.get_conversation(conversation_id)
            if conversation is None:
                return None
            if name in conversation.tags:
                return conversation
            tagged = replace(conversation, tags=(*conversation.tags, name),
                             updated_at=self._log.clock.now())
            await self._store.save_conversation(tagged)
            return tagged

    async def history(self, conversation_id: str, limit: int = 10) -> list[Conversation]:
        """The patron's other conversations, newest first."""
        conversation = await self._store.get_conversation(conversation_id)
        if conversation is None:
            return []
        earlier = await self._store.patron_conversations(conversation.patron_id, limit + 1)
        return [c for c in earlier if c.id != conversation_id][:limit]

    async def stats(self, start: float, end: float) -> DayStats:
        """``/stats`` for conversations opened in ``[start, end)``."""
        return day_stats(await self._store.conversations_since(start), start, end)

    async def keep_topic(self, conversation_id: str, thread: int | None) -> None:
        """``routing.ports.DeskTopics``: the desk sender opened ``thread`` for this
        conversation (or found its topic deleted: None). Saved at once, so a librarian
        answering the topic's first post finds the conversation, and a retry posts there."""
        async with self._log.lock(conversation_id):
            conversation = await self._store.get_conversation(conversation_id)
            if conversation is not None and conversation.desk_thread != thread:
                await self._store.save_conversation(replace(conversation, desk_thread=thread))

    async def remember_member(self, conversation_id: str, number: str) -> Patron | None:
        """``/verify``: keep the member number the directory confirmed on the
        conversation's patron. None when there is no such patron."""
        conversation = await self._store.get_conversation(conversation_id)
        if conversation is None:
            return None
        for _ in range(_TRIES):
            patron = await self._store.get_patron(conversation.patron_id)
            if patron is None:
                return None
            async with self._log.locks(patron.contacts):
                fresh = await self._store.get_patron(patron.id)
                if fresh is None:
                    return None
                if set(fresh.contacts) <= set(patron.contacts):  # every writer is held
                    if fresh.member_number != number:
                        fresh = replace(fresh, member_number=number)
                        await self._store.save_patron(fresh)
                    return fresh
        raise RuntimeError(f"patron {conversation.patron_id} kept changing; not saved")

"""What the desk writes on records the router guards: a conversation's topic, a patron's
verified member number. Each is saved under the lock every other writer of that record
takes, so a claim or a patron's new address saved meanwhile is never overwritten.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace

from routing.model import Patron
from routing.router_base import RouterBase

__all__ = ["DeskRecords"]

_TRIES = 5  # a patron gaining contacts while we wait for their locks, again and again


class DeskRecords(RouterBase):
    async def keep_topic(self, conversation_id: str, thread: int | None) -> None:
        """``routing.ports.DeskTopics``: the desk sender opened ``thread`` for this
        conversation (or found its topic deleted: None). Saved at once, so a librarian
        answering the topic's first post finds the conversation, and a retry posts there."""
        async with self._lock(conversation_id):
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
            async with self._patron_locks(patron.contacts):
                fresh = await self._store.get_patron(patron.id)
                if fresh is None:
                    return None
                if set(fresh.contacts) <= set(patron.contacts):  # every writer is held
                    if fresh.member_number != number:
                        fresh = replace(fresh, member_number=number)
                        await self._store.save_patron(fresh)
                    return fresh
        raise RuntimeError(f"patron {conversation.patron_id} kept changing; not saved")

    @asynccontextmanager
    async def _patron_locks(self, keys: Iterable[object]) -> AsyncIterator[None]:
        """The locks a patron's writers take (one per contact they came by), in one
        order: nobody else holds two at once, so this cannot deadlock."""
        locks = {id(lock): lock for lock in map(self._lock, keys)}
        async with AsyncExitStack() as stack:
            for lock in sorted(locks.values(), key=self._locks.index):
                await stack.enter_async_context(lock)
            yield

"""The write-through cache in front of SQLite for patrons and conversations.

One process owns the SQLite file, so after a commit the cache is told what was written
and never goes stale. The router asks "who is this contact, and what is their newest
conversation?" for every message; with 20,000 visitors those answers come from here.

A read that missed the cache may only fill it if no write of that kind committed while
the read was in flight (``Generation``): otherwise an old row read just before a commit
could land in the cache after the commit's fresh one.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

from routing.model import Contact, Conversation, Patron

__all__ = ["MISSING", "Lru", "Missing", "RecordCache"]

K = TypeVar("K")
V = TypeVar("V")


class Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING = Missing()  # "not cached", as opposed to a cached None ("known not to exist")


class Lru(Generic[K, V]):
    """A bounded mapping that forgets the least recently used key first."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("cache size must be at least 1")
        self._size = size
        self._data: OrderedDict[K, V] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: K) -> V | Missing:
        try:
            value = self._data[key]
        except KeyError:
            return MISSING
        self._data.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        if len(self._data) > self._size:
            self._data.popitem(last=False)

    def pop(self, key: K) -> None:
        self._data.pop(key, None)


LatestKey = tuple[float, str]  # (created_at, id) of a patron's newest conversation


class RecordCache:
    """What the store knows without asking SQLite. Every method runs on the event loop."""

    def __init__(self, size: int) -> None:
        self.patrons: Lru[str, Patron | None] = Lru(size)
        self.contacts: Lru[Contact, str | None] = Lru(size)  # contact -> patron id
        self.conversations: Lru[str, Conversation | None] = Lru(size)
        self.latest: Lru[str, LatestKey | None] = Lru(size)  # patron id -> newest
        self.patron_generation = 0
        self.conversation_generation = 0

    # -- after a commit ----------------------------------------------------------------

    def patron_saved(self, patron: Patron, *, created: bool = False) -> None:
        """``created``: the commit inserted the patron, so it has no conversation yet."""
        self.patrons.put(patron.id, patron)
        if created and isinstance(self.latest.get(patron.id), Missing):
            self.latest.put(patron.id, None)
        for contact in patron.contacts:
            self.contacts.put(contact, patron.id)
        # A contact the patron no longer has may still point here; lookups check
        # the patron's contacts before trusting it (see SqliteStore.patron_by_contact).
        self.patron_generation += 1

    def conversation_saved(self, conversation: Conversation) -> None:
        self.conversations.put(conversation.id, conversation)
        known = self.latest.get(conversation.patron_id)
        mine = (conversation.created_at, conversation.id)
        if known is None or (not isinstance(known, Missing) and mine >= known):
            self.latest.put(conversation.patron_id, mine)
        elif not isinstance(known, Missing) and known[1] == conversation.id:
            self.latest.pop(conversation.patron_id)  # it moved back in time: ask again
        self.conversation_generation += 1

    # -- after a read that missed --------------------------------------------------------

    def patron_read(self, generation: int, contact: Contact | None, patron: Patron | None,
                    patron_id: str = "") -> None:
        if generation != self.patron_generation:
            return
        if patron is not None:
            self.patrons.put(patron.id, patron)
            for known in patron.contacts:
                self.contacts.put(known, patron.id)
        elif patron_id:
            self.patrons.put(patron_id, None)
        if contact is not None and patron is None:
            self.contacts.put(contact, None)

    def conversation_read(self, generation: int, conversation: Conversation | None,
                          conversation_id: str = "") -> None:
        if generation != self.conversation_generation:
            return
        if conversation is not None:
            self.conversations.put(conversation.id, conversation)
        elif conversation_id:
            self.conversations.put(conversation_id, None)

    def latest_read(self, generation: int, patron_id: str,
                    conversation: Conversation | None) -> None:
        if generation != self.conversation_generation:
            return
        if conversation is None:
            self.latest.put(patron_id, None)
            return
        self.latest.put(patron_id, (conversation.created_at, conversation.id))
        self.conversations.put(conversation.id, conversation)

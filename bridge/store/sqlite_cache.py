"""The write-through cache in front of SQLite for patrons and conversations.

One process owns the SQLite file, so after a commit the cache is told what was written
and never goes stale. The router asks "who is this contact, and what is their newest
conversation?" for every message; with 20,000 visitors those answers come from here.

A read that missed the cache may only fill it if no commit changed one of its keys (the
contact or patron id, the conversation or patron id it asked for or found) while the read
was in flight: otherwise an old row read just before a commit could land in the cache
after the commit's fresh one. Commits of other patrons do not count: under a crowd of new
visitors some patron is saved during almost every read, and a read thrown away is asked
again (``Changes``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Generic, TypeVar

from routing.model import Block, BlockKind, Contact, Conversation, Patron

__all__ = ["MISSING", "BlockTable", "Lru", "Missing", "RecordCache"]

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


class Changes:
    """The generation at which each key was last written, for the most recent ``size``
    keys; a key forgotten counts as written at the newest generation forgotten."""

    def __init__(self, size: int) -> None:
        self._at: OrderedDict[object, int] = OrderedDict()
        self._size = size
        self._floor = 0

    def wrote(self, generation: int, keys: Iterable[object]) -> None:
        for key in keys:
            self._at[key] = generation
            self._at.move_to_end(key)
        while len(self._at) > self._size:
            self._floor = max(self._floor, self._at.popitem(last=False)[1])

    def everything(self, generation: int) -> None:
        """Count every key as written at ``generation`` (a deletion of many rows)."""
        self._floor = max(self._floor, generation)

    def quiet_since(self, generation: int, keys: Iterable[object]) -> bool:
        """Whether none of ``keys`` was written after ``generation``."""
        at = self._at.get
        return self._floor <= generation and all(at(key, 0) <= generation for key in keys)


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
        self._patron_changes = Changes(size)
        self._conversation_changes = Changes(size)

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
        self._patron_changes.wrote(self.patron_generation, (patron.id, *patron.contacts))

    def conversation_saved(self, conversation: Conversation) -> None:
        self.conversations.put(conversation.id, conversation)
        known = self.latest.get(conversation.patron_id)
        mine = (conversation.created_at, conversation.id)
        if known is None or (not isinstance(known, Missing) and mine >= known):
            self.latest.put(conversation.patron_id, mine)
        elif not isinstance(known, Missing) and known[1] == conversation.id:
            self.latest.pop(conversation.patron_id)  # it moved back in time: ask again
        self.conversation_generation += 1
        self._conversation_changes.wrote(self.conversation_generation,
                                         (conversation.id, conversation.patron_id))

    def everything_changed(self) -> None:
        """No read in flight may fill the cache (a patron and their rows were erased)."""
        self.patron_generation += 1
        self.conversation_generation += 1
        self._patron_changes.everything(self.patron_generation)
        self._conversation_changes.everything(self.conversation_generation)

    # -- after a read that missed --------------------------------------------------------

    def patron_quiet_since(self, generation: int, keys: Iterable[object]) -> bool:
        """Whether no patron or contact of ``keys`` was written after ``generation``."""
        return self._patron_changes.quiet_since(generation, keys)

    def patron_read(self, generation: int, contact: Contact | None, patron: Patron | None,
                    patron_id: str = "") -> None:
        keys: list[object] = [patron_id, contact]
        if patron is not None:
            keys += [patron.id, *patron.contacts]
        if not self._patron_changes.quiet_since(generation, keys):
            return
        if patron is not None:
            self.patrons.put(patron.id, patron)
            for known in patron.contacts:
                self.contacts.put(known, patron.id)
        elif patron_id:
            self.patrons.put(patron_id, None)
        if contact is not None and patron is None:
            self.contacts.put(contact, None)

    def contact_made(self, contact: Contact) -> None:
        """``contact`` was made here just now: nobody has it. Only a contact the cache
        knows nothing of is marked, as a read that found nobody would mark it."""
        if isinstance(self.contacts.get(contact), Missing):
            self.patron_read(self.patron_generation, contact, None)

    def conversation_read(self, generation: int, conversation: Conversation | None,
                          conversation_id: str = "") -> None:
        keys = (conversation_id, conversation.id if conversation is not None else "")
        if not self._conversation_changes.quiet_since(generation, keys):
            return
        if conversation is not None:
            self.conversations.put(conversation.id, conversation)
        elif conversation_id:
            self.conversations.put(conversation_id, None)

    def latest_read(self, generation: int, patron_id: str,
                    conversation: Conversation | None) -> None:
        keys = (patron_id, conversation.id if conversation is not None else "")
        if not self._conversation_changes.quiet_since(generation, keys):
            return
        if conversation is None:
            self.latest.put(patron_id, None)
            return
        self.latest.put(patron_id, (conversation.created_at, conversation.id))
        self.conversations.put(conversation.id, conversation)


class BlockTable:
    """Every block, in the order they were first saved, and an index by ``(kind, value)``
    so a patron's message looks up its few keys instead of walking every block. Both are
    changed together (``put``, ``pop``); an expired block stays until removed and is
    passed over by ``find`` (``Block.active``)."""

    def __init__(self, blocks: Iterable[Block] = ()) -> None:
        self.by_id: dict[str, Block] = {}
        self._by_key: dict[tuple[BlockKind, str], dict[str, Block]] = {}
        self._position: dict[str, int] = {}  # id -> order of first save, as ``by_id``'s
        self._saved = 0
        for block in blocks:
            self.put(block)

    def put(self, block: Block) -> None:
        old = self.by_id.get(block.id)
        if old is not None:
            self._unindex(old)
        else:
            self._position[block.id] = self._saved
            self._saved += 1
        self.by_id[block.id] = block
        self._by_key.setdefault((block.kind, block.value), {})[block.id] = block

    def pop(self, block_id: str) -> None:
        old = self.by_id.pop(block_id, None)
        if old is not None:
            self._unindex(old)
            del self._position[block_id]

    def _unindex(self, block: Block) -> None:
        key = (block.kind, block.value)
        same = self._by_key[key]
        del same[block.id]
        if not same:
            del self._by_key[key]

    def find(self, keys: Sequence[tuple[BlockKind, str]], now: float) -> Block | None:
        """The first saved block in force that matches one of ``keys``, as a walk over
        ``by_id`` would find it."""
        if not self._by_key:  # nobody blocked: the usual case
            return None
        found: Block | None = None
        for key in keys:
            same = self._by_key.get(key)
            for block in same.values() if same is not None else ():
                if block.active(now) and (
                        found is None or self._position[block.id] < self._position[found.id]):
                    found = block
        return found

"""What the in-memory store's roles share: the dicts, and how a call behaves."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from routing.model import (
    Block,
    Contact,
    Conversation,
    Delivery,
    Librarian,
    Message,
    Patron,
)
from routing.ports import ContactState, DeskCard, Link, MailThread

__all__ = ["FakeStoreBase", "Pause"]

_PAUSABLE = frozenset({"patron_by_contact", "get_conversation", "get_patron",
                       "due_deliveries"})


@dataclass
class Pause:
    """Holds one store call after it has done its work, until released."""

    reached: asyncio.Event = field(default_factory=asyncio.Event)
    go: asyncio.Event = field(default_factory=asyncio.Event)

    def release(self) -> None:
        self.go.set()


class FakeStoreBase:
    """The dicts every role of the fake keeps (public, for tests to inspect), and how a
    call behaves: it yields to the loop, may be paused, and needs an open store."""

    def __init__(self) -> None:
        self.patrons: dict[str, Patron] = {}
        self.conversations_by_id: dict[str, Conversation] = {}
        self.messages: dict[str, Message] = {}
        self.deliveries: dict[str, Delivery] = {}  # insertion order = enqueue order
        self.links: dict[tuple[str, str], Link] = {}
        self.state: dict[str, str] = {}
        self.cards: dict[str, DeskCard] = {}
        self.threads: dict[str, MailThread] = {}
        self.posts: dict[tuple[str, str], str] = {}
        self.contact_states: dict[Contact, ContactState] = {}
        self.blocks: dict[str, Block] = {}
        self.librarians: dict[str, Librarian] = {}
        self.references: dict[str, Any] = {}  # conversation id -> ReferenceMark
        self.new_contacts: list[Contact] = []  # told of by ``new_contact``, in order
        self.closed = False
        self._pauses: dict[str, Pause] = {}

    def pause_after(self, method: str) -> Pause:
        """Hold the next call of a read ``method`` after it has read, before it returns.

        This is the moment a real store's answer is already stale while other tasks run.
        """
        if method not in _PAUSABLE:
            raise ValueError(f"{method} cannot be paused; only {sorted(_PAUSABLE)}")
        pause = Pause()
        self._pauses[method] = pause
        return pause

    async def _io(self) -> None:
        if self.closed:
            raise RuntimeError("store is closed")
        await asyncio.sleep(0)

    async def _done(self, method: str) -> None:
        pause = self._pauses.pop(method, None)
        if pause is not None:
            pause.reached.set()
            await pause.go.wait()

    # -- inspection helpers (not part of the port) -------------------------------------

    def history_of(self, conversation_id: str) -> list[Message]:
        return sorted(
            (m for m in self.messages.values() if m.conversation_id == conversation_id),
            key=lambda m: m.id,
        )

    def deliveries_of(self, message_id: str) -> list[Delivery]:
        return [d for d in self.deliveries.values() if d.message_id == message_id]

    # -- the port ----------------------------------------------------------------------

    async def open(self) -> None:
        self.closed = False

    async def close(self) -> None:
        self.closed = True

    def _owned(self, records: Collection[str], key: str, what: str) -> None:
        """Refuse a record whose owner is missing, as SQLite's foreign keys do."""
        if key not in records:
            raise ValueError(f"refused by the store: no {what} {key!r}")

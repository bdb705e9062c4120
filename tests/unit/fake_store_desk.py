"""The in-memory store's links, cursors, desk state, contact state, blocks and
librarians (``routing.ports`` roles), on the dicts of ``FakeStoreBase``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from routing.model import Block, BlockKind, Contact, Librarian
from routing.ports import ContactState, DeskCard, Link, MailThread
from routing.report_roles import ReferenceMark
from tests.unit.fake_store_base import FakeStoreBase

__all__ = ["FakeDeskRecords"]


class FakeDeskRecords(FakeStoreBase):
    async def save_link(self, link: Link) -> None:
        await self._io()
        self._owned(self.conversations_by_id.keys(), link.conversation_id, "conversation")
        self.links[(link.channel, link.external_id)] = link

    async def find_link(self, channel: str, external_id: str) -> Link | None:
        await self._io()
        return self.links.get((channel, external_id))

    async def get_state(self, key: str) -> str | None:
        await self._io()
        return self.state.get(key)

    async def set_state(self, key: str, value: str) -> None:
        await self._io()
        self.state[key] = value

    # -- desk state: each record needs its owner, as the SQLite foreign keys do ------

    async def desk_card(self, conversation_id: str) -> DeskCard | None:
        await self._io()
        return self.cards.get(conversation_id)

    async def save_desk_card(self, conversation_id: str, card: DeskCard) -> None:
        await self._io()
        self._owned(self.conversations_by_id.keys(), conversation_id, "conversation")
        self.cards[conversation_id] = card

    async def mail_thread(self, conversation_id: str) -> MailThread | None:
        await self._io()
        return self.threads.get(conversation_id)

    async def save_mail_thread(self, conversation_id: str, thread: MailThread) -> None:
        await self._io()
        self._owned(self.conversations_by_id.keys(), conversation_id, "conversation")
        self.threads[conversation_id] = thread

    async def posted(self, message_id: str, place: str) -> str | None:
        await self._io()
        return self.posts.get((message_id, place))

    async def save_posted(self, message_id: str, place: str, posted: str) -> None:
        await self._io()
        self._owned(self.messages.keys(), message_id, "message")
        self.posts[(message_id, place)] = posted

    async def contact_state(self, contact: Contact) -> ContactState | None:
        await self._io()
        return self.contact_states.get(contact)

    async def save_contact_state(self, contact: Contact, state: ContactState) -> None:
        await self._io()
        self.contact_states[contact] = state

    async def save_block(self, block: Block) -> None:
        await self._io()
        self.blocks[block.id] = block

    async def remove_block(self, block_id: str) -> None:
        await self._io()
        self.blocks.pop(block_id, None)

    async def find_block(
        self, keys: Sequence[tuple[BlockKind, str]], now: float
    ) -> Block | None:
        await self._io()
        wanted = set(keys)
        return next((b for b in self.blocks.values()
                     if (b.kind, b.value) in wanted and b.active(now)), None)

    async def active_blocks(self, now: float) -> list[Block]:
        await self._io()
        return sorted((b for b in self.blocks.values() if b.active(now)),
                      key=lambda b: (b.created_at, b.id))

    async def save_librarian(self, librarian: Librarian) -> None:
        await self._io()
        self.librarians[librarian.id] = replace(librarian,
                                                username=librarian.username.lower())

    async def get_librarian(self, librarian_id: str) -> Librarian | None:
        await self._io()
        return self.librarians.get(librarian_id)

    async def librarian_by_username(self, username: str) -> Librarian | None:
        await self._io()
        name = username.lstrip("@").lower()
        return next((lib for lib in self.librarians.values() if name and lib.username == name),
                    None)

    async def librarians_on_duty(self) -> list[Librarian]:
        await self._io()
        return sorted((lib for lib in self.librarians.values() if lib.on_duty),
                      key=lambda lib: (lib.changed_at, lib.id))

    async def save_reference(
        self, conversation_id: str, mark: ReferenceMark, librarian_id: str, at: float
    ) -> None:
        await self._io()
        self._owned(self.conversations_by_id.keys(), conversation_id, "conversation")
        self.references[conversation_id] = mark

    async def reference_of(self, conversation_id: str) -> ReferenceMark | None:
        await self._io()
        return self.references.get(conversation_id)

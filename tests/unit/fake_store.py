"""The in-memory store: every role of ``routing.ports`` in dicts.

``FakeStore`` keeps the promises the roles write down and runs every contract suite
(tests/unit/test_fake_store.py): append is idempotent on (conversation, client_id),
deliveries come in enqueue order and keep lane order, desk state needs its owner. It
yields to the event loop on every call, as real I/O does, so races in the core can
show up here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace

from routing.model import (
    Block,
    BlockKind,
    Channel,
    Contact,
    Conversation,
    Delivery,
    DeliveryKind,
    DeliveryState,
    Direction,
    Librarian,
    Message,
    Patron,
    Status,
)
from routing.ports import ContactState, DeskCard, Link, MailThread
from routing.reminders import Waiting

__all__ = ["FakeStore", "Pause"]


_PAUSABLE = frozenset({"patron_by_contact", "get_conversation", "due_deliveries"})


@dataclass
class Pause:
    """Holds one store call after it has done its work, until released."""

    reached: asyncio.Event = field(default_factory=asyncio.Event)
    go: asyncio.Event = field(default_factory=asyncio.Event)

    def release(self) -> None:
        self.go.set()


class FakeStore:
    """A ``routing.ports.Store`` in dicts. Public dicts are for tests to inspect."""

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

    async def get_patron(self, patron_id: str) -> Patron | None:
        await self._io()
        return self.patrons.get(patron_id)

    async def get_patrons(self, patron_ids: Collection[str]) -> dict[str, Patron]:
        await self._io()
        return {i: self.patrons[i] for i in patron_ids if i in self.patrons}

    async def patron_by_contact(self, contact: Contact) -> Patron | None:
        await self._io()
        found = next((p for p in self.patrons.values() if contact in p.contacts), None)
        await self._done("patron_by_contact")
        return found

    async def save_patron(self, patron: Patron) -> None:
        await self._io()
        self.patrons[patron.id] = patron

    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        await self._io()
        found = self.conversations_by_id.get(conversation_id)
        await self._done("get_conversation")
        return found

    async def get_conversations(
        self, conversation_ids: Collection[str]
    ) -> dict[str, Conversation]:
        await self._io()
        known = self.conversations_by_id
        return {i: known[i] for i in conversation_ids if i in known}

    async def latest_conversation(self, patron_id: str) -> Conversation | None:
        await self._io()
        # Stable sort: equal created_at (a frozen FakeClock) keeps creation order.
        mine = [c for c in self.conversations_by_id.values() if c.patron_id == patron_id]
        return sorted(mine, key=lambda c: c.created_at)[-1] if mine else None

    async def conversation_by_thread(self, desk_thread: int) -> Conversation | None:
        await self._io()
        found = [c for c in self.conversations_by_id.values() if c.desk_thread == desk_thread]
        return found[-1] if found else None

    async def save_conversation(self, conversation: Conversation) -> None:
        await self._io()
        self._owned(self.patrons.keys(), conversation.patron_id, "patron")
        self.conversations_by_id[conversation.id] = conversation

    async def append(
        self, message: Message, deliveries: Sequence[Delivery]
    ) -> tuple[Message, bool]:
        await self._io()
        if message.client_id:
            for existing in self.messages.values():
                if (existing.conversation_id, existing.client_id) == (
                    message.conversation_id, message.client_id
                ):
                    return existing, False
        if message.id in self.messages:
            raise ValueError(f"message id {message.id} already stored")
        self._owned(self.conversations_by_id.keys(), message.conversation_id, "conversation")
        keys = {d.idempotency_key for d in self.deliveries.values()}
        for delivery in deliveries:
            if delivery.id in self.deliveries or delivery.idempotency_key in keys:
                raise ValueError(f"delivery {delivery.idempotency_key} already stored")
            keys.add(delivery.idempotency_key)
        self.messages[message.id] = message
        for delivery in deliveries:
            self.deliveries[delivery.id] = delivery
        return message, True

    async def get_message(self, message_id: str) -> Message | None:
        await self._io()
        return self.messages.get(message_id)

    async def history(
        self, conversation_id: str, after: str = "", limit: int = 500
    ) -> list[Message]:
        await self._io()
        return [m for m in self.history_of(conversation_id) if m.id > after][:limit]

    async def due_deliveries(self, now: float, limit: int) -> list[Delivery]:
        await self._io()
        pending = [d for d in self.deliveries.values() if d.state is DeliveryState.PENDING]
        waiting: set[tuple[str, str]] = set()
        due: list[Delivery] = []
        missed: list[Delivery] = []
        for delivery in pending:  # enqueue order, as SQLite's ids give it
            lane = (delivery.conversation_id, delivery.destination.value)
            if lane in waiting:
                continue
            if delivery.next_attempt_at > now:
                waiting.add(lane)  # everything younger in this lane waits behind it
                continue
            if len(due) < limit:
                due.append(delivery)
            else:
                missed.append(delivery)
        # A full batch brings the first rows of the lanes it left out (as the store does).
        batch = {(d.conversation_id, d.destination.value) for d in due}
        due += [d for d in missed if (d.conversation_id, d.destination.value) not in batch]
        await self._done("due_deliveries")
        return due

    async def get_messages(self, message_ids: Sequence[str]) -> dict[str, Message]:
        await self._io()
        return {i: self.messages[i] for i in message_ids if i in self.messages}

    async def lane_deliveries(
        self, lanes: Collection[tuple[str, str]], now: float, limit: int
    ) -> list[Delivery]:
        await self._io()
        found: list[Delivery] = []
        for conversation_id, destination in dict.fromkeys(lanes):
            lane: list[Delivery] = []
            for delivery in self.deliveries.values():  # enqueue order, as due_deliveries
                if (delivery.state is not DeliveryState.PENDING
                        or delivery.conversation_id != conversation_id
                        or delivery.destination.value != destination):
                    continue
                if delivery.next_attempt_at > now or len(lane) >= limit:
                    break
                lane.append(delivery)
            found += lane
        return found

    async def finish_delivery(
        self, delivery_id: str, external_id: str, link: Link | None = None
    ) -> None:
        await self._io()
        self.deliveries[delivery_id] = replace(
            self.deliveries[delivery_id], state=DeliveryState.DONE, external_id=external_id
        )
        if link is not None:
            self.links[(link.channel, link.external_id)] = link

    async def retry_delivery(
        self, delivery_id: str, attempts: int, next_attempt_at: float, error: str
    ) -> None:
        await self._io()
        self.deliveries[delivery_id] = replace(
            self.deliveries[delivery_id],
            attempts=attempts,
            next_attempt_at=next_attempt_at,
            last_error=error,
        )

    async def fail_delivery(self, delivery_id: str, attempts: int, error: str) -> None:
        await self._io()
        self.deliveries[delivery_id] = replace(
            self.deliveries[delivery_id],
            state=DeliveryState.FAILED,
            attempts=attempts,
            last_error=error,
        )

    async def pending_deliveries(self) -> int:
        await self._io()
        return sum(d.state is DeliveryState.PENDING for d in self.deliveries.values())

    async def get_delivery(self, delivery_id: str) -> Delivery | None:
        await self._io()
        return self.deliveries.get(delivery_id)

    async def delivery_counts(self) -> dict[str, int]:
        await self._io()
        counts = {state.value: 0 for state in DeliveryState}
        for delivery in self.deliveries.values():
            counts[delivery.state.value] += 1
        return counts

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

    def _owned(self, records: Collection[str], key: str, what: str) -> None:
        if key not in records:
            raise ValueError(f"refused by the store: no {what} {key!r}")

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

    async def patron_conversations(self, patron_id: str, limit: int = 20) -> list[Conversation]:
        await self._io()
        mine = [c for c in self.conversations_by_id.values() if c.patron_id == patron_id]
        return sorted(mine, key=lambda c: (c.created_at, c.id), reverse=True)[:limit]

    async def conversations_since(self, since: float, limit: int = 10_000) -> list[Conversation]:
        await self._io()
        found = [c for c in self.conversations_by_id.values() if c.created_at >= since]
        return sorted(found, key=lambda c: (c.created_at, c.id))[:limit]

    async def conversations(self, limit: int = 100, offset: int = 0) -> list[Conversation]:
        await self._io()
        newest = sorted(self.conversations_by_id.values(), key=lambda c: (c.created_at, c.id),
                        reverse=True)
        return newest[offset:offset + limit]

    async def waiting(self) -> list[Waiting]:
        await self._io()
        found = [self._waiting(c.id) for c in self.conversations_by_id.values()
                 if c.status is Status.OPEN]
        return sorted((w for w in found if w is not None), key=lambda w: w.conversation_id)

    def _waiting(self, conversation_id: str) -> Waiting | None:
        lines = self.history_of(conversation_id)
        after = max((m.id for m in lines if m.direction is Direction.LIBRARIAN), default="")
        since = [m for m in lines if m.id > after]
        asking = [m.created_at for m in since if m.direction is Direction.PATRON]
        if not asking:
            return None
        reminders = [m.created_at for m in since
                     if m.direction is Direction.NOTE and m.event == "reminder"]
        queued = any(d.state is DeliveryState.PENDING and d.conversation_id == conversation_id
                     and d.destination is Channel.DESK and d.kind is DeliveryKind.TO_DESK
                     for d in self.deliveries.values())
        return Waiting(conversation_id, min(asking), len(reminders),
                       max(reminders, default=None), not queued)

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

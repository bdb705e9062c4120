"""The in-memory store: every role of ``routing.ports`` in dicts.

``FakeStore`` keeps the promises the roles write down and runs every contract suite
(tests/unit/test_fake_store.py): append is idempotent on (conversation, client_id),
deliveries come in enqueue order and keep lane order, desk state needs its owner. It
yields to the event loop on every call, as real I/O does, so races in the core can
show up here.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace

from routing.model import (
    Channel,
    Contact,
    Conversation,
    Delivery,
    DeliveryKind,
    DeliveryState,
    Direction,
    Message,
    Patron,
    Status,
)
from routing.ports import Link
from routing.reminders import Waiting
from tests.unit.fake_store_base import Pause
from tests.unit.fake_store_desk import FakeDeskRecords

__all__ = ["FakeStore", "Pause"]


class FakeStore(FakeDeskRecords):
    """A ``routing.ports.Store`` in dicts. Public dicts are for tests to inspect."""

    async def get_patron(self, patron_id: str) -> Patron | None:
        await self._io()
        found = self.patrons.get(patron_id)
        await self._done("get_patron")
        return found

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

    def new_contact(self, contact: Contact) -> None:
        self.new_contacts.append(contact)  # the fake reads nothing, so only records it

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

    async def append_first(
        self, patron: Patron, conversation: Conversation, message: Message,
        deliveries: Sequence[Delivery],
    ) -> tuple[Message, bool]:
        # Each step runs only once the one before it succeeded, and a failed step takes
        # back what the steps before it stored: all of it or none of it, as one commit.
        before = self.patrons.get(patron.id)
        await self.save_patron(patron)
        try:
            await self.save_conversation(conversation)
            try:
                return await self.append(message, deliveries)
            except BaseException:
                self.conversations_by_id.pop(conversation.id, None)
                raise
        except BaseException:
            if before is None:
                self.patrons.pop(patron.id, None)
            else:
                self.patrons[patron.id] = before
            raise

    async def get_message(self, message_id: str) -> Message | None:
        await self._io()
        return self.messages.get(message_id)

    async def history(
        self, conversation_id: str, after: str = "", limit: int = 500
    ) -> list[Message]:
        await self._io()
        return [m for m in self.history_of(conversation_id) if m.id > after][:limit]

    async def due_deliveries(self, now: float, limit: int, skip: Collection[str] = (),
                             busy: Collection[tuple[str, str]] = ()) -> list[Delivery]:
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
        return [d for d in due if d.destination.value not in skip  # after the page, as SQLite
                or self._known(d.conversation_id)]

    def _known(self, conversation_id: str) -> bool:
        """The desk knows it (a topic, or an answer): its rows are never skipped."""
        conversation = self.conversations_by_id.get(conversation_id)
        return conversation is not None and (conversation.desk_thread is not None
                                             or conversation.first_response_at > 0)

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

"""In-memory stand-ins for the ports: a store, a clock and senders that record.

``FakeStore`` keeps the promises ``routing.ports.Store`` writes down (append is
idempotent on (conversation, client_id); due deliveries keep lane order) and yields to
the event loop on every call, as real I/O does, so races in the core can show up here.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field, replace

from routing.model import (
    Block,
    BlockKind,
    Contact,
    Conversation,
    Delivery,
    DeliveryState,
    Librarian,
    Message,
    Patron,
)
from routing.ports import DeskTopics, Link, PermanentFailure, Sent, TemporaryFailure

__all__ = [
    "FakeClock",
    "FakeStore",
    "Pause",
    "RecordingSender",
    "SendCall",
    "eventually",
    "settle",
]


async def settle(rounds: int = 50) -> None:
    """Let every runnable task take its next steps."""
    for _ in range(rounds):
        await asyncio.sleep(0)


async def eventually(predicate: Callable[[], bool], rounds: int = 2000) -> None:
    """Yield to the loop until ``predicate`` holds; fail loudly instead of hanging."""
    for _ in range(rounds):
        if predicate():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never became true")


_PAUSABLE = frozenset({"patron_by_contact", "get_conversation", "get_patron",
                       "due_deliveries"})


class FakeClock:
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds


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
        self.conversations: dict[str, Conversation] = {}
        self.messages: dict[str, Message] = {}
        self.deliveries: dict[str, Delivery] = {}  # insertion order = enqueue order
        self.links: dict[tuple[str, str], Link] = {}
        self.state: dict[str, str] = {}
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

    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        await self._io()
        found = self.conversations.get(conversation_id)
        await self._done("get_conversation")
        return found

    async def get_conversations(
        self, conversation_ids: Collection[str]
    ) -> dict[str, Conversation]:
        await self._io()
        return {i: self.conversations[i] for i in conversation_ids if i in self.conversations}

    async def latest_conversation(self, patron_id: str) -> Conversation | None:
        await self._io()
        # Stable sort: equal created_at (a frozen FakeClock) keeps creation order.
        mine = [c for c in self.conversations.values() if c.patron_id == patron_id]
        return sorted(mine, key=lambda c: c.created_at)[-1] if mine else None

    async def conversation_by_thread(self, desk_thread: int) -> Conversation | None:
        await self._io()
        found = [c for c in self.conversations.values() if c.desk_thread == desk_thread]
        return found[-1] if found else None

    async def save_conversation(self, conversation: Conversation) -> None:
        await self._io()
        self.conversations[conversation.id] = conversation

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
        for delivery in sorted(pending, key=lambda d: d.created_at):  # stable: enqueue order
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
            for delivery in sorted(self.deliveries.values(), key=lambda d: d.created_at):
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

    async def save_link(self, link: Link) -> None:
        await self._io()
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

    async def patron_conversations(self, patron_id: str, limit: int = 20) -> list[Conversation]:
        await self._io()
        mine = [c for c in self.conversations.values() if c.patron_id == patron_id]
        return sorted(mine, key=lambda c: (c.created_at, c.id), reverse=True)[:limit]

    async def conversations_since(self, since: float, limit: int = 10_000) -> list[Conversation]:
        await self._io()
        found = [c for c in self.conversations.values() if c.created_at >= since]
        return sorted(found, key=lambda c: (c.created_at, c.id))[:limit]

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


@dataclass(frozen=True)
class SendCall:
    """One call of ``RecordingSender.send`` and how it ended."""

    delivery: Delivery
    message: Message
    conversation: Conversation
    patron: Patron
    outcome: str  # "sent", "temporary", "permanent" or "crashed"
    external_id: str = ""


SendHook = Callable[[Delivery, Message, Conversation, Patron], Awaitable[None]]


class RecordingSender:
    """A ``routing.ports.Sender`` that records every call and fails when told to."""

    def __init__(self, name: str, *, desk_thread: int | None = None,
                 topics: DeskTopics | None = None, keys: tuple[str, ...] = ()) -> None:
        self.name = name
        # A topic it "opens", kept through ``topics`` and reported in Sent, as the desk does.
        self.desk_thread = desk_thread
        self.topics = topics
        self.keys = keys  # what every send declares it costs
        self.calls: list[SendCall] = []
        self.started = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.gate: asyncio.Event | None = None  # when set, sends wait for it
        self.during_send: SendHook | None = None  # runs while the send is "on the wire"
        self._next_errors: deque[Exception] = deque()
        self._message_errors: dict[str, tuple[Exception, int | None]] = {}

    def fail_next(self, count: int, error: Exception) -> None:
        """The next ``count`` sends raise ``error``."""
        self._next_errors.extend([error] * count)

    def fail_message(self, message_id: str, error: Exception, times: int | None = None) -> None:
        """Sends of one message raise ``error``: ``times`` times, or always when None."""
        self._message_errors[message_id] = (error, times)

    def hold(self) -> None:
        self.gate = asyncio.Event()

    def release(self) -> None:
        if self.gate is not None:
            self.gate.set()

    @property
    def sent(self) -> list[SendCall]:
        return [c for c in self.calls if c.outcome == "sent"]

    def sent_texts(self) -> list[str]:
        return [c.message.text for c in self.sent]

    def budget_keys(
        self, delivery: Delivery, conversation: Conversation, patron: Patron, message: Message
    ) -> tuple[str, ...]:
        return self.keys

    async def send(
        self, delivery: Delivery, message: Message, conversation: Conversation, patron: Patron
    ) -> Sent:
        self.started += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0)  # on the wire: let other lanes run
            if self.gate is not None:
                await self.gate.wait()
            if self.during_send is not None:
                await self.during_send(delivery, message, conversation, patron)
            error = self._scripted_error(message.id)
            call = SendCall(delivery, message, conversation, patron, "sent")
            if error is not None:
                self.calls.append(replace(call, outcome=_outcome(error)))
                raise error
            external_id = f"{self.name}-{len(self.sent) + 1}"
            if (self.topics is not None and self.desk_thread is not None
                    and conversation.desk_thread != self.desk_thread):
                await self.topics.keep_topic(conversation.id, self.desk_thread)
            self.calls.append(replace(call, external_id=external_id))
            return Sent(external_id=external_id, desk_thread=self.desk_thread)
        finally:
            self.in_flight -= 1

    def _scripted_error(self, message_id: str) -> Exception | None:
        if self._next_errors:
            return self._next_errors.popleft()
        if message_id in self._message_errors:
            error, times = self._message_errors[message_id]
            if times is not None:
                if times <= 1:
                    del self._message_errors[message_id]
                else:
                    self._message_errors[message_id] = (error, times - 1)
            return error
        return None


def _outcome(error: Exception) -> str:
    if isinstance(error, TemporaryFailure):
        return "temporary"
    if isinstance(error, PermanentFailure):
        return "permanent"
    return "crashed"

"""In-memory stand-ins for the ports: a store (``fake_store``), a clock and senders
that record."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from routing.model import (
    Conversation,
    Delivery,
    Message,
    Patron,
)
from routing.ports import DeskTopics, PermanentFailure, Sent, TemporaryFailure
from tests.unit.fake_store import FakeStore, Pause

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


class FakeClock:
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds


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

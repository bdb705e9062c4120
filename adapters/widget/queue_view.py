"""A waiting patron's place in the queue, pushed to their widget as it changes.

One loop serves the whole process, however many sockets are open: every ``interval``
seconds, or shortly after a poke (a patron wrote, a reply went out), it reads the
waiting list once, works out each place with ``routing.queue``, and pushes a ``queue``
frame only to a connected visitor whose line changed. An idle socket costs nothing: the
store is never asked per socket. A hello is answered from the last reading.

Only a patron still waiting for a first answer is shown a place; once a librarian has
answered, the line goes (``position`` null). With nobody at the desk the wait is unknown
and the line says so.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from adapters.i18n import Catalog
from adapters.widget.hub import WidgetHub
from adapters.widget.system_lines import queue_lines
from routing.model import Channel, Conversation, Direction, Message, Status
from routing.ports import Clock, ConversationLog, Directory, Reports
from routing.queue import DEFAULT_WAIT, QueueSpot, ResponseTimes, estimate_wait
from routing.reminders import Waiting

__all__ = ["QueueStore", "QueueWatch", "queue_frame"]


class QueueStore(ConversationLog, Directory, Reports, Protocol):
    """The roles of the store the queue reads: it writes nothing."""

log = logging.getLogger(__name__)

WaitingSource = Callable[[], Awaitable[Sequence[Waiting]]]
_TIMES_EVERY = 300.0  # seconds between readings of recent first-response times
_TIMES_WINDOW = 7 * 86400.0
_REMEMBER = 50_000  # conversations whose visitors (or answered state) are remembered
_SLICE = 100  # entries of the line walked between two turns of the event loop
_PACE = 9.0  # after a poke, wait at least this many times what the last tick took


def queue_frame(conversation_id: str, spot: QueueSpot | None) -> dict[str, Any]:
    """The ``queue`` frame of PROTOCOL.md; ``position`` None takes the line away."""
    if spot is None:
        return {"type": "queue", "conversation": conversation_id, "position": None}
    return {"type": "queue", "conversation": conversation_id, "position": spot.position,
            "waiting": spot.waiting, "wait": None if spot.wait is None else round(spot.wait),
            "text": queue_lines(spot, Catalog.bundled())}  # every language, as the widget shows


def _shown_key(frame: dict[str, Any]) -> tuple[Any, ...]:
    """What the patron reads: a new frame goes out only when this changes."""
    return frame["conversation"], frame["position"], frame.get("text", {}).get("en")


class QueueWatch:
    def __init__(
        self,
        hub: WidgetHub,
        store: QueueStore,
        waiting: WaitingSource,
        librarians: Callable[[float], int],
        clock: Clock,
        *,
        interval: float = 15.0,
        settle: float = 0.5,
        default_wait: float = DEFAULT_WAIT,
        history: int = 50,
    ) -> None:
        self._hub, self._store, self._waiting = hub, store, waiting
        self._librarians, self._clock = librarians, clock
        self._interval, self._settle, self._default = interval, settle, default_wait
        self._times = ResponseTimes(history)
        self._history = history
        self._times_at = -math.inf
        self._line: dict[str, tuple[int, Waiting]] = {}  # conversation → (place, entry)
        self._visitors: OrderedDict[str, tuple[str, ...]] = OrderedDict()
        self._answered: OrderedDict[str, None] = OrderedDict()
        # Seen waiting for a first answer: not read again each tick (a reply to a
        # visitor online here passes _on_delivered, which forgets it).
        self._first: OrderedDict[str, None] = OrderedDict()
        self._shown: dict[str, tuple[Any, ...]] = {}  # visitor → what its line says
        self._poked = asyncio.Event()
        hub.listen(self._on_delivered)

    def poke(self) -> None:
        """Something moved the line (a patron wrote, a reply went out): look soon."""
        self._poked.set()

    def _on_delivered(self, message: Message) -> None:
        if message.direction is Direction.LIBRARIAN:
            self._first.pop(message.conversation_id, None)  # read again: maybe answered
            self.poke()

    async def run(self) -> None:
        """Tick until cancelled; a failed tick is logged and the next one tried.

        A tick reads the whole line, so a long line (thousands waiting) makes each tick
        dearer: the pause after a poke grows with what the last tick took, so the queue
        never takes more than about a tenth of the process, however long the line.
        """
        loop = asyncio.get_running_loop()
        while True:
            self._poked.clear()
            started = loop.time()
            try:
                await self.tick()
            except Exception:
                log.exception("the widget queue tick failed")
            spent = loop.time() - started
            try:
                await asyncio.wait_for(self._poked.wait(), self._interval)
                # One tick for a burst of pokes, and at most a tenth of the time ticking.
                await asyncio.sleep(max(self._settle, _PACE * spent))
            except TimeoutError:
                pass

    def frame_for(self, conversation: Conversation | None, visitor: str) -> dict[str, Any] | None:
        """For a hello: the visitor's line as of the last reading, None when not waiting."""
        if conversation is None:
            return None
        if not self._waits_first(conversation):  # answered (maybe while away, by email)
            self._first.pop(conversation.id, None)
            return None
        spot = self._spot(conversation.id, self._clock.now())
        if spot is None:
            self.poke()  # wrote since the last reading
            return None
        frame = queue_frame(conversation.id, spot)
        self._shown[visitor] = _shown_key(frame)
        return frame

    async def tick(self) -> None:
        """Read the line once and push every changed place to its connected visitor."""
        now = self._clock.now()
        await self._refresh_times(now)
        line = sorted(await self._waiting(), key=lambda w: (w.since, w.conversation_id))
        self._line = {w.conversation_id: (n, w) for n, w in enumerate(line, start=1)}
        reached: set[str] = set()
        for n, entry in enumerate(line):
            if n % _SLICE == _SLICE - 1:
                await asyncio.sleep(0)  # a long line goes in slices: acks pass between
            visitors = [v for v in await self._visitors_of(entry.conversation_id)
                        if self._hub.online(v)]
            if not visitors or not await self._unanswered(entry.conversation_id):
                continue
            frame = queue_frame(entry.conversation_id, self._spot(entry.conversation_id, now))
            for visitor in visitors:
                reached.add(visitor)
                await self._push(visitor, frame)
        for visitor, shown in list(self._shown.items()):
            if visitor not in reached:  # answered, closed or gone: take the line away
                del self._shown[visitor]
                if self._hub.online(visitor):
                    await self._hub.publish(visitor, queue_frame(str(shown[0]), None))

    async def _push(self, visitor: str, frame: dict[str, Any]) -> None:
        key = _shown_key(frame)
        if self._shown.get(visitor) != key:
            self._shown[visitor] = key
            await self._hub.publish(visitor, frame)

    def _spot(self, conversation_id: str, now: float) -> QueueSpot | None:
        found = self._line.get(conversation_id)
        if found is None:
            return None
        place, entry = found
        wait = estimate_wait(place, now - entry.since, self._times.median(),
                             self._librarians(now), self._default)
        return QueueSpot(place, len(self._line), wait)

    def _waits_first(self, conversation: Conversation) -> bool:
        return conversation.status is Status.OPEN and not conversation.first_response_at

    async def _unanswered(self, conversation_id: str) -> bool:
        """Still waiting for a first answer; once answered, always answered."""
        if conversation_id in self._answered:
            return False
        if conversation_id in self._first:  # seen waiting, and no reply pushed here since
            return True
        conversation = await self._store.get_conversation(conversation_id)
        if conversation is not None and self._waits_first(conversation):
            _remember(self._first, conversation_id, None)
            return True
        if conversation is not None and conversation.first_response_at:
            _remember(self._answered, conversation_id, None)
        return False

    async def _visitors_of(self, conversation_id: str) -> tuple[str, ...]:
        """The widget visitors of a conversation's patron (remembered: they never change
        for a conversation, bar a new tab's visitor, which the next hello brings)."""
        known = self._visitors.get(conversation_id)
        if known is not None:
            return known
        conversation = await self._store.get_conversation(conversation_id)
        patron = None if conversation is None else await self._store.get_patron(
            conversation.patron_id)
        if patron is None:
            return ()
        visitors = tuple(c.address for c in patron.contacts if c.channel is Channel.WIDGET)
        _remember(self._visitors, conversation_id, visitors)
        return visitors

    async def _refresh_times(self, now: float) -> None:
        """Recent first-response times, for the median; read every few minutes."""
        if now - self._times_at < _TIMES_EVERY:
            return
        self._times_at = now
        recent = await self._store.conversations_since(now - _TIMES_WINDOW)
        answered = sorted((c for c in recent if c.first_response_at >= c.created_at > 0),
                          key=lambda c: c.first_response_at)
        self._times = ResponseTimes(self._history,
                                    [c.first_response_at - c.created_at for c in answered])


def _remember(cache: OrderedDict[str, Any], key: str, value: Any) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > _REMEMBER:
        cache.popitem(last=False)

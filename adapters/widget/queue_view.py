"""A waiting patron's place in the queue, pushed to their widget as it changes.

One loop serves the whole process, however many sockets are open. The line (who waits,
since when, in order) is read whole from the store at start and then once a minute at
most (``reread``); between readings it moves by events: a patron who writes joins its
end, a conversation a librarian answers leaves it. A tick (every ``interval`` seconds,
or shortly after a poke) walks only the conversations whose visitors are online here,
each finding its place by bisection: with 100,000 conversations waiting and 50 patrons
watching, a tick costs 50 look-ups, not a read and a walk of 100,000. A ``queue`` frame
goes only to a visitor whose line changed; a hello is answered from the line as it is.
What the events cannot see (an answer sent from another process, a conversation
closed) the next reading puts right.

Only a patron still waiting for a first answer is shown a place; once a librarian has
answered, the line goes (``position`` null). With nobody at the desk the wait is unknown
and the line says so.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import math
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from adapters.i18n import Catalog
from adapters.widget.hub import WidgetHub
from adapters.widget.system_lines import queue_lines
from routing.model import Conversation, Direction, Message, Status
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
_REMEMBER = 50_000  # conversations whose answered (or waiting) state is remembered
_SLICE = 100  # watched conversations walked between two turns of the event loop
_PACE = 9.0  # after a poke, wait at least this many times what the last tick took


def queue_frame(conversation_id: str, spot: QueueSpot | None) -> dict[str, Any]:
    """The ``queue`` frame of PROTOCOL.md; ``position`` None takes the line away."""
    if spot is None:
        return {"type": "queue", "conversation": conversation_id, "position": None}
    return {"type": "queue", "conversation": conversation_id, "position": spot.position,
            "waiting": spot.waiting, "wait": None if spot.wait is None else round(spot.wait),
            "text": queue_lines(spot, Catalog.bundled())}  # every language, as the widget shows


def _shown_key(conversation_id: str, spot: QueueSpot) -> tuple[Any, ...]:
    """What the patron reads: a new frame goes out only when this changes. The wait in
    the steps the line's text shows it (system_lines: unknown, under a minute, minutes,
    over an hour), so a tick builds the frame, ten languages of text, only for a visitor
    whose line changed."""
    wait = spot.wait
    shown = (None if wait is None else "short" if wait < 60 else "long" if wait > 3600
             else round(wait / 60))
    return conversation_id, spot.position, shown


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
        reread: float = 60.0,
    ) -> None:
        self._hub, self._store, self._waiting = hub, store, waiting
        self._librarians, self._clock = librarians, clock
        self._interval, self._settle, self._default = interval, settle, default_wait
        self._times = ResponseTimes(history)
        self._history = history
        self._times_at = -math.inf
        self._reread, self._read_at = reread, -math.inf
        self._since: dict[str, float] = {}  # the line: conversation → waiting since
        self._order: list[tuple[float, str]] = []  # the same, sorted: place by bisection
        self._watched: dict[str, set[str]] = {}  # conversation → its visitors seen here
        self._moved: list[tuple[str, float | None]] | None = None  # joins (since) and
        # leaves (None) while the line is being read: replayed on what the read found
        self._answered: OrderedDict[str, None] = OrderedDict()
        # Seen waiting for a first answer: not read again each tick (a reply to a
        # visitor online here passes _on_delivered, which forgets it).
        self._first: OrderedDict[str, None] = OrderedDict()
        self._shown: dict[str, tuple[Any, ...]] = {}  # visitor → what its line says
        self._poked = asyncio.Event()
        hub.listen(self._on_delivered)

    def poke(self) -> None:
        """Something moved the line (a reply went out): look soon."""
        self._poked.set()

    def wrote(self, conversation: Conversation, visitor: str) -> None:
        """``visitor`` wrote in ``conversation``: it joins the line's end if it waits
        for a first answer and was not in it (an answered patron writing again does
        not); look soon."""
        if self._waits_first(conversation) and conversation.id not in self._since:
            self._join(conversation.id, self._clock.now())
        self._watch(conversation.id, visitor)
        self._poked.set()

    def _on_delivered(self, message: Message) -> None:
        if message.direction is Direction.LIBRARIAN:
            self._first.pop(message.conversation_id, None)  # read again: maybe answered
            self._leave(message.conversation_id)  # answered: no longer waiting
            self.poke()

    def _join(self, conversation_id: str, since: float) -> None:
        if self._moved is not None:
            self._moved.append((conversation_id, since))
        self._since[conversation_id] = since
        bisect.insort(self._order, (since, conversation_id))

    def _leave(self, conversation_id: str) -> None:
        if self._moved is not None:
            self._moved.append((conversation_id, None))
        since = self._since.pop(conversation_id, None)
        if since is not None:
            i = bisect.bisect_left(self._order, (since, conversation_id))
            if i < len(self._order) and self._order[i] == (since, conversation_id):
                del self._order[i]

    def _watch(self, conversation_id: str, visitor: str) -> None:
        self._watched.setdefault(conversation_id, set()).add(visitor)

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
        self._watch(conversation.id, visitor)
        if not self._waits_first(conversation):  # answered (maybe while away, by email)
            self._first.pop(conversation.id, None)
            return None
        spot = self._spot(conversation.id, self._clock.now())
        if spot is None:
            self.poke()  # wrote since the last reading
            return None
        self._shown[visitor] = _shown_key(conversation.id, spot)
        return queue_frame(conversation.id, spot)

    async def tick(self) -> None:
        """Push every changed place to its connected visitor (the line read again first
        when the last reading is ``reread`` old)."""
        now = self._clock.now()
        await self._refresh_times(now)
        if now - self._read_at >= self._reread:
            await self._read_line(now)
        reached: set[str] = set()
        for n, (conversation_id, watching) in enumerate(list(self._watched.items())):
            if n % _SLICE == _SLICE - 1:
                await asyncio.sleep(0)  # many watching go in slices: acks pass between
            visitors = [v for v in watching if self._hub.online(v)]
            if not visitors:
                self._watched.pop(conversation_id, None)  # gone: a hello brings it back
                continue
            if (conversation_id not in self._since
                    or not await self._unanswered(conversation_id)):
                continue
            spot = self._spot(conversation_id, now)
            if spot is None:
                continue
            key, frame = _shown_key(conversation_id, spot), None
            for visitor in visitors:
                reached.add(visitor)
                if self._shown.get(visitor) != key:
                    self._shown[visitor] = key
                    frame = frame or queue_frame(conversation_id, spot)
                    await self._hub.publish(visitor, frame)
        for visitor, shown in list(self._shown.items()):
            if visitor not in reached:  # answered, closed or gone: take the line away
                del self._shown[visitor]
                if self._hub.online(visitor):
                    await self._hub.publish(visitor, queue_frame(str(shown[0]), None))

    async def _read_line(self, now: float) -> None:
        """The whole line from the store: what events could not see is put right."""
        self._read_at, self._moved = now, []
        try:
            line = await self._waiting()
        finally:
            moved, self._moved = self._moved, None
        self._since = {w.conversation_id: w.since for w in line}
        self._order = sorted((w.since, w.conversation_id) for w in line)
        for conversation_id, since in moved:  # the read may have begun before them
            if since is None:
                self._leave(conversation_id)
            elif conversation_id not in self._since:
                self._join(conversation_id, since)

    def _spot(self, conversation_id: str, now: float) -> QueueSpot | None:
        since = self._since.get(conversation_id)
        if since is None:
            return None
        place = bisect.bisect_left(self._order, (since, conversation_id)) + 1
        wait = estimate_wait(place, now - since, self._times.median(),
                             self._librarians(now), self._default)
        return QueueSpot(place, len(self._order), wait)

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

"""Turns: lanes waiting for a scarce budget queue by their turn instead of booking far ahead.

With 2,000 conversations waiting for a group's 20 posts a minute, booking each one's
moment at once would fill the budget 100 minutes ahead, and every booking would cost
more than the one before. Here only the near future is booked (``horizon``: by default
nothing later than now); the other lanes wait in a heap per scarce key (the gate: a
group, a private chat), the first of which alone watches the clock. Joining, leaving
and taking a turn cost O(log n).

The heap is ordered by when a lane asked, so lanes are served in the order they asked
(round-robin when each asks again after its send). A lane the desk already knows (its
topic is open, or a librarian has answered its patron) counts as having asked ``lead``
seconds earlier: a flood of new conversations, each opening a topic, does not hold back
a patron the desk is talking to, and a new conversation waits at most ``lead`` longer
than plain arrival order would make it. And a new conversation takes a turn only while
``keep`` of the gate's window (a quarter: 5 of a group's 20 posts a minute) stays free:
posts already made for a flood of new topics cannot fill the window a patron the desk is
talking to needs for their next message.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from routing.limits import SendBudget
from routing.ports import Clock

__all__ = ["Turns"]


@dataclass(order=True, slots=True)
class _Place:
    rank: float
    seq: int
    ready: asyncio.Event = field(compare=False, default_factory=asyncio.Event)
    gone: bool = field(compare=False, default=False)


class Turns:
    """Hands out the budget's moments, the near future only, in turn order."""

    def __init__(self, budget: SendBudget, clock: Clock,
                 sleep: Callable[[float], Awaitable[None]], *,
                 horizon: float = 0.0, lead: float = 1800.0, keep: float = 0.25) -> None:
        self._budget = budget
        self._clock = clock
        self._sleep = sleep
        self._horizon = horizon
        self._lead = lead
        self._keep = keep
        self._queues: dict[str, list[_Place]] = {}
        self._seq = itertools.count()

    def waiting(self) -> int:
        """Lanes queued for a turn (for ``/metrics``)."""
        return sum(len(q) for q in self._queues.values())

    async def book(self, keys: tuple[str, ...], known: bool, now: float) -> float:
        """Wait for this send's turn and book its moment (within the horizon); ``known``:
        the desk already knows the conversation, so it goes before new ones. A turn
        taken at once is booked at ``now`` itself, so the caller can tell it waited."""
        gate = self._budget.gate(keys)
        if gate is None:
            return self._budget.reserve(keys, now)
        spare = 0 if known else self._kept(gate)
        if gate not in self._queues and (self._budget.earliest(keys, now, spare)
                                         - self._horizon <= now):
            return self._budget.reserve(keys, now)  # nobody queued and room now: no place
        queue = self._queues.setdefault(gate, [])
        place = _Place(now - (self._lead if known else 0.0), next(self._seq))
        heapq.heappush(queue, place)
        try:
            while True:
                if queue[0] is place:
                    wait = self._budget.earliest(keys, now, spare) - self._horizon - now
                    if wait <= 0:
                        return self._budget.reserve(keys, now)
                    await self._sleep(wait)
                else:
                    place.ready.clear()
                    await place.ready.wait()
                now = self._clock.now()
        finally:
            self._leave(gate, queue, place)

    def _kept(self, gate: str) -> int:
        """Sends of the gate's window a new conversation leaves to those the desk knows."""
        rule = self._budget.rule_for(gate)
        return int(rule.limit * self._keep) if rule is not None else 0

    def _leave(self, gate: str, queue: list[_Place], place: _Place) -> None:
        """Out of the queue (its turn came, or it was cancelled); the next one watches."""
        place.gone = True
        while queue and queue[0].gone:
            heapq.heappop(queue)
        if queue:
            queue[0].ready.set()
        else:
            del self._queues[gate]

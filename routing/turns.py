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
talking to needs for their next message. That room is kept while the desk is talking:
once no conversation it knows has taken a turn for a whole window (a burst of new
patrons only), new conversations take the whole window rather than leave it idle.

Fair share: a send names its party (where its patron writes from: one address, one
network). A party that has had its share of the gate's window (the window's limit over
the parties that posted in it) or more is served like a new conversation: behind the
others, and only while ``keep`` stays free. So one address that opened five
conversations, whose topics the desk now knows, cannot spend the posts another patron
needs for their next messages; alone in the window, a party has all of it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import Counter, deque
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


class _Shares:
    """Posts of each party in a gate's last window (``span`` seconds)."""

    def __init__(self, span: float) -> None:
        self._span = span
        self._posts: deque[tuple[float, str, int]] = deque()
        self.by_party: Counter[str] = Counter()

    def add(self, at: float, party: str, posts: int) -> None:
        self._posts.append((at, party, posts))
        self.by_party[party] += posts

    def prune(self, now: float) -> bool:
        """Forget posts out of the window; False once nothing is left."""
        while self._posts and self._posts[0][0] <= now - self._span:
            _, party, posts = self._posts.popleft()
            left = self.by_party[party] - posts
            if left > 0:
                self.by_party[party] = left
            else:
                del self.by_party[party]
        return bool(self._posts)

    def over(self, party: str, limit: int) -> bool:
        """Has ``party`` had its share of the window (others posted in it too)?"""
        parties = len(self.by_party) + (party not in self.by_party)
        return parties > 1 and self.by_party[party] * parties >= limit


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
        self._shares: dict[str, _Shares] = {}
        self._seq = itertools.count()
        self._talking: dict[str, tuple[float, float]] = {}  # gate -> (known's turn, any turn)

    def waiting(self) -> int:
        """Lanes queued for a turn (for ``/metrics``)."""
        return sum(len(q) for q in self._queues.values())

    async def book(self, keys: tuple[str, ...], known: bool, now: float,
                   party: str = "") -> float:
        """Wait for this send's turn and book its moment (within the horizon); ``known``:
        the desk already knows the conversation, so it goes before new ones, unless its
        ``party`` has had its share of the window. A turn taken at once is booked at
        ``now`` itself, so the caller can tell it waited."""
        gate = self._budget.gate(keys)
        if gate is None:
            return self._budget.reserve(keys, now)
        if known and party and self._over_share(gate, party, now):
            known = False
        if gate not in self._queues:
            spare = 0 if known else self._kept(gate, now)
            at = self._budget.earliest(keys, now, spare)
            if at - self._horizon <= now:
                self._took(gate, known, now)  # nobody queued and room now: no place needed
                return self._taken(gate, keys, party, now, None if spare else at)
        queue = self._queues.setdefault(gate, [])
        place = _Place(now - (self._lead if known else 0.0), next(self._seq))
        heapq.heappush(queue, place)
        try:
            while True:
                if queue[0] is place:
                    spare = 0 if known else self._kept(gate, now)
                    at = self._budget.earliest(keys, now, spare)
                    if at - self._horizon <= now:
                        self._took(gate, known, now)
                        return self._taken(gate, keys, party, now, None if spare else at)
                    wait = at - self._horizon - now
                    await self._sleep(wait)
                else:
                    place.ready.clear()
                    await place.ready.wait()
                now = self._clock.now()
        finally:
            self._leave(gate, queue, place)

    def _kept(self, gate: str, now: float) -> int:
        """Sends of the gate's window a new conversation leaves to those the desk knows:
        none once the desk has not talked to one for a whole window."""
        rule = self._budget.rule_for(gate)
        kept = int(rule.limit * self._keep) if rule is not None else 0
        if not kept or rule is None:
            return 0
        known, last = self._talking.get(gate, (now, now))
        quiet = now - last > 2 * rule.span  # a gate quiet for long starts afresh: room kept
        return 0 if not quiet and now - known > rule.span else kept

    def _took(self, gate: str, known: bool, now: float) -> None:
        """Remember when this gate last served anyone, and anyone the desk knows."""
        rule = self._budget.rule_for(gate)
        if rule is None or not int(rule.limit * self._keep):
            return  # nothing kept on this gate (a private chat's 1 a second)
        was, last = self._talking.get(gate, (now, now))
        fresh = now - last > 2 * rule.span
        self._talking[gate] = (now if known or fresh else was, now)

    def _over_share(self, gate: str, party: str, now: float) -> bool:
        shares, rule = self._shares.get(gate), self._budget.rule_for(gate)
        if shares is None or rule is None:
            return False
        if not shares.prune(now):
            del self._shares[gate]
            return False
        return shares.over(party, rule.limit)

    def _taken(self, gate: str, keys: tuple[str, ...], party: str, now: float,
               planned: float | None) -> float:
        """Book the turn, and count its posts to its party's share of the window.
        ``planned``: the moment ``earliest`` just found for the send alone (not planned
        again: nothing was booked since); None when it also kept room (``spare``)."""
        at = (self._budget.reserve(keys, now) if planned is None
              else self._budget.book(keys, planned))
        rule = self._budget.rule_for(gate)
        if party and rule is not None and rule.limit > 1:  # a private chat's 1: no share
            shares = self._shares.get(gate)
            if shares is None:
                shares = self._shares[gate] = _Shares(rule.span)
            shares.prune(now)
            shares.add(now, party, keys.count(gate))
        return at

    def _leave(self, gate: str, queue: list[_Place], place: _Place) -> None:
        """Out of the queue (its turn came, or it was cancelled); the next one watches."""
        place.gone = True
        while queue and queue[0].gone:
            heapq.heappop(queue)
        if queue:
            queue[0].ready.set()
        else:
            del self._queues[gate]

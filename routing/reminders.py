"""Reminders for patrons left waiting: the rule, and a small service that applies it.

A patron message unanswered for ``first_after`` seconds earns a reminder in its topic;
further reminders follow at growing intervals (times ``factor``, at most ``cap``) until a
librarian answers. Counting starts when the desk became staffed, so the overnight
backlog gets its first reminder ``first_after`` after opening, not all at once at 08:00,
and a restart does not fire a burst either.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace

from routing.model import Direction, Message, Waiting
from routing.ports import Clock

__all__ = ["ReminderPolicy", "Reminders", "Waiting", "due", "unanswered_since"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReminderPolicy:
    first_after: float = 300.0
    factor: float = 2.0
    cap: float = 3600.0

    def __post_init__(self) -> None:
        if self.first_after <= 0 or self.cap <= 0:
            raise ValueError("reminders: first_after and cap must be more than 0")
        if self.factor < 1:
            raise ValueError("reminders: factor must be at least 1")

    def interval(self, sent: int) -> float:
        """The gap after reminder number ``sent`` before the next one."""
        return min(self.first_after * self.factor ** min(sent, 64), self.cap)

    def due_at(self, waiting: Waiting, not_before: float = -math.inf) -> float:
        if waiting.reminders_sent == 0:
            return max(waiting.since, not_before) + self.first_after
        last = waiting.last_reminder_at
        last = waiting.since if last is None else last
        return max(last, not_before) + self.interval(waiting.reminders_sent)


def due(
    waiting: Iterable[Waiting],
    now: float,
    policy: ReminderPolicy,
    not_before: float = -math.inf,
) -> list[Waiting]:
    """The conversations owed a reminder at ``now``, longest-waiting first; none whose
    messages have not reached the topic yet."""
    owed = [w for w in waiting if w.in_topic and policy.due_at(w, not_before) <= now]
    return sorted(owed, key=lambda w: (w.since, w.conversation_id))


def unanswered_since(history: Iterable[Message]) -> float | None:
    """When the patron's unanswered stretch began: first patron message after the last answer.

    Notes and system lines answer nothing; a librarian message answers all before it.
    """
    since: float | None = None
    for message in sorted(history, key=lambda m: (m.created_at, m.id)):
        if message.direction is Direction.LIBRARIAN:
            since = None
        elif message.direction is Direction.PATRON and since is None:
            since = message.created_at
    return since


WaitingSource = Callable[[], Awaitable[list[Waiting]]]
Remind = Callable[[Waiting, int], Awaitable[None]]


class Reminders:
    """Asks ``waiting()`` who waits, calls ``remind(waiting, count)`` for each one owed.

    ``remind`` is expected to post the reminder and, where it can, record the count
    and time so ``waiting()`` reports them after a restart; the service also remembers
    what it sent itself, so nothing is reminded twice if the record lags. ``staffed``
    (the duty roster's) keeps reminders quiet while nobody is at the desk; ``blocked``
    (the router's) leaves out patrons the desk has blocked: nobody owes them an answer.
    """

    def __init__(
        self,
        waiting: WaitingSource,
        remind: Remind,
        clock: Clock,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        policy: ReminderPolicy | None = None,
        staffed: Callable[[float], bool] | None = None,
        tick: float = 30.0,
        blocked: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        self._waiting = waiting
        self._remind = remind
        self._clock = clock
        self._sleep = sleep
        self.policy = policy or ReminderPolicy()
        self._staffed = staffed
        self._blocked = blocked
        self.tick = tick
        self.staffed_since: float | None = None
        self._sent: dict[tuple[str, float], tuple[int, float]] = {}
        self._next_due = math.inf

    def _merge(self, waiting: Waiting) -> Waiting:
        mine = self._sent.get((waiting.conversation_id, waiting.since))
        if mine is None or mine[0] <= waiting.reminders_sent:
            return waiting
        return replace(waiting, reminders_sent=mine[0], last_reminder_at=mine[1])

    async def check(self) -> list[tuple[Waiting, int]]:
        """One round: send what is owed now; returns (conversation, reminder number) pairs."""
        now = self._clock.now()
        if self._staffed is not None and not self._staffed(now):
            self.staffed_since = None
            self._next_due = math.inf
            return []
        if self.staffed_since is None:
            self.staffed_since = now
        waiting = [self._merge(w) for w in await self._waiting()]
        keep = {(w.conversation_id, w.since) for w in waiting}
        self._sent = {key: sent for key, sent in self._sent.items() if key in keep}
        done: list[tuple[Waiting, int]] = []
        # Only what is owed now is checked for a block: a check for every waiting
        # conversation would cost as much as the queue is long, every round.
        owed_now = due(waiting, now, self.policy, self.staffed_since)
        unblocked = await self._unblocked(owed_now)
        failed = {w.conversation_id for w in owed_now} - {w.conversation_id for w in unblocked}
        for owed in unblocked:
            count = owed.reminders_sent + 1
            try:
                await self._remind(owed, count)
            except Exception:
                log.exception("reminder for conversation %s failed", owed.conversation_id)
                failed.add(owed.conversation_id)  # tried again after a tick, not at once
                # (as is a blocked patron's: checked again then, in case of an unblock)
                continue
            self._sent[(owed.conversation_id, owed.since)] = (count, now)
            done.append((owed, count))
        self._next_due = min(
            (self.policy.due_at(self._merge(w), self.staffed_since)
             for w in waiting if w.conversation_id not in failed),
            default=math.inf,
        )
        return done

    async def _unblocked(self, waiting: list[Waiting]) -> list[Waiting]:
        if self._blocked is None:
            return waiting
        return [w for w in waiting if not await self._blocked(w.conversation_id)]

    def pause(self) -> float:
        """How long to sleep before the next round: until the next due, at most ``tick``."""
        return max(1.0, min(self.tick, self._next_due - self._clock.now()))

    async def run(self) -> None:
        """Check, sleep, repeat, until cancelled; a failing round is logged, not fatal."""
        while True:
            try:
                await self.check()
            except Exception:
                log.exception("reminder round failed; trying again")
            await self._sleep(self.pause())

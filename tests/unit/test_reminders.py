"""Reminders for unanswered patrons: the growing-interval rule and the service applying it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace

import pytest

from routing.model import Channel, Direction, Inbound, Message
from routing.reminders import ReminderPolicy, Reminders, Waiting, due, unanswered_since
from routing.router import Router
from tests.unit.fakes import FakeClock, FakeStore

T0 = 1_700_000_000.0


class Desk:
    """Records reminders; ``waiting`` is what the store would report (counts optional)."""

    def __init__(self, clock: FakeClock, record: bool = False) -> None:
        self.clock = clock
        self.record = record
        self.waiting: dict[str, Waiting] = {}
        self.sent: list[tuple[str, int, float]] = []
        self.failing: set[str] = set()

    async def list_waiting(self) -> list[Waiting]:
        await asyncio.sleep(0)
        return list(self.waiting.values())

    async def remind(self, waiting: Waiting, count: int) -> None:
        await asyncio.sleep(0)
        if waiting.conversation_id in self.failing:
            raise RuntimeError("desk unreachable")
        self.sent.append((waiting.conversation_id, count, self.clock.now()))
        if self.record:
            self.waiting[waiting.conversation_id] = replace(
                waiting, reminders_sent=count, last_reminder_at=self.clock.now())

    def answer(self, conversation_id: str) -> None:
        del self.waiting[conversation_id]

    def patron_writes(self, conversation_id: str) -> None:
        self.waiting.setdefault(conversation_id, Waiting(conversation_id, self.clock.now()))


def service(
    desk: Desk,
    staffed: Callable[[float], bool] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    tick: float = 30.0,
) -> Reminders:
    return Reminders(desk.list_waiting, desk.remind, desk.clock, sleep=sleep, staffed=staffed,
                     tick=tick)


class TestPolicy:
    def test_intervals_double_up_to_the_cap(self) -> None:
        """Reminders fall at 5, 15, 35, 75, 135, 195 minutes: gaps double, capped at an hour."""
        policy = ReminderPolicy()
        waiting = Waiting("c", T0)
        times = []
        for _ in range(6):
            at = policy.due_at(waiting)
            times.append((at - T0) / 60)
            waiting = replace(waiting, reminders_sent=waiting.reminders_sent + 1,
                              last_reminder_at=at)
        assert times == [5, 15, 35, 75, 135, 195]

    def test_due_lists_only_owed_longest_first(self) -> None:
        """Only conversations past their due time are returned, the longest-waiting first."""
        waiting = [Waiting("late", T0 + 100), Waiting("early", T0), Waiting("fresh", T0 + 500)]
        assert [w.conversation_id for w in due(waiting, T0 + 400, ReminderPolicy())] == [
            "early", "late"]

    def test_no_reminder_while_the_messages_wait_in_the_desks_queue(self) -> None:
        """A patron whose messages have not reached the topic yet (the group over its
        budget) is owed no reminder: the librarians could not have seen them."""
        waiting = [Waiting("queued", T0, in_topic=False), Waiting("shown", T0 + 10)]
        assert [w.conversation_id for w in due(waiting, T0 + 400, ReminderPolicy())] == [
            "shown"]

    def test_not_before_moves_the_count(self) -> None:
        """A wait that began overnight is counted from when the desk was staffed."""
        assert ReminderPolicy().due_at(Waiting("c", T0), not_before=T0 + 3600) == T0 + 3900

    def test_huge_counts_do_not_overflow(self) -> None:
        """A conversation reminded thousands of times still gets the capped interval."""
        waiting = Waiting("c", T0, reminders_sent=5000, last_reminder_at=T0)
        assert ReminderPolicy().due_at(waiting) == T0 + 3600

    @pytest.mark.parametrize("bad", [{"first_after": 0}, {"cap": -1}, {"factor": 0.5}])
    def test_bad_policy_refused(self, bad: dict[str, float]) -> None:
        """A policy that would remind constantly or never grow is refused."""
        with pytest.raises(ValueError, match="reminders"):
            ReminderPolicy(**bad)


class TestUnansweredSince:
    def msg(self, n: int, direction: Direction) -> Message:
        return Message(f"m{n:03d}", "c", direction, "text", created_at=T0 + n)

    def test_first_patron_message_after_last_answer(self) -> None:
        """The wait starts at the first patron message after the last librarian message."""
        history = [self.msg(1, Direction.PATRON), self.msg(2, Direction.LIBRARIAN),
                   self.msg(3, Direction.NOTE), self.msg(4, Direction.PATRON),
                   self.msg(5, Direction.SYSTEM), self.msg(6, Direction.PATRON)]
        assert unanswered_since(history) == T0 + 4

    def test_answered_is_none(self) -> None:
        """A conversation whose last word is a librarian's waits for nobody."""
        assert unanswered_since([self.msg(1, Direction.PATRON),
                                 self.msg(2, Direction.LIBRARIAN)]) is None


class TestService:
    async def test_reminds_once_per_due_time_without_a_record(self, clock: FakeClock) -> None:
        """Even when nothing records the count, the service sends each reminder once."""
        desk = Desk(clock)
        reminders = service(desk)
        await reminders.check()
        desk.patron_writes("c1")
        clock.advance(299)
        assert await reminders.check() == []
        clock.advance(1)
        assert [(w.conversation_id, n) for w, n in await reminders.check()] == [("c1", 1)]
        clock.advance(599)
        assert await reminders.check() == []
        clock.advance(1)
        assert [n for _, n in await reminders.check()] == [2]
        assert [count for _, count, _ in desk.sent] == [1, 2]

    async def test_answer_stops_and_new_wait_starts_over(self, clock: FakeClock) -> None:
        """A librarian's answer stops reminders; the patron's next message starts from one."""
        desk = Desk(clock, record=True)
        reminders = service(desk)
        await reminders.check()
        desk.patron_writes("c1")
        clock.advance(300)
        await reminders.check()
        desk.answer("c1")
        clock.advance(10)
        desk.patron_writes("c1")
        clock.advance(299)
        assert await reminders.check() == []
        clock.advance(1)
        assert [(w.conversation_id, n) for w, n in await reminders.check()] == [("c1", 1)]
        assert [count for _, count, _ in desk.sent] == [1, 1]

    async def test_quiet_while_nobody_is_at_the_desk(self, clock: FakeClock) -> None:
        """No reminder while unstaffed; the first comes first_after seconds after staffing."""
        staffed = {"now": False}
        desk = Desk(clock)
        reminders = service(desk, staffed=lambda at: staffed["now"])
        desk.patron_writes("night")
        clock.advance(8 * 3600)
        assert await reminders.check() == []
        staffed["now"] = True
        assert await reminders.check() == []
        clock.advance(300)
        assert [n for _, n in await reminders.check()] == [1]

    async def test_one_failure_does_not_stop_the_others(self, clock: FakeClock) -> None:
        """A reminder that cannot be posted is retried later; the others still go out."""
        desk = Desk(clock)
        reminders = service(desk)
        await reminders.check()
        desk.patron_writes("a")
        desk.patron_writes("b")
        desk.failing.add("a")
        clock.advance(300)
        assert [w.conversation_id for w, _ in await reminders.check()] == ["b"]
        assert reminders.pause() == reminders.tick
        desk.failing.clear()
        clock.advance(reminders.tick)
        assert [(w.conversation_id, n) for w, n in await reminders.check()] == [("a", 1)]

    async def test_run_sleeps_until_each_due_time(self, clock: FakeClock) -> None:
        """Driven by a fake sleep, the loop reminds at exactly 5, 15, 35 and 75 minutes."""
        desk = Desk(clock, record=True)
        slept: list[float] = []

        async def sleep(seconds: float) -> None:
            slept.append(seconds)
            clock.advance(seconds)
            if clock.now() > T0 + 80 * 60:
                raise asyncio.CancelledError
            if len(slept) == 1:
                desk.patron_writes("c1")

        reminders = service(desk, sleep=sleep, tick=60.0)
        with pytest.raises(asyncio.CancelledError):
            await reminders.run()
        since = T0 + 60
        assert [(at - since) / 60 for _, _, at in desk.sent] == [5, 15, 35, 75]
        assert max(slept) == 60.0

    async def test_a_failing_store_is_survived(self, clock: FakeClock) -> None:
        """When waiting() raises, the loop logs it and tries again after a tick."""
        calls = 0

        async def broken() -> list[Waiting]:
            nonlocal calls
            calls += 1
            raise OSError("database locked")

        async def remind(waiting: Waiting, count: int) -> None:
            raise AssertionError("nothing to remind")

        async def sleep(seconds: float) -> None:
            clock.advance(seconds)
            if calls >= 3:
                raise asyncio.CancelledError

        with pytest.raises(asyncio.CancelledError):
            await Reminders(broken, remind, clock, sleep=sleep).run()
        assert calls == 3


class TestBlockedPatrons:
    async def test_a_blocked_patron_earns_no_reminder(
        self, clock: FakeClock, store: FakeStore
    ) -> None:
        """Once the desk blocks a waiting visitor, their topic gets no more reminders,
        while another patron waiting as long still does."""
        router = Router(store, clock)
        troll = Inbound(Channel.WIDGET, "troll", "spam")
        blocked = (await router.intake.accept(troll)).conversation
        waiting = (await router.intake.accept(Inbound(Channel.WIDGET, "reader", "Hi"))).conversation
        await router.moderation.block(blocked.id, None, "Ana")
        desk = Desk(clock)
        reminders = Reminders(desk.list_waiting, desk.remind, clock,
                              blocked=router.moderation.conversation_blocked)
        await reminders.check()  # the desk is staffed from now on
        desk.patron_writes(blocked.id)
        desk.patron_writes(waiting.id)
        clock.advance(3 * 3600)
        await reminders.check()
        assert [cid for cid, _, _ in desk.sent] == [waiting.id]


class TestLongQueues:
    async def test_a_round_checks_blocks_only_for_what_is_owed(self) -> None:
        """With a thousand patrons waiting and two owed a reminder, a round asks whether
        a patron is blocked twice, not a thousand times."""
        clock = FakeClock()
        now = clock.now()
        line = [Waiting(f"c{n}", now - (400.0 if n < 2 else 10.0)) for n in range(1000)]
        asked: list[str] = []
        reminded: list[str] = []

        async def waiting() -> list[Waiting]:
            return line

        async def remind(owed: Waiting, count: int) -> None:
            reminded.append(owed.conversation_id)

        async def blocked(conversation_id: str) -> bool:
            asked.append(conversation_id)
            return conversation_id == "c1"

        reminders = Reminders(waiting, remind, clock, blocked=blocked)
        reminders.staffed_since = now - 3600.0  # the desk has been open a while
        await reminders.check()
        assert sorted(asked) == ["c0", "c1"] and reminded == ["c0"]

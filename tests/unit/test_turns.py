"""Turns for a scarce budget: flat bookings under a backlog, known conversations first."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Collection, Sequence
from dataclasses import replace

from routing.limits import SendBudget, WindowRule
from routing.model import Channel, Conversation, Delivery, Message, PageInfo
from routing.outbox import DeliveryWorker
from routing.turns import Turns
from tests.unit.fakes import FakeClock, FakeStore, eventually, settle
from tests.unit.test_budget import RULES, BudgetedSender, fake_sleep, within_windows
from tests.unit.test_outbox import conversation, enqueue, running


def reads_of(store: FakeStore) -> list[str]:
    """The ids of the messages read from ``store`` from now on, in the order asked."""
    read: list[str] = []
    get_messages = store.get_messages

    async def counted(ids: Sequence[str]) -> dict[str, Message]:
        read.extend(ids)
        return await get_messages(ids)

    store.get_messages = counted  # type: ignore[method-assign,assignment]
    return read

class TestBudgetUnderABacklog:
    def test_a_deep_backlog_keeps_every_window(self) -> None:
        """Bookings reaching ten minutes ahead, some of them released, never overfill a
        window."""
        rng = random.Random(11)
        budget = SendBudget(RULES, margin=0.0)
        kept: list[float] = []
        for i in range(600):
            now = i * 0.05
            cost = rng.choice([1, 1, 2])
            at = budget.reserve(("group:a",) * cost, now)
            assert at >= now
            if rng.random() < 0.1:
                budget.release(("group:a",) * cost, at)
            else:
                kept += [at] * cost
        assert within_windows(kept, RULES["group"])
        assert max(kept) > 600.0  # the backlog did reach far ahead

    def test_earliest_books_nothing(self) -> None:
        """Asking when a send could go leaves the window as it was."""
        budget = SendBudget(RULES, margin=0.0)
        for _ in range(20):
            budget.reserve(("group:1",), 0.0)
        assert budget.earliest(("group:1",), 0.0) == 60.0
        assert budget.earliest(("group:1",), 0.0) == 60.0
        assert budget.gate(("bot", "group:1", "group:1")) == "group:1"
        assert budget.gate(("x",)) is None


async def _queued_lanes(count: int) -> tuple[FakeStore, FakeClock, BudgetedSender, DeliveryWorker]:
    store, clock = FakeStore(), FakeClock()
    desk = BudgetedSender("desk")
    budget = SendBudget({"group": WindowRule(1, 60.0)}, margin=0.0)
    worker = DeliveryWorker(store, clock, {Channel.DESK: desk}, budget=budget,
                            sleep=fake_sleep(clock), stamp=lambda at: "t")
    for i in range(count):
        await enqueue(store, clock, await conversation(store, clock), f"new {i}")
    return store, clock, desk, worker


class TestTurns:
    async def test_waiting_lanes_book_only_the_near_future(self) -> None:
        """Three hundred conversations waiting for a group's one post a minute hold no
        booking beyond the next send: the budget's work per send stays the same."""
        _, _, desk, worker = await _queued_lanes(300)
        sleeping = asyncio.Event()

        async def watch(seconds: float) -> None:
            sleeping.set()
            await asyncio.sleep(3600)  # the front of the queue waits; look meanwhile

        worker._turns._sleep = watch  # the queue's own clock hook
        await worker.dispatch()
        await sleeping.wait()
        for _ in range(5):
            await asyncio.sleep(0)
        booked = worker.budget._booked["group:desk"]  # what it holds
        assert len(booked) == 1 and worker._turns.waiting() == 299
        assert len(desk.sent_texts()) == 1
        await worker.drain(0.1)
        assert worker._turns.waiting() == 0

    async def test_a_known_conversation_goes_before_new_topics(self) -> None:
        """With forty new conversations queued for the group, a message in a conversation
        whose topic is open is the next post, not the forty-first."""
        store, clock, desk, worker = await _queued_lanes(40)
        known = replace(await conversation(store, clock), desk_thread=7)
        await store.save_conversation(known)
        await enqueue(store, clock, known, "in the open topic")
        await worker.run_until_idle()
        texts = desk.sent_texts()
        assert len(texts) == 41 and texts.index("in the open topic") <= 1

    async def test_new_conversations_leave_room_for_known_ones(self) -> None:
        """Of a group's 4 posts a minute, new conversations take 3: the fourth new one
        waits for the next window, and a conversation the desk knows, writing now, takes
        the post left free at once."""
        clock = FakeClock()
        budget = SendBudget({"group": WindowRule(4, 60.0)}, margin=0.0)
        waits: list[float] = []

        async def sleep(seconds: float) -> None:
            waits.append(seconds)
            await asyncio.sleep(3600)  # a new conversation waiting for its window

        turns = Turns(budget, clock, sleep)
        now = clock.now()
        keys = ("group:desk",)
        assert [await turns.book(keys, False, now) for _ in range(3)] == [now] * 3
        fourth = asyncio.create_task(turns.book(keys, False, now))
        await eventually(lambda: waits)
        assert waits == [60.0]  # the next window, not the post kept free
        assert await turns.book(keys, True, now) == now
        assert budget._booked["group:desk"] == [now] * 4
        fourth.cancel()

    async def test_new_conversations_keep_their_order(self) -> None:
        """Lanes of the same kind are served in the order they asked."""
        _, _, desk, worker = await _queued_lanes(12)
        await worker.run_until_idle()
        assert desk.sent_texts() == [f"new {i}" for i in range(12)]


class TestReadsUnderABacklog:
    async def test_a_new_conversation_costs_a_lane_read_not_a_read_of_the_backlog(
            self) -> None:
        """With a hundred conversations waiting for the group, twenty new ones are each
        read by their own lane: nothing re-reads the rows of those already waiting."""
        store, clock, _, worker = await _queued_lanes(100)
        full_reads = 0
        due = store.due_deliveries

        async def counted(now: float, limit: int, skip: Collection[str] = (),
                          busy: Collection[tuple[str, str]] = ()) -> list[Delivery]:
            nonlocal full_reads
            full_reads += 1
            return await due(now, limit, skip, busy)

        store.due_deliveries = counted  # type: ignore[method-assign]
        worker._turns._sleep = lambda seconds: asyncio.sleep(3600)  # the group stays full
        async with running(worker):
            await eventually(lambda: worker._turns.waiting() == 99)  # one has its turn
            before = full_reads
            for i in range(20):
                worker.wake([await enqueue(store, clock, await conversation(store, clock),
                                           f"late {i}")])
                await settle()
            assert worker._turns.waiting() == 119 and full_reads == before

    async def test_a_read_of_everything_due_names_the_lanes_already_sending(self) -> None:
        """With a hundred lanes waiting for the group, a poll's read of everything due
        names all of them busy, so the store may leave their rows unread."""
        store, _, _, worker = await _queued_lanes(100)
        asked: list[set[tuple[str, str]]] = []
        due = store.due_deliveries

        async def counted(now: float, limit: int, skip: Collection[str] = (),
                          busy: Collection[tuple[str, str]] = ()) -> list[Delivery]:
            asked.append(set(busy))
            return await due(now, limit, skip, busy)

        store.due_deliveries = counted  # type: ignore[method-assign]
        worker._turns._sleep = lambda seconds: asyncio.sleep(3600)  # the group stays full
        async with running(worker):
            await eventually(lambda: worker._turns.waiting() == 99)
            worker.wake()  # as the poll does
            await eventually(lambda: len(asked) >= 2)
            assert len(asked[-1]) == 100 and asked[-1] == set(worker._busy)


class _TickingClock(FakeClock):
    """A clock that moves on a little at every reading, as a real one does."""

    def now(self) -> float:
        self.advance(1e-6)
        return super().now()


class TestNoWaitIsNoWait:
    async def test_a_send_with_room_goes_singly_on_a_moving_clock(self) -> None:
        """A turn taken at once counts as no wait even though the clock moved while it
        was taken: three messages with room in the window go as three posts."""
        store, clock = FakeStore(), _TickingClock()
        desk = BudgetedSender("desk")
        worker = DeliveryWorker(store, clock, {Channel.DESK: desk},
                                budget=SendBudget(RULES, margin=0.0),
                                sleep=fake_sleep(clock), stamp=lambda at: "t")
        conv = await conversation(store, clock)
        for i in range(3):
            await enqueue(store, clock, conv, f"question {i}")
        await worker.run_until_idle()
        assert desk.sent_texts() == ["question 0", "question 1", "question 2"]


class TestFairShare:
    async def test_a_party_past_its_share_leaves_room_for_another(self) -> None:
        """Of a group's 8 posts a minute, one address that opened conversations and
        posted 4 times (its share beside one other patron) takes no more of the 2 kept
        free: the other patron's next messages go at once, not in the next window."""
        clock = FakeClock()
        budget = SendBudget({"group": WindowRule(8, 60.0)}, margin=0.0)
        waits: list[float] = []

        async def sleep(seconds: float) -> None:
            waits.append(seconds)
            await asyncio.sleep(3600)  # a lane waiting for the next window

        turns = Turns(budget, clock, sleep)
        now, keys = clock.now(), ("group:desk",)
        assert await turns.book(keys, True, now, "patron") == now
        for _ in range(4):
            assert await turns.book(keys, True, now, "flood") == now
        assert await turns.book(keys, True, now, "flood") == now  # 6 of 8: 2 stay free
        flood = asyncio.create_task(turns.book(keys, True, now, "flood"))
        await eventually(lambda: waits)
        assert waits == [60.0]  # past its share: the kept two are not its own
        assert await turns.book(keys, True, now, "patron") == now
        assert await turns.book(keys, True, now, "patron") == now
        assert budget._booked["group:desk"] == [now] * 8
        flood.cancel()

    async def test_alone_in_the_window_a_party_has_all_of_it(self) -> None:
        """One patron writing fast, with nobody else posting, is not held to a share."""
        clock = FakeClock()
        budget = SendBudget({"group": WindowRule(8, 60.0)}, margin=0.0)
        turns = Turns(budget, clock, fake_sleep(clock))
        now, keys = clock.now(), ("group:desk",)
        assert [await turns.book(keys, True, now, "patron") for _ in range(8)] == [now] * 8

    async def test_a_share_is_forgotten_with_its_window(self) -> None:
        """A window later the party that had its share posts as any known lane."""
        clock = FakeClock()
        budget = SendBudget({"group": WindowRule(8, 60.0)}, margin=0.0)
        turns = Turns(budget, clock, fake_sleep(clock))
        keys = ("group:desk",)
        await turns.book(keys, True, clock.now(), "patron")
        for _ in range(5):
            await turns.book(keys, True, clock.now(), "flood")
        clock.advance(61.0)
        await turns.book(keys, True, clock.now(), "patron")
        for _ in range(7):
            assert await turns.book(keys, True, clock.now(), "flood") == clock.now()

    async def test_a_flood_address_does_not_hold_back_another_patron(self) -> None:
        """Through the outbox: a patron posted, then five conversations from one address,
        their topics open, queue four messages each and fill the group's window but the
        room their share leaves; the patron's next message is posted at once, in the
        same window, not after it."""
        store, clock = FakeStore(), FakeClock()
        desk = BudgetedSender("desk")
        budget = SendBudget({"group": WindowRule(8, 60.0)}, margin=0.0)
        worker = DeliveryWorker(store, clock, {Channel.DESK: desk}, budget=budget,
                                sleep=fake_sleep(clock), stamp=lambda at: "t")
        worker._turns._sleep = lambda seconds: asyncio.sleep(3600)  # no window passes

        async def opened(ip: str, thread: int) -> Conversation:
            conv = await conversation(store, clock)
            conv = replace(conv, desk_thread=thread, page=PageInfo(ip=ip))
            await store.save_conversation(conv)
            return conv

        start = clock.now()
        patron = await opened("198.51.100.4", 7)
        flood = [await opened("192.0.2.9", 100 + i) for i in range(5)]
        async with running(worker):
            worker.wake([await enqueue(store, clock, patron, "hello")])
            await eventually(lambda: desk.sent_texts() == ["hello"])
            worker.wake([await enqueue(store, clock, conv, f"flood {n}")
                         for conv in flood for n in range(4)])
            await eventually(lambda: worker._turns.waiting() == 5)
            assert len(desk.sent_texts()) == 6  # the flood's share, and no more
            worker.wake([await enqueue(store, clock, patron, "real question")])
            await eventually(lambda: "real question" in desk.sent_texts())
        assert clock.now() == start and len(budget._booked["group:desk"]) == 7


class TestBoundedStart:
    async def _crowd(self, count: int, bound: int) -> tuple[
            FakeStore, FakeClock, BudgetedSender, DeliveryWorker]:
        store, clock = FakeStore(), FakeClock()
        desk = BudgetedSender("desk")
        worker = DeliveryWorker(store, clock, {Channel.DESK: desk},
                                budget=SendBudget({"group": WindowRule(1, 60.0)}, margin=0.0),
                                sleep=fake_sleep(clock), stamp=lambda at: "t",
                                max_waiting=bound)
        for i in range(count):
            await enqueue(store, clock, await conversation(store, clock), f"new {i}")
        return store, clock, desk, worker

    async def test_the_backlog_past_the_bound_stays_in_the_store_unread(self) -> None:
        """Thirty new conversations for a group's one post a minute, at most ten lanes
        queued: ten lanes wait, and the messages of the other twenty are not read."""
        store, _, _, worker = await self._crowd(30, 10)
        read = reads_of(store)
        worker._turns._sleep = lambda seconds: asyncio.sleep(3600)  # the group stays full
        async with running(worker):
            await eventually(lambda: worker._turns.waiting() == 9)  # one has its turn
            await settle()
            assert worker._turns.waiting() == 9 and len(read) == 10

    async def test_a_full_destination_is_left_out_of_reads_of_everything_due(
            self) -> None:
        """With the desk's queue at its bound, a read of everything due asks the store
        to leave the desk's rows out (every one would be dropped); none comes back."""
        store, _, _, worker = await self._crowd(30, 10)
        asked: list[tuple[list[str], int]] = []
        due = store.due_deliveries

        async def counted(now: float, limit: int, skip: Collection[str] = (),
                          busy: Collection[tuple[str, str]] = ()) -> list[Delivery]:
            found = await due(now, limit, skip, busy)
            asked.append((sorted(skip), len(found)))
            return found

        store.due_deliveries = counted  # type: ignore[method-assign]
        worker._turns._sleep = lambda seconds: asyncio.sleep(3600)  # the group stays full
        async with running(worker):
            await eventually(lambda: worker._turns.waiting() == 9)  # one has its turn
            await worker.dispatch()  # the queue filled to its bound again
            await eventually(lambda: worker._turns.waiting() == 10)
            await worker.dispatch()
        assert asked[0] == ([], 30) and asked[-1] == (["desk"], 0)

    async def test_a_new_conversation_past_the_bound_has_nothing_read_but_its_row(
            self) -> None:
        """With the queue at its bound, a new conversation's row woken on its own waits
        in the store: its lane is judged on its conversation, its message is not read."""
        store, clock, _, worker = await self._crowd(30, 10)
        read = reads_of(store)
        worker._turns._sleep = lambda seconds: asyncio.sleep(3600)  # the group stays full
        async with running(worker):
            await eventually(lambda: worker._turns.waiting() == 9)  # one has its turn
            await worker.dispatch()  # the queue filled to its bound again
            await eventually(lambda: worker._turns.waiting() == 10)
            read.clear()
            late = await conversation(store, clock)
            row = await enqueue(store, clock, late, "a new one")
            worker.wake([row])
            await settle()
            assert read == [] and (late.id, "desk") not in worker._gate.waiting
        assert (await store.lane_deliveries([(late.id, "desk")], clock.now(), 10)) == [row]

    async def test_the_backlog_is_delivered_whole_and_in_order(self) -> None:
        """Lanes left in the store start as the queue moves, oldest first."""
        _, _, desk, worker = await self._crowd(20, 4)
        await worker.run_until_idle()
        assert desk.sent_texts() == [f"new {i}" for i in range(20)]

    async def test_a_known_conversations_row_found_only_by_a_full_read_starts(
            self) -> None:
        """A row of a conversation the desk knows that nothing wakes (in the store since
        before a restart, a retry come due) is not left out with the crowd's: the read
        of everything due brings it while the desk's queue is at its bound."""
        store, clock, _, worker = await self._crowd(30, 10)
        known = replace(await conversation(store, clock), desk_thread=7)
        await store.save_conversation(known)
        await enqueue(store, clock, known, "known patron, in the store since before")
        worker._turns._sleep = lambda seconds: asyncio.sleep(3600)  # the group stays full
        async with running(worker):
            await eventually(lambda: worker._turns.waiting() >= 9)
            for _ in range(3):
                await worker.dispatch()
                await settle()
            assert (known.id, "desk") in worker._busy

    async def test_a_known_conversation_still_starts_when_the_queue_is_full(self) -> None:
        """With the queue at its bound, a message in an open topic starts its lane (and
        queues ahead of the new ones); a new conversation's waits in the store."""
        store, clock, _, worker = await self._crowd(30, 10)
        worker._turns._sleep = lambda seconds: asyncio.sleep(3600)  # the group stays full
        async with running(worker):
            await eventually(lambda: worker._turns.waiting() == 9)  # one had its turn
            await worker.dispatch()  # the queue filled to its bound again
            await eventually(lambda: worker._turns.waiting() == 10)
            known = replace(await conversation(store, clock), desk_thread=7)
            await store.save_conversation(known)
            late = await conversation(store, clock)
            worker.wake([await enqueue(store, clock, late, "a new one"),
                         await enqueue(store, clock, known, "in the open topic")])
            await eventually(lambda: (known.id, "desk") in worker._gate.waiting)
            await settle()
            assert worker._turns.waiting() == 11
            assert (late.id, "desk") not in worker._gate.waiting

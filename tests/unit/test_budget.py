"""Telegram's flood limits as the outbox plans them: windows, pauses, coalescing, fairness."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

import pytest

from routing.limits import SendBudget, WindowRule
from routing.model import Channel, Conversation, Delivery, DeliveryKind, Message, Patron
from routing.outbox import DeliveryWorker
from routing.ports import Sender, TemporaryFailure
from tests.eventually import eventually
from tests.unit.fakes import FakeClock, FakeStore, RecordingSender
from tests.unit.test_outbox import conversation, enqueue

RULES = {"group": WindowRule(20, 60.0), "bot": WindowRule(30, 1.0),
         "private": WindowRule(1, 1.0)}


def within_windows(times: list[float], rule: WindowRule) -> bool:
    ordered = sorted(times)
    return all(sum(1 for x in ordered if t - rule.span < x <= t) <= rule.limit for t in ordered)


class TestSendBudget:
    def test_a_burst_fills_the_window_then_waits_a_span(self) -> None:
        """Twenty sends into a group go at once; the 21st waits until the window slides."""
        budget = SendBudget(RULES, margin=0.0)
        times = [budget.reserve(("bot", "group:1"), 0.0) for _ in range(21)]
        assert times[:20] == [0.0] * 20 and times[20] == 60.0

    def test_slow_sends_widen_the_margin_by_their_latency(self) -> None:
        """After sends that took 0.3 s, the 21st waits the span, the quarter-second
        margin and the 0.3 s; a hung call widens it by two seconds at most."""
        budget = SendBudget(RULES, margin=0.25)
        budget.observe(0.3)
        times = [budget.reserve(("bot", "group:1"), 0.0) for _ in range(21)]
        assert times[20] == pytest.approx(60.55)
        hung = SendBudget(RULES, margin=0.25)
        hung.observe(30.0)
        later = [hung.reserve(("bot", "group:1"), 0.0) for _ in range(21)]
        assert later[20] == pytest.approx(62.25)

    def test_a_key_named_twice_costs_two(self) -> None:
        """Opening a topic (two group messages) uses two places of the window."""
        budget = SendBudget(RULES, margin=0.0)
        times = [budget.reserve(("bot", "group:1", "group:1"), 0.0) for _ in range(11)]
        assert times[:10] == [0.0] * 10 and times[10] == 60.0

    def test_groups_do_not_share_a_window(self) -> None:
        """A full group does not slow another group down."""
        budget = SendBudget(RULES, margin=0.0)
        for _ in range(20):
            budget.reserve(("bot", "group:1"), 0.0)
        assert budget.reserve(("bot", "group:2"), 0.0) == 0.0

    def test_random_traffic_never_breaks_a_window(self) -> None:
        """Whatever the arrival pattern, booked sends respect every window."""
        rng = random.Random(7)
        budget = SendBudget(RULES, margin=0.0)
        now = 0.0
        booked: dict[str, list[float]] = {"group:a": [], "group:b": [], "bot": []}
        for _ in range(400):
            now += rng.random() * 0.5
            group = rng.choice(["group:a", "group:b"])
            cost = rng.choice([1, 1, 2])
            at = budget.reserve(("bot", *([group] * cost)), now)
            assert at >= now
            booked[group] += [at] * cost
            booked["bot"].append(at)
        assert within_windows(booked["group:a"], RULES["group"])
        assert within_windows(booked["group:b"], RULES["group"])
        assert within_windows(booked["bot"], RULES["bot"])

    def test_pause_holds_only_the_named_chat(self) -> None:
        """A 429 for one chat delays that chat by exactly retry_after, and no other."""
        budget = SendBudget(RULES, margin=0.0)
        budget.pause(("group:1",), 17.0)
        assert budget.reserve(("bot", "group:1"), 2.0) == 17.0
        assert budget.reserve(("bot", "group:2"), 2.0) == 2.0

    def test_unknown_keys_are_unlimited(self) -> None:
        """A key without a rule never waits."""
        budget = SendBudget({}, margin=0.0)
        assert {budget.reserve(("x",), 5.0) for _ in range(100)} == {5.0}


class BudgetedSender(RecordingSender):
    """A desk-like sender that spends the group's budget."""

    def budget_keys(
        self, delivery: Delivery, conversation: Conversation, patron: Patron,
        message: Message | None = None,
    ) -> tuple[str, ...]:
        return ("bot", "group:desk")


def fake_sleep(clock: FakeClock) -> Callable[[float], Awaitable[None]]:
    async def sleep(seconds: float) -> None:
        clock.advance(seconds)  # time passes only when the outbox waits for its budget
        await asyncio.sleep(0)

    return sleep


def make_worker(store: FakeStore, clock: FakeClock, desk: RecordingSender,
                other: RecordingSender, budget: SendBudget, *,
                other_channel: Channel = Channel.WIDGET, coalesce_limit: int = 3800,
                ) -> DeliveryWorker:
    senders: dict[Channel, Sender] = {Channel.DESK: desk, other_channel: other}
    return DeliveryWorker(store, clock, senders, budget=budget, sleep=fake_sleep(clock),
                          stamp=lambda at: f"t{at:.0f}", coalesce_limit=coalesce_limit)


class TestOutboxUnderBudget:
    async def test_queued_patron_messages_coalesce_when_the_budget_is_short(self) -> None:
        """Messages queued while a conversation waits for the group become one post,
        each part stamped with its time, and every row is settled."""
        store, clock = FakeStore(), FakeClock()
        desk, widget = BudgetedSender("desk"), RecordingSender("widget")
        budget = SendBudget({"group": WindowRule(1, 60.0)}, margin=0.0)
        worker = make_worker(store, clock, desk, widget, budget)
        budget.reserve(("group:desk",), clock.now())  # the window is already used up
        conv = await conversation(store, clock)
        for text in ("one", "two", "three"):
            await enqueue(store, clock, conv, text)
        await worker.run_until_idle()
        assert [c.message.text for c in desk.sent] == [
            f"[t{clock.now() - 60:.0f}] one\n\n[t{clock.now() - 60:.0f}] two\n\n"
            f"[t{clock.now() - 60:.0f}] three"]
        assert await store.pending_deliveries() == 0

    async def test_messages_go_singly_while_the_budget_allows(self) -> None:
        """With budget to spare nothing is merged: each message is its own post."""
        store, clock = FakeStore(), FakeClock()
        desk, widget = BudgetedSender("desk"), RecordingSender("widget")
        worker = make_worker(store, clock, desk, widget, SendBudget(RULES))
        conv = await conversation(store, clock)
        for text in ("one", "two", "three"):
            await enqueue(store, clock, conv, text)
        await worker.run_until_idle()
        assert desk.sent_texts() == ["one", "two", "three"]

    async def test_a_429_pauses_the_group_for_exactly_retry_after(self) -> None:
        """After a 429 the next send into that group waits retry_after, then succeeds."""
        store, clock = FakeStore(), FakeClock()
        desk, widget = BudgetedSender("desk"), RecordingSender("widget")
        budget = SendBudget(RULES, margin=0.0)
        worker = make_worker(store, clock, desk, widget, budget)
        conv = await conversation(store, clock)
        await enqueue(store, clock, conv, "hello")
        desk.fail_next(1, TemporaryFailure("429", retry_after=13.0))
        start = clock.now()
        await worker.run_until_idle()
        assert budget.blocked_until(("group:desk",)) == start + 13.0
        clock.advance(13.0)
        await worker.run_until_idle()
        assert desk.sent_texts() == ["hello"]

    async def test_replies_to_patrons_do_not_wait_behind_a_full_group(self) -> None:
        """A librarian's reply to a widget patron goes out while the desk group waits."""
        store, clock = FakeStore(), FakeClock()
        desk, widget = BudgetedSender("desk"), RecordingSender("widget")
        budget = SendBudget({"group": WindowRule(1, 60.0)}, margin=0.0)
        budget.reserve(("group:desk",), clock.now())
        gate = asyncio.Event()

        async def sleep(seconds: float) -> None:
            await gate.wait()  # the desk stays blocked until the test lets time pass
            clock.advance(seconds)

        senders: dict[Channel, Sender] = {Channel.DESK: desk, Channel.WIDGET: widget}
        worker = DeliveryWorker(store, clock, senders, budget=budget, sleep=sleep)
        conv = await conversation(store, clock)
        await enqueue(store, clock, conv, "patron question")
        other = await conversation(store, clock)
        await enqueue(store, clock, other, "librarian answer", kind=DeliveryKind.TO_PATRON)
        runner = asyncio.create_task(worker.run())
        try:
            await eventually(lambda: widget.sent, within=2, every=0.01)
            assert widget.sent_texts() == ["librarian answer"] and desk.sent == []
            gate.set()
            await eventually(lambda: desk.sent, within=2, every=0.01)
        finally:
            await worker.drain()
            runner.cancel()


class PrivateSender(RecordingSender):
    """A Telegram-DM-like sender: the bot's budget and one private chat's."""

    def budget_keys(
        self, delivery: Delivery, conversation: Conversation, patron: Patron,
        message: Message | None = None,
    ) -> tuple[str, ...]:
        return ("bot", f"private:{patron.id}")


class TestFairnessAndIsolation:
    async def test_one_busy_conversation_does_not_starve_the_others(self) -> None:
        """Under a short group budget the topics take turns: a conversation with ten
        queued messages gets one send, then each other conversation gets one."""
        store, clock = FakeStore(), FakeClock()
        desk, widget = BudgetedSender("desk"), RecordingSender("widget")
        budget = SendBudget({"group": WindowRule(1, 60.0)}, margin=0.0)
        worker = make_worker(store, clock, desk, widget, budget, coalesce_limit=0)
        busy, quiet, other = [await conversation(store, clock) for _ in range(3)]
        for n in range(10):
            await enqueue(store, clock, busy, f"busy{n}")
        await enqueue(store, clock, quiet, "quiet")
        await enqueue(store, clock, other, "other")
        await worker.run_until_idle()
        assert desk.sent_texts()[:4] == ["busy0", "quiet", "other", "busy1"]
        assert desk.sent_texts()[3:] == [f"busy{n}" for n in range(1, 10)]

    async def test_a_group_429_does_not_pause_private_chats(self) -> None:
        """A 429 from the group pauses that group only, not the bot's other chats."""
        store, clock = FakeStore(), FakeClock()
        desk, dm = BudgetedSender("desk"), PrivateSender("telegram")
        budget = SendBudget(RULES, margin=0.0)
        worker = make_worker(store, clock, desk, dm, budget, other_channel=Channel.TELEGRAM)
        desk.fail_next(1, TemporaryFailure("429", retry_after=30.0))
        conv = await conversation(store, clock, Channel.TELEGRAM)
        await enqueue(store, clock, conv, "question")
        await worker.run_until_idle()
        assert budget.blocked_until(("group:desk",)) == clock.now() + 30.0
        assert budget.blocked_until(("bot",)) == 0.0
        start = clock.now()
        await enqueue(store, clock, conv, "answer", kind=DeliveryKind.TO_PATRON)
        await worker.run_until_idle()
        assert dm.sent_texts() == ["answer"] and clock.now() == start
        assert worker.stats()["rate_limited"] == 1

    async def test_replies_do_not_queue_behind_slow_desk_sends(self) -> None:
        """With every desk send slot taken by a hanging Telegram, a widget reply still
        goes out: each destination has its own send slots."""
        store, clock = FakeStore(), FakeClock()
        desk, widget = RecordingSender("desk"), RecordingSender("widget")
        worker = DeliveryWorker(store, clock, {Channel.DESK: desk, Channel.WIDGET: widget},
                                concurrency=1)
        desk.hold()
        for _ in range(3):
            await enqueue(store, clock, await conversation(store, clock), "question")
        conv = await conversation(store, clock)
        await enqueue(store, clock, conv, "answer", kind=DeliveryKind.TO_PATRON)
        runner = asyncio.create_task(worker.run())
        try:
            await eventually(lambda: widget.sent, within=2, every=0.01)
            assert desk.in_flight == 1 and desk.sent == []
        finally:
            desk.release()
            await worker.drain()
            runner.cancel()

    async def test_drain_stops_lanes_waiting_for_budget_at_once(self) -> None:
        """Shutdown does not wait out a group window: a lane asleep on its budget stops
        and its row stays pending for the next start."""
        store, clock = FakeStore(), FakeClock()
        desk = BudgetedSender("desk")
        budget = SendBudget({"group": WindowRule(1, 60.0)}, margin=0.0)
        budget.reserve(("group:desk",), clock.now())
        forever = asyncio.Event()

        async def sleep(_: float) -> None:
            await forever.wait()

        worker = DeliveryWorker(store, clock, {Channel.DESK: desk}, budget=budget, sleep=sleep)
        await enqueue(store, clock, await conversation(store, clock), "question")
        await worker.dispatch()
        await asyncio.sleep(0.01)
        assert worker.stats()["lanes_waiting_for_budget"] == 1
        async with asyncio.timeout(1):
            await worker.drain(grace=30.0)
        assert desk.calls == [] and await store.pending_deliveries() == 1


class TestSlowSends:
    def test_a_slow_send_counts_when_it_ended(self) -> None:
        """A send booked at 0 that took 5 s holds its window until 5 + span: Telegram
        may have counted it as late as its answer."""
        budget = SendBudget({"group": WindowRule(1, 60.0)}, margin=0.0)
        at = budget.reserve(("group:1", "group:1"), 0.0)
        budget.move(("group:1", "group:1"), at, 5.0)
        assert budget.snapshot(5.0) == {"group:1": [5.0, 5.0]}
        assert budget.reserve(("group:1",), 10.0) == 65.0

    async def test_the_outbox_books_a_send_at_its_answer(self) -> None:
        """The outbox moves each booking to the moment the sender answered."""
        store, clock = FakeStore(), FakeClock()
        desk = BudgetedSender("desk")

        async def slow(*_: object) -> None:
            clock.advance(7.0)

        desk.during_send = slow
        budget = SendBudget({"group": WindowRule(1, 60.0)}, margin=0.0)
        worker = make_worker(store, clock, desk, RecordingSender("w"), budget)
        start = clock.now()
        await enqueue(store, clock, await conversation(store, clock), "hello")
        await worker.run_until_idle()
        assert budget.snapshot(clock.now()) == {"group:desk": [start + 7.0]}


class TestBudgetAcrossRestart:
    def test_snapshot_restores_the_windows(self) -> None:
        """A budget restored from a snapshot refuses what the saved sends still fill."""
        first = SendBudget(RULES, margin=0.0)
        for _ in range(20):
            first.reserve(("bot", "group:1"), 100.0)
        first.pause(("group:2",), 130.0)
        saved = first.snapshot(110.0)
        second = SendBudget(RULES, margin=0.0)
        second.restore(saved)
        assert second.reserve(("bot", "group:1"), 110.0) == 160.0
        assert second.blocked_until(("group:2",)) == 130.0

    def test_snapshot_leaves_out_what_no_longer_counts(self) -> None:
        """Sends older than their window, and bookings still in the future, are not saved."""
        budget = SendBudget({"group": WindowRule(1, 60.0)}, margin=0.0)
        budget.reserve(("group:1",), 0.0)
        budget.reserve(("group:1",), 0.0)  # booked for 60.0
        assert budget.snapshot(30.0) == {"group:1": [0.0]}
        assert budget.snapshot(70.0) == {"group:1": [60.0]}

    def test_a_tally_is_small_and_never_frees_a_window_early(self) -> None:
        """Thousands of sends under a lifted limit tally into a few dozen moments, and a
        budget restored from them waits at least as long as the one that saved them."""
        rule = {"group": WindowRule(1000, 60.0)}
        first = SendBudget(rule, margin=0.0)
        for n in range(1000):
            first.reserve(("group:1",), 1.0 + n * 0.059)
        saved = first.tally(60.0, points=16)
        assert len(saved["group:1"]) <= 17
        assert sum(n for _, n in saved["group:1"]) == 1000
        second = SendBudget(rule, margin=0.0)
        second.restore(saved)
        for probe in (60.0, 61.0, 90.0):
            assert second.reserve(("group:1",), probe) >= first.reserve(("group:1",), probe)

    def test_a_short_tally_is_exact(self) -> None:
        """Few sends are saved at their own moments, with how many went at each."""
        budget = SendBudget({"group": WindowRule(20, 60.0)}, margin=0.0)
        for at in (1.0, 1.0, 2.5):
            budget.reserve(("group:1",), at)
        assert budget.tally(10.0) == {"group:1": [[1.0, 2.0], [2.5, 1.0]]}

    async def test_a_restarted_outbox_spends_no_budget_telegram_still_counts(self) -> None:
        """The window used before a restart still holds after it: no 429 on restart."""
        store, clock = FakeStore(), FakeClock()
        desk = BudgetedSender("desk")
        rules = {"group": WindowRule(1, 60.0)}
        first = make_worker(store, clock, desk, RecordingSender("w"), SendBudget(rules, 0.0))
        await enqueue(store, clock, await conversation(store, clock), "before")
        await first.run_until_idle()
        start = clock.now()
        second = make_worker(store, clock, desk, RecordingSender("w"), SendBudget(rules, 0.0))
        await enqueue(store, clock, await conversation(store, clock), "after")
        await second.run_until_idle()
        assert desk.sent_texts() == ["before", "after"] and clock.now() == start + 60.0


class TestLateArrivals:
    async def test_messages_arriving_during_the_wait_join_the_post(self) -> None:
        """A patron who keeps writing while their topic waits for the group gets one
        post with everything written by the time the budget allows."""
        store, clock = FakeStore(), FakeClock()
        desk = BudgetedSender("desk")
        budget = SendBudget({"group": WindowRule(1, 60.0)}, margin=0.0)
        budget.reserve(("group:desk",), clock.now())
        conv = await conversation(store, clock)
        await enqueue(store, clock, conv, "one")

        async def sleep(seconds: float) -> None:
            await enqueue(store, clock, conv, "two")  # written while the lane waits
            clock.advance(seconds)

        worker = DeliveryWorker(store, clock, {Channel.DESK: desk}, budget=budget, sleep=sleep,
                                stamp=lambda at: "t")
        await worker.run_until_idle()
        assert desk.sent_texts() == ["[t] one\n\n[t] two"]
        assert await store.pending_deliveries() == 0

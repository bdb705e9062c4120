"""Telegram's flood limits as the outbox plans them: windows, pauses, coalescing, fairness."""

from __future__ import annotations

import asyncio
import random

from routing.limits import SendBudget, WindowRule
from routing.model import Channel, Conversation, Delivery, DeliveryKind, Patron
from routing.outbox import DeliveryWorker
from routing.ports import Sender, TemporaryFailure
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
        now, booked = 0.0, {"group:a": [], "group:b": [], "bot": []}
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
        self, delivery: Delivery, conversation: Conversation, patron: Patron
    ) -> tuple[str, ...]:
        return ("bot", "group:desk")


def make_worker(store: FakeStore, clock: FakeClock, desk: RecordingSender,
                widget: RecordingSender, budget: SendBudget) -> DeliveryWorker:
    async def sleep(seconds: float) -> None:
        clock.advance(seconds)  # time passes only when the outbox waits for its budget
        await asyncio.sleep(0)

    senders: dict[Channel, Sender] = {Channel.DESK: desk, Channel.WIDGET: widget}
    return DeliveryWorker(store, clock, senders, budget=budget, sleep=sleep,
                          stamp=lambda at: f"t{at:.0f}")


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
            async with asyncio.timeout(2):
                while not widget.sent:
                    await asyncio.sleep(0.01)
            assert widget.sent_texts() == ["librarian answer"] and desk.sent == []
            gate.set()
            async with asyncio.timeout(2):
                while not desk.sent:
                    await asyncio.sleep(0.01)
        finally:
            await worker.drain()
            runner.cancel()

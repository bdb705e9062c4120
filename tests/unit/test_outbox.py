"""The delivery worker and its retry rules, against a fake store, clock and senders."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import pytest

from routing.limits import SendBudget, WindowRule
from routing.model import (
    Channel,
    Contact,
    Conversation,
    Delivery,
    DeliveryKind,
    DeliveryState,
    DeskReply,
    Direction,
    Inbound,
    Message,
    Patron,
    new_id,
)
from routing.outbox import DeliveryWorker, RetryPolicy
from routing.outbox_rules import Lane
from routing.ports import Link, PermanentFailure, Sender, TemporaryFailure
from routing.router import Router
from tests.unit.fakes import FakeClock, FakeStore, RecordingSender, eventually, settle


def fixed_jitter(jitter: float = 0.5, **kwargs: Any) -> RetryPolicy:
    """A RetryPolicy whose jitter is a fixed fraction, so retry times are exact."""
    return RetryPolicy(rand=lambda: jitter, **kwargs)


async def conversation(
    store: FakeStore, clock: FakeClock, origin: Channel = Channel.WIDGET
) -> Conversation:
    patron = Patron(new_id(), name="Sari", contacts=(Contact(origin, new_id()),))
    await store.save_patron(patron)
    made = Conversation(new_id(), patron.id, origin, created_at=clock.now())
    await store.save_conversation(made)
    return made


async def enqueue(
    store: FakeStore, clock: FakeClock, conv: Conversation, text: str,
    kind: DeliveryKind = DeliveryKind.TO_DESK,
) -> Delivery:
    """Queue one message the way the router does: a message and its outbox row at once."""
    to_patron = kind is DeliveryKind.TO_PATRON
    destination = conv.origin if to_patron else Channel.DESK
    direction = Direction.LIBRARIAN if to_patron else Direction.PATRON
    message = Message(new_id(), conv.id, direction, text, created_at=clock.now())
    delivery = Delivery(
        new_id(), conv.id, message.id, kind, destination,
        idempotency_key=f"{message.id}:{destination.value}",
        next_attempt_at=clock.now(), created_at=clock.now(),
    )
    await store.append(message, [delivery])
    return delivery


@pytest.fixture
def desk() -> RecordingSender:
    return RecordingSender("desk")


@pytest.fixture
def patron_side() -> RecordingSender:
    return RecordingSender("widget")


@pytest.fixture
def policy() -> RetryPolicy:
    return fixed_jitter(0.5, base=2.0, factor=3.0, cap=50.0, max_attempts=3)


@pytest.fixture
def worker(
    store: FakeStore, clock: FakeClock, desk: RecordingSender, patron_side: RecordingSender,
    policy: RetryPolicy,
) -> DeliveryWorker:
    senders: dict[Channel, Sender] = {Channel.DESK: desk, Channel.WIDGET: patron_side}
    return DeliveryWorker(store, clock, senders, policy=policy)


@asynccontextmanager
async def running(worker: DeliveryWorker) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(worker.run())
    try:
        yield task
    finally:
        await worker.drain()
        await asyncio.wait_for(task, 1.0)


def notes(store: FakeStore, conv: Conversation) -> list[Message]:
    return [m for m in store.history_of(conv.id) if m.direction is Direction.NOTE]


class TestDelivery:
    async def test_delivers_and_links(
        self, worker: DeliveryWorker, store: FakeStore, clock: FakeClock, desk: RecordingSender
    ) -> None:
        """Due deliveries are sent, marked done with their external id, and linked back."""
        conv = await conversation(store, clock)
        first = await enqueue(store, clock, conv, "Hello")
        second = await enqueue(store, clock, conv, "Anyone?")

        await worker.run_until_idle()

        assert desk.sent_texts() == ["Hello", "Anyone?"]
        assert [store.deliveries[d.id].state for d in (first, second)] == [DeliveryState.DONE] * 2
        assert store.deliveries[first.id].external_id == "desk-1"
        assert await store.find_link("desk", "desk-2") == Link(
            "desk", "desk-2", conv.id, second.message_id
        )
        assert await store.pending_deliveries() == 0

    async def test_sender_gets_the_rows(
        self, worker: DeliveryWorker, store: FakeStore, clock: FakeClock,
        patron_side: RecordingSender,
    ) -> None:
        """A sender is handed the delivery with its message, conversation and patron."""
        conv = await conversation(store, clock)
        delivery = await enqueue(store, clock, conv, "We open at ten.", DeliveryKind.TO_PATRON)

        await worker.run_until_idle()

        [call] = patron_side.calls
        assert call.delivery == delivery
        assert call.message == store.messages[delivery.message_id]
        assert call.conversation == conv
        assert call.patron == store.patrons[conv.patron_id]

    async def test_lane_order_with_concurrent_conversations(
        self, worker: DeliveryWorker, store: FakeStore, clock: FakeClock, desk: RecordingSender
    ) -> None:
        """Two conversations are sent concurrently, yet each keeps its own order."""
        a, b = await conversation(store, clock), await conversation(store, clock)
        for n in range(1, 5):
            await enqueue(store, clock, a, f"a{n}")
            await enqueue(store, clock, b, f"b{n}")

        await worker.run_until_idle()

        by_conversation = {
            cid: [c.message.text for c in desk.sent if c.conversation.id == cid]
            for cid in (a.id, b.id)
        }
        assert by_conversation == {a.id: ["a1", "a2", "a3", "a4"], b.id: ["b1", "b2", "b3", "b4"]}
        assert desk.max_in_flight == 2

    async def test_concurrency_limit(
        self, store: FakeStore, clock: FakeClock, desk: RecordingSender
    ) -> None:
        """No more sends are in flight at once than the worker's concurrency allows."""
        worker = DeliveryWorker(store, clock, {Channel.DESK: desk}, concurrency=1)
        for _ in range(3):
            await enqueue(store, clock, await conversation(store, clock), "Hi")

        await worker.run_until_idle()

        assert len(desk.sent) == 3
        assert desk.max_in_flight == 1

    async def test_lanes_are_per_destination(
        self, worker: DeliveryWorker, store: FakeStore, clock: FakeClock,
        desk: RecordingSender, patron_side: RecordingSender,
    ) -> None:
        """A desk delivery waiting for its retry does not hold back the patron's lane."""
        conv = await conversation(store, clock)
        await enqueue(store, clock, conv, "Hello")
        await enqueue(store, clock, conv, "Hi there", DeliveryKind.TO_PATRON)
        desk.fail_next(1, TemporaryFailure("flood"))

        await worker.run_until_idle()

        assert patron_side.sent_texts() == ["Hi there"]
        assert desk.sent == []

    async def test_wake_sends_now(
        self, store: FakeStore, clock: FakeClock, desk: RecordingSender
    ) -> None:
        """wake() makes a running worker send what was just enqueued, not at the next poll."""
        worker = DeliveryWorker(store, clock, {Channel.DESK: desk}, idle_poll=3600)
        async with running(worker):
            await settle()
            await enqueue(store, clock, await conversation(store, clock), "Hello")
            worker.wake()
            await eventually(lambda: len(desk.sent) == 1)


    async def test_a_reply_is_not_held_behind_a_desk_backlog(
        self, store: FakeStore, clock: FakeClock, patron_side: RecordingSender
    ) -> None:
        """A full batch of one conversation's desk backlog, waiting for the group's
        budget, does not keep a librarian's reply to another patron from going at once."""
        desk = GroupSender("desk")
        worker = DeliveryWorker(store, clock, {Channel.DESK: desk, Channel.WIDGET: patron_side},
                                batch=5, budget=SendBudget({"group": WindowRule(1, 60.0)}))
        busy, quiet = await conversation(store, clock), await conversation(store, clock)
        for n in range(20):
            await enqueue(store, clock, busy, f"question {n}")
        await enqueue(store, clock, quiet, "Yes, we open at 8.", DeliveryKind.TO_PATRON)

        async with running(worker):
            await eventually(lambda: patron_side.sent_texts() == ["Yes, we open at 8."])
            await eventually(lambda: len(desk.sent) == 1)
            await settle()
            assert len(desk.sent) == 1  # the group's one send a minute went; the rest wait


    async def test_a_message_for_a_sending_lane_costs_no_read(
        self, worker: DeliveryWorker, store: FakeStore, clock: FakeClock, desk: RecordingSender
    ) -> None:
        """wake() for a lane already sending reads nothing (the lane's end will); a wake
        for an idle lane reads that lane at once."""
        reads = 0
        lane_rows = store.lane_deliveries

        async def counted(lanes: Collection[Lane], now: float, limit: int) -> list[Delivery]:
            nonlocal reads
            reads += 1
            return await lane_rows(lanes, now, limit)

        store.lane_deliveries = counted  # type: ignore[method-assign]
        busy = await conversation(store, clock)
        desk.hold()
        async with running(worker):
            worker.wake([await enqueue(store, clock, busy, "first")])
            await eventually(lambda: desk.started == 1)
            before = reads
            worker.wake([await enqueue(store, clock, busy, "second")])
            await settle()
            assert reads == before
            worker.wake([await enqueue(store, clock, await conversation(store, clock), "new")])
            await eventually(lambda: reads > before)
            desk.release()
            await eventually(lambda: len(desk.sent) == 3)
        texts = desk.sent_texts()
        assert sorted(texts) == ["first", "new", "second"]
        assert texts.index("first") < texts.index("second")  # the lane's order kept


    async def test_nothing_read_ahead_is_kept_once_a_backlog_is_sent(
        self, store: FakeStore, clock: FakeClock
    ) -> None:
        """Messages coalesced into one post under a short budget leave nothing behind in
        the worker's read-ahead: a busy evening does not grow its memory."""
        desk = GroupSender("desk")
        budget = SendBudget({"group": WindowRule(1, 60.0)}, margin=0.0)
        worker = DeliveryWorker(store, clock, {Channel.DESK: desk}, batch=3, budget=budget,
                                sleep=_advancing(clock))
        conv = await conversation(store, clock)
        for n in range(12):
            await enqueue(store, clock, conv, f"question {n}")
        await worker.run_until_idle()

        assert sum(len(c.message.text.split("question")) - 1 for c in desk.sent) == 12
        assert len(desk.sent) < 12  # some went together
        assert worker.stats()["messages_read_ahead"] == 0


def _advancing(clock: FakeClock) -> Callable[[float], Awaitable[None]]:
    async def sleep(seconds: float) -> None:
        clock.advance(seconds)
        await asyncio.sleep(0)
    return sleep


class GroupSender(RecordingSender):
    def budget_keys(self, delivery: Delivery, conversation: Conversation, patron: Patron,
                    message: Message | None = None) -> tuple[str, ...]:
        return ("group:desk",)


class TestRetry:
    async def test_temporary_failure_backs_off(
        self, worker: DeliveryWorker, store: FakeStore, clock: FakeClock, desk: RecordingSender
    ) -> None:
        """A temporary failure keeps the row pending and schedules it by the backoff."""
        conv = await conversation(store, clock)
        delivery = await enqueue(store, clock, conv, "Hello")
        desk.fail_next(2, TemporaryFailure("bad gateway"))
        start = clock.now()

        await worker.run_until_idle()
        first = store.deliveries[delivery.id]
        clock.advance(first.next_attempt_at - start)
        await worker.run_until_idle()
        second = store.deliveries[delivery.id]

        # base 2, factor 3, jitter fixed at 0.5 -> 0.75 of the ceiling: 2*0.75, then 6*0.75
        assert (first.state, first.attempts, first.last_error) == (
            DeliveryState.PENDING, 1, "bad gateway"
        )
        assert first.next_attempt_at == start + 1.5
        assert (second.attempts, second.next_attempt_at) == (2, clock.now() + 4.5)
        assert [c.outcome for c in desk.calls] == ["temporary", "temporary"]

    async def test_backoff_window(
        self, store: FakeStore, clock: FakeClock, desk: RecordingSender
    ) -> None:
        """With real jitter the first retry falls between half and all of the base delay."""
        worker = DeliveryWorker(store, clock, {Channel.DESK: desk}, policy=RetryPolicy(base=4))
        delivery = await enqueue(store, clock, await conversation(store, clock), "Hello")
        desk.fail_next(1, TemporaryFailure("timeout"))

        await worker.run_until_idle()

        assert clock.now() + 2 <= store.deliveries[delivery.id].next_attempt_at <= clock.now() + 4

    async def test_lane_waits_for_its_head(
        self, worker: DeliveryWorker, store: FakeStore, clock: FakeClock, desk: RecordingSender
    ) -> None:
        """Later rows of a lane wait until its failed head succeeds; other lanes go on."""
        conv, other = await conversation(store, clock), await conversation(store, clock)
        head = await enqueue(store, clock, conv, "first")
        behind = await enqueue(store, clock, conv, "second")
        await enqueue(store, clock, other, "elsewhere")
        desk.fail_message(head.message_id, TemporaryFailure("flood"), times=1)

        await worker.run_until_idle()

        assert desk.sent_texts() == ["elsewhere"]
        assert store.deliveries[behind.id] == behind  # untouched: not even attempted
        clock.advance(store.deliveries[head.id].next_attempt_at - clock.now())
        await worker.run_until_idle()
        assert desk.sent_texts() == ["elsewhere", "first", "second"]

    async def test_retry_after_is_exact(
        self, worker: DeliveryWorker, store: FakeStore, clock: FakeClock, desk: RecordingSender
    ) -> None:
        """A server's retry_after is obeyed to the second: not earlier, and no later."""
        delivery = await enqueue(store, clock, await conversation(store, clock), "Hello")
        desk.fail_next(1, TemporaryFailure("429 Too Many Requests", retry_after=7.5))

        await worker.run_until_idle()
        assert store.deliveries[delivery.id].next_attempt_at == clock.now() + 7.5
        clock.advance(7.4)
        await worker.run_until_idle()
        assert desk.sent == []
        clock.advance(0.1)
        await worker.run_until_idle()
        assert desk.sent_texts() == ["Hello"]

    async def test_max_attempts_to_patron_tells_desk(
        self, worker: DeliveryWorker, store: FakeStore, clock: FakeClock,
        desk: RecordingSender, patron_side: RecordingSender,
    ) -> None:
        """A reply that never gets through is failed and the desk gets a note saying so."""
        conv = await conversation(store, clock)
        reply = await enqueue(store, clock, conv, "We open at ten.", DeliveryKind.TO_PATRON)
        patron_side.fail_message(reply.message_id, TemporaryFailure("socket gone"))

        for _ in range(5):
            await worker.run_until_idle()
            clock.advance(60)

        failed = store.deliveries[reply.id]
        assert len(patron_side.calls) == 3
        assert failed.state is DeliveryState.FAILED and failed.attempts == 3
        assert "socket gone" in failed.last_error
        [note] = notes(store, conv)
        assert note.event == "delivery_failed" and "We open at ten." in note.text
        [notice] = store.deliveries_of(note.id)
        assert (notice.kind, notice.destination) == (DeliveryKind.DESK_NOTICE, Channel.DESK)
        assert [c.message for c in desk.sent] == [note]

    async def test_max_attempts_to_desk_reported_in_topic(
        self, worker: DeliveryWorker, store: FakeStore, clock: FakeClock, desk: RecordingSender
    ) -> None:
        """A patron message the topic never takes is failed and reported there by a note."""
        conv = await conversation(store, clock)
        delivery = await enqueue(store, clock, conv, "Hello")
        desk.fail_message(delivery.message_id, TemporaryFailure("flood"))

        for _ in range(5):
            await worker.run_until_idle()
            clock.advance(60)

        assert store.deliveries[delivery.id].state is DeliveryState.FAILED
        [note] = notes(store, conv)
        assert "this topic" in note.text and "Hello" in note.text
        assert [c.message for c in desk.sent] == [note]

    async def test_failed_notice_is_not_reported(
        self, worker: DeliveryWorker, store: FakeStore, clock: FakeClock, desk: RecordingSender
    ) -> None:
        """A desk notice that never gets through is failed without a note about itself."""
        conv = await conversation(store, clock)
        delivery = await enqueue(store, clock, conv, "claimed", DeliveryKind.DESK_NOTICE)
        desk.fail_message(delivery.message_id, TemporaryFailure("flood"))

        for _ in range(5):
            await worker.run_until_idle()
            clock.advance(60)

        assert store.deliveries[delivery.id].state is DeliveryState.FAILED
        assert len(desk.calls) == 3
        assert notes(store, conv) == []
        assert len(store.deliveries) == 1

    async def test_permanent_failure(
        self, worker: DeliveryWorker, store: FakeStore, clock: FakeClock,
        desk: RecordingSender, patron_side: RecordingSender,
    ) -> None:
        """A permanent failure fails the row at once and the next in its lane still goes."""
        conv = await conversation(store, clock)
        blocked = await enqueue(store, clock, conv, "one", DeliveryKind.TO_PATRON)
        await enqueue(store, clock, conv, "two", DeliveryKind.TO_PATRON)
        patron_side.fail_message(blocked.message_id, PermanentFailure("bot was blocked"))

        await worker.run_until_idle()

        failed = store.deliveries[blocked.id]
        assert (failed.state, failed.attempts, failed.last_error) == (
            DeliveryState.FAILED, 1, "bot was blocked"
        )
        assert [c.outcome for c in patron_side.calls] == ["permanent", "sent"]
        assert patron_side.sent_texts() == ["two"]
        [note] = notes(store, conv)
        assert desk.sent_texts() == [note.text]

    @pytest.mark.parametrize("event", ["claimed", "reopened"])
    async def test_failed_status_line_is_not_reported(
        self, worker: DeliveryWorker, store: FakeStore, clock: FakeClock,
        desk: RecordingSender, patron_side: RecordingSender, event: str,
    ) -> None:
        """A status line the patron never gets is failed without a note; the reply's is noted."""
        conv = await conversation(store, clock)
        status = Message(new_id(), conv.id, Direction.SYSTEM, "Rina is answering",
                         event=event, created_at=clock.now())
        row = Delivery(new_id(), conv.id, status.id, DeliveryKind.TO_PATRON, conv.origin,
                       idempotency_key=f"{status.id}:widget", next_attempt_at=clock.now(),
                       created_at=clock.now())
        await store.append(status, [row])
        reply = await enqueue(store, clock, conv, "We open at ten.", DeliveryKind.TO_PATRON)
        patron_side.fail_message(status.id, PermanentFailure("bot was blocked"))
        patron_side.fail_message(reply.message_id, PermanentFailure("bot was blocked"))

        await worker.run_until_idle()

        assert store.deliveries[row.id].state is DeliveryState.FAILED
        assert store.deliveries[reply.id].state is DeliveryState.FAILED
        [note] = notes(store, conv)
        assert "We open at ten." in note.text and "answering" not in note.text
        assert desk.sent_texts() == [note.text]

    async def test_crashing_sender_is_retried(
        self, worker: DeliveryWorker, store: FakeStore, clock: FakeClock, desk: RecordingSender
    ) -> None:
        """A sender raising something unexpected gets a retry and the worker carries on."""
        conv, other = await conversation(store, clock), await conversation(store, clock)
        crashed = await enqueue(store, clock, conv, "Hello")
        await enqueue(store, clock, other, "Fine")
        desk.fail_message(crashed.message_id, KeyError("chat_id"), times=1)

        await worker.run_until_idle()

        row = store.deliveries[crashed.id]
        assert (row.state, row.attempts) == (DeliveryState.PENDING, 1)
        assert row.next_attempt_at > clock.now()
        assert desk.sent_texts() == ["Fine"]
        clock.advance(60)
        await worker.run_until_idle()
        assert desk.sent_texts() == ["Fine", "Hello"]

    async def test_crashing_reply_exhausted_tells_desk(
        self, worker: DeliveryWorker, store: FakeStore, clock: FakeClock,
        patron_side: RecordingSender,
    ) -> None:
        """A reply whose sender crashes on every attempt still ends with a note to the desk."""
        conv = await conversation(store, clock)
        reply = await enqueue(store, clock, conv, "We open at ten.", DeliveryKind.TO_PATRON)
        patron_side.fail_message(reply.message_id, RuntimeError("bug in sender"))

        for _ in range(5):
            await worker.run_until_idle()
            clock.advance(60)

        assert store.deliveries[reply.id].state is DeliveryState.FAILED
        assert len(notes(store, conv)) == 1


class TestRows:
    async def test_desk_thread_kept_with_concurrent_claim(
        self, store: FakeStore, clock: FakeClock, patron_side: RecordingSender
    ) -> None:
        """A topic the desk keeps through the router does not undo a claim made during
        the send."""
        router = Router(store, clock)
        inbound = Inbound(Channel.WIDGET, "visitor-1", "Open on Sunday?")
        accepted = await router.intake.accept(inbound)
        cid = accepted.conversation.id
        desk = RecordingSender("desk", desk_thread=42, topics=router.records)

        async def librarian_answers(*_: object) -> None:
            desk.during_send = None
            await router.desk.reply(DeskReply(cid, "id-ana", "Ana", "On it"))

        desk.during_send = librarian_answers
        worker = DeliveryWorker(store, clock, {Channel.DESK: desk, Channel.WIDGET: patron_side})

        await worker.run_until_idle()

        saved = store.conversations_by_id[cid]
        assert (saved.desk_thread, saved.claimed_by) == (42, "Ana")
        assert await router.desk.conversation_for_thread(42) == saved

    async def test_missing_sender(
        self, worker: DeliveryWorker, store: FakeStore, clock: FakeClock, desk: RecordingSender
    ) -> None:
        """A destination without a sender fails with an error naming it, and the desk hears."""
        conv = await conversation(store, clock, origin=Channel.EMAIL)
        reply = await enqueue(store, clock, conv, "See you", DeliveryKind.TO_PATRON)

        await worker.run_until_idle()

        failed = store.deliveries[reply.id]
        assert (failed.state, failed.last_error) == (DeliveryState.FAILED, "no sender for email")
        [note] = notes(store, conv)
        assert "no sender for email" in note.text
        assert desk.sent_texts() == [note.text]

    async def test_missing_desk_sender(self, store: FakeStore, clock: FakeClock) -> None:
        """Without a desk sender desk rows fail by name and no note loops back to the desk."""
        worker = DeliveryWorker(store, clock, {})
        conv = await conversation(store, clock)
        delivery = await enqueue(store, clock, conv, "Hello")

        await worker.run_until_idle()

        assert store.deliveries[delivery.id].last_error == "no sender for desk"
        assert store.deliveries[delivery.id].state is DeliveryState.FAILED
        assert len(store.deliveries) == 1



class TestRetryPolicy:
    def test_grows_exponentially(self) -> None:
        """Without jitter's discount the delay doubles from the base at each attempt."""
        policy = RetryPolicy(base=1.0, factor=2.0, cap=300.0)
        delays = [replace(policy, rand=lambda: 1.0).delay(n, None) for n in range(1, 7)]
        assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]

    def test_capped(self) -> None:
        """The delay never passes the cap, however many attempts."""
        policy = RetryPolicy(base=1.0, factor=2.0, cap=300.0)
        assert [replace(policy, rand=lambda: 1.0).delay(n, None) for n in (9, 10, 60)] == [
            256.0, 300.0, 300.0
        ]

    def test_capped_at_huge_attempts(self) -> None:
        """A policy allowed thousands of attempts still answers the cap, not OverflowError."""
        policy = RetryPolicy(max_attempts=5000)
        assert replace(policy, rand=lambda: 1.0).delay(1100, None) == 300.0

    @pytest.mark.parametrize("attempts", [1, 4, 12])
    def test_jitter_bounds(self, attempts: int) -> None:
        """Jitter keeps every delay between half and all of the ceiling."""
        policy = RetryPolicy(base=1.0, factor=2.0, cap=300.0)
        ceiling = replace(policy, rand=lambda: 1.0).delay(attempts, None)
        assert replace(policy, rand=lambda: 0.0).delay(attempts, None) == ceiling / 2
        samples = [policy.delay(attempts, None) for _ in range(500)]
        assert all(ceiling / 2 <= s <= ceiling for s in samples)
        assert len(set(samples)) > 1  # it is jitter, not a constant

    def test_retry_after_wins(self) -> None:
        """A server's retry_after replaces the backoff exactly; a negative one means now."""
        policy = RetryPolicy()
        assert policy.delay(5, 7.5) == 7.5
        assert policy.delay(1, 0.0) == 0.0
        assert policy.delay(1, -3.0) == 0.0


class TestLifecycle:
    async def test_drain_waits_for_sends(
        self, worker: DeliveryWorker, store: FakeStore, clock: FakeClock, desk: RecordingSender
    ) -> None:
        """drain() returns only after the send in flight has finished and been recorded."""
        delivery = await enqueue(store, clock, await conversation(store, clock), "Hello")
        desk.hold()
        run = asyncio.create_task(worker.run())
        await eventually(lambda: desk.started == 1)

        drain = asyncio.create_task(worker.drain())
        await settle()
        assert not drain.done()
        desk.release()
        await asyncio.wait_for(drain, 1.0)

        assert store.deliveries[delivery.id].state is DeliveryState.DONE
        await asyncio.wait_for(run, 1.0)

    async def test_drain_during_dispatch(
        self, store: FakeStore, clock: FakeClock, desk: RecordingSender
    ) -> None:
        """A drain that lands while the worker is reading due rows lets no send start after it."""
        worker = DeliveryWorker(store, clock, {Channel.DESK: desk}, idle_poll=0.01)
        await enqueue(store, clock, await conversation(store, clock), "Hello")
        reading = store.pause_after("due_deliveries")
        run = asyncio.create_task(worker.run())
        await reading.reached.wait()

        drain = asyncio.create_task(worker.drain())
        await settle()
        reading.release()
        await asyncio.wait_for(drain, 1.0)
        started_before_drain_returned = desk.started
        await asyncio.wait_for(run, 1.0)
        await settle()

        assert desk.started == started_before_drain_returned

    async def test_wake_during_dispatch_not_lost(
        self, store: FakeStore, clock: FakeClock, desk: RecordingSender
    ) -> None:
        """A wake() arriving while the worker reads due rows sends the new row without a poll."""
        worker = DeliveryWorker(store, clock, {Channel.DESK: desk}, idle_poll=3600)
        reading = store.pause_after("due_deliveries")
        async with running(worker):
            await reading.reached.wait()  # this read finds nothing due
            await enqueue(store, clock, await conversation(store, clock), "Hello")
            worker.wake()
            reading.release()
            await eventually(lambda: len(desk.sent) == 1)

    async def test_no_double_send_from_stale_read(
        self, worker: DeliveryWorker, store: FakeStore, clock: FakeClock, desk: RecordingSender
    ) -> None:
        """A lane finishing while a dispatch reads due rows is not sent again from that read."""
        delivery = await enqueue(store, clock, await conversation(store, clock), "Hello")
        desk.hold()
        assert await worker.dispatch() == 1
        await eventually(lambda: desk.started == 1)

        reading = store.pause_after("due_deliveries")
        second = asyncio.create_task(worker.dispatch())
        await reading.reached.wait()  # this read still sees the row pending
        desk.release()
        await eventually(lambda: store.deliveries[delivery.id].state is DeliveryState.DONE)
        await settle()  # the first lane's task ends and frees the lane
        reading.release()
        await second
        await worker.run_until_idle()

        assert desk.sent_texts() == ["Hello"]


class TestDuplicates:
    async def test_crash_between_sent_and_recorded_resends_and_counts(
        self, store: FakeStore, clock: FakeClock
    ) -> None:
        """A send cut off by a crash before its result was recorded is sent again by the
        next process and counted as a possible duplicate, once."""
        desk = RecordingSender("desk")
        desk.hold()  # the message is on the wire when the process dies
        first = DeliveryWorker(store, clock, {Channel.DESK: desk})
        delivery = await enqueue(store, clock, await conversation(store, clock), "Hello")
        await first.dispatch()
        await eventually(lambda: desk.in_flight == 1)
        for task in list(first._busy.values()):  # SIGKILL: nothing after this point runs
            task.cancel()
        await settle()

        again = RecordingSender("desk")
        second = DeliveryWorker(store, clock, {Channel.DESK: again})
        await second.run_until_idle()

        assert again.sent_texts() == ["Hello"]
        assert store.deliveries[delivery.id].state is DeliveryState.DONE
        stats = second.stats()
        assert (stats["possible_duplicates"], stats["crash_resends"]) == (1, 1)
        await enqueue(store, clock, await conversation(store, clock), "Later")
        await second.run_until_idle()
        assert second.stats()["possible_duplicates"] == 1

    async def test_recorded_sends_are_not_counted_after_restart(
        self, worker: DeliveryWorker, store: FakeStore, clock: FakeClock
    ) -> None:
        """What was sent and recorded before a restart is neither re-sent nor counted."""
        await enqueue(store, clock, await conversation(store, clock), "Hello")
        await worker.run_until_idle()
        desk = RecordingSender("desk")
        second = DeliveryWorker(store, clock, {Channel.DESK: desk})
        await second.run_until_idle()
        assert desk.calls == [] and second.stats()["possible_duplicates"] == 0

    async def test_ambiguous_failure_counts_the_retry_as_possible_duplicate(
        self, worker: DeliveryWorker, store: FakeStore, clock: FakeClock, desk: RecordingSender
    ) -> None:
        """A cut connection may hide an accepted send: its retry is a possible duplicate;
        a 429, or a connection never made, surely was not taken, so its retry is not."""
        conv = await conversation(store, clock)
        cut = await enqueue(store, clock, conv, "cut")
        desk.fail_message(cut.message_id, TemporaryFailure("connection reset"), times=1)
        other = await conversation(store, clock)
        limited = await enqueue(store, clock, other, "limited")
        desk.fail_message(limited.message_id, TemporaryFailure("429", retry_after=1.0), times=1)
        third = await conversation(store, clock)
        refused = await enqueue(store, clock, third, "refused")
        desk.fail_message(refused.message_id,
                          TemporaryFailure("connection refused", maybe_sent=False), times=1)
        for _ in range(3):
            await worker.run_until_idle()
            clock.advance(10)
        assert sorted(desk.sent_texts()) == ["cut", "limited", "refused"]
        stats = worker.stats()
        assert (stats["possible_duplicates"], stats["rate_limited"]) == (1, 1)
        assert stats["retried"] == 3
        assert (stats["sent"], stats["delivered"]) == (3, 3)

    async def test_widget_pushes_are_not_noted(
        self, worker: DeliveryWorker, store: FakeStore, clock: FakeClock
    ) -> None:
        """The widget shows a message id once, so pushing to it writes no crash note."""
        conv = await conversation(store, clock)
        await enqueue(store, clock, conv, "We open at ten.", DeliveryKind.TO_PATRON)
        await worker.run_until_idle()
        assert "outbox.ledger" not in store.state

    async def test_the_note_is_written_before_the_send(
        self, store: FakeStore, clock: FakeClock
    ) -> None:
        """The desk send starts only after the note naming it is stored."""
        desk = RecordingSender("desk")
        seen: list[str] = []

        async def look(delivery: Delivery, *_: object) -> None:
            seen.append(store.state.get("outbox.ledger", ""))

        desk.during_send = look
        worker = DeliveryWorker(store, clock, {Channel.DESK: desk})
        delivery = await enqueue(store, clock, await conversation(store, clock), "Hello")
        await worker.run_until_idle()
        assert delivery.id in seen[0]

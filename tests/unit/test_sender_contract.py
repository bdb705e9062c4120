"""The contract between the outbox and a sender (routing.ports): the cost a sender
declares is what the outbox books, a topic is saved by the sender through DeskTopics and
never by the outbox, a deleted topic is retried at once with the opening's cost booked
first, and a call outside the outbox spends the same windows."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from routing.limits import SendBudget, WindowRule
from routing.model import Channel, Conversation, Delivery, DeliveryState, Message, Patron
from routing.outbox import DeliveryWorker
from routing.ports import DeskTopics, PermanentFailure, Sent, TemporaryFailure, TopicFailure
from routing.router import Router
from tests.unit.fakes import FakeClock, FakeStore, RecordingSender
from tests.unit.test_budget import fake_sleep
from tests.unit.test_outbox import conversation, enqueue, fixed_jitter

GROUP = "group:desk"
SPAN = 60.0


class ForumDesk(RecordingSender):
    """A desk that costs what the real one does: a post, or a topic and a post when the
    conversation has none. Its first post finds the topic deleted, as a librarian may
    have done; the post after that opens a new topic."""

    def __init__(self, topics: DeskTopics, clock: FakeClock) -> None:
        super().__init__("desk", topics=topics)
        self.clock = clock
        self.group_posts: list[float] = []  # when Telegram counted each group message
        self.deleted = True
        self.opened: list[int | None] = []  # desk_thread each send found

    def budget_keys(
        self, delivery: Delivery, conversation: Conversation, patron: Patron, message: Message
    ) -> tuple[str, ...]:
        return (GROUP,) * (1 if conversation.desk_thread is not None else 2)

    async def send(
        self, delivery: Delivery, message: Message, conversation: Conversation, patron: Patron
    ) -> Sent:
        assert self.topics is not None
        self.opened.append(conversation.desk_thread)
        if conversation.desk_thread is not None and self.deleted:
            await self.topics.keep_topic(conversation.id, None)
            raise TopicFailure("the desk topic was deleted", maybe_sent=False,
                               topic_gone=True)
        if conversation.desk_thread is None:  # createForumTopic, then the post
            self.group_posts.append(self.clock.now())
            await self.topics.keep_topic(conversation.id, 99)
        self.group_posts.append(self.clock.now())
        return Sent(external_id="desk-1", desk_thread=conversation.desk_thread or 99)


def most_in_a_window(times: list[float]) -> int:
    return max((sum(1 for x in times if t - SPAN < x <= t) for t in times), default=0)


class TestDeletedTopic:
    async def test_reopening_books_the_topic_and_the_post_before_making_them(self) -> None:
        """A post into a deleted topic is retried at once; the retry books the new topic
        and its post before making them, so the group never takes more than its window."""
        store, clock = FakeStore(), FakeClock()
        router = Router(store, clock)
        conv = await conversation(store, clock)
        await store.save_conversation(replace(conv, desk_thread=5))
        desk = ForumDesk(router.records, clock)
        budget = SendBudget({"group": WindowRule(3, SPAN)}, margin=0.0)
        earlier = [budget.reserve((GROUP,), clock.now()) for _ in range(2)]  # two posts ago
        worker = DeliveryWorker(store, clock, {Channel.DESK: desk}, budget=budget,
                                sleep=fake_sleep(clock), policy=fixed_jitter(base=30.0))
        delivery = await enqueue(store, clock, conv, "Is the library open?")
        start = clock.now()

        await worker.run_until_idle()

        assert desk.opened == [5, None]  # the retry found the topic forgotten
        assert store.deliveries[delivery.id].state is DeliveryState.DONE
        assert store.conversations_by_id[conv.id].desk_thread == 99
        assert most_in_a_window(earlier + desk.group_posts) <= 3
        assert desk.group_posts == [start + SPAN] * 2  # no backoff: only the window was waited


class TestOneLayerSavesTopics:
    async def test_the_outbox_does_not_save_a_topic_a_failure_names(self) -> None:
        """A failure naming an opened topic changes no conversation in the outbox: the
        sender keeps a topic through DeskTopics, the only place one is saved."""
        store, clock = FakeStore(), FakeClock()
        conv = await conversation(store, clock)
        desk = RecordingSender("desk")
        desk.fail_next(1, TopicFailure("cut after the topic", opened_topic=77))
        worker = DeliveryWorker(store, clock, {Channel.DESK: desk})
        delivery = await enqueue(store, clock, conv, "Hello")

        await worker.run_until_idle()

        assert store.conversations_by_id[conv.id].desk_thread is None
        assert store.deliveries[delivery.id].state is DeliveryState.PENDING
        assert store.deliveries[delivery.id].next_attempt_at > clock.now()  # backed off

    async def test_a_kept_topic_keeps_a_claim_saved_meanwhile(self) -> None:
        """The router keeps a topic under the conversation's lock: a claim saved while
        the topic was being opened is not undone."""
        store, clock = FakeStore(), FakeClock()
        router = Router(store, clock)
        conv = await conversation(store, clock)
        pause = store.pause_after("get_conversation")
        keeping = asyncio.create_task(router.records.keep_topic(conv.id, 12))
        await pause.reached.wait()
        claiming = asyncio.create_task(router.claims.claim(conv.id, "id-ana", "Ana"))
        await asyncio.sleep(0)
        pause.release()
        await asyncio.gather(keeping, claiming)

        saved = store.conversations_by_id[conv.id]
        assert (saved.desk_thread, saved.claimed_by) == (12, "Ana")


class TestSpend:
    async def test_a_call_waits_for_the_window_the_outbox_filled(self) -> None:
        """A call outside the outbox books the same windows: after the outbox's sends
        filled the group, it is made only when the window has slid."""
        store, clock = FakeStore(), FakeClock()
        desk = RecordingSender("desk", keys=(GROUP,))
        budget = SendBudget({"group": WindowRule(2, SPAN)}, margin=0.0)
        worker = DeliveryWorker(store, clock, {Channel.DESK: desk}, budget=budget,
                                sleep=fake_sleep(clock))
        conv = await conversation(store, clock)
        for text in ("one", "two"):
            await enqueue(store, clock, conv, text)
        await worker.run_until_idle()
        start, made = clock.now(), []

        async def answer() -> None:
            made.append(clock.now())

        await worker.spend((GROUP,), answer)
        assert made == [start + SPAN]

    async def test_a_429_pauses_the_chat_and_the_call_is_made_again(self) -> None:
        """A 429 on the call pauses the group for the outbox too, and the call is made
        again when the pause ends; a refusal is raised at once."""
        store, clock = FakeStore(), FakeClock()
        budget = SendBudget({"group": WindowRule(20, SPAN)}, margin=0.0)
        worker = DeliveryWorker(store, clock, {}, budget=budget, sleep=fake_sleep(clock))
        start, made = clock.now(), []

        async def answer() -> None:
            made.append(clock.now())
            if len(made) == 1:
                raise TemporaryFailure("Telegram rate limit", 7.0)

        await worker.spend((GROUP,), answer)
        assert made == [start, start + 7.0]
        assert worker.stats()["rate_limited"] == 1

        async def refused() -> None:
            raise PermanentFailure("Telegram rejected the message")

        with pytest.raises(PermanentFailure):
            await worker.spend((GROUP,), refused)

"""How many reads and notes the outbox costs when many lanes send at once."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from routing.model import Channel, Delivery
from routing.outbox import DeliveryWorker
from routing.outbox_reads import LaneReads
from tests.eventually import eventually
from tests.unit.fakes import FakeClock, FakeStore, RecordingSender
from tests.unit.test_outbox import conversation, enqueue

READS = ("get_message", "get_messages", "get_conversation", "get_conversations",
         "get_patron", "get_patrons", "lane_deliveries", "due_deliveries")


def count_calls(store: FakeStore, names: tuple[str, ...]) -> Counter[str]:
    """Count every call of the store's ``names`` (the fake keeps working as before)."""
    calls: Counter[str] = Counter()
    for name in names:
        real = getattr(store, name)

        async def counted(*args: Any, _real: Any = real, _name: str = name,
                          **kwargs: Any) -> Any:
            calls[_name] += 1
            return await _real(*args, **kwargs)

        setattr(store, name, counted)
    return calls


async def backlog(store: FakeStore, clock: FakeClock, lanes: int, each: int) -> list[list[str]]:
    """``each`` desk messages in each of ``lanes`` conversations, interleaved as live
    traffic would be; returns each conversation's texts in order."""
    chats = [await conversation(store, clock) for _ in range(lanes)]
    texts: list[list[str]] = [[] for _ in chats]
    for n in range(each):
        for i, chat in enumerate(chats):
            texts[i].append(f"lane {i} message {n}")
            await enqueue(store, clock, chat, texts[i][-1])
    return texts


class TestManyLanes:
    async def test_lanes_starting_together_cost_a_few_reads_not_a_few_per_lane(
        self, store: FakeStore, clock: FakeClock
    ) -> None:
        """60 conversations with 5 messages each, read 60 rows at a time: every message
        goes out in its lane's order, and the reads do not grow with the lanes (a read
        per lane would be 60 of each kind)."""
        texts = await backlog(store, clock, lanes=60, each=5)
        desk = RecordingSender("desk")
        worker = DeliveryWorker(store, clock, {Channel.DESK: desk}, batch=60)
        calls = count_calls(store, READS)
        await worker.run_until_idle()

        assert len(desk.sent) == 300
        for lane in texts:
            assert [t for t in desk.sent_texts() if t in lane] == lane
        assert calls["get_conversation"] == calls["get_patron"] == calls["get_message"] == 0
        assert calls["get_conversations"] == calls["get_patrons"] == 1
        # Lanes reading on in the same turn share one read of rows and one of messages.
        assert calls["lane_deliveries"] <= 6
        assert calls["get_messages"] <= 7
        assert worker.stats()["messages_read_ahead"] == 0

    async def test_a_burst_of_sends_shares_few_notes_written_one_at_a_time(
        self, store: FakeStore, clock: FakeClock
    ) -> None:
        """300 desk sends in 100 conversations, some slower than others: each starts
        after a note naming it is stored, the notes are written one after the other
        (never two at once), and there are far fewer of them than sends."""
        await backlog(store, clock, lanes=100, each=3)
        desk = RecordingSender("desk")
        named: list[bool] = []

        async def look(delivery: Delivery, *_: object) -> None:
            named.append(delivery.id in store.state.get("outbox.ledger", ""))
            for _ in range(len(named) % 5):  # sends end at different moments
                await asyncio.sleep(0)

        desk.during_send = look
        writing, most, notes = 0, 0, 0
        real = store.set_state

        async def set_state(key: str, value: str) -> None:
            nonlocal writing, most, notes
            writing += 1
            notes += 1
            most = max(most, writing)
            try:
                for _ in range(3):  # a write takes a while: other sends are noted meanwhile
                    await asyncio.sleep(0)
                await real(key, value)
            finally:
                writing -= 1

        store.set_state = set_state  # type: ignore[method-assign]
        await DeliveryWorker(store, clock, {Channel.DESK: desk}).run_until_idle()

        assert len(desk.sent) == 300 and all(named)
        assert most == 1
        assert notes <= 60


class TestFailedReads:
    async def test_a_failed_read_does_not_stop_the_outbox(
        self, store: FakeStore, clock: FakeClock
    ) -> None:
        """When reading what the starting lanes need fails, the worker logs it and tries
        again at its next poll; the messages then go out."""
        await backlog(store, clock, lanes=3, each=2)
        desk = RecordingSender("desk")
        worker = DeliveryWorker(store, clock, {Channel.DESK: desk}, idle_poll=0.01)
        real, failures = store.get_conversations, [OSError("disk I/O error")]

        async def flaky(ids: Any) -> Any:
            if failures:
                raise failures.pop()
            return await real(ids)

        store.get_conversations = flaky  # type: ignore[method-assign]
        task = asyncio.create_task(worker.run())
        try:
            # the retry waits a real poll (10 ms)
            await eventually(lambda: len(desk.sent) >= 6, within=2.0, every=0.005)
        finally:
            await worker.drain()
            await asyncio.wait_for(task, 1.0)
        assert not failures


class TestLaneReads:
    async def test_a_failed_read_reaches_every_lane_waiting_for_it(
        self, store: FakeStore, clock: FakeClock
    ) -> None:
        """When the shared read fails, each lane that joined it hears the error (its task
        ends and the outbox reads again later) instead of waiting forever."""
        reads = LaneReads(store, per_lane=10)

        async def broken(*_: object) -> list[Delivery]:
            raise OSError("disk I/O error")

        store.lane_deliveries = broken  # type: ignore[method-assign]
        lanes = [("c1", "desk"), ("c2", "desk")]
        results = await asyncio.gather(*(reads.read_on(lane, clock.now()) for lane in lanes),
                                       return_exceptions=True)
        assert [type(r) for r in results] == [OSError, OSError]

    async def test_a_lane_cancelled_while_waiting_leaves_nothing_read_ahead(
        self, store: FakeStore, clock: FakeClock
    ) -> None:
        """A lane stopped while its read is under way gets no messages kept for it; the
        lane that is still waiting gets its rows and their messages."""
        texts = await backlog(store, clock, lanes=2, each=2)
        chats = [next(m.conversation_id for m in store.messages.values() if m.text == lane[0])
                 for lane in texts]
        reads = LaneReads(store, per_lane=10)
        gone = asyncio.ensure_future(reads.read_on((chats[0], "desk"), clock.now()))
        kept = asyncio.ensure_future(reads.read_on((chats[1], "desk"), clock.now()))
        await asyncio.sleep(0)
        gone.cancel()
        rows = await kept
        assert [store.messages[d.message_id].text for d in rows] == texts[1]
        assert {m.text for m in reads.messages.values()} == set(texts[1])

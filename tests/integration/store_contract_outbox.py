"""The store's contract for the outbox rows, due and settled in lane order.

Implementation-agnostic: only the roles' methods, over any store given as the ``store``
fixture (SQLite in tests/integration, the in-memory fake in tests/unit).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from routing.model import (
    Channel,
    DeliveryState,
)
from routing.ports import Link, Store
from tests.integration.store_contract import (
    NOW,
    conversation_for,
    ids,
    patron,
    queued,
)


class OutboxContract:
    """The outbox rows (``routing.ports.OutboxRows``). Subclass it with a ``store`` fixture
    that yields an opened, empty store."""

    async def test_due_deliveries_are_oldest_first_and_limited(self, store: Store) -> None:
        """Due rows come in id order, ``limit`` first; rows due later are left out."""
        ana = await patron(store)
        a, b = await conversation_for(store, ana), await conversation_for(store, ana)
        first = await queued(store, a)
        second = await queued(store, b)
        third = await queued(store, a, Channel.WIDGET)
        later = await queued(store, b, Channel.WIDGET, at=NOW + 30)
        assert ids(await store.due_deliveries(NOW, 10)) == ids([first, second, third])
        assert ids(await store.due_deliveries(NOW, 2))[:2] == ids([first, second])
        assert ids(await store.due_deliveries(NOW + 30, 10))[-1] == later.id

    async def test_a_lane_reads_on_in_order_up_to_its_first_row_not_due(
            self, store: Store) -> None:
        """lane_deliveries gives one lane's pending rows oldest first, none of another
        lane, none done, and stops at the first row still waiting for its time."""
        ana = await patron(store)
        a, b = await conversation_for(store, ana), await conversation_for(store, ana)
        sent = await queued(store, a)
        await store.finish_delivery(sent.id, "1")
        first, second = await queued(store, a), await queued(store, a)
        await queued(store, a, Channel.WIDGET)
        await queued(store, b)
        later = await queued(store, a, at=NOW + 30)
        await queued(store, a)  # behind the one due later

        lane = [(a.id, "desk")]
        assert ids(await store.lane_deliveries(lane, NOW, 10)) == ids([first, second])
        assert ids(await store.lane_deliveries(lane, NOW, 1)) == ids([first])
        assert ids(await store.lane_deliveries(lane, NOW + 30, 10))[2] == later.id

    async def test_several_lanes_are_read_together(self, store: Store) -> None:
        """lane_deliveries over several lanes gives each lane's rows as a read of that
        lane alone would (each within its own limit and its own first row not due); an
        empty or unknown lane adds nothing."""
        ana = await patron(store)
        a, b, c = [await conversation_for(store, ana) for _ in range(3)]
        a_rows = [await queued(store, a) for _ in range(3)]
        b_rows = [await queued(store, b, Channel.WIDGET), await queued(store, b, at=NOW + 30)]
        c_rows = [await queued(store, c) for _ in range(2)]
        await queued(store, c, Channel.WIDGET)
        lanes = [(c.id, "desk"), (a.id, "desk"), (b.id, "widget"), (b.id, "desk"), ("x", "desk")]
        found = await store.lane_deliveries(lanes, NOW, 2)
        assert sorted(ids(found)) == sorted(ids([*a_rows[:2], b_rows[0], *c_rows]))
        for lane in lanes:
            alone = await store.lane_deliveries([lane], NOW, 2)
            assert [d for d in found if (d.conversation_id, d.destination.value) == lane] == alone
        assert await store.lane_deliveries([], NOW, 10) == []

    async def test_a_backlog_never_hides_another_lane(self, store: Store) -> None:
        """With a full batch of one conversation's desk backlog, a newer reply to another
        patron, and a newer conversation's first message, still come back, in lane order;
        a lane whose head waits for its retry stays out."""
        ana = await patron(store)
        busy, quiet, new = [await conversation_for(store, ana) for _ in range(3)]
        backlog = [await queued(store, busy) for _ in range(30)]
        reply = await queued(store, quiet, Channel.WIDGET)
        opening = await queued(store, new)
        retrying = await queued(store, new, Channel.WIDGET, at=NOW + 60)
        await queued(store, new, Channel.WIDGET)  # behind the retrying head

        due = ids(await store.due_deliveries(NOW, 10))
        assert due[:10] == ids(backlog[:10])
        assert reply.id in due and opening.id in due
        assert retrying.id not in due and len(set(due)) == len(due)

    async def test_a_skipped_destination_stays_in_the_store(self, store: Store) -> None:
        """``skip`` leaves a destination's rows out of the read, the lanes a full batch
        left out included; a newer reply elsewhere still comes, and a read without
        ``skip`` brings the skipped rows back in their order."""
        ana = await patron(store)
        busy, quiet, new = [await conversation_for(store, ana) for _ in range(3)]
        backlog = [await queued(store, busy) for _ in range(30)]
        reply = await queued(store, quiet, Channel.WIDGET)
        await queued(store, new)  # a desk lane the full batch leaves out
        assert ids(await store.due_deliveries(NOW, 10, skip=["desk"])) == [reply.id]
        assert ids(await store.due_deliveries(NOW, 10))[:10] == ids(backlog[:10])
        assert await store.pending_deliveries() == 32

    async def test_a_known_conversations_rows_are_never_skipped(self, store: Store) -> None:
        """Rows of a conversation the desk knows (its topic open, or answered) come
        back though their destination is skipped, in the page and in the lanes a full
        batch left out: nothing else would bring them while the destination is crowded."""
        ana = await patron(store)
        busy, topic, answered = [await conversation_for(store, ana) for _ in range(3)]
        await store.save_conversation(replace(topic, desk_thread=7))
        await store.save_conversation(replace(answered, first_response_at=NOW))
        in_page = await queued(store, topic)
        backlog = [await queued(store, busy) for _ in range(30)]
        left_out = await queued(store, answered)  # a desk lane the full batch leaves out
        due = ids(await store.due_deliveries(NOW, 10, skip=["desk"]))
        assert due == [in_page.id, left_out.id] and backlog[0].id not in due

    async def test_a_retrying_head_holds_back_its_lane_only(self, store: Store) -> None:
        """While a lane's oldest row waits for its retry, younger rows of that lane wait too."""
        ana = await patron(store)
        a, b = await conversation_for(store, ana), await conversation_for(store, ana)
        head = await queued(store, a)
        behind = await queued(store, a)
        other_destination = await queued(store, a, Channel.WIDGET)
        other_conversation = await queued(store, b)
        await store.retry_delivery(head.id, 1, NOW + 60, "429 Too Many Requests")
        due = await store.due_deliveries(NOW + 1, 10)
        assert ids(due) == ids([other_destination, other_conversation])
        due = await store.due_deliveries(NOW + 60, 10)
        assert ids(due) == ids([head, behind, other_destination, other_conversation])
        assert (due[0].attempts, due[0].next_attempt_at, due[0].last_error) == (
            1, NOW + 60, "429 Too Many Requests")

    async def test_a_young_row_due_later_does_not_block_older_ones(self, store: Store) -> None:
        """Only an older waiting row holds a lane back; a younger one waits alone."""
        conversation = await conversation_for(store, await patron(store))
        older = await queued(store, conversation)
        await queued(store, conversation, at=NOW + 60)
        assert ids(await store.due_deliveries(NOW, 10)) == [older.id]

    async def test_finished_delivery_is_no_longer_due(self, store: Store) -> None:
        """finish_delivery takes a row out of the pending set and unblocks nothing else."""
        conversation = await conversation_for(store, await patron(store))
        first = await queued(store, conversation)
        second = await queued(store, conversation)
        await store.finish_delivery(first.id, "tg-101")
        assert ids(await store.due_deliveries(NOW, 10)) == [second.id]
        assert await store.pending_deliveries() == 1

    async def test_finishing_with_a_link_saves_both(self, store: Store) -> None:
        """finish_delivery(link=...) marks the row done and makes the link findable; an
        unknown delivery id raises KeyError and saves no link."""
        conversation = await conversation_for(store, await patron(store))
        delivery = await queued(store, conversation)
        link = Link("desk", "tg-77", conversation.id, delivery.message_id)
        await store.finish_delivery(delivery.id, "tg-77", link)
        assert await store.pending_deliveries() == 0
        assert await store.find_link("desk", "tg-77") == link
        with pytest.raises(KeyError):
            await store.finish_delivery("nothing", "tg-78", replace(link, external_id="tg-78"))
        assert await store.find_link("desk", "tg-78") is None

    async def test_failed_delivery_leaves_and_unblocks_its_lane(self, store: Store) -> None:
        """fail_delivery ends a retrying head, and the rows behind it become due."""
        conversation = await conversation_for(store, await patron(store))
        head = await queued(store, conversation)
        behind = await queued(store, conversation)
        await store.retry_delivery(head.id, 1, NOW + 60, "timeout")
        assert await store.due_deliveries(NOW, 10) == []
        await store.fail_delivery(head.id, 2, "403 Forbidden: bot was blocked")
        assert ids(await store.due_deliveries(NOW, 10)) == [behind.id]
        assert await store.pending_deliveries() == 1

    async def test_a_retry_keeps_the_row_pending(self, store: Store) -> None:
        """retry_delivery leaves the row pending and counted."""
        conversation = await conversation_for(store, await patron(store))
        delivery = await queued(store, conversation)
        await store.retry_delivery(delivery.id, 3, NOW + 5, "502")
        assert await store.pending_deliveries() == 1
        [again] = await store.due_deliveries(NOW + 5, 10)
        assert again == replace(delivery, attempts=3, next_attempt_at=NOW + 5, last_error="502",
                                state=DeliveryState.PENDING)

    async def test_delivery_states_are_counted_and_kept(self, store: Store) -> None:
        """Done and failed rows stay readable and counted by state; an unknown id is None."""
        conversation = await conversation_for(store, await patron(store))
        done, failed, waiting = [await queued(store, conversation) for _ in range(3)]
        await store.finish_delivery(done.id, "tg-5")
        await store.fail_delivery(failed.id, 4, "403")
        assert await store.delivery_counts() == {"pending": 1, "done": 1, "failed": 1}
        assert await store.get_delivery(done.id) == replace(
            done, state=DeliveryState.DONE, external_id="tg-5")
        assert await store.get_delivery(failed.id) == replace(
            failed, state=DeliveryState.FAILED, attempts=4, last_error="403")
        assert await store.get_delivery(waiting.id) == waiting
        assert await store.get_delivery("nothing") is None

    async def test_updating_an_unknown_delivery_raises_key_error(self, store: Store) -> None:
        """finish, retry and fail of an id never queued raise KeyError."""
        with pytest.raises(KeyError):
            await store.finish_delivery("nothing", "x")
        with pytest.raises(KeyError):
            await store.retry_delivery("nothing", 1, NOW, "x")
        with pytest.raises(KeyError):
            await store.fail_delivery("nothing", 1, "x")

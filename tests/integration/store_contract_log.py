"""The store's contract for conversations and messages, and the reports across them.

Implementation-agnostic: only the roles' methods, over any store given as the ``store``
fixture (SQLite in tests/integration, the in-memory fake in tests/unit).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from routing.model import (
    Attachment,
    AttachmentKind,
    Channel,
    Conversation,
    Direction,
    PageInfo,
    Status,
    new_id,
)
from routing.ports import Store
from routing.reminders import Waiting
from tests.integration.store_contract import (
    NOW,
    conversation_for,
    delivery_for,
    message_in,
    patron,
)


class ConversationLogContract:
    """Conversations and messages (``routing.ports.ConversationLog``). Subclass it with a
    ``store`` fixture that yields an opened, empty store."""

    async def test_conversation_round_trips_every_field(self, store: Store) -> None:
        """A conversation with page, tags, rating and thread reads back equal."""
        ana = await patron(store)
        saved = Conversation(
            new_id(), ana.id, Channel.EMAIL, status=Status.CLOSED, claimed_by="Sari",
            claimed_by_id="77", desk_thread=12, after_hours=True, tags=("thesis", "ill"),
            rating=5, page=PageInfo(url="https://opac.example.org/record/1", title="Record",
                                    language="id", timezone="Asia/Jakarta"),
            created_at=NOW, updated_at=NOW + 5,
        )
        await store.save_conversation(saved)
        assert await store.get_conversation(saved.id) == saved
        assert await store.get_conversation("nothing") is None

    async def test_saving_a_conversation_again_updates_it(self, store: Store) -> None:
        """A claim saved over an open conversation is what every lookup then returns."""
        ana = await patron(store)
        first = await conversation_for(store, ana, desk_thread=3)
        claimed = replace(first, claimed_by="Sari", claimed_by_id="77", updated_at=NOW + 1)
        await store.save_conversation(claimed)
        assert await store.get_conversation(first.id) == claimed
        assert await store.latest_conversation(ana.id) == claimed
        assert await store.conversation_by_thread(3) == claimed

    async def test_conversation_is_found_by_its_desk_thread(self, store: Store) -> None:
        """conversation_by_thread finds the conversation whose topic it is, and no other."""
        ana = await patron(store)
        await conversation_for(store, ana, desk_thread=10)
        eleven = await conversation_for(store, ana, desk_thread=11)
        assert await store.conversation_by_thread(11) == eleven
        assert await store.conversation_by_thread(12) is None

    async def test_thread_given_later_is_found(self, store: Store) -> None:
        """A desk thread set by a later save is found by conversation_by_thread."""
        ana = await patron(store)
        first = await conversation_for(store, ana)
        assert await store.conversation_by_thread(40) is None
        await store.save_conversation(replace(first, desk_thread=40))
        assert await store.conversation_by_thread(40) == replace(first, desk_thread=40)

    async def test_latest_conversation_is_the_newest(self, store: Store) -> None:
        """latest_conversation returns the patron's newest conversation, not another's."""
        ana, budi = await patron(store), await patron(store)
        assert await store.latest_conversation(ana.id) is None
        await conversation_for(store, ana, at=NOW)
        newest = await conversation_for(store, ana, at=NOW + 60)
        await conversation_for(store, budi, at=NOW + 120)
        assert await store.latest_conversation(ana.id) == newest
        later = await conversation_for(store, ana, at=NOW + 180)
        assert await store.latest_conversation(ana.id) == later

    async def test_desk_fields_round_trip(self, store: Store) -> None:
        """Subject, closing, first response and rating details read back equal."""
        ana = await patron(store)
        saved = Conversation(
            new_id(), ana.id, Channel.EMAIL, status=Status.CLOSED, subject="Renewal",
            closed_at=NOW + 9, first_response_at=NOW + 3, rating=4, rating_comment="Thanks",
            rated_librarian_id="77", created_at=NOW, updated_at=NOW + 9,
        )
        await store.save_conversation(saved)
        assert await store.get_conversation(saved.id) == saved

    async def test_append_stores_message_and_its_deliveries(self, store: Store) -> None:
        """append returns (message, True); the message reads back and its delivery is due."""
        conversation = await conversation_for(store, await patron(store))
        message = message_in(conversation, client_id="c-1")
        delivery = delivery_for(message)
        assert await store.append(message, [delivery]) == (message, True)
        assert await store.get_message(message.id) == message
        assert await store.get_message("nothing") is None
        assert await store.due_deliveries(NOW, 10) == [delivery]
        assert await store.pending_deliveries() == 1

    async def test_a_message_keeps_its_files_in_order(self, store: Store) -> None:
        """Attachments (an album, a refused file with its note) read back as written."""
        conversation = await conversation_for(store, await patron(store))
        files = (
            Attachment(AttachmentKind.PHOTO, "shelf \"A\".jpg", "image/jpeg", 2048, "ab" * 32),
            Attachment(AttachmentKind.DOCUMENT, "thesis.pdf", "application/pdf", 60_000_000,
                       "", "larger than the 20 MB limit"),
        )
        message = replace(message_in(conversation), text="", attachments=files)
        await store.append(message, [delivery_for(message)])
        assert await store.get_message(message.id) == message
        assert (await store.history(conversation.id))[-1].attachments == files

    async def test_messages_are_read_several_at_a_time(self, store: Store) -> None:
        """get_messages returns every stored message asked for, by id; unknown ids are
        left out."""
        conversation = await conversation_for(store, await patron(store))
        stored = [message_in(conversation, f"question {n}") for n in range(3)]
        for message in stored:
            await store.append(message, [])
        found = await store.get_messages([stored[2].id, "nothing", stored[0].id])
        assert found == {stored[2].id: stored[2], stored[0].id: stored[0]}
        assert await store.get_messages([]) == {}

    async def test_patrons_and_conversations_are_read_several_at_a_time(
        self, store: Store
    ) -> None:
        """get_patrons and get_conversations return what the single reads return, by id,
        cached or not; unknown ids are left out."""
        people = [await patron(store, f"visitor-{n}", name=f"P{n}") for n in range(3)]
        chats = [await conversation_for(store, p) for p in people]
        assert await store.get_patrons([people[2].id, "nothing", people[0].id]) == {
            people[2].id: people[2], people[0].id: people[0]}
        assert await store.get_conversations({chats[1].id, "nothing"}) == {
            chats[1].id: chats[1]}
        moved = replace(chats[1], desk_thread=42)
        await store.save_conversation(moved)
        found = await store.get_conversations([c.id for c in chats])
        assert found == {c.id: c for c in (chats[0], moved, chats[2])}
        assert await store.get_patrons([]) == {} and await store.get_conversations([]) == {}

    async def test_resend_with_same_client_id_is_not_doubled(self, store: Store) -> None:
        """A second append with a known client_id returns the first message, created=False."""
        conversation = await conversation_for(store, await patron(store))
        first = message_in(conversation, "first try", client_id="c-1")
        await store.append(first, [delivery_for(first)])
        again = message_in(conversation, "second try", client_id="c-1")
        assert await store.append(again, [delivery_for(again)]) == (first, False)
        assert await store.history(conversation.id) == [first]
        assert await store.pending_deliveries() == 1

    async def test_concurrent_resends_store_one_message(self, store: Store) -> None:
        """Ten simultaneous appends of one client_id: one row, exactly one created=True."""
        conversation = await conversation_for(store, await patron(store))
        tries = [message_in(conversation, f"try {n}", client_id="c-1") for n in range(10)]
        results = await asyncio.gather(*(store.append(m, [delivery_for(m)]) for m in tries))
        assert sum(created for _, created in results) == 1
        assert len({stored.id for stored, _ in results}) == 1
        assert len(await store.history(conversation.id)) == 1
        assert await store.pending_deliveries() == 1

    async def test_client_id_is_unique_per_conversation_only(self, store: Store) -> None:
        """The same client_id in two conversations, or an empty one, never de-duplicates."""
        ana = await patron(store)
        one, two = await conversation_for(store, ana), await conversation_for(store, ana)
        assert (await store.append(message_in(one, client_id="c-1"), []))[1]
        assert (await store.append(message_in(two, client_id="c-1"), []))[1]
        assert (await store.append(message_in(one), []))[1]
        assert (await store.append(message_in(one), []))[1]
        assert len(await store.history(one.id)) == 3

    async def test_appending_a_stored_message_id_again_is_refused(self, store: Store) -> None:
        """A message id stored before raises ValueError and adds nothing."""
        conversation = await conversation_for(store, await patron(store))
        message = message_in(conversation)
        await store.append(message, [])
        with pytest.raises(ValueError):
            await store.append(replace(message, text="other"), [delivery_for(message)])
        assert await store.history(conversation.id) == [message]
        assert await store.pending_deliveries() == 0

    async def test_a_doubled_delivery_key_refuses_the_whole_append(self, store: Store) -> None:
        """An idempotency key already queued raises ValueError and stores no message."""
        conversation = await conversation_for(store, await patron(store))
        first = message_in(conversation)
        await store.append(first, [delivery_for(first)])
        second = message_in(conversation)
        clash = replace(delivery_for(second), idempotency_key=f"{first.id}:desk")
        with pytest.raises(ValueError):
            await store.append(second, [clash])
        assert await store.get_message(second.id) is None
        assert await store.pending_deliveries() == 1

    async def test_records_of_an_unknown_owner_are_refused(self, store: Store) -> None:
        """A conversation of a patron, or a message of a conversation, the store does not
        hold raises ValueError and is not kept."""
        stranger = Conversation(new_id(), "nobody", Channel.WIDGET, created_at=NOW,
                                updated_at=NOW)
        with pytest.raises(ValueError):
            await store.save_conversation(stranger)
        assert await store.get_conversation(stranger.id) is None
        orphan = message_in(stranger)
        with pytest.raises(ValueError):
            await store.append(orphan, [delivery_for(orphan)])
        assert await store.get_message(orphan.id) is None
        assert await store.pending_deliveries() == 0

    async def test_history_is_in_order_and_pages_with_after(self, store: Store) -> None:
        """history lists a conversation's messages oldest first, after an id, up to a limit."""
        ana = await patron(store)
        conversation, other = await conversation_for(store, ana), await conversation_for(store, ana)
        messages = [message_in(conversation, f"m{n}") for n in range(5)]
        await store.append(message_in(other), [])
        for message in reversed(messages):  # arrival order must not matter, ids decide
            await store.append(message, [])
        assert await store.history(conversation.id) == messages
        assert await store.history(conversation.id, after=messages[1].id) == messages[2:]
        assert await store.history(conversation.id, after=messages[1].id, limit=2) == messages[2:4]
        assert await store.history(conversation.id, after=messages[4].id) == []

    async def test_an_edit_keeps_what_it_replaces(self, store: Store) -> None:
        """A message's ``replaces`` reads back from get_message and history."""
        conversation = await conversation_for(store, await patron(store))
        original = message_in(conversation, direction=Direction.LIBRARIAN)
        edit = replace(message_in(conversation, "Fixed", direction=Direction.LIBRARIAN),
                       event="edited", replaces=original.id)
        await store.append(original, [])
        await store.append(edit, [])
        assert await store.get_message(edit.id) == edit
        assert (await store.history(conversation.id))[-1].replaces == original.id

    async def test_concurrent_writes_are_each_visible_once_acknowledged(
        self, store: Store
    ) -> None:
        """Each of many simultaneous writers reads its own write as soon as it returns."""
        ana = await patron(store)

        async def one(n: int) -> None:
            conversation = await conversation_for(store, ana, at=NOW + n)
            assert await store.get_conversation(conversation.id) == conversation
            message = message_in(conversation, client_id=f"c-{n}")
            await store.append(message, [delivery_for(message)])
            assert await store.history(conversation.id) == [message]

        await asyncio.gather(*(one(n) for n in range(50)))
        assert await store.pending_deliveries() == 50
        latest = await store.latest_conversation(ana.id)
        assert latest is not None and latest.created_at == NOW + 49


class ReportsContract:
    """Reads across conversations (``routing.ports.Reports``). Subclass it with a ``store`` fixture
    that yields an opened, empty store."""

    async def test_patron_conversations_newest_first(self, store: Store) -> None:
        """A patron's conversations come newest first, limited, and only theirs."""
        ana, budi = await patron(store), await patron(store)
        made = [await conversation_for(store, ana, at=NOW + i) for i in range(3)]
        await conversation_for(store, budi)
        found = await store.patron_conversations(ana.id, limit=2)
        assert [c.id for c in found] == [made[2].id, made[1].id]

    async def test_conversations_page_newest_first(self, store: Store) -> None:
        """conversations pages through every conversation, newest first."""
        ana, budi = await patron(store), await patron(store)
        made = [await conversation_for(store, who, at=NOW + i)
                for i, who in enumerate((ana, budi, ana))]
        assert [c.id for c in await store.conversations()] == [c.id for c in reversed(made)]
        assert [c.id for c in await store.conversations(limit=1, offset=1)] == [made[1].id]

    async def test_waiting_patrons_since_the_last_answer(self, store: Store) -> None:
        """waiting lists open conversations with a patron message after the last librarian
        answer, since the first such message, with the reminders noted since it and
        whether the patron's lines have all reached the topic; answered, closed and silent
        conversations are left out."""
        ana = await patron(store)
        asking, answered, closed, silent = [await conversation_for(store, ana) for _ in range(4)]
        await store.save_conversation(replace(closed, status=Status.CLOSED))
        old = replace(message_in(asking, "hello?"), created_at=NOW - 50)
        await store.append(old, [])
        await store.append(replace(message_in(asking, direction=Direction.LIBRARIAN)), [])
        first = replace(message_in(asking, "still there?"), created_at=NOW + 10)
        await store.append(first, [delivery_for(first)])  # not yet in the topic
        await store.append(replace(message_in(asking), created_at=NOW + 20), [])
        reminder = replace(message_in(asking, "⏰", direction=Direction.NOTE), event="reminder",
                           created_at=NOW + 300)
        await store.append(reminder, [])
        for conversation in (answered, closed):
            await store.append(message_in(conversation), [])
        await store.append(message_in(answered, direction=Direction.LIBRARIAN), [])
        assert silent.id not in [w.conversation_id for w in await store.waiting()]
        assert await store.waiting() == [Waiting(asking.id, NOW + 10, 1, NOW + 300, False)]
        await store.finish_delivery((await store.due_deliveries(NOW + 10, 10))[0].id, "1")
        [again] = await store.waiting()
        assert again.in_topic

    async def test_conversations_since(self, store: Store) -> None:
        """Conversations created at or after a moment come oldest first."""
        ana = await patron(store)
        await conversation_for(store, ana, at=NOW - 1)
        kept = [await conversation_for(store, ana, at=NOW + i) for i in (0, 5)]
        assert [c.id for c in await store.conversations_since(NOW)] == [c.id for c in kept]

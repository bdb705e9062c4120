"""The promises every ``routing.ports.Store`` keeps, as one test class.

A backend's test module subclasses ``StoreContract`` and provides an opened store as the
``store`` fixture (aiogram's pattern: one suite, every storage). Only the protocol's
methods are used here, so SQLite, Redis or any later backend runs exactly these tests.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from routing.model import (
    Attachment,
    AttachmentKind,
    Block,
    BlockKind,
    Channel,
    Contact,
    Conversation,
    Delivery,
    DeliveryKind,
    DeliveryState,
    Direction,
    Librarian,
    Message,
    PageInfo,
    Patron,
    Status,
    new_id,
)
from routing.ports import Link, Store

__all__ = [
    "NOW",
    "DeskRecordsContract",
    "StoreContract",
    "conversation_for",
    "delivery_for",
    "message_in",
    "patron",
]

NOW = 1_700_000_000.0


async def patron(store: Store, *addresses: str, name: str = "") -> Patron:
    """A saved patron reachable on the widget at each of ``addresses``."""
    contacts = tuple(Contact(Channel.WIDGET, a) for a in addresses or (new_id(),))
    saved = Patron(new_id(), name=name, contacts=contacts, created_at=NOW)
    await store.save_patron(saved)
    return saved


async def conversation_for(store: Store, owner: Patron, *, at: float = NOW,
                           desk_thread: int | None = None) -> Conversation:
    saved = Conversation(new_id(), owner.id, Channel.WIDGET, desk_thread=desk_thread,
                         created_at=at, updated_at=at)
    await store.save_conversation(saved)
    return saved


def message_in(conversation: Conversation, text: str = "Is the library open?", *,
               client_id: str = "", direction: Direction = Direction.PATRON) -> Message:
    return Message(new_id(), conversation.id, direction, text, author="Ana",
                   client_id=client_id, created_at=NOW)


def delivery_for(message: Message, destination: Channel = Channel.DESK, *,
                 at: float = NOW) -> Delivery:
    return Delivery(new_id(), message.conversation_id, message.id, DeliveryKind.TO_DESK,
                    destination, f"{message.id}:{destination.value}", next_attempt_at=at,
                    created_at=at)


async def queued(store: Store, conversation: Conversation, destination: Channel = Channel.DESK,
                 *, at: float = NOW) -> Delivery:
    """Append a message with one delivery to ``destination``; return the delivery."""
    message = message_in(conversation)
    delivery = delivery_for(message, destination, at=at)
    await store.append(message, [delivery])
    return delivery


def ids(deliveries: list[Delivery]) -> list[str]:
    return [d.id for d in deliveries]


class StoreContract:
    """Subclass it and give a ``store`` fixture that yields an opened, empty store."""

    # -- patrons -----------------------------------------------------------------------

    async def test_patron_round_trips_with_its_contacts_in_order(self, store: Store) -> None:
        """A saved patron reads back equal, contacts in the order they were given."""
        saved = Patron(new_id(), name="Ana", email="ana@example.org", member_number="M-17",
                       contacts=(Contact(Channel.WIDGET, "v-1"),
                                 Contact(Channel.EMAIL, "ana@example.org"),
                                 Contact(Channel.TELEGRAM, "4242")),
                       created_at=NOW)
        await store.save_patron(saved)
        assert await store.get_patron(saved.id) == saved

    async def test_patron_is_found_by_each_of_its_contacts(self, store: Store) -> None:
        """patron_by_contact finds the patron through any contact, and nobody for a stranger."""
        ana = await patron(store, "v-1", "v-2")
        assert await store.patron_by_contact(Contact(Channel.WIDGET, "v-2")) == ana
        assert await store.patron_by_contact(Contact(Channel.WIDGET, "v-1")) == ana
        assert await store.patron_by_contact(Contact(Channel.EMAIL, "v-1")) is None
        assert await store.get_patron("nobody") is None

    async def test_contact_removed_from_patron_no_longer_finds_them(self, store: Store) -> None:
        """Saving a patron without a contact frees that contact."""
        ana = await patron(store, "v-1", "v-2")
        assert await store.patron_by_contact(Contact(Channel.WIDGET, "v-1")) == ana
        await store.save_patron(replace(ana, contacts=(Contact(Channel.WIDGET, "v-2"),)))
        assert await store.patron_by_contact(Contact(Channel.WIDGET, "v-1")) is None

    async def test_a_stranger_found_later_is_not_remembered_as_unknown(self, store: Store) -> None:
        """A contact looked up before its patron existed is found once the patron is saved."""
        assert await store.patron_by_contact(Contact(Channel.WIDGET, "v-9")) is None
        ana = await patron(store, "v-9")
        assert await store.patron_by_contact(Contact(Channel.WIDGET, "v-9")) == ana

    async def test_saving_a_patron_again_updates_it(self, store: Store) -> None:
        """The second save of a patron replaces the first, their language included."""
        ana = await patron(store, "v-1")
        named = replace(ana, name="Ana Lestari", email="ana@example.org", language="id")
        await store.save_patron(named)
        assert await store.get_patron(ana.id) == named
        assert await store.patron_by_contact(Contact(Channel.WIDGET, "v-1")) == named

    # -- conversations -----------------------------------------------------------------

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

    # -- messages ----------------------------------------------------------------------

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

    # -- the outbox --------------------------------------------------------------------

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

    async def test_updating_an_unknown_delivery_raises_key_error(self, store: Store) -> None:
        """finish, retry and fail of an id never queued raise KeyError."""
        with pytest.raises(KeyError):
            await store.finish_delivery("nothing", "x")
        with pytest.raises(KeyError):
            await store.retry_delivery("nothing", 1, NOW, "x")
        with pytest.raises(KeyError):
            await store.fail_delivery("nothing", 1, "x")

    # -- links and state ---------------------------------------------------------------

    async def test_links_are_found_by_channel_and_external_id(self, store: Store) -> None:
        """find_link returns what save_link stored, keyed by channel and external id."""
        conversation = await conversation_for(store, await patron(store))
        link = Link("desk", "5501", conversation.id, "m-1")
        await store.save_link(link)
        assert await store.find_link("desk", "5501") == link
        assert await store.find_link("email", "5501") is None
        moved = replace(link, message_id="m-2")
        await store.save_link(moved)
        assert await store.find_link("desk", "5501") == moved

    async def test_state_keeps_the_last_value(self, store: Store) -> None:
        """get_state returns None for an unknown key, then the last value set."""
        assert await store.get_state("imap.uidvalidity") is None
        await store.set_state("imap.uidvalidity", "1700")
        await store.set_state("imap.uidvalidity", "1701")
        assert await store.get_state("imap.uidvalidity") == "1701"

    # -- every write is visible once acknowledged ----------------------------------------

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
            await store.set_state(f"k{n}", str(n))
            assert await store.get_state(f"k{n}") == str(n)

        await asyncio.gather(*(one(n) for n in range(50)))
        assert await store.pending_deliveries() == 50
        latest = await store.latest_conversation(ana.id)
        assert latest is not None and latest.created_at == NOW + 49


class DeskRecordsContract:
    """The desk's records: new conversation fields, edits, history, stats, blocks,
    librarians. Subclass it beside ``StoreContract`` with the same ``store`` fixture."""

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

    async def test_patron_conversations_newest_first(self, store: Store) -> None:
        """A patron's conversations come newest first, limited, and only theirs."""
        ana, budi = await patron(store), await patron(store)
        made = [await conversation_for(store, ana, at=NOW + i) for i in range(3)]
        await conversation_for(store, budi)
        found = await store.patron_conversations(ana.id, limit=2)
        assert [c.id for c in found] == [made[2].id, made[1].id]

    async def test_conversations_since(self, store: Store) -> None:
        """Conversations created at or after a moment come oldest first."""
        ana = await patron(store)
        await conversation_for(store, ana, at=NOW - 1)
        kept = [await conversation_for(store, ana, at=NOW + i) for i in (0, 5)]
        assert [c.id for c in await store.conversations_since(NOW)] == [c.id for c in kept]

    async def test_blocks_match_exactly_until_they_expire(self, store: Store) -> None:
        """find_block matches any given (kind, value) while the block is in force."""
        hour = Block(new_id(), BlockKind.IP, "203.0.113.0/24", NOW + 3600, "Ana", "", NOW)
        ever = Block(new_id(), BlockKind.EMAIL, "eve@example.org", None, "Ana", "", NOW + 1)
        await store.save_block(hour)
        await store.save_block(ever)
        keys = [(BlockKind.VISITOR, "v"), (BlockKind.IP, "203.0.113.0/24")]
        assert await store.find_block(keys, NOW) == hour
        assert await store.find_block(keys, NOW + 3600) is None
        assert await store.find_block([(BlockKind.IP, "203.0.114.0/24")], NOW) is None
        assert await store.find_block([(BlockKind.EMAIL, "eve@example.org")], NOW * 2) == ever
        assert await store.active_blocks(NOW) == [hour, ever]
        assert await store.active_blocks(NOW + 3600) == [ever]

    async def test_removed_block_no_longer_matches(self, store: Store) -> None:
        """remove_block lifts a block; removing an unknown id is not an error."""
        block = Block(new_id(), BlockKind.TELEGRAM, "777", None, "Ana", "", NOW)
        await store.save_block(block)
        await store.remove_block(block.id)
        await store.remove_block("unknown")
        assert await store.find_block([(BlockKind.TELEGRAM, "777")], NOW) is None
        assert await store.active_blocks(NOW) == []

    async def test_librarians(self, store: Store) -> None:
        """Librarians are found by id and username (any case, with or without @); the
        on-duty list holds those on duty, longest-serving first."""
        ana = Librarian("1", "Ana", "ana_l", True, NOW + 5)
        budi = Librarian("2", "Budi", "", True, NOW)
        await store.save_librarian(ana)
        await store.save_librarian(budi)
        await store.save_librarian(Librarian("3", "Citra", "citra", False, NOW))
        assert await store.get_librarian("1") == ana
        assert await store.librarian_by_username("@Ana_L") == ana
        assert await store.librarian_by_username("") is None
        assert [lib.id for lib in await store.librarians_on_duty()] == ["2", "1"]
        await store.save_librarian(replace(ana, on_duty=False, changed_at=NOW + 9))
        assert [lib.id for lib in await store.librarians_on_duty()] == ["2"]

"""The router: which conversation a message joins and which outbox rows it leaves."""

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
    DeliveryKind,
    DeskReply,
    Direction,
    Inbound,
    PageInfo,
    Status,
    new_id,
)
from routing.ports import Link
from routing.router import Claimed, Refused, Router, RouterPolicy
from tests.unit.fakes import FakeClock, FakeStore

PAGE = PageInfo(url="https://opac.example.org/record/42", title="Catalogue", language="id")


def widget(
    text: str = "Is the library open on Sunday?",
    *,
    client_id: str = "",
    name: str = "",
    email: str = "",
    page: PageInfo | None = None,
) -> Inbound:
    return Inbound(
        Channel.WIDGET, "visitor-1", text, client_id=client_id, name=name, email=email, page=page
    )


def answer(conversation_id: str, text: str = "Yes, 10 to 4.", who: str = "ana") -> DeskReply:
    return DeskReply(conversation_id, f"id-{who}", who.title(), text)


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, queued: object = ()) -> None:
        self.calls += 1


@pytest.fixture
def enqueued() -> Counter:
    return Counter()


@pytest.fixture
def router(store: FakeStore, clock: FakeClock, enqueued: Counter) -> Router:
    return Router(store, clock, on_enqueue=enqueued)


class TestAccept:
    async def test_first_message_opens_conversation(
        self, router: Router, store: FakeStore, clock: FakeClock
    ) -> None:
        """A new patron's first message opens one conversation that remembers where it came from."""
        accepted = await router.intake.accept(widget(client_id="c1", page=PAGE))

        assert list(store.conversations_by_id.values()) == [accepted.conversation]
        assert accepted.conversation.origin is Channel.WIDGET
        assert accepted.conversation.page == PAGE
        assert accepted.conversation.status is Status.OPEN
        assert accepted.conversation.created_at == clock.now()
        assert store.history_of(accepted.conversation.id) == [accepted.message]
        assert accepted.message.direction is Direction.PATRON
        assert not accepted.duplicate

    async def test_first_message_enqueues_one_desk_delivery(
        self, router: Router, store: FakeStore
    ) -> None:
        """The first message leaves exactly one outbox row: to the desk, due now."""
        accepted = await router.intake.accept(widget())

        [delivery] = store.deliveries.values()
        assert delivery.message_id == accepted.message.id
        assert delivery.kind is DeliveryKind.TO_DESK
        assert delivery.destination is Channel.DESK
        assert delivery.next_attempt_at == accepted.message.created_at

    async def test_same_contact_same_conversation(self, router: Router, store: FakeStore) -> None:
        """Later messages from the same contact land in the same open conversation."""
        first = await router.intake.accept(widget("Hello", client_id="c1"))
        second = await router.intake.accept(widget("Are you there?", client_id="c2"))

        assert second.conversation.id == first.conversation.id
        assert [m.text for m in store.history_of(first.conversation.id)] == [
            "Hello", "Are you there?"
        ]
        assert len(store.deliveries) == 2

    async def test_other_contact_other_conversation(self, router: Router) -> None:
        """A different contact gets a different patron and conversation."""
        first = await router.intake.accept(widget())
        other = await router.intake.accept(Inbound(Channel.EMAIL, "sari@example.org", "Hello"))

        assert other.conversation.id != first.conversation.id
        assert other.patron.id != first.patron.id
        assert other.conversation.origin is Channel.EMAIL

    async def test_resend_is_duplicate(self, router: Router, store: FakeStore) -> None:
        """Resending a client_id returns the stored message as duplicate and enqueues nothing."""
        first = await router.intake.accept(widget(client_id="c1"))
        again = await router.intake.accept(widget(client_id="c1"))

        assert again.duplicate
        assert again.message == first.message
        assert len(store.messages) == 1
        assert len(store.deliveries) == 1

    async def test_concurrent_first_messages_open_one_conversation(
        self, router: Router, store: FakeStore
    ) -> None:
        """Two first messages from one new contact at once make one patron and one conversation."""
        one, two = await asyncio.gather(
            router.intake.accept(widget("one", client_id="c1")),
            router.intake.accept(widget("two", client_id="c2")),
        )

        assert one.conversation.id == two.conversation.id
        assert len(store.patrons) == 1
        assert len(store.conversations_by_id) == 1
        assert len(store.history_of(one.conversation.id)) == 2

    @pytest.mark.parametrize("text", ["", "   ", "\r\n\t"])
    async def test_empty_refused(self, router: Router, store: FakeStore, text: str) -> None:
        """Empty or blank text is refused with code "empty" and nothing is stored."""
        with pytest.raises(Refused) as refused:
            await router.intake.accept(widget(text))

        assert refused.value.code == "empty"
        assert not (store.patrons or store.conversations_by_id or store.messages
                    or store.deliveries)

    async def test_too_long_refused(self, store: FakeStore, clock: FakeClock) -> None:
        """Text over the policy's limit is refused with code "too_long" and nothing is stored."""
        router = Router(store, clock, policy=RouterPolicy(max_text=10))

        assert (await router.intake.accept(widget("x" * 10))).message.text == "x" * 10
        with pytest.raises(Refused) as refused:
            await router.intake.accept(widget("x" * 11))

        assert refused.value.code == "too_long"
        assert len(store.messages) == 1 and len(store.deliveries) == 1

    async def test_text_is_normalised(self, router: Router) -> None:
        """CRLF becomes LF and surrounding blanks go, so every channel stores the same text."""
        accepted = await router.intake.accept(widget("  line one\r\nline two \n"))

        assert accepted.message.text == "line one\nline two"

    async def test_name_and_email_update_patron(self, router: Router, store: FakeStore) -> None:
        """A name or email given with a message is saved on the patron; blanks keep the old."""
        first = await router.intake.accept(widget("Hi", client_id="c1"))
        await router.intake.accept(widget("I am Sari", client_id="c2", name="Sari"))
        last = await router.intake.accept(widget("Mail me", client_id="c3",
                                                 email="sari@example.org"))

        assert store.patrons[first.patron.id].name == "Sari"
        assert store.patrons[first.patron.id].email == "sari@example.org"
        assert last.message.author == "Sari"
        assert len(store.patrons) == 1

    async def test_page_language_updates_patron_only_when_given(
        self, router: Router, store: FakeStore
    ) -> None:
        """A message's page language is saved on the patron; a page without one, or the
        same details again, leaves the stored patron as it was (not saved anew)."""
        first = await router.intake.accept(widget("Hi", client_id="c1", name="Sari"))
        await router.intake.accept(widget("Halo", client_id="c2", page=PageInfo(language="id")))
        saved = store.patrons[first.patron.id]
        assert (saved.name, saved.language) == ("Sari", "id")
        await router.intake.accept(widget("Lagi", client_id="c3", name="Sari",
                                          page=PageInfo(language="id")))
        await router.intake.accept(widget("Lagi", client_id="c4", page=PageInfo()))
        assert store.patrons[first.patron.id] is saved

    async def test_closed_conversation_starts_new(self, router: Router, store: FakeStore) -> None:
        """After a conversation is closed the patron's next message opens a new one."""
        first = await router.intake.accept(widget("Hello", client_id="c1"))
        closed = replace(first.conversation, status=Status.CLOSED)
        await store.save_conversation(closed)

        second = await router.intake.accept(widget("Hello again", client_id="c2"))

        assert second.conversation.id != first.conversation.id
        assert second.conversation.status is Status.OPEN
        assert second.patron.id == first.patron.id
        assert store.conversations_by_id[first.conversation.id].status is Status.CLOSED

    async def test_on_enqueue(self, router: Router, enqueued: Counter) -> None:
        """on_enqueue is called for every new message and not for a duplicate."""
        await router.intake.accept(widget(client_id="c1"))
        assert enqueued.calls == 1
        await router.intake.accept(widget(client_id="c1"))
        assert enqueued.calls == 1
        await router.intake.accept(widget(client_id="c2"))
        assert enqueued.calls == 2

    async def test_refused_does_not_enqueue(self, router: Router, enqueued: Counter) -> None:
        """A refused message does not wake the outbox."""
        with pytest.raises(Refused):
            await router.intake.accept(widget(" "))
        assert enqueued.calls == 0


class TestIdentify:
    async def test_identify_creates_and_updates(self, router: Router, store: FakeStore) -> None:
        """identify() creates a patron for a new contact and later fills in what was given."""
        contact = Contact(Channel.WIDGET, "visitor-1")
        made = await router.intake.identify(contact, name="Sari")
        updated = await router.intake.identify(contact, email="sari@example.org")

        assert updated.id == made.id
        assert store.patrons == {made.id: updated}
        assert (updated.name, updated.email) == ("Sari", "sari@example.org")

    async def test_identify_racing_first_message(self, router: Router, store: FakeStore) -> None:
        """A pre-chat form and a first message arriving at once make one patron with the name."""
        contact = Contact(Channel.WIDGET, "visitor-1")
        await asyncio.gather(router.intake.identify(contact, name="Sari"),
                             router.intake.accept(widget()))

        with_contact = [p for p in store.patrons.values() if contact in p.contacts]
        assert len(with_contact) == 1
        assert with_contact[0].name == "Sari"


async def conversation_from(router: Router, inbound: Inbound) -> str:
    return (await router.intake.accept(inbound)).conversation.id


class TestReply:
    @pytest.mark.parametrize(
        "inbound",
        [
            widget(),
            Inbound(Channel.EMAIL, "sari@example.org", "Hello"),
            Inbound(Channel.TELEGRAM, "777", "Hello"),
        ],
        ids=lambda i: i.channel.value,
    )
    async def test_reply_goes_to_origin(
        self, router: Router, store: FakeStore, inbound: Inbound
    ) -> None:
        """A librarian's reply is stored as LIBRARIAN and queued to the conversation's origin."""
        cid = await conversation_from(router, inbound)
        reply = await router.desk.reply(answer(cid, "  We open at ten.  "))

        assert reply is not None
        assert (reply.direction, reply.author, reply.text) == (
            Direction.LIBRARIAN, "Ana", "We open at ten."
        )
        assert store.messages[reply.id] == reply
        [delivery] = store.deliveries_of(reply.id)
        assert (delivery.kind, delivery.destination) == (DeliveryKind.TO_PATRON, inbound.channel)

    async def test_first_reply_claims(self, router: Router, store: FakeStore) -> None:
        """The first reply claims the conversation and announces it to the widget and the desk."""
        cid = await conversation_from(router, widget())
        reply = await router.desk.reply(answer(cid, who="ana"))
        assert reply is not None

        conversation = store.conversations_by_id[cid]
        assert (conversation.claimed_by, conversation.claimed_by_id) == ("Ana", "id-ana")
        [claim] = [m for m in store.history_of(cid) if m.direction is Direction.SYSTEM]
        assert claim.event == "claimed"
        assert claim.id < reply.id  # the patron sees who answers before the answer
        routes = {(d.kind, d.destination) for d in store.deliveries_of(claim.id)}
        assert routes == {
            (DeliveryKind.TO_PATRON, Channel.WIDGET),
            (DeliveryKind.DESK_NOTICE, Channel.DESK),
        }

    async def test_second_librarian_is_stopped(self, router: Router, store: FakeStore) -> None:
        """A second librarian's reply raises Claimed naming the holder; nothing is stored."""
        cid = await conversation_from(router, widget())
        await router.desk.reply(answer(cid, "First", who="ana"))
        before = (len(store.messages), len(store.deliveries))

        with pytest.raises(Claimed) as claimed:
            await router.desk.reply(answer(cid, "Second", who="budi"))

        assert (claimed.value.holder_id, claimed.value.holder_name) == ("id-ana", "Ana")
        assert claimed.value.code == "claimed"
        assert store.conversations_by_id[cid].claimed_by_id == "id-ana"
        assert (len(store.messages), len(store.deliveries)) == before

    async def test_email_claim_not_sent_to_patron(self, router: Router, store: FakeStore) -> None:
        """For an email conversation the claim line goes to the desk only, never to the patron."""
        cid = await conversation_from(router, Inbound(Channel.EMAIL, "sari@example.org", "Hi"))
        await router.desk.reply(answer(cid))

        [claim] = [m for m in store.history_of(cid) if m.event == "claimed"]
        [delivery] = store.deliveries_of(claim.id)
        assert (delivery.kind, delivery.destination) == (DeliveryKind.DESK_NOTICE, Channel.DESK)
        to_email = [d for d in store.deliveries.values() if d.destination is Channel.EMAIL]
        assert len(to_email) == 1  # the reply itself

    async def test_telegram_patron_hears_claim_and_reopen(
        self, router: Router, store: FakeStore
    ) -> None:
        """A Telegram patron, like a widget patron, gets the live "claimed" and
        "reopened" lines in their chat, besides the desk."""
        cid = await conversation_from(router, Inbound(Channel.TELEGRAM, "777", "Hello"))
        await router.desk.reply(answer(cid))
        await router.claims.close(cid, "id-ana", "Ana")
        await router.intake.accept(Inbound(Channel.TELEGRAM, "777", "One more thing"))

        for event in ("claimed", "reopened"):
            [line] = [m for m in store.history_of(cid) if m.event == event]
            routes = {(d.kind, d.destination) for d in store.deliveries_of(line.id)}
            assert routes == {(DeliveryKind.TO_PATRON, Channel.TELEGRAM),
                              (DeliveryKind.DESK_NOTICE, Channel.DESK)}

    async def test_reply_to_unknown_conversation(self, router: Router, store: FakeStore) -> None:
        """A reply to a conversation that does not exist returns None and stores nothing."""
        assert await router.desk.reply(answer("no-such-conversation")) is None
        assert not (store.messages or store.deliveries)

    async def test_blank_reply_ignored(self, router: Router, store: FakeStore) -> None:
        """A blank reply stores nothing and does not claim."""
        cid = await conversation_from(router, widget())
        assert await router.desk.reply(answer(cid, " \n ")) is None
        assert store.conversations_by_id[cid].claimed_by_id == ""
        assert len(store.messages) == 1

    async def test_reply_wakes_outbox(self, router: Router, enqueued: Counter) -> None:
        """A claiming reply wakes the outbox for the claim line and for the reply."""
        cid = await conversation_from(router, widget())
        await router.desk.reply(answer(cid))
        assert enqueued.calls == 3

    async def test_concurrent_replies_claim_once(self, router: Router, store: FakeStore) -> None:
        """Two librarians answering a new conversation at once leave one claim, announced once."""
        cid = await conversation_from(router, widget())
        first, second = await asyncio.gather(
            router.desk.reply(answer(cid, "First", who="ana")),
            router.desk.reply(answer(cid, "Second", who="budi")),
            return_exceptions=True,
        )

        assert isinstance(second, Claimed) and not isinstance(first, BaseException)
        assert store.conversations_by_id[cid].claimed_by_id == "id-ana"
        claims = [m for m in store.history_of(cid) if m.event == "claimed"]
        assert [c.author for c in claims] == ["Ana"]


class TestPatronView:
    async def test_unknown_contact(self, router: Router) -> None:
        """A contact that never wrote has no conversation and nothing to see."""
        assert await router.intake.patron_view(Contact(Channel.WIDGET, "nobody")) == (None, [])

    async def test_notes_hidden(self, router: Router, store: FakeStore) -> None:
        """The patron sees their messages, the claim and replies, never a librarians' note."""
        accepted = await router.intake.accept(widget("Hello"))
        cid = accepted.conversation.id
        await router.desk.reply(answer(cid, "Hi!"))
        note = replace(accepted.message, id=new_id(), text="Patron asked twice already",
                       direction=Direction.NOTE, client_id="")
        await store.append(note, [])

        contact = Contact(Channel.WIDGET, "visitor-1")
        conversation, messages = await router.intake.patron_view(contact)

        assert conversation is not None and conversation.id == cid
        assert [m.direction for m in messages] == [
            Direction.PATRON, Direction.SYSTEM, Direction.LIBRARIAN
        ]
        assert len(store.history_of(cid)) == 4

    async def test_after(self, router: Router) -> None:
        """With ``after`` the patron gets only the messages newer than that id."""
        first = await router.intake.accept(widget("one", client_id="c1"))
        await router.intake.accept(widget("two", client_id="c2"))
        await router.intake.accept(widget("three", client_id="c3"))

        _, messages = await router.intake.patron_view(
            Contact(Channel.WIDGET, "visitor-1"), after=first.message.id
        )

        assert [m.text for m in messages] == ["two", "three"]

    async def test_latest_conversation_only(self, router: Router, store: FakeStore) -> None:
        """After a conversation closes the patron sees the new one, not the old history."""
        first = await router.intake.accept(widget("old", client_id="c1"))
        await store.save_conversation(replace(first.conversation, status=Status.CLOSED))
        second = await router.intake.accept(widget("new", client_id="c2"))

        contact = Contact(Channel.WIDGET, "visitor-1")
        conversation, messages = await router.intake.patron_view(contact)

        assert conversation == second.conversation
        assert [m.text for m in messages] == ["new"]


class TestDeskLookup:
    async def test_conversation_for_thread(self, router: Router, store: FakeStore) -> None:
        """A desk topic id leads back to its conversation."""
        accepted = await router.intake.accept(widget())
        await store.save_conversation(replace(accepted.conversation, desk_thread=55))

        found = await router.desk.conversation_for_thread(55)

        assert found is not None and found.id == accepted.conversation.id
        assert await router.desk.conversation_for_thread(56) is None

    async def test_conversation_for_desk_message(self, router: Router, store: FakeStore) -> None:
        """In a desk without topics, a forwarded message's id leads back to its conversation."""
        accepted = await router.intake.accept(widget())
        await store.save_link(Link("desk", "9001", accepted.conversation.id, accepted.message.id))

        found = await router.desk.conversation_for_desk_message("9001")

        assert found is not None and found.id == accepted.conversation.id
        assert await router.desk.conversation_for_desk_message("9002") is None


class TestContract:
    async def test_verified_conversation_hint_joins_own(
        self, router: Router, store: FakeStore
    ) -> None:
        """An email carrying the patron's own conversation id joins it, reopening it if closed,
        even when a newer conversation exists."""
        mail = Inbound(Channel.EMAIL, "sari@example.org", "Question one")
        first = await router.intake.accept(mail)
        await store.save_conversation(replace(first.conversation, status=Status.CLOSED))
        await router.intake.accept(replace(mail, text="Question two"))  # opens a second one

        answer_one = await router.intake.accept(replace(mail, text="About one",
                                                 conversation_id=first.conversation.id))

        assert answer_one.conversation.id == first.conversation.id
        assert store.conversations_by_id[first.conversation.id].status is Status.OPEN

    async def test_strangers_hint_ignored(self, router: Router) -> None:
        """Naming someone else's conversation does not join it."""
        victim = await router.intake.accept(Inbound(Channel.EMAIL, "sari@example.org", "Mine"))
        stranger = await router.intake.accept(Inbound(
            Channel.EMAIL, "eve@example.org", "Let me in",
            conversation_id=victim.conversation.id))

        assert stranger.conversation.id != victim.conversation.id
        assert stranger.conversation.patron_id != victim.patron.id

    async def test_subject_kept(self, router: Router) -> None:
        """An email's subject is kept on the conversation it opens (for the info card)."""
        accepted = await router.intake.accept(Inbound(Channel.EMAIL, "s@example.org", "Hi",
                                               subject="Renewal"))
        assert accepted.conversation.subject == "Renewal"

    async def test_after_hours(self, store: FakeStore, clock: FakeClock) -> None:
        """A conversation opened while nobody staffs the desk is marked after_hours."""
        staffed = [False]
        router = Router(store, clock, staffed=lambda now: staffed[0])
        night = await router.intake.accept(widget(client_id="c1"))
        staffed[0] = True
        day = await router.intake.accept(Inbound(Channel.EMAIL, "s@example.org", "Hi"))

        assert night.conversation.after_hours and not day.conversation.after_hours

    async def test_a_typed_email_joins_no_one_until_confirmed(self, router: Router) -> None:
        """An address typed into the widget is recorded unconfirmed and routes nobody's
        mail: the owner's own mail opens their own conversation, not the typist's."""
        patron = await router.intake.identify(Contact(Channel.WIDGET, "visitor-1"),
                                       email="Sari@Example.org")
        widget_side = await router.intake.accept(widget())
        by_mail = await router.intake.accept(Inbound(Channel.EMAIL, "sari@example.org", "Me again"))

        assert (patron.email, patron.email_confirmed) == ("Sari@Example.org", False)
        assert Contact(Channel.EMAIL, "sari@example.org") not in patron.contacts
        assert by_mail.patron.id != patron.id
        assert by_mail.conversation.id != widget_side.conversation.id

    async def test_identify_records_email_contact_once_confirmed(self, router: Router) -> None:
        """A widget patron who proved their address is found again when they write by
        email; a new address typed later is unconfirmed again."""
        contact = Contact(Channel.WIDGET, "visitor-1")
        await router.intake.identify(contact, email="Sari@Example.org")
        assert await router.intake.confirm_email(contact, "someone@example.org") is None
        patron = await router.intake.confirm_email(contact, "sari@example.org")
        widget_side = await router.intake.accept(widget())
        by_mail = await router.intake.accept(Inbound(Channel.EMAIL, "sari@example.org", "Me again"))

        assert patron is not None and patron.email_confirmed
        assert Contact(Channel.EMAIL, "sari@example.org") in patron.contacts
        assert by_mail.patron.id == patron.id
        assert by_mail.conversation.id == widget_side.conversation.id
        moved = await router.intake.identify(contact, email="other@example.org")
        assert (moved.email, moved.email_confirmed) == ("other@example.org", False)

    async def test_identify_never_takes_anothers_email(
        self, router: Router, store: FakeStore
    ) -> None:
        """An email address that already belongs to another patron stays theirs."""
        owner = await router.intake.accept(Inbound(Channel.EMAIL, "sari@example.org", "Hi"))
        other = await router.intake.identify(Contact(Channel.WIDGET, "v9"),
                                             email="sari@example.org")

        assert Contact(Channel.EMAIL, "sari@example.org") not in other.contacts
        found = await store.patron_by_contact(Contact(Channel.EMAIL, "sari@example.org"))
        assert found is not None and found.id == owner.patron.id


class TestEdit:
    async def test_edit_of_reply_goes_to_patron(self, router: Router, store: FakeStore) -> None:
        """Editing a delivered reply in the topic stores an "edited" LIBRARIAN message that
        names the original and is queued to the patron's channel."""
        cid = await conversation_from(router, widget())
        original = await router.desk.reply(DeskReply(cid, "id-ana", "Ana", "Open at 9",
                                                external_id="301"))
        assert original is not None
        edit = await router.desk.edit(cid, "301", "Open at 10", edit_key="1700000100")
        again = await router.desk.edit(cid, "301", "Open at 10", edit_key="1700000100")

        assert edit is not None and again == edit
        assert (edit.event, edit.replaces, edit.text) == ("edited", original.id, "Open at 10")
        [delivery] = store.deliveries_of(edit.id)
        assert (delivery.kind, delivery.destination) == (DeliveryKind.TO_PATRON, Channel.WIDGET)

    async def test_edit_of_unknown_message_changes_nothing(
        self, router: Router, store: FakeStore
    ) -> None:
        """An edit of a message the patron never got (a command, a note) is ignored."""
        cid = await conversation_from(router, widget())
        count = len(store.messages)
        assert await router.desk.edit(cid, "999", "changed") is None
        assert len(store.messages) == count


class TestOrder:
    async def test_a_patrons_messages_are_numbered_in_call_order(
        self, router: Router, store: FakeStore
    ) -> None:
        """A first message held up in its checks is still numbered before a second one
        handed over after it: order rests on call order, not on which check ends first."""
        await router.intake.accept(widget("Hello"))
        held = store.pause_after("patron_by_contact")
        first = asyncio.create_task(router.intake.accept(widget("first")))
        await held.reached.wait()
        second = asyncio.create_task(router.intake.accept(widget("second")))
        await asyncio.sleep(0.01)
        held.release()
        a, b = await first, await second

        assert a.message.id < b.message.id
        texts = [m.text for m in store.history_of(a.conversation.id)]
        assert texts[-2:] == ["first", "second"]


class TestWithdraw:
    async def test_withdrawal_names_the_reply_and_goes_to_the_patron_once(
        self, router: Router, store: FakeStore
    ) -> None:
        """/delete on a reply queues one "withdrawn" message, without text, to the patron's
        channel; asking twice does not queue a second."""
        cid = await conversation_from(router, widget())
        original = await router.desk.reply(DeskReply(cid, "id-ana", "Ana", "Wrong hours",
                                                external_id="301"))
        assert original is not None
        first = await router.desk.withdraw(cid, "301", by="Ana")
        second = await router.desk.withdraw(cid, "301", by="Ana")

        assert first is not None and second == first
        assert (first.event, first.replaces, first.text) == ("withdrawn", original.id, "")
        [delivery] = store.deliveries_of(first.id)
        assert (delivery.kind, delivery.destination) == (DeliveryKind.TO_PATRON, Channel.WIDGET)

    async def test_only_a_reply_in_its_own_conversation_can_be_withdrawn(
        self, router: Router, store: FakeStore
    ) -> None:
        """A patron's message, an unknown id, or a reply of another conversation: nothing."""
        cid = await conversation_from(router, widget())
        other = await conversation_from(
            router, Inbound(Channel.WIDGET, "visitor-2", "Another question"))
        await router.desk.reply(DeskReply(cid, "id-ana", "Ana", "Hello", external_id="301"))
        count = len(store.messages)

        assert await router.desk.withdraw(other, "301", by="Ana") is None
        assert await router.desk.withdraw(cid, "999", by="Ana") is None
        assert len(store.messages) == count


class TestFiles:
    async def test_a_message_of_files_alone_is_taken_with_its_files(
        self, router: Router, store: FakeStore
    ) -> None:
        """A photo with no caption is a message; the files travel on the stored message."""
        photo = Attachment(AttachmentKind.PHOTO, "card.jpg", "image/jpeg", 900, "ab" * 32)
        accepted = await router.intake.accept(Inbound(Channel.WIDGET, "visitor-1", "  ",
                                               attachments=(photo,)))
        assert (accepted.message.text, accepted.message.attachments) == ("", (photo,))

    async def test_more_files_than_one_album_are_refused(self, router: Router) -> None:
        photo = Attachment(AttachmentKind.PHOTO, "p.jpg", "image/jpeg", 900, "ab" * 32)
        with pytest.raises(Refused) as refused:
            await router.intake.accept(Inbound(Channel.WIDGET, "visitor-1", "",
                                               attachments=(photo,) * 11))
        assert refused.value.code == "too_many_files"

    async def test_a_librarian_may_answer_with_a_file_alone(
        self, router: Router, store: FakeStore
    ) -> None:
        cid = await conversation_from(router, widget())
        scan = Attachment(AttachmentKind.DOCUMENT, "form.pdf", "application/pdf", 5000, "cd" * 32)
        sent = await router.desk.reply(DeskReply(cid, "id-ana", "Ana", "", attachments=(scan,)))
        assert sent is not None and sent.attachments == (scan,)
        [delivery] = store.deliveries_of(sent.id)
        assert delivery.kind is DeliveryKind.TO_PATRON


class TestBlockedCheck:
    async def test_is_blocked_answers_as_accept_would(self, router: Router) -> None:
        """is_blocked is true for a blocked patron (who accept refuses, even with an
        empty message) and false for anyone else."""
        cid = await conversation_from(router, widget())
        assert not await router.intake.is_blocked(widget())
        await router.moderation.block(cid, None, "Ana")

        assert await router.intake.is_blocked(widget())
        assert not await router.intake.is_blocked(Inbound(Channel.WIDGET, "visitor-2", "Hi"))
        with pytest.raises(Refused) as refused:
            await router.intake.accept(widget("   "))
        assert refused.value.code == "blocked"


class TestBlocksCountAtOnce:
    """Block keys are remembered per sender, contacts and address; the blocks are not."""

    async def test_a_block_and_an_unblock_count_from_the_next_message(
        self, router: Router
    ) -> None:
        """A patron who wrote many times (their keys remembered) is refused on the next
        message after /block, and taken again on the next after /unblock."""
        page = replace(PAGE, ip="203.0.113.7")
        for n in range(3):
            cid = await conversation_from(router, widget(f"question {n}", page=page))
        await router.moderation.block(cid, None, "Ana")
        with pytest.raises(Refused) as refused:
            await router.intake.accept(widget("one more", page=page))
        assert refused.value.code == "blocked"
        await router.moderation.unblock(cid)
        accepted = await router.intake.accept(widget("sorry", page=page))
        assert accepted.message.text == "sorry"

    async def test_an_address_block_hits_every_visitor_from_it_at_once(
        self, router: Router
    ) -> None:
        """/block ip refuses the next message of another visitor from that address, who
        wrote from it before; a visitor elsewhere is still taken."""
        here, elsewhere = replace(PAGE, ip="203.0.113.7"), replace(PAGE, ip="198.51.100.9")
        other = Inbound(Channel.WIDGET, "visitor-2", "Hello", page=here)
        await router.intake.accept(other)
        cid = await conversation_from(router, widget(page=here))
        await router.moderation.block(cid, 3600.0, "Ana", frozenset({BlockKind.IP}))
        with pytest.raises(Refused):
            await router.intake.accept(other)
        taken = await router.intake.accept(Inbound(Channel.WIDGET, "visitor-3", "Hi",
                                                   page=elsewhere))
        assert taken.message.text == "Hi"

    async def test_a_contact_the_patron_gains_is_checked_from_the_next_message(
        self, router: Router, store: FakeStore, clock: FakeClock
    ) -> None:
        """A blocked email address does not hit a widget patron until they prove it is
        theirs; from then on their widget messages are refused."""
        me = Contact(Channel.WIDGET, "visitor-1")
        await router.intake.accept(widget(page=PAGE))
        await store.save_block(Block(new_id(), BlockKind.EMAIL, "ana@example.org",
                                     created_at=clock.now()))
        await router.intake.identify(me, email="ana@example.org")
        assert (await router.intake.accept(widget("typed, not proved", page=PAGE))).message
        await router.intake.confirm_email(me, "ana@example.org")
        with pytest.raises(Refused):
            await router.intake.accept(widget("proved", page=PAGE))


class TestPatronViewPages:
    async def test_a_page_of_notes_alone_does_not_end_the_patrons_view(
        self, router: Router, store: FakeStore
    ) -> None:
        """Five hundred notes in a row (reminders, command answers) are skipped: the
        patron's view goes on to the reply after them."""
        cid = await conversation_from(router, widget())
        for n in range(500):
            await router.records.note(cid, "Ana", f"note {n}")
        await router.desk.reply(answer(cid, "Yes, we open at 8."))
        _, shown = await router.intake.patron_view(Contact(Channel.WIDGET, "visitor-1"))
        assert [m.text for m in shown] == ["Is the library open on Sunday?"]
        _, after = await router.intake.patron_view(Contact(Channel.WIDGET, "visitor-1"),
                                            after=shown[0].id)
        assert [m.text for m in after][-1] == "Yes, we open at 8."
        assert all(m.direction is not Direction.NOTE for m in after)

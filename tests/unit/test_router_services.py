"""The router's services: each works alone over one conversation log, and they share it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from routing.claims import Claims
from routing.conversation_log import Claimed, ConversationLog
from routing.desk_records import DeskRecords
from routing.desk_replies import DESK_LINK, DeskReplies
from routing.intake import PatronIntake
from routing.model import Channel, Conversation, Delivery, DeskReply, Inbound, Message, Patron
from routing.moderation import Moderation
from routing.router import Router
from tests.unit.fakes import FakeClock, FakeStore


def hello(address: str = "visitor-1") -> Inbound:
    return Inbound(Channel.WIDGET, address, "Is the library open on Sunday?")


class TestServicesAlone:
    async def test_each_service_needs_only_the_log(
        self, store: FakeStore, clock: FakeClock
    ) -> None:
        """Intake, claims, moderation and records each built from one log alone do their
        work: no Router and no sibling is needed."""
        log = ConversationLog(store, clock)
        accepted = await PatronIntake(log).accept(hello())
        cid = accepted.conversation.id

        claimed = await Claims(log).claim(cid, "id-ana", "Ana")
        made = await Moderation(log).block(cid, None, "Ana")
        tagged = await DeskRecords(log).tag(cid, "#ILL")

        assert claimed is not None and claimed.outcome == "claimed"
        assert [b.value for b in made] == ["visitor-1"]
        assert tagged is not None and tagged.tags == ("ill",)
        assert await PatronIntake(log).is_blocked(hello())

    async def test_a_reply_claims_through_the_claims_service(
        self, store: FakeStore, clock: FakeClock
    ) -> None:
        """Desk replies ask the claims service who answers: a conversation claimed there
        refuses another librarian's reply and keeps its holder."""
        log = ConversationLog(store, clock)
        claims = Claims(log)
        cid = (await PatronIntake(log).accept(hello())).conversation.id
        await claims.claim(cid, "id-ana", "Ana")

        replies = DeskReplies(log, claims)
        try:
            await replies.reply(DeskReply(cid, "id-budi", "Budi", "Yes, 10 to 4."))
        except Claimed as held:
            assert held.holder_name == "Ana"
        else:
            raise AssertionError("a reply in a held conversation was taken")
        assert store.conversations_by_id[cid].claimed_by_id == "id-ana"


class TestOneLog:
    async def test_the_outbox_is_woken_after_a_reply_is_linked(
        self, store: FakeStore, clock: FakeClock
    ) -> None:
        """When the outbox wakes for a librarian's reply, the reply's desk message id is
        already linked, so an edit arriving at once finds it."""
        linked_at_wake: list[bool] = []

        def wake(queued: Sequence[Delivery]) -> None:
            linked_at_wake.append((DESK_LINK, "501") in store.links)

        router = Router(store, clock, on_enqueue=wake)
        cid = (await router.intake.accept(hello())).conversation.id
        await router.claims.claim(cid, "id-ana", "Ana")
        linked_at_wake.clear()

        await router.desk.reply(DeskReply(cid, "id-ana", "Ana", "Yes.", external_id="501"))

        assert linked_at_wake and all(linked_at_wake)

    async def test_services_share_one_log_and_its_locks(
        self, store: FakeStore, clock: FakeClock
    ) -> None:
        """A tag (records) and a claim (claims) of one conversation at once take the one
        lock of the shared log: neither overwrites the other."""
        router = Router(store, clock)
        cid = (await router.intake.accept(hello())).conversation.id
        pause = store.pause_after("get_conversation")
        tagging = asyncio.create_task(router.records.tag(cid, "ill"))
        await pause.reached.wait()
        claiming = asyncio.create_task(router.claims.claim(cid, "id-ana", "Ana"))
        await asyncio.sleep(0)
        pause.release()
        await asyncio.gather(tagging, claiming)

        saved = store.conversations_by_id[cid]
        assert (saved.tags, saved.claimed_by) == (("ill",), "Ana")
        assert Router.__mro__ == (Router, object)  # composed, not assembled from mixins


class FailingFirstWrite(FakeStore):
    """The fake store, its next ``append_first`` failing as a full disk would."""

    def __init__(self) -> None:
        super().__init__()
        self.firsts = 0
        self.fail = True

    async def append_first(self, patron: Patron, conversation: Conversation,
                           message: Message, deliveries: Sequence[Delivery]
                           ) -> tuple[Message, bool]:
        self.firsts += 1
        if self.fail:
            self.fail = False
            raise OSError("database or disk is full")
        return await super().append_first(patron, conversation, message, deliveries)


class TestFirstMessage:
    async def test_a_failed_first_write_leaves_nothing_and_the_resend_is_whole(
        self, clock: FakeClock
    ) -> None:
        """A new patron's first message is one write: when it fails the message fails,
        no patron or conversation is left, nothing is queued, and sent again it makes
        all of them."""
        store = FailingFirstWrite()
        woken: list[Sequence[Delivery]] = []
        intake = PatronIntake(ConversationLog(store, clock, on_enqueue=woken.append))
        with pytest.raises(OSError):
            await intake.accept(hello())
        assert (store.patrons, store.conversations_by_id, woken) == ({}, {}, [])
        accepted = await intake.accept(hello())
        assert store.firsts == 2
        assert list(store.patrons.values()) == [accepted.patron]
        assert list(store.conversations_by_id.values()) == [accepted.conversation]
        assert store.history_of(accepted.conversation.id) == [accepted.message]
        assert [[d.message_id for d in queued] for queued in woken] == [[accepted.message.id]]

"""The router's verbs adapters write the directory, topics and links through
(``router.staff``, ``router.records``, ``router.trail``): what each leaves in the store."""

from __future__ import annotations

from dataclasses import replace

from routing.model import Channel, Inbound, Librarian
from routing.ports import Link
from routing.router import Router
from tests.unit.fakes import FakeClock, FakeStore


def _router() -> tuple[Router, FakeStore, FakeClock]:
    store, clock = FakeStore(), FakeClock()
    return Router(store, clock), store, clock


class TestStaff:
    async def test_a_verified_member_number_is_kept_on_the_patron(self) -> None:
        """remember_member saves the number on the conversation's patron; an unknown
        conversation is None."""
        router, store, _ = _router()
        accepted = await router.intake.accept(Inbound(Channel.WIDGET, "v-1", "Hello?"))
        kept = await router.records.remember_member(accepted.conversation.id, "M-17")
        assert kept is not None and kept.member_number == "M-17"
        assert store.patrons[accepted.patron.id].member_number == "M-17"
        assert await router.records.remember_member("nobody", "M-18") is None

    async def test_a_librarian_seen_keeps_their_duty(self) -> None:
        """librarian_seen records a new librarian off duty, and renames a known one
        without touching whether or since when they are on duty."""
        router, store, clock = _router()
        await router.staff.librarian_seen("7", "Sari", "Sari_L")
        assert store.librarians["7"] == Librarian("7", "Sari", "sari_l", False, clock.now())
        on = await router.staff.librarian_duty("7", "Sari", True)
        clock.advance(60)
        await router.staff.librarian_seen("7", "Sari Dewi", "sari_d")
        assert store.librarians["7"] == Librarian("7", "Sari Dewi", "sari_d", True, on.changed_at)

    async def test_duty_is_from_now_and_keeps_the_username(self) -> None:
        """librarian_duty sets on or off duty at the clock's now, keeping the username."""
        router, store, clock = _router()
        await router.staff.librarian_seen("7", "Sari", "sari_l")
        clock.advance(30)
        off = await router.staff.librarian_duty("7", "Sari", False)
        assert off == Librarian("7", "Sari", "sari_l", False, clock.now())
        assert [lib.id for lib in await store.librarians_on_duty()] == []


class TestTrail:
    async def test_a_topic_opened_is_saved_on_the_fresh_conversation(self) -> None:
        """keep_topic saves the thread on the conversation as stored now (a claim
        saved meanwhile is kept); an unknown conversation is left alone."""
        router, store, _ = _router()
        accepted = await router.intake.accept(Inbound(Channel.WIDGET, "v-1", "Hello?"))
        cid = accepted.conversation.id
        claimed = replace(store.conversations_by_id[cid], claimed_by_id="7")
        await store.save_conversation(claimed)
        await router.records.keep_topic(cid, 501)
        await router.records.keep_topic("nothing", 502)
        assert store.conversations_by_id[cid] == replace(claimed, desk_thread=501)
        assert await store.conversation_by_thread(502) is None

    async def test_a_taken_mail_and_album_posts_lead_to_their_conversation(self) -> None:
        """mail_taken links an email key to its conversation (and message, if any);
        desk_posts links each later Telegram post of a message to it."""
        router, store, _ = _router()
        accepted = await router.intake.accept(Inbound(Channel.EMAIL, "ana@example.org", "Hi"))
        c1 = accepted.conversation.id
        await router.trail.mail_taken("<a@x>", c1, "m1")
        await router.trail.mail_taken("<bounce@x>", c1)
        await router.trail.desk_posts(c1, "m2", [11, 12])
        assert await store.find_link("email", "<a@x>") == Link("email", "<a@x>", c1, "m1")
        assert await store.find_link("email", "<bounce@x>") == Link("email", "<bounce@x>", c1)
        assert await store.find_link("desk", "12") == Link("desk", "12", c1, "m2")

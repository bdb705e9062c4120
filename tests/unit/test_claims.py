"""Claims, take-overs, transfers, closing, reopening, ratings and the desk's bookkeeping."""

from __future__ import annotations

import asyncio

import pytest

from routing.blocks import (
    BadDuration,
    block_targets,
    inbound_keys,
    ip_range,
    parse_duration,
    shared_address,
)
from routing.desk_records import clean_tag
from routing.model import (
    BlockKind,
    Channel,
    Contact,
    Conversation,
    DeliveryKind,
    DeskReply,
    Direction,
    Inbound,
    PageInfo,
    Patron,
    Status,
)
from routing.router import Claimed, Refused, Router, RouterPolicy
from tests.unit.fakes import FakeClock, FakeStore

DAY = 86400.0


def widget(text: str = "Hello", visitor: str = "visitor-1", ip: str = "") -> Inbound:
    return Inbound(Channel.WIDGET, visitor, text, page=PageInfo(ip=ip) if ip else None)


@pytest.fixture
def router(store: FakeStore, clock: FakeClock) -> Router:
    return Router(store, clock)


async def opened(router: Router, inbound: Inbound | None = None) -> str:
    return (await router.intake.accept(inbound or widget())).conversation.id


def events(store: FakeStore, cid: str) -> list[str]:
    return [m.event for m in store.history_of(cid) if m.direction is Direction.SYSTEM]


class TestClaim:
    async def test_claim_button_claims_and_announces(
        self, router: Router, store: FakeStore
    ) -> None:
        """Claim on an unclaimed conversation makes it yours and tells desk and widget."""
        cid = await opened(router)
        result = await router.claims.claim(cid, "1", "Ana")

        assert result is not None and (result.outcome, result.holder) == ("claimed", "Ana")
        assert store.conversations_by_id[cid].claimed_by_id == "1"
        [line] = [m for m in store.history_of(cid) if m.event == "claimed"]
        assert line.author == "Ana"
        assert {d.kind for d in store.deliveries_of(line.id)} == {
            DeliveryKind.TO_PATRON, DeliveryKind.DESK_NOTICE}

    async def test_claim_never_moves_a_claim(self, router: Router, store: FakeStore) -> None:
        """A second Claim reports who holds it and changes nothing; the holder's is "yours"."""
        cid = await opened(router)
        await router.claims.claim(cid, "1", "Ana")
        held = await router.claims.claim(cid, "2", "Budi")
        mine = await router.claims.claim(cid, "1", "Ana")

        assert held is not None and (held.outcome, held.holder) == ("held", "Ana")
        assert mine is not None and mine.outcome == "yours"
        assert events(store, cid) == ["claimed"]

    async def test_concurrent_claims_make_one(self, router: Router, store: FakeStore) -> None:
        """Two librarians pressing Claim at once: one claims, the other is told it is held."""
        cid = await opened(router)
        one, two = await asyncio.gather(router.claims.claim(cid, "1", "Ana"),
                                        router.claims.claim(cid, "2", "Budi"))

        assert one is not None and two is not None
        assert sorted([one.outcome, two.outcome]) == ["claimed", "held"]
        assert events(store, cid) == ["claimed"]

    async def test_claimed_conversation_stops_other_replies(self, router: Router) -> None:
        """After a Claim, another librarian's reply raises Claimed; the holder's goes out."""
        cid = await opened(router)
        await router.claims.claim(cid, "1", "Ana")
        with pytest.raises(Claimed):
            await router.desk.reply(DeskReply(cid, "2", "Budi", "Me too"))
        assert await router.desk.reply(DeskReply(cid, "1", "Ana", "On it")) is not None

    async def test_takeover(self, router: Router, store: FakeStore) -> None:
        """/takeover moves the claim to the taker, announced, and their replies then go out."""
        cid = await opened(router)
        await router.claims.claim(cid, "1", "Ana")
        result = await router.claims.takeover(cid, "2", "Budi")

        assert result is not None and (result.holder, result.previous) == ("Budi", "Ana")
        assert store.conversations_by_id[cid].claimed_by_id == "2"
        assert store.history_of(cid)[-1].text == "Budi took over from Ana"
        assert await router.desk.reply(DeskReply(cid, "2", "Budi", "Here")) is not None
        with pytest.raises(Claimed):
            await router.desk.reply(DeskReply(cid, "1", "Ana", "Still me?"))

    async def test_transfer(self, router: Router, store: FakeStore) -> None:
        """/transfer hands the conversation to the named librarian and says who did it."""
        cid = await opened(router)
        await router.claims.claim(cid, "1", "Ana")
        result = await router.claims.transfer(cid, "1", "Ana", "3", "Citra")

        assert result is not None and result.outcome == "claimed"
        assert store.conversations_by_id[cid].claimed_by == "Citra"
        assert store.history_of(cid)[-1].text == "Ana handed the conversation to Citra"

    async def test_transfer_by_someone_else_is_refused(
        self, router: Router, store: FakeStore
    ) -> None:
        """Only the holder hands a held conversation on: Budi's /transfer of Ana's
        conversation moves nothing, says nothing in the log, and names Ana as holder."""
        cid = await opened(router)
        await router.claims.claim(cid, "1", "Ana")
        count = len(store.messages)
        result = await router.claims.transfer(cid, "2", "Budi", "3", "Citra")

        assert result is not None and (result.outcome, result.holder) == ("held", "Ana")
        assert store.conversations_by_id[cid].claimed_by_id == "1"
        assert len(store.messages) == count

    async def test_transfer_to_oneself_is_a_takeover(
        self, router: Router, store: FakeStore
    ) -> None:
        """/transfer @sari sent by Sari of Ana's conversation says the truth: Sari took
        over from Ana (never "Sari handed the conversation to Sari")."""
        cid = await opened(router)
        await router.claims.claim(cid, "1", "Ana")
        result = await router.claims.transfer(cid, "4", "Sari", "4", "Sari")

        assert result is not None and (result.outcome, result.previous) == ("claimed", "Ana")
        assert store.conversations_by_id[cid].claimed_by_id == "4"
        assert store.history_of(cid)[-1].text == "Sari took over from Ana"

    async def test_unclaimed_conversation_can_be_assigned(
        self, router: Router, store: FakeStore
    ) -> None:
        """Anyone may give an unclaimed conversation to a colleague, worded as giving."""
        cid = await opened(router)
        result = await router.claims.transfer(cid, "2", "Budi", "3", "Citra")

        assert result is not None and result.outcome == "claimed"
        assert store.history_of(cid)[-1].text == "Budi gave the conversation to Citra"

    async def test_unknown_conversation(self, router: Router) -> None:
        """Claim, takeover and close of an unknown conversation return None."""
        assert await router.claims.claim("nope", "1", "Ana") is None
        assert await router.claims.takeover("nope", "1", "Ana") is None
        assert await router.claims.close("nope", "1", "Ana") is None


class TestClose:
    async def test_close_asks_for_rating_on_origin(
        self, router: Router, store: FakeStore, clock: FakeClock
    ) -> None:
        """Close marks the conversation closed and sends "closed" and "rating_request" to
        the patron's channel (email here), the first also to the desk."""
        cid = await opened(router, Inbound(Channel.EMAIL, "sari@example.org", "Hi"))
        closed = await router.claims.close(cid, "1", "Ana")

        assert closed is not None and closed.status is Status.CLOSED
        assert closed.closed_at == clock.now() and closed.claimed_by_id == "1"
        close, ask = [m for m in store.history_of(cid) if m.direction is Direction.SYSTEM]
        assert (close.event, ask.event) == ("closed", "rating_request")
        assert {(d.kind, d.destination) for d in store.deliveries_of(close.id)} == {
            (DeliveryKind.TO_PATRON, Channel.EMAIL), (DeliveryKind.DESK_NOTICE, Channel.DESK)}
        assert [(d.kind, d.destination) for d in store.deliveries_of(ask.id)] == [
            (DeliveryKind.TO_PATRON, Channel.EMAIL)]

    async def test_close_twice(self, router: Router, store: FakeStore) -> None:
        """Closing a closed conversation returns None and writes nothing."""
        cid = await opened(router)
        await router.claims.close(cid, "1", "Ana")
        count = len(store.messages)
        assert await router.claims.close(cid, "1", "Ana") is None
        assert len(store.messages) == count

    async def test_rating_against_who_served(self, router: Router, store: FakeStore) -> None:
        """A rating of a closed conversation is kept with the librarian who held it, and
        the desk is told; a later rating (with a comment) replaces it."""
        cid = await opened(router)
        await router.claims.claim(cid, "7", "Ana")
        await router.claims.close(cid, "8", "Budi")

        assert await router.claims.rate(cid, 4)
        assert await router.claims.rate(cid, 5, "  Very helpful  ")
        conversation = store.conversations_by_id[cid]
        assert (conversation.rating, conversation.rating_comment) == (5, "Very helpful")
        assert conversation.rated_librarian_id == "7"
        notes = [m for m in store.history_of(cid) if m.event == "rated"]
        assert notes[-1].direction is Direction.NOTE and "Very helpful" in notes[-1].text

    @pytest.mark.parametrize("score", [0, 6, -1, True, 4.5, "5"])
    async def test_bad_scores_refused(self, router: Router, score: object) -> None:
        """Only whole numbers 1..5 are ratings."""
        cid = await opened(router)
        await router.claims.close(cid, "1", "Ana")
        assert not await router.claims.rate(cid, score)  # type: ignore[arg-type]

    async def test_open_conversation_not_rated(self, router: Router) -> None:
        """An open or unknown conversation cannot be rated."""
        cid = await opened(router)
        assert not await router.claims.rate(cid, 5)
        assert not await router.claims.rate("nope", 5)


class TestReopen:
    async def test_writing_again_within_window_reopens(
        self, router: Router, store: FakeStore, clock: FakeClock
    ) -> None:
        """A patron writing within reopen_seconds of the close reopens the same conversation
        with a "reopened" line for the desk (which reopens the topic) and the widget."""
        cid = await opened(router)
        await router.claims.close(cid, "1", "Ana")
        clock.advance(6 * DAY)
        again = await router.intake.accept(widget("One more thing"))

        assert again.conversation.id == cid and again.conversation.status is Status.OPEN
        reopened = [m for m in store.history_of(cid) if m.event == "reopened"]
        assert len(reopened) == 1 and reopened[0].id < again.message.id
        assert {d.kind for d in store.deliveries_of(reopened[0].id)} == {
            DeliveryKind.DESK_NOTICE, DeliveryKind.TO_PATRON}

    async def test_after_window_new_conversation(
        self, store: FakeStore, clock: FakeClock
    ) -> None:
        """After the window (here a policy of one day) the patron starts a new conversation."""
        router = Router(store, clock, policy=RouterPolicy(reopen_seconds=DAY))
        cid = await opened(router)
        await router.claims.close(cid, "1", "Ana")
        clock.advance(DAY + 1)
        again = await router.intake.accept(widget("New question"))

        assert again.conversation.id != cid
        assert store.conversations_by_id[cid].status is Status.CLOSED

    async def test_reopened_can_be_closed_again(self, router: Router) -> None:
        """A reopened conversation closes again and asks for a rating again."""
        cid = await opened(router)
        await router.claims.close(cid, "1", "Ana")
        await router.intake.accept(widget("Again"))
        assert await router.claims.close(cid, "1", "Ana") is not None


class TestDeskBookkeeping:
    async def test_notify_desk_only(self, router: Router, store: FakeStore) -> None:
        """notify_desk stores a line no patron path shows and queues it to the desk only."""
        cid = await opened(router)
        await router.records.notify_desk(cid, "The email bounced", event="bounce")

        line = store.history_of(cid)[-1]
        assert (line.direction, line.event, line.text) == (
            Direction.NOTE, "bounce", "The email bounced")
        [delivery] = store.deliveries_of(line.id)
        assert (delivery.kind, delivery.destination) == (DeliveryKind.DESK_NOTICE, Channel.DESK)
        _, seen = await router.intake.patron_view(Contact(Channel.WIDGET, "visitor-1"))
        assert "The email bounced" not in [m.text for m in seen]
        await router.records.notify_desk("nope", "ignored")  # unknown conversation: nothing

    async def test_note_is_never_delivered(self, router: Router, store: FakeStore) -> None:
        """/note stores a NOTE with no outbox row; repeating its desk id adds nothing."""
        cid = await opened(router)
        note = await router.records.note(cid, "Ana", "Asked twice already", external_id="55")
        again = await router.records.note(cid, "Ana", "Asked twice already", external_id="55")

        assert note is not None and note.direction is Direction.NOTE
        assert again == note and store.deliveries_of(note.id) == []

    async def test_tags(self, router: Router, store: FakeStore) -> None:
        """/tag adds a cleaned tag once; an empty tag is refused."""
        cid = await opened(router)
        await router.records.tag(cid, "#Inter-Library Loan")
        await router.records.tag(cid, "inter-library loan")
        assert store.conversations_by_id[cid].tags == ("inter-library_loan",)
        assert await router.records.tag(cid, " # ") is None
        assert clean_tag("Ruang Baca!") == "ruang_baca"

    async def test_history_lists_other_conversations(
        self, router: Router, clock: FakeClock
    ) -> None:
        """/history gives the patron's earlier conversations, newest first, not this one."""
        first = await opened(router)
        await router.claims.close(first, "1", "Ana")
        clock.advance(30 * DAY)
        second = await opened(router)
        await router.claims.close(second, "1", "Ana")
        clock.advance(30 * DAY)
        third = await opened(router)

        assert [c.id for c in await router.records.history(third)] == [second, first]

    async def test_stats(self, router: Router, clock: FakeClock) -> None:
        """/stats counts the day's conversations, answers, median first response, ratings."""
        start = clock.now()
        one = await opened(router, widget(visitor="a"))
        two = await opened(router, widget(visitor="b"))
        await opened(router, widget(visitor="c"))
        clock.advance(60)
        await router.desk.reply(DeskReply(one, "1", "Ana", "Hi"))
        clock.advance(120)
        await router.desk.reply(DeskReply(two, "1", "Ana", "Hi"))
        await router.desk.reply(DeskReply(two, "1", "Ana", "Again"))  # not a first response
        await router.claims.close(one, "1", "Ana")
        await router.claims.rate(one, 4)

        stats = await router.records.stats(start, start + DAY)
        assert (stats.conversations, stats.answered, stats.ratings) == (3, 2, 1)
        assert stats.median_first_response == 120.0 and stats.average_rating == 4.0
        assert (await router.records.stats(start + DAY, start + 2 * DAY)).conversations == 0


class TestBlocks:
    async def test_blocked_patron_refused_politely(
        self, store: FakeStore, clock: FakeClock
    ) -> None:
        """A blocked patron gets Refused("blocked", the policy's text) and nothing is stored
        or queued for the desk."""
        router = Router(store, clock, policy=RouterPolicy(blocked_text="Maaf."))
        cid = await opened(router, widget(ip="203.0.113.9"))
        made = await router.moderation.block(cid, 3600, "Ana")
        messages, deliveries = len(store.messages), len(store.deliveries)

        with pytest.raises(Refused) as refused:
            await router.intake.accept(widget("Again"))

        assert (refused.value.code, refused.value.reason) == ("blocked", "Maaf.")
        assert {(b.kind, b.value) for b in made} == {(BlockKind.VISITOR, "visitor-1")}
        assert (len(store.messages), len(store.deliveries)) == (messages, deliveries)

    async def test_a_block_hits_only_the_visitor(self, router: Router) -> None:
        """/block without ip or range blocks the visitor, not a stranger who writes from
        the same address or the same /24 (a school, a library's own Wi-Fi)."""
        cid = await opened(router, widget(ip="203.0.113.9"))
        await router.moderation.block(cid, None, "Ana")
        with pytest.raises(Refused):
            await router.intake.accept(widget("Again", ip="198.51.100.1"))
        assert (await router.intake.accept(widget(visitor="v2", ip="203.0.113.9"))).message
        assert (await router.intake.accept(widget(visitor="v3", ip="203.0.113.200"))).message

    async def test_ip_block_stops_that_address_only(self, router: Router) -> None:
        """/block 1d ip stops a new visitor id from the same address, not its neighbours."""
        cid = await opened(router, widget(ip="203.0.113.9"))
        made = await router.moderation.block(cid, None, "Ana", frozenset({BlockKind.IP}))
        assert (BlockKind.IP, "203.0.113.9") in {(b.kind, b.value) for b in made}
        with pytest.raises(Refused):
            await router.intake.accept(widget(visitor="visitor-2", ip="203.0.113.9"))
        assert (await router.intake.accept(widget(visitor="v3", ip="203.0.113.10"))).message

    async def test_range_block_stops_new_visitor_in_the_range(self, router: Router) -> None:
        """/block 1d range also stops a new visitor id from the same /24."""
        cid = await opened(router, widget(ip="203.0.113.9"))
        await router.moderation.block(cid, None, "Ana", frozenset({BlockKind.RANGE}))
        with pytest.raises(Refused):
            await router.intake.accept(widget(visitor="visitor-2", ip="203.0.113.200"))
        assert (await router.intake.accept(widget(visitor="v3", ip="203.0.114.1"))).message

    async def test_a_typed_address_is_never_blocked(self, router: Router) -> None:
        """A visitor who typed someone else's email address is blocked; the real owner of
        that address, who writes by email, is not."""
        await opened(router, Inbound(Channel.EMAIL, "sari@example.org", "Hello"))
        cid = await opened(router, widget(visitor="troll"))
        await router.intake.identify(Contact(Channel.WIDGET, "troll"), email="sari@example.org")
        made = await router.moderation.block(cid, None, "Ana")

        assert [(b.kind, b.value) for b in made] == [(BlockKind.VISITOR, "troll")]
        mailed = Inbound(Channel.EMAIL, "sari@example.org", "Hi")
        assert (await router.intake.accept(mailed)).message
        with pytest.raises(Refused):
            await router.intake.accept(widget("Again", visitor="troll"))

    async def test_block_expires(self, router: Router, clock: FakeClock) -> None:
        """A one-hour block lets the patron write again after the hour."""
        cid = await opened(router)
        await router.moderation.block(cid, 3600, "Ana")
        clock.advance(3601)
        assert (await router.intake.accept(widget("Back"))).conversation.id == cid

    async def test_email_and_telegram_blocks(self, router: Router) -> None:
        """Email patrons are blocked by address (any case), Telegram patrons by user id."""
        mail = await opened(router, Inbound(Channel.EMAIL, "sari@example.org", "Hi"))
        tg = await opened(router, Inbound(Channel.TELEGRAM, "777", "Hi"))
        await router.moderation.block(mail, None, "Ana")
        await router.moderation.block(tg, None, "Ana")
        with pytest.raises(Refused):
            await router.intake.accept(Inbound(Channel.EMAIL, "SARI@example.org", "Hi"))
        with pytest.raises(Refused):
            await router.intake.accept(Inbound(Channel.TELEGRAM, "777", "Hi"))

    async def test_unblock(self, router: Router) -> None:
        """/unblock lifts every block on the patron; /unblock <id> lifts one."""
        cid = await opened(router, widget(ip="198.51.100.7"))
        made = await router.moderation.block(cid, None, "Ana", frozenset({BlockKind.IP}))
        assert len(await router.moderation.blocks()) == 2
        lifted = await router.moderation.unblock_id(made[0].id[-6:])
        assert lifted == made[0] and len(await router.moderation.blocks()) == 1
        assert await router.moderation.unblock(cid) == made[1:]
        assert await router.moderation.blocks() == []
        assert (await router.intake.accept(widget("Thanks"))).conversation.id == cid

    @pytest.mark.parametrize(("text", "seconds"), [
        ("1h", 3600.0), ("1d", DAY), ("7d", 7 * DAY), ("2w", 14 * DAY), ("30m", 1800.0),
        ("forever", None), ("FOREVER", None),
    ])
    def test_durations(self, text: str, seconds: float | None) -> None:
        """Durations from 1h to forever parse to seconds (None for forever)."""
        assert parse_duration(text) == seconds

    @pytest.mark.parametrize("text", ["", "0h", "1y", "h", "-1d", "1.5h"])
    def test_bad_durations(self, text: str) -> None:
        """Anything else is refused with the list of what works."""
        with pytest.raises(BadDuration):
            parse_duration(text)

    def test_ip_ranges(self) -> None:
        """IPv4 is blocked by its /24, IPv6 by its /64, a mapped IPv4 as IPv4."""
        assert ip_range("203.0.113.77") == "203.0.113.0/24"
        assert ip_range("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
        assert ip_range("::ffff:203.0.113.77") == "203.0.113.0/24"
        assert ip_range("not an ip") == ""

    def test_keys_cover_known_contacts(self) -> None:
        """A known patron's other contacts, its address and range are checked; the email
        address they typed is not (it proves nothing about who writes)."""
        patron = Patron("p", email="Sari@Example.org",
                        contacts=(Contact(Channel.WIDGET, "v1"), Contact(Channel.TELEGRAM, "9")))
        keys = inbound_keys(Inbound(Channel.WIDGET, "v1", "x", email="Sari@Example.org",
                                    page=PageInfo(ip="10.1.2.3")), patron)
        assert set(keys) == {(BlockKind.VISITOR, "v1"), (BlockKind.TELEGRAM, "9"),
                             (BlockKind.IP, "10.1.2.3"), (BlockKind.RANGE, "10.1.2.0/24")}
        conversation = Conversation("c", "p", Channel.WIDGET, page=PageInfo(ip="10.1.2.3"))
        assert block_targets(patron, conversation) == [
            (BlockKind.VISITOR, "v1"), (BlockKind.TELEGRAM, "9")]
        assert block_targets(patron, conversation, frozenset({BlockKind.RANGE}))[-1] == (
            BlockKind.RANGE, "10.1.2.0/24")

    def test_one_address_for_every_patron_is_a_proxy(self) -> None:
        """Five or more widget patrons all from one address are reported (an untrusted
        proxy); patrons from several addresses, or too few, are not."""
        def chat(n: int, ip: str) -> Conversation:
            return Conversation(f"c{n}", f"p{n}", Channel.WIDGET, page=PageInfo(ip=ip))

        proxied = [chat(n, "172.18.0.1") for n in range(5)]
        assert shared_address(proxied) == ("172.18.0.1", 5)
        assert shared_address(proxied[:4]) is None
        assert shared_address([*proxied, chat(9, "203.0.113.5")]) is None


"""The store's contract for finding transcripts and forgetting old ones
(``routing.transcript_roles``). Subclass with a ``store`` fixture: an opened, empty store."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from routing.model import (
    Attachment,
    AttachmentKind,
    Channel,
    Contact,
    Conversation,
    Direction,
    Message,
    PageInfo,
    Patron,
    Status,
    new_id,
)
from routing.transcript_roles import TranscriptQuery
from tests.integration.store_contract import NOW, delivery_for

DAY = 86_400.0


async def talk(store: Any, *lines: str, name: str = "Ana", email: str = "",
               origin: Channel = Channel.WIDGET, at: float = NOW, **fields: Any) -> Conversation:
    """A saved patron and a conversation of ``lines`` (patron first, then alternating)."""
    visitor = new_id()
    who = Patron(new_id(), name=name, email=email, created_at=at,
                 contacts=(Contact(Channel.WIDGET, visitor),))
    await store.save_patron(who)
    conversation = Conversation(new_id(), who.id, origin, created_at=at, updated_at=at, **fields)
    await store.save_conversation(conversation)
    for index, line in enumerate(lines):
        direction = Direction.PATRON if index % 2 == 0 else Direction.LIBRARIAN
        await store.append(Message(new_id(), conversation.id, direction, line,
                                   created_at=at + index), [])
    return conversation


async def found(store: Any, **query: Any) -> list[str]:
    return [hit.conversation.id for hit in await store.search_transcripts(TranscriptQuery(**query))]


class TranscriptsContract:
    async def test_words_find_the_conversation_that_said_them(self, store: Any) -> None:
        """A word finds only the conversation one of whose messages holds it."""
        books = await talk(store, "Can I renew my books?", "Yes, from your account.")
        await talk(store, "Where do I park?")
        assert await found(store, words="renew") == [books.id]
        assert await found(store, words="account") == [books.id]

    async def test_every_word_must_be_there(self, store: Any) -> None:
        """Two words find a message holding both, not one holding either."""
        both = await talk(store, "renew my thesis loan")
        await talk(store, "renew my card")
        assert await found(store, words="renew thesis") == [both.id]

    async def test_prefix_and_indonesian_text(self, store: Any) -> None:
        """A prefix matches word starts ('pinjam*' finds 'Pinjaman', not inside
        'memperpanjang'); case and accents do not matter."""
        loan = await talk(store, "Bagaimana cara memperpanjang Pinjaman buku?")
        cafe = await talk(store, "Apakah kafe di perpustakaan buka? Café tutup?")
        assert await found(store, words="pinjam*") == [loan.id]
        assert await found(store, words="PERPANJANG*") == []
        assert await found(store, words="memperpanjang") == [loan.id]
        assert await found(store, words="cafe") == [cafe.id]

    async def test_fts_syntax_is_only_text(self, store: Any) -> None:
        """Quotes, NEAR, parentheses and colons are words, never FTS5 syntax."""
        hit = await talk(store, 'She said "open" NEAR the door: (really)')
        assert await found(store, words='"open" NEAR door: (really)') == [hit.id]

    async def test_words_of_no_letters_are_refused_clearly(self, store: Any) -> None:
        """Punctuation alone is a ValueError naming what to type."""
        with pytest.raises(ValueError, match="at least one word"):
            await found(store, words='?? "" *')

    async def test_excerpt_marks_the_words(self, store: Any) -> None:
        """The excerpt holds the matching message with the word between the marks."""
        await talk(store, "Do you hold the journal Nature?")
        [hit] = await store.search_transcripts(TranscriptQuery(words="nature"))
        assert "\x02Nature\x03" in hit.excerpt

    async def test_filters(self, store: Any) -> None:
        """Patron, librarian, tag, channel, rating and dates each narrow the result."""
        first = await talk(store, "hello", name="Budi Santoso", email="budi@example.org",
                           claimed_by="Sari", claimed_by_id="77", tags=("thesis",), rating=5)
        second = await talk(store, "hello", name="Citra", origin=Channel.EMAIL,
                            at=NOW + 3 * DAY, tags=("ill",), rating=2)
        assert await found(store, patron="santoso") == [first.id]
        assert await found(store, patron="BUDI@example") == [first.id]
        assert await found(store, librarian="sari") == [first.id]
        assert await found(store, librarian="77") == [first.id]
        assert await found(store, tag="#Thesis") == [first.id]
        assert await found(store, channel="email") == [second.id]
        assert await found(store, rating=2) == [second.id]
        assert await found(store, since=NOW + DAY) == [second.id]
        assert await found(store, until=NOW + DAY) == [first.id]
        assert await found(store) == [second.id, first.id]  # newest first

    async def test_words_with_days_and_channel(self, store: Any) -> None:
        """Words narrowed by the days a conversation started in and by its channel."""
        early = await talk(store, "renew my loan")
        middle = await talk(store, "renew my loan", at=NOW + 5 * DAY, origin=Channel.EMAIL)
        late = await talk(store, "renew my loan", at=NOW + 10 * DAY)
        assert await found(store, words="renew", since=NOW + DAY) == [late.id, middle.id]
        assert await found(store, words="renew", until=NOW + 6 * DAY) == [middle.id, early.id]
        assert await found(store, words="loan", since=NOW + DAY,
                           until=NOW + 6 * DAY) == [middle.id]
        assert await found(store, words="renew", channel="email") == [middle.id]
        assert await found(store, words="renew", until=NOW - DAY) == []

    async def test_patron_by_contact_and_like_wildcards(self, store: Any) -> None:
        """A visitor id finds its patron exactly; '%' in a name is a character."""
        conversation = await talk(store, "hi", name="100% Reader")
        owner = await store.get_patron(conversation.patron_id)
        visitor = owner.contacts[0].address
        await talk(store, "hi", name="Other")
        assert await found(store, patron=visitor) == [conversation.id]
        assert await found(store, patron="100%") == [conversation.id]
        assert await found(store, patron="0% R") == [conversation.id]
        assert await found(store, patron="%") == [conversation.id]

    async def test_pages(self, store: Any) -> None:
        """limit and offset page through the newest-first result."""
        made = [await talk(store, "page me", at=NOW + i) for i in range(5)]
        query = TranscriptQuery(words="page")
        page = await store.search_transcripts(query, limit=2, offset=2)
        assert [h.conversation.id for h in page] == [made[2].id, made[1].id]


class RetentionContract:
    async def test_only_old_closed_transcripts_are_stale(self, store: Any) -> None:
        """Closed before the line: stale; open, recent or still sending: not."""
        old = await talk(store, "old question", status=Status.CLOSED)
        await talk(store, "open question")
        await talk(store, "recent", status=Status.CLOSED, at=NOW + 10 * DAY)
        sending = await talk(store, "sending", status=Status.CLOSED)
        message = Message(new_id(), sending.id, Direction.LIBRARIAN, "bye", created_at=NOW)
        await store.append(message, [delivery_for(message)])
        stale = await store.stale_transcripts(NOW + DAY)
        assert [c.id for c in stale] == [old.id]

    async def test_forget_messages_keeps_the_conversation(self, store: Any) -> None:
        """Messages go and stop being found; the conversation row stays."""
        old = await talk(store, "forget me please", "ok", status=Status.CLOSED)
        kept = await talk(store, "keep me please")
        assert await store.forget_messages([old.id]) == 2
        assert await store.history(old.id) == []
        assert await store.get_conversation(old.id) is not None
        assert await found(store, words="please") == [kept.id]
        assert await store.stale_transcripts(NOW + DAY) == []

    async def test_stale_pages_and_visitors(self, store: Any) -> None:
        """Page info older than the line is stale; so is a visitor gone that long."""
        page = PageInfo(url="https://opac.example.org/x", ip="203.0.113.9")
        old = await talk(store, "hi", page=page)
        await talk(store, "hi", page=page, at=NOW + 10 * DAY)
        assert [c.id for c in await store.stale_pages(NOW + DAY)] == [old.id]
        assert [p.id for p in await store.stale_visitors(NOW + DAY)] == [old.patron_id]
        await store.save_conversation(replace(old, page=PageInfo()))
        assert await store.stale_pages(NOW + DAY) == []

    async def test_referenced_digests(self, store: Any) -> None:
        """Every digest a message still carries is referenced; forgotten ones are not."""
        conversation = await talk(store, status=Status.CLOSED)
        photo = Attachment(AttachmentKind.PHOTO, "a.jpg", "image/jpeg", 3, digest="ab" * 32)
        await store.append(Message(new_id(), conversation.id, Direction.PATRON, "",
                                   created_at=NOW, attachments=(photo,)), [])
        assert await store.referenced_digests() == {"ab" * 32}
        await store.forget_messages([conversation.id])
        assert await store.referenced_digests() == set()

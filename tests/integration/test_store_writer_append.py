"""The SQLite writer's append: resends found without a read per message, and words
indexed once per group commit (migration 0012), never doubled, searchable at commit."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from bridge.store.sqlite import SqliteStore
from routing.model import Message
from routing.transcript_roles import TranscriptQuery
from tests.integration.store_contract import conversation_for, delivery_for, message_in, patron
from tests.integration.store_contract_first import newcomer


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "pustaka.db")
    await opened.open()
    yield opened
    await opened.close()


def _indexed(store: SqliteStore) -> tuple[int, int]:
    """(messages, rows of the word index) read from the file itself."""
    with sqlite3.connect(store.path) as conn:
        messages = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
        # FTS5's averages record (id 1) begins with the count of rows indexed, as a
        # varint: the index keeps no row per message since migration 0013 (columnsize=0).
        record = conn.execute("SELECT block FROM messages_fts_data WHERE id = 1").fetchone()[0]
    return messages, _varint(record)


def _varint(data: bytes) -> int:
    """The SQLite varint at the start of ``data`` (7 bits a byte, high bit: more)."""
    value = 0
    for byte in data[:8]:
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value
    return (value << 8) | data[8]


async def _append_all(store: SqliteStore, messages: list[Message]) -> list[tuple[Message, bool]]:
    return list(await asyncio.gather(*(store.append(m, [delivery_for(m)]) for m in messages)))


class TestResendsInAGroupCommit:
    async def test_resends_beside_new_messages_keep_the_originals(
        self, store: SqliteStore
    ) -> None:
        """In one commit, new messages are stored with their deliveries; resends get the
        stored original and queue nothing."""
        conversation = await conversation_for(store, await patron(store))
        stored = message_in(conversation, "first", client_id="c-0")
        await store.append(stored, [delivery_for(stored)])
        fresh = [message_in(conversation, f"new {n}", client_id=f"c-{n}") for n in range(1, 11)]
        twins = [message_in(conversation, f"twin {n}", client_id="c-11") for n in range(2)]
        resend = message_in(conversation, "first again", client_id="c-0")
        before = store.commits
        results = await _append_all(store, [*fresh[:5], resend, twins[0], *fresh[5:], twins[1]])
        assert store.commits - before == 1
        assert results[5] == (stored, False)
        assert results[6] == (twins[0], True) and results[-1] == (twins[0], False)
        assert [r for r in results if r[1]] == [(m, True) for m in [*fresh[:5], twins[0],
                                                                      *fresh[5:]]]
        assert await store.pending_deliveries() == 12
        assert await store.history(conversation.id) == sorted(
            [stored, *fresh, twins[0]], key=lambda m: m.id)

    async def test_the_same_message_appended_again_is_a_resend(self, store: SqliteStore) -> None:
        """The very message (same id and client_id) appended twice, in one commit or two,
        is stored once and queued once."""
        conversation = await conversation_for(store, await patron(store))
        once = message_in(conversation, client_id="c-1")
        before = store.commits
        assert await asyncio.gather(store.append(once, []), store.append(once, [])) == [
            (once, True), (once, False)]
        assert store.commits - before == 1
        assert await store.append(once, [delivery_for(once)]) == (once, False)
        assert await store.pending_deliveries() == 0
        assert await store.history(conversation.id) == [once]


class TestWordsIndexedByTheWriter:
    async def test_a_committed_message_is_found_at_once(self, store: SqliteStore) -> None:
        """Each message of a group commit is found by its words as soon as append returns."""
        conversation = await conversation_for(store, await patron(store))
        words = [f"skripsi{chr(97 + n)}{chr(97 + n)}" for n in range(20)]
        await _append_all(store, [message_in(conversation, f"pinjam {w}", client_id=w)
                                  for w in words])
        for word in words:
            [hit] = await store.search_transcripts(TranscriptQuery(words=word))
            assert hit.conversation.id == conversation.id

    async def test_resends_and_failed_ops_are_not_indexed(self, store: SqliteStore) -> None:
        """A resend, or an op that failed alone, adds no row to the index: one per message."""
        conversation = await conversation_for(store, await patron(store))
        first = [message_in(conversation, f"buku {n}", client_id=f"c-{n}") for n in range(30)]
        await _append_all(store, first)
        again = [message_in(conversation, "buku lagi", client_id=f"c-{n}") for n in range(30)]
        orphan = message_in(conversation, "tersesat")
        orphan = Message(orphan.id, "no-such-conversation", orphan.direction, orphan.text)
        results = await asyncio.gather(
            *(store.append(m, []) for m in [*again, orphan]), return_exceptions=True)
        assert isinstance(results[-1], ValueError)
        assert _indexed(store) == (30, 30)
        assert await store.search_transcripts(TranscriptQuery(words="lagi")) == []
        assert await store.search_transcripts(TranscriptQuery(words="tersesat")) == []


class TestNewPatrons:
    async def test_a_created_patron_has_no_conversation_without_a_read(
        self, store: SqliteStore
    ) -> None:
        """A patron the commit inserted is known to have no conversation: asking reads
        nothing from the file; its first conversation is then its latest."""
        reads: list[str] = []
        assert store._reader is not None
        await store._reader.set_trace_callback(reads.append)
        ana = await patron(store)
        assert await store.latest_conversation(ana.id) is None
        assert reads == []
        talk = await conversation_for(store, ana)
        assert await store.latest_conversation(ana.id) == talk
        assert reads == []

    async def test_saving_a_known_patron_again_keeps_its_conversations(
        self, tmp_path: Path
    ) -> None:
        """A patron already in the file (a fresh process, a cold cache) saved again is
        not taken for a new one: its conversation is still found."""
        first = SqliteStore(tmp_path / "p.db")
        await first.open()
        ana = await patron(first)
        talk = await conversation_for(first, ana)
        await first.close()
        second = SqliteStore(tmp_path / "p.db")
        await second.open()
        try:
            await second.save_patron(replace(ana, name="Ana"))
            await second.save_patron(replace(ana, name="Ana B."))
            assert await second.latest_conversation(ana.id) == talk
            assert (await second.patron_by_contact(ana.contacts[0])) == replace(ana, name="Ana B.")
        finally:
            await second.close()


class TestFirstMessages:
    async def test_first_messages_beside_appends_share_one_commit(
        self, store: SqliteStore
    ) -> None:
        """New patrons' first messages and other messages queued together go in one
        commit, each message indexed once; what they made is then known without a read."""
        talk = await conversation_for(store, await patron(store))
        others = [message_in(talk, f"lagi {n}") for n in range(3)]
        firsts = [newcomer() for _ in range(3)]
        opening = [message_in(c, f"halo {n}") for n, (_p, c) in enumerate(firsts)]
        before = store.commits
        results = await asyncio.gather(
            *(store.append_first(p, c, m, [delivery_for(m)])
              for (p, c), m in zip(firsts, opening, strict=True)),
            *(store.append(m, [delivery_for(m)]) for m in others))
        assert store.commits - before == 1
        assert list(results) == [(m, True) for m in [*opening, *others]]
        assert _indexed(store) == (6, 6)
        reads: list[str] = []
        assert store._reader is not None
        await store._reader.set_trace_callback(reads.append)
        for made, talk_made in firsts:
            assert await store.patron_by_contact(made.contacts[0]) == made
            assert await store.latest_conversation(made.id) == talk_made
        assert reads == []
        assert await store.search_transcripts(TranscriptQuery(words="halo")) != []

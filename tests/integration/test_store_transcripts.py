"""SqliteStore: the transcript and retention contracts, and the FTS5 back-fill."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bridge.store.sqlite import SqliteStore
from bridge.store.sqlite_schema import bundled_migrations, connect_writer, migrate
from tests.integration.store_contract_transcripts import RetentionContract, TranscriptsContract


@pytest.fixture(params=["few-or-one-chunk", "many-chunks"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqliteStore]:
    """The three ways through a word search: filters leaving few conversations (each
    looked into), the matches read in one chunk, and in chunks of 1, 4, 16…"""
    opened = SqliteStore(tmp_path / "pustaka.db")
    if request.param == "many-chunks":
        opened.first_chunk = 1
        opened.few_conversations = 0
    await opened.open()
    yield opened
    await opened.close()


class TestSqliteTranscripts(TranscriptsContract):
    pass


class TestSqliteRetention(RetentionContract):
    pass


def test_migration_back_fills_the_index(tmp_path: Path) -> None:
    """Messages written before the search's migration are found after it."""
    path = tmp_path / "old.db"
    conn = connect_writer(path, "NORMAL")
    every = bundled_migrations()
    mine = next(m.version for m in every if m.name.endswith("_transcript_search.sql"))
    migrate(conn, [m for m in every if m.version < mine])
    conn.execute("INSERT INTO patrons (id) VALUES ('p')")
    conn.execute("INSERT INTO conversations (id, patron_id, origin, status, created_at,"
                 " updated_at) VALUES ('c', 'p', 'widget', 'open', 1, 1)")
    conn.execute("INSERT INTO messages (id, conversation_id, direction, text, created_at)"
                 " VALUES ('m', 'c', 'patron', 'skripsi perpustakaan', 1)")
    migrate(conn, bundled_migrations())
    hits = conn.execute("SELECT rowid FROM messages_fts WHERE messages_fts MATCH 'skripsi'")
    assert len(hits.fetchall()) == 1
    with pytest.raises(sqlite3.Error):
        conn.execute("SELECT * FROM messages_fts WHERE messages_fts MATCH '\"'").fetchall()
    conn.close()


def test_index_rebuilt_without_sizes_finds_the_same_words(tmp_path: Path) -> None:
    """Messages the writer indexed before migration 0013 are found after it by the same
    words and prefixes (a 2-character one too), excerpts are cut as before, and a
    deleted message's words go with it."""
    path = tmp_path / "before.db"
    conn = connect_writer(path, "NORMAL")
    every = bundled_migrations()
    migrate(conn, [m for m in every if m.version < 13])
    conn.execute("INSERT INTO patrons (id) VALUES ('p')")
    conn.execute("INSERT INTO conversations (id, patron_id, origin, status, created_at,"
                 " updated_at) VALUES ('c', 'p', 'widget', 'open', 1, 1)")
    for n, text in enumerate(["skripsi perpustakaan", "buku café lantai dua", "skripsi lagi"]):
        conn.execute("INSERT INTO messages (id, conversation_id, direction, text, created_at)"
                     " VALUES (?, 'c', 'patron', ?, 1)", (f"m{n}", text))
    conn.execute("INSERT INTO messages_fts (rowid, text) SELECT rowid, text FROM messages")
    search = ("SELECT rowid, snippet(messages_fts, 0, '[', ']', '…', 16) FROM messages_fts"
              " WHERE messages_fts MATCH ? ORDER BY rowid")
    before = [conn.execute(search, (q,)).fetchall() for q in ("skripsi", "cafe", "pe*")]
    migrate(conn, every)
    assert [conn.execute(search, (q,)).fetchall() for q in ("skripsi", "cafe", "pe*")] == before
    assert conn.execute("SELECT count(*) FROM sqlite_master"
                        " WHERE name = 'messages_fts_docsize'").fetchone()[0] == 0
    conn.execute("DELETE FROM messages WHERE id = 'm0'")
    assert conn.execute(search, ("skripsi",)).fetchall() == [(3, "[skripsi] lagi")]
    conn.execute("INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)")
    conn.close()

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

"""Migration 0006 on a database written by the version that blocked whole /24 ranges and
typed email addresses along with every patron."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from bridge.store.sqlite import SqliteStore
from bridge.store.sqlite_schema import bundled_migrations, migrate
from routing.model import BlockKind

_BLOCKS = [
    # id, kind, value, conversation, created_at: one /block of a widget patron ...
    ("b1", "visitor", "v-troll", "c-widget", 100.0),
    ("b2", "email", "victim@example.org", "c-widget", 100.0),
    ("b3", "ip", "198.51.100.0/24", "c-widget", 100.0),
    # ... one of an email patron (their address wrote to us) ...
    ("b4", "email", "spam@example.net", "c-mail", 200.0),
    # ... and one "/block 1d ip" the librarian asked for alone.
    ("b5", "ip", "203.0.113.0/24", "c-other", 300.0),
]


def _old_database(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, [m for m in bundled_migrations() if m.version < 6])
    conn.execute("INSERT INTO patrons (id, created_at) VALUES ('p', 0)")
    for cid, origin in (("c-widget", "widget"), ("c-mail", "email"), ("c-other", "widget")):
        conn.execute("INSERT INTO conversations (id, patron_id, origin, status, created_at,"
                     " updated_at) VALUES (?, 'p', ?, 'open', 0, 0)", (cid, origin))
    for block_id, kind, value, cid, at in _BLOCKS:
        conn.execute("INSERT INTO blocks (id, kind, value, until, by, conversation_id,"
                     " created_at) VALUES (?, ?, ?, NULL, 'Ana', ?, ?)",
                     (block_id, kind, value, cid, at))
    conn.close()


async def test_implied_blocks_are_lifted_and_asked_ranges_kept(tmp_path: Path) -> None:
    """The /24 and the typed address that came along with a visitor's block are lifted,
    the visitor's own block and an email patron's address stay, and an IP block the
    librarian asked for alone becomes the range it always was, still refusing that range."""
    path = tmp_path / "pustaka.db"
    _old_database(path)
    store = SqliteStore(path)
    await store.open()
    try:
        kept = {(b.id, b.kind, b.value) for b in await store.active_blocks(time.time())}
        assert kept == {("b1", BlockKind.VISITOR, "v-troll"),
                        ("b4", BlockKind.EMAIL, "spam@example.net"),
                        ("b5", BlockKind.RANGE, "203.0.113.0/24")}
        found = await store.find_block([(BlockKind.RANGE, "203.0.113.0/24")], time.time())
        assert found is not None and found.id == "b5"
    finally:
        await store.close()

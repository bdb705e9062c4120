"""Migration 0007 on a database written by the version that kept desk state as keys of
the key-value ``state`` table, one per conversation or message, never removed."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from bridge.store.sqlite import SqliteStore
from bridge.store.sqlite_schema import bundled_migrations, migrate
from routing.model import Channel, Contact
from routing.ports import ContactState, DeskCard, EmailProof, Link, MailThread

_STATE = {
    "telegram.desk.card.c1": "501",
    "telegram.desk.card_tail.c1": "\n\n<b>Ana</b>: Is it open?",
    "telegram.desk.card.c2": "502",  # a card whose tail was never known
    "telegram.desk.card.gone": "503",  # a conversation no longer there
    "email.thread.c1": json.dumps({"subject": "Renewal", "last": "<b@x>",
                                   "refs": ["<a@x>", "<b@x>"]}),
    "email.ack.c1": "sent",
    "email.ack.c2": "sent",  # acknowledged, no thread kept
    "email.thread.c3": "not json",
    "telegram.patron.sent.m1": "42:7",
    "telegram.patron.sent_all.m1": "42:7,8",
    "tg.posts.m1.-100123": '{"plan": "p", "done": [[1]]}',
    "tg.posts.gone.-100123": '{"plan": "p", "done": []}',
    "telegram.patron.rating.42:9": "c1:5",
    "telegram.patron.rating.42:10": "gone:4",
    "telegram.patron.4242": "id|1700000000.5",
    "widget-visitor-generation:v-1": "3",
    "email-proof:widget:v-1": json.dumps(["dewi@example.org", "5a1t", "ab", 1700000600.25, 2]),
    "email-proof:widget:v-2": "",  # spent
    "telegram.desk.offset": "9001",  # a cursor: stays
    "imap.help.last_uid": "77",
}


def _old_database(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, [m for m in bundled_migrations() if m.version < 7])
    conn.execute("INSERT INTO patrons (id, created_at) VALUES ('p', 0)")
    for cid in ("c1", "c2", "c3"):
        conn.execute("INSERT INTO conversations (id, patron_id, origin, status, created_at,"
                     " updated_at) VALUES (?, 'p', 'email', 'open', 0, 0)", (cid,))
    conn.execute("INSERT INTO messages (id, conversation_id, direction, text, created_at)"
                 " VALUES ('m1', 'c1', 'librarian', 'Yes', 0)")
    conn.executemany("INSERT INTO state (key, value) VALUES (?, ?)", _STATE.items())
    conn.execute("INSERT INTO links VALUES ('email', '<a@x>', 'c1', 'm1')")
    conn.execute("INSERT INTO links VALUES ('email', '<lost@x>', 'gone', '')")  # FK was off
    conn.close()


async def test_desk_state_moves_to_its_owners_and_cursors_stay(tmp_path: Path) -> None:
    """Cards, mail threads, acknowledgements and send progress read back through the
    DeskState port as they were, rating thanks as links, a Telegram chat's language and
    a widget visitor's token generation and pending email code as contact state; state
    of a conversation or message no longer there is dropped; only the cursors are left
    in the key-value table."""
    path = tmp_path / "pustaka.db"
    _old_database(path)
    store = SqliteStore(path)
    await store.open()
    try:
        assert await store.desk_card("c1") == DeskCard(501, "\n\n<b>Ana</b>: Is it open?")
        assert await store.desk_card("c2") == DeskCard(502, None)
        assert await store.mail_thread("c1") == MailThread(
            "Renewal", "<b@x>", ("<a@x>", "<b@x>"), acknowledged=True)
        assert await store.mail_thread("c2") == MailThread(acknowledged=True)
        assert await store.mail_thread("c3") is None  # unreadable: a fresh thread
        assert await store.posted("m1", "telegram.patron") == "42:7"
        assert await store.posted("m1", "telegram.patron.all") == "42:7,8"
        assert await store.posted("m1", "telegram.posts.-100123") == _STATE["tg.posts.m1.-100123"]
        assert await store.get_state("telegram.desk.offset") == "9001"
        assert await store.contact_state(Contact(Channel.TELEGRAM, "4242")) == ContactState(
            "id", 1_700_000_000.5)
        assert await store.contact_state(Contact(Channel.WIDGET, "v-1")) == ContactState(
            token_generation=3,
            email_proof=EmailProof("dewi@example.org", "5a1t", "ab", 1700000600.25, 2))
        assert await store.contact_state(Contact(Channel.WIDGET, "v-2")) is None
        assert await store.find_link("telegram.rated", "42:9") == Link(
            "telegram.rated", "42:9", "c1")
        assert await store.find_link("telegram.rated", "42:10") is None
        assert await store.find_link("email", "<a@x>") == Link("email", "<a@x>", "c1", "m1")
        assert await store.find_link("email", "<lost@x>") is None
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    left = {key for (key,) in conn.execute("SELECT key FROM state")}
    conn.close()
    assert left == {"telegram.desk.offset", "imap.help.last_uid"}


async def test_desk_state_goes_with_its_conversation(tmp_path: Path) -> None:
    """Deleting a conversation (and its messages) deletes its card, thread, progress and
    links."""
    path = tmp_path / "pustaka.db"
    _old_database(path)
    store = SqliteStore(path)
    await store.open()
    await store.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("DELETE FROM messages WHERE conversation_id = 'c1'")
    conn.execute("DELETE FROM conversations WHERE id = 'c1'")
    counts = [conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
              for table in ("desk_cards", "mail_threads", "message_posts", "links")]
    conn.close()
    assert counts == [1, 1, 0, 0]  # c2's card and acknowledgement stay

"""The desk-state role on SQLite (``routing.ports.DeskState``): the info card of a topic,
the email thread of a conversation, how far the send of a message got.

Each table's rows belong to a conversation or a message (foreign keys, ON DELETE
CASCADE; migration 0007), so a save for one the store does not hold is refused.
"""

from __future__ import annotations

import json

from bridge.store.sqlite_role import SqliteRole
from routing.ports import DeskCard, MailThread

__all__ = ["WRITES", "SqliteDeskState"]

WRITES = {  # op kind -> statement; applied after appends, so a new message's row exists
    "save_desk_card": (
        "INSERT INTO desk_cards (conversation_id, message_id, tail) VALUES (?, ?, ?)"
        " ON CONFLICT (conversation_id) DO UPDATE SET message_id = excluded.message_id,"
        " tail = excluded.tail"
    ),
    "save_mail_thread": (
        "INSERT INTO mail_threads (conversation_id, subject, last_patron_id, refs,"
        " acknowledged) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (conversation_id) DO UPDATE SET subject = excluded.subject,"
        " last_patron_id = excluded.last_patron_id, refs = excluded.refs,"
        " acknowledged = excluded.acknowledged"
    ),
    "save_posted": (
        "INSERT INTO message_posts (message_id, place, posted) VALUES (?, ?, ?)"
        " ON CONFLICT (message_id, place) DO UPDATE SET posted = excluded.posted"
    ),
}

_CARD = "SELECT message_id, tail FROM desk_cards WHERE conversation_id = ?"
_THREAD = (
    "SELECT subject, last_patron_id, refs, acknowledged FROM mail_threads"
    " WHERE conversation_id = ?"
)
_POSTED = "SELECT posted FROM message_posts WHERE message_id = ? AND place = ?"


class SqliteDeskState(SqliteRole):
    async def desk_card(self, conversation_id: str) -> DeskCard | None:
        rows = list(await self._db().execute_fetchall(_CARD, (conversation_id,)))
        return DeskCard(int(rows[0][0]), rows[0][1]) if rows else None

    async def save_desk_card(self, conversation_id: str, card: DeskCard) -> None:
        await self._write("save_desk_card", conversation_id, card.message_id, card.tail)

    async def mail_thread(self, conversation_id: str) -> MailThread | None:
        rows = list(await self._db().execute_fetchall(_THREAD, (conversation_id,)))
        if not rows:
            return None
        subject, last, refs, acknowledged = rows[0]
        return MailThread(subject, last, tuple(json.loads(refs)), bool(acknowledged))

    async def save_mail_thread(self, conversation_id: str, thread: MailThread) -> None:
        await self._write("save_mail_thread", conversation_id, thread.subject,
                          thread.last_patron_id, json.dumps(list(thread.references)),
                          int(thread.acknowledged))

    async def posted(self, message_id: str, place: str) -> str | None:
        rows = list(await self._db().execute_fetchall(_POSTED, (message_id, place)))
        return str(rows[0][0]) if rows else None

    async def save_posted(self, message_id: str, place: str, posted: str) -> None:
        await self._write("save_posted", message_id, place, posted)

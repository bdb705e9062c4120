"""A patron's request about their data, on SQLite: find them, export everything held,
erase it in one transaction.

The erasure is one op of the group commit (``WRITES``), so it is all or nothing and no
write of the same batch sees half a patron. What it returns counts rows by kind: that is
what the erasure record keeps, never the data.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from bridge.store.sqlite_role import SqliteRole, first, rows
from bridge.store.sqlite_rows import attachments_from_json
from routing.model import Channel, Contact
from routing.staff_roles import PatronData, TelegramPost

__all__ = ["WRITES", "SqlitePatronData"]

_CONVERSATIONS = "SELECT id FROM conversations WHERE patron_id = ?"
_MESSAGES = f"SELECT id FROM messages WHERE conversation_id IN ({_CONVERSATIONS})"
# Children first: the tables without ON DELETE CASCADE would refuse the parents' deletion.
_ERASE = [
    ("files_posted", f"DELETE FROM message_posts WHERE message_id IN ({_MESSAGES})"),
    ("deliveries", f"DELETE FROM deliveries WHERE conversation_id IN ({_CONVERSATIONS})"),
    ("links", f"DELETE FROM links WHERE conversation_id IN ({_CONVERSATIONS})"),
    ("desk_cards", f"DELETE FROM desk_cards WHERE conversation_id IN ({_CONVERSATIONS})"),
    ("mail_threads", f"DELETE FROM mail_threads WHERE conversation_id IN ({_CONVERSATIONS})"),
    ("blocks", f"DELETE FROM blocks WHERE conversation_id IN ({_CONVERSATIONS})"),
    ("messages", f"DELETE FROM messages WHERE conversation_id IN ({_CONVERSATIONS})"),
    ("conversations", "DELETE FROM conversations WHERE patron_id = ?"),
    ("contact_states", "DELETE FROM contact_states WHERE (channel, address) IN"
                       " (SELECT channel, address FROM contacts WHERE patron_id = ?)"),
    ("contacts", "DELETE FROM contacts WHERE patron_id = ?"),
    ("patrons", "DELETE FROM patrons WHERE id = ?"),
]


def _erase(conn: sqlite3.Connection, args: tuple[Any, ...]) -> dict[str, int]:
    patron_id = args[0]
    conversations = [r[0] for r in conn.execute(_CONVERSATIONS, (patron_id,))]
    counts: dict[str, int] = {}
    for conversation_id in conversations:  # state kept per conversation by the adapters
        gone = conn.execute("DELETE FROM state WHERE key LIKE ?", (f"%.{conversation_id}",))
        counts["state"] = counts.get("state", 0) + gone.rowcount
    for kind, sql in _ERASE:
        counts[kind] = counts.get(kind, 0) + conn.execute(sql, (patron_id,)).rowcount
    return {kind: n for kind, n in counts.items() if n}


WRITES: dict[str, Callable[[sqlite3.Connection, tuple[Any, ...]], Any]] = {
    "erase_patron": _erase,
}

_TABLES = {  # what an export holds, table by table, and how to select the patron's rows
    "patron": "SELECT * FROM patrons WHERE id = ?",
    "contacts": "SELECT channel, address FROM contacts WHERE patron_id = ? ORDER BY position",
    "contact_states": "SELECT channel, address, language, unreachable_since"
                      " FROM contact_states WHERE (channel, address) IN"
                      " (SELECT channel, address FROM contacts WHERE patron_id = ?)",
    "conversations": "SELECT * FROM conversations WHERE patron_id = ? ORDER BY created_at",
    "messages": f"SELECT * FROM messages WHERE conversation_id IN ({_CONVERSATIONS})"
                " ORDER BY created_at, id",
    "mail_threads": f"SELECT * FROM mail_threads WHERE conversation_id IN ({_CONVERSATIONS})",
    "blocks": f"SELECT * FROM blocks WHERE conversation_id IN ({_CONVERSATIONS})",
}


def _post(kind: str, ident: str) -> TelegramPost | None:
    """A desk post's id is the message id; a patron chat's is ``chat:message``."""
    chat, _, message = ident.rpartition(":")
    if not message.lstrip("-").isdigit() or (chat and not chat.lstrip("-").isdigit()):
        return None
    return TelegramPost(kind, int(message), int(chat) if chat else None)


class SqlitePatronData(SqliteRole):
    """``PatronRecords``: who a patron is by any address, their export, their erasure."""

    async def find_patron(self, channel: str, address: str) -> str | None:
        """The patron id behind a contact (``widget`` visitor, ``email``, ``telegram`` id)."""
        r = await first(self._db(), "SELECT patron_id FROM contacts WHERE channel = ?"
                        " AND address = ? COLLATE NOCASE", (channel, address))
        if r is None and channel == "email":
            r = await first(self._db(), "SELECT id FROM patrons WHERE email = ?"
                            " COLLATE NOCASE", (address,))
        return None if r is None else str(r[0])

    async def patron_data(self, patron_id: str) -> PatronData:
        """Every row held about the patron, by table, as plain JSON-able records."""
        db = self._db()
        tables: dict[str, list[dict[str, Any]]] = {}
        for name, sql in _TABLES.items():
            cursor = await db.execute(sql, (patron_id,))
            columns = [c[0] for c in cursor.description]
            tables[name] = [dict(zip(columns, r, strict=True)) for r in await cursor.fetchall()]
            await cursor.close()
        files = sorted({f.digest for m in tables["messages"] if m.get("attachments")
                        for f in attachments_from_json(m["attachments"]) if f.digest})
        return PatronData(patron_id, tables, files, await self._posts(patron_id))

    async def _posts(self, patron_id: str) -> list[TelegramPost]:
        """What the bridge posted on Telegram for the patron: topics, desk and DM messages."""
        found = await rows(self._db(), "SELECT 'topic', desk_thread FROM conversations"
                           " WHERE patron_id = ? AND desk_thread IS NOT NULL"
                           " UNION ALL SELECT 'card', message_id FROM desk_cards"
                           f" WHERE conversation_id IN ({_CONVERSATIONS})"
                           " UNION ALL SELECT destination, external_id FROM deliveries"
                           f" WHERE conversation_id IN ({_CONVERSATIONS})"
                           " AND destination IN ('desk', 'telegram') AND external_id != ''",
                           (patron_id, patron_id, patron_id))
        return [post for kind, ident in found if (post := _post(str(kind), str(ident)))]

    async def erase_patron(self, patron_id: str) -> dict[str, int]:
        """Deletes every row of the patron; returns how many of each kind went."""
        db = self._db()
        contacts = await rows(db, "SELECT channel, address FROM contacts WHERE patron_id = ?",
                              (patron_id,))
        conversations = await rows(db, _CONVERSATIONS, (patron_id,))
        counts: dict[str, int] = await self._write("erase_patron", patron_id)
        cache = self._cache  # the patron and their conversations must not be served again
        cache.patrons.pop(patron_id)
        cache.latest.pop(patron_id)
        for channel, address in contacts:
            cache.contacts.pop(Contact(Channel(channel), str(address)))
        for (conversation_id,) in conversations:
            cache.conversations.pop(str(conversation_id))
        cache.everything_changed()  # a read begun before the erasure caches nothing
        return counts

    async def blob_in_use(self, digest: str) -> bool:
        """Whether any message still refers to the file (blobs are shared by content)."""
        return await first(self._db(), "SELECT 1 FROM messages WHERE attachments LIKE ?"
                           " LIMIT 1", (f"%{digest}%",)) is not None

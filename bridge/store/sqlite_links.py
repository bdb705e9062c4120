"""The links and cursors roles on SQLite (``routing.ports.Links``, ``Cursors``)."""

from __future__ import annotations

from bridge.store.sqlite_role import SqliteRole, first
from bridge.store.sqlite_rows import link_from_row, link_row
from routing.ports import Link

__all__ = ["UPSERT_LINK", "WRITES", "SqliteCursors", "SqliteLinks"]

UPSERT_LINK = (
    "INSERT INTO links (channel, external_id, conversation_id, message_id) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (channel, external_id) DO UPDATE SET"
    " conversation_id = excluded.conversation_id, message_id = excluded.message_id"
)
WRITES = {  # op kind -> statement
    "save_link": UPSERT_LINK,
    "set_state": (
        "INSERT INTO state (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
    ),
}


class SqliteLinks(SqliteRole):
    async def save_link(self, link: Link) -> None:
        await self._write("save_link", *link_row(link))

    async def find_link(self, channel: str, external_id: str) -> Link | None:
        sql = ("SELECT channel, external_id, conversation_id, message_id FROM links"
               " WHERE channel = ? AND external_id = ?")
        row = await first(self._db(), sql, (channel, external_id))
        return None if row is None else link_from_row(row)


class SqliteCursors(SqliteRole):
    async def get_state(self, key: str) -> str | None:
        row = await first(self._db(), "SELECT value FROM state WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    async def set_state(self, key: str, value: str) -> None:
        await self._write("set_state", key, value)

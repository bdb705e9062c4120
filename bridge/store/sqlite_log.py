"""The conversation log and reports roles on SQLite (``routing.ports.ConversationLog``,
``Reports``): conversations, messages, and the reads across them. Every statement of
the role is here; ``sqlite_writer`` batches the writes (the append: a message, its
outbox rows, a resend found by client id)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from bridge.store.sqlite_cache import Missing
from bridge.store.sqlite_role import SqliteRole, chunks, first, marks, rows
from bridge.store.sqlite_rows import (
    CONVERSATION_COLUMNS,
    MESSAGE_COLUMNS,
    contact_rows,
    conversation_from_row,
    conversation_row,
    delivery_row,
    message_from_row,
    message_row,
    patron_row,
)
from bridge.store.sqlite_waiting import waiting as waiting_patrons
from routing.model import Conversation, Delivery, Message, Patron
from routing.reminders import Waiting

__all__ = [
    "FIND_BY_CLIENT_ID",
    "INDEX_MESSAGES_AFTER",
    "INSERT_MESSAGE",
    "LAST_MESSAGE_ROWID",
    "UPSERT_CONVERSATION",
    "SqliteConversationLog",
    "SqliteReports",
]

UPSERT_CONVERSATION = (
    f"INSERT INTO conversations ({CONVERSATION_COLUMNS})"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (id) DO UPDATE SET patron_id = excluded.patron_id, origin = excluded.origin,"
    " status = excluded.status, claimed_by = excluded.claimed_by,"
    " claimed_by_id = excluded.claimed_by_id, desk_thread = excluded.desk_thread,"
    " after_hours = excluded.after_hours, tags = excluded.tags, rating = excluded.rating,"
    " page = excluded.page, created_at = excluded.created_at, updated_at = excluded.updated_at,"
    " subject = excluded.subject, closed_at = excluded.closed_at,"
    " first_response_at = excluded.first_response_at,"
    " rating_comment = excluded.rating_comment,"
    " rated_librarian_id = excluded.rated_librarian_id"
)
FIND_BY_CLIENT_ID = (  # rowid first: the writer tells a row of this commit by it
    f"SELECT rowid, {MESSAGE_COLUMNS} FROM messages"
    " WHERE conversation_id = ? AND client_id = ? AND client_id != ''"  # the partial index
)
# A resend (a client_id its conversation already holds) is skipped, not an error: the
# writer learns of it from the rows inserted and only then looks up the original.
INSERT_MESSAGE = (
    f"INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (conversation_id, client_id) WHERE client_id != '' DO NOTHING"
)
# The words of messages are indexed by the writer, one statement per group commit, in
# the commit that inserts them (migration 0012 dropped the per-row trigger: FTS5 paid a
# statement's set-up per message). A rowid table gives a new row max(rowid) + 1, so the
# rows inserted after reading LAST_MESSAGE_ROWID are those above it.
LAST_MESSAGE_ROWID = "SELECT coalesce(max(rowid), 0) FROM messages"
INDEX_MESSAGES_AFTER = (
    "INSERT INTO messages_fts (rowid, text) SELECT rowid, text FROM messages WHERE rowid > ?"
)
_CONVERSATION = f"SELECT {CONVERSATION_COLUMNS} FROM conversations"
_MESSAGE = f"SELECT {MESSAGE_COLUMNS} FROM messages"
_NEWEST_FIRST = " ORDER BY created_at DESC, id DESC"


class SqliteConversationLog(SqliteRole):
    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        hit = self._cache.conversations.get(conversation_id)
        if not isinstance(hit, Missing):
            self._db()
            return hit
        generation = self._cache.conversation_generation
        conversation = await self._conversation_where("id = ?", conversation_id)
        self._cache.conversation_read(generation, conversation, conversation_id)
        return conversation

    async def _conversation_where(self, where: str, value: object) -> Conversation | None:
        row = await first(self._db(), f"{_CONVERSATION} WHERE {where}{_NEWEST_FIRST} LIMIT 1",
                          (value,))
        return None if row is None else conversation_from_row(row)

    async def get_conversations(
        self, conversation_ids: Collection[str]
    ) -> dict[str, Conversation]:
        found, missed = self._cached(self._cache.conversations, conversation_ids)
        if missed:
            generation = self._cache.conversation_generation
            for part in chunks(missed):
                sql = f"{_CONVERSATION} WHERE id IN ({marks(part)})"
                for row in await rows(self._db(), sql, part):
                    conversation = conversation_from_row(row)
                    self._cache.conversation_read(generation, conversation)
                    found[conversation.id] = conversation
        return found

    async def latest_conversation(self, patron_id: str) -> Conversation | None:
        known = self._cache.latest.get(patron_id)
        if known is None:
            self._db()
            return None
        if isinstance(known, tuple):
            # A hit (nearly every message) is taken here: no coroutine to make for it.
            conversation = self._cache.conversations.get(known[1])
            if not isinstance(conversation, Missing):
                self._db()  # raises when not open, as get_conversation does
            else:
                conversation = await self.get_conversation(known[1])
            if (conversation is not None and conversation.patron_id == patron_id
                    and conversation.created_at == known[0]):
                return conversation
        generation = self._cache.conversation_generation
        conversation = await self._conversation_where("patron_id = ?", patron_id)
        self._cache.latest_read(generation, patron_id, conversation)
        return conversation

    async def conversation_by_thread(self, desk_thread: int) -> Conversation | None:
        return await self._conversation_where("desk_thread = ?", desk_thread)

    async def save_conversation(self, conversation: Conversation) -> None:
        await self._write("save_conversation", conversation_row(conversation), conversation)

    async def append(
        self, message: Message, deliveries: Sequence[Delivery]
    ) -> tuple[Message, bool]:
        queued = [delivery_row(d) for d in deliveries]
        result: tuple[Message, bool] = await self._write(
            "append", message, message_row(message), queued)
        return result

    async def append_first(
        self, patron: Patron, conversation: Conversation, message: Message,
        deliveries: Sequence[Delivery],
    ) -> tuple[Message, bool]:
        # One op, so one commit and one round trip where three in a row were awaited.
        queued = [delivery_row(d) for d in deliveries]
        result: tuple[Message, bool, bool] = await self._write(
            "append_first", (patron_row(patron), contact_rows(patron), patron),
            (conversation_row(conversation), conversation),
            (message, message_row(message), queued))
        return result[:2]

    async def get_message(self, message_id: str) -> Message | None:
        row = await first(self._db(), f"{_MESSAGE} WHERE id = ?", (message_id,))
        return None if row is None else message_from_row(row)

    async def get_messages(self, message_ids: Sequence[str]) -> dict[str, Message]:
        found: dict[str, Message] = {}
        for part in chunks(message_ids):
            sql = f"{_MESSAGE} WHERE id IN ({marks(part)})"
            found.update((m.id, m) for m in map(message_from_row,
                                                await rows(self._db(), sql, part)))
        return found

    async def history(
        self, conversation_id: str, after: str = "", limit: int = 500
    ) -> list[Message]:
        sql = f"{_MESSAGE} WHERE conversation_id = ? AND id > ? ORDER BY id LIMIT ?"
        return [message_from_row(r)
                for r in await rows(self._db(), sql, (conversation_id, after, limit))]


class SqliteReports(SqliteRole):
    async def patron_conversations(self, patron_id: str, limit: int = 20) -> list[Conversation]:
        sql = f"{_CONVERSATION} WHERE patron_id = ?{_NEWEST_FIRST} LIMIT ?"
        return [conversation_from_row(r)
                for r in await rows(self._db(), sql, (patron_id, limit))]

    async def conversations_since(self, since: float, limit: int = 10_000) -> list[Conversation]:
        sql = f"{_CONVERSATION} WHERE created_at >= ? ORDER BY created_at, id LIMIT ?"
        return [conversation_from_row(r) for r in await rows(self._db(), sql, (since, limit))]

    async def conversations(self, limit: int = 100, offset: int = 0) -> list[Conversation]:
        sql = f"{_CONVERSATION}{_NEWEST_FIRST} LIMIT ? OFFSET ?"
        return [conversation_from_row(r) for r in await rows(self._db(), sql, (limit, offset))]

    async def waiting(self) -> list[Waiting]:
        return await waiting_patrons(self._db())

"""The embedded store: one SQLite file in WAL mode, written by group commit.

Writes go through ``GroupCommitter`` (``sqlite_commit``): one queue, one writer task, one
COMMIT for everything queued, so a caller's write is durable when its ``await``
returns and thousands of callers share one commit.

Reads go through a second connection (aiosqlite) and see every commit made before they
started: read-your-writes holds for any write whose ``await`` has returned. Patrons and
conversations also sit in a bounded write-through cache (``sqlite_cache``), which is
right only because one process owns the file.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from bridge.store import sqlite_reads as q
from bridge.store.sqlite_cache import Lru, Missing, RecordCache
from bridge.store.sqlite_commit import GroupCommitter
from bridge.store.sqlite_desk import SqliteDeskState
from bridge.store.sqlite_lanes import LaneScan
from bridge.store.sqlite_modes import private_files
from bridge.store.sqlite_rows import (
    block_from_row,
    block_row,
    contact_rows,
    conversation_row,
    delivery_row,
    librarian_row,
    link_row,
    message_row,
    patron_row,
)
from bridge.store.sqlite_schema import (
    BUSY_TIMEOUT_MS,
    bundled_migrations,
    connect_writer,
    migrate,
)
from bridge.store.sqlite_waiting import waiting as waiting_patrons
from bridge.store.sqlite_wal import WalCheckpointer
from bridge.store.sqlite_writer import BatchWriter, Outcome, WriteOp
from routing.model import (
    Block,
    BlockKind,
    Contact,
    Conversation,
    Delivery,
    Librarian,
    Message,
    Patron,
)
from routing.ports import Link
from routing.reminders import Waiting

T = TypeVar("T")

__all__ = ["SqliteStore"]


class SqliteStore(SqliteDeskState):
    """``routing.ports.Store`` on SQLite, every role in one class (a mixin a role).
    ``open()`` before use, ``close()`` to drain.

    ``synchronous="FULL"`` (the default) fsyncs the WAL at every group commit, so an
    acknowledged write survives a power cut too; one fsync is shared by the whole batch,
    which made it cost about 0.2 ms at the median and nothing in throughput when measured
    (tests/bench/bench_store.py). ``"NORMAL"`` skips that fsync: acknowledged writes
    survive a crash of this process, but a power loss or kernel crash may roll back the
    commits made since the last checkpoint (about ``checkpoint_interval`` seconds).
    """

    def __init__(
        self,
        path: Path,
        *,
        synchronous: str = "FULL",
        cache_size: int = 50_000,
        batch_cap: int = 2_000,
        checkpoint_interval: float = 1.0,
    ) -> None:
        self.path = Path(path)
        self._synchronous = synchronous
        self._cache = RecordCache(cache_size)
        self._commits = GroupCommitter(batch_cap, self._committed)
        self._checkpointer = WalCheckpointer(self.path, checkpoint_interval)
        self._reader: aiosqlite.Connection | None = None
        self._lanes = LaneScan()
        self._blocks: dict[str, Block] | None = None  # every block, loaded on first use
        self._state = "new"  # new -> open -> closing -> closed

    @property
    def commits(self) -> int:
        """Group commits made so far; tests and metrics read it."""
        return self._commits.commits

    # -- lifecycle ---------------------------------------------------------------------

    async def open(self) -> None:
        if self._state != "new":
            raise RuntimeError(f"SqliteStore.open() on a store that is {self._state}")
        self._state = "open"
        try:
            private_files(self.path)
            await self._commits.start(self._open_writer)
            self._reader = await aiosqlite.connect(self.path, isolation_level=None)
            await self._reader.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await self._reader.execute("PRAGMA query_only = ON")
            await self._reader.execute("PRAGMA cache_size = -32768")
            await self._checkpointer.start()
        except BaseException:
            await self.close()
            raise

    def _open_writer(self) -> BatchWriter:
        conn = connect_writer(self.path, self._synchronous)
        try:
            migrate(conn, bundled_migrations())
        except BaseException:
            conn.close()
            raise
        return BatchWriter(conn)

    async def close(self) -> None:
        """Write everything already queued, then close. Later calls raise RuntimeError."""
        if self._state in ("closing", "closed"):
            return
        self._state = "closing"
        try:
            await self._commits.stop()
            await self._checkpointer.stop()
        finally:
            reader, self._reader = self._reader, None
            self._state = "closed"
            if reader is not None:
                await reader.close()

    def _db(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise RuntimeError("SqliteStore is not open; await open() first"
                               if self._state == "new" else f"SqliteStore is {self._state}")
        return self._reader

    async def _write(self, kind: str, *args: Any) -> Any:
        if not self._commits.accepting or self._state != "open":
            self._db()  # not open, or closed: says which
            raise RuntimeError("SqliteStore is closing; no more writes")
        return await self._commits.submit(WriteOp(kind, args))

    def _committed(self, op: WriteOp, outcome: Outcome) -> None:
        if op.kind == "save_patron":
            self._cache.patron_saved(op.args[2])
        elif op.kind == "save_conversation":
            self._cache.conversation_saved(op.args[1])
        elif self._blocks is not None and op.kind == "save_block":
            self._blocks[op.args[0]] = block_from_row(op.args)
        elif self._blocks is not None and op.kind == "remove_block":
            self._blocks.pop(op.args[0], None)

    # -- patrons -----------------------------------------------------------------------

    async def get_patron(self, patron_id: str) -> Patron | None:
        hit = self._cache.patrons.get(patron_id)
        if not isinstance(hit, Missing):
            self._db()
            return hit
        generation = self._cache.patron_generation
        patron = await q.patron_by_id(self._db(), patron_id)
        self._cache.patron_read(generation, None, patron, patron_id)
        return patron

    async def get_patrons(self, patron_ids: Collection[str]) -> dict[str, Patron]:
        found, missed = self._cached(self._cache.patrons, patron_ids)
        if missed:
            generation = self._cache.patron_generation
            for patron in await q.patrons_by_id(self._db(), missed):
                self._cache.patron_read(generation, None, patron)
                found[patron.id] = patron
        return found

    async def patron_by_contact(self, contact: Contact) -> Patron | None:
        patron_id = self._cache.contacts.get(contact)
        if patron_id is None:
            self._db()
            return None
        if isinstance(patron_id, str):
            patron = await self.get_patron(patron_id)
            if patron is not None and contact in patron.contacts:
                return patron
            self._cache.contacts.pop(contact)  # the contact moved or was removed
        generation = self._cache.patron_generation
        patron = await q.patron_by_contact(self._db(), contact)
        self._cache.patron_read(generation, contact, patron)
        return patron

    async def save_patron(self, patron: Patron) -> None:
        await self._write("save_patron", patron_row(patron), contact_rows(patron), patron)

    # -- conversations -----------------------------------------------------------------

    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        hit = self._cache.conversations.get(conversation_id)
        if not isinstance(hit, Missing):
            self._db()
            return hit
        generation = self._cache.conversation_generation
        conversation = await q.conversation_by_id(self._db(), conversation_id)
        self._cache.conversation_read(generation, conversation, conversation_id)
        return conversation

    async def get_conversations(
        self, conversation_ids: Collection[str]
    ) -> dict[str, Conversation]:
        found, missed = self._cached(self._cache.conversations, conversation_ids)
        if missed:
            generation = self._cache.conversation_generation
            for conversation in await q.conversations_by_id(self._db(), missed):
                self._cache.conversation_read(generation, conversation)
                found[conversation.id] = conversation
        return found

    def _cached(self, cache: Lru[str, T | None], ids: Collection[str]) -> tuple[
            dict[str, T], list[str]]:
        """What the cache knows of ``ids`` (known-missing left out), and the ids to read."""
        self._db()
        found: dict[str, T] = {}
        missed: list[str] = []
        for key in ids:
            hit = cache.get(key)
            if isinstance(hit, Missing):
                missed.append(key)
            elif hit is not None:
                found[key] = hit
        return found, missed

    async def latest_conversation(self, patron_id: str) -> Conversation | None:
        known = self._cache.latest.get(patron_id)
        if known is None:
            self._db()
            return None
        if isinstance(known, tuple):
            conversation = await self.get_conversation(known[1])
            if (conversation is not None and conversation.patron_id == patron_id
                    and conversation.created_at == known[0]):
                return conversation
        generation = self._cache.conversation_generation
        conversation = await q.latest_conversation(self._db(), patron_id)
        self._cache.latest_read(generation, patron_id, conversation)
        return conversation

    async def conversation_by_thread(self, desk_thread: int) -> Conversation | None:
        return await q.conversation_by_thread(self._db(), desk_thread)

    async def save_conversation(self, conversation: Conversation) -> None:
        await self._write("save_conversation", conversation_row(conversation), conversation)

    async def waiting(self) -> list[Waiting]:
        """Open conversations whose patron waits for an answer (reminders, the queue)."""
        return await waiting_patrons(self._db())

    async def conversations(self, limit: int = 100, offset: int = 0) -> list[Conversation]:
        """Conversations newest first, a page at a time (export, analytics)."""
        return await q.conversations(self._db(), limit, offset)

    # -- messages ----------------------------------------------------------------------

    async def append(
        self, message: Message, deliveries: Sequence[Delivery]
    ) -> tuple[Message, bool]:
        rows = [delivery_row(d) for d in deliveries]
        result: tuple[Message, bool] = await self._write(
            "append", message, message_row(message), rows
        )
        return result

    async def get_message(self, message_id: str) -> Message | None:
        return await q.message_by_id(self._db(), message_id)

    async def get_messages(self, message_ids: Sequence[str]) -> dict[str, Message]:
        return await q.messages_by_id(self._db(), message_ids)

    async def history(
        self, conversation_id: str, after: str = "", limit: int = 500
    ) -> list[Message]:
        return await q.history(self._db(), conversation_id, after, limit)

    # -- the outbox --------------------------------------------------------------------

    async def due_deliveries(self, now: float, limit: int) -> list[Delivery]:
        """The oldest due rows; a full batch also brings the lanes it left out, so a
        backlog in a few conversations never holds back a reply elsewhere."""
        due = await q.due_deliveries(self._db(), now, limit)
        if len(due) >= limit:
            due += await self._lanes.missed(self._db(), now, due)
        return due

    async def lane_deliveries(
        self, lanes: Collection[tuple[str, str]], now: float, limit: int
    ) -> list[Delivery]:
        return await q.lane_deliveries(self._db(), lanes, now, limit)

    async def get_delivery(self, delivery_id: str) -> Delivery | None:
        """One outbox row, whatever its state (the port has no way to read a done row)."""
        return await q.delivery_by_id(self._db(), delivery_id)

    async def finish_delivery(
        self, delivery_id: str, external_id: str, link: Link | None = None
    ) -> None:
        await self._write("finish_delivery", external_id, delivery_id,
                          None if link is None else link_row(link))

    async def retry_delivery(
        self, delivery_id: str, attempts: int, next_attempt_at: float, error: str
    ) -> None:
        await self._write("retry_delivery", attempts, next_attempt_at, error, delivery_id)

    async def fail_delivery(self, delivery_id: str, attempts: int, error: str) -> None:
        await self._write("fail_delivery", attempts, error, delivery_id)

    async def pending_deliveries(self) -> int:
        return await q.pending_count(self._db())

    async def delivery_counts(self) -> dict[str, int]:
        """How many outbox rows are in each state; every state is present, maybe with 0."""
        return await q.delivery_counts(self._db())

    # -- links and state ---------------------------------------------------------------

    async def save_link(self, link: Link) -> None:
        await self._write("save_link", *link_row(link))

    async def find_link(self, channel: str, external_id: str) -> Link | None:
        return await q.find_link(self._db(), channel, external_id)

    async def get_state(self, key: str) -> str | None:
        return await q.get_state(self._db(), key)

    async def set_state(self, key: str, value: str) -> None:
        await self._write("set_state", key, value)

    # -- the desk's records --------------------------------------------------------------

    async def patron_conversations(self, patron_id: str, limit: int = 20) -> list[Conversation]:
        return await q.patron_conversations(self._db(), patron_id, limit)

    async def conversations_since(self, since: float, limit: int = 10_000) -> list[Conversation]:
        return await q.conversations_since(self._db(), since, limit)

    async def save_block(self, block: Block) -> None:
        await self._write("save_block", *block_row(block))

    async def remove_block(self, block_id: str) -> None:
        await self._write("remove_block", block_id)

    async def _all_blocks(self) -> dict[str, Block]:
        # Blocks are few and checked on every patron message: kept in memory, written
        # through on commit (right because one process owns the file, as for the cache).
        if self._blocks is None:
            loaded = {b.id: b for b in await q.all_blocks(self._db())}
            if self._blocks is None:
                self._blocks = loaded
        return self._blocks

    async def find_block(
        self, keys: Sequence[tuple[BlockKind, str]], now: float
    ) -> Block | None:
        wanted = set(keys)
        blocks = await self._all_blocks()
        return next((b for b in blocks.values()
                     if (b.kind, b.value) in wanted and b.active(now)), None)

    async def active_blocks(self, now: float) -> list[Block]:
        blocks = await self._all_blocks()
        return sorted((b for b in blocks.values() if b.active(now)),
                      key=lambda b: (b.created_at, b.id))

    async def save_librarian(self, librarian: Librarian) -> None:
        await self._write("save_librarian", *librarian_row(librarian))

    async def get_librarian(self, librarian_id: str) -> Librarian | None:
        return await q.librarian_by_id(self._db(), librarian_id)

    async def librarian_by_username(self, username: str) -> Librarian | None:
        name = username.lstrip("@").lower()
        return await q.librarian_by_username(self._db(), name) if name else None

    async def librarians_on_duty(self) -> list[Librarian]:
        return await q.librarians_on_duty(self._db())

"""The embedded store: one SQLite file in WAL mode, written by group commit.

Writes go through ``GroupCommitter`` (``sqlite_commit``): one queue, one writer task, one
COMMIT for everything queued, so a caller's write is durable when its ``await``
returns and thousands of callers share one commit.

Reads go through a second connection (aiosqlite) and see every commit made before they
started: read-your-writes holds for any write whose ``await`` has returned. Reports and
transcript searches read through a third, read-only and at a low CPU priority
(``sqlite_report_conn``), so a long one never queues the intake's reads. Patrons and
conversations also sit in a bounded write-through cache (``sqlite_cache``), which is
right only because one process owns the file.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiosqlite

from bridge.store.sqlite_accounts import SqliteAccounts
from bridge.store.sqlite_cache import BlockTable, RecordCache
from bridge.store.sqlite_commit import GroupCommitter
from bridge.store.sqlite_contacts import SqliteContactStates
from bridge.store.sqlite_desk import SqliteDeskState
from bridge.store.sqlite_directory import SqliteBlocks, SqliteDirectory
from bridge.store.sqlite_lanes import LaneScan
from bridge.store.sqlite_links import SqliteCursors, SqliteLinks
from bridge.store.sqlite_log import SqliteConversationLog, SqliteReports
from bridge.store.sqlite_modes import private_files
from bridge.store.sqlite_outbox import SqliteOutbox
from bridge.store.sqlite_patron_data import SqlitePatronData
from bridge.store.sqlite_report_conn import ReportConnection
from bridge.store.sqlite_reports import SqliteReferenceReports
from bridge.store.sqlite_rows import block_from_row
from bridge.store.sqlite_schema import (
    BUSY_TIMEOUT_MS,
    bundled_migrations,
    connect_writer,
    migrate,
)
from bridge.store.sqlite_transcripts import SqliteTranscripts
from bridge.store.sqlite_wal import WalCheckpointer
from bridge.store.sqlite_writer import BatchWriter, Outcome, WriteOp

__all__ = ["SqliteStore"]


class SqliteStore(
    SqliteDirectory, SqliteBlocks, SqliteConversationLog, SqliteReports, SqliteOutbox,
    SqliteLinks, SqliteDeskState, SqliteContactStates, SqliteCursors,
    SqliteAccounts, SqlitePatronData,  # the staff dashboard's (bridge/admin)
    SqliteTranscripts,
    SqliteReferenceReports,  # the dashboard's reports
):
    """``routing.ports.Store`` on SQLite: every role in one class, a mixin a role, each
    with its SQL in its own module. ``open()`` before use, ``close()`` to drain.

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
        self._reports = ReportConnection(self.path)
        self._lanes = LaneScan()
        self._blocks: BlockTable | None = None  # every block, loaded on first use
        self._blocks_loading = asyncio.Lock()  # the first uses share one load
        self._blocks_changes = 0  # blocks saved or removed: a load that saw fewer is stale
        self._patron_reads = {}  # a contact's patron read under way, shared (directory)
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
            await self._reports.open()
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
            await self._reports.close()
            if reader is not None:
                await reader.close()

    def _db(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise RuntimeError("SqliteStore is not open; await open() first"
                               if self._state == "new" else f"SqliteStore is {self._state}")
        return self._reader

    def _report_db(self) -> aiosqlite.Connection:
        self._db()  # not open, or closed: says which
        db = self._reports.db
        assert db is not None  # open whenever the reader is
        return db

    @property
    def report_connection(self) -> aiosqlite.Connection:
        """The read-only connection reports and transcript searches run on (tests gate it)."""
        return self._report_db()

    def _write(self, kind: str, *args: Any) -> asyncio.Future[Any]:
        # Not a coroutine: the caller awaits the committer's future itself, one frame
        # fewer to make and to resume on every write.
        if not self._commits.accepting or self._state != "open":
            self._db()  # not open, or closed: says which
            raise RuntimeError("SqliteStore is closing; no more writes")
        return self._commits.submit(WriteOp(kind, args))

    def _committed(self, op: WriteOp, outcome: Outcome) -> None:
        if op.kind == "save_patron":
            self._cache.patron_saved(op.args[2], created=outcome is True)
        elif op.kind == "save_conversation":
            self._cache.conversation_saved(op.args[1])
        elif op.kind == "append_first":
            self._cache.patron_saved(op.args[0][2], created=outcome[2] is True)
            self._cache.conversation_saved(op.args[1][1])
        elif op.kind in ("save_block", "remove_block"):
            self._blocks_changes += 1  # a first load under way reads again
            if self._blocks is not None and op.kind == "save_block":
                self._blocks.put(block_from_row(op.args))
            elif self._blocks is not None:
                self._blocks.pop(op.args[0])

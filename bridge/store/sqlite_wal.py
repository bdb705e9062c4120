"""Checkpoints of the write-ahead log, kept off the commit path.

By default SQLite checkpoints inside the COMMIT that crosses the WAL size limit, so one
caller in a few hundred waits for pages to be copied and fsynced. Here a connection of
its own runs a PASSIVE checkpoint every ``interval`` seconds instead: writers keep
appending to the WAL meanwhile. The writer keeps a large automatic limit as a backstop
in case this task falls behind (``sqlite_schema.WAL_BACKSTOP_PAGES``).
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from pathlib import Path

import aiosqlite

from bridge.store.sqlite_schema import BUSY_TIMEOUT_MS

__all__ = ["WalCheckpointer"]

log = logging.getLogger(__name__)


class WalCheckpointer:
    def __init__(self, path: Path, interval: float) -> None:
        self._path = path
        self._interval = interval
        self._conn: aiosqlite.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self.checkpoints = 0

    async def start(self) -> None:
        self._conn = await aiosqlite.connect(self._path, isolation_level=None)
        await self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._task = asyncio.create_task(self._run(), name="sqlite-checkpoint")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    async def _run(self) -> None:
        assert self._conn is not None
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                self.checkpoints += 1
            except Exception:  # a failed checkpoint loses nothing; the next one retries
                log.exception("WAL checkpoint of %s failed", self._path)

"""The reports' and transcript searches' own connection: read-only, on a thread of its own.

A year's overview or a transcript search runs statements of tens of milliseconds. On the
reading connection the intake uses (one aiosqlite thread, statements taken in turn) every
patron message's read would queue behind them. Here they run on a connection of their
own, opened ``mode=ro`` and ``query_only`` so that it cannot write; in WAL mode it reads
beside the writer and the intake's reader, each statement seeing every commit made
before it started (read-your-writes holds as on the intake's reader).

Its thread runs at the lowest CPU priority (niceness 19, Linux): a report competes with
the intake for the cores, not only for a connection, and on a busy machine the intake's
threads should get them first. ``sqlite3`` lets go of the GIL for the whole of each
``sqlite3_step``, so a long query here does not hold the interpreter either; a progress
handler that made it yield would only make this thread take the GIL back every N steps
(measured with N = 1,000: no better; tests/bench/README.md, issue 14).
"""

from __future__ import annotations

import os
import sys
import threading
from contextlib import suppress
from pathlib import Path

import aiosqlite

from bridge.store.sqlite_schema import BUSY_TIMEOUT_MS

__all__ = ["REPORT_NICENESS", "ReportConnection", "lower_priority", "thread_of"]

REPORT_NICENESS = 19  # the lowest CPU priority a thread can give itself


class ReportConnection:
    """Open after the writer has created and migrated the file; close with the store."""

    def __init__(self, path: Path, niceness: int = REPORT_NICENESS) -> None:
        self._path = path
        self._niceness = niceness
        self._conn: aiosqlite.Connection | None = None
        self.thread_id = 0  # the connection's thread (native id), once open

    @property
    def db(self) -> aiosqlite.Connection | None:
        return self._conn

    async def open(self) -> None:
        uri = self._path.resolve().as_uri() + "?mode=ro"
        conn = await aiosqlite.connect(uri, uri=True, isolation_level=None)
        try:
            await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await conn.execute("PRAGMA query_only = ON")
            await conn.execute("PRAGMA cache_size = -32768")
            self.thread_id = await thread_of(conn)
            lower_priority(self.thread_id, self._niceness)
        except BaseException:
            await conn.close()
            raise
        self._conn = conn

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()


async def thread_of(conn: aiosqlite.Connection) -> int:
    """The native id of the thread ``conn`` runs its statements on (asked on that thread)."""
    await conn.create_function("pustaka_thread_id", 0, threading.get_native_id)
    async with conn.execute("SELECT pustaka_thread_id()") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


def lower_priority(thread_id: int, niceness: int) -> None:
    """On Linux, where a thread has a niceness of its own: give the reports' thread the
    CPU only when the intake's threads do not want it. Elsewhere a thread id is not a
    process id, so nothing is changed."""
    if thread_id and niceness and sys.platform.startswith("linux"):
        with suppress(OSError):  # a sandbox that refuses: reports at normal priority still work
            os.setpriority(os.PRIO_PROCESS, thread_id, niceness)

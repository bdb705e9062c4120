"""The reports' and transcript searches' own connection: read-only, on a thread of its own.

A year's overview or a transcript search runs statements of tens of milliseconds. On the
reading connection the intake uses (one aiosqlite thread, statements taken in turn) every
patron message's read would queue behind them. Here they run on a connection of their
own, opened ``mode=ro`` and ``query_only`` so that it cannot write; in WAL mode it reads
beside the writer and the intake's reader, each statement seeing every commit made
before it started (read-your-writes holds as on the intake's reader).

``sqlite3`` lets go of the GIL for the whole of each ``sqlite3_step``, so a long query
here holds neither the intake's connection nor the interpreter; a progress handler that
made it yield would only take the GIL back every few thousand VM steps (measured in
tests/bench/README.md, issue 14).
"""

from __future__ import annotations

from pathlib import Path

import aiosqlite

from bridge.store.sqlite_schema import BUSY_TIMEOUT_MS

__all__ = ["ReportConnection"]


class ReportConnection:
    """Open after the writer has created and migrated the file; close with the store."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._conn: aiosqlite.Connection | None = None

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
        except BaseException:
            await conn.close()
            raise
        self._conn = conn

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

"""What a role of the SQLite store is handed by the store it is part of, and the few
query helpers every role's SQL shares.

``SqliteStore`` is one class composed of one mixin per role (``routing.ports``); each
role keeps its SQL in its own module and reaches the database only through ``_db``
(``_report_db`` for reports and searches) and ``_write``, and the write-through cache
through ``_cache``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Collection, Sequence
from typing import Any, TypeVar

import aiosqlite

from bridge.store.sqlite_cache import BlockTable, Lru, Missing, RecordCache
from bridge.store.sqlite_rows import Row
from routing.model import Contact, Patron

__all__ = ["SqliteRole", "chunks", "first", "marks", "rows"]

K = TypeVar("K")
T = TypeVar("T")


class SqliteRole:
    _cache: RecordCache
    _blocks: BlockTable | None  # every block, loaded on first use
    _blocks_loading: asyncio.Lock
    _blocks_changes: int
    # contact -> (patron generation when it began, the read) of a patron read under way
    _patron_reads: dict[Contact, tuple[int, asyncio.Future[Patron | None]]]

    def _db(self) -> aiosqlite.Connection:
        """The reading connection; raises RuntimeError when the store is not open."""
        raise NotImplementedError

    def _report_db(self) -> aiosqlite.Connection:
        """The reports' and searches' read-only connection (``sqlite_report_conn``), so a
        long query never queues the intake's reads; raises when the store is not open."""
        raise NotImplementedError

    def _write(self, kind: str, *args: Any) -> Awaitable[Any]:
        """Queue one write op for the group commit; await it for its outcome once
        committed."""
        raise NotImplementedError

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


async def rows(db: aiosqlite.Connection, sql: str, params: Any) -> list[Row]:
    return [tuple(row) for row in await db.execute_fetchall(sql, params)]


async def first(db: aiosqlite.Connection, sql: str, params: Any) -> Row | None:
    found = await rows(db, sql, params)
    return found[0] if found else None


def chunks(ids: Collection[K], size: int = 500) -> list[list[K]]:
    """``ids`` without repeats, in parts within SQLite's bound-parameter limit."""
    ordered = list(dict.fromkeys(ids))
    return [ordered[start:start + size] for start in range(0, len(ordered), size)]


def marks(part: Sequence[Any]) -> str:
    return ", ".join("?" * len(part))

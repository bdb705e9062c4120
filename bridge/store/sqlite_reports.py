"""The reports' roles on SQLite (``routing.report_roles``): reference marks, the live
rows a report reads, and the daily aggregates that outlive transcripts (migration 0011).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from bridge.store.sqlite_role import SqliteRole, first, rows
from routing.report_roles import LiveRow, ReferenceMark, RolledDay

__all__ = ["ROLLED_KEY", "WRITES", "SqliteReferenceReports", "apply_rolled_days"]

ROLLED_KEY = "reports.rolled_until"

WRITES = {
    "save_reference": (
        "INSERT INTO reference_marks (conversation_id, kind, read_level, librarian_id,"
        " marked_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (conversation_id) DO UPDATE SET"
        " kind = excluded.kind, read_level = excluded.read_level,"
        " librarian_id = excluded.librarian_id, marked_at = excluded.marked_at"
    ),
}

_LIVE = (
    "SELECT c.created_at, c.origin, c.after_hours, c.first_response_at, c.closed_at,"
    " c.status, c.rating, c.claimed_by_id, c.tags, COALESCE(json_extract(c.page, '$.url'), ''),"
    " COALESCE(r.kind, ''), COALESCE(r.read_level, 0)"
    " FROM conversations AS c LEFT JOIN reference_marks AS r ON r.conversation_id = c.id"
    " WHERE c.created_at >= ? AND c.created_at < ? ORDER BY c.created_at"
)
_MARK = "SELECT kind, read_level FROM reference_marks WHERE conversation_id = ?"
_DAYS = (
    "SELECT day, channel, librarian_id, conversations, after_hours, answered, missed,"
    " ratings, first_response, to_close FROM report_days WHERE day BETWEEN ? AND ?"
)
_REFERENCE = ("SELECT day, librarian_id, kind, read_level, n FROM report_reference"
              " WHERE day BETWEEN ? AND ?")
_HOURS = "SELECT day, hour, n FROM report_hours WHERE day BETWEEN ? AND ?"
_TERMS = "SELECT day, what, term, n FROM report_terms WHERE day BETWEEN ? AND ?"
_CLEAR = [f"DELETE FROM {t} WHERE day = ?" for t in
          ("report_days", "report_reference", "report_hours", "report_terms")]
_INSERTS = [
    "INSERT INTO report_days VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "INSERT INTO report_reference VALUES (?, ?, ?, ?, ?)",
    "INSERT INTO report_hours VALUES (?, ?, ?)",
    "INSERT INTO report_terms VALUES (?, ?, ?, ?)",
]
_CURSOR = ("INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET"
           " value = max(value, excluded.value)")


def apply_rolled_days(conn: sqlite3.Connection, runs: Sequence[tuple[Any, ...]]) -> list[None]:
    """On the writer thread, inside the batch's transaction: a day's aggregates replace
    what it had, and the cursor moves past it in the same commit."""
    for day, rolled, next_day in runs:
        for sql in _CLEAR:
            conn.execute(sql, (day,))
        parts = (rolled.days, rolled.reference, rolled.hours, rolled.terms)
        for sql, part in zip(_INSERTS, parts, strict=True):
            conn.executemany(sql, [(day, *row) for row in part])
        conn.execute(_CURSOR, (ROLLED_KEY, next_day))
    return [None] * len(runs)


class SqliteReferenceReports(SqliteRole):
    """Reference marks and the reports' reads (``ReferenceMarks``, ``ReportRows``)."""

    async def save_reference(
        self, conversation_id: str, mark: ReferenceMark, librarian_id: str, at: float
    ) -> None:
        await self._write("save_reference", conversation_id, mark.kind, mark.read_level,
                          librarian_id, at)

    async def reference_of(self, conversation_id: str) -> ReferenceMark | None:
        row = await first(self._db(), _MARK, (conversation_id,))
        return None if row is None else ReferenceMark(str(row[0]), row[1])

    async def report_rows(self, start: float, end: float) -> list[LiveRow]:
        cursor = await self._db().execute(_LIVE, (start, end))
        found = await cursor.fetchall()
        await cursor.close()
        return found  # type: ignore[return-value]  # rows are tuples in LiveRow's order

    async def report_days(self, first_day: str, last_day: str) -> list[tuple[object, ...]]:
        return await rows(self._db(), _DAYS, (first_day, last_day))

    async def report_reference(self, first_day: str, last_day: str) -> list[Any]:
        return await rows(self._db(), _REFERENCE, (first_day, last_day))

    async def report_hours(self, first_day: str, last_day: str) -> list[Any]:
        return await rows(self._db(), _HOURS, (first_day, last_day))

    async def report_terms(self, first_day: str, last_day: str) -> list[Any]:
        return await rows(self._db(), _TERMS, (first_day, last_day))

    async def rolled_until(self) -> str:
        row = await first(self._db(), "SELECT value FROM state WHERE key = ?", (ROLLED_KEY,))
        return "" if row is None else str(row[0])

    async def save_rolled_day(self, day: str, rolled: RolledDay, next_day: str) -> None:
        await self._write("save_rolled_day", day, rolled, next_day)

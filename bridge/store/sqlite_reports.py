"""The reports' roles on SQLite (``routing.report_roles``): reference marks, the live
rows a report reads, and the daily aggregates that outlive transcripts (migration 0011).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence
from typing import Any

from bridge.store.sqlite_role import SqliteRole, first, rows
from routing.report_roles import (
    LiveRow,
    MarkKey,
    NotedMark,
    ReferenceMark,
    Rolled,
    RolledDay,
    Row,
)

__all__ = ["ROLLED_KEY", "WRITES", "SqliteReferenceReports", "apply_rolled_days"]

ROLLED_KEY = "reports.rolled_until"

WRITES = {
    "save_reference": (
        "INSERT INTO reference_marks (conversation_id, kind, read_level, librarian_id,"
        " marked_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (conversation_id) DO UPDATE SET"
        " kind = excluded.kind, read_level = excluded.read_level,"
        " librarian_id = excluded.librarian_id, marked_at = excluded.marked_at"
    ),
    # A mark edited on the dashboard after its day was rolled up: that day's counts move.
    "reference_count": (
        "INSERT INTO report_reference (day, librarian_id, kind, read_level, n)"
        " VALUES (?, ?, ?, ?, 1) ON CONFLICT (day, librarian_id, kind, read_level)"
        " DO UPDATE SET n = n + 1"
    ),
    "reference_uncount": (
        "UPDATE report_reference SET n = n - 1"
        " WHERE day = ? AND librarian_id = ? AND kind = ? AND read_level = ?"
    ),
    "reference_zeroes": "DELETE FROM report_reference WHERE day = ? AND n <= 0",
}

_LIVE = (
    "SELECT c.created_at, c.origin, c.after_hours, c.first_response_at, c.closed_at,"
    " c.status, c.rating, c.claimed_by_id, c.tags, COALESCE(json_extract(c.page, '$.url'), ''),"
    " COALESCE(r.kind, ''), COALESCE(r.read_level, 0)"
    " FROM conversations AS c LEFT JOIN reference_marks AS r ON r.conversation_id = c.id"
    " WHERE c.created_at >= ? AND c.created_at < ? ORDER BY c.created_at"
)
_MARKS = (
    "SELECT marked_at, librarian_id, kind, COALESCE(read_level, 0) FROM reference_marks"
    " WHERE marked_at >= ? AND marked_at < ?"
)
_MARK = ("SELECT kind, read_level, librarian_id, marked_at FROM reference_marks"
         " WHERE conversation_id = ?")
_COUNTS = ("SUM(conversations), SUM(after_hours), SUM(answered), SUM(missed), SUM(rated_1),"
           " SUM(rated_2), SUM(rated_3), SUM(rated_4), SUM(rated_5)")
_SPAN = " WHERE day BETWEEN ? AND ?"
_PERIODS = {  # how rolled-up days are summed for a chart: by day, week (its Monday), month
    "day": "day", "month": "substr(day, 1, 7)",
    "week": "date(day, '-' || ((CAST(strftime('%w', day) AS INTEGER) + 6) % 7) || ' days')",
}
_BY_PERIOD = {
    "daily": f"SELECT {{key}}, {_COUNTS} FROM report_days{_SPAN} GROUP BY 1",
    "durations": ("SELECT {key}, what, bucket, SUM(n) FROM report_durations"
                  f"{_SPAN} GROUP BY 1, what, bucket"),
}
_ROLLED = {
    "day_channels": ("SELECT day, channel, SUM(conversations) FROM report_days"
                     f"{_SPAN} GROUP BY day, channel"),
    "librarians": (f"SELECT librarian_id, {_COUNTS} FROM report_days{_SPAN}"
                   " GROUP BY librarian_id"),
    "librarian_durations": ("SELECT librarian_id, what, bucket, SUM(n) FROM report_durations"
                            f"{_SPAN} GROUP BY librarian_id, what, bucket"),
    "reference": ("SELECT substr(day, 1, 7), librarian_id, kind, read_level, SUM(n)"
                  f" FROM report_reference{_SPAN} GROUP BY 1, 2, 3, 4"),
    "hours": ("SELECT (CAST(strftime('%w', day) AS INTEGER) + 6) % 7, hour, SUM(n)"
              f" FROM report_hours{_SPAN} GROUP BY 1, 2"),
}
_TERMS = ("SELECT what, term, SUM(n) AS total FROM report_terms"
          f"{_SPAN} AND what = ? GROUP BY term ORDER BY total DESC LIMIT ?")
_TABLES = ("report_days", "report_durations", "report_reference", "report_hours",
           "report_terms")
_CLEAR = [f"DELETE FROM {t} WHERE day = ?" for t in _TABLES]
_INSERTS = [
    "INSERT INTO report_days VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "INSERT INTO report_durations (day, librarian_id, what, bucket, n) VALUES (?, ?, ?, ?, ?)",
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
        parts = (rolled.days, rolled.durations, rolled.reference, rolled.hours, rolled.terms)
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

    async def reference_noted(self, conversation_id: str) -> NotedMark | None:
        row = await first(self._db(), _MARK, (conversation_id,))
        return None if row is None else NotedMark(
            ReferenceMark(str(row[0]), row[1]), str(row[2]), float(row[3]))

    async def recount_reference(self, day: str, old: MarkKey | None, new: MarkKey) -> None:
        await self._write("reference_count", day, *new)
        if old is not None:
            await self._write("reference_uncount", day, *old)
            await self._write("reference_zeroes", day)

    async def report_rows(self, start: float, end: float) -> list[LiveRow]:
        cursor = await self._report_db().execute(_LIVE, (start, end))
        found = await cursor.fetchall()
        await cursor.close()
        return found  # type: ignore[return-value]  # rows are tuples in LiveRow's order

    async def report_marks(self, start: float, end: float) -> list[Row]:
        return await rows(self._report_db(), _MARKS, (start, end))

    async def rolled_reference(self, first_day: str, last_day: str) -> list[Row]:
        return await rows(self._report_db(), _ROLLED["reference"], (first_day, last_day))

    async def rolled(self, first_day: str, last_day: str, terms: int = 200,
                     period: str = "day", parts: Collection[str] = ()) -> Rolled:
        db, span, key = self._report_db(), (first_day, last_day), _PERIODS[period]
        queries = {**_ROLLED, **{n: q.format(key=key) for n, q in _BY_PERIOD.items()}}
        found = {name: await rows(db, sql, span) for name, sql in queries.items()
                 if not parts or name in parts}
        if not parts or "terms" in parts:
            found["terms"] = [row for what in ("tag", "page")
                              for row in await rows(db, _TERMS, (*span, what, terms))]
        return Rolled(**found)

    async def rolled_until(self) -> str:
        row = await first(self._report_db(), "SELECT value FROM state WHERE key = ?", (ROLLED_KEY,))
        return "" if row is None else str(row[0])

    async def save_rolled_day(self, day: str, rolled: RolledDay, next_day: str) -> None:
        await self._write("save_rolled_day", day, rolled, next_day)

"""Many rows in few statements: the writer's ``executemany`` for INSERTs.

Python's sqlite3 lets go of the GIL around every row's step (and again at its reset).
The writer thread runs beside a busy event loop, and each time it wants the GIL back it
waits for the loop to hand it over (up to ``sys.getswitchinterval()``, 5 ms). A group
commit of a thousand messages was a few thousand hand-overs: the writer spent several
times its own CPU waiting, and the acks waited with it. One INSERT of many rows
(``VALUES (...), (...), ...``) is one step: the rows are bound with the GIL held and
written without it, once per statement.

Statements come in a few sizes only (``SIZES``), so sqlite3's statement cache keeps
them all; the rows go in the order given, as ``executemany`` writes them, so rowids and
conflicts resolve the same way.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from functools import cache
from typing import Any

__all__ = ["SIZES", "insert_rows"]

SIZES = (256, 64, 16, 4, 1)  # rows a statement, fewer where SQLite's variable limit says
_VALUES = re.compile(r"VALUES\s*(\((?:\s*\?\s*,)*\s*\?\s*\))")


@cache
def _statement(sql: str, rows: int) -> str:
    found = _VALUES.search(sql)
    if found is None:
        raise ValueError(f"not an INSERT ... VALUES (?, ...): {sql[:80]!r}")
    group = found.group(1)
    return f"{sql[:found.start()]}VALUES {', '.join([group] * rows)}{sql[found.end():]}"


def _rows_a_statement(conn: sqlite3.Connection, sql: str) -> int:
    """How many rows one statement may bind: 256 x 18 columns is 4,608 variables, within
    SQLite's 32,766 since 3.32 but not an older build's 999."""
    columns = _statement(sql, 1).count("?")
    return max(1, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // columns)


def insert_rows(cur: sqlite3.Cursor, sql: str, rows: Sequence[Sequence[Any]]) -> int:
    """``cur.executemany(sql, rows)`` in as few statements as ``SIZES`` allow; returns
    how many rows the statements changed (their ``rowcount``s summed)."""
    changed = 0
    start = 0
    widest = _rows_a_statement(cur.connection, sql)
    while start < len(rows):
        size = next(size for size in SIZES if size <= min(widest, len(rows) - start))
        part = rows[start:start + size]
        cur.execute(_statement(sql, size), [value for row in part for value in row])
        changed += cur.rowcount
        start += size
    return changed

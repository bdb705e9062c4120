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

SIZES = (256, 64, 16, 4, 1)  # rows a statement; at most 256 x 13 columns of variables
_VALUES = re.compile(r"VALUES\s*(\((?:\s*\?\s*,)*\s*\?\s*\))")


@cache
def _statement(sql: str, rows: int) -> str:
    found = _VALUES.search(sql)
    if found is None:
        raise ValueError(f"not an INSERT ... VALUES (?, ...): {sql[:80]!r}")
    group = found.group(1)
    return f"{sql[:found.start()]}VALUES {', '.join([group] * rows)}{sql[found.end():]}"


def insert_rows(cur: sqlite3.Cursor, sql: str, rows: Sequence[Sequence[Any]]) -> int:
    """``cur.executemany(sql, rows)`` in as few statements as ``SIZES`` allow; returns
    how many rows the statements changed (their ``rowcount``s summed)."""
    changed = 0
    start = 0
    while start < len(rows):
        size = next(size for size in SIZES if size <= len(rows) - start)
        part = rows[start:start + size]
        cur.execute(_statement(sql, size), [value for row in part for value in row])
        changed += cur.rowcount
        start += size
    return changed

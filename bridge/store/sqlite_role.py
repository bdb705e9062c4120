"""What a role of the SQLite store is handed by the store it is part of.

``SqliteStore`` is one class composed of one mixin per role (``routing.ports``); each
role keeps its SQL in its own module and reaches the database only through these two.
"""

from __future__ import annotations

from typing import Any

import aiosqlite

__all__ = ["SqliteRole"]


class SqliteRole:
    def _db(self) -> aiosqlite.Connection:
        """The reading connection; raises RuntimeError when the store is not open."""
        raise NotImplementedError

    async def _write(self, kind: str, *args: Any) -> Any:
        """Queue one write op for the group commit; its outcome once committed."""
        raise NotImplementedError

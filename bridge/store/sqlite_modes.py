"""The database's files are private: the database, WAL and shared memory 0600 from the
moment they exist, in a directory made 0700 when the store creates it (an existing one
is the caller's to judge: it may be a shared folder such as /tmp).

SQLite creates a database with mode 0644 less the umask, and its ``-wal``, ``-shm`` and
``-journal`` files with the database's own mode; so creating the database file 0600 first
makes all of them private. Files left readable by an older version are tightened.
"""

from __future__ import annotations

from pathlib import Path

from bridge.filemodes import PRIVATE_DIR, PRIVATE_FILE, create_private_file, tighten

__all__ = ["private_files"]

_COMPANIONS = ("-wal", "-shm", "-journal")


def private_files(database: Path) -> list[str]:
    """Create or tighten the database's files; returns what changed."""
    database.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    changes = [create_private_file(database)]
    for suffix in _COMPANIONS:
        changes.append(tighten(database.with_name(database.name + suffix), PRIVATE_FILE))
    return [change for change in changes if change]

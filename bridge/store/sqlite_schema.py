"""Opening the SQLite file and bringing its schema up to date.

Migrations are the numbered ``migrations/NNNN_name.sql`` files shipped inside the
package (read with importlib.resources, so an installed wheel finds them too). Each is
applied once, in its own transaction, and recorded in ``schema_version``.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

__all__ = [
    "BUSY_TIMEOUT_MS",
    "WAL_BACKSTOP_PAGES",
    "Migration",
    "bundled_migrations",
    "connect_writer",
    "migrate",
]

BUSY_TIMEOUT_MS = 5000
WAL_BACKSTOP_PAGES = 20_000  # ~80 MB: the commit checkpoints only if sqlite_wal falls behind
_FILE_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    description: str
    sql: str


def bundled_migrations() -> list[Migration]:
    """The migrations shipped with this package, in version order."""
    folder = resources.files("bridge.store").joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        match = _FILE_NAME.match(entry.name)
        if match is None:
            continue
        sql = entry.read_text(encoding="utf-8")
        first = sql.split("\n", 1)[0]
        if not first.startswith("-- ") or not first[3:].strip():
            raise RuntimeError(f"migration {entry.name} must begin with a '-- description' line")
        found.append(Migration(int(match.group(1)), entry.name, first[3:].strip(), sql))
    if not found:
        raise RuntimeError("no migrations found in bridge/store/migrations; the package data "
                           "is missing from this installation")
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a number: {[m.name for m in found]}")
    return found


def connect_writer(path: Path, synchronous: str) -> sqlite3.Connection:
    """The one connection that writes; autocommit mode, so transactions are explicit."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":
            raise RuntimeError(f"{path}: SQLite refused WAL mode (got {mode!r})")
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be NORMAL or FULL, not {synchronous!r}")
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("PRAGMA cache_size = -65536")  # KiB: the hot index pages stay in memory
        conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_BACKSTOP_PAGES}")
        conn.execute("PRAGMA journal_size_limit = 67108864")  # shrink the WAL after a burst
    except BaseException:
        conn.close()
        raise
    return conn


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration]) -> list[int]:
    """Apply the migrations this database has not seen; return their versions."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at REAL NOT NULL)"
    )
    done = {row[0] for row in conn.execute("SELECT version FROM schema_version")}
    known = max((m.version for m in migrations), default=0)
    if done and max(done) > known:
        raise RuntimeError(
            f"the database is at schema version {max(done)}, newer than this program "
            f"knows ({known}); upgrade Pustaka Bridge before opening it"
        )
    applied = []
    for migration in migrations:
        if migration.version not in done and _apply(conn, migration):
            applied.append(migration.version)
    return applied


def _apply(conn: sqlite3.Connection, migration: Migration) -> bool:
    """One migration in one transaction. False when another process applied it first."""
    description = migration.description.replace("'", "''")
    # executescript() commits any open transaction before it runs, so the transaction
    # begins inside the script. The version row goes first: if a second process got
    # here at the same moment, its primary key stops this script before any DDL runs.
    script = (
        "BEGIN IMMEDIATE;\n"
        f"INSERT INTO schema_version (version, description, applied_at)"
        f" VALUES ({migration.version}, '{description}', {time.time()!r});\n"
        f"{migration.sql}\n;\nCOMMIT;"
    )
    try:
        conn.executescript(script)
    except sqlite3.IntegrityError as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if "schema_version" in str(exc):
            return False
        raise RuntimeError(f"migration {migration.name} failed: {exc}") from exc
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise RuntimeError(f"migration {migration.name} failed: {exc}") from exc
    return True

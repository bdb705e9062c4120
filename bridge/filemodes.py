"""Private files on disk: the data directory, the database and its WAL, the secret.

They hold patrons' names, addresses and messages and the key that signs their tokens, so
nobody but the service's own user may read them: directories 0700, files 0600. New ones
are created with these modes from the start (no moment when they are readable by all);
ones left by an older version are tightened at start, and the change is logged.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

__all__ = [
    "PRIVATE_DIR",
    "PRIVATE_FILE",
    "create_private_file",
    "private_dir",
    "private_secret",
    "tighten",
]

log = logging.getLogger(__name__)

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def tighten(path: Path, mode: int) -> str:
    """Take away every permission bit beyond ``mode``; returns what changed ("" if nothing).

    Only removes bits, so an owner who made a file read-only keeps it read-only."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return ""
    if not current & ~mode:
        return ""
    wanted = current & mode
    try:
        path.chmod(wanted)
    except OSError as exc:  # owned by another user: say so, the service still starts
        log.warning("%s is readable by others (%o) and could not be made private: %s",
                    path, current, exc.strerror)
        return ""
    change = f"{path} {current:o} -> {wanted:o}"
    log.warning("made private: %s", change)
    return change


def private_dir(path: Path) -> str:
    """Create ``path`` (0700) if missing, or tighten it; returns what changed."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)  # the umask only removes bits
    return tighten(path, PRIVATE_DIR)


def create_private_file(path: Path) -> str:
    """Make sure ``path`` exists with mode 0600 before another library creates it with its
    own default (SQLite: 0644, and its WAL and shared-memory files copy the database's)."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, PRIVATE_FILE)
    os.close(fd)
    return tighten(path, PRIVATE_FILE)


def private_secret(path: Path) -> tuple[str, bool]:
    """The secret kept in ``path``, made on first use; returns (secret, whether it is new).

    Written whole to a private temporary file, then linked to its name: ``link`` never
    replaces a file, so two processes starting at once agree on one secret, and a crash
    never leaves a half-written one under the real name."""
    private_dir(path.parent)
    if path.exists():
        tighten(path, PRIVATE_FILE)
        value = path.read_text().strip()
        if value:
            return value, False
        log.warning("%s is empty; making a new secret (tokens signed before are void)", path)
        path.unlink()
    value = secrets.token_urlsafe(32)
    draft = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(draft, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(value)
            out.flush()
            os.fsync(out.fileno())
        os.link(draft, path)
    except FileExistsError:
        return path.read_text().strip(), False  # another process made it first
    finally:
        draft.unlink(missing_ok=True)
    return value, True

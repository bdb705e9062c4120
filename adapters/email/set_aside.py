"""Mail that keeps failing is set aside, so one mail never holds up everyone's.

A mail whose taking raises is read again with the rest of its batch (a full disk or a
busy database passes). One that fails ``after`` times in a row is set aside instead:
its raw bytes are written to a folder the operator can look in (it also stays in the
mailbox, which the intake never changes), and the intake goes on with the next mail.
The desk is told by the intake (``intake.py``), in the sender's topic when the mail has
a sender. Counts are kept in memory: after a restart a mail gets ``after`` more tries.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections import Counter
from pathlib import Path

__all__ = ["SET_ASIDE_AFTER", "SetAside"]

log = logging.getLogger(__name__)

SET_ASIDE_AFTER = 3  # failed takes of one mail before it is set aside
_REMEMBERED = 10_000  # failure counts kept; a flood of broken mail cannot grow memory


class SetAside:
    """Counts each mail's failures and keeps a mail that is set aside."""

    def __init__(self, folder: Path | None, after: int = SET_ASIDE_AFTER) -> None:
        self._folder = folder
        self._after = max(1, after)
        self._failures: Counter[str] = Counter()

    def failed(self, key: str) -> bool:
        """Note one more failure of mail ``key``; True when it is now to be set aside."""
        if len(self._failures) >= _REMEMBERED and key not in self._failures:
            self._failures.clear()
        self._failures[key] += 1
        if self._failures[key] < self._after:
            return False
        del self._failures[key]
        return True

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)

    async def keep(self, uid: int, raw: bytes) -> str:
        """Write the mail where the operator finds it; returns where ("" if nowhere)."""
        if self._folder is None:
            return ""
        name = f"uid{uid}-{hashlib.sha256(raw).hexdigest()[:16]}.eml"
        path = self._folder / name
        try:
            await asyncio.to_thread(_write_private, path, raw)
        except OSError:
            log.exception("could not keep the set-aside mail as %s", path)
            return ""
        return str(path)


def _write_private(path: Path, raw: bytes) -> None:
    """Readable by the service's user only: a patron's mail is private."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(raw)

"""Attachments kept in the data directory, each file named by the SHA-256 of its bytes.

Addressing by content makes keeping idempotent: a mail read twice, or the same file
sent by two patrons, is stored once. Files are written to a temporary name and renamed,
so a crash never leaves half a file under a real name. Writing runs in a thread: a 20 MB
file must not stall the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BlobStore", "StoredBlob"]

_DIGEST = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class StoredBlob:
    digest: str  # hex SHA-256 of the bytes
    size: int


class BlobStore:
    def __init__(self, root: Path) -> None:
        self._root = Path(root)

    def path(self, digest: str) -> Path:
        if not _DIGEST.fullmatch(digest):
            raise ValueError(f"not a SHA-256 digest: {digest!r}")
        return self._root / digest[:2] / digest[2:4] / digest

    async def put(self, data: bytes) -> StoredBlob:
        return await asyncio.to_thread(self.put_sync, data)

    def put_sync(self, data: bytes) -> StoredBlob:
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if target.exists() and target.stat().st_size == len(data):
            return StoredBlob(digest, len(data))
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{digest}.{os.getpid()}.{id(data)}.part")
        with open(partial, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, target)
        return StoredBlob(digest, len(data))

    async def get(self, digest: str) -> bytes | None:
        path = self.path(digest)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None

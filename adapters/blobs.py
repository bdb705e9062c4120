"""Attachments kept in the data directory, each file named by the SHA-256 of its bytes.

Addressing by content makes keeping idempotent: a mail read twice, or the same file
sent by two patrons, is stored once. Files are written to a temporary name and renamed,
so a crash never leaves half a file under a real name. Writing runs in a thread: a 20 MB
file must not stall the event loop.

A file whose message may still be refused (a widget upload) is written to a ``BlobSpool``
in the store's own directory while it streams in, and ``commit``ted (a rename) only once
its whole form is accepted. The commit is a claim: ``release`` removes the file again if
the message was refused, but only when this claim created it and nothing else stored or
used the same bytes meanwhile; another message may hold them.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = ["BlobSpool", "BlobStore", "DiskFloor", "StoredBlob"]

_DIGEST = re.compile(r"[0-9a-f]{64}")
SPOOL_DIR = ".spool"


@dataclass(frozen=True, slots=True)
class StoredBlob:
    digest: str  # hex SHA-256 of the bytes
    size: int


@dataclass(slots=True)
class _Claim:
    """Commits of one digest whose messages are not decided yet."""

    holders: int = 0
    created: bool = False  # one of them put the file there
    keep: bool = False  # a message uses it, or someone else stored the same bytes


class BlobSpool:
    """One file on its way in: written under a temporary name, hashed as it goes."""

    def __init__(self, path: Path, out: BinaryIO) -> None:
        self.path = path
        self.size = 0
        self._out = out
        self._hash = hashlib.sha256()

    @property
    def digest(self) -> str:
        return self._hash.hexdigest()

    async def write(self, chunk: bytes) -> None:
        self._hash.update(chunk)
        self.size += len(chunk)
        await asyncio.to_thread(self._out.write, chunk)

    def finish_sync(self) -> None:
        """Make the bytes durable before the file gets its real name."""
        self._out.flush()
        os.fsync(self._out.fileno())
        self._out.close()

    def discard(self) -> None:
        """Remove the temporary file (nothing happens once it was committed)."""
        self._out.close()
        self.path.unlink(missing_ok=True)


@dataclass(frozen=True, slots=True)
class DiskFloor:
    """Free space the data disk keeps: ``files.min_free_disk``, bytes or a percentage of
    the disk (the larger counts when both are set). Below it uploads are refused, so a
    flood of files cannot stop the database and the logs from writing."""

    min_bytes: int = 0
    min_percent: float = 0.0

    def required(self, total: int) -> int:
        return max(self.min_bytes, int(total * self.min_percent / 100))


class BlobStore:
    def __init__(self, root: Path, *, floor: DiskFloor | None = None) -> None:
        self._root = Path(root)
        self._claims: dict[str, _Claim] = {}
        self._floor = floor or DiskFloor()

    def space_refusal(self, incoming: int = 0) -> str:
        """Why the disk cannot take ``incoming`` more bytes now (in words for the library's
        staff and /healthz), or "" when it can."""
        if not (self._floor.min_bytes or self._floor.min_percent):
            return ""
        folder = self._root
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        usage = shutil.disk_usage(folder)
        floor = self._floor.required(usage.total)
        if usage.free - incoming >= floor:
            return ""
        return (f"the data disk has {_size(usage.free)} free; files are refused below "
                f"{_size(floor)} (files.min_free_disk)")

    def path(self, digest: str) -> Path:
        if not _DIGEST.fullmatch(digest):
            raise ValueError(f"not a SHA-256 digest: {digest!r}")
        return self._root / digest[:2] / digest[2:4] / digest

    async def put(self, data: bytes) -> StoredBlob:
        digest = await asyncio.to_thread(lambda: hashlib.sha256(data).hexdigest())
        claim = self._claims.get(digest)
        if claim is not None:  # marked before the write: a release must not remove it now
            claim.keep = True
        return await asyncio.to_thread(self.put_sync, data, digest)

    def put_sync(self, data: bytes, digest: str = "") -> StoredBlob:
        """``digest``: the bytes' SHA-256 when the caller has it already (not hashed twice)."""
        digest = digest or hashlib.sha256(data).hexdigest()
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

    # -- files whose message is not decided yet -------------------------------------------

    def clear_spool(self) -> int:
        """Remove what a stopped process left half-received (at start, before any upload);
        returns how many files went."""
        folder = self._root / SPOOL_DIR
        gone = 0
        for leftover in folder.glob("*.part") if folder.is_dir() else ():
            leftover.unlink(missing_ok=True)
            gone += 1
        return gone

    async def spool(self) -> BlobSpool:
        """A temporary file in the store's directory (one file system: commit renames)."""
        return await asyncio.to_thread(self._spool_sync)

    def _spool_sync(self) -> BlobSpool:
        folder = self._root / SPOOL_DIR
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=folder, suffix=".part")
        return BlobSpool(Path(name), os.fdopen(fd, "wb"))

    async def commit(self, spool: BlobSpool) -> StoredBlob:
        """Move a spooled file to its digest's name and claim it until ``release``."""
        digest = spool.digest
        claim = self._claims.setdefault(digest, _Claim())
        claim.holders += 1  # before the move, so a concurrent put sees the claim
        try:
            created = await asyncio.to_thread(self._commit_sync, spool, digest)
        except BaseException:
            self.release(digest, used=True)  # keep whatever is there: it may be in use
            raise
        claim.created = claim.created or created
        return StoredBlob(digest, spool.size)

    def _commit_sync(self, spool: BlobSpool, digest: str) -> bool:
        """Whether the file is new. ``link`` fails on an existing name, so of two
        requests with the same bytes only one is told it created the file."""
        spool.finish_sync()
        target = self.path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(spool.path, target)
            created = True
        except FileExistsError:
            created = target.stat().st_size != spool.size  # a damaged copy: replace it
            if created:
                os.replace(spool.path, target)
        spool.path.unlink(missing_ok=True)
        return created

    def release(self, digest: str, *, used: bool) -> None:
        """End a ``commit``'s claim; the file goes when no claim used it, one of them
        created it, and no one else stored the same bytes meanwhile. Runs on the loop,
        without awaiting, so no ``put`` slips between the check and the removal."""
        claim = self._claims.get(digest)
        if claim is None:
            return
        claim.holders -= 1
        claim.keep = claim.keep or used
        if claim.holders > 0:
            return
        del self._claims[digest]
        if claim.created and not claim.keep:
            self.path(digest).unlink(missing_ok=True)


def _size(size: int) -> str:
    return f"{size / 1024**3:.2f} GB" if size >= 1024**3 else f"{size / 1024**2:.1f} MB"

"""Files a patron sends from the widget: one multipart POST, read as it streams.

The form holds ``cid``, an optional ``text`` (the caption) and 1 to ``max_files`` parts
named ``file``, and nothing else. Each file is written a chunk at a time to a temporary
file in the blob store's directory (``BlobSpool``) and refused the moment it passes
``FilePolicy.max_bytes``. Its type comes from its first bytes (``read_type``), never from
the browser alone: a declared type the bytes contradict, or a type the library does not
take, is refused as soon as those bytes are in. Only a whole form that passed every
check is ``store``d (renamed into the store); a refused one leaves nothing behind. The
message then takes the same path as a text (``PatronSteps.send``), and ``settle``
removes the files it newly stored if that path refuses it. Every refusal names the file
(and its place in the form) and the limit.

One stalled browser must not hold the others up: a visitor reads one upload at a time,
all visitors share ``concurrency`` slots, a slot not free within ``slot_wait`` seconds
is a 503 ``busy``, the whole read has a time limit, and a body without Content-Length
is cut off at ``request_limit`` bytes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, cast

from aiohttp import BodyPartReader, MultipartReader, StreamReader, hdrs, web
from aiohttp.http_exceptions import HttpProcessingError

from adapters.blobs import BlobStore
from adapters.files import FilePolicy, kind_for
from adapters.widget.quota import QuotaExceeded, QuotaMeter, UploadQuota
from adapters.widget.upload_parts import (
    FileRefused,
    Metered,
    clean_name,
    drain,
    quota_refusal,
    read_field,
)
from adapters.widget.upload_spool import SpooledFile, spool_file
from routing.model import Attachment

# SpooledFile is adapters.widget.upload_spool's; named here, where callers found it.
__all__ = ["MAX_FILES", "FileRefused", "SpooledFile", "Upload", "Uploads", "clean_name"]

MAX_FILES = 10  # one album; the router refuses more
_OVERHEAD = 256 * 1024  # multipart boundaries, part headers and the text fields
log = logging.getLogger(__name__)
_MALFORMED = (ValueError, AssertionError, RuntimeError, UnicodeDecodeError,
              HttpProcessingError)


@dataclass(frozen=True, slots=True)
class Upload:
    cid: str
    text: str
    files: tuple[SpooledFile, ...]


class Uploads:
    """Reads upload forms into spooled files, stores and settles them."""

    # The whole read may take read_grace seconds plus the body at min_rate bytes a
    # second (a slow but working connection), never more than max_read seconds.
    read_grace = 30.0
    min_rate = 64 * 1024
    max_read = 900.0
    slot_wait = 2.0  # seconds to wait for a free slot before answering 503 busy

    def __init__(self, blobs: BlobStore, policy: FilePolicy, *, max_files: int = MAX_FILES,
                 max_text: int = 4000, concurrency: int = 8,
                 quota: UploadQuota | None = None) -> None:
        self._blobs = blobs
        self._policy = policy
        self._quota = quota
        self._max_files = max_files
        self._max_text = max_text
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self._visitors: dict[str, tuple[asyncio.Lock, int]] = {}  # lock, tasks using it

    @property
    def enabled(self) -> bool:
        return self._policy.enabled

    def public(self) -> dict[str, Any]:
        """``files`` in /widget/config: what the widget may offer and check beforehand."""
        return {"enabled": self._policy.enabled, "max_bytes": self._policy.max_bytes,
                "max_files": self._max_files, "types": list(self._policy.allowed_types)}

    @property
    def request_limit(self) -> int:
        return self._max_files * (self._policy.max_bytes + 1) + _OVERHEAD

    def read_seconds(self, content_length: int | None) -> float:
        size = self.request_limit if content_length is None else content_length
        return min(self.max_read, self.read_grace + size / self.min_rate)

    async def read(self, request: web.Request, visitor: str, ip: str = "") -> Upload:
        """The form's cid, caption and spooled files; ``FileRefused`` for anything wrong.
        The caller ``store``s or ``discard``s the files. ``ip``: the visitor's address,
        whose daily quota the files count against too."""
        if not self._policy.enabled:
            raise FileRefused("files_off", "Files are not accepted here.", status=403)
        if not request.content_type.startswith("multipart/form-data"):
            raise FileRefused("bad_upload", "Send files as multipart/form-data.")
        state = _Form()
        try:
            async with self._slot(visitor):
                await self._read_form(request, state, visitor, ip)
            if not state.files:
                raise FileRefused("no_files", "Choose a file to send.", cid=state.cid or None)
        except BaseException:
            state.discard()
            raise
        if state.meter is not None:
            await state.meter.charge()
        return Upload(state.cid, state.text, tuple(state.files))

    async def _admit(self, request: web.Request, state: _Form, visitor: str, ip: str) -> None:
        """Refuse before a byte is written when the upload would take the disk below its
        floor, or the visitor or their address has no quota left today."""
        reason = self._blobs.space_refusal(request.content_length or self.request_limit)
        if reason:
            log.warning("upload refused: %s", reason)
            raise FileRefused("disk_full", "The library cannot take files just now; please "
                              "try again later, or describe the file in words.", status=507)
        if self._quota is not None:
            try:
                state.meter = await self._quota.meter(visitor, ip)
            except QuotaExceeded as exc:
                raise quota_refusal(exc) from None

    async def store(self, upload: Upload) -> tuple[Attachment, ...]:
        """Move an accepted form's files into the store; ``settle`` them once the
        message is stored or refused."""
        stored: list[Attachment] = []
        try:
            for file in upload.files:
                blob = await self._blobs.commit(file.spool)
                stored.append(Attachment(kind_for(file.mime), file.name, file.mime,
                                         blob.size, blob.digest))
        except BaseException:
            self.settle(stored, ())
            self.discard(upload)
            raise
        return tuple(stored)

    def settle(self, stored: Sequence[Attachment], used: Collection[str]) -> None:
        """The message is decided: files whose digest is not in ``used`` go again,
        unless they were in the store before or another message stored them since."""
        for attachment in stored:
            self._blobs.release(attachment.digest, used=attachment.digest in used)

    def discard(self, upload: Upload) -> None:
        for file in upload.files:
            file.spool.discard()

    @asynccontextmanager
    async def _slot(self, visitor: str) -> AsyncIterator[None]:
        """One of the shared slots, and the visitor's only one."""
        lock, users = self._visitors.get(visitor, (asyncio.Lock(), 0))
        self._visitors[visitor] = (lock, users + 1)
        try:
            try:
                async with asyncio.timeout(self.slot_wait):
                    await lock.acquire()
                    try:
                        await self._slots.acquire()
                    except BaseException:
                        lock.release()
                        raise
            except TimeoutError:
                raise FileRefused("busy", "The library is receiving many files just now; "
                                  "try again in a moment.", status=503) from None
            try:
                yield
            finally:
                self._slots.release()
                lock.release()
        finally:
            lock, users = self._visitors[visitor]
            if users > 1:
                self._visitors[visitor] = (lock, users - 1)
            else:
                del self._visitors[visitor]

    async def _read_form(self, request: web.Request, state: _Form, visitor: str,
                         ip: str) -> None:
        """Read the form within its time limit; on a refusal, read what the browser
        is still sending (within the limits) so it gets the answer, not a reset."""
        deadline = asyncio.get_running_loop().time() + self.read_seconds(request.content_length)
        body = Metered(request.content, self.request_limit)
        try:
            async with asyncio.timeout_at(deadline):
                await self._admit(request, state, visitor, ip)
                await self._read_parts(MultipartReader(request.headers, cast(StreamReader, body)),
                                       state)
        except FileRefused as exc:
            exc.cid = state.cid or None
            if not body.over:
                with suppress(TimeoutError):
                    async with asyncio.timeout_at(deadline):
                        await drain(request, self.request_limit - body.count)
            raise
        except TimeoutError:
            raise FileRefused("too_slow", "The upload took too long; try again, perhaps with "
                              "fewer or smaller files.", status=408,
                              cid=state.cid or None) from None
        except _MALFORMED:
            raise FileRefused("bad_upload", "The upload is malformed.",
                              cid=state.cid or None) from None

    async def _read_parts(self, reader: MultipartReader, state: _Form) -> None:
        seen: set[str] = set()
        async for part in reader:
            if not isinstance(part, BodyPartReader):
                raise FileRefused("bad_upload", "Nested multipart forms are not accepted.")
            if part.headers.get(hdrs.CONTENT_ENCODING) or part.headers.get(
                    hdrs.CONTENT_TRANSFER_ENCODING):
                raise FileRefused("bad_upload", "Send the files' bytes as they are.")
            if part.name == "file":
                if not state.cid:  # refuse before keeping bytes for a message never made
                    raise FileRefused("bad_frame", "Send 'cid' (1 to 64 characters) before "
                                      "the files.")
                if len(state.files) >= self._max_files:
                    raise FileRefused("too_many_files",
                                      f"At most {self._max_files} files can be sent at once.",
                                      status=413)
                state.files.append(await spool_file(self._blobs, self._policy, part,
                                                     len(state.files), state.meter))
            elif part.name in ("cid", "text") and part.name not in seen:
                seen.add(part.name)
                value = (await read_field(part)).decode("utf-8")
                if part.name == "cid":
                    state.cid = value if 0 < len(value) <= 64 else ""
                else:
                    state.text = self._caption(value)
            else:  # reading it through would let a form of junk hold a slot
                raise FileRefused("bad_upload", "An upload holds 'cid', 'text' (once each) "
                                  f"and 'file' parts only, not {(part.name or '')[:40]!r}.")

    def _caption(self, text: str) -> str:
        """The router counts again; refusing here keeps the files of a message it would
        refuse out of the store."""
        length = len(text.replace("\r\n", "\n").strip())
        if length > self._max_text:
            raise FileRefused("too_long", f"The message is {length} characters; the limit "
                              f"is {self._max_text}.")
        return text

@dataclass
class _Form:
    """What has been read of the form so far (a refusal still knows the cid)."""

    cid: str = ""
    text: str = ""
    files: list[SpooledFile] = field(default_factory=list)
    meter: QuotaMeter | None = None

    def discard(self) -> None:
        for file in self.files:
            file.spool.discard()
        if self.meter is not None:
            self.meter.release()  # refused bytes are not kept, so they cost no quota

"""Reading an upload form's pieces: the refusal it raises, file names made safe to
show, the body metered against its limit, a text field, and what is left to drain.

Split from uploads.py, which reads a whole form with these.
"""

from __future__ import annotations

import asyncio
import unicodedata

from aiohttp import BodyPartReader, StreamReader, web

from adapters.widget.frames import FrameError
from adapters.widget.quota import QuotaExceeded, QuotaMeter
from routing.plain import storable

__all__ = ["CHUNK", "MAX_FIELD", "MAX_NAME", "FileRefused", "Metered", "clean_name", "drain",
           "metered", "quota_refusal", "read_field"]

MAX_FIELD = 64 * 1024  # the caption and the cid; the router counts the caption's characters
MAX_NAME = 200
CHUNK = 64 * 1024


class FileRefused(FrameError):
    """An upload refused: ``file`` names the file concerned and ``index`` is its place
    among the form's files (the widget matches on it: ``file`` is the cleaned name),
    ``status`` is the HTTP one."""

    def __init__(self, code: str, message: str, *, file: str = "", index: int | None = None,
                 status: int = 400, cid: str | None = None,
                 retry_after: int | None = None) -> None:
        super().__init__(code, message, retry_after=retry_after)
        self.file = file
        self.index = index
        self.status = status
        self.cid = cid


def clean_name(raw: str | None) -> str:
    """A file name to show: the last path segment, no control characters, at most
    MAX_NAME characters, bytes that were not UTF-8 as U+FFFD (aiohttp hands them over as
    lone surrogates, which no database or header can hold). Shown only, never a path."""
    # Browsers write a quote in a form's file name as %22 (HTML's form encoding).
    name = storable(raw or "").replace("%22", '"').replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp"))
    name = " ".join(name.split())
    if len(name) > MAX_NAME:  # keep the extension, which says what the file is
        _, dot, ext = name.rpartition(".")
        keep = ext if dot and len(ext) <= 10 else ""
        name = name[: MAX_NAME - len(keep) - 1] + ("." + keep if keep else "")
    return "" if not name.strip(".") else name


def metered(meter: QuotaMeter, size: int, name: str, index: int) -> None:
    try:
        meter.add(size)
    except QuotaExceeded as exc:
        raise quota_refusal(exc, file=name, index=index) from None


def quota_refusal(exc: QuotaExceeded, *, file: str = "", index: int | None = None) -> FileRefused:
    return FileRefused(exc.code, str(exc), file=file, index=index, status=exc.status,
                       retry_after=exc.retry_after)


class Metered:
    """The request body as the multipart reader sees it, cut off past ``limit`` bytes:
    a chunked body declares no length to check beforehand, and a preamble or part
    headers are read by aiohttp, out of this module's loops."""

    def __init__(self, content: StreamReader, limit: int) -> None:
        self._content = content
        self._limit = limit
        self.count = 0
        self.over = False

    def _counted(self, data: bytes) -> bytes:
        self.count += len(data)
        if self.count > self._limit:
            self.over = True
            raise FileRefused("too_big", "The upload is larger than the limit.", status=413)
        return data

    async def read(self, n: int = -1) -> bytes:
        return self._counted(await self._content.read(n))

    async def readline(self, *, max_line_length: int | None = None) -> bytes:
        return self._counted(await self._content.readline(max_line_length=max_line_length))

    def at_eof(self) -> bool:
        return self._content.at_eof()

    def unread_data(self, data: bytes) -> None:
        self.count -= len(data)
        self._content.unread_data(data)


async def read_field(part: BodyPartReader) -> bytes:
    data = bytearray()
    while chunk := await part.read_chunk(8192):
        data += chunk
        if len(data) > MAX_FIELD:
            raise FileRefused("too_big", f"A form field is limited to {MAX_FIELD} bytes.",
                              status=413)
    return bytes(data)


async def drain(request: web.Request, limit: int) -> None:
    """Read what the browser is still sending, up to ``limit`` bytes."""
    left = limit
    try:
        while left > 0 and (chunk := await request.content.read(min(CHUNK, left))):
            left -= len(chunk)
    except (ConnectionError, asyncio.IncompleteReadError):
        pass

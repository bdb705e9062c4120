"""Files a patron sends from the widget: one multipart POST, read as it streams.

The form holds ``cid``, an optional ``text`` (the caption) and 1 to ``max_files`` parts
named ``file``. Each file is read a chunk at a time and never more than
``FilePolicy.max_bytes`` of it is held: a larger one is refused the moment it passes the
limit. Its type comes from its first bytes (``sniff``), never from the browser alone,
and a type the library does not take is refused as soon as those bytes are in. Accepted
files go to the content-addressed blob store; the message itself then takes the same
path as a text (``PatronSteps.send``). Every refusal names the file and the limit.
"""

from __future__ import annotations

import asyncio
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, hdrs, web

from adapters.blobs import BlobStore
from adapters.files import FilePolicy, human_size, kind_for, sniff
from adapters.widget.frames import FrameError
from routing.model import Attachment

__all__ = ["MAX_FILES", "FileRefused", "Upload", "Uploads", "clean_name"]

MAX_FILES = 10  # one album; the router refuses more
MAX_FIELD = 64 * 1024  # the caption and the cid; the router counts the caption's characters
MAX_NAME = 200
_CHUNK = 64 * 1024
_SNIFF_BYTES = 64
_OVERHEAD = 256 * 1024  # multipart boundaries, part headers and the text fields


class FileRefused(FrameError):
    """An upload refused: ``file`` names the file concerned, ``status`` is the HTTP one."""

    def __init__(self, code: str, message: str, *, file: str = "", status: int = 400,
                 cid: str | None = None) -> None:
        super().__init__(code, message)
        self.file = file
        self.status = status
        self.cid = cid


@dataclass(frozen=True, slots=True)
class Upload:
    cid: str
    text: str
    attachments: tuple[Attachment, ...]


def clean_name(raw: str | None) -> str:
    """A file name to show: the last path segment, no control characters, at most
    MAX_NAME characters. Shown only, never used as a path."""
    # Browsers write a quote in a form's file name as %22 (HTML's form encoding).
    name = (raw or "").replace("%22", '"').replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp"))
    name = " ".join(name.split())
    if len(name) > MAX_NAME:  # keep the extension, which says what the file is
        _, dot, ext = name.rpartition(".")
        keep = ext if dot and len(ext) <= 10 else ""
        name = name[: MAX_NAME - len(keep) - 1] + ("." + keep if keep else "")
    return "" if not name.strip(".") else name


class Uploads:
    """Reads upload forms into stored files; ``concurrency`` bounds the memory they take."""

    def __init__(self, blobs: BlobStore, policy: FilePolicy, *, max_files: int = MAX_FILES,
                 max_text: int = 4000, concurrency: int = 8) -> None:
        self._blobs = blobs
        self._policy = policy
        self._max_files = max_files
        self._max_text = max_text
        self._slots = asyncio.Semaphore(max(1, concurrency))

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

    async def read(self, request: web.Request) -> Upload:
        """The form's cid, caption and stored files; ``FileRefused`` for anything wrong."""
        if not self._policy.enabled:
            raise FileRefused("files_off", "Files are not accepted here.", status=403)
        if not request.content_type.startswith("multipart/form-data"):
            raise FileRefused("bad_upload", "Send files as multipart/form-data.")
        async with self._slots:
            state = _Form()
            try:
                await self._read_parts(request, state)
            except FileRefused as exc:
                exc.cid = state.cid or None
                await _drain(request, self.request_limit)
                raise
            except (ValueError, AssertionError, RuntimeError, UnicodeDecodeError):
                raise FileRefused("bad_upload", "The upload is malformed.",
                                  cid=state.cid or None) from None
        if not state.files:
            raise FileRefused("no_files", "Choose a file to send.", cid=state.cid or None)
        return Upload(state.cid, state.text, tuple(state.files))

    async def _read_parts(self, request: web.Request, state: _Form) -> None:
        reader = await request.multipart()
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
                state.files.append(await self._keep(part))
            elif part.name in ("cid", "text"):
                value = (await _field(part)).decode("utf-8")
                if part.name == "cid":
                    state.cid = value if 0 < len(value) <= 64 else ""
                else:
                    state.text = self._caption(value)
            else:
                await part.release()

    def _caption(self, text: str) -> str:
        """The router counts again; refusing here keeps the files of a message it would
        refuse out of the store."""
        length = len(text.replace("\r\n", "\n").strip())
        if length > self._max_text:
            raise FileRefused("too_long", f"The message is {length} characters; the limit "
                              f"is {self._max_text}.")
        return text

    async def _keep(self, part: BodyPartReader) -> Attachment:
        """Read one file (refusing it as soon as it is too big or of a refused type) and
        put it in the blob store."""
        name = clean_name(part.filename) or "file"
        declared = part.headers.get(hdrs.CONTENT_TYPE, "")
        limit = self._policy.max_bytes
        data = bytearray()
        mime = ""
        while chunk := await part.read_chunk(max(_CHUNK // 8, min(_CHUNK, limit + 1 - len(data)))):
            if len(data) + len(chunk) > limit:
                raise FileRefused(
                    "file_too_big",
                    f"“{name}” is larger than the {human_size(limit)} limit.",
                    file=name, status=413)
            data += chunk
            if not mime and len(data) >= _SNIFF_BYTES:
                mime = self._checked_type(name, data, declared)
        if not data:
            raise FileRefused("empty_file", f"“{name}” is empty.", file=name)
        mime = mime or self._checked_type(name, data, declared)
        stored = await self._blobs.put(bytes(data))
        return Attachment(kind_for(mime), name, mime, stored.size, stored.digest)

    def _checked_type(self, name: str, head: bytearray, declared: str) -> str:
        mime = sniff(bytes(head[:_SNIFF_BYTES]), declared)
        reason = self._policy.refusal(mime, 0)
        if reason:
            raise FileRefused("file_type", f"“{name}”: {reason}.", file=name, status=415)
        return mime


@dataclass
class _Form:
    """What has been read of the form so far (a refusal still knows the cid)."""

    cid: str = ""
    text: str = ""
    files: list[Attachment] = field(default_factory=list)


async def _field(part: BodyPartReader) -> bytes:
    data = bytearray()
    while chunk := await part.read_chunk(8192):
        data += chunk
        if len(data) > MAX_FIELD:
            raise FileRefused("too_big", f"A form field is limited to {MAX_FIELD} bytes.",
                              status=413)
    return bytes(data)


async def _drain(request: web.Request, limit: int) -> None:
    """Read what the browser is still sending (up to ``limit``) so it gets our answer
    instead of a reset connection."""
    left = limit
    try:
        while left > 0 and (chunk := await request.content.read(min(_CHUNK, left))):
            left -= len(chunk)
    except (ConnectionError, asyncio.IncompleteReadError):
        pass

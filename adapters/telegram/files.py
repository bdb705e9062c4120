"""Files that arrive from Telegram (a patron's private chat, a librarian's topic) kept as
``Attachment`` records, the bytes in the blob store.

``file_of`` is pure: which file a message carries (the largest size of a photo).
``fetch`` downloads it with ``getFile`` (Telegram hands a bot at most 20 MB), reads its
type from its first bytes, asks the library's ``FilePolicy`` and keeps it. A file that is
refused, or that cannot be fetched, still becomes an ``Attachment``: no bytes, its name,
its size and a note saying why, so the other side learns that something was sent.
"""

from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from telegram import Bot
from telegram import Message as TgMessage
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError

from adapters.blobs import BlobStore
from adapters.files import SNIFF_BYTES, FilePolicy, human_size, sniff
from routing.model import Attachment, AttachmentKind

__all__ = [
    "MAX_DOWNLOAD",
    "NOT_FETCHED",
    "NOT_KEPT",
    "TgFile",
    "carries_file",
    "clean_name",
    "fetch",
    "fetch_all",
    "file_of",
]

log = logging.getLogger(__name__)

MAX_DOWNLOAD = 20 * 1024 * 1024  # getFile refuses bigger files ("file is too big")
NOT_FETCHED = "it could not be fetched from Telegram"
NOT_KEPT = "files are not kept by this bridge"
_ATTEMPTS = 3  # a download cut by the network is tried again before it is given up
_NAME_ROOM = 120
_SEPARATORS = re.compile(r"[\\/]")
# which kinds a file's sniffed type may keep; anything else is shown as a document
_FITS = {AttachmentKind.PHOTO: ("image/",), AttachmentKind.VOICE: ("audio/", "video/"),
         AttachmentKind.AUDIO: ("audio/", "video/"), AttachmentKind.VIDEO: ("video/",)}


@dataclass(frozen=True, slots=True)
class TgFile:
    """A file a Telegram message carries, as Telegram describes it (not yet trusted)."""

    file_id: str
    kind: AttachmentKind
    name: str
    mime: str
    size: int  # 0 when Telegram did not say


def carries_file(msg: TgMessage) -> bool:
    return file_of(msg) is not None


def file_of(msg: TgMessage) -> TgFile | None:
    """The photo (its largest size), voice note, audio, video or document of a message."""
    mid = msg.message_id
    if msg.photo:
        best = max(msg.photo, key=lambda s: (s.width * s.height, s.file_size or 0))
        return TgFile(best.file_id, AttachmentKind.PHOTO, f"photo-{mid}.jpg", "image/jpeg",
                      best.file_size or 0)
    if msg.voice:
        mime = msg.voice.mime_type or "audio/ogg"
        extension = {"audio/mpeg": "mp3", "audio/mp4": "m4a"}.get(mime, "ogg")
        return TgFile(msg.voice.file_id, AttachmentKind.VOICE, f"voice-{mid}.{extension}",
                      mime, msg.voice.file_size or 0)
    if msg.audio:
        return TgFile(msg.audio.file_id, AttachmentKind.AUDIO,
                      msg.audio.file_name or f"audio-{mid}.mp3",
                      msg.audio.mime_type or "audio/mpeg", msg.audio.file_size or 0)
    if msg.video:
        return TgFile(msg.video.file_id, AttachmentKind.VIDEO,
                      msg.video.file_name or f"video-{mid}.mp4",
                      msg.video.mime_type or "video/mp4", msg.video.file_size or 0)
    if msg.document:
        return TgFile(msg.document.file_id, AttachmentKind.DOCUMENT,
                      msg.document.file_name or f"file-{mid}",
                      msg.document.mime_type or "application/octet-stream",
                      msg.document.file_size or 0)
    return None


def clean_name(name: str) -> str:
    """A file name fit to show: no folders, no control characters, not too long. It is
    never used as a path (the blob store names files by their hash)."""
    base = _SEPARATORS.split(name)[-1]
    shown = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip(" .")
    if len(shown) > _NAME_ROOM:
        stem, dot, extension = shown.rpartition(".")
        keep = extension[:10] if dot and stem else ""
        shown = shown[: _NAME_ROOM - len(keep) - 2] + "…" + (f".{keep}" if keep else "")
    return shown or "file"


async def fetch_all(bot: Bot, messages: Sequence[TgMessage], blobs: BlobStore | None,
                    policy: FilePolicy | None) -> tuple[Attachment, ...]:
    """Every file of ``messages`` (one message, or the items of an album), in order."""
    found = [tg for tg in (file_of(m) for m in messages) if tg is not None]
    return tuple([await fetch(bot, tg, blobs, policy) for tg in found])


async def fetch(bot: Bot, tg: TgFile, blobs: BlobStore | None,
                policy: FilePolicy | None) -> Attachment:
    """Download, check and keep one file; a refusal is an Attachment with a note."""
    name = clean_name(tg.name)

    def refused(note: str, mime: str = tg.mime, size: int = tg.size) -> Attachment:
        return Attachment(tg.kind, name, mime, size, note=note)

    if tg.size > MAX_DOWNLOAD:
        return refused(_too_big(tg.size))
    if policy is not None and (not policy.enabled or tg.size > policy.max_bytes):
        return refused(policy.refusal(tg.mime, tg.size))  # known without downloading
    if blobs is None:
        return refused(NOT_KEPT)
    try:
        data = await _download(bot, tg.file_id)
    except BadRequest as exc:
        if "too big" in exc.message.lower():
            return refused(_too_big(tg.size))
        log.warning("Telegram would not hand over file %s: %s", tg.file_id, exc.message)
        return refused(NOT_FETCHED)
    except TelegramError as exc:
        log.warning("could not fetch Telegram file %s: %s", tg.file_id, exc)
        return refused(NOT_FETCHED)
    mime = sniff(data[:SNIFF_BYTES], tg.mime)
    note = policy.refusal(mime, len(data)) if policy is not None else ""
    if note:
        return refused(note, mime, len(data))
    stored = await blobs.put(data)
    kind = tg.kind if mime.startswith(_FITS.get(tg.kind, ("",))) else AttachmentKind.DOCUMENT
    return Attachment(kind, name, mime, stored.size, stored.digest)


async def _download(bot: Bot, file_id: str) -> bytes:
    """getFile, then the bytes; a network failure or a 429 is tried again, twice."""
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            found = await bot.get_file(file_id)
            return bytes(await found.download_as_bytearray())
        except RetryAfter as exc:
            if attempt == _ATTEMPTS:
                raise
            await asyncio.sleep(min(5.0, _seconds(exc.retry_after)))
        except BadRequest:
            raise
        except NetworkError:
            if attempt == _ATTEMPTS:
                raise
            await asyncio.sleep(0.5 * attempt)
    raise AssertionError("unreachable")  # the loop returns or raises


def _too_big(size: int) -> str:
    shown = f"{human_size(size)} is" if size else "it is"
    return f"{shown} larger than the {human_size(MAX_DOWNLOAD)} Telegram lets a bot fetch"


def _seconds(retry_after: object) -> float:
    total = getattr(retry_after, "total_seconds", None)
    return float(total()) if callable(total) else float(str(retry_after))

"""What files the library takes, and how each is shown: one rule for every channel.

The widget, the Telegram patron chat and the desk all ask ``FilePolicy.refusal`` before
keeping a file, so a patron learns the same limit wherever they write. The type is read
from the file's first bytes where it can be (``sniff``), never trusted from a browser's
say-so alone: an "image" that is really HTML must not be served back as an image.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass

from routing.model import AttachmentKind

__all__ = ["FilePolicy", "human_size", "kind_for", "sniff"]

# Magic numbers of the types we show inline or forward as Telegram photos and voice.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"OggS", "audio/ogg"),
    (b"ID3", "audio/mpeg"),
    (b"PK\x03\x04", "application/zip"),
)


def sniff(head: bytes, declared: str = "") -> str:
    """The MIME type of a file from its first bytes, else the declared one, else octet-stream.

    A declared type that the bytes contradict (an "image/png" that starts like a PDF) is
    replaced by what the bytes say; office files are zip archives, so a declared
    office type whose bytes are a zip is believed.
    """
    declared = declared.split(";", 1)[0].strip().lower()
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        return declared if declared.startswith(("video/", "audio/")) else "video/mp4"
    if head[:4] == b"\x1aE\xdf\xa3":
        return declared if declared.startswith(("video/", "audio/")) else "video/webm"
    for magic, mime in _MAGIC:
        if head.startswith(magic):
            if mime == "application/zip" and declared.startswith("application/vnd."):
                return declared
            if mime == "audio/ogg" and declared.startswith(("audio/", "video/")):
                return declared
            return mime
    if declared.startswith(("image/", "audio/", "video/")) or declared == "application/pdf":
        return "application/octet-stream"  # claims a type its bytes do not have
    return declared or "application/octet-stream"


def kind_for(mime: str, *, voice: bool = False) -> AttachmentKind:
    """How a file of this type is shown: photo, voice, audio, video, else document."""
    if voice:
        return AttachmentKind.VOICE
    if mime in ("image/jpeg", "image/png", "image/webp"):
        return AttachmentKind.PHOTO  # Telegram's photo; GIFs and SVGs go as documents
    if mime.startswith("audio/"):
        return AttachmentKind.AUDIO
    if mime.startswith("video/"):
        return AttachmentKind.VIDEO
    return AttachmentKind.DOCUMENT


def human_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} bytes"


@dataclass(frozen=True, slots=True)
class FilePolicy:
    """``files.*`` from the config: the size limit and the MIME patterns allowed."""

    max_bytes: int = 20 * 1024 * 1024
    allowed_types: Sequence[str] = ("image/*", "application/pdf")
    enabled: bool = True

    def refusal(self, mime: str, size: int) -> str:
        """Why a file is not taken, in words for the patron and the desk; "" when it is."""
        if not self.enabled:
            return "files are not accepted here"
        if size > self.max_bytes:
            return f"{human_size(size)} is larger than the {human_size(self.max_bytes)} limit"
        if not any(fnmatch.fnmatchcase(mime, pattern) for pattern in self.allowed_types):
            return f"files of type {mime} are not accepted"
        return ""

"""What files the library takes, and how each is shown: one rule for every channel.

The widget, the Telegram patron chat and the desk all ask ``FilePolicy.refusal`` before
keeping a file, so a patron learns the same limit wherever they write. The type is read
from the file's first bytes where it can be (``sniff``), never trusted from a browser's
say-so alone: an "image" that is really HTML must not be served back as an image. The
signatures are puremagic's maintained database (pure Python, no libmagic); ``read_type``
says whether a declared type agrees with them, so the widget can refuse a Windows
program declared as a Word document and say what its bytes are.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass

import puremagic

from routing.model import AttachmentKind

__all__ = ["SNIFF_BYTES", "FilePolicy", "TypeReading", "human_size", "kind_for", "read_type",
           "sniff"]

SNIFF_BYTES = 4096  # enough for every signature of the types a library takes

# Names one type goes by, as browsers and mail clients declare it.
_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "audio/mp3": "audio/mpeg",
            "audio/x-mpeg": "audio/mpeg", "audio/wav": "audio/wave", "audio/x-wav": "audio/wave",
            "audio/vnd.wave": "audio/wave", "image/x-ms-bmp": "image/bmp",
            "application/x-pdf": "application/pdf", "application/x-zip-compressed":
            "application/zip", "application/x-gzip": "application/gzip"}
# Containers whose first bytes are the same for several types: a declared member of the
# same family is believed (an .xlsx is a zip; an .m4a is an mp4; a .txt of HTML is text).
_OLE = frozenset({"application/msword", "application/vnd.ms-excel",
                  "application/vnd.ms-powerpoint", "application/x-visio",
                  "application/vnd.visio", "application/vnd.ms-outlook"})
_FAMILY_NAMES = {"zip": "application/zip", "ole": "application/msword"}
_LOOSE = frozenset({"zip", "ole", "media", "text"})
_UNKNOWN = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class TypeReading:
    """What a file's first bytes say about its declared type.

    ``mime``: the type to keep (the declared one when the bytes agree with it, else what
    the bytes are, else ``application/octet-stream``); ``found``: what the bytes are, in
    words and type ("" when no signature matched); ``agrees``: whether the declared type
    (none, or ``application/octet-stream``, claims nothing) agrees with the bytes."""

    mime: str
    found: str
    agrees: bool


def read_type(head: bytes, declared: str = "") -> TypeReading:
    """Compare ``declared`` with the signatures of ``head`` (puremagic's database)."""
    claim = _normal(declared)
    matches = _signatures(head)
    if not matches:  # no signature: only text may be what it says
        if not claim or claim == _UNKNOWN:
            return TypeReading(_UNKNOWN, "", True)
        if _family(claim) == "text" and b"\0" not in head:
            return TypeReading(claim, "", True)
        return TypeReading(_UNKNOWN, "", False)
    mime, name = matches[0]
    family_mime = _FAMILY_NAMES.get(_family(mime), mime)
    found = f"{name} ({family_mime})" if name else family_mime
    if not claim or claim == _UNKNOWN:
        return TypeReading(family_mime, found, True)
    same = [m for m, _ in matches if _family(m) == _family(claim)]
    if not same:
        return TypeReading(family_mime, found, False)
    # A shared container keeps the declared member; an image is what its bytes say.
    return TypeReading(claim if claim in same or _family(claim) in _LOOSE else same[0],
                       found, True)


def sniff(head: bytes, declared: str = "") -> str:
    """The MIME type to keep a file under: its declared type if its bytes agree, else what
    the bytes are, else ``application/octet-stream``. An "image/png" that starts like a
    PDF is a PDF; an office type whose bytes are a zip is believed."""
    return read_type(head, declared).mime


def _signatures(head: bytes) -> list[tuple[str, str]]:
    """(MIME type, name) of each signature ``head`` matches, the likeliest first;
    matches puremagic knows no MIME type for are left out."""
    try:
        found = puremagic.magic_string(head)
    except (puremagic.PureError, ValueError):
        return []
    return [(_normal(m.mime_type), m.name) for m in found if m.mime_type]


def _normal(mime: str) -> str:
    mime = mime.split(";", 1)[0].strip().lower()
    return _ALIASES.get(mime, mime)


def _family(mime: str) -> str:
    if (mime in ("application/zip", "application/epub+zip") or mime.endswith("+zip")
            or mime.startswith(("application/vnd.openxmlformats-officedocument.",
                                "application/vnd.oasis.opendocument."))
            or (mime.startswith("application/vnd.ms-") and "macroenabled" in mime)):
        return "zip"
    if mime in _OLE:
        return "ole"
    if mime.startswith(("audio/", "video/")) or mime in ("application/ogg",
                                                         "application/x-matroska"):
        return "media"
    if mime.startswith("text/") or mime in ("application/json", "application/xml"):
        return "text"
    if mime.startswith("image/") and "svg" not in mime:
        return "image"  # a JPEG saved as .png is common and harmless; it stays a JPEG
    return mime


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

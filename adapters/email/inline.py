"""Which inline images of a mail are decoration (a signature logo, a tracking pixel).

An inline image (one the HTML body shows by Content-ID) is passed on as a file unless
one of these says it is not what the patron meant to send:

- it is at most 2 x 2 pixels: a tracking or spacer pixel shows nothing to anyone;
- the HTML shows it only in the signature or the quoted history: a logo in a signature,
  or the logos of every earlier mail in the thread that Outlook attaches again to each
  reply. "Where" is decided by the same reply stripper that finds the patron's new text
  (``quotes.strip_reply``, run over the HTML as text with a mark where each image
  stands), and by the containers mail clients put signatures and quotes in.

Deciding by place and not by size keeps a small screenshot the patron pasted into their
text, which a size rule would lose; a logo slipping through costs one extra picture in
the topic, a lost screenshot costs the patron's question. An inline part the HTML never
shows is kept too: mail clients list it as an attachment, so the patron saw it as one.
"""

from __future__ import annotations

import re
import struct
import urllib.parse
from collections.abc import Sequence
from dataclasses import replace

from adapters.email.htmltext import cid_mark, html_to_text
from adapters.email.mime import ParsedAttachment
from adapters.email.quotes import strip_reply

__all__ = ["PIXEL", "QUOTED", "image_size", "mark_decorations"]

PIXEL = "a tracking or spacer pixel"
QUOTED = "shown only in the signature or the quoted history"
_MAX_PIXEL = 2
# Where clients open a signature or quoted history: Gmail, Thunderbird, Outlook on the
# web and new Outlook, Outlook desktop's reply header, Apple Mail and Yahoo quotes.
_MARKERS = re.compile(
    r"""(?:class|id)\s*=\s*["']?[^"'>]*\b(?:gmail_signature|gmail_quote|moz-signature|"""
    r"""moz-cite-prefix|Signature|divRplyFwdMsg|appendonsend|yahoo_quoted|"""
    r"""protonmail_signature_block|ms-outlook-mobile-signature)\b|<blockquote\b""",
    re.I,
)
_CID_SRC = re.compile(r"""\bsrc\s*=\s*["']?\s*cid:([^"'\s>]+)""", re.I)


def image_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) from the first bytes of a PNG, GIF or JPEG, else None.

    Never raises: a truncated image (a PNG cut after its IHDR tag) has no size.
    """
    try:
        return _image_size(head)
    except (struct.error, IndexError, ValueError):
        return None


def _image_size(head: bytes) -> tuple[int, int] | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR" and len(head) >= 24:
        width, height = struct.unpack(">II", head[16:24])
        return int(width), int(height)
    if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
        width, height = struct.unpack("<HH", head[6:10])
        return int(width), int(height)
    if head.startswith(b"\xff\xd8"):
        return _jpeg_size(head)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Walk the JPEG segments to the first start-of-frame, which holds the size."""
    at = 2
    while at + 9 < len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length: skip the marker
            at += 2
            continue
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return int(width), int(height)
        at += 2 + length
    return None


def _places(html: str) -> tuple[set[str], set[str], set[str]]:
    """Content-ids (lower case) cited anywhere; cited before any signature or quote
    container; and cited in the new text as the reply stripper finds it."""
    first_marker = _MARKERS.search(html)
    cut = first_marker.start() if first_marker else len(html)
    cited, early = set(), set()
    for found in _CID_SRC.finditer(html):
        cid = urllib.parse.unquote(found.group(1)).strip("<> ").lower()
        cited.add(cid)
        if found.start() < cut:
            early.add(cid)
    text = strip_reply(html_to_text(html, cid_marks=True))
    fresh = {cid for cid in cited if cid_mark(cid) in text}
    return cited, early, fresh


def _is_pixel(attachment: ParsedAttachment) -> bool:
    size = image_size(attachment.data[:4096]) if attachment.data else None
    return size is not None and size[0] <= _MAX_PIXEL and size[1] <= _MAX_PIXEL


def mark_decorations(attachments: Sequence[ParsedAttachment],
                     html: str) -> tuple[ParsedAttachment, ...]:
    """The attachments, each inline image that is decoration marked with the reason."""
    if not any(a.inline for a in attachments):
        return tuple(attachments)
    try:
        cited, early, fresh = _places(html) if html else (set(), set(), set())
    except Exception:  # an HTML body too odd to place images in: every image is kept
        cited, early, fresh = set(), set(), set()
    out = []
    for attachment in attachments:
        try:
            why = _decoration(attachment, cited, early, fresh)
        except Exception:  # costs this file its check only: kept, as content
            why = ""
        out.append(replace(attachment, decoration=why) if why else attachment)
    return tuple(out)


def _decoration(attachment: ParsedAttachment, cited: set[str], early: set[str],
                fresh: set[str]) -> str:
    """Why ``attachment`` is decoration, or "" when it is content."""
    if not attachment.inline or not attachment.content_type.startswith("image/"):
        return ""
    if _is_pixel(attachment):
        return PIXEL
    cid = attachment.content_id.strip("<> ").lower()
    if cid in cited and (cid not in early or cid not in fresh):
        return QUOTED
    return ""

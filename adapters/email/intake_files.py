"""A received mail's files as the ``Attachment`` records the router and the desk take.

Each file the patron attached is kept in the ``BlobStore`` and becomes an
``Attachment``: its kind and MIME type from its own first bytes (``adapters.files.sniff``,
never only from what the mail declares), its name as ``mime.safe_filename`` cleaned it
(for showing; the blob's address is its digest, never the name). A file that was not
kept (over ``email.max_attachment_bytes``, or in a mail over ``email.max_message_bytes``
whose parts were never loaded) is still an ``Attachment``, with no digest and a note
saying why, so the librarian sees it existed. Inline images that are decoration (a
signature logo, a tracking pixel: see ``inline.py``) are left out.

The router takes at most ``max_files`` files with one message (one Telegram album): the
first ones are passed on, in the mail's order, and the others are named in the text.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from adapters.blobs import BlobStore
from adapters.email.imap_fetch import RefusedPart
from adapters.email.mime import UNREADABLE, ParsedAttachment
from adapters.files import SNIFF_BYTES, human_size, kind_for, sniff
from routing.model import Attachment

__all__ = ["MailFiles", "keep_files"]

log = logging.getLogger(__name__)

_MIME = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")
_OVERFLOW_CHARS = 1000


@dataclass(frozen=True, slots=True)
class MailFiles:
    """The files of one mail: those passed on, and a line naming any left over."""

    attachments: tuple[Attachment, ...]
    overflow: str = ""  # "" when every file fits into one message


def _declared(content_type: str) -> str:
    """The declared type when it is a well-formed one, else octet-stream."""
    value = content_type.split(";", 1)[0].strip().lower()
    return value if _MIME.fullmatch(value) else "application/octet-stream"


async def _kept(part: ParsedAttachment, blobs: BlobStore) -> Attachment:
    """The file kept; one that cannot be read is named as unreadable instead. A disk
    that fails (OSError) fails the mail, which is read again later."""
    assert part.data is not None
    try:
        mime = sniff(part.data[:SNIFF_BYTES], part.content_type)
    except Exception:  # costs this file only, never the mail
        log.warning("file %s of a mail could not be read", part.filename, exc_info=True)
        return _refused(part.filename, part.content_type, part.size, UNREADABLE)
    blob = await blobs.put(part.data)
    return Attachment(kind_for(mime), part.filename, mime, blob.size, blob.digest)


def _refused(name: str, content_type: str, size: int, note: str) -> Attachment:
    mime = _declared(content_type)
    return Attachment(kind_for(mime), name, mime, size, note=note)


def _overflow(left: Sequence[tuple[str, int]], limit: int) -> str:
    named = ", ".join(f"{name} ({human_size(size)})" for name, size in left)
    if len(named) > _OVERFLOW_CHARS:  # the line must leave room for the patron's text
        named = named[:_OVERFLOW_CHARS].rsplit(", ", 1)[0] + ", \u2026"
    files = "file was" if len(left) == 1 else "files were"
    return (f"\U0001f4ce {len(left)} more {files} not passed on (at most {limit} files go "
            f"with one message; the email in the mailbox has them all): {named}")


async def keep_files(parts: Sequence[ParsedAttachment], unloaded: Sequence[RefusedPart],
                     blobs: BlobStore, *, max_attachment_bytes: int,
                     max_message_bytes: int, max_files: int) -> MailFiles:
    """Keep a mail's files (``unloaded``: parts of an oversized mail never fetched).

    Only the first ``max_files`` files are stored; the bytes of the others are not
    written anywhere, since nothing would ever show them.
    """
    wanted = [p for p in parts if not p.decoration]
    for part in parts:
        if part.decoration:
            log.debug("inline image %s left out: %s", part.filename, part.decoration)
    out: list[Attachment] = []
    left: list[tuple[str, int]] = []
    size_note = f"larger than the {human_size(max_attachment_bytes)} limit"
    whole_note = f"not loaded: the email is larger than {human_size(max_message_bytes)}"
    for part in wanted:
        if len(out) >= max_files:
            left.append((part.filename, part.size))
        elif part.data is None:
            note = UNREADABLE if part.refused_reason == UNREADABLE else size_note
            out.append(_refused(part.filename, part.content_type, part.size, note))
        else:
            out.append(await _kept(part, blobs))
    for refused in unloaded:
        if len(out) >= max_files:
            left.append((refused.filename, refused.size))
        else:
            out.append(_refused(refused.filename, refused.content_type, refused.size,
                                size_note if refused.over_limit else whole_note))
    return MailFiles(tuple(out), _overflow(left, max_files) if left else "")

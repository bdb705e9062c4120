"""What the mail for one delivery says: the text, the HTML, the files, before composing.

A librarian's reply is their text and their files. Each file is read from the blob store
and sent with the type its own bytes show (``adapters.files.sniff``); a file that cannot
go (not kept at intake, gone from the blob store, over ``email.max_attachment_bytes``
alone or with the files before it) becomes a line in the text instead, so the patron
still gets the answer and knows a file is missing. Status lines become a mail only when
the patron must read them; the rating request is its own mail (``rating_mail.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from adapters.blobs import BlobStore
from adapters.email.compose import OutgoingAttachment
from adapters.email.rating_mail import RATING_EVENT, rating_text
from adapters.files import SNIFF_BYTES, human_size, sniff
from adapters.i18n import Catalog
from routing.model import Attachment, Direction, Message
from routing.transcript_mail import TRANSCRIPT_EVENT

__all__ = ["EVENT_TEXTS", "MailContent", "attached_files", "content_for",
           "file_lines"]

log = logging.getLogger(__name__)

# System lines the patron reads by email, in the email's own words. "closed" is said by
# the rating request that always follows it; other events ("claimed", "reopened") are
# live-chat news and not worth a mail.
EVENT_TEXTS: dict[str, str] = {}
_FILE_KEYS = {"note": "mail.fileNote", "large": "mail.fileLarge",
              "missing": "mail.fileMissing", "sent": "mail.fileSent"}


@dataclass(frozen=True, slots=True)
class MailContent:
    text: str
    attachments: tuple[OutgoingAttachment, ...] = ()
    rating: bool = False  # a rating request: its HTML and Reply-To are made for answering


def _said(lang: str, key: str, file: Attachment, texts: Catalog | None = None,
          **more: str) -> str:
    return (texts or Catalog.bundled()).say(lang, _FILE_KEYS[key], name=file.name,
                                            size=human_size(file.size), **more)


def file_lines(files: Sequence[Attachment], lang: str,
               texts: Catalog | None = None) -> list[str]:
    """Every file as a "too large to send by email" line (the mail server refused it)."""
    return [_said(lang, "large", file, texts) for file in files]


async def attached_files(files: Sequence[Attachment], blobs: BlobStore | None, *,
                         max_bytes: int, lang: str, texts: Catalog | None = None
                         ) -> tuple[tuple[OutgoingAttachment, ...], list[str]]:
    """The files that go with the mail, and a line for each that cannot (in ``lang``)."""
    out: list[OutgoingAttachment] = []
    lines: list[str] = []
    total = 0
    for file in files:
        if not file.kept:
            lines.append(_said(lang, "note", file, texts, why=file.note or "not kept"))
            continue
        if total + file.size > max_bytes:  # alone, or with the files before it
            lines.append(_said(lang, "large", file, texts))
            continue
        data = await blobs.get(file.digest) if blobs is not None else None
        if data is None:
            log.warning("file %s (%s) is not in the blob store", file.name, file.digest[:16])
            lines.append(_said(lang, "missing", file, texts))
            continue
        total += len(data)
        out.append(OutgoingAttachment(file.name, sniff(data[:SNIFF_BYTES], file.mime), data))
    return tuple(out), lines


async def content_for(message: Message, blobs: BlobStore | None, *, max_bytes: int,
                      languages: Sequence[str],
                      texts: Catalog | None = None) -> MailContent | None:
    """The mail a message becomes, or None when it is not for the patron by email;
    its own words in ``languages[0]`` (the rating request: in each of ``languages``)."""
    texts = texts or Catalog.bundled()
    lang = languages[0] if languages else texts.default
    if message.direction is Direction.NOTE and message.event == TRANSCRIPT_EVENT:
        return MailContent(message.text)  # the patron's own copy (routing.transcript_mail)
    if message.direction is Direction.NOTE or message.event == "withdrawn":
        return None  # notes are never the patron's; a sent mail cannot be taken back
    if message.direction is Direction.SYSTEM:
        if message.event == RATING_EVENT:
            return MailContent(rating_text(languages, texts), rating=True)
        text = EVENT_TEXTS.get(message.event)
        return None if text is None else MailContent(text)
    files, lines = await attached_files(message.attachments, blobs, max_bytes=max_bytes,
                                        lang=lang, texts=texts)
    text = message.text.strip()
    if not text and files:
        text = texts.say(lang, _FILE_KEYS["sent"], names=", ".join(f.filename for f in files))
    text = "\n\n".join(part for part in (text, "\n".join(lines)) if part)
    return MailContent(text, files) if text or files else None

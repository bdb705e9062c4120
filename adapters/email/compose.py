"""The mail the library sends: a librarian's reply, and the automatic acknowledgement.

Both are multipart/alternative (plain text, and HTML built from it with every character
escaped), inside multipart/mixed beside the files when a reply carries any, threaded
with In-Reply-To and References so Gmail, Outlook and Thunderbird file them under the
patron's mail, and carry the reply-token address in Reply-To so the patron's answer
finds its conversation.

No caller-supplied string can add a header line: names, subjects and ids are folded to
one line with control characters removed before they reach the stdlib, and non-ASCII
names are RFC 2047-encoded by ``email.headerregistry.Address``; a file's name is one line
too, RFC 2231-encoded by the stdlib when it is not ASCII.

The Message-ID of a delivery's mail is made from the delivery's idempotency key
(``delivery_message_id``): a send retried after a crash, when the first one may have
reached the patron, carries the same id, so their client shows it once, and the link
from that id to the conversation is the same one.
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
import re
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from adapters.email.headers import clean_text

__all__ = ["LINK_LABEL", "OutgoingAttachment", "compose_ack", "compose_reply",
           "delivery_message_id", "reply_subject"]

LINK_LABEL = "Continue this conversation in the chat"
MAX_REFERENCES = 20
_RE_PREFIX = re.compile(r"^(?:(?:re|aw|sv|antw|balas|bls)\s*(?:\[\d+\]|\(\d+\))?\s*:\s*)+", re.I)
_AUTO_PREFIX = re.compile(r"^(?:auto\s*:\s*)+", re.I)
_MSG_ID = re.compile(r"<[^<>\s]{1,500}>")
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
_URL = re.compile(r"https?://[^\s<>\"']+", re.I)
_TYPE_PART = re.compile(r"[A-Za-z0-9][\w.+-]{0,126}")
_FILENAME_MAX = 200
_EXTENSIONS = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png",
               "text/plain": ".txt"}


@dataclass(frozen=True, slots=True)
class OutgoingAttachment:
    """A file to attach to a sent mail."""

    filename: str
    content_type: str
    data: bytes


def delivery_message_id(key: str, domain: str) -> str:
    """``<hash-of-key@domain>``: the same for every attempt at one delivery, and for no
    other; the key never shows (ids are not secret, but need not say what they are)."""
    if not key:
        raise ValueError("a delivery's Message-ID needs its idempotency key")
    if not _DOMAIN.fullmatch(domain):
        raise ValueError(f"not a domain for Message-IDs: {domain!r}")
    digest = hashlib.sha256(b"pustaka-delivery\0" + key.encode("utf-8")).digest()
    local = base64.b32encode(digest[:20]).decode("ascii").lower()
    return f"<{local}.pustaka@{domain}>"


def _attachment_name(name: str, mime: str) -> str:
    """One line, no path separators, at most 200 characters with its extension kept."""
    base = clean_text(name).replace("/", "_").replace("\\", "_")
    if not base.strip(". "):
        base = "attachment" + (_EXTENSIONS.get(mime, ".bin"))
    if len(base) > _FILENAME_MAX:
        stem, ext = os.path.splitext(base)
        ext = ext if len(ext) <= 16 else ""
        base = stem[: _FILENAME_MAX - len(ext)] + ext
    return base


def _attach(msg: EmailMessage, item: OutgoingAttachment) -> None:
    maintype, _, subtype = item.content_type.partition("/")
    if not _TYPE_PART.fullmatch(maintype) or not _TYPE_PART.fullmatch(subtype):
        maintype, subtype = "application", "octet-stream"
    name = _attachment_name(item.filename, f"{maintype}/{subtype}".lower())
    msg.add_attachment(item.data, maintype=maintype.lower(), subtype=subtype.lower(),
                       filename=name)
    parts = msg.get_payload()
    assert isinstance(parts, list)
    part = parts[-1]  # add_attachment appends the new part
    assert isinstance(part, EmailMessage)
    part.set_param("name", name)  # older Outlook reads the name from Content-Type
    del part["MIME-Version"]  # the stdlib adds it to every part; it belongs on top only


def reply_subject(original: str, fallback: str) -> str:
    """``Re: <original>`` without stacking prefixes ("Re: Re: AW:" becomes one "Re:")."""
    rest = _RE_PREFIX.sub("", clean_text(original)).strip()
    return ("Re: " + (rest or fallback))[:250]


def _address(addr: str, name: str) -> Address:
    """An address header value; raises ValueError for anything but one plain addr-spec."""
    if not addr or any(ch.isspace() or unicodedata.category(ch)[0] == "C" for ch in addr):
        raise ValueError(f"not a single email address: {addr!r}")
    return Address(display_name=clean_text(name)[:200], addr_spec=addr)


def _msg_id(value: str) -> str | None:
    found = _MSG_ID.findall(clean_text(value))
    if found:
        return str(found[0])
    bare = clean_text(value)
    return f"<{bare}>" if bare and "@" in bare and " " not in bare and "<" not in bare else None


def _references(references: Sequence[str], in_reply_to: str | None) -> list[str]:
    """Original references + the replied-to id, deduplicated; the thread's root and the
    latest ids are kept when there are too many (RFC 5322 section 3.6.4)."""
    ids: list[str] = []
    for value in [*references, in_reply_to or ""]:
        for found in _MSG_ID.findall(clean_text(value)) or ([_msg_id(value)] if value else []):
            if found and found not in ids:
                ids.append(found)
    if len(ids) > MAX_REFERENCES:
        ids = ids[:1] + ids[-(MAX_REFERENCES - 1) :]
    return ids


def _body_text(text: str) -> str:
    """Newlines normalised, control characters other than tab and newline removed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc").strip()


def _checked_link(link: str | None) -> str | None:
    if link is None:
        return None
    if not re.fullmatch(r"https?://[^\s<>\"'\x00-\x1f\x7f]+", link, re.I):
        raise ValueError(f"the chat link must be an http(s) URL: {link!r}")
    return link


def _linkified(line: str) -> str:
    """One line of text as HTML: escaped, with http(s) URLs made links."""
    out, last = [], 0
    for found in _URL.finditer(line):
        url = found.group(0).rstrip(".,;:!?)")
        end = found.start() + len(url)
        out.append(html.escape(line[last : found.start()]))
        out.append(f'<a href="{html.escape(url)}">{html.escape(url)}</a>')
        last = end
    out.append(html.escape(line[last:]))
    return "".join(out)


def _html(body: str, html_text: str | None, library_name: str, link: str | None,
          link_label: str) -> str:
    if html_text is None:
        paragraphs = [p for p in re.split(r"\n\s*\n", body) if p.strip()]
        html_text = "\n".join(
            '<p style="margin:0 0 12px">'
            + "<br>\n".join(_linkified(line) for line in p.split("\n"))
            + "</p>"
            for p in paragraphs
        )
    button = ""
    if link:
        button = (
            '<p style="margin:20px 0"><a href="' + html.escape(link) + '" style="display:'
            "inline-block;padding:10px 18px;background:#1a5fb4;color:#ffffff;"
            'text-decoration:none;border-radius:6px;font-weight:bold">'
            + html.escape(link_label) + "</a></p>\n"
        )
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width"></head>\n'
        '<body style="margin:0;padding:16px;font-family:Arial,Helvetica,sans-serif;'
        'font-size:15px;line-height:1.5;color:#1d1d1d">\n'
        f"{html_text}\n{button}"
        '<p style="margin:24px 0 0;color:#666666;font-size:13px">'
        f"{html.escape(library_name)}</p>\n</body></html>\n"
    )


def _build(*, from_address: str, from_name: str, to_address: str, to_name: str,
           subject: str, text: str, html_text: str | None, in_reply_to: str | None,
           references: Sequence[str], reply_to: str, message_id_domain: str,
           library_name: str, link: str | None, attachments: Sequence[OutgoingAttachment],
           date: float | None, link_label: str, message_id: str | None) -> EmailMessage:
    if not _DOMAIN.fullmatch(message_id_domain):
        raise ValueError(f"not a domain for Message-IDs: {message_id_domain!r}")
    link = _checked_link(link)
    library = clean_text(library_name)
    msg = EmailMessage()
    msg["From"] = _address(from_address, from_name)
    msg["To"] = _address(to_address, to_name)
    msg["Reply-To"] = _address(reply_to, library)
    msg["Subject"] = clean_text(subject)
    msg["Date"] = format_datetime(
        datetime.fromtimestamp(time.time() if date is None else date, UTC)
    )
    if message_id is not None and not _MSG_ID.fullmatch(message_id):
        raise ValueError(f"not a Message-ID: {message_id!r}")
    msg["Message-ID"] = message_id or make_msgid(domain=message_id_domain)
    parent = _msg_id(in_reply_to) if in_reply_to else None
    if parent:
        msg["In-Reply-To"] = parent
    refs = _references(references, parent)
    if refs:
        msg["References"] = " ".join(refs)
    body = _body_text(text)
    plain = body + "\n\n-- \n" + library
    if link:
        plain += f"\n{clean_text(link_label)}: {link}"
    msg.set_content(plain + "\n")
    msg.add_alternative(_html(body, html_text, library, link, clean_text(link_label)),
                        subtype="html")
    for item in attachments:
        _attach(msg, item)
    return msg


def compose_reply(*, from_address: str, from_name: str, to_address: str, to_name: str,
                  subject: str, text: str, html_text: str | None = None,
                  in_reply_to: str | None, references: Sequence[str], reply_to: str,
                  message_id_domain: str, library_name: str, link: str | None = None,
                  attachments: Sequence[OutgoingAttachment] = (), date: float | None = None,
                  link_label: str = LINK_LABEL, message_id: str | None = None) -> EmailMessage:
    """A librarian's answer to a patron's mail, threaded under it.

    A person wrote it, so it is not marked Auto-Submitted. ``subject`` is the patron's
    subject; "Re: " is added once. ``html_text``, when given, is an already-safe HTML
    fragment used instead of the escaped ``text``. ``message_id`` (from
    ``delivery_message_id``) is used as given; without one a random id is made. The
    Message-ID is ``msg["Message-ID"]``.
    """
    return _build(
        from_address=from_address, from_name=from_name, to_address=to_address,
        to_name=to_name, subject=reply_subject(subject, clean_text(library_name)), text=text,
        html_text=html_text, in_reply_to=in_reply_to, references=references,
        reply_to=reply_to, message_id_domain=message_id_domain, library_name=library_name,
        link=link, attachments=attachments, date=date, link_label=link_label,
        message_id=message_id,
    )


def compose_ack(*, from_address: str, from_name: str, to_address: str, to_name: str,
                subject: str, text: str, in_reply_to: str | None, references: Sequence[str],
                reply_to: str, message_id_domain: str, library_name: str,
                link: str | None = None, date: float | None = None,
                link_label: str = LINK_LABEL, message_id: str | None = None) -> EmailMessage:
    """The automatic acknowledgement of a patron's mail (after hours), per RFC 3834.

    Marked ``Auto-Submitted: auto-replied`` (section 5) with the subject prefixed
    "Auto: " (section 3.1.5), and ``X-Auto-Response-Suppress: All`` so Exchange
    out-of-office replies do not answer it. No ``Precedence``: it is not standardised
    and RFC 3834 does not ask for it. Send it with a null envelope sender (MAIL FROM:<>,
    section 3.3), and only to the patron's Return-Path, never to an automatic mail.
    """
    original = _AUTO_PREFIX.sub("", clean_text(subject)).strip() or clean_text(library_name)
    msg = _build(
        from_address=from_address, from_name=from_name, to_address=to_address,
        to_name=to_name, subject=("Auto: " + original)[:250], text=text, html_text=None,
        in_reply_to=in_reply_to, references=references, reply_to=reply_to,
        message_id_domain=message_id_domain, library_name=library_name, link=link,
        attachments=(), date=date, link_label=link_label, message_id=message_id,
    )
    msg["Auto-Submitted"] = "auto-replied"
    msg["X-Auto-Response-Suppress"] = "All"
    return msg

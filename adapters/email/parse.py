"""A received mail (raw RFC 5322 bytes) to a ``ParsedMail`` the email adapter can route.

``parse_email`` never raises and never drops a mail: whatever cannot be parsed as MIME
is kept as text (``errors="replace"``) and flagged ``malformed``, so a librarian still
sees what a patron wrote. It is pure: no network, no files, no clock.

The bytes are fed to the stdlib parser in slices, so the whole mail is never decoded to
one ``str`` beside the caller's ``bytes``; the result holds no reference to the raw mail
or the parsed tree.
"""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass, replace
from datetime import UTC
from email.feedparser import BytesFeedParser
from email.message import Message

from adapters.email.autoreply import AutoKind, asks_no_auto_reply, bounced_message_id, classify
from adapters.email.elide import elide_base64
from adapters.email.headers import (
    PARSE_POLICY,
    addresses,
    header_text,
    message_ids,
    raw_header,
    raw_headers,
)
from adapters.email.htmltext import html_to_text
from adapters.email.inline import mark_decorations
from adapters.email.mime import MAX_TEXT_CHARS, ParsedAttachment, Walk, walk
from adapters.email.quotes import strip_reply
from adapters.email.salvage import body_fallback, header_block, repair_boundary, salvage_text

__all__ = ["DEFAULT_MAX_ATTACHMENT_BYTES", "ParsedAttachment", "ParsedMail", "parse_email"]

DEFAULT_MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
_FEED_SLICE = 1 << 16
_TOKEN = re.compile(r"[A-Za-z0-9._=-]{1,200}")


@dataclass(frozen=True, slots=True)
class ParsedMail:
    """One received mail, reduced to what the bridge needs.

    ``text`` is what the patron newly wrote (quoted history and signature stripped);
    ``full_text`` is the whole body as text. Strings are "" when a field is absent;
    ``return_path`` is "" for the null sender ``<>`` and None when there is no field.
    """

    message_id: str
    in_reply_to: str
    references: tuple[str, ...]
    from_address: str
    from_name: str
    to: tuple[str, ...]
    reply_to: tuple[str, ...]
    return_path: str | None
    reply_token: str | None
    subject: str
    date: float | None
    text: str
    full_text: str
    attachments: tuple[ParsedAttachment, ...]
    auto: AutoKind | None
    bounce_of: str | None
    malformed: bool
    raw_text_fallback: str
    no_auto_reply: bool = False  # the sender asks for no acknowledgement (see autoreply)
    # Every Authentication-Results field, top (added last, by our own servers) first
    authentication_results: tuple[str, ...] = ()


def _message(raw: bytes) -> Message:
    parser = BytesFeedParser(policy=PARSE_POLICY)
    view = memoryview(raw)
    for start in range(0, len(view), _FEED_SLICE):
        parser.feed(bytes(view[start : start + _FEED_SLICE]))
    return parser.close()


def _date(msg: Message) -> float | None:
    raw = raw_header(msg, "Date")
    if not raw:
        return None
    try:
        when = email.utils.parsedate_to_datetime(raw.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        return when.timestamp()
    except (OverflowError, ValueError, OSError):
        return None


def _reply_token(msg: Message, local_part: str | None) -> str | None:
    """``<token>`` from the first ``local+<token>@`` recipient, envelope fields first."""
    for name in ("Delivered-To", "X-Original-To", "To", "Cc"):
        for _, addr in addresses(msg, name):
            local = addr.rsplit("@", 1)[0]
            base, plus, token = local.partition("+")
            if not plus or (local_part is not None and base.lower() != local_part.lower()):
                continue
            if _TOKEN.fullmatch(token):
                return token
    return None


def _return_path(msg: Message) -> str | None:
    raw = raw_header(msg, "Return-Path")
    if raw is None:
        return None
    inside = raw.strip().strip("<>").strip()
    return inside.lower()


def _bare(text: str, full_text: str, malformed: bool, fallback: str,
          attachments: tuple[ParsedAttachment, ...] = ()) -> ParsedMail:
    """A mail of this text and these files; its header fields still empty."""
    return ParsedMail(
        message_id="", in_reply_to="", references=(), from_address="", from_name="",
        to=(), reply_to=(), return_path=None, reply_token=None, subject="", date=None,
        text=text, full_text=full_text, attachments=attachments, auto=None, bounce_of=None,
        malformed=malformed, raw_text_fallback=fallback,
    )


def _unparseable(raw: bytes, reply_local_part: str | None) -> ParsedMail:
    """The mail as text, with what its header says: who wrote it is never lost."""
    fallback = body_fallback(raw)
    try:
        text = salvage_text(fallback)
    except Exception:  # the salvage itself failed: the raw body is still the patron's
        text = fallback.strip()
    try:
        text_only = strip_reply(text) if text else ""
    except Exception:  # keep the whole text rather than nothing
        text_only = text
    mail = _bare(text_only, text, True, fallback)
    try:
        return _with_header(mail, _message(header_block(raw)), reply_local_part)
    except Exception:  # not even the header block parses: the text alone is kept
        return mail


def _with_header(mail: ParsedMail, msg: Message, reply_local_part: str | None) -> ParsedMail:
    """``mail`` with the fields its header block gives (each reader never raises)."""
    senders = addresses(msg, "From")
    from_name, from_address = senders[0] if senders else ("", "")
    in_reply_to = message_ids(msg, "In-Reply-To")
    own_id = message_ids(msg, "Message-ID")
    auto = classify(msg)
    return replace(
        mail, message_id=own_id[0] if own_id else "",
        in_reply_to=in_reply_to[0] if in_reply_to else "",
        references=tuple(message_ids(msg, "References")),
        from_address=from_address.lower(), from_name=from_name,
        to=tuple(addr.lower() for _, addr in addresses(msg, "To")),
        reply_to=tuple(addr.lower() for _, addr in addresses(msg, "Reply-To")),
        return_path=_return_path(msg), reply_token=_reply_token(msg, reply_local_part),
        subject=header_text(msg, "Subject"), date=_date(msg), auto=auto,
        no_auto_reply=auto is not None or asks_no_auto_reply(msg),
        authentication_results=raw_headers(msg, "Authentication-Results"),
    )


def _tree(raw: bytes, limit: int) -> tuple[Message, Walk]:
    """The parsed mail and what its MIME tree holds, a broken boundary repaired."""
    parsed, runs = elide_base64(raw)
    msg = _message(parsed)
    found = walk(msg, limit, raw, runs)
    repaired = repair_boundary(parsed, msg) if found.damaged else None
    if repaired is not None:
        msg = _message(repaired)
        found = walk(msg, limit, raw, runs)
        found.damaged = True
    return msg, found


def _parse(raw: bytes, limit: int, reply_local_part: str | None) -> ParsedMail:
    msg, found = _tree(raw, limit)
    plain = "\n\n".join(p.strip("\r\n") for p in found.plain if p.strip())
    full = plain or html_to_text("\n".join(found.html))
    full = full.replace("\r\n", "\n")[:MAX_TEXT_CHARS]
    malformed = found.damaged
    fallback = body_fallback(raw) if malformed else ""
    if malformed and not full.strip():
        full = salvage_text(fallback)
    mail = _bare(strip_reply(full) if full.strip() else "", full.strip(), malformed, fallback,
                 mark_decorations(found.attachments, "\n".join(found.every_html)))
    mail = _with_header(mail, msg, reply_local_part)
    if mail.auto is AutoKind.BOUNCE:
        mail = replace(mail, bounce_of=bounced_message_id(msg, full))
    return mail


def parse_email(
    raw: bytes,
    *,
    max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
    reply_local_part: str | None = None,
) -> ParsedMail:
    """Parse one received mail; never raises.

    ``reply_local_part`` (e.g. "help") limits the reply token to ``help+<token>@``
    recipients; by default any plus-addressed recipient gives it.
    """
    data = raw if isinstance(raw, bytes) else bytes(raw)
    try:
        return _parse(data, max_attachment_bytes, reply_local_part)
    except Exception:  # a parser bug or hostile input must not lose the patron's mail
        return _unparseable(data, reply_local_part)

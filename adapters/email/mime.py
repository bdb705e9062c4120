"""Walking a parsed MIME tree: the body texts, the attachments, and structural damage.

Memory matters here: a 50 MB mail must not be copied several times over. Long base64
bodies were cut out before parsing (``elide.py``): one over the size limit is refused by
its measured size and never decoded, others are decoded by ``binascii`` straight from
the caller's bytes. Shorter base64 is decoded the same way from the parsed string
rather than by ``get_payload(decode=True)``, which builds a list of every line first.
"""

from __future__ import annotations

import binascii
import email.errors
from dataclasses import dataclass, field
from email.message import Message

from adapters.email.elide import Run
from adapters.email.filenames import safe_filename
from adapters.email.flowed import unflow
from adapters.email.headers import (
    clean_text,
    decode_bytes,
    decode_words,
    header_text,
    raw_header,
)

__all__ = ["UNREADABLE", "ParsedAttachment", "Walk", "safe_filename", "walk"]

MAX_DEPTH = 40
MAX_TEXT_CHARS = 1_000_000  # more is not a chat message; keeps the regexes bounded too
UNREADABLE = "unreadable: the file is damaged or not what it says it is"
_STRUCTURAL = (
    email.errors.StartBoundaryNotFoundDefect,
    email.errors.CloseBoundaryNotFoundDefect,
    email.errors.NoBoundaryInMultipartDefect,
    email.errors.MultipartInvariantViolationDefect,
    email.errors.MissingHeaderBodySeparatorDefect,
    email.errors.FirstHeaderLineIsContinuationDefect,
    email.errors.InvalidMultipartContentTransferEncodingDefect,
    email.errors.InvalidBase64CharactersDefect,
    email.errors.InvalidBase64LengthDefect,
    email.errors.InvalidBase64PaddingDefect,
)
_REPORT_PARTS = {
    "message/delivery-status",
    "message/global-delivery-status",
    "message/disposition-notification",
    "text/rfc822-headers",
    "message/global-headers",
}


@dataclass(frozen=True, slots=True)
class ParsedAttachment:
    """One attached file; ``data`` is None when it was refused (see ``refused_reason``)."""

    filename: str
    content_type: str
    size: int
    data: bytes | None
    inline: bool = False
    content_id: str = ""
    refused_reason: str | None = None
    decoration: str = ""  # why an inline image is decoration, not content (see inline.py)


@dataclass
class Walk:
    """What a walk of the MIME tree found."""

    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[ParsedAttachment] = field(default_factory=list)
    every_html: list[str] = field(default_factory=list)  # also the unchosen alternatives
    damaged: bool = False
    source: bytes = b""  # the caller's raw mail, which elided runs point into
    runs: dict[str, Run] = field(default_factory=dict)  # marker -> elided run


def _defects(part: Message) -> bool:
    return any(isinstance(d, _STRUCTURAL) for d in getattr(part, "defects", ()))


def _cte(part: Message) -> str:
    return (raw_header(part, "Content-Transfer-Encoding") or "").strip().lower()


def _run(part: Message, out: Walk) -> Run | None:
    payload = part.get_payload()
    return out.runs.get(payload.strip()) if isinstance(payload, str) and out.runs else None


def _restore(part: Message, out: Walk) -> None:
    """Put elided text back where a marker shares a payload with other (broken) text."""
    payload = part.get_payload()
    if not out.runs or not isinstance(payload, str) or payload.strip() in out.runs:
        return
    for marker, run in out.runs.items():
        if marker in payload:
            text = out.source[run.start : run.end].decode("ascii", errors="replace")
            payload = payload.replace(marker, text)
            out.damaged = True
    part.set_payload(payload)


def _b64(data: str | bytes | memoryview, out: Walk) -> bytes | None:
    try:
        return binascii.a2b_base64(data)
    except (binascii.Error, ValueError):
        out.damaged = True
        return None


def _decoded(part: Message, out: Walk) -> bytes:
    """The decoded payload of a leaf part, never raising."""
    run = _run(part, out)
    if run is not None:
        view = memoryview(out.source)[run.start : run.end]
        data = _b64(view, out)
        if data is None:  # bad padding: decode the whole 4-character groups there are
            chars = bytes(view).translate(None, b"\r\n=")
            data = _b64(chars[: len(chars) // 4 * 4], out)
        return data or b""
    payload = part.get_payload()
    if isinstance(payload, str) and _cte(part) == "base64":
        data = _b64(payload, out)
        if data is not None:
            return data
    try:
        decoded = part.get_payload(decode=True)
    except Exception:  # a damaged encoding: keep what the raw text says
        out.damaged = True
        decoded = None
    if isinstance(decoded, bytes):
        return decoded
    if isinstance(payload, str):
        return payload.encode("utf-8", errors="surrogateescape")
    return b""


def _encoded_size(part: Message) -> int:
    """The decoded size, estimated from the encoded text without decoding it."""
    payload = part.get_payload()
    if not isinstance(payload, str):
        return 0
    if _cte(part) == "base64":
        chars = len(payload) - payload.count("\n") - payload.count("\r") - payload.count(" ")
        return max(0, chars * 3 // 4 - payload.rstrip().count("=", -3))
    return len(payload)


def _text(part: Message, out: Walk) -> str:
    data = _decoded(part, out)
    try:
        charset = part.get_content_charset()
        flowed = str(part.get_param("format", "") or "").lower() == "flowed"
        delsp = str(part.get_param("delsp", "") or "").lower() == "yes"
    except Exception:  # an unparsable Content-Type parameter list
        charset, flowed, delsp = None, False, False
    text = decode_bytes(data, charset)
    if flowed and part.get_content_type() == "text/plain":
        text = unflow(text[:MAX_TEXT_CHARS], delsp)
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS] + "\n[... truncated]"
    return text


def _inner_message(part: Message) -> Message | None:
    """The mail inside a ``message/rfc822`` part, or None."""
    inner = part.get_payload()
    if isinstance(inner, list) and inner and isinstance(inner[0], Message):
        return inner[0]
    return None


def _is_inline(part: Message, content_id: str) -> bool:
    """Shown inside the HTML body (a pasted screenshot, a signature logo) rather than
    attached. Apple Mail marks attached files ``inline`` too, so the disposition alone
    does not decide: an inline part is one the HTML can cite, by Content-ID."""
    try:
        disposition = (part.get_content_disposition() or "").lower()
    except Exception:  # an unparsable Content-Disposition: treat as attached
        return False
    return bool(content_id) and disposition != "attachment"


def _attachment(part: Message, ctype: str, limit: int, out: Walk) -> ParsedAttachment:
    try:
        name = part.get_filename()
    except Exception:  # a broken RFC 2231 parameter
        name = None
    if name and "=?" in name:  # RFC 2047 in a parameter: wrong, and what Outlook sends
        name = decode_words(name)
    content_id = clean_text(raw_header(part, "Content-ID") or "").strip("<>")
    inline = _is_inline(part, content_id)
    inner = _inner_message(part) if ctype in {"message/rfc822", "message/global"} else None
    if inner is not None:
        name = name or (header_text(inner, "Subject") or "forwarded") + ".eml"
    filename = safe_filename(name, ctype)
    refused = f"larger than the limit of {limit} bytes"
    run = _run(part, out)
    estimate = run.size if run is not None else _encoded_size(part)
    if estimate > limit:
        return ParsedAttachment(filename, ctype, estimate, None, inline, content_id, refused)
    data = _inner_bytes(inner, out) if inner is not None else _decoded(part, out)
    if len(data) > limit:
        return ParsedAttachment(filename, ctype, len(data), None, inline, content_id, refused)
    return ParsedAttachment(filename, ctype, len(data), data, inline, content_id)


def _inner_bytes(inner: Message, out: Walk) -> bytes:
    """An attached mail, re-serialised, with any elided bodies put back."""
    try:
        data = inner.as_bytes()
    except Exception:  # a forwarded mail too broken to re-serialise
        return b""
    for marker, run in out.runs.items():
        if marker.encode("ascii") in data:
            data = data.replace(marker.encode("ascii"), out.source[run.start : run.end])
    return data


def _alternative(children: list[Message], out: Walk, limit: int, depth: int) -> None:
    """Text from the best alternative (plain preferred), attachments from all."""
    found = []
    for child in children:
        sub = Walk(source=out.source, runs=out.runs)
        _walk(child, sub, limit, depth + 1, body=True)
        out.attachments.extend(sub.attachments)
        out.every_html.extend(sub.every_html)  # where inline images are cited
        out.damaged = out.damaged or sub.damaged
        found.append(sub)
    for sub in found:
        if any(p.strip() for p in sub.plain):
            out.plain.extend(sub.plain)
            return
    for sub in reversed(found):
        if any(h.strip() for h in sub.html):
            out.html.extend(sub.html)
            return


def _walk(part: Message, out: Walk, limit: int, depth: int, body: bool) -> None:
    if depth > MAX_DEPTH:
        out.damaged = True
        return
    out.damaged = out.damaged or _defects(part)
    ctype = part.get_content_type()
    if ctype in {"message/rfc822", "message/global"}:
        out.attachments.append(_guarded(part, ctype, limit, out))  # a forward, or a
        return  # bounced original: kept as a file, its text is not the patron's
    if ctype.startswith("multipart/") and not part.is_multipart():
        out.damaged = True  # its boundary was never found; parse.py salvages the text
        return
    if part.is_multipart():
        children = [c for c in part.get_payload() if isinstance(c, Message)]
        if ctype == "multipart/alternative" and body:
            _alternative(children, out, limit, depth)
        else:
            for child in children:
                _walk(child, out, limit, depth + 1, body)
        return
    if ctype in _REPORT_PARTS:
        return
    try:
        _leaf(part, ctype, out, limit, body)
    except Exception:  # this part's own fault: the mail and its other parts go on
        out.damaged = True  # a lost body text is salvaged from the raw mail (parse.py)
        if _named(part) or not ctype.startswith("text/"):
            out.attachments.append(_unreadable(part, ctype))


def _leaf(part: Message, ctype: str, out: Walk, limit: int, body: bool) -> None:
    """A part that is not a container: a body text, or a file."""
    try:
        disposition = part.get_content_disposition()
        named = bool(part.get_filename())
    except Exception:  # an unparsable parameter: treat as a file to keep the bytes
        disposition, named = "attachment", True
    _restore(part, out)
    run = _run(part, out)
    too_big = run is not None and run.size > limit
    if (body and ctype in {"text/plain", "text/html"} and disposition != "attachment"
            and not named and not too_big):
        text = _text(part, out)
        (out.plain if ctype == "text/plain" else out.html).append(text)
        if ctype == "text/html":
            out.every_html.append(text)
        return
    out.attachments.append(_guarded(part, ctype, limit, out))


def _guarded(part: Message, ctype: str, limit: int, out: Walk) -> ParsedAttachment:
    """One file; a failure to read it costs that file only, which is kept as a name."""
    try:
        return _attachment(part, ctype, limit, out)
    except Exception:  # a hostile or truncated part
        return _unreadable(part, ctype)


def _named(part: Message) -> bool:
    try:
        return bool(part.get_filename())
    except Exception:  # an unparsable parameter
        return False


def _unreadable(part: Message, ctype: str) -> ParsedAttachment:
    """A file that could not be read, by the name it was sent under."""
    try:
        name = part.get_filename()
    except Exception:  # the name itself is what is broken
        name = None
    return ParsedAttachment(safe_filename(name, ctype), ctype, 0, None,
                            refused_reason=UNREADABLE)


def walk(msg: Message, max_attachment_bytes: int, source: bytes = b"",
         runs: dict[str, Run] | None = None) -> Walk:
    """Collect the body texts and attachments of ``msg``; ``runs`` (from ``elide_base64``)
    tell where the bodies cut out before parsing lie in ``source``."""
    out = Walk(source=source, runs=runs or {})
    _walk(msg, out, max_attachment_bytes, 0, body=True)
    return out

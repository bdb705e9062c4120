"""Walking a parsed MIME tree: the body texts, the attachments, and structural damage
(how one leaf part is decoded is mime_parts.py's).

Memory matters here: a 50 MB mail must not be copied several times over. Long base64
bodies were cut out before parsing (``elide.py``): one over the size limit is refused by
its measured size and never decoded, others are decoded by ``binascii`` straight from
the caller's bytes. Shorter base64 is decoded the same way from the parsed string
rather than by ``get_payload(decode=True)``, which builds a list of every line first.
"""

from __future__ import annotations

import email.errors
from email.message import Message

from adapters.email.elide import Run
from adapters.email.filenames import safe_filename
from adapters.email.headers import (
    clean_text,
    decode_words,
    header_text,
    raw_header,
)
from adapters.email.mime_parts import (
    MAX_TEXT_CHARS,
    ParsedAttachment,
    Walk,
    decoded_payload,
    elided_run,
    encoded_size,
    part_text,
    restore_elided,
)

# The records and the decoding of one part are adapters.email.mime_parts'; named here too.
__all__ = ["MAX_TEXT_CHARS", "UNREADABLE", "ParsedAttachment", "Walk", "safe_filename", "walk"]

MAX_DEPTH = 40
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


def _defects(part: Message) -> bool:
    return any(isinstance(d, _STRUCTURAL) for d in getattr(part, "defects", ()))


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
    run = elided_run(part, out)
    estimate = run.size if run is not None else encoded_size(part)
    if estimate > limit:
        return ParsedAttachment(filename, ctype, estimate, None, inline, content_id, refused)
    data = _inner_bytes(inner, out) if inner is not None else decoded_payload(part, out)
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
    restore_elided(part, out)
    run = elided_run(part, out)
    too_big = run is not None and run.size > limit
    if (body and ctype in {"text/plain", "text/html"} and disposition != "attachment"
            and not named and not too_big):
        text = part_text(part, out)
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

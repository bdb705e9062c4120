"""A mail's BODYSTRUCTURE (RFC 3501 section 7.4.2) as a flat list of leaf parts.

Used for mails above ``max_message_bytes``: the intake fetches only the parts a librarian
reads (the text and HTML bodies, by section number) and notes every other part by name
and size instead of loading it. Only the structure is read here; no body bytes.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from email.header import decode_header, make_header

from adapters.email.imap_response import Item
from adapters.email.mime import safe_filename

__all__ = ["Part", "leaf_parts"]


@dataclass(frozen=True, slots=True)
class Part:
    section: str  # "1", "2.1" ...; "TEXT" for the body of a mail that is not multipart
    content_type: str  # lower case, "text/plain"
    encoding: str  # lower case content-transfer-encoding
    size: int  # encoded octets, as the server counts them
    filename: str  # "" when the part names none
    attachment: bool  # Content-Disposition says attachment

    @property
    def decoded_size(self) -> int:
        """Roughly the file's size: base64 lines are 76 characters for 57 bytes, plus CRLF."""
        return self.size * 57 // 78 if self.encoding == "base64" else self.size

    @property
    def is_body_text(self) -> bool:
        return (self.content_type in {"text/plain", "text/html"} and not self.attachment
                and not self.filename)


def _text(value: Item) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    return "" if value is None else str(value)


def _params(value: Item) -> dict[str, str]:
    if not isinstance(value, list):
        return {}
    pairs = zip(value[0::2], value[1::2], strict=False)
    return {_text(k).lower(): _text(v) for k, v in pairs}


def _decoded_name(params: dict[str, str]) -> str:
    for key in ("filename*", "name*"):  # RFC 2231: charset'language'percent-encoded
        if key in params:
            charset, _, rest = params[key].partition("'")
            _, _, encoded = rest.partition("'")
            try:
                return urllib.parse.unquote(encoded, encoding=charset or "utf-8")
            except LookupError:
                return urllib.parse.unquote(encoded)
    raw = params.get("filename") or params.get("name") or ""
    try:
        return str(make_header(decode_header(raw)))  # RFC 2047 encoded-words
    except (ValueError, LookupError, UnicodeDecodeError):
        return raw


def _leaf(body: list[Item], section: str) -> Part:
    ctype = f"{_text(body[0])}/{_text(body[1])}".lower()
    params = _params(body[2]) if len(body) > 2 else {}
    encoding = _text(body[5]).lower() if len(body) > 5 else ""
    size = body[6] if len(body) > 6 and isinstance(body[6], int) else 0
    if ctype in {"message/rfc822", "message/global"}:
        disposition_at = 11
    elif ctype.startswith("text/"):
        disposition_at = 9
    else:
        disposition_at = 8
    disposition: Item = body[disposition_at] if len(body) > disposition_at else None
    kind, extra = "", {}
    if isinstance(disposition, list) and disposition:
        kind = _text(disposition[0]).lower()
        extra = _params(disposition[1]) if len(disposition) > 1 else {}
    name = _decoded_name({**params, **extra})
    filename = safe_filename(name, ctype) if name else ""
    return Part(section, ctype, encoding, size, filename, kind == "attachment")


def _walk(body: list[Item], prefix: str, out: list[Part]) -> None:
    if body and isinstance(body[0], list):  # multipart: the parts, then the subtype
        number = 0
        for child in body:
            if not isinstance(child, list):
                break
            number += 1
            _walk(child, f"{prefix}{number}" if not prefix else f"{prefix}.{number}", out)
        return
    out.append(_leaf(body, prefix or "TEXT"))


def leaf_parts(structure: Item) -> list[Part]:
    """Every leaf part of a mail in order; message/rfc822 parts count as leaves."""
    out: list[Part] = []
    if isinstance(structure, list) and structure:
        _walk(structure, "", out)
    return out

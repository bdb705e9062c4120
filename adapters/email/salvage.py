"""Getting a patron's words out of a mail whose MIME structure is broken.

Two steps, cheapest first. ``repair_boundary`` handles the commonest breakage, a
multipart whose declared boundary never occurs in the body while another one does: the
mail is parsed again with the boundary it really uses. ``salvage_text`` is the last
resort: the raw body with MIME boundary lines, part headers and base64 parts left out.
"""

from __future__ import annotations

import quopri
import re
from email.message import Message

from adapters.email.headers import decode_bytes
from adapters.email.htmltext import html_to_text

__all__ = ["REPAIR_MAX_BYTES", "body_fallback", "header_block", "repair_boundary", "salvage_text"]

REPAIR_MAX_BYTES = 25 * 1024 * 1024  # a repair copies the raw mail once; bound that copy
FALLBACK_MAX_BYTES = 256 * 1024  # of raw body kept as text for a malformed mail
_USED_BOUNDARY = re.compile(r"^--(\S{1,70}?)[ \t]*\r?\n(?:Content-|MIME-Version)", re.M | re.I)
_BOUNDARY_LINE = re.compile(r"^--\S{1,70}$")
_PART_HEADER = re.compile(r"^(?:Content-[\w-]+|MIME-Version)\s*:", re.I)


def _header_end(raw: bytes) -> tuple[int, int]:
    """(where the blank line after the header block starts, its length); (0, 0) if none."""
    found = [(at, len(sep)) for sep in (b"\r\n\r\n", b"\n\n")
             if (at := raw.find(sep, 0, 1 << 20)) != -1]
    return min(found) if found else (0, 0)


def header_block(raw: bytes) -> bytes:
    """The mail's header block alone (what a fallback parse still reads From from)."""
    at, sep = _header_end(raw)
    return raw[: at + sep] if sep else raw[: 1 << 20]


def body_fallback(raw: bytes) -> str:
    """The raw body (after the header block) as text, capped."""
    start = sum(_header_end(raw))
    return decode_bytes(raw[start : start + FALLBACK_MAX_BYTES], "utf-8")


def repair_boundary(raw: bytes, msg: Message) -> bytes | None:
    """The raw mail with its multipart boundary corrected, or None if not that case."""
    if msg.is_multipart() or not msg.get_content_type().startswith("multipart/"):
        return None
    declared = msg.get_boundary()
    body = msg.get_payload()
    if not declared or not isinstance(body, str) or len(raw) > REPAIR_MAX_BYTES:
        return None
    used = _USED_BOUNDARY.search(body)
    if used is None or used.group(1) == declared:
        return None
    header_end = min((i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i != -1),
                     default=len(raw))
    old = declared.encode("utf-8", errors="surrogateescape")
    at = raw.find(old, 0, header_end)
    if at == -1:
        return None
    return raw[:at] + used.group(1).encode("utf-8", errors="surrogateescape") + raw[at + len(old):]


def _part_text(headers: list[str], body: list[str]) -> tuple[str, str] | None:
    """(kind, text) of one salvaged part; None for parts that are not readable text."""
    fields = "\n".join(headers).lower()
    ctype = re.search(r"content-type\s*:\s*([\w.+-]+/[\w.+-]+)", fields)
    kind = ctype.group(1) if ctype else "text/plain"
    if kind not in {"text/plain", "text/html"} or "base64" in fields:
        return None
    text = "\n".join(body)
    if "quoted-printable" in fields:
        charset = re.search(r"charset\s*=\s*\"?([\w.:-]+)", fields)
        raw = quopri.decodestring(text.encode("utf-8", errors="replace"))
        text = decode_bytes(raw, charset.group(1) if charset else "utf-8")
    return kind, text


def salvage_text(fallback: str) -> str:
    """Readable text from a broken body: text parts kept, MIME scaffolding left out."""
    preamble: list[str] = []
    parts: list[tuple[list[str], list[str]]] = []
    in_headers = False
    for line in fallback.replace("\r\n", "\n").split("\n"):
        if _BOUNDARY_LINE.match(line.strip()):
            parts.append(([], []))
            in_headers = True
            continue
        if in_headers:
            if _PART_HEADER.match(line) or (line[:1] in {" ", "\t"} and line.strip()):
                parts[-1][0].append(line)
                continue
            in_headers = False
            if not line.strip():
                continue
        (parts[-1][1] if parts else preamble).append(line)
    if not parts:
        return fallback.strip()
    readable = [t for t in (_part_text(h, b) for h, b in parts) if t is not None]
    plain = [text.strip() for kind, text in readable if kind == "text/plain" and text.strip()]
    if plain:
        return "\n\n".join(plain)
    html = [text for kind, text in readable if kind == "text/html"]
    if html:
        return html_to_text("\n".join(html))
    return "\n".join(preamble).strip()

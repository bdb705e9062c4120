"""What a MIME walk finds (``Walk``, ``ParsedAttachment``) and how one leaf part is
decoded: its payload from an elided run or its own text, never raising; its size
estimated without decoding; its text in its charset, unflowed, bounded."""

from __future__ import annotations

import binascii
from dataclasses import dataclass, field
from email.message import Message

from adapters.email.elide import Run
from adapters.email.flowed import unflow
from adapters.email.headers import decode_bytes, raw_header

__all__ = ["MAX_TEXT_CHARS", "ParsedAttachment", "Walk", "decoded_payload", "elided_run",
           "encoded_size", "from_base64", "part_text", "restore_elided", "transfer_encoding"]

MAX_TEXT_CHARS = 1_000_000  # more is not a chat message; keeps the regexes bounded too


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


def transfer_encoding(part: Message) -> str:
    return (raw_header(part, "Content-Transfer-Encoding") or "").strip().lower()


def elided_run(part: Message, out: Walk) -> Run | None:
    payload = part.get_payload()
    return out.runs.get(payload.strip()) if isinstance(payload, str) and out.runs else None


def restore_elided(part: Message, out: Walk) -> None:
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


def from_base64(data: str | bytes | memoryview, out: Walk) -> bytes | None:
    try:
        return binascii.a2b_base64(data)
    except (binascii.Error, ValueError):
        out.damaged = True
        return None


def decoded_payload(part: Message, out: Walk) -> bytes:
    """The decoded payload of a leaf part, never raising."""
    run = elided_run(part, out)
    if run is not None:
        view = memoryview(out.source)[run.start : run.end]
        data = from_base64(view, out)
        if data is None:  # bad padding: decode the whole 4-character groups there are
            chars = bytes(view).translate(None, b"\r\n=")
            data = from_base64(chars[: len(chars) // 4 * 4], out)
        return data or b""
    payload = part.get_payload()
    if isinstance(payload, str) and transfer_encoding(part) == "base64":
        data = from_base64(payload, out)
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


def encoded_size(part: Message) -> int:
    """The decoded size, estimated from the encoded text without decoding it."""
    payload = part.get_payload()
    if not isinstance(payload, str):
        return 0
    if transfer_encoding(part) == "base64":
        chars = len(payload) - payload.count("\n") - payload.count("\r") - payload.count(" ")
        return max(0, chars * 3 // 4 - payload.rstrip().count("=", -3))
    return len(payload)


def part_text(part: Message, out: Walk) -> str:
    data = decoded_payload(part, out)
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

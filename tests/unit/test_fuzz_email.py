"""Property-based fuzzing of the MIME parser with arbitrary bytes and with real mails
from tests/data/emails, mutated: it never raises, and a mail whose From header is there
keeps its sender. In CI (CI set) the examples are derandomized, so a run is repeatable."""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.email.parse import ParsedMail, parse_email

FUZZ = settings(max_examples=100, deadline=None, derandomize=bool(os.environ.get("CI")),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
MAILS = sorted((Path(__file__).parent.parent / "data" / "emails").glob("*.eml"))
_RAW = {path.name: path.read_bytes() for path in MAILS}
_SENDER = {name: parse_email(raw).from_address for name, raw in _RAW.items()}
_ODD_VALUES = [b"text/plain; charset=utf-7", b"text/plain; charset=x-unknown",
               b"multipart/mixed; boundary=", b"multipart/mixed", b"image/png",
               b"message/rfc822", b"text/html; charset=\"utf-8", b"base64", b"x-uuencode",
               b"quoted-printable", b"=?utf-8?b?invalid?=", b"\xff\xfe\x00", b""]


def _split(raw: bytes) -> tuple[bytes, bytes]:
    """The header block (with its blank line) and the body."""
    match = re.search(rb"\r?\n\r?\n", raw)
    if match is None:
        return raw, b""
    return raw[: match.end()], raw[match.end():]


@st.composite
def mutated_mail(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(_RAW)))
    head, body = _split(_RAW[name])
    how = draw(st.sampled_from(["splice", "truncate", "header", "repeat"]))
    if how == "splice" and body:
        start = draw(st.integers(0, len(body)))
        end = draw(st.integers(start, min(len(body), start + 200)))
        body = body[:start] + draw(st.binary(max_size=200)) + body[end:]
    elif how == "truncate":
        body = body[: draw(st.integers(0, len(body)))]
    elif how == "header":  # an odd value for a MIME header anywhere in the mail
        field = draw(st.sampled_from([b"Content-Type", b"Content-Transfer-Encoding",
                                      b"Content-Disposition", b"charset"]))
        value = draw(st.sampled_from(_ODD_VALUES))
        pattern = re.escape(field) + rb"([:=])[^\r\n;]*"
        body = re.sub(pattern, lambda m: field + m.group(1) + value, body, count=3)
        head = re.sub(rb"(?im)^(Content-Type|Content-Transfer-Encoding):[^\r\n]*",
                      lambda m: m.group(1) + b": " + value, head, count=1)
    else:
        body = body * draw(st.integers(2, 4))
    return name, head + body


@FUZZ
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    """Any bytes give a ParsedMail; none raise."""
    assert isinstance(parse_email(raw), ParsedMail)


@FUZZ
@given(st.binary(max_size=600))
def test_any_body_keeps_the_sender(body: bytes) -> None:
    """Whatever follows a plain From header, the sender is kept."""
    raw = b"From: Ani <ani@example.org>\r\nSubject: x\r\n\r\n" + body
    assert parse_email(raw).from_address == "ani@example.org"


@settings(FUZZ, max_examples=300)
@given(mutated_mail())
def test_mutated_real_mail_keeps_the_sender(mail: tuple[str, bytes]) -> None:
    """A real mail with a spliced, truncated, repeated or odd-typed body keeps its From."""
    name, raw = mail
    parsed = parse_email(raw)
    assert isinstance(parsed, ParsedMail)
    if _SENDER[name]:
        assert parsed.from_address == _SENDER[name], name


def _inline_png(data: bytes) -> bytes:
    return (b"From: Ani <ani@example.org>\r\nTo: help@library.example\r\nSubject: hi\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=b\r\n\r\n"
            b"--b\r\nContent-Type: text/html\r\n\r\n<p>hi <img src=\"cid:x\"></p>\r\n"
            b"--b\r\nContent-Type: image/png\r\nContent-ID: <x>\r\n"
            b"Content-Disposition: inline\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + base64.b64encode(data) + b"\r\n--b--\r\n")


def test_truncated_inline_png_keeps_the_sender() -> None:
    """A 16-byte inline PNG (signature and IHDR tag, no size) keeps the mail's sender."""
    parsed = parse_email(_inline_png(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"))
    assert parsed.from_address == "ani@example.org"

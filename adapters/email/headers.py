"""Reading header fields of received mail without ever raising.

The stdlib's ``email.policy.default`` parses structured headers lazily, on first access,
and a hostile or broken header can make that parse raise. Every reader here falls back
to the raw field text, and decodes raw 8-bit bytes (RFC 6532 or plain sloppiness) as
UTF-8, then windows-1252, so a patron's name or subject is never lost or mangled.
"""

from __future__ import annotations

import codecs
import email.header
import email.utils
import re
import unicodedata
from email.message import Message
from email.policy import Compat32

from routing.plain import storable  # UTF-7 and UTF-16 decoders let a lone surrogate through

__all__ = [
    "PARSE_POLICY",
    "addresses",
    "clean_text",
    "decode_bytes",
    "decode_words",
    "header_text",
    "message_ids",
    "raw_header",
    "raw_headers",
    "storable",
]

_MSG_ID = re.compile(r"<[^<>\s]{1,500}>")
_MAX_IDS = 100  # a References field longer than this is abuse, not a thread


# Python's own codecs, which no mail client means and some of which interpret backslashes
_PYTHON_ONLY = {"unicode-escape", "raw-unicode-escape", "undefined", "idna", "punycode"}
# Labels that are swapped for one another in practice (Python's canonical codec names)
_WESTERN = {"ascii", "utf-8", "iso8859-1", "cp1252"}


def decode_bytes(data: bytes, charset: str | None = None) -> str:
    """Decode ``data`` labelled ``charset``, falling back without ever raising.

    Labels lie: bodies marked ``us-ascii``, ``utf-8`` or ``iso-8859-1`` are often the
    other one, so for those labels valid UTF-8 wins and anything else is read as
    windows-1252 (a superset of iso-8859-1's printable characters, as browsers do).
    Other labels (iso-2022-jp, koi8-r ...) are trusted; an unknown one is ignored.
    What a codec cannot turn into characters (a lone surrogate from UTF-7) becomes U+FFFD.
    """
    label = (charset or "").strip().strip('"')
    try:
        codec = codecs.lookup(label).name if label else "ascii"
    except (LookupError, ValueError, TypeError):
        codec = "ascii"
    if codec not in _WESTERN and codec not in _PYTHON_ONLY:
        try:
            return storable(data.decode(codec, errors="replace"))
        except (LookupError, ValueError, TypeError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("windows-1252", errors="replace")


def clean_text(value: str) -> str:
    """One line of display text: whitespace folded, control and format characters gone.

    Format characters (Cf) include the bidi overrides that make ``fdp.exe`` look like
    ``exe.pdf``; zero-width joiners are kept so emoji sequences survive.
    """
    kept = []
    for ch in value:
        cat = unicodedata.category(ch)
        if ch.isspace() or cat in {"Zl", "Zp"}:
            kept.append(" ")
        elif cat == "Cc" or (cat == "Cf" and ch != "\u200d") or cat == "Cs":
            continue
        else:
            kept.append(ch)
    return " ".join("".join(kept).split())


def raw_header(msg: Message, name: str) -> str | None:
    """The first ``name`` field exactly as received (no parsing), or None."""
    wanted = name.lower()
    try:
        for key, value in msg.raw_items():
            if key.lower() == wanted:
                return value if isinstance(value, str) else str(value)
    except Exception:  # a raw read cannot fail in practice; never let it lose a mail
        return None
    return None


def raw_headers(msg: Message, name: str, limit: int = 50) -> tuple[str, ...]:
    """Every ``name`` field, top first, unfolded, at most ``limit`` of them."""
    wanted = name.lower()
    found: list[str] = []
    try:
        for key, value in msg.raw_items():
            if key.lower() == wanted and len(found) < limit:
                found.append(re.sub(r"\r?\n[ \t]", " ", _unescape(str(value))))
    except Exception:  # a raw read cannot fail in practice; never let it lose a mail
        return tuple(found)
    return tuple(found)


def _unescape(raw: str) -> str:
    """Turn the parser's surrogate-escaped 8-bit bytes back into text."""
    if not any("\udc80" <= ch <= "\udcff" for ch in raw):
        return raw
    return decode_bytes(raw.encode("utf-8", errors="surrogateescape"))


class _Lenient(Compat32):
    """The stdlib's legacy policy, with raw 8-bit header text decoded instead of replaced.

    Legacy, because ``policy.default`` parses a structured header again on each access
    (``get_content_type`` alone is called several times per part): parsing with it was
    three times slower over the corpus. Everything here reads raw fields itself anyway.
    Compat32 would turn raw UTF-8 in a parameter (a filename) into U+FFFD; this does not.
    """

    def header_fetch_parse(self, name: str, value: str) -> str:
        return _unescape(value)


PARSE_POLICY = _Lenient()


def decode_words(raw: str) -> str:
    """Decode RFC 2047 encoded words in an unstructured field, tolerating bad ones."""
    try:
        parts = email.header.decode_header(raw)
    except Exception:  # a broken encoded word: show the field as it came
        return raw
    out = []
    for chunk, charset in parts:
        if isinstance(chunk, bytes):
            out.append(decode_bytes(chunk, charset))
        else:
            out.append(chunk)
    return "".join(out)


def header_text(msg: Message, name: str) -> str:
    """An unstructured field (Subject) decoded to one clean line; "" when absent."""
    raw = raw_header(msg, name)
    if raw is None:
        return ""
    unfolded = re.sub(r"\r?\n[ \t]", " ", _unescape(raw))
    return clean_text(decode_words(unfolded))


def addresses(msg: Message, name: str) -> list[tuple[str, str]]:
    """Every (display name, addr-spec) in all ``name`` fields, in order, case kept.

    Case is kept because a reply token in ``help+<token>@`` may be case-sensitive;
    callers lowercase where they compare.
    """
    values = []
    try:
        for key, value in msg.raw_items():
            if key.lower() == name.lower():
                values.append(re.sub(r"\r?\n[ \t]", " ", _unescape(str(value))))
    except Exception:  # never let one odd field lose the mail
        return []
    out = []
    try:
        pairs = email.utils.getaddresses(values)
    except Exception:  # getaddresses has raised on crafted input in past releases
        return []
    for display, addr in pairs:
        addr = clean_text(addr).replace(" ", "")
        if "@" not in addr:
            continue
        out.append((clean_text(decode_words(display)), addr))
    return out


def message_ids(msg: Message, name: str) -> list[str]:
    """The ``<id>`` tokens of a Message-ID, In-Reply-To or References field."""
    raw = raw_header(msg, name)
    if not raw:
        return []
    found = _MSG_ID.findall(_unescape(raw))
    return found[-_MAX_IDS:]

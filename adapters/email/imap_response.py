"""Reading IMAP FETCH responses (RFC 3501 section 7.4.2) as aioimaplib hands them over.

aioimaplib gives a response as a list of segments: ``bytes`` text lines, and after a
line ending in ``{n}`` a ``bytearray`` holding those n literal bytes. ``fetch_items``
turns that into one dict per message (``{"UID": 7, "RFC822.SIZE": 812, "BODY[]": ...}``);
``BODYSTRUCTURE`` stays a nested list for ``imap_structure.py``. Literal bytes are
passed on without a copy.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

__all__ = ["Item", "fetch_items", "response_code"]

Item = str | bytes | bytearray | int | None | list["Item"]
_FETCH_START = re.compile(rb"^\d+ FETCH \(")
_LITERAL = re.compile(rb"\{(\d+)\+?\}$")


class _Literal:
    """A literal's bytes in the token stream (kept apart from quoted strings' bytes)."""

    __slots__ = ("data",)

    def __init__(self, data: bytearray | bytes) -> None:
        self.data = data


Token = str | bytes | _Literal | None


def _quoted(line: bytes, i: int) -> tuple[bytes, int]:
    out = bytearray()
    i += 1
    while i < len(line):
        ch = line[i]
        if ch == 0x5C and i + 1 < len(line):  # backslash escapes " and \
            out.append(line[i + 1])
            i += 2
            continue
        if ch == 0x22:
            return bytes(out), i + 1
        out.append(ch)
        i += 1
    return bytes(out), i


def _atom(line: bytes, i: int) -> tuple[str, int]:
    start = i
    while i < len(line) and line[i] not in b" ()\"":
        if line[i] == 0x5B:  # "[": a section spec may hold spaces and parentheses
            close = line.find(b"]", i)
            i = len(line) if close < 0 else close + 1
            continue
        i += 1
    return line[start:i].decode("ascii", errors="replace"), i


def _line_tokens(line: bytes) -> Iterator[Token]:
    i = 0
    while i < len(line):
        ch = line[i]
        if ch in b" \t":
            i += 1
        elif ch in b"()":
            yield chr(ch)
            i += 1
        elif ch == 0x22:
            value, i = _quoted(line, i)
            yield value
        elif ch == 0x7B and _LITERAL.match(line, i):
            return  # the literal's bytes are the next segment
        else:
            atom, i = _atom(line, i)
            yield None if atom.upper() == "NIL" else atom


def _tokens(segments: Sequence[bytes | bytearray]) -> Iterator[Token]:
    for segment in segments:
        if isinstance(segment, bytearray):
            yield _Literal(segment)
        else:
            yield from _line_tokens(segment)


def _value(token: Token) -> Item:
    if isinstance(token, _Literal):
        return token.data
    if isinstance(token, str) and token.isdigit():
        return int(token)
    return token


def _list(stream: Iterator[Token]) -> list[Item]:
    """The items up to the ")" closing a list whose "(" was just read."""
    out: list[Item] = []
    for token in stream:
        if token == ")":
            return out
        out.append(_list(stream) if token == "(" else _value(token))
    return out


def _groups(lines: Sequence[bytes | bytearray]) -> Iterator[list[bytes | bytearray]]:
    group: list[bytes | bytearray] = []
    for line in lines:
        if isinstance(line, bytes) and _FETCH_START.match(line):
            if group:
                yield group
            group = [line[line.index(b"(") + 1 :]]
        elif group:
            group.append(line)
    if group:
        yield group


def fetch_items(lines: Sequence[bytes | bytearray]) -> list[dict[str, Item]]:
    """One dict per ``* n FETCH (...)`` in a response, names upper-cased."""
    found = []
    for group in _groups(lines):
        flat = _list(_tokens(group))
        item: dict[str, Item] = {}
        for name, value in zip(flat[0::2], flat[1::2], strict=False):
            if isinstance(name, str):
                item[name.upper()] = value
        found.append(item)
    return found


def response_code(lines: Sequence[bytes | bytearray], code: str) -> int | None:
    """A numeric response code such as ``[UIDVALIDITY 3857529045]`` from SELECT's lines."""
    pattern = re.compile(rb"\[" + code.encode() + rb" (\d+)\]", re.IGNORECASE)
    for line in lines:
        if isinstance(line, bytes) and (found := pattern.search(line)):
            return int(found.group(1))
    return None

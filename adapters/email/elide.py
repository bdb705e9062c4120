"""Cutting long base64 bodies out of a raw mail before the stdlib parses it.

The stdlib's feed parser keeps every line of a part as its own ``str`` before joining
them, and ``get_payload(decode=True)`` splits them again: a 50 MB attachment costs about
three times its size in passing, even one that is then refused. So each long base64 run
is replaced, in the bytes given to the parser, by a one-line marker; the part still
parses (headers, filename, place in the tree) and ``mime.py`` either refuses it by the
size measured here, without decoding, or decodes it straight from the caller's bytes.

A run is a stretch of base64 alphabet and line breaks, trimmed to whole lines; nothing
else in a mail is that long without a space or punctuation. The marker carries a random
nonce, so a sender cannot forge one.
"""

from __future__ import annotations

import functools
import re
import secrets
from typing import NamedTuple

__all__ = ["ELIDE_MIN_CHARS", "Run", "elide_base64"]

ELIDE_MIN_CHARS = 256 * 1024  # shorter bodies cost little to parse the ordinary way


@functools.lru_cache(maxsize=8)
def _run(min_chars: int) -> re.Pattern[bytes]:
    # One character class repeated keeps no per-character state in the regex engine; the
    # lookbehind starts a match only where a run begins, so a short run is scanned once
    # rather than once from each of its characters (which is quadratic).
    return re.compile(rb"(?<![A-Za-z0-9+/=\r\n])[A-Za-z0-9+/=\r\n]{%d,}" % min_chars)


def _trimmed(raw: bytes, start: int, end: int) -> tuple[int, int]:
    """The run shrunk to whole, non-empty lines (so no header or blank line is eaten)."""
    if start > 0 and raw[start - 1 : start] != b"\n":
        start = raw.find(b"\n", start, end) + 1 or end
    while start < end and raw[start : start + 1] in {b"\r", b"\n"}:
        start += 1
    if end < len(raw):
        end = raw.rfind(b"\n", start, end) + 1 or start
    return start, end


class Run(NamedTuple):
    """Where an elided base64 body lies in the original bytes, and its decoded size."""

    start: int
    end: int
    size: int


def elide_base64(raw: bytes, min_chars: int = ELIDE_MIN_CHARS) -> tuple[bytes, dict[str, Run]]:
    """``raw`` with each base64 run of at least ``min_chars`` replaced by a marker line,
    and where each run was, by marker. ``raw`` itself (no copy) when there is none."""
    if len(raw) < min_chars:
        return raw, {}
    nonce = secrets.token_hex(8)
    pieces: list[bytes] = []
    runs: dict[str, Run] = {}
    last = 0
    for found in _run(min_chars).finditer(raw):
        start, end = _trimmed(raw, found.start(), found.end())
        if end - start < min_chars:
            continue
        breaks = raw.count(b"\n", start, end) + raw.count(b"\r", start, end)
        pad = min(2, raw.count(b"=", max(start, end - 4), end))
        marker = f"PustakaElided{nonce}N{len(runs)}"
        runs[marker] = Run(start, end, max(0, (end - start - breaks) * 3 // 4 - pad))
        pieces.append(raw[last:start])
        pieces.append(marker.encode("ascii") + b"\r\n")
        last = end
    if not runs:
        return raw, {}
    pieces.append(raw[last:])
    return b"".join(pieces), runs

"""Patron-supplied names and titles made safe to show the desk as one plain line.

A name like "Sari\u202eetadpu\u202c" reads backwards on a librarian's phone, and one
full of zero-width characters looks like a colleague's: bidi controls, invisible
characters and control characters are taken out, and whitespace runs become one space.
Escaping for the place the text goes (HTML, a topic title) is still the caller's job.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["plain_line", "storable"]

# Bidi embeddings, overrides and isolates, the directional marks, and the invisible
# joiners, separators and word joiners; the rest of Unicode's format characters (Cf)
# are taken out below with the controls.
_HIDDEN = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u180e]")
_SPACES = re.compile(r"\s+")
# A lone surrogate (JSON's "\ud800", a UTF-7 mail, a file name that is not UTF-8 as
# aiohttp decodes it) is no character: SQLite, JSON and Telegram refuse the whole string.
_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD, so it can be encoded."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def plain_line(text: str) -> str:
    """``text`` without bidi controls, zero-width or control characters, on one line."""
    text = _HIDDEN.sub("", text)
    text = "".join(c for c in text if c.isspace() or unicodedata.category(c) not in
                   ("Cc", "Cf", "Cs", "Co", "Cn"))
    return _SPACES.sub(" ", text).strip()

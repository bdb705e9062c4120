"""File names from received mail, made safe to store and show.

A name comes from the sender and may hold a path, control or bidi characters, a
Windows device name or hundreds of characters; what is shown is cleaned of all of them.
"""

from __future__ import annotations

import mimetypes
import os
import re
import unicodedata

from adapters.email.headers import clean_text

__all__ = ["FILENAME_MAX", "safe_filename"]

FILENAME_MAX = 200
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.I)


def safe_filename(name: str | None, content_type: str) -> str:
    """A filename safe to store and show: no path, no control or bidi characters."""
    base = re.split(r"[/\\]", name or "")[-1]
    base = unicodedata.normalize("NFC", clean_text(base))
    base = re.sub(r'[<>:"|?*]', "_", base).strip(" .")
    if _WINDOWS_RESERVED.match(base):
        base = "_" + base
    if not base:
        ext = mimetypes.guess_extension(content_type) or ".bin"
        base = "attachment" + ext
    if len(base) > FILENAME_MAX:
        stem, ext = os.path.splitext(base)
        ext = ext if len(ext) <= 16 else ""
        base = stem[: FILENAME_MAX - len(ext)] + ext
    return base

"""Undoing ``format=flowed`` (RFC 3676): the soft line breaks Thunderbird and Apple Mail
put into plain text, so the desk sees a patron's paragraph as one line, as they typed it.

A line ending in a space continues on the next line of the same quote depth; the
signature separator "-- " never does. A leading space is space-stuffing and goes.
With ``DelSp=yes`` the trailing space was added by the sender and goes too.
"""

from __future__ import annotations

__all__ = ["unflow"]


def _split(line: str) -> tuple[int, str]:
    """(quote depth, text without the quote marks and space-stuffing)."""
    depth = len(line) - len(line.lstrip(">"))
    body = line[depth:]
    return depth, body[1:] if body.startswith(" ") else body


def unflow(text: str, delsp: bool = False) -> str:
    """``text`` with flowed lines joined into paragraphs, quote marks kept."""
    out: list[str] = []
    pending: list[str] = []
    pending_depth = -1

    def flush() -> None:
        if pending_depth >= 0:
            joined = "".join(pending)
            marks = ">" * pending_depth
            out.append(f"{marks} {joined}" if marks and joined else marks + joined)
        pending.clear()

    for line in text.replace("\r\n", "\n").split("\n"):
        depth, body = _split(line)
        flowed = body.endswith(" ") and body != "-- "
        if delsp and flowed:
            body = body[:-1]
        if pending and depth != pending_depth:
            flush()
        pending_depth = depth
        pending.append(body)
        if not flowed:
            flush()
            pending_depth = -1
    flush()
    return "\n".join(out)

"""What the member directory tells a librarian, and the checks before anyone asks it.

A member number is validated before any lookup, so a typo or an injection attempt never
reaches a file scan or an HTTP request. The patron is never shown a ``Member``: it is for
the librarian's info card only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "MAX_NUMBER",
    "DirectoryUnavailable",
    "InvalidMemberNumber",
    "Member",
    "MemberDirectory",
    "clean_field",
    "normalize_number",
]

MAX_NUMBER = 32
MAX_FIELD = 200  # a directory value longer than this is cut: it goes on a card
_NUMBER = re.compile(r"[A-Za-z0-9]+")


@dataclass(frozen=True, slots=True)
class Member:
    number: str
    name: str
    status: str = ""
    expires: str = ""  # as the directory writes it (e.g. "2026-06-30")


class InvalidMemberNumber(ValueError):
    """The text is not a member number; the message says why, for the librarian."""


class DirectoryUnavailable(Exception):
    """The directory could not be asked (file missing or broken, server down or slow)."""


class MemberDirectory(Protocol):
    async def lookup(self, number: str) -> Member | None:
        """The member, None when the directory does not know the number.

        Raises InvalidMemberNumber before any lookup, DirectoryUnavailable when the
        directory cannot answer.
        """
        ...

    async def close(self) -> None: ...


def normalize_number(raw: str, max_length: int = MAX_NUMBER) -> str:
    """The member number as looked up: stripped, letters and digits only."""
    number = raw.strip() if isinstance(raw, str) else ""
    if not number:
        raise InvalidMemberNumber("give a member number, e.g. /verify 12345")
    if len(number) > max_length:
        raise InvalidMemberNumber(f"a member number has at most {max_length} characters")
    if not _NUMBER.fullmatch(number):
        raise InvalidMemberNumber("a member number has only letters and digits")
    return number


def clean_field(value: object) -> str:
    """A directory value as card text: a string, one line, no longer than MAX_FIELD."""
    if value is None:
        return ""
    text = " ".join(str(value).split())
    return text if len(text) <= MAX_FIELD else text[: MAX_FIELD - 1] + "\u2026"

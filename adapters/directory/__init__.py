"""The member directory behind ``/verify 12345``: a CSV file or an HTTP JSON endpoint.

``open_directory`` picks one by config; both answer ``lookup(number) -> Member | None``.
"""

from __future__ import annotations

from adapters.directory.csvfile import CsvDirectory, parse_members
from adapters.directory.member import (
    DirectoryUnavailable,
    InvalidMemberNumber,
    Member,
    MemberDirectory,
    normalize_number,
)
from adapters.directory.remote import HttpDirectory

__all__ = [
    "CsvDirectory",
    "DirectoryUnavailable",
    "HttpDirectory",
    "InvalidMemberNumber",
    "Member",
    "MemberDirectory",
    "normalize_number",
    "open_directory",
    "parse_members",
]


def open_directory(
    kind: str, path: str = "", url: str = "", token: str = "", timeout: float = 5.0
) -> MemberDirectory | None:
    """The configured directory; None for kind "none" (``/verify`` then says so)."""
    if kind == "none":
        return None
    if kind == "csv":
        if not path:
            raise ValueError("directory.path is not set (the member list CSV file)")
        return CsvDirectory(path)
    if kind == "http":
        if not url:
            raise ValueError("directory.url is not set (the member lookup endpoint)")
        return HttpDirectory(url, token, timeout)
    raise ValueError(f"directory.kind must be one of none, csv, http; got {kind!r}")

"""The member directory behind ``/verify 12345``: a CSV file, an HTTP JSON endpoint or
the library system's SIP2 server.

``open_directory`` picks one by config; all answer ``lookup(number) -> Member | None``.
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
from adapters.directory.sip2 import Sip2Directory, Sip2Settings

__all__ = [
    "CsvDirectory",
    "DirectoryUnavailable",
    "HttpDirectory",
    "InvalidMemberNumber",
    "Member",
    "MemberDirectory",
    "Sip2Directory",
    "Sip2Settings",
    "normalize_number",
    "open_directory",
    "parse_members",
]


def open_directory(
    kind: str, path: str = "", url: str = "", token: str = "", timeout: float = 5.0,
    sip2: Sip2Settings | None = None,
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
    if kind == "sip2":
        return Sip2Directory(sip2 or Sip2Settings(host=""))  # no host: refused, naming it
    raise ValueError(f"directory.kind must be one of none, csv, http, sip2; got {kind!r}")

"""The member directory as a CSV file the library exports (often from Excel).

Columns ``number,name,status,expires`` (Indonesian headers ``nomor,nama,status,berlaku``
work too; ``status`` and ``expires`` may be absent). A UTF-8 byte-order mark, Excel's
semicolon-separated export, its ``sep=;`` first line and Windows-1252 text are all read.
The file is read again when it changes (size, time or inode), so the library replaces
it without a restart; a broken replacement keeps the last good list and logs why.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import os
import threading
from pathlib import Path

from adapters.directory.member import (
    DirectoryUnavailable,
    InvalidMemberNumber,
    Member,
    clean_field,
    normalize_number,
)

__all__ = ["CsvDirectory", "parse_members"]

log = logging.getLogger(__name__)

_COLUMNS = {
    "number": ("number", "member_number", "member number", "member", "nomor",
               "nomor anggota", "nomor_anggota", "no anggota", "barcode"),
    "name": ("name", "nama", "member name", "nama anggota"),
    "status": ("status",),
    "expires": ("expires", "expiry", "expiry date", "expires_at", "berlaku",
                "berlaku sampai", "kedaluwarsa"),
}
_REQUIRED = ("number", "name")


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")  # Excel's "CSV" on Windows


def _delimiter(text: str) -> tuple[str, str]:
    """The separator and the text without Excel's ``sep=`` line."""
    first, _, rest = text.partition("\n")
    if first.strip().lower().startswith("sep=") and len(first.strip()) == 5:
        return first.strip()[4], rest
    counts = {sep: first.count(sep) for sep in (",", ";", "\t")}
    return max(counts, key=lambda sep: counts[sep]), text


def _header_map(header: list[str], source: str) -> dict[str, int]:
    names = [h.strip().lower() for h in header]
    found: dict[str, int] = {}
    for field, aliases in _COLUMNS.items():
        for index, name in enumerate(names):
            if name in aliases and field not in found:
                found[field] = index
    for field in _REQUIRED:
        if field not in found:
            raise DirectoryUnavailable(
                f"{source}: no '{field}' column (the header row has: {', '.join(names)})"
            )
    return found


def parse_members(raw: bytes, source: str = "member list") -> dict[str, Member]:
    """Members by upper-cased number; rows with an invalid number are skipped and counted."""
    separator, text = _delimiter(_decode(raw))
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    header = next(rows, None)
    if header is None:
        raise DirectoryUnavailable(f"{source} is empty")
    columns = _header_map(header, source)
    members: dict[str, Member] = {}
    skipped = 0
    for row in rows:
        if not any(cell.strip() for cell in row):
            continue
        cells = {field: row[i] if i < len(row) else "" for field, i in columns.items()}
        try:
            number = normalize_number(cells["number"])
        except InvalidMemberNumber:
            skipped += 1
            continue
        members[number.upper()] = Member(number, clean_field(cells["name"]),
                                         clean_field(cells.get("status", "")),
                                         clean_field(cells.get("expires", "")))
    if skipped:
        log.warning("%s: skipped %d rows without a valid member number", source, skipped)
    return members


class CsvDirectory:
    """``lookup`` reads the file in a worker thread: a big list never stalls the loop."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._members: dict[str, Member] | None = None
        self._signature: tuple[int, int, int] | None = None

    def _refresh(self) -> dict[str, Member]:
        try:
            info = os.stat(self.path)
        except OSError as exc:
            if self._members is not None:
                log.warning("member list %s unreadable (%s); using the last good one",
                            self.path, exc.strerror)
                return self._members
            raise DirectoryUnavailable(f"member list {self.path} cannot be read: "
                                       f"{exc.strerror}") from None
        signature = (info.st_mtime_ns, info.st_size, info.st_ino)
        if self._members is not None and signature == self._signature:
            return self._members
        try:
            members = parse_members(self.path.read_bytes(), str(self.path))
        except (OSError, DirectoryUnavailable, csv.Error) as exc:
            if self._members is None:
                raise DirectoryUnavailable(str(exc)) from None
            log.warning("member list %s changed but is unreadable (%s); using the last "
                        "good one", self.path, exc)
            return self._members
        self._members, self._signature = members, signature
        log.info("member list %s loaded: %d members", self.path, len(members))
        return members

    def _lookup(self, number: str) -> Member | None:
        with self._lock:
            return self._refresh().get(number.upper())

    async def lookup(self, number: str) -> Member | None:
        return await asyncio.to_thread(self._lookup, normalize_number(number))

    async def count(self) -> int:
        """How many members the file holds now; for ``pustaka check`` and startup logs."""
        def load() -> int:
            with self._lock:
                return len(self._refresh())
        return await asyncio.to_thread(load)

    async def close(self) -> None:
        return None

"""Fetching new mail from a selected IMAP mailbox, never loading an oversized mail whole.

Sizes come first (``RFC822.SIZE``). A mail within ``max_message_bytes`` is fetched whole
(``BODY.PEEK[]``, which leaves its \\Seen flag alone), several per round trip. A larger
one is read through its BODYSTRUCTURE: the header and the text/HTML body parts are
fetched by section, each capped, and put together into a stand-in mail that the pure
parser reads as usual. Its files go into the stand-in too, in order, as long as each is
within the file limit and all of them together stay within ``max_message_bytes`` (so
the stand-in is never larger than a mail fetched whole); every other part is listed as
refused, by name and size, and never loaded.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from adapters.email.imap_response import Item, fetch_items
from adapters.email.imap_structure import Part, leaf_parts

__all__ = ["FetchedMail", "ImapCommandError", "Mailbox", "RefusedPart", "fetch_mails",
           "new_mail", "uid_set", "unseen"]

TEXT_PART_CAP = 2 * 1024 * 1024  # octets of one body part of an oversized mail
_DROPPED_FIELDS = {b"content-type", b"content-transfer-encoding", b"mime-version"}


class ImapCommandError(Exception):
    """The server answered NO or BAD."""


class Mailbox(Protocol):
    """The few commands fetching needs (aioimaplib's ``IMAP4``, behind a guard)."""

    async def uid(self, command: str, *criteria: str) -> Any: ...
    async def uid_search(self, *criteria: str, charset: str | None = ...) -> Any: ...


@dataclass(frozen=True, slots=True)
class RefusedPart:
    """A part of an oversized mail that was not loaded."""

    filename: str
    content_type: str
    size: int  # decoded bytes, estimated
    over_limit: bool = False  # the file alone is over the file limit (else the mail was)


@dataclass(frozen=True, slots=True)
class FetchedMail:
    uid: int
    raw: bytes  # the whole mail, or for an oversized one its header and text parts
    size: int  # RFC822.SIZE: the mail as the server holds it
    refused: tuple[RefusedPart, ...] = ()

    @property
    def partial(self) -> bool:
        return len(self.raw) < self.size


def uid_set(uids: Sequence[int]) -> str:
    """``[1, 2, 3, 7]`` as ``1:3,7``."""
    out: list[str] = []
    ordered = sorted(set(uids))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        out.append(str(ordered[i]) if i == j else f"{ordered[i]}:{ordered[j]}")
        i = j + 1
    return ",".join(out)


def _ok(response: Any, what: str) -> list[bytes | bytearray]:
    if response.result != "OK":
        raise ImapCommandError(f"{what}: {response.result} {response.lines[-1:]!r}")
    return list(response.lines)


def _int(value: Item) -> int:
    return value if isinstance(value, int) else 0


def _bytes(value: Item) -> bytes:
    if isinstance(value, bytearray):
        return bytes(value)
    return value if isinstance(value, bytes) else b""


async def new_mail(mailbox: Mailbox, after: int) -> list[tuple[int, int]]:
    """``(uid, size)`` of every mail with a UID above ``after``, oldest first."""
    lines = _ok(await mailbox.uid("fetch", f"{after + 1}:*", "(UID RFC822.SIZE)"), "FETCH")
    found = {(_int(i.get("UID")), _int(i.get("RFC822.SIZE"))) for i in fetch_items(lines)}
    # "n:*" names the last mail even when its UID is below n (RFC 3501 section 6.4.8)
    return sorted((uid, size) for uid, size in found if uid > after)


async def unseen(mailbox: Mailbox) -> set[int]:
    lines = _ok(await mailbox.uid_search("UNSEEN", charset=None), "SEARCH")
    return {int(word) for line in lines if isinstance(line, bytes) and line.startswith(b"SEARCH")
            for word in line.split()[1:] if word.isdigit()}


async def fetch_mails(
    mailbox: Mailbox, wanted: Sequence[tuple[int, int]], max_message_bytes: int,
    max_part_bytes: int | None = None,
) -> list[FetchedMail]:
    """The mails named by ``(uid, size)``, in UID order; oversized ones in part.

    ``max_part_bytes`` (the file limit; None: no file of an oversized mail is loaded)
    decides which files of an oversized mail may be fetched. A mail expunged meanwhile
    is simply not in the result.
    """
    small = {uid: size for uid, size in wanted if size <= max_message_bytes}
    out: list[FetchedMail] = []
    if small:
        lines = _ok(await mailbox.uid("fetch", uid_set(list(small)), "(UID BODY.PEEK[])"),
                    "FETCH")
        for item in fetch_items(lines):
            uid = _int(item.get("UID"))
            if uid in small and "BODY[]" in item:
                out.append(FetchedMail(uid, _bytes(item["BODY[]"]), small[uid]))
    for uid, size in wanted:
        if size > max_message_bytes:
            large = await _fetch_large(mailbox, uid, size, max_message_bytes,
                                       max_part_bytes)
            if large is not None:
                out.append(large)
    return sorted(out, key=lambda mail: mail.uid)


def _split(parts: list[Part], budget: int, max_part_bytes: int | None
           ) -> tuple[list[Part], tuple[RefusedPart, ...]]:
    """The parts to fetch (the texts, and files while they fit), and those refused."""
    fetched: list[Part] = []
    refused: list[RefusedPart] = []
    used = 0
    for part in parts:
        if part.is_body_text:
            fetched.append(part)
            continue
        fits = max_part_bytes is not None and part.decoded_size <= max_part_bytes
        if fits and used + part.size <= budget:
            fetched.append(part)
            used += part.size
        else:
            over = max_part_bytes is not None and part.decoded_size > max_part_bytes
            refused.append(RefusedPart(part.filename or "unnamed", part.content_type,
                                       part.decoded_size, over))
    return fetched, tuple(refused)


async def _fetch_large(mailbox: Mailbox, uid: int, size: int, budget: int,
                       max_part_bytes: int | None) -> FetchedMail | None:
    lines = _ok(await mailbox.uid("fetch", str(uid), "(UID BODYSTRUCTURE)"), "FETCH")
    items = [i for i in fetch_items(lines) if _int(i.get("UID")) == uid]
    if not items:
        return None
    parts, refused = _split(leaf_parts(items[0].get("BODYSTRUCTURE")), budget, max_part_bytes)
    wanted = ["BODY.PEEK[HEADER]"]
    for part in parts:
        if part.section != "TEXT":
            wanted.append(f"BODY.PEEK[{part.section}.MIME]")
        cap = f"<0.{TEXT_PART_CAP}>" if part.is_body_text else ""
        wanted.append(f"BODY.PEEK[{part.section}]{cap}")
    lines = _ok(await mailbox.uid("fetch", str(uid), f"(UID {' '.join(wanted)})"), "FETCH")
    items = [i for i in fetch_items(lines) if _int(i.get("UID")) == uid]
    if not items:
        return None
    raw = _stand_in(items[0], parts)
    return FetchedMail(uid, raw, size, refused)


def _header_without_mime(header: bytes) -> bytes:
    """The header with its MIME structure fields (and their folded lines) removed."""
    kept: list[bytes] = []
    dropping = False
    for line in header.rstrip(b"\r\n").split(b"\r\n") if header else []:
        if line[:1] in (b" ", b"\t"):
            if not dropping:
                kept.append(line)
            continue
        dropping = line.split(b":", 1)[0].strip().lower() in _DROPPED_FIELDS
        if not dropping:
            kept.append(line)
    return b"\r\n".join(kept) + b"\r\n" if kept else b""


def _body(item: dict[str, Item], part: Part) -> bytes:
    """A fetched section: a capped text part comes back as ``BODY[n]<0>``."""
    if part.is_body_text:
        return _bytes(item.get(f"BODY[{part.section}]<0>"))
    return _bytes(item.get(f"BODY[{part.section}]"))


def _stand_in(item: dict[str, Item], parts: list[Part]) -> bytes:
    """A mail with the original header and only the fetched parts, as MIME.

    The parts go side by side in one multipart/mixed: the parser takes the text from
    every text part and the files from the rest, as it would from the original.
    """
    header = _bytes(item.get("BODY[HEADER]"))
    if len(parts) == 1 and parts[0].section == "TEXT":  # a mail that is not multipart
        return header.rstrip(b"\r\n") + b"\r\n\r\n" + _body(item, parts[0])
    boundary = b"pustaka-" + secrets.token_hex(12).encode()
    out = [_header_without_mime(header), b"MIME-Version: 1.0\r\n",
           b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n']
    for part in parts:
        mime = _bytes(item.get(f"BODY[{part.section}.MIME]")).rstrip(b"\r\n")
        out += [b"--" + boundary + b"\r\n", mime + b"\r\n\r\n", _body(item, part), b"\r\n"]
    out.append(b"--" + boundary + b"--\r\n")
    return b"".join(out)

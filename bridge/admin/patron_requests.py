"""A patron's request about their data: export everything held, or erase it everywhere
the bridge can. Shared by ``pustaka patron …`` and the dashboard's Privacy page.

Erasing deletes, in this order: what the bridge posted on Telegram for the patron (their
desk topics, or the single messages in a group without topics, and its messages in the
patron's own chat), every row of the store (one transaction), then the patron's files no
other message refers to. The erasure record keeps what kinds went and how many, when and
by whom: never who the patron was.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telegram.error import TelegramError

from routing.staff_roles import PatronData, TelegramPost

__all__ = ["Erased", "erase_patron", "export_zip", "find_patron", "parse_who"]

log = logging.getLogger(__name__)
_CHANNELS = ("email", "visitor", "telegram")


def parse_who(text: str) -> tuple[str, str]:
    """``(contact channel, address)`` from what staff typed: an email address, a Telegram
    user id, a widget visitor id, or any of them after ``email:``/``telegram:``/``visitor:``."""
    text = text.strip()
    kind, sep, rest = text.partition(":")
    if sep and kind in _CHANNELS and rest.strip():
        kind, text = kind, rest.strip()
    elif "@" in text:
        kind = "email"
    elif text.lstrip("-").isdigit():
        kind = "telegram"
    else:
        kind = "visitor"
    if not text or len(text) > 320 or any(not ch.isprintable() for ch in text):
        raise ValueError("give an email address, a Telegram user id or a visitor id")
    return ("widget" if kind == "visitor" else kind), text


async def find_patron(store: Any, who: str) -> str:
    """The patron id behind ``who``; LookupError naming what was looked for."""
    channel, address = parse_who(who)
    found: str | None = await store.find_patron(channel, address)
    if found is None:
        raise LookupError(f"no patron is known by {channel} {address!r}")
    return found


async def export_zip(store: Any, blobs: Any, patron_id: str) -> bytes:
    """``patron.json`` (every row held, by table) and ``files/<digest>`` for each file."""
    data: PatronData = await store.patron_data(patron_id)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("patron.json", json.dumps(
            {"patron_id": data.patron_id, "tables": data.tables, "files": data.files},
            indent=2, ensure_ascii=False, default=str))
        for digest in data.files:
            content = await blobs.get(digest)
            if content is not None:
                archive.writestr(f"files/{digest}", content)
    return buffer.getvalue()


@dataclass
class Erased:
    """What an erasure removed, by kind (the erasure record's content)."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, n: int = 1) -> None:
        if n:
            self.counts[kind] = self.counts.get(kind, 0) + n


async def erase_patron(store: Any, blobs: Any, bot: Any, group_id: int, patron_id: str, *,
                       by: str, now: float) -> Erased:
    data: PatronData = await store.patron_data(patron_id)
    erased = Erased()
    if bot is not None:
        telegram = _telegram_chat(data)
        await _delete_posts(bot, group_id, telegram, data.posts, erased)
    for kind, n in (await store.erase_patron(patron_id)).items():
        erased.add(kind, n)
    for digest in data.files:
        if not await store.blob_in_use(digest) and await asyncio.to_thread(
                _remove, blobs.path(digest)):
            erased.add("files")
    await store.record_erasure(now, by, erased.counts)
    return erased


def _remove(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def _telegram_chat(data: PatronData) -> int | None:
    for contact in data.tables.get("contacts", []):
        if contact["channel"] == "telegram" and str(contact["address"]).lstrip("-").isdigit():
            return int(contact["address"])
    return None


async def _delete_posts(bot: Any, group_id: int, chat: int | None,
                        posts: list[TelegramPost], erased: Erased) -> None:
    """Topics first: deleting a topic deletes every message in it."""
    topics = {p.ident for p in posts if p.kind == "topic"}
    for post in sorted(posts, key=lambda p: p.kind != "topic"):
        try:
            if post.kind == "topic":
                await bot.delete_forum_topic(group_id, post.ident)
            elif post.kind in ("card", "desk") and not topics:
                await bot.delete_message(group_id, post.ident)
            elif post.kind == "telegram" and (post.chat or chat) is not None:
                await bot.delete_message(post.chat or chat, post.ident)
            else:
                continue
            erased.add(f"telegram_{post.kind}")
        except TelegramError as exc:  # too old to delete, or gone already: say so, go on
            log.warning("could not delete a Telegram %s: %s", post.kind, exc)
            erased.add("telegram_not_deleted")

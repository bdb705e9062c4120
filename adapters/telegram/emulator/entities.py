"""Entities as the Bot API counts them: offsets and lengths in UTF-16 code units,
clipped when Telegram trims a text, and the ones it finds by itself (links, mentions,
commands, hashtags, e-mail addresses)."""

from __future__ import annotations

import re
from typing import NotRequired, TypedDict

__all__ = ["Entity", "auto_entities", "trim_text", "utf16_len"]


class Entity(TypedDict):
    """A Bot API ``MessageEntity``; offset and length in UTF-16 code units."""

    type: str
    offset: int
    length: int
    url: NotRequired[str]
    language: NotRequired[str]
    custom_emoji_id: NotRequired[str]


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def trim_text(text: str, entities: list[Entity]) -> tuple[str, list[Entity]]:
    """Strip surrounding whitespace as Telegram does, clipping entities to what is left."""
    stripped = text.strip()
    if not stripped:
        return "", []
    head = utf16_len(text[: len(text) - len(text.lstrip())])
    size = utf16_len(stripped)
    kept: list[Entity] = []
    for entity in entities:
        start = max(entity["offset"] - head, 0)
        end = min(entity["offset"] + entity["length"] - head, size)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


_AUTO = re.compile(
    r"(?P<url>\b(?:https?://)[^\s<>\"]+[^\s<>\".,;:!?)\]'])"
    r"|(?P<email>\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}\b)"
    r"|(?P<mention>(?<![\w@])@[A-Za-z]\w{3,31}\b)"
    r"|(?P<bot_command>(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z]\w{3,31})?(?![\w/]))"
    r"|(?P<hashtag>(?<![\w#])#\w*[^\W\d]\w*)",
    re.I,
)
_OPAQUE = frozenset({"code", "pre", "text_link", "text_mention", "custom_emoji"})


def auto_entities(text: str, entities: list[Entity]) -> list[Entity]:
    """Add what Telegram finds by itself (links, mentions, commands, hashtags, e-mails)."""
    blocked = [
        (e["offset"], e["offset"] + e["length"])
        for e in entities
        if e["type"] in _OPAQUE
    ]
    found: list[Entity] = []
    for match in _AUTO.finditer(text):
        start = utf16_len(text[: match.start()])
        length = utf16_len(match.group())
        if any(start < end and begin < start + length for begin, end in blocked):
            continue
        found.append({"type": match.lastgroup or "url", "offset": start, "length": length})
    merged = entities + found
    merged.sort(key=lambda e: (e["offset"], -e["length"]))
    return merged

"""Plain-text answers of the desk's commands: /who, /stats, /blocks, /history, /r.

Pure functions over records; the caller escapes for Telegram HTML (``render.notice_text``
or ``html.escape``), so nothing here needs to know where the text goes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from routing.model import Block, Conversation, Librarian
from routing.plain import plain_line
from routing.stats import DayStats

__all__ = [
    "HELP",
    "blocks_text",
    "canned_list",
    "day_bounds",
    "history_text",
    "stats_text",
    "who_text",
    "zone",
]

HELP = (
    "Desk commands (in a conversation's topic unless marked):\n"
    "/claim, /takeover, /transfer @name, /close (or /close reference 3: kind, READ 1-6)\n"
    "/note text (never sent), /history, /tag name\n"
    "/r key (canned reply), /r (list)\n"
    "/delete as a reply to your answer: withdraw it from the patron\n"
    "/verify 12345, /block 1h|1d|7d|forever (add ip or range to block the address), /unblock\n"
    "Anywhere: /blocks, /unblock <id>, /who, /stats, /onduty, /offduty\n"
    "/visitors (who has the chat open now), /greet v-7f3a text (say hello to one)"
)


def zone(name: str) -> dt.tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def day_bounds(now: float, timezone: str) -> tuple[float, float]:
    """Today in the library's time zone, as [midnight, next midnight) epoch seconds."""
    tz = zone(timezone)
    today = dt.datetime.fromtimestamp(now, tz).date()
    start = dt.datetime.combine(today, dt.time(), tz)
    end = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tz)
    return start.timestamp(), end.timestamp()


def _wait(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def stats_text(stats: DayStats, day: str) -> str:
    lines = [f"Today ({day}):",
             f"Conversations: {stats.conversations}",
             f"Answered: {stats.answered}"]
    if stats.median_first_response is not None:
        lines.append(f"Median first response: {_wait(stats.median_first_response)}")
    else:
        lines.append("Median first response: none yet")
    if stats.average_rating is not None:
        lines.append(f"Ratings: {stats.ratings}, average {stats.average_rating:.1f} of 5")
    else:
        lines.append("Ratings: none yet")
    return "\n".join(lines)


def who_text(conversation: Conversation | None, on_duty: Sequence[Librarian]) -> str:
    lines = []
    if conversation is not None:
        holder = conversation.claimed_by or "nobody yet"
        lines.append(f"This conversation: {holder}.")
    if on_duty:
        lines.append("On duty: " + ", ".join(_person(lib) for lib in on_duty))
    else:
        lines.append("Nobody has said /onduty.")
    return "\n".join(lines)


def _person(librarian: Librarian) -> str:
    return f"{librarian.name} (@{librarian.username})" if librarian.username else librarian.name


def _when(at: float | None, tz: dt.tzinfo) -> str:
    if at is None:
        return "forever"
    return "until " + dt.datetime.fromtimestamp(at, tz).strftime("%d %b %H:%M")


def blocks_text(blocks: Sequence[Block], timezone: str) -> str:
    if not blocks:
        return "Nobody is blocked."
    tz = zone(timezone)
    lines = ["Blocked (lift one with /unblock <id>):"]
    for block in blocks:
        by = f", by {block.by}" if block.by else ""
        lines.append(f"{block.id[-6:]}  {block.kind.value} {block.value}  "
                     f"{_when(block.until, tz)}{by}")
    return "\n".join(lines)


def history_text(earlier: Sequence[Conversation], timezone: str) -> str:
    if not earlier:
        return "No earlier conversations with this patron."
    tz = zone(timezone)
    lines = ["Earlier conversations:"]
    for c in earlier:
        day = dt.datetime.fromtimestamp(c.created_at, tz).strftime("%d %b %Y")
        parts = [day, c.origin.value, c.status.value]
        if c.claimed_by:
            parts.append(c.claimed_by)
        if c.rating is not None:
            parts.append(f"rated {c.rating}/5")
        if c.tags:
            parts.append("#" + " #".join(c.tags))
        if c.subject:
            parts.append(f"“{plain_line(c.subject)[:60]}”")
        lines.append(" · ".join(parts))
    return "\n".join(lines)


def canned_list(canned: Mapping[str, str]) -> str:
    if not canned:
        return "No canned replies are configured (desk.canned in the configuration)."
    lines = ["Canned replies (send /r key):"]
    lines.extend(f"{key}: {text[:60]}{'…' if len(text) > 60 else ''}"
                 for key, text in sorted(canned.items()))
    return "\n".join(lines)

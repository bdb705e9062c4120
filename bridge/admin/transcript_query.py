"""The transcripts page's form: a query string turned into a ``TranscriptQuery`` (dates
in the library's time zone), every bad value refused with a sentence naming the field,
and what a found conversation shows (rows for the page and the exports).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

from bridge.store.sqlite_transcripts import MARK_END, MARK_START
from routing.model import Channel
from routing.transcript_roles import TranscriptHit, TranscriptQuery

__all__ = ["CHANNELS", "FIELDS", "PAGE_SIZE", "hit_row", "local_time", "marked", "parse_query",
           "zone"]

PAGE_SIZE = 25
FIELDS = ("words", "patron", "librarian", "tag", "channel", "rating", "from", "to")
CHANNELS = tuple(c.value for c in Channel if c is not Channel.DESK)


def zone(name: str) -> dt.tzinfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return dt.UTC


def local_time(at: float, tz: dt.tzinfo) -> str:
    return dt.datetime.fromtimestamp(at, tz).strftime("%Y-%m-%d %H:%M") if at else ""


def _day(text: str, field: str, tz: dt.tzinfo) -> float:
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{field}: write the date as YYYY-MM-DD, not {text!r}") from None
    return dt.datetime.combine(day, dt.time(), tz).timestamp()


def parse_query(args: Mapping[str, str], tz: dt.tzinfo) -> tuple[TranscriptQuery, int]:
    """The query and the 1-based page number; ValueError naming the field otherwise."""
    text = {name: str(args.get(name, "")).strip() for name in FIELDS}
    if text["channel"] and text["channel"] not in CHANNELS:
        raise ValueError(f"channel: choose one of {', '.join(CHANNELS)}")
    rating = None
    if text["rating"]:
        if text["rating"] not in {"1", "2", "3", "4", "5"}:
            raise ValueError("rating: choose a number from 1 to 5")
        rating = int(text["rating"])
    since = _day(text["from"], "from", tz) if text["from"] else None
    until = _day(text["to"], "to", tz) + 86_400 if text["to"] else None  # "to" is inclusive
    if since is not None and until is not None and until <= since:
        raise ValueError("to: the last day comes before the first")
    page = str(args.get("page", "1")).strip() or "1"
    if not page.isdigit() or not 1 <= int(page) <= 100_000:
        raise ValueError("page: a page number from 1")
    for name in ("words", "patron", "librarian", "tag"):
        if len(text[name]) > 200:
            raise ValueError(f"{name}: at most 200 characters")
    return TranscriptQuery(text["words"], text["patron"], text["librarian"], text["tag"],
                           text["channel"], rating, since, until), int(page)


def marked(excerpt: str) -> Markup:
    """An excerpt escaped for HTML, its matched words in ``<mark>``."""
    escaped = str(escape(excerpt))
    return Markup(escaped.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>"))


def hit_row(hit: TranscriptHit, tz: dt.tzinfo) -> dict[str, Any]:
    """One found conversation as the page and the exports show it (plain values)."""
    c, patron = hit.conversation, hit.patron
    return {
        "id": c.id, "started": local_time(c.created_at, tz),
        "closed": local_time(c.closed_at, tz) if c.status.value == "closed" else "",
        "channel": c.origin.value, "status": c.status.value,
        "patron": patron.name if patron else "", "email": patron.email if patron else "",
        "librarian": c.claimed_by, "tags": " ".join(c.tags),
        "rating": "" if c.rating is None else c.rating, "subject": c.subject,
        "excerpt": hit.excerpt.replace(MARK_START, "").replace(MARK_END, ""),
    }

"""A year of realistic conversations for the dashboard's tests and benchmark.

Deterministic for a seed: busier on weekdays and in the afternoon, a share after hours,
most answered within minutes (some never), most closed, a third rated, some tagged, some
from catalogue pages, most closed ones with a question kind and a READ level, served by
a handful of librarians. ``seed_year`` saves them through the store's roles;
``seed_sql`` writes them straight into a SQLite file (the benchmark's million messages).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bridge.store.sqlite_log import (
    INDEX_MESSAGES_AFTER,
    INSERT_MESSAGE,
    LAST_MESSAGE_ROWID,
    UPSERT_CONVERSATION,
)
from bridge.store.sqlite_rows import (
    LIBRARIAN_COLUMNS,
    conversation_row,
    librarian_row,
    message_row,
)
from routing.model import (
    Channel,
    Conversation,
    Direction,
    Librarian,
    Message,
    PageInfo,
    Patron,
    Status,
)
from routing.report_roles import DEFAULT_KINDS, ReferenceMark

__all__ = ["LIBRARIANS", "Seeded", "generate", "seed_sql", "seed_year"]

LIBRARIANS = (("1001", "Ayu Lestari"), ("1002", "Budi Santoso"), ("1003", "Citra Dewi"),
              ("1004", "Dewa Putra"), ("1005", "Eka Wulan"))
_CHANNELS = (Channel.WIDGET, Channel.EMAIL, Channel.TELEGRAM)
_TAGS = ("interlibrary_loan", "renewal", "database_access", "printing", "thesis", "fines")
_PAGES = ("https://opac.example.org/search", "https://library.example.org/hours",
          "https://repository.example.org/item/42", "https://library.example.org/")
_WORDS = ("Can I renew my loan of the statistics textbook?",
          "Where do I find journal articles on coral reef ecology?",
          "The database login says my account has expired.",
          "Is the reading room open on Saturday?")
_HOUR_WEIGHTS = [1, 1, 1, 1, 1, 2, 3, 5, 8, 10, 11, 11, 9, 10, 11, 10, 8, 6, 5, 4, 3, 2, 2, 1]


@dataclass(frozen=True, slots=True)
class Seeded:
    conversation: Conversation
    messages: tuple[Message, ...]
    mark: ReferenceMark | None


def generate(conversations: int, *, seed: int = 1, now: float, timezone: str = "UTC",
             messages_each: int = 3) -> Iterator[Seeded]:
    """``conversations`` spread over the year before ``now``, oldest first."""
    rng = random.Random(seed)
    zone = ZoneInfo(timezone)
    start = now - 365 * 86400
    times = sorted(_opening(rng, start, now, zone) for _ in range(conversations))
    for n, created in enumerate(times):
        yield _one(rng, n, created, now, messages_each, dt.datetime.fromtimestamp(created, zone))


def _opening(rng: random.Random, start: float, end: float, zone: ZoneInfo) -> float:
    while True:
        day = rng.uniform(start, end)
        local = dt.datetime.fromtimestamp(day, zone)
        weekday_weight = 0.45 if local.weekday() >= 5 else 1.0
        hour = rng.choices(range(24), _HOUR_WEIGHTS)[0]
        moment = local.replace(hour=hour, minute=rng.randrange(60), second=rng.randrange(60))
        ts = moment.timestamp()
        if rng.random() < weekday_weight and start <= ts < end:
            return ts


def _one(rng: random.Random, n: int, created: float, now: float, count: int,
         local: dt.datetime) -> Seeded:
    cid = f"c{int(created * 1000):013d}{n:06d}"
    channel = rng.choices(_CHANNELS, (6, 3, 2))[0]
    lib_id, lib_name = rng.choice(LIBRARIANS)
    answered = rng.random() < 0.92
    wait = rng.lognormvariate(5.0, 1.1) if answered else 0.0  # median ~2.5 minutes
    closed = rng.random() < 0.9 and created + wait + 600 < now
    closed_at = min(created + wait + rng.lognormvariate(7.0, 0.8), now) if closed else 0.0
    mark = None
    if closed and answered and rng.random() < 0.8:
        mark = ReferenceMark(rng.choices(DEFAULT_KINDS, (5, 8, 3, 3, 4))[0],
                             rng.choices(range(1, 7), (20, 30, 25, 15, 7, 3))[0])
    conversation = Conversation(
        id=cid, patron_id=f"p{n % 40000:06d}", origin=channel,
        status=Status.CLOSED if closed else Status.OPEN,
        claimed_by=lib_name if answered else "", claimed_by_id=lib_id if answered else "",
        after_hours=local.weekday() >= 5 or not 8 <= local.hour < 17,
        tags=tuple(rng.sample(_TAGS, rng.choice((0, 0, 0, 1, 1, 2)))),
        rating=rng.choices((1, 2, 3, 4, 5), (1, 1, 3, 8, 12))[0]
        if closed and rng.random() < 0.35 else None,
        page=PageInfo(url=rng.choice(_PAGES)) if channel is Channel.WIDGET else PageInfo(),
        created_at=created, updated_at=closed_at or created + wait,
        closed_at=closed_at, first_response_at=created + wait if answered else 0.0,
    )
    return Seeded(conversation, _messages(rng, conversation, count, lib_name), mark)


def _messages(rng: random.Random, c: Conversation, count: int, name: str) -> tuple[Message, ...]:
    out = []
    for i in range(count):
        librarian = i % 2 == 1 and c.first_response_at > 0
        at = c.first_response_at + i if librarian else c.created_at + i
        out.append(Message(
            f"{c.id}m{i:03d}", c.id, Direction.LIBRARIAN if librarian else Direction.PATRON,
            rng.choice(_WORDS), author=name if librarian else "", created_at=at))
    return tuple(out)


async def seed_year(store: Any, *, conversations: int = 5000, seed: int = 1,
                    now: float, timezone: str = "UTC") -> list[Seeded]:
    """Save a year of conversations through the store's roles; returns what was saved.
    Each step is issued for many conversations at once, so they share group commits."""
    saved = list(generate(conversations, seed=seed, now=now, timezone=timezone))
    await asyncio.gather(*(store.save_librarian(Librarian(i, n)) for i, n in LIBRARIANS))
    patrons = sorted({s.conversation.patron_id for s in saved})
    await asyncio.gather(*(store.save_patron(Patron(p, name=f"Patron {p}")) for p in patrons))
    for start in range(0, len(saved), 500):
        part = saved[start:start + 500]
        await asyncio.gather(*(store.save_conversation(s.conversation) for s in part))
        await asyncio.gather(*(store.append(m, []) for s in part for m in s.messages))
        await asyncio.gather(*(
            store.save_reference(s.conversation.id, s.mark, s.conversation.claimed_by_id,
                                 s.conversation.closed_at)
            for s in part if s.mark is not None))
    return saved


def seed_sql(path: Path, *, conversations: int, messages_each: int, seed: int = 1,
             now: float, timezone: str = "UTC") -> int:
    """Write straight into a migrated SQLite file (no store open on it); returns the
    number of messages written."""
    conn = sqlite3.connect(path)
    written = 0
    try:
        conn.executemany(f"INSERT INTO librarians ({LIBRARIAN_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                         [librarian_row(Librarian(i, n)) for i, n in LIBRARIANS])
        batch: list[Seeded] = []
        for s in generate(conversations, seed=seed, now=now, timezone=timezone,
                          messages_each=messages_each):
            batch.append(s)
            if len(batch) == 5000:
                written += _insert(conn, batch)
                batch = []
        written += _insert(conn, batch)
        conn.commit()
    finally:
        conn.close()
    return written


def _insert(conn: sqlite3.Connection, batch: list[Seeded]) -> int:
    patrons = {s.conversation.patron_id for s in batch}
    conn.executemany("INSERT OR IGNORE INTO patrons (id, name) VALUES (?, ?)",
                     [(p, f"Patron {p}") for p in patrons])
    conn.executemany(UPSERT_CONVERSATION, [conversation_row(s.conversation) for s in batch])
    messages = [message_row(m) for s in batch for m in s.messages]
    before = conn.execute(LAST_MESSAGE_ROWID).fetchone()[0]
    conn.executemany(INSERT_MESSAGE, messages)
    conn.execute(INDEX_MESSAGES_AFTER, (before,))  # as the writer does (migration 0012)
    conn.executemany(
        "INSERT INTO reference_marks VALUES (?, ?, ?, ?, ?)",
        [(s.conversation.id, s.mark.kind, s.mark.read_level, s.conversation.claimed_by_id,
          s.conversation.closed_at) for s in batch if s.mark is not None])
    return len(messages)

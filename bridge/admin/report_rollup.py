"""The daily roll-up: whole days of conversations counted into the aggregate tables, so
the library's statistics survive when retention deletes the transcripts.

The retention job calls ``roll_up`` before it deletes anything; a day once rolled up is
read from the aggregates only, so ``until`` should leave the last days live while
patrons still rate them (``settled_until``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections import Counter, defaultdict
from typing import Any

from bridge.admin.report_collect import classify
from bridge.admin.report_math import LocalTime, Tally
from bridge.admin.store_locks import store_lock
from routing.ports import Clock
from routing.report_roles import LiveRow, ReportRows, RolledDay, Row

__all__ = ["SETTLE_DAYS", "DailyRollUp", "aggregates_lock", "roll_up", "settled_until"]

log = logging.getLogger(__name__)

SETTLE_DAYS = 2  # days a conversation stays live after it opened, for ratings to arrive


def aggregates_lock(store: Any) -> asyncio.Lock:
    """A roll-up and an edit of a rolled day's mark read the aggregates' state and then
    change it; interleaved, they would count a mark twice."""
    return store_lock(store, "aggregates")


def settled_until(now: float, timezone: str, settle_days: int = SETTLE_DAYS) -> float:
    """Midnight ``settle_days`` before today's, in the library's time zone."""
    clock = LocalTime(timezone)
    today = dt.date.fromisoformat(clock(now)[0])
    return clock.midnight(today - dt.timedelta(days=settle_days))


async def roll_up(store: ReportRows, until: float, *, timezone: str, now: float) -> int:
    """Roll up every whole local day before the day ``until`` falls in that is not rolled
    up yet; returns how many days with conversations were written. Safe to repeat and to
    interrupt: each day and the cursor move in one commit."""
    async with aggregates_lock(store):
        return await _roll_up(store, until, timezone=timezone, now=now)


async def _roll_up(store: ReportRows, until: float, *, timezone: str, now: float) -> int:
    clock = LocalTime(timezone)
    end_day = dt.date.fromisoformat(clock(until)[0])
    rolled = await store.rolled_until()
    start = clock.midnight(dt.date.fromisoformat(rolled)) if rolled else 0.0
    end = clock.midnight(end_day)
    if start >= end:
        return 0
    by_day: dict[str, list[LiveRow]] = defaultdict(list)
    for row in await store.report_rows(start, end):
        by_day[clock(row[0])[0]].append(row)
    marks: dict[str, list[Row]] = defaultdict(list)
    for mark in await store.report_marks(start, end):
        marks[clock(mark[0])[0]].append(mark)
    for day in sorted({*by_day, *marks}):
        following = (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()
        aggregates = await asyncio.to_thread(day_rows, by_day[day], marks[day], clock, now)
        await store.save_rolled_day(day, aggregates, following)
    # The cursor stops after the last day that had something: days after it stay live
    # (they cost nothing to read), so a store that starts empty rolls nothing up.
    return len({*by_day, *marks})


def day_rows(rows: list[LiveRow], marks: list[Row], clock: LocalTime,
             now: float) -> RolledDay:
    """One day's conversations (opened that day) and reference marks (noted that day)
    as aggregate rows."""
    tallies: dict[tuple[str, str], Tally] = defaultdict(
        lambda: Tally(first_values=None, close_values=None))
    reference: Counter[tuple[str, str, int]] = Counter()
    hours: Counter[int] = Counter()
    terms: Counter[tuple[str, str]] = Counter()
    for row in rows:
        created, origin, after, _f, _c, _s, rating, librarian, tags, url, _k, _l = row
        first, close, missed = classify(row, now)
        tallies[(origin, librarian)].add(bool(after), first, close, missed, rating)
        hours[clock(created)[2]] += 1
        terms.update(("tag", t) for t in (json.loads(tags) if tags != "[]" else ()))
        if url:
            terms[("page", url)] += 1
    for _at, librarian, kind, level in marks:
        reference[(librarian, kind, level)] += 1
    return RolledDay(
        days=tuple((ch, lib, t.conversations, t.after_hours, t.answered, t.missed, *t.ratings)
                   for (ch, lib), t in tallies.items()),
        durations=_durations(tallies),
        reference=tuple((*key, n) for key, n in reference.items()),
        hours=tuple(hours.items()),
        terms=tuple((*key, n) for key, n in terms.items()),
    )


def _durations(tallies: dict[tuple[str, str], Tally]) -> tuple[tuple[object, ...], ...]:
    merged: Counter[tuple[str, str, int]] = Counter()
    for (_channel, librarian), t in tallies.items():
        merged.update({(librarian, "first", b): n for b, n in t.first_response.items()})
        merged.update({(librarian, "close", b): n for b, n in t.to_close.items()})
    return tuple((*key, n) for key, n in merged.items())


class DailyRollUp:
    """The bridge's background loop (``bridge.parts``): rolls up settled days at start and
    then every hour, so the reports stay fast and the statistics are kept before the
    retention job deletes a transcript (it calls ``roll_up`` too; a day is never rolled
    up twice)."""

    def __init__(self, store: ReportRows, clock: Clock, timezone: str,
                 every: float = 3600.0) -> None:
        self.store, self.clock, self.timezone, self.every = store, clock, timezone, every

    async def run(self) -> None:
        while True:
            now = self.clock.now()
            try:
                await roll_up(self.store, settled_until(now, self.timezone),
                              timezone=self.timezone, now=now)
            except Exception:  # a failed roll-up is tried again next time; reports stay right
                log.warning("rolling up the reports' daily aggregates failed", exc_info=True)
            await asyncio.sleep(self.every)

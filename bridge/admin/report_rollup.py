"""The daily roll-up: whole days of conversations counted into the aggregate tables, so
the library's statistics survive when retention deletes the transcripts.

The retention job calls ``roll_up`` before it deletes anything; a day once rolled up is
read from the aggregates only, so ``until`` should leave the last days live while
patrons still rate them (``settled_until``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict

from bridge.admin.report_collect import Collected, tally_rows
from bridge.admin.report_math import LocalTime, Tally
from routing.report_roles import LiveRow, ReportRows, RolledDay

__all__ = ["SETTLE_DAYS", "roll_up", "settled_until"]

SETTLE_DAYS = 2  # days a conversation stays live after it opened, for ratings to arrive


def settled_until(now: float, timezone: str, settle_days: int = SETTLE_DAYS) -> float:
    """Midnight ``settle_days`` before today's, in the library's time zone."""
    clock = LocalTime(timezone)
    today = dt.date.fromisoformat(clock(now)[0])
    return clock.midnight(today - dt.timedelta(days=settle_days))


async def roll_up(store: ReportRows, until: float, *, timezone: str, now: float) -> int:
    """Roll up every whole local day before the day ``until`` falls in that is not rolled
    up yet; returns how many days were written. Safe to repeat and to interrupt: each day
    and the cursor move in one commit."""
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
    for day in sorted(by_day):
        following = (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()
        await store.save_rolled_day(day, _rolled(by_day[day], clock, now), following)
    if not by_day or max(by_day) < (end_day - dt.timedelta(days=1)).isoformat():
        last = (end_day - dt.timedelta(days=1)).isoformat()
        await store.save_rolled_day(last, RolledDay(), end_day.isoformat())
    return len(by_day)


def _rolled(rows: list[LiveRow], clock: LocalTime, now: float) -> RolledDay:
    counted = Collected()
    tally_rows(rows, clock, now, counted)
    return RolledDay(
        days=tuple((channel, librarian, *_tally_columns(t))
                   for (_d, channel, librarian), t in counted.tallies.items()),
        reference=tuple((librarian, kind, level, n)
                        for (_d, librarian, kind, level), n in counted.reference.items()),
        hours=tuple((hour, n) for (_d, hour), n in counted.hours.items()),
        terms=tuple((what, term, n) for (_d, what, term), n in counted.terms.items()),
    )


def _tally_columns(t: Tally) -> tuple[object, ...]:
    return (t.conversations, t.after_hours, t.answered, t.missed, json.dumps(t.ratings),
            json.dumps(dict(t.first_response)), json.dumps(dict(t.to_close)))

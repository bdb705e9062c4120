"""One pass over a date range for every report: the rolled-up days from the aggregate
tables, the days after them from the live conversations, in the same shape.

Days before the store's ``rolled_until`` are read from the aggregates (they outlive
retention); the rest from the conversations themselves, so today is always current.
The counting runs in a worker thread: a report over a year of live rows is a few hundred
milliseconds of Python, which must not hold up the patrons' messages on the event loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from bridge.admin.report_math import MISSED_AFTER, Histogram, LocalTime, Tally
from routing.report_roles import LiveRow, ReportRows

__all__ = ["Collected", "collect", "tally_rows"]

TallyKey = tuple[str, str, str]  # day, channel, librarian id


@dataclass
class Collected:
    """Everything a report reads, keyed by the library's local day."""

    tallies: dict[TallyKey, Tally] = field(default_factory=lambda: defaultdict(Tally))
    reference: Counter[tuple[str, str, str, int]] = field(default_factory=Counter)
    hours: Counter[tuple[str, int]] = field(default_factory=Counter)  # (day, hour)
    terms: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # day, what, term


async def collect(store: ReportRows, first: dt.date, last: dt.date, clock: LocalTime,
                  now: float) -> Collected:
    """Days ``first..last`` (inclusive, local)."""
    out = Collected()
    rolled = await store.rolled_until()
    if rolled and rolled > first.isoformat():
        await _rolled(store, first.isoformat(), min(last.isoformat(), _before(rolled)), out)
    live_from = max(first, dt.date.fromisoformat(rolled)) if rolled else first
    if live_from <= last:
        rows = await store.report_rows(clock.midnight(live_from),
                                       clock.midnight(last + dt.timedelta(days=1)))
        await asyncio.to_thread(tally_rows, rows, clock, now, out)
    return out


def _before(day: str) -> str:
    return (dt.date.fromisoformat(day) - dt.timedelta(days=1)).isoformat()


def tally_rows(rows: list[LiveRow], clock: LocalTime, now: float, out: Collected) -> None:
    """Count live conversations into ``out`` (also what the roll-up stores)."""
    tallies, reference, hours, terms = out.tallies, out.reference, out.hours, out.terms
    for (created, origin, after, first_at, closed_at, status, rating, librarian, tags,
         url, kind, level) in rows:
        day, _weekday, hour = clock(created)
        answered = first_at > 0
        closed = status == "closed" and closed_at > 0
        missed = not answered and (closed or now - created > MISSED_AFTER)
        tallies[(day, origin, librarian)].add(
            bool(after), first_at - created if answered else None,
            closed_at - created if closed else None, missed, rating)
        hours[(day, hour)] += 1
        if kind or level:
            reference[(day, librarian, kind, level)] += 1
        if tags != "[]":
            for tag in json.loads(tags):
                terms[(day, "tag", tag)] += 1
        if url:
            terms[(day, "page", url)] += 1


async def _rolled(store: ReportRows, first: str, last: str, out: Collected) -> None:
    days = await store.report_days(first, last)
    reference = await store.report_reference(first, last)
    hours = await store.report_hours(first, last)
    terms = await store.report_terms(first, last)
    await asyncio.to_thread(_count_rolled, days, reference, hours, terms, out)


def _count_rolled(days: list[tuple[object, ...]], reference: list[tuple[str, str, str, int, int]],
                  hours: list[tuple[str, int, int]], terms: list[tuple[str, str, str, int]],
                  out: Collected) -> None:
    for day, channel, librarian, n, after, answered, missed, ratings, fr, tc in days:
        tally = Tally(_int(n), _int(after), _int(answered), _int(missed),
                      json.loads(str(ratings)), _histogram(fr), _histogram(tc), None, None)
        out.tallies[(str(day), str(channel), str(librarian))].merge(tally)
    for day, librarian, kind, level, n in reference:
        out.reference[(day, librarian, kind, level)] += n
    for day, hour, n in hours:
        out.hours[(day, hour)] += n
    for day, what, term, count in terms:
        out.terms[(day, what, term)] += count


def _int(value: object) -> int:
    return int(str(value))


def _histogram(text: object) -> Histogram:
    return Counter({int(k): int(v) for k, v in json.loads(str(text)).items()})

"""One pass over a date range for every report: the rolled-up days summed by the store,
the days after them counted from the live conversations, into the same shape.

Days before the store's ``rolled_until`` are read from the aggregates (they outlive
retention, and the store sums them in SQL); the rest from the conversations themselves,
so today is always current. Counting live rows runs in a worker thread: a long span of
live rows is a few hundred milliseconds of Python, which must not hold up the patrons'
messages on the event loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections import Counter, defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field

from bridge.admin.report_math import MISSED_AFTER, Histogram, LocalTime, Tally
from routing.report_roles import LiveRow, ReportRows, Rolled, Row

__all__ = ["Collected", "classify", "collect", "collect_reference", "tally_rows"]


@dataclass
class Collected:
    """Everything a report reads; days are the library's local days."""

    daily: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    day_channels: Counter[tuple[str, str]] = field(default_factory=Counter)
    librarians: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    reference: Counter[tuple[str, str, str, int]] = field(default_factory=Counter)  # month..
    hours: Counter[tuple[int, int]] = field(default_factory=Counter)  # (weekday, hour)
    terms: Counter[tuple[str, str]] = field(default_factory=Counter)  # ('tag'|'page', term)


async def collect(store: ReportRows, first: dt.date, last: dt.date, clock: LocalTime,
                  now: float, period: str = "day", parts: Collection[str] = ()) -> Collected:
    """Days ``first..last`` (inclusive, local). Rolled-up days' tallies come summed by
    ``period`` ("day", "week", "month"), so a year's report reads a few hundred rows;
    only the aggregates named in ``parts`` are read (``Rolled``'s fields; all when empty)."""
    out = Collected()
    if not parts or "reference" in parts:
        out.reference = await collect_reference(store, first, last, clock)
        parts = [p for p in parts if p != "reference"] or [
            p for p in Rolled.__dataclass_fields__ if p != "reference"]
    rolled = await store.rolled_until()
    if rolled and rolled > first.isoformat():
        last_rolled = (dt.date.fromisoformat(rolled) - dt.timedelta(days=1)).isoformat()
        found = await store.rolled(first.isoformat(), min(last.isoformat(), last_rolled),
                                   period=period, parts=parts)
        await asyncio.to_thread(_count_rolled, found, out)
    live_from = max(first, dt.date.fromisoformat(rolled)) if rolled else first
    if live_from <= last:
        rows = await store.report_rows(clock.midnight(live_from),
                                       clock.midnight(last + dt.timedelta(days=1)))
        await asyncio.to_thread(tally_rows, rows, clock, now, out)
    return out


async def collect_reference(store: ReportRows, first: dt.date, last: dt.date,
                            clock: LocalTime) -> Counter[tuple[str, str, str, int]]:
    """Only what the reference report reads: (month, librarian, kind, READ level) -> n,
    each question in the month it was noted (closed) in."""
    counts: Counter[tuple[str, str, str, int]] = Counter()
    rolled = await store.rolled_until()
    if rolled and rolled > first.isoformat():
        last_rolled = (dt.date.fromisoformat(rolled) - dt.timedelta(days=1)).isoformat()
        for month, librarian, kind, level, n in await store.rolled_reference(
                first.isoformat(), min(last.isoformat(), last_rolled)):
            counts[(month, librarian, kind, level)] += n
    live_from = max(first, dt.date.fromisoformat(rolled)) if rolled else first
    if live_from <= last:
        marks = await store.report_marks(clock.midnight(live_from),
                                         clock.midnight(last + dt.timedelta(days=1)))
        await asyncio.to_thread(_count_marks, marks, clock, counts)
    return counts


def _count_marks(marks: list[Row], clock: LocalTime,
                 counts: Counter[tuple[str, str, str, int]]) -> None:
    for created, librarian, kind, level in marks:
        counts[(clock(created)[0][:7], librarian, kind, level)] += 1


def classify(row: LiveRow, now: float) -> tuple[float | None, float | None, bool]:
    """A live conversation's wait for its first answer, its time to close (None when it
    has none), and whether it was missed: closed with no librarian answer, or still
    unanswered a day after it opened."""
    created, first_at, closed_at, status = row[0], row[3], row[4], row[5]
    answered = first_at > 0
    closed = status == "closed" and closed_at > 0
    return (first_at - created if answered else None,
            closed_at - created if closed else None,
            not answered and (closed or now - created > MISSED_AFTER))


def tally_rows(rows: list[LiveRow], clock: LocalTime, now: float, out: Collected) -> None:
    """Count live conversations into ``out``."""
    daily, librarians, channels = out.daily, out.librarians, out.day_channels
    for row in rows:
        created, origin, after, _f, _c, _s, rating, librarian, tags, url, _k, _l = row
        day, weekday, hour = clock(created)
        first, close, missed = classify(row, now)
        daily[day].add(bool(after), first, close, missed, rating)
        if librarian:
            librarians[librarian].add(bool(after), first, close, missed, rating)
        channels[(day, origin)] += 1
        out.hours[(weekday, hour)] += 1
        if tags != "[]":
            for tag in json.loads(tags):
                out.terms[("tag", tag)] += 1
        if url:
            out.terms[("page", url)] += 1


def _count_rolled(found: Rolled, out: Collected) -> None:
    by_day = _histograms(found.durations)
    for day, *counts in found.daily:
        out.daily[day].merge(_tally(counts, by_day.get(day)))
    by_librarian = _histograms(found.librarian_durations)
    for librarian, *counts in found.librarians:
        if librarian:
            out.librarians[librarian].merge(_tally(counts, by_librarian.get(librarian)))
    for day, channel, n in found.day_channels:
        out.day_channels[(day, channel)] += n
    for month, librarian, kind, level, n in found.reference:
        out.reference[(month, librarian, kind, level)] += n
    for weekday, hour, n in found.hours:
        out.hours[(weekday, hour)] += n
    for what, term, n in found.terms:
        out.terms[(what, term)] += n


def _histograms(rows: list[Row]) -> dict[str, dict[str, Histogram]]:
    found: dict[str, dict[str, Histogram]] = defaultdict(lambda: defaultdict(Counter))
    for key, what, bucket, n in rows:
        found[key][what][bucket] += n
    return found


def _tally(counts: list[int], histograms: dict[str, Histogram] | None) -> Tally:
    n, after, answered, missed, *ratings = counts
    h = histograms or {}
    return Tally(n, after, answered, missed, list(ratings), h.get("first", Counter()),
                 h.get("close", Counter()), None, None)

"""The three reports as data: the overview, the reference statistics and the figures per
librarian, for a date range in the library's time zone. Pages render them; tests check
them against hand-counted answers."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from bridge.admin.report_collect import Collected, collect, collect_reference
from bridge.admin.report_math import LocalTime, Tally
from routing.report_roles import READ_LEVELS, ReportRows

__all__ = [
    "PRESETS",
    "BadRange",
    "DateRange",
    "LibrarianFigures",
    "Overview",
    "ReferenceTable",
    "Reports",
    "date_range",
    "period_key",
    "period_of",
    "periods",
]

PRESETS = {"today": "Today", "7d": "7 days", "month": "This month", "year": "This year",
           "custom": "Custom"}
CHANNELS = ("widget", "email", "telegram")
_MAX_DAYS = 3 * 366
_OVERVIEW_PARTS = ("daily", "day_channels", "durations", "hours", "terms")


class BadRange(ValueError):
    """The dates asked for are not a range; the message says why."""


@dataclass(frozen=True, slots=True)
class DateRange:
    first: dt.date
    last: dt.date  # inclusive
    preset: str = "custom"

    @property
    def days(self) -> list[dt.date]:
        return [self.first + dt.timedelta(days=i)
                for i in range((self.last - self.first).days + 1)]


def date_range(query: Mapping[str, str], today: dt.date) -> DateRange:
    """From ``?range=today|7d|month|year`` or ``?from=YYYY-MM-DD&to=YYYY-MM-DD``."""
    preset = query.get("range", "") or ("custom" if query.get("from") else "7d")
    if preset == "today":
        return DateRange(today, today, preset)
    if preset == "7d":
        return DateRange(today - dt.timedelta(days=6), today, preset)
    if preset == "month":
        return DateRange(today.replace(day=1), today, preset)
    if preset == "year":
        return DateRange(today.replace(month=1, day=1), today, preset)
    if preset != "custom":
        raise BadRange(f"unknown range {preset!r}; use one of {', '.join(PRESETS)}")
    try:
        first = dt.date.fromisoformat(query.get("from", ""))
        last = dt.date.fromisoformat(query.get("to", "") or today.isoformat())
    except ValueError:
        raise BadRange("dates must be written YYYY-MM-DD, e.g. 2026-01-31") from None
    if last < first:
        raise BadRange("the range ends before it starts")
    if (last - first).days > _MAX_DAYS:
        raise BadRange(f"a range may cover at most {_MAX_DAYS} days")
    return DateRange(first, last, preset)


def period_of(span: DateRange) -> str:
    """How a chart groups days: by day up to three months, then by week, then by month."""
    days = (span.last - span.first).days + 1
    return "day" if days <= 92 else "week" if days <= 200 else "month"


def period_key(day: str, period: str) -> str:
    """The period a day (or a period's own key) falls in: itself, its week's Monday, or
    its month (YYYY-MM)."""
    if period == "week":
        d = dt.date.fromisoformat(day)
        return (d - dt.timedelta(days=d.weekday())).isoformat()
    return day[:7] if period == "month" else day


def periods(span: DateRange, period: str) -> list[str]:
    return list(dict.fromkeys(period_key(d.isoformat(), period) for d in span.days))


@dataclass
class Overview:
    range: DateRange
    total: Tally
    by_day: dict[str, Counter[str]]  # day -> channel -> conversations
    daily: dict[str, Tally]  # day, or the period_of(range) of rolled-up days -> tally
    by_channel: Counter[str]
    heat: list[list[int]]  # [weekday 0=Monday][hour]
    tags: list[tuple[str, int]]
    pages: list[tuple[str, int]]


@dataclass
class ReferenceTable:
    range: DateRange
    kinds: list[str]
    months: list[str]  # YYYY-MM
    by_kind: dict[str, Counter[str]]  # month -> kind -> n ('' not noted)
    by_read: dict[str, Counter[int]]  # month -> READ level -> n

    def csv_rows(self) -> list[list[str]]:
        """The annual return's table: one row per month, then the total."""
        head = ["month", *self.kinds, "other kind", *(f"READ {i}" for i in READ_LEVELS)]
        body = [[m, *self._row(m)] for m in self.months]
        totals = [str(sum(int(r[i]) for r in body)) for i in range(1, len(head))]
        return [head, *body, ["total", *totals]]

    def _row(self, month: str) -> list[str]:
        kinds = self.by_kind.get(month, Counter())
        other = sum(n for k, n in kinds.items() if k and k not in self.kinds)
        reads = self.by_read.get(month, Counter())
        return [*(str(kinds[k]) for k in self.kinds), str(other),
                *(str(reads[i]) for i in READ_LEVELS)]


@dataclass
class LibrarianFigures:
    id: str
    name: str
    tally: Tally = field(default_factory=Tally)
    reads: Counter[int] = field(default_factory=Counter)


class Reports:
    """The reports over one store, in the library's time zone."""

    def __init__(self, store: ReportRows, timezone: str) -> None:
        self.store = store
        self.clock = LocalTime(timezone)

    def today(self, now: float) -> dt.date:
        return dt.date.fromisoformat(self.clock(now)[0])

    async def overview(self, span: DateRange, now: float) -> Overview:
        got = await collect(self.store, span.first, span.last, self.clock, now,
                            period_of(span), _OVERVIEW_PARTS)
        return await asyncio.to_thread(_overview, span, got)

    async def reference(self, span: DateRange, kinds: list[str], now: float) -> ReferenceTable:
        got = Collected(reference=await collect_reference(self.store, span.first, span.last,
                                                          self.clock))
        return _reference(span, kinds, got)

    async def librarians(self, span: DateRange, names: Mapping[str, str],
                         now: float) -> list[LibrarianFigures]:
        got = await collect(self.store, span.first, span.last, self.clock, now,
                            parts=("librarians", "librarian_durations", "reference"))
        return await asyncio.to_thread(_librarians, got, names)


def _overview(span: DateRange, got: Collected) -> Overview:
    total = Tally()
    for tally in got.daily.values():
        total.merge(tally)
    by_day: dict[str, Counter[str]] = defaultdict(Counter)
    by_channel = Counter[str]()
    for (day, channel), n in got.day_channels.items():
        by_day[day][channel] += n
        by_channel[channel] += n
    heat = [[0] * 24 for _ in range(7)]
    for (weekday, hour), n in got.hours.items():
        heat[weekday][hour] += n
    tags = Counter({term: n for (what, term), n in got.terms.items() if what == "tag"})
    pages = Counter({term: n for (what, term), n in got.terms.items() if what == "page"})
    return Overview(span, total, dict(by_day), dict(got.daily), by_channel, heat,
                    tags.most_common(10), pages.most_common(10))


def _reference(span: DateRange, kinds: list[str], got: Collected) -> ReferenceTable:
    months = sorted({d.isoformat()[:7] for d in span.days})
    by_kind: dict[str, Counter[str]] = defaultdict(Counter)
    by_read: dict[str, Counter[int]] = defaultdict(Counter)
    for (month, _lib, kind, level), n in got.reference.items():
        by_kind[month][kind] += n
        if level:
            by_read[month][level] += n
    return ReferenceTable(span, kinds, months, dict(by_kind), dict(by_read))


def _librarians(got: Collected, names: Mapping[str, str]) -> list[LibrarianFigures]:
    people = {lib: LibrarianFigures(lib, names.get(lib, lib), tally)
              for lib, tally in got.librarians.items()}
    for (_month, lib, _kind, level), n in got.reference.items():
        if lib and level:
            people.setdefault(lib, LibrarianFigures(lib, names.get(lib, lib))).reads[level] += n
    return sorted(people.values(), key=lambda p: (-p.tally.conversations, p.name))

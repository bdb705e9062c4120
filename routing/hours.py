"""The library's opening hours: weekly ranges in its own time zone, minus closure dates.

Pure: time comes in as epoch seconds and every wall-clock question is answered through
``zoneinfo``, so a daylight-saving change moves opening to the right instant. A range
that crosses midnight is refused (write ``fri = "20:00-24:00"`` and ``sat = "00:00-02:00"``
instead): a closure date then means exactly that date, with no spill into the next day.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["DAYS", "OpeningHours", "TimeRange", "parse_closures", "parse_day"]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOSED = {"closed", "tutup"}
_TIME = re.compile(r"^(\d{1,2})[:.](\d{2})$")
_DASH = "\u2013"  # an en dash, as typeset hours use
_SEARCH_DAYS = 400  # closures are finite; after a year and a bit the week repeats for good


@dataclass(frozen=True, slots=True, order=True)
class TimeRange:
    """Minutes after local midnight; ``end`` may be 1440 ("24:00")."""

    start: int
    end: int

    def holds(self, minute: int) -> bool:
        return self.start <= minute < self.end


def _minute(text: str, day: str, part: str) -> int:
    match = _TIME.match(text.strip())
    if not match:
        raise ValueError(f"hours.{day}: '{part}' is not a time range like 08:00-16:00")
    hour, minute = int(match[1]), int(match[2])
    if minute > 59 or hour > 24 or (hour == 24 and minute):
        raise ValueError(f"hours.{day}: '{text.strip()}' in '{part}' is not a time of day")
    return hour * 60 + minute


def parse_day(day: str, text: str) -> tuple[TimeRange, ...]:
    """``"08:00-12:00, 13:00-16:00"`` or ``"closed"``; a ValueError names the day and part."""
    if not isinstance(text, str):
        raise ValueError(f"hours.{day}: expected text like '08:00-16:00' or 'closed'")
    if text.strip().lower() in _CLOSED:
        return ()
    if not text.strip():
        raise ValueError(f"hours.{day}: empty; write 'closed' or ranges like '08:00-16:00'")
    ranges: list[TimeRange] = []
    for part in (p.strip() for p in text.split(",")):
        start_text, sep, end_text = part.replace(_DASH, "-").partition("-")
        if not sep:
            raise ValueError(f"hours.{day}: '{part}' is not a time range like 08:00-16:00")
        start, end = _minute(start_text, day, part), _minute(end_text, day, part)
        if end < start:
            raise ValueError(
                f"hours.{day}: '{part}' crosses midnight; end it at 24:00 and continue "
                "from 00:00 on the next day"
            )
        if end == start:
            raise ValueError(f"hours.{day}: '{part}' is empty (starts when it ends)")
        ranges.append(TimeRange(start, end))
    ranges.sort()
    for before, after in itertools.pairwise(ranges):
        if after.start < before.end:
            raise ValueError(f"hours.{day}: ranges overlap around {_clock(after.start)}")
    return tuple(ranges)


def parse_closures(entries: Iterable[str]) -> frozenset[dt.date]:
    """ISO dates (``2025-12-25``) or inclusive spans (``2025-12-24..2025-12-26``)."""
    dates: set[dt.date] = set()
    for entry in entries:
        first_text, sep, last_text = entry.strip().partition("..")
        try:
            first = dt.date.fromisoformat(first_text.strip())
            last = dt.date.fromisoformat(last_text.strip()) if sep else first
        except ValueError:
            raise ValueError(
                f"hours.closures: '{entry}' is not a date like 2025-12-25 "
                "or a span like 2025-12-24..2025-12-26"
            ) from None
        if last < first or (last - first).days > 366:
            raise ValueError(f"hours.closures: '{entry}' must run forward, at most a year")
        dates.update(first + dt.timedelta(days=n) for n in range((last - first).days + 1))
    return frozenset(dates)


@dataclass(frozen=True, slots=True)
class _Words:
    days: tuple[str, ...]
    weekdays: tuple[str, ...]
    months: tuple[str, ...]
    closed: str
    allday: str
    every: str
    now: str
    unknown: str
    today: str
    tomorrow: str
    on_day: str
    on_date: str
    again: str
    sep: str


_WORDS = {
    "en": _Words(
        days=("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
        weekdays=("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
                  "Sunday"),
        months=("January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December"),
        closed="closed", allday="24 hours", every="Every day", now="We are open now",
        unknown="We answer as soon as a librarian is available", today="today",
        tomorrow="tomorrow", on_day="{day}", on_date="on {date}",
        again="We answer again {when} at {time}", sep=":",
    ),
    "id": _Words(
        days=("Sen", "Sel", "Rab", "Kam", "Jum", "Sab", "Min"),
        weekdays=("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"),
        months=("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
                "September", "Oktober", "November", "Desember"),
        closed="tutup", allday="24 jam", every="Setiap hari", now="Kami sedang buka",
        unknown="Kami menjawab segera setelah pustakawan ada", today="hari ini",
        tomorrow="besok", on_day="hari {day}", on_date="pada {date}",
        again="Kami menjawab lagi {when} pukul {time}", sep=".",
    ),
}


def _words(lang: str) -> _Words:
    return _WORDS.get(lang.split("-")[0].lower(), _WORDS["en"])


def _clock(minute: int, sep: str = ":") -> str:
    return f"{minute // 60:02d}{sep}{minute % 60:02d}"


def _day_hours(ranges: tuple[TimeRange, ...], words: _Words) -> str:
    if not ranges:
        return words.closed
    if ranges == (TimeRange(0, 1440),):
        return words.allday
    sep = words.sep
    return ", ".join(f"{_clock(r.start, sep)}{_DASH}{_clock(r.end, sep)}" for r in ranges)


def describe_week(week: list[tuple[TimeRange, ...]], lang: str) -> str:
    """Consecutive days with the same hours share one entry: "Mon-Fri 08:00-16:00; Sun closed"."""
    words = _words(lang)
    if all(day == week[0] for day in week):
        return f"{words.every} {_day_hours(week[0], words)}"
    groups: list[tuple[int, int]] = []
    for n in range(7):
        if groups and week[groups[-1][0]] == week[n]:
            groups[-1] = (groups[-1][0], n)
        else:
            groups.append((n, n))
    parts = []
    names = words.days
    for first, last in groups:
        label = names[first] if first == last else f"{names[first]}{_DASH}{names[last]}"
        parts.append(f"{label} {_day_hours(week[first], words)}")
    return "; ".join(parts)


def opens_sentence(now: dt.datetime, when: dt.datetime | None, lang: str) -> str:
    """When the desk answers again, worded from where ``now`` stands."""
    words = _words(lang)
    if when is None:
        return words.unknown
    if when <= now:
        return words.now
    days = (when.date() - now.date()).days
    if days == 0:
        day = words.today
    elif days == 1:
        day = words.tomorrow
    elif days < 7:
        day = words.on_day.format(day=words.weekdays[when.weekday()])
    else:
        day = words.on_date.format(date=f"{when.day} {words.months[when.month - 1]}")
    time = _clock(when.hour * 60 + when.minute, words.sep)
    zone = when.tzname() or ""
    if zone.isalpha():  # "WIB", "CET"; numeric names like "+07" say nothing to a patron
        time = f"{time} {zone}"
    return words.again.format(when=day, time=time)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"library.timezone: unknown time zone '{name}'") from None


class OpeningHours:
    """When the desk is staffed by default; ``/onduty`` and ``/offduty`` adjust it (duty.py)."""

    def __init__(
        self,
        week: Mapping[int, tuple[TimeRange, ...]],
        zone: dt.tzinfo,
        closures: frozenset[dt.date] = frozenset(),
    ) -> None:
        self.week = {day: tuple(week.get(day, ())) for day in range(7)}
        self.zone = zone
        self.closures = closures

    @classmethod
    def from_config(
        cls, days: Mapping[str, str], timezone: str = "UTC", closures: Iterable[str] = ()
    ) -> OpeningHours:
        """From ``{"mon": "08:00-16:00", ..., "sun": "closed"}``; a missing day is closed."""
        for key in days:
            if key not in DAYS:
                raise ValueError(f"hours.{key}: not a day; use one of {', '.join(DAYS)}")
        week = {n: parse_day(day, days[day]) for n, day in enumerate(DAYS) if day in days}
        return cls(week, _zone(timezone), parse_closures(closures))

    @classmethod
    def always(cls, timezone: str = "UTC") -> OpeningHours:
        return cls({n: (TimeRange(0, 1440),) for n in range(7)}, _zone(timezone))

    def _ranges(self, day: dt.date) -> tuple[TimeRange, ...]:
        return () if day in self.closures else self.week[day.weekday()]

    def _edge(self, day: dt.date, minute: int, opening: bool) -> float:
        """The instant wall time ``minute`` of ``day`` comes; for a time a DST jump skips,
        the jump itself (found by bisection, to the second)."""
        if minute >= 1440:
            day, minute = day + dt.timedelta(days=1), 0
        wall = dt.datetime.combine(day, dt.time(minute // 60, minute % 60))
        early = wall.replace(tzinfo=self.zone).timestamp()
        if self.local(early).replace(tzinfo=None) == wall:
            return early
        lo, hi = sorted((early, wall.replace(tzinfo=self.zone, fold=1).timestamp()))
        while hi - lo > 1:
            mid = float((lo + hi) // 2)
            lo, hi = (lo, mid) if self.is_open(mid) == opening else (mid, hi)
        return hi

    def local(self, at: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(at, self.zone)

    def is_open(self, at: float) -> bool:
        now = self.local(at)
        minute = now.hour * 60 + now.minute
        return any(r.holds(minute) for r in self._ranges(now.date()))

    def next_opening(self, at: float) -> float | None:
        """The first instant at or after ``at`` when the desk is open; None if never."""
        if self.is_open(at):
            return at
        first = self.local(at).date()
        for offset in range(_SEARCH_DAYS):
            day = first + dt.timedelta(days=offset)
            for span in self._ranges(day):
                start = self._edge(day, span.start, opening=True)
                # A range wholly inside a skipped hour never opens: check it really does.
                if start > at and self.is_open(start):
                    return start
        return None

    def next_closing(self, at: float) -> float | None:
        """The first instant at or after ``at`` when the desk is closed; None if never."""
        if not self.is_open(at):
            return at
        first = self.local(at).date()
        for offset in range(_SEARCH_DAYS):
            day = first + dt.timedelta(days=offset)
            for span in self._ranges(day):
                end = self._edge(day, span.end, opening=False)
                if end > at and not self.is_open(end):
                    return end
        return None

    def describe(self, lang: str = "en") -> str:
        """A short summary for greetings and the offline form, e.g. "Mon-Fri 08:00-16:00"."""
        return describe_week([self.week[n] for n in range(7)], lang)

    def opens_text(self, at: float, lang: str = "en") -> str:
        """"We answer again Monday at 08:00", in English or Indonesian."""
        return self.sentence(at, self.next_opening(at), lang)

    def sentence(self, at: float, when: float | None, lang: str = "en") -> str:
        """The same sentence for a known moment ``when`` (None: no answer time ahead)."""
        local = None if when is None else self.local(when)
        return opens_sentence(self.local(at), local, lang)

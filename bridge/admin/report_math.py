"""The arithmetic of the reports, pure: log-spaced histograms of durations, a mergeable
tally of conversations, percentiles, and the library's local day and hour of a time.

Percentiles are exact while every value is at hand (the live rows); once a report also
covers rolled-up days, values are binned into the histogram, whose buckets are a quarter
of a power of two wide (each ~19 % wider than the last), so a median or a 90th
percentile read from it is within 9.1 % (2^(1/8)) of the exact figure.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

__all__ = [
    "MISSED_AFTER",
    "Histogram",
    "LocalTime",
    "Tally",
    "bucket",
    "bucket_value",
    "percentile",
]

MISSED_AFTER = 86_400.0  # an open conversation unanswered this long counts as missed
_STEPS = 4  # buckets per doubling


def bucket(seconds: float) -> int:
    """The histogram bucket of a duration: 0 below one second, then log-spaced."""
    return 0 if seconds < 1 else 1 + int(_STEPS * math.log2(seconds))


def bucket_value(index: int) -> float:
    """The value a bucket stands for: its geometric middle (0.5 s for bucket 0)."""
    return 0.5 if index == 0 else 2 ** ((index - 1 + 0.5) / _STEPS)


Histogram = Counter[int]


def percentile(values: list[float] | None, histogram: Histogram, q: float) -> float | None:
    """The ``q``-quantile (0.5 median, 0.9): exact from ``values`` when given, otherwise
    from ``histogram``. None when there is nothing to measure."""
    if values is not None:
        if not values:
            return None
        if q == 0.5:
            return float(statistics.median(values))
        ordered = sorted(values)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]
    total = sum(histogram.values())
    if not total:
        return None
    rank, seen = max(1, math.ceil(q * total)), 0
    for index in sorted(histogram):
        seen += histogram[index]
        if seen >= rank:
            return bucket_value(index)
    return None  # unreachable: seen reaches total


@dataclass
class Tally:
    """Counts over a set of conversations; ``merge`` adds another. ``first_values`` and
    ``close_values`` hold exact durations until a rolled-up day joins (then None)."""

    conversations: int = 0
    after_hours: int = 0
    answered: int = 0
    missed: int = 0
    ratings: list[int] = field(default_factory=lambda: [0] * 5)
    first_response: Histogram = field(default_factory=Counter)
    to_close: Histogram = field(default_factory=Counter)
    first_values: list[float] | None = field(default_factory=list)
    close_values: list[float] | None = field(default_factory=list)

    def add(self, after_hours: bool, first_wait: float | None, close_time: float | None,
            missed: bool, rating: int | None) -> None:
        """One live conversation."""
        self.conversations += 1
        self.after_hours += after_hours
        self.missed += missed
        if first_wait is not None:
            self.answered += 1
            self.first_response[bucket(first_wait)] += 1
            if self.first_values is not None:
                self.first_values.append(first_wait)
        if close_time is not None:
            self.to_close[bucket(close_time)] += 1
            if self.close_values is not None:
                self.close_values.append(close_time)
        if rating is not None and 1 <= rating <= 5:
            self.ratings[rating - 1] += 1

    def merge(self, other: Tally) -> None:
        self.conversations += other.conversations
        self.after_hours += other.after_hours
        self.answered += other.answered
        self.missed += other.missed
        self.ratings = [a + b for a, b in zip(self.ratings, other.ratings, strict=True)]
        self.first_response.update(other.first_response)
        self.to_close.update(other.to_close)
        self.first_values = _joined(self.first_values, other.first_values)
        self.close_values = _joined(self.close_values, other.close_values)

    @property
    def rated(self) -> int:
        return sum(self.ratings)

    @property
    def average_rating(self) -> float | None:
        n = self.rated
        return sum((i + 1) * c for i, c in enumerate(self.ratings)) / n if n else None

    @property
    def exact(self) -> bool:
        return self.first_values is not None and self.close_values is not None

    def first(self, q: float) -> float | None:
        return percentile(self.first_values, self.first_response, q)

    def close(self, q: float) -> float | None:
        return percentile(self.close_values, self.to_close, q)


def _joined(a: list[float] | None, b: list[float] | None) -> list[float] | None:
    """``a`` grown by ``b`` in place (merging many tallies stays linear)."""
    if a is None or b is None:
        return None
    a.extend(b)
    return a


class LocalTime:
    """The library's local date, weekday and hour of a Unix time, cached per quarter
    hour: every zone's offset is a whole number of quarter hours, so all times of one
    quarter hour share their local hour."""

    def __init__(self, timezone: str) -> None:
        self.zone = ZoneInfo(timezone)
        self._cache: dict[int, tuple[str, int, int]] = {}

    def __call__(self, ts: float) -> tuple[str, int, int]:
        """(YYYY-MM-DD, weekday 0=Monday, hour)."""
        key = int(ts // 900)
        found = self._cache.get(key)
        if found is None:
            local = dt.datetime.fromtimestamp(key * 900, self.zone)
            found = (local.date().isoformat(), local.weekday(), local.hour)
            self._cache[key] = found
        return found

    def midnight(self, day: dt.date) -> float:
        """The Unix time the library's ``day`` starts."""
        return dt.datetime.combine(day, dt.time(), self.zone).timestamp()

"""A waiting patron's place in the queue and an estimate of the wait.

The queue is every waiting conversation, ordered by its first unanswered patron message.
The estimate is the median of recent first-response times, one such stretch per
librarian answering ahead of the patron, less what the patron has already waited. With
no history a default stands in; with nobody at the desk the wait is unknown (None).
"""

from __future__ import annotations

import json
import math
import statistics
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from routing.reminders import Waiting

__all__ = [
    "DEFAULT_WAIT",
    "QueueSpot",
    "ResponseTimes",
    "estimate_wait",
    "queue_spot",
    "spot_text",
    "wait_text",
]

DEFAULT_WAIT = 180.0  # seconds, before the desk has answered anyone
_SHORTEST = 30.0  # never promise "now": an estimate below this reads "under a minute"


class ResponseTimes:
    """The most recent first-response times (seconds), for the median."""

    def __init__(self, keep: int = 50, seen: Iterable[float] = ()) -> None:
        self._times: deque[float] = deque(maxlen=keep)
        for seconds in seen:
            self.record(seconds)

    def record(self, seconds: float) -> None:
        if seconds >= 0 and math.isfinite(seconds):
            self._times.append(seconds)

    def median(self) -> float | None:
        return statistics.median(self._times) if self._times else None

    def __len__(self) -> int:
        return len(self._times)

    def to_json(self) -> str:
        return json.dumps(list(self._times))

    @classmethod
    def from_json(cls, text: str | None, keep: int = 50) -> ResponseTimes:
        if not text:
            return cls(keep)
        try:
            values = [float(v) for v in json.loads(text)]
        except (ValueError, TypeError):
            raise ValueError("saved response times are unreadable") from None
        return cls(keep, values)


@dataclass(frozen=True, slots=True)
class QueueSpot:
    position: int  # 1: the next patron to be answered
    waiting: int  # how many patrons wait in all
    wait: float | None  # estimated seconds still to wait; None when nobody is at the desk


def estimate_wait(
    position: int,
    waited: float,
    median: float | None,
    librarians: int,
    default: float = DEFAULT_WAIT,
) -> float | None:
    """Seconds still to wait for the patron at ``position`` with ``librarians`` answering."""
    if librarians <= 0:
        return None
    each = default if median is None else median
    total = each * math.ceil(position / librarians)
    return max(total - waited, _SHORTEST)


def queue_spot(
    conversation_id: str,
    waiting: Iterable[Waiting],
    now: float,
    times: ResponseTimes,
    librarians: int,
    default: float = DEFAULT_WAIT,
) -> QueueSpot | None:
    """Where this conversation stands; None when it is not waiting (already answered)."""
    line = sorted(waiting, key=lambda w: (w.since, w.conversation_id))
    for position, entry in enumerate(line, start=1):
        if entry.conversation_id == conversation_id:
            wait = estimate_wait(position, now - entry.since, times.median(), librarians,
                                 default)
            return QueueSpot(position, len(line), wait)
    return None


_TEXT = {
    "en": {
        "unknown": "we cannot estimate the wait right now",
        "short": "less than a minute", "minute": "about 1 minute",
        "minutes": "about {n} minutes", "long": "more than an hour",
        "next": "You are next in line.", "nth": "You are number {n} in line.",
        "wait": "Estimated wait: {wait}.", "nowait": "We cannot estimate the wait right now.",
    },
    "id": {
        "unknown": "perkiraan waktu tunggu belum tersedia",
        "short": "kurang dari satu menit", "minute": "sekitar 1 menit",
        "minutes": "sekitar {n} menit", "long": "lebih dari satu jam",
        "next": "Anda berikutnya dalam antrean.", "nth": "Anda nomor {n} dalam antrean.",
        "wait": "Perkiraan waktu tunggu: {wait}.",
        "nowait": "Perkiraan waktu tunggu belum tersedia.",
    },
}


def _text(lang: str) -> dict[str, str]:
    return _TEXT.get(lang.split("-")[0].lower(), _TEXT["en"])


def wait_text(seconds: float | None, lang: str = "en") -> str:
    """"about 5 minutes" / "sekitar 5 menit"; plain text, escape it where it goes."""
    words = _text(lang)
    if seconds is None:
        return words["unknown"]
    if seconds < 60:
        return words["short"]
    if seconds > 3600:
        return words["long"]
    minutes = round(seconds / 60)
    return words["minute"] if minutes == 1 else words["minutes"].format(n=minutes)


def spot_text(spot: QueueSpot, lang: str = "en") -> str:
    """The widget's line: "You are number 3 in line. Estimated wait: about 6 minutes."."""
    words = _text(lang)
    place = words["next"] if spot.position == 1 else words["nth"].format(n=spot.position)
    if spot.wait is None:
        return f"{place} {words['nowait']}"
    return f"{place} {words['wait'].format(wait=wait_text(spot.wait, lang))}"

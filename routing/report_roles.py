"""Reference statistics as libraries keep them: a question's kind and its effort on the
READ scale (1-6), noted by the librarian at ``/close``; and the store's role that keeps
them (``ReferenceMarks``).

Pure: parsing ``/close reference 3`` and checking it against the library's kinds.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "DEFAULT_KINDS",
    "READ_LEVELS",
    "BadReference",
    "LiveRow",
    "MarkKey",
    "NotedMark",
    "ReferenceEdits",
    "ReferenceMark",
    "ReferenceMarks",
    "ReportRows",
    "Rolled",
    "RolledDay",
    "Row",
    "parse_reference",
]

DEFAULT_KINDS = ("directional", "reference", "research", "technical", "account")
READ_LEVELS = range(1, 7)  # the READ scale (Reference Effort Assessment Data)


@dataclass(frozen=True, slots=True)
class ReferenceMark:
    """What a librarian noted about a conversation's question: its kind ('' when not
    said) and its READ effort (None when not said)."""

    kind: str = ""
    read_level: int | None = None

    @property
    def empty(self) -> bool:
        return not self.kind and self.read_level is None


class BadReference(ValueError):
    """The words after /close are not a kind and a READ level; the message says what is."""


def parse_reference(argument: str, kinds: Sequence[str]) -> ReferenceMark:
    """``"reference 3"``, ``"3 reference"``, ``"research"``, ``"4"`` or ``""`` (nothing
    noted). Kinds match case-insensitively, or by a unique prefix (``ref``)."""
    kind, level = "", None
    for word in argument.lower().split():
        if word.isdigit():
            if level is not None or int(word) not in READ_LEVELS:
                raise BadReference(_help(kinds, f"{word!r} is not a READ level"))
            level = int(word)
        elif kind:
            raise BadReference(_help(kinds, "give one kind"))
        else:
            kind = _kind(word, kinds)
    return ReferenceMark(kind, level)


def _kind(word: str, kinds: Sequence[str]) -> str:
    if word in kinds:
        return word
    matches = [k for k in kinds if k.startswith(word)]
    if len(matches) != 1:
        raise BadReference(_help(kinds, f"{word!r} is not a question kind"))
    return matches[0]


def _help(kinds: Sequence[str], why: str) -> str:
    return (f"Not closed: {why}. Send /close, or /close KIND LEVEL with KIND one of "
            f"{', '.join(kinds)} and LEVEL the READ effort 1-6, e.g. /close {kinds[0]} 2.")


class ReferenceMarks(Protocol):
    """The kind and READ level noted for a conversation; a later note replaces it.
    Deleted with its conversation (the daily aggregates keep the counts)."""

    async def save_reference(
        self, conversation_id: str, mark: ReferenceMark, librarian_id: str, at: float
    ) -> None: ...

    async def reference_of(self, conversation_id: str) -> ReferenceMark | None: ...


MarkKey = tuple[str, str, int]
"""How a mark is counted in a day's aggregates: librarian id, kind, READ level (0: none)."""


@dataclass(frozen=True, slots=True)
class NotedMark:
    """A conversation's mark with who noted it and when: the day it counts on."""

    mark: ReferenceMark
    librarian_id: str
    marked_at: float

    @property
    def key(self) -> MarkKey:
        return (self.librarian_id, self.mark.kind, self.mark.read_level or 0)


class ReferenceEdits(Protocol):
    """What the dashboard's editor of a mark needs beyond ``ReferenceMarks``: the mark's
    day and librarian, and moving one count of a day already rolled up."""

    async def reference_noted(self, conversation_id: str) -> NotedMark | None: ...

    async def recount_reference(self, day: str, old: MarkKey | None, new: MarkKey) -> None:
        """One more ``new`` and (when given) one less ``old`` in ``day``'s aggregates."""
        ...


LiveRow = tuple[float, str, int, float, float, str, "int | None", str, str, str, str, int]
"""A conversation as the reports read it: created_at, origin, after_hours,
first_response_at, closed_at, status, rating, claimed_by_id, tags (JSON), page url, kind,
READ level (0: not noted)."""


Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Rolled:
    """The aggregates of a span of rolled-up days, summed by the store. Counts are
    (conversations, after_hours, answered, missed, rated_1 .. rated_5)."""

    daily: list[Row] = field(default_factory=list)  # (day or period, *counts)
    day_channels: list[Row] = field(default_factory=list)  # (day, channel, conversations)
    durations: list[Row] = field(default_factory=list)  # (day or period, what, bucket, n)
    librarians: list[Row] = field(default_factory=list)  # (librarian_id, *counts)
    librarian_durations: list[Row] = field(default_factory=list)  # (librarian, what, bucket, n)
    reference: list[Row] = field(default_factory=list)  # (YYYY-MM, librarian, kind, level, n)
    hours: list[Row] = field(default_factory=list)  # (weekday 0=Monday, hour, n)
    terms: list[Row] = field(default_factory=list)  # ('tag'|'page', term, n), most first


@dataclass(frozen=True, slots=True)
class RolledDay:
    """One day's aggregate rows, in their tables' column order after ``day``."""

    days: tuple[Row, ...] = ()  # (channel, librarian_id, *counts)
    durations: tuple[Row, ...] = ()  # (librarian_id, what, bucket, n)
    reference: tuple[Row, ...] = ()  # (librarian_id, kind, read_level, n)
    hours: tuple[Row, ...] = ()  # (hour, n)
    terms: tuple[Row, ...] = ()  # (what, term, n)


class ReportRows(Protocol):
    """What the dashboard's reports read and the daily roll-up writes (migration 0011).
    Days are ``YYYY-MM-DD`` in the library's time zone; ``rolled_until`` is the first day
    not yet rolled up ('' when none is)."""

    async def report_rows(self, start: float, end: float) -> list[LiveRow]:
        """Conversations opened in ``[start, end)``, oldest first."""
        ...

    async def report_marks(self, start: float, end: float) -> list[Row]:
        """(marked_at, librarian_id, kind, read_level) of the reference marks noted in
        ``[start, end)``: a question counts on the day it was noted (closed)."""
        ...

    async def rolled_reference(self, first: str, last: str) -> list[Row]:
        """``Rolled.reference`` alone."""
        ...

    async def rolled(self, first: str, last: str, terms: int = 200, period: str = "day",
                     parts: Collection[str] = ()) -> Rolled:
        """The aggregates of days ``first..last`` (inclusive), summed; ``daily`` and
        ``durations`` by ``period``: "day", "week" (keyed by its Monday) or "month"
        (YYYY-MM). Only the ``Rolled`` fields named in ``parts`` (all when empty)."""
        ...

    async def rolled_until(self) -> str: ...

    async def save_rolled_day(self, day: str, rows: RolledDay, next_day: str) -> None:
        """Replace one day's aggregates and move ``rolled_until`` to ``next_day``, in one
        commit."""
        ...

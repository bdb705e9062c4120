"""The desk's day in figures (``/stats``): pure arithmetic over conversations."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from routing.model import Conversation

__all__ = ["DayStats", "day_stats"]


@dataclass(frozen=True, slots=True)
class DayStats:
    conversations: int
    answered: int
    median_first_response: float | None  # seconds; None when nothing was answered
    ratings: int
    average_rating: float | None


def day_stats(conversations: Sequence[Conversation], start: float, end: float) -> DayStats:
    """Figures for conversations opened in ``[start, end)``: how many, how many got a
    librarian's answer, the median wait for that first answer, and their ratings."""
    today = [c for c in conversations if start <= c.created_at < end]
    waits = [c.first_response_at - c.created_at for c in today if c.first_response_at]
    scores = [c.rating for c in today if c.rating is not None]
    return DayStats(
        conversations=len(today),
        answered=len(waits),
        median_first_response=statistics.median(waits) if waits else None,
        ratings=len(scores),
        average_rating=sum(scores) / len(scores) if scores else None,
    )

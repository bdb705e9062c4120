"""Whether someone is at the desk now, as the widget tells the patron.

The widget is handed a callable returning an ``Availability``; the bridge builds it from
the opening hours and the duty roster. Asked afresh for every config read and hello, so
a patron who reconnects sees the desk as it is now.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["ALWAYS_STAFFED", "Availability", "AvailabilitySource", "always_staffed"]


@dataclass(frozen=True, slots=True)
class Availability:
    """``staffed`` False makes the widget show the offline form; the texts say when the
    library answers (for example "We answer from Monday 08:00 (WIB)."), in each language."""

    staffed: bool = True
    opens_text_en: str = ""
    opens_text_id: str = ""

    def public(self) -> dict[str, Any]:
        return {"staffed": self.staffed,
                "opens": {"en": self.opens_text_en, "id": self.opens_text_id}}


AvailabilitySource = Callable[[], Availability]

ALWAYS_STAFFED = Availability()


def always_staffed() -> Availability:
    return ALWAYS_STAFFED

"""Who is on the library's pages now: the record the desk reads, and the port it reads.

The widget keeps this view in its process's memory (adapters/widget/presence.py); the
desk's ``/visitors`` and ``/greet`` read it through ``PresenceView``. Nothing of it is
stored: a visitor who leaves is gone from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from routing.model import PageInfo

__all__ = ["PresenceView", "PresentVisitor"]


@dataclass(frozen=True, slots=True)
class PresentVisitor:
    """One visitor with the widget open. ``label`` ("v-7f3a") is what the desk sees and
    types; ``visitor`` is the widget's visitor id, never shown (it is half a token)."""

    label: str
    visitor: str
    url: str  # "" unless the page is on one of the library's own sites
    title: str
    referrer_host: str
    user_agent: str
    language: str
    city: str  # "" unless the library configured a GeoLite2 database
    page_since: float  # epoch seconds the visitor opened this page
    arrived: float  # epoch seconds of their first hello in this visit

    def page(self) -> PageInfo:
        """What a conversation opened for this visitor shows on its info card."""
        return PageInfo(url=self.url, title=self.title, user_agent=self.user_agent,
                        language=self.language)


class PresenceView(Protocol):
    def visitors(self) -> Sequence[PresentVisitor]:
        """Everyone here now, newest arrival first."""
        ...

    def find(self, label: str) -> PresentVisitor | None:
        """The visitor with this label, if still here."""
        ...

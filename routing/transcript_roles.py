"""The store's transcript and retention roles: finding conversations by what was said
and by whom (the dashboard's transcripts), and forgetting what is older than the
library keeps it (the retention job).

Pure: records and protocols only; ``bridge/store/sqlite_transcripts.py`` implements
them on SQLite (FTS5), and the PostgreSQL store will with its own full-text search.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from routing.model import Conversation, Patron

__all__ = ["Forgotten", "Retention", "TranscriptHit", "TranscriptQuery", "Transcripts"]


@dataclass(frozen=True, slots=True)
class TranscriptQuery:
    """What the staff searched for; an empty field does not filter.

    ``words`` are matched as whole words, a word ending in ``*`` as a prefix, all of
    them in one message of the conversation; ``patron`` matches a name or email
    (contains) or a contact address (visitor id, Telegram user id, email: exactly);
    ``librarian`` the name or desk id of who claimed it; ``since``/``until`` the
    conversation's start, as epoch seconds (the caller turns library-time dates into
    them).
    """

    words: str = ""
    patron: str = ""
    librarian: str = ""
    tag: str = ""
    channel: str = ""
    rating: int | None = None
    since: float | None = None
    until: float | None = None


@dataclass(frozen=True, slots=True)
class TranscriptHit:
    """One conversation found, with who it was with and what matched (plain text)."""

    conversation: Conversation
    patron: Patron | None
    excerpt: str = ""


@dataclass(frozen=True, slots=True)
class Forgotten:
    """What one retention pass deleted, as counts (never what it was)."""

    transcripts: int = 0  # conversations whose messages went
    messages: int = 0
    visitors: int = 0  # conversations whose page and IP address went
    contacts: int = 0  # widget visitor ids let go
    files: int = 0


class Transcripts(Protocol):
    async def search_transcripts(
        self, query: TranscriptQuery, limit: int = 50, offset: int = 0
    ) -> list[TranscriptHit]:
        """Matching conversations, a page at a time: newest first (with words: the
        conversation whose newest matching message is newest first). Raises ValueError
        with a sentence a librarian can act on when ``words`` cannot be searched."""
        ...


class Retention(Protocol):
    async def stale_transcripts(self, before: float, limit: int = 500) -> list[Conversation]:
        """Closed conversations with messages left whose last activity is older than
        ``before`` and that no pending delivery still needs, oldest first."""
        ...

    async def forget_messages(self, conversation_ids: Sequence[str]) -> int:
        """Delete these conversations' messages, done deliveries, links, desk card and
        mail thread in one commit; the conversation row stays for the reports. Returns
        the number of messages deleted."""
        ...

    async def stale_pages(self, before: float, limit: int = 500) -> list[Conversation]:
        """Conversations started before ``before`` that still hold page info or an IP."""
        ...

    async def stale_visitors(self, before: float, limit: int = 500) -> list[Patron]:
        """Patrons with a widget contact whose every conversation was last active before
        ``before`` (or who have none)."""
        ...

    async def referenced_digests(self) -> set[str]:
        """Every blob digest a message still refers to."""
        ...

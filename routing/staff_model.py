"""The records the desk keeps about its own work: who is a librarian and on duty, who is
blocked, and which conversations wait for an answer. Pure data, like routing.model."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Block", "BlockKind", "Librarian", "Waiting"]


class BlockKind(enum.StrEnum):
    """What a block matches: an IP address or range, an email address, a Telegram user,
    a visitor."""

    IP = "ip"  # value: one address, "203.0.113.7" or "2001:db8:1:2::7"
    RANGE = "range"  # value: a network, "203.0.113.0/24" or "2001:db8:1:2::/64"
    EMAIL = "email"  # value: the address, lower case
    TELEGRAM = "telegram"  # value: str(Telegram user id)
    VISITOR = "visitor"  # value: the widget visitor id


@dataclass(frozen=True, slots=True)
class Block:
    """A patron kept out until ``until`` (epoch seconds; None is forever)."""

    id: str
    kind: BlockKind
    value: str
    until: float | None = None
    by: str = ""  # the librarian's name
    conversation_id: str = ""  # where it was set, for /blocks
    created_at: float = 0.0

    def active(self, now: float) -> bool:
        return self.until is None or now < self.until


@dataclass(frozen=True, slots=True)
class Librarian:
    """A member of the desk group as last seen, and whether they said /onduty."""

    id: str  # str(Telegram user id)
    name: str
    username: str = ""  # without "@", lower case
    on_duty: bool = False
    changed_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Waiting:
    """A conversation whose patron waits for an answer."""

    conversation_id: str
    since: float  # the first patron message after the last librarian answer
    reminders_sent: int = 0
    last_reminder_at: float | None = None
    # False while the patron's messages still wait in the desk's queue (a group over its
    # budget): a reminder would spend a post before the librarians can even see them.
    in_topic: bool = True

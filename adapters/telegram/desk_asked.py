"""What a desk command is handed: the ``[desk]`` settings, the hooks the bridge wires in,
and one librarian's command (``Asked``).

Apart from ``commands`` so that ``desk_verbs`` can name them without importing the
commands module that imports it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from adapters.directory.member import DirectoryUnavailable, Member
from routing.model import Conversation
from routing.presence import PresenceView
from routing.report_roles import DEFAULT_KINDS
from routing.router import RouterPolicy

__all__ = ["Asked", "DeskHooks", "DeskSettings"]


@dataclass(frozen=True)
class DeskSettings:
    """``[desk]`` in the configuration."""

    canned: Mapping[str, str] = field(default_factory=dict)  # /r key -> text
    reopen_days: float = 7.0  # a patron writing this soon after /close reopens the topic
    blocked_text: str = RouterPolicy().blocked_text  # what a blocked patron is told
    timezone: str = "UTC"  # the library's; /stats counts "today" there
    question_kinds: tuple[str, ...] = DEFAULT_KINDS  # what /close KIND LEVEL may note


async def _nobody_listens(librarian_id: str, name: str, on: bool) -> None:
    return None


async def _no_directory(number: str) -> Member | None:
    raise DirectoryUnavailable("no member directory is configured")


@dataclass(frozen=True)
class DeskHooks:
    """What the lead wires in: the duty roster and the member directory."""

    on_duty: Callable[[str, str, bool], Awaitable[None]] = _nobody_listens
    verify: Callable[[str], Awaitable[Member | None]] = _no_directory
    presence: PresenceView | None = None  # live widget visitors, for /visitors and /greet


@dataclass(frozen=True)
class Asked:
    """One librarian's command: who, where, and the conversation of that topic if any."""

    librarian_id: str
    name: str
    thread: int | None  # where to answer when there is no conversation
    message_id: int
    conversation: Conversation | None
    mention: tuple[str, str] | None = None  # (user id, name) of a text_mention in it
    reply_to: int | None = None  # the message the command answers (for /delete)

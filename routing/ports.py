"""The ports the core is handed: storage (its roles are in ``store_roles``), time, and
channel senders.

The outer layers implement these; ``routing`` never imports them back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from routing.model import Conversation, Delivery, Message, Patron
from routing.store_roles import (
    Blocks,
    ContactState,
    ContactStates,
    ConversationLog,
    Cursors,
    DeskCard,
    DeskState,
    Directory,
    EmailProof,
    Link,
    Links,
    MailThread,
    OutboxRows,
    OutboxStore,
    Reports,
    RouterStore,
    Store,
)

__all__ = [
    "Blocks",
    "Clock",
    "ContactState",
    "ContactStates",
    "ConversationLog",
    "Cursors",
    "DeskCard",
    "DeskState",
    "Directory",
    "EmailProof",
    "Link",
    "Links",
    "MailThread",
    "OutboxRows",
    "OutboxStore",
    "PermanentFailure",
    "Reports",
    "RouterStore",
    "Sender",
    "Sent",
    "Store",
    "SystemClock",
    "TemporaryFailure",
]


class Clock(Protocol):
    def now(self) -> float: ...


class SystemClock:
    def now(self) -> float:
        return time.time()


@dataclass(frozen=True, slots=True)
class Sent:
    """What a sender reports after a successful send."""

    external_id: str = ""
    desk_thread: int | None = None  # set when the desk sender opened (or re-opened) a topic


class TemporaryFailure(Exception):
    """The send may work later (network, 5xx, 429). ``retry_after`` is honoured exactly.

    ``maybe_sent`` says whether the far side may have taken the message before the
    failure (a timeout, a cut connection): the retry is then counted as a possible
    duplicate. By default a 429 was surely not taken and anything else may have been.
    """

    def __init__(
        self, reason: str, retry_after: float | None = None, *, maybe_sent: bool | None = None
    ) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.maybe_sent = retry_after is None if maybe_sent is None else maybe_sent


class PermanentFailure(Exception):
    """The send will never work (patron blocked the bot, address rejected)."""


class Sender(Protocol):
    """One per destination channel: turns a delivery into the channel's own send."""

    async def send(
        self, delivery: Delivery, message: Message, conversation: Conversation, patron: Patron
    ) -> Sent: ...

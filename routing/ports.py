"""The ports the core is handed: storage (its roles are in ``store_roles``), time, and
channel senders.

The outer layers implement these; ``routing`` never imports them back.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
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
    "BudgetedCalls",
    "Clock",
    "ContactState",
    "ContactStates",
    "ConversationLog",
    "Cursors",
    "DeskCard",
    "DeskState",
    "DeskTopics",
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
    "TopicFailure",
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
    # The topic the desk sender opened, already kept through ``DeskTopics``; the outbox
    # only learns from it that the conversation it read has changed.
    desk_thread: int | None = None


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
    """One per destination channel: turns a delivery into the channel's own send.

    The contract with the outbox, all of it declared here: ``budget_keys`` is what a
    send will cost in Telegram's budget, ``send`` does it and returns ``Sent`` or raises
    ``TemporaryFailure`` (``TopicFailure`` when the desk's topic changed on the way) or
    ``PermanentFailure``. A topic's id is saved by the sender through ``DeskTopics``,
    and only there.
    """

    def budget_keys(
        self, delivery: Delivery, conversation: Conversation, patron: Patron, message: Message
    ) -> tuple[str, ...]:
        """The rate-limit windows the send of ``delivery`` uses, a key once per message
        it costs there (an album of five costs five; opening a topic costs the topic
        too). Senders Telegram does not limit (the widget, email) return ``()``."""
        ...

    async def send(
        self, delivery: Delivery, message: Message, conversation: Conversation, patron: Patron
    ) -> Sent: ...


# -- the desk's topics and the failures that change them (issue 15) --------------------


class DeskTopics(Protocol):
    """The one way a conversation's desk topic is saved: by the sender that opened it,
    the moment Telegram made it (the router does it under the conversation's lock, so a
    claim saved meanwhile is kept)."""

    async def keep_topic(self, conversation_id: str, thread: int | None) -> None:
        """Save ``thread`` as the conversation's topic; None forgets a deleted one."""
        ...


class TopicFailure(TemporaryFailure):
    """A temporary failure of a desk send that changed the conversation's topic first.

    ``opened_topic``: a topic the send opened (and kept through ``DeskTopics``) before
    its post failed; the retry posts there instead of opening another.
    ``topic_gone``: the topic the send posted to was deleted (and forgotten through
    ``DeskTopics``); the retry, due at once, opens a new one and books its cost first.
    """

    def __init__(
        self, reason: str, retry_after: float | None = None, *,
        maybe_sent: bool | None = None, opened_topic: int | None = None,
        topic_gone: bool = False,
    ) -> None:
        super().__init__(reason, retry_after, maybe_sent=maybe_sent)
        self.opened_topic = opened_topic
        self.topic_gone = topic_gone


class BudgetedCalls(Protocol):
    """One call outside the outbox (a desk command's answer in General) made within the
    outbox's budget: it waits for its turn, a 429 pauses the chat for everyone."""

    async def spend(self, keys: tuple[str, ...], call: Callable[[], Awaitable[None]]) -> None:
        """Run ``call`` when ``keys`` allow; ``call`` raises ``TemporaryFailure`` (a 429
        with its ``retry_after``) or ``PermanentFailure`` as a sender does."""
        ...

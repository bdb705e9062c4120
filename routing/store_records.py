"""The records the store keeps beside conversations and messages: links between ids of
two worlds, the desk's card, a conversation's mail thread, what a channel keeps per
contact. The roles that keep them are routing.store_roles'."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ContactState", "DeskCard", "EmailProof", "Link", "MailThread"]


@dataclass(frozen=True, slots=True)
class Link:
    """One id in another world tied to our conversation and message.

    Persisted so that a librarian replying to a forwarded Telegram message, or a patron
    answering an email, still finds its conversation after a restart.
    """

    channel: str  # "desk", "telegram", "email" ...
    external_id: str
    conversation_id: str
    message_id: str = ""


@dataclass(frozen=True, slots=True)
class DeskCard:
    """The info card that opens a conversation's topic: its Telegram message id, and what
    followed the card in its post (the patron's first question), None when not known."""

    message_id: int
    tail: str | None = None


@dataclass(frozen=True, slots=True)
class MailThread:
    """How a conversation threads by email: its subject, the Message-ID of the patron's
    last mail, the ids a reply cites, and whether the after-hours acknowledgement went."""

    subject: str = ""
    last_patron_id: str = ""
    references: tuple[str, ...] = ()
    acknowledged: bool = False


@dataclass(frozen=True, slots=True)
class EmailProof:
    """A code mailed to prove an address, not yet typed back: only its salted hash."""

    email: str
    salt: str
    digest: str
    expires: float
    tries: int = 0


@dataclass(frozen=True, slots=True)
class ContactState:
    """What a channel keeps about one contact point (a Telegram chat, a widget visitor)
    beyond the patron record: it outlives a restart and belongs to no conversation."""

    language: str = ""  # the language the patron's app reports ("" unknown)
    unreachable_since: float = 0.0  # a send found the contact gone (bot blocked); 0: fine
    token_generation: int = 0  # widget: tokens of an older generation are refused
    email_proof: EmailProof | None = None  # the code pending for a typed address

"""What a patron's message tells of them and of the conversation it opens: the pure
rules ``intake.py`` applies (which address it proves, the tags it opens with)."""

from __future__ import annotations

from dataclasses import replace

from routing.model import SENDER_UNVERIFIED_TAG, Channel, Inbound, Patron

__all__ = ["mail_key", "opening_tags", "proves_email", "with_typed_email"]


def opening_tags(inbound: Inbound) -> tuple[str, ...]:
    """A new conversation's tags: a forged sender, and the topic the patron chose."""
    flagged = (SENDER_UNVERIFIED_TAG,) if inbound.sender_unverified else ()
    return (*flagged, inbound.topic) if inbound.topic else flagged


def proves_email(inbound: Inbound) -> bool:
    """Whether the message proves its email address: a mail's own sender address is as
    proved as mail can prove it; an address typed into a form (the widget's offline
    form) is not. A forged From (sender_unverified) proves nothing, so it claims no
    one's address."""
    return (inbound.channel is Channel.EMAIL and not inbound.sender_unverified
            and mail_key(inbound.email) == mail_key(inbound.address))


def mail_key(address: str) -> str:
    return address.strip().lower()


def with_typed_email(patron: Patron, email: str, *, confirmed: bool = False) -> Patron:
    """The patron with ``email`` as their address: a new address starts unconfirmed
    (unless ``confirmed``); the same address keeps what it had."""
    if not email:
        return patron
    if mail_key(email) == mail_key(patron.email):
        return replace(patron, email_confirmed=patron.email_confirmed or confirmed)
    return replace(patron, email=email, email_confirmed=confirmed)

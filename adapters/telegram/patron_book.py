"""What the bot remembers about each Telegram patron, kept in the store.

Persisted, not in memory, so a restart (or a second process) still knows a patron's
language and that they blocked the bot (``ContactStates``, per Telegram chat), which
private message a reply became, for edits (``DeskState.posted``, owned by the message),
and which message thanks for a rating, so a reply to it is taken as the comment (a link
to the conversation, through ``Trail``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from routing.model import Channel, Contact, Patron
from routing.ports import (
    ContactState,
    ContactStates,
    ConversationLog,
    DeskState,
    Directory,
    Links,
)
from routing.trail import RATING_THANKS, Trail

__all__ = ["PatronBook", "PatronState", "PatronStore", "chat_of"]


class PatronStore(ConversationLog, Directory, DeskState, Links, ContactStates, Protocol):
    """The roles of the store the Telegram patron side reads and keeps its notes in;
    it writes records only through the router and ``Trail``."""


_SENT = "telegram.patron"  # DeskState.posted place of our message: "chat:message id"


@dataclass(frozen=True, slots=True)
class PatronState:
    language: str = "en"
    unreachable_since: float = 0.0  # when a send found the bot blocked; 0 = reachable



def _chat(user_id: int) -> Contact:
    return Contact(Channel.TELEGRAM, str(user_id))


def _patron_state(kept: ContactState | None) -> PatronState:
    if kept is None:
        return PatronState()
    return PatronState(kept.language or "en", kept.unreachable_since)


def chat_of(patron: Patron) -> int | None:
    """The patron's private chat id (the same as their Telegram user id), if any."""
    for contact in patron.contacts:
        if contact.channel is Channel.TELEGRAM and contact.address.lstrip("-").isdigit():
            return int(contact.address)
    return None


class PatronBook:
    def __init__(self, store: PatronStore) -> None:
        self.store = store

    async def state(self, user_id: int) -> PatronState:
        return _patron_state(await self.store.contact_state(_chat(user_id)))

    async def wrote(self, user_id: int, language: str) -> tuple[PatronState, bool]:
        """The patron wrote to the bot: note their language; writing unblocks the bot.
        True when the bot never heard from them before (they are to be greeted).
        Written only when something changed, so a chatty patron costs one read each."""
        kept = await self.store.contact_state(_chat(user_id))
        now = PatronState(language, 0.0)
        if kept is None or now != _patron_state(kept):
            await self._save(user_id, kept, now)
        return now, kept is None

    async def unreachable(self, user_id: int, since: float) -> bool:
        """Record that the patron blocked the bot; True when this is news."""
        kept = await self.store.contact_state(_chat(user_id))
        before = _patron_state(kept)
        if before.unreachable_since:
            return False
        await self._save(user_id, kept, PatronState(before.language, since))
        return True

    async def _save(self, user_id: int, kept: ContactState | None, now: PatronState) -> None:
        await self.store.save_contact_state(_chat(user_id), replace(
            kept or ContactState(), language=now.language,
            unreachable_since=now.unreachable_since))

    async def remember_sent(self, message_id: str, chat_id: int, sent_id: int) -> None:
        await self.store.save_posted(message_id, _SENT, f"{chat_id}:{sent_id}")

    async def sent_as(self, message_id: str) -> tuple[int, int] | None:
        raw = await self.store.posted(message_id, _SENT)
        chat, _, sent = (raw or "").partition(":")
        try:
            return int(chat), int(sent)
        except ValueError:
            return None

    async def remember_rating(self, chat_id: int, sent_id: int, cid: str) -> None:
        """The thanks for rating ``cid`` went to the chat as ``sent_id``."""
        await Trail(self.store).rating_thanks(chat_id, sent_id, cid)

    async def rating_at(self, chat_id: int, sent_id: int) -> tuple[str, int] | None:
        """The conversation and score a thanks for a rating stands for, while rated."""
        link = await self.store.find_link(RATING_THANKS, f"{chat_id}:{sent_id}")
        if link is None:
            return None
        conversation = await self.store.get_conversation(link.conversation_id)
        if conversation is None or conversation.rating is None:
            return None
        return conversation.id, conversation.rating

"""What the bot remembers about each Telegram patron, kept in the store.

Persisted, not in memory, so a restart (or a second process) still knows a patron's
language and that they blocked the bot (key-value state, per Telegram user), which
private message a reply became, for edits (``DeskState.posted``, owned by the message),
and which message thanks for a rating, so a reply to it is taken as the comment (a link
to the conversation, through ``Trail``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from routing.model import Channel, Patron
from routing.ports import ConversationLog, Cursors, DeskState, Directory, Links
from routing.trail import RATING_THANKS, Trail

__all__ = ["PatronBook", "PatronState", "PatronStore", "chat_of"]


class PatronStore(ConversationLog, Directory, DeskState, Links, Cursors, Protocol):
    """The roles of the store the Telegram patron side reads and keeps its notes in;
    it writes records only through the router and ``Trail``."""


_PATRON = "telegram.patron."  # + user id -> "lang|unreachable since"
_SENT = "telegram.patron"  # DeskState.posted place of our message: "chat:message id"


@dataclass(frozen=True, slots=True)
class PatronState:
    language: str = "en"
    unreachable_since: float = 0.0  # when a send found the bot blocked; 0 = reachable

    def dump(self) -> str:
        return f"{self.language}|{self.unreachable_since!r}"

    @classmethod
    def load(cls, raw: str | None) -> PatronState:
        lang, _, since = (raw or "").partition("|")
        try:
            return cls(lang or "en", float(since or 0))
        except ValueError:
            return cls(lang or "en")


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
        return PatronState.load(await self.store.get_state(f"{_PATRON}{user_id}"))

    async def wrote(self, user_id: int, language: str) -> tuple[PatronState, bool]:
        """The patron wrote to the bot: note their language; writing unblocks the bot.
        True when the bot never heard from them before (they are to be greeted).
        Written only when something changed, so a chatty patron costs one read each."""
        raw = await self.store.get_state(f"{_PATRON}{user_id}")
        now = PatronState(language, 0.0)
        if raw is None or now != PatronState.load(raw):
            await self.store.set_state(f"{_PATRON}{user_id}", now.dump())
        return now, raw is None

    async def unreachable(self, user_id: int, since: float) -> bool:
        """Record that the patron blocked the bot; True when this is news."""
        before = await self.state(user_id)
        if before.unreachable_since:
            return False
        changed = PatronState(before.language, since)
        await self.store.set_state(f"{_PATRON}{user_id}", changed.dump())
        return True

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

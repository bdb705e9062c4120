"""The trail an adapter leaves in the store: which conversation an id of its world leads
to (a mail, a Telegram post). The one way adapters write links (``routing.ports.Links``;
a desk topic is ``router.records.keep_topic``), each verb named for what happened, so a reader
finds every such writer by name.

A mail taken in must never be taken twice, and mail citing it must thread there; a
Telegram message one of ours became (an album's later items) must lead a librarian's
reply or /delete to it.
"""

from __future__ import annotations

from collections.abc import Iterable

from routing.model import Channel
from routing.ports import Link, Links

__all__ = ["RATING_THANKS", "Trail"]

RATING_THANKS = "telegram.rated"  # Link.channel of the thanks for a rating in a patron's chat


class Trail:
    def __init__(self, links: Links) -> None:
        self._links = links

    async def mail_taken(self, mail_key: str, conversation_id: str, message_id: str = "") -> None:
        """An email (its Message-ID, or the key made for one without) went into
        ``conversation_id``, as ``message_id`` or, a rating or a bounce, as no message."""
        await self._links.save_link(
            Link(Channel.EMAIL.value, mail_key, conversation_id, message_id))

    async def rating_thanks(self, chat_id: int, telegram_id: int, conversation_id: str) -> None:
        """The thanks for a rating went to a patron's Telegram chat as ``telegram_id``:
        a reply to it is the comment on the conversation's rating."""
        await self._links.save_link(
            Link(RATING_THANKS, f"{chat_id}:{telegram_id}", conversation_id))

    async def desk_posts(self, conversation_id: str, message_id: str,
                         telegram_ids: Iterable[int]) -> None:
        """Telegram messages in the desk group that ``message_id`` became, besides the
        first one (which the outbox or the router links)."""
        for telegram_id in telegram_ids:
            await self._links.save_link(
                Link(Channel.DESK.value, str(telegram_id), conversation_id, message_id))

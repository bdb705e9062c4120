"""What the desk's sender, poller, commands and buttons share: the group and the card."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from adapters.telegram import render
from routing.model import Conversation
from routing.ports import ConversationLog, Cursors, DeskState, Directory, Links

__all__ = ["DeskStore", "DeskTarget", "card_markup"]


class DeskStore(ConversationLog, Directory, DeskState, Links, Cursors, Protocol):
    """The roles of the store the desk reads (conversations, librarians, cards, links)
    and keeps its getUpdates offset in; it writes records only through the router."""


# The info card of each topic is kept through ``routing.ports.DeskState`` (a DeskCard):
# its message id, and what followed it in its post (the patron's first question), so a
# card rewritten later (/verify) keeps it, or the question would vanish from the topic.


@dataclass(frozen=True)
class DeskTarget:
    chat_id: int
    forum: bool  # False: a group without topics; librarians reply to forwarded messages
    origins: tuple[str, ...] = ()  # the library's own sites: only their pages are linked


def card_markup(conversation: Conversation, *, choosing_block: bool = False
                ) -> InlineKeyboardMarkup:
    rows = (render.block_buttons(conversation) if choosing_block
            else render.card_buttons(conversation))
    return InlineKeyboardMarkup([
        [InlineKeyboardButton(label, callback_data=data) for label, data in row]
        for row in rows
    ])

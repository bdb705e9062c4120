"""What the desk's sender, poller, commands and buttons share: the group and the card."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from adapters.telegram import render
from routing.model import Conversation

__all__ = ["DeskTarget", "card_markup"]

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

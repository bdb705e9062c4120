"""What the desk's sender, poller, commands and buttons share: the group and the card."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from adapters.telegram import render
from routing.model import Conversation

__all__ = ["CARD_KEY", "CARD_TAIL_KEY", "DeskTarget", "card_markup"]

CARD_KEY = "telegram.desk.card."  # + conversation id -> the info card's message id
# + conversation id -> what followed the card in its post (the patron's first question):
# a card rewritten later (/verify) keeps it, or the question would vanish from the topic.
CARD_TAIL_KEY = "telegram.desk.card_tail."


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

"""The outbox's sender for Telegram patrons: replies and status lines in the private chat.

A librarian's reply arrives with the librarian's name; status lines ("claimed",
"closed", "reopened") are worded in the patron's language; a rating request carries
buttons 1 to 5. A patron who blocked the bot is a permanent failure (the outbox then
says so in the topic) and is recorded as unreachable until they write again.
"""

from __future__ import annotations

import logging

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError

from adapters.telegram import patron_words as words
from adapters.telegram.desk import telegram_failure
from adapters.telegram.patron_book import PatronBook, chat_of
from routing.model import Conversation, Delivery, Direction, Message, Patron
from routing.ports import Clock, PermanentFailure, Sent, Store, SystemClock

__all__ = ["PatronSender"]

log = logging.getLogger(__name__)


class PatronSender:
    """``routing.ports.Sender`` for ``Channel.TELEGRAM``."""

    def __init__(self, bot: Bot, store: Store, clock: Clock | None = None) -> None:
        self._bot = bot
        self._book = PatronBook(store)
        self._clock = clock or SystemClock()

    def budget_keys(
        self, delivery: Delivery, conversation: Conversation, patron: Patron,
        message: Message | None = None,
    ) -> tuple[str, ...]:
        """The bot's budget and the private chat's ("private" rule: about 1 a second)."""
        chat = chat_of(patron)
        return ("bot",) if chat is None else ("bot", f"private:{chat}")

    async def send(
        self, delivery: Delivery, message: Message, conversation: Conversation, patron: Patron
    ) -> Sent:
        chat = chat_of(patron)
        if chat is None:
            raise PermanentFailure("the patron has no Telegram chat")
        if message.direction in (Direction.NOTE, Direction.PATRON):
            return Sent()  # never shown to the patron (notes), or theirs already
        lang = (await self._book.state(chat)).language
        try:
            posted = await self._send(chat, lang, message, conversation)
        except Forbidden as exc:
            raise await self._unreachable(chat, exc) from exc
        except TelegramError as exc:
            raise telegram_failure(exc) from exc
        return Sent(external_id=f"{chat}:{posted}")

    async def _send(
        self, chat: int, lang: str, message: Message, conversation: Conversation
    ) -> int:
        if message.direction is Direction.SYSTEM:
            buttons = None
            if message.event == "rating_request":
                buttons = InlineKeyboardMarkup([
                    [InlineKeyboardButton(label, callback_data=data) for label, data in row]
                    for row in words.rating_buttons(conversation.id)
                ])
            return await self._post(chat, words.system_html(message, lang), buttons)
        if message.event == "edited" and message.replaces:
            edited = await self._edit(chat, lang, message)
            if edited is not None:
                return edited
        text = words.librarian_html(message.author, message.text,
                                    edited=message.event == "edited", lang=lang)
        posted = await self._post(chat, text)
        await self._book.remember_sent(message.id, chat, posted)
        return posted

    async def _edit(self, chat: int, lang: str, message: Message) -> int | None:
        """Edit the private message the original reply became; None when it cannot be
        (never sent, deleted by the patron): the caller then sends the new text."""
        where = await self._book.sent_as(message.replaces)
        if where is None or where[0] != chat:
            return None
        text = words.librarian_html(message.author, message.text, edited=True, lang=lang)
        try:
            await self._bot.edit_message_text(text, chat, where[1], parse_mode=ParseMode.HTML)
        except BadRequest as exc:
            if "not modified" in exc.message.lower():
                return where[1]
            log.info("could not edit message %s in chat %s (%s); sending anew",
                     where[1], chat, exc.message)
            return None
        await self._book.remember_sent(message.id, chat, where[1])
        return where[1]

    async def _post(self, chat: int, text: str,
                    buttons: InlineKeyboardMarkup | None = None) -> int:
        posted = await self._bot.send_message(chat, text, parse_mode=ParseMode.HTML,
                                              reply_markup=buttons)
        return posted.message_id

    async def _unreachable(self, chat: int, exc: Forbidden) -> PermanentFailure:
        """Remember the patron as unreachable; the outbox puts the reason in the topic."""
        if "blocked" not in exc.message.lower():
            return PermanentFailure(f"Telegram refused: {exc.message}")
        if await self._book.unreachable(chat, self._clock.now()):
            log.info("Telegram patron %s has blocked the bot", chat)
        return PermanentFailure(
            "the patron has blocked the bot on Telegram; nothing reaches them there "
            "until they write to it again")

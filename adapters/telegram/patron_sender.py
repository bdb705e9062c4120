"""The outbox's sender for Telegram patrons: replies and status lines in the private chat.

A librarian's reply arrives with the librarian's name; status lines ("claimed",
"closed", "reopened") are worded in the patron's language; a rating request carries
buttons 1 to 5. A patron who blocked the bot is a permanent failure (the outbox then
says so in the topic) and is recorded as unreachable until they write again.

A librarian's files go as photos, documents, voice notes or an album, the name and text
as the caption. Every private message a reply became is remembered, so an edit changes
it and a withdrawal (``/delete`` in the topic) deletes all of it from the chat.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError

from adapters.blobs import BlobStore
from adapters.telegram import patron_words as words
from adapters.telegram.desk import telegram_failure
from adapters.telegram.files_send import (
    Place,
    PostLog,
    available,
    cost,
    file_line,
    plan,
    send_posts,
)
from adapters.telegram.patron_book import PatronBook, PatronStore, chat_of
from routing.model import Attachment, Conversation, Delivery, Direction, Message, Patron
from routing.ports import Clock, PermanentFailure, Sent, SystemClock

__all__ = ["PatronSender"]

log = logging.getLogger(__name__)

_ALL_SENT = "telegram.patron.all"  # DeskState.posted place: "chat:id,id,…" (albums)


class PatronSender:
    """``routing.ports.Sender`` for ``Channel.TELEGRAM``."""

    def __init__(self, bot: Bot, store: PatronStore, clock: Clock | None = None, *,
                 blobs: BlobStore | None = None) -> None:
        self._bot = bot
        self._store = store
        self._book = PatronBook(store)
        self._clock = clock or SystemClock()
        self._blobs = blobs

    def budget_keys(
        self, delivery: Delivery, conversation: Conversation, patron: Patron,
        message: Message | None = None,
    ) -> tuple[str, ...]:
        """The bot's budget and the private chat's ("private" rule: about 1 a second),
        once per Telegram message the send costs (an album of three costs three)."""
        chat = chat_of(patron)
        posts = 1
        if message is not None and message.attachments:
            text = words.librarian_html(message.author, message.text)  # the length matters
            posts = max(1, cost(plan(text, message.attachments)))
        if chat is None:
            return ("bot",) * posts
        return ("bot",) * posts + (f"private:{chat}",) * posts

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
        return Sent(external_id=f"{chat}:{posted}" if posted else "")  # 0: nothing posted

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
        if message.event == "withdrawn":
            return await self._withdraw(chat, lang, message)
        if message.event == "edited" and message.replaces:
            edited = await self._edit(chat, lang, message)
            if edited is not None:
                return edited
        text = words.librarian_html(message.author, message.text,
                                    edited=message.event == "edited", lang=lang)
        if message.attachments:
            return await self._send_files(chat, lang, message, text)
        posted = await self._post(chat, text)
        await self._book.remember_sent(message.id, chat, posted)
        return posted

    async def _send_files(self, chat: int, lang: str, message: Message, text: str) -> int:
        """The reply's files, the name and text as the caption; a file that cannot go is
        a line saying so. Every message it became is remembered (for a withdrawal)."""
        attachments, data = await available(self._blobs, message.attachments)

        def line(attachment: Attachment) -> str:  # the desk's note is not for the patron
            return file_line(replace(attachment, note=""), words.say("file_unsent", lang))

        posts = plan(text, attachments, line)
        ids = await send_posts(self._bot, Place(chat), posts, data,
                               PostLog(self._store, message.id, f"telegram.posts.{chat}"))
        await self._book.remember_sent(message.id, chat, ids[0])
        if len(ids) > 1:
            await self._store.save_posted(message.id, _ALL_SENT,
                                          f"{chat}:{','.join(map(str, ids))}")
        return ids[0]

    async def _withdraw(self, chat: int, lang: str, message: Message) -> int:
        """Delete every message the reply became; where Telegram no longer lets the bot
        (older than two days), say in the chat that the librarian withdrew it."""
        ids = await self._sent_ids(message.replaces, chat)
        if not ids:
            return 0  # never reached this chat: nothing to take back
        kept = False
        for sent_id in ids:
            try:
                await self._bot.delete_message(chat, sent_id)
            except BadRequest as exc:
                if "not found" not in exc.message.lower():  # the patron deleted it: fine
                    log.info("could not delete message %s in chat %s: %s",
                             sent_id, chat, exc.message)
                    kept = True
        if kept:
            return await self._post(chat, f"<i>{words.say('withdrawn', lang)}</i>")
        return 0

    async def _sent_ids(self, message_id: str, chat: int) -> list[int]:
        raw = await self._store.posted(message_id, _ALL_SENT)
        where, _, ids = (raw or "").partition(":")
        if where == str(chat) and ids:
            return [int(i) for i in ids.split(",") if i.isdigit()]
        first = await self._book.sent_as(message_id)
        return [first[1]] if first is not None and first[0] == chat else []

    async def _edit(self, chat: int, lang: str, message: Message) -> int | None:
        """Edit the private message the original reply became; None when it cannot be
        (never sent, deleted by the patron): the caller then sends the new text."""
        where = await self._book.sent_as(message.replaces)
        if where is None or where[0] != chat:
            return None
        text = words.librarian_html(message.author, message.text, edited=True, lang=lang)
        try:
            try:
                await self._bot.edit_message_text(text, chat, where[1],
                                                  parse_mode=ParseMode.HTML)
            except BadRequest as exc:  # a reply with files: its text is a caption
                if "no text in the message" not in exc.message.lower():
                    raise
                await self._bot.edit_message_caption(chat, where[1], caption=text,
                                                     parse_mode=ParseMode.HTML)
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

"""The librarians' desk: a Telegram group, one forum topic per conversation.

``DeskSender`` is the outbox's sender for the desk (opens topics, posts patron messages);
``DeskPoller`` reads librarians' replies with getUpdates and hands them to the router.
The update offset is saved only after an update is safely stored, so a restart neither
loses nor repeats one (PTB's own Updater confirms before processing, so it is not used).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from telegram import Bot, InlineKeyboardMarkup, Update, User
from telegram import Message as TgMessage
from telegram.constants import MessageEntityType, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from adapters.telegram import render
from adapters.telegram.commands import Asked, DeskCommands
from adapters.telegram.desk_base import CARD_KEY, DeskTarget, card_markup
from adapters.telegram.desk_buttons import DeskButtons
from routing.model import Conversation, Delivery, DeliveryKind, DeskReply, Message, Patron
from routing.ports import PermanentFailure, Sent, Store, TemporaryFailure
from routing.router import Claimed, Router

__all__ = ["DeskPoller", "DeskSender", "DeskTarget", "telegram_failure"]

log = logging.getLogger(__name__)

OFFSET_KEY = "telegram.desk.offset"
_THREAD_GONE = ("message thread not found", "topic_deleted", "topic deleted", "topic_closed")


def telegram_failure(exc: TelegramError) -> Exception:
    """Map a Telegram error onto the outbox's two kinds of failure."""
    if isinstance(exc, RetryAfter):
        retry = exc.retry_after
        seconds = retry.total_seconds() if hasattr(retry, "total_seconds") else float(retry)
        return TemporaryFailure(f"Telegram rate limit: {exc.message}", seconds)
    if isinstance(exc, Forbidden):
        return PermanentFailure(f"Telegram refused: {exc.message}")
    if isinstance(exc, BadRequest):
        return PermanentFailure(f"Telegram rejected the message: {exc.message}")
    if isinstance(exc, NetworkError):  # includes TimedOut
        return TemporaryFailure(f"Telegram unreachable: {exc.message}")
    return TemporaryFailure(f"Telegram error: {exc}")


class DeskSender:
    """``store`` (optional) remembers each info card's message id, so ``/verify`` can
    show its result on the card."""

    def __init__(self, bot: Bot, target: DeskTarget, store: Store | None = None) -> None:
        self._bot = bot
        self._target = target
        self._store = store

    def budget_keys(
        self, delivery: Delivery, conversation: Conversation, patron: Patron
    ) -> tuple[str, ...]:
        """Every send spends the bot's and the group's budget; opening a topic spends two
        of the group's (Telegram counts the topic's creation message)."""
        group = f"group:{self._target.chat_id}"
        if conversation.desk_thread is None and self._target.forum:
            return ("bot", group, group)
        return ("bot", group)

    async def send(
        self, delivery: Delivery, message: Message, conversation: Conversation, patron: Patron
    ) -> Sent:
        try:
            return await self._send(delivery, message, conversation, patron)
        except TelegramError as exc:
            raise telegram_failure(exc) from exc

    async def _send(
        self, delivery: Delivery, message: Message, conversation: Conversation, patron: Patron
    ) -> Sent:
        if delivery.kind is DeliveryKind.DESK_NOTICE:
            text = render.notice_text(message)
        else:
            text = render.patron_text(message, patron, with_name=not self._target.forum)
        thread = conversation.desk_thread
        if thread is None:
            return await self._open(patron, conversation, text)
        event = message.event if delivery.kind is DeliveryKind.DESK_NOTICE else ""
        if event == "reopened":
            await self._topic_state(thread, closed=False)
        try:
            sent = await self._post(text, thread)
        except BadRequest as exc:
            if not self._target.forum or not _thread_gone(exc):
                raise
            log.warning("topic %s of conversation %s is gone; opening a new one",
                        thread, conversation.id)
            return await self._open(patron, conversation, text, reopened=True)
        if event == "closed":
            await self._topic_state(thread, closed=True)
        return Sent(external_id=str(sent.message_id))

    async def _topic_state(self, thread: int, *, closed: bool) -> None:
        """Close or reopen a conversation's topic; already so is fine (a retried send)."""
        if not self._target.forum:
            return
        try:
            if closed:
                await self._bot.close_forum_topic(self._target.chat_id, thread)
            else:
                await self._bot.reopen_forum_topic(self._target.chat_id, thread)
        except BadRequest as exc:
            if "TOPIC_NOT_MODIFIED" not in exc.message.upper():
                raise

    async def _open(
        self, patron: Patron, conversation: Conversation, text: str, reopened: bool = False
    ) -> Sent:
        """Open the conversation's place in the desk: the info card and the first message
        go as one post, which spends one message of the group's budget, not two."""
        card = render.info_card(patron, conversation, forum=self._target.forum)
        if reopened:
            card += "\n<i>The earlier topic was deleted; this one continues it.</i>"
        # HTML is never shorter than the text Telegram counts, so this check is safe.
        fits = len(card) + 2 + len(text) <= render.TELEGRAM_TEXT_LIMIT
        first = f"{card}\n\n{text}" if fits else card
        buttons = card_markup(conversation)
        if not self._target.forum:
            posted = await self._bot.send_message(self._target.chat_id, first,
                                                  parse_mode=ParseMode.HTML,
                                                  disable_web_page_preview=True,
                                                  reply_markup=buttons)
            await self._remember_card(conversation, posted)
            if not fits:
                await self._bot.send_message(self._target.chat_id, text,
                                             parse_mode=ParseMode.HTML,
                                             reply_to_message_id=posted.message_id)
            # The card is the conversation's anchor: replies to it reach the patron.
            return Sent(external_id=str(posted.message_id), desk_thread=posted.message_id)
        topic = await self._bot.create_forum_topic(
            self._target.chat_id, render.topic_name(patron, conversation)
        )
        posted = await self._post(first, topic.message_thread_id, buttons)
        await self._remember_card(conversation, posted)
        if not fits:
            posted = await self._post(text, topic.message_thread_id)
        return Sent(external_id=str(posted.message_id), desk_thread=topic.message_thread_id)

    async def _remember_card(self, conversation: Conversation, posted: TgMessage) -> None:
        if self._store is not None:
            await self._store.set_state(CARD_KEY + conversation.id, str(posted.message_id))

    async def _post(
        self, text: str, thread: int, buttons: InlineKeyboardMarkup | None = None
    ) -> TgMessage:
        if self._target.forum:
            return await self._bot.send_message(
                self._target.chat_id, text, parse_mode=ParseMode.HTML,
                message_thread_id=thread, disable_web_page_preview=True, reply_markup=buttons,
            )
        return await self._bot.send_message(
            self._target.chat_id, text, parse_mode=ParseMode.HTML,
            disable_web_page_preview=True, reply_markup=buttons,
        )


def _thread_gone(exc: BadRequest) -> bool:
    text = exc.message.lower()
    return any(marker in text for marker in _THREAD_GONE)


class DeskPoller:
    """Long-polls getUpdates: librarians' replies go to the router, commands to
    ``DeskCommands``, button presses to ``DeskButtons``, edits of replies to the patron."""

    def __init__(
        self, bot: Bot, store: Store, router: Router, target: DeskTarget, *, timeout: int = 25,
        commands: DeskCommands | None = None,
        elsewhere: Callable[[Update], Awaitable[None]] | None = None,
    ) -> None:
        """``elsewhere`` gets every update not from the desk group (patrons' private
        chats, their rating buttons): one bot has one getUpdates stream."""
        self._bot = bot
        self._store = store
        self._router = router
        self._target = target
        self._timeout = timeout
        self._bot_id: int | None = None
        self._commands = commands or DeskCommands(bot, store, router, target)
        self._buttons = DeskButtons(self._commands)
        self._elsewhere = elsewhere

    async def run(self) -> None:
        backoff = 1.0
        while True:
            try:
                await self._poll_forever()
            except TelegramError as exc:
                failure = telegram_failure(exc)
                wait = getattr(failure, "retry_after", None) or backoff
                log.warning("getUpdates failed (%s); retrying in %.0fs", exc, wait)
                await asyncio.sleep(wait)
                backoff = min(60.0, backoff * 2)
            except Exception:  # the store or a bug: retry the same updates, never die
                log.exception("desk poller failed; retrying in %.0fs", backoff)
                await asyncio.sleep(backoff)
                backoff = min(60.0, backoff * 2)

    async def _poll_forever(self) -> None:
        if self._bot_id is None:
            self._bot_id = (await self._bot.get_me()).id
        offset = int(await self._store.get_state(OFFSET_KEY) or 0)
        while True:
            updates = await self._bot.get_updates(
                offset=offset or None, timeout=self._timeout,
                allowed_updates=["message", "edited_message", "callback_query"],
            )
            for update in updates:
                await self.handle(update)
                offset = update.update_id + 1
                # Saved only now: the reply is stored, so a restart resumes after it.
                await self._store.set_state(OFFSET_KEY, str(offset))

    async def handle(self, update: Update) -> None:
        """Route one update; garbage is logged and skipped, never raised."""
        try:
            await self._handle(update)
        except TelegramError:
            log.exception("update %s: Telegram call failed", update.update_id)
        except (ValueError, TypeError, AttributeError, KeyError):
            log.exception("update %s was malformed; skipped", update.update_id)

    async def _handle(self, update: Update) -> None:
        chat = update.effective_chat
        if self._elsewhere is not None and chat is not None and chat.id != self._target.chat_id:
            await self._elsewhere(update)
            return
        if update.callback_query is not None:
            await self._buttons.handle(update.callback_query)
            return
        edited = update.edited_message is not None
        msg = update.edited_message or update.message
        if msg is None:
            return
        if msg.chat.id != self._target.chat_id:
            log.info("ignored update %s from chat %s: not the desk group",
                     update.update_id, msg.chat.id)
            return
        user = msg.from_user
        if user is None or user.is_bot or user.id == self._bot_id:
            return
        text = msg.text or msg.caption
        if not text:
            return  # service messages (topic created, member joined …) carry no text
        await self._commands.seen(user)
        conversation = await self._conversation_of(msg)
        if edited:
            if conversation is not None and not text.startswith("/"):
                stamp = msg.edit_date.timestamp() if msg.edit_date else 0
                await self._router.edit(conversation.id, str(msg.message_id), text,
                                        edit_key=f"{stamp:.0f}")
            return
        if text.startswith("/"):
            await self._commands.command(self._asked(msg, user, conversation), text)
            return
        if conversation is None:
            return  # general talk among librarians
        try:
            await self._router.reply(DeskReply(
                conversation_id=conversation.id,
                librarian_id=str(user.id),
                librarian_name=user.full_name,
                text=text,
                external_id=str(msg.message_id),
            ))
        except Claimed as claimed:
            await self._commands.refuse_claimed(conversation, claimed)

    def _asked(self, msg: TgMessage, user: User, conversation: Conversation | None) -> Asked:
        mention = next(((str(e.user.id), e.user.full_name) for e in msg.entities
                        if e.type == MessageEntityType.TEXT_MENTION and e.user), None)
        return Asked(str(user.id), user.full_name,
                     msg.message_thread_id if msg.is_topic_message else None,
                     msg.message_id, conversation, mention)

    async def _conversation_of(self, msg: TgMessage) -> Conversation | None:
        if self._target.forum and msg.is_topic_message and msg.message_thread_id:
            return await self._router.conversation_for_thread(msg.message_thread_id)
        replied = msg.reply_to_message
        if replied is None:
            return None
        found = await self._router.conversation_for_desk_message(str(replied.message_id))
        if found is None and not self._target.forum:
            found = await self._router.conversation_for_thread(replied.message_id)
        return found

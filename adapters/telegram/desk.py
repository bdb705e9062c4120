"""The librarians' desk: a Telegram group, one forum topic per conversation.

``DeskSender`` (desk_sender.py) is the outbox's sender for the desk (opens topics, posts
patron messages); ``DeskPoller`` reads librarians' replies with getUpdates and hands them
to the router.
The update offset is saved only after an update is safely stored, so a restart neither
loses nor repeats one (PTB's own Updater confirms before processing, so it is not used).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from telegram import Bot, Update, User
from telegram import Message as TgMessage
from telegram.constants import MessageEntityType
from telegram.error import TelegramError

from adapters.telegram.commands import Asked, DeskCommands
from adapters.telegram.desk_base import DeskTarget
from adapters.telegram.desk_buttons import DeskButtons
from adapters.telegram.desk_sender import DeskSender, telegram_failure
from routing.model import Conversation, DeskReply
from routing.ports import Store
from routing.router import Claimed, Router

__all__ = ["DeskPoller", "DeskSender", "DeskTarget", "telegram_failure"]

log = logging.getLogger(__name__)

OFFSET_KEY = "telegram.desk.offset"
_UNMAPPED_MEMORY = 1000  # topics known to be no conversation's, so not waited for again


class DeskPoller:
    """Long-polls getUpdates: librarians' replies go to the router, commands to
    ``DeskCommands``, button presses to ``DeskButtons``, edits of replies to the patron."""

    def __init__(
        self, bot: Bot, store: Store, router: Router, target: DeskTarget, *, timeout: int = 25,
        commands: DeskCommands | None = None,
        elsewhere: Callable[[Update], Awaitable[None]] | None = None,
        unmapped_retry: float = 1.0,
    ) -> None:
        """``elsewhere`` gets every update not from the desk group (patrons' private
        chats, their rating buttons): one bot has one getUpdates stream.
        ``unmapped_retry``: how long to wait before looking a second time for the
        conversation of a topic that has none yet (it may be opening right now)."""
        self._bot = bot
        self._store = store
        self._router = router
        self._target = target
        self._timeout = timeout
        self._bot_id: int | None = None
        self._commands = commands or DeskCommands(bot, store, router, target)
        self._buttons = DeskButtons(self._commands)
        self._elsewhere = elsewhere
        self._unmapped_retry = unmapped_retry
        self._unmapped: dict[int, None] = {}  # insertion-ordered, so the oldest go first

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
        if conversation is None and not edited:
            conversation = await self._second_look(msg)
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

    async def _second_look(self, msg: TgMessage) -> Conversation | None:
        """A topic with no conversation may be one the outbox is opening this instant:
        look once more after a moment, and say so in the log when it stays unknown.
        Topics found to be no conversation's (librarians' own) are not waited for again."""
        thread = msg.message_thread_id
        if not (self._target.forum and msg.is_topic_message and thread):
            return None
        if thread in self._unmapped:
            return None
        await asyncio.sleep(self._unmapped_retry)
        found = await self._router.conversation_for_thread(thread)
        if found is None:
            log.info("message %s in topic %s ignored: the topic is no conversation's",
                     msg.message_id, thread)
            self._unmapped[thread] = None
            if len(self._unmapped) > _UNMAPPED_MEMORY:
                del self._unmapped[next(iter(self._unmapped))]
        return found

    def _asked(self, msg: TgMessage, user: User, conversation: Conversation | None) -> Asked:
        mention = next(((str(e.user.id), e.user.full_name) for e in msg.entities
                        if e.type == MessageEntityType.TEXT_MENTION and e.user), None)
        # In a topic every message "replies" to the topic's first message; only a reply
        # to another message is an answer to it.
        answered = msg.reply_to_message
        reply_to = (answered.message_id if answered is not None
                    and answered.message_id != msg.message_thread_id else None)
        return Asked(str(user.id), user.full_name,
                     msg.message_thread_id if msg.is_topic_message else None,
                     msg.message_id, conversation, mention, reply_to)

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

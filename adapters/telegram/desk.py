"""The librarians' desk: a Telegram group, one forum topic per conversation.

``DeskSender`` (desk_sender.py) is the outbox's sender for the desk (opens topics, posts
patron messages); ``DeskPoller`` reads librarians' replies with getUpdates and hands them
to the router.
The update offset is saved only after an update is safely stored, so a restart neither
loses nor repeats one (PTB's own Updater confirms before processing, so it is not used).
A librarian's photo, document or voice note goes to the patron with the reply; the items
of an album are gathered first (albums.py), so they reach the patron as one message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from telegram import Bot, Update, User
from telegram import Message as TgMessage
from telegram.constants import MessageEntityType
from telegram.error import TelegramError

from adapters.blobs import BlobStore
from adapters.files import FilePolicy, human_size
from adapters.telegram.albums import AlbumGatherer
from adapters.telegram.commands import Asked, DeskCommands
from adapters.telegram.desk_base import DeskStore, DeskTarget
from adapters.telegram.desk_buttons import DeskButtons
from adapters.telegram.desk_sender import DeskSender, telegram_failure
from adapters.telegram.files import carries_file, fetch_all
from routing import logctx
from routing.model import Conversation, DeskReply
from routing.router import Claimed, Router

__all__ = ["DeskPoller", "DeskSender", "DeskTarget", "telegram_failure"]

log = logging.getLogger(__name__)

OFFSET_KEY = "telegram.desk.offset"
_UNMAPPED_MEMORY = 1000  # topics known to be no conversation's, so not waited for again
_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]


class DeskPoller:
    """Long-polls getUpdates: librarians' replies go to the router, commands to
    ``DeskCommands``, button presses to ``DeskButtons``, edits of replies to the patron."""

    def __init__(
        self, bot: Bot, store: DeskStore, router: Router, target: DeskTarget, *, timeout: int = 25,
        commands: DeskCommands | None = None,
        elsewhere: Callable[[Update], Awaitable[None]] | None = None,
        unmapped_retry: float = 1.0,
        elsewhere_albums: Callable[[Sequence[Update]], Awaitable[None]] | None = None,
        blobs: BlobStore | None = None, files: FilePolicy | None = None,
        album_quiet: float = 1.0,
    ) -> None:
        """``elsewhere`` gets every update not from the desk group (patrons' private
        chats, their rating buttons): one bot has one getUpdates stream;
        ``elsewhere_albums`` gets the items of an album from there at once (without it,
        ``elsewhere`` gets them one by one).
        ``unmapped_retry``: how long to wait before looking a second time for the
        conversation of a topic that has none yet (it may be opening right now).
        ``blobs`` keeps librarians' files, ``files`` is the library's rule for them;
        ``album_quiet``: how long no further item of an album must come before it goes."""
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
        self._elsewhere_albums = elsewhere_albums
        self._blobs = blobs
        self._files = files
        self._albums = AlbumGatherer(store, bot, quiet=album_quiet)

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
        await self._albums.load()
        while True:
            updates = await self._bot.get_updates(
                offset=offset or None, timeout=await self._poll_timeout(),
                allowed_updates=_UPDATES,
            )
            for update in updates:
                if not await self._albums.hold(update):  # held: saved to the store
                    await self.handle(update)
                offset = update.update_id + 1
                # Saved only now: the reply is stored, so a restart resumes after it.
                await self._store.set_state(OFFSET_KEY, str(offset))
            await self._release()

    async def _poll_timeout(self) -> int:
        """A long poll, unless an album is being gathered: then short enough to pass it on
        when its quiet window ends (and to see any further item before that)."""
        wait = self._albums.wait()
        if wait is None:
            return self._timeout
        if wait < 1:
            await asyncio.sleep(wait)
            return 0
        return min(self._timeout, int(wait))

    async def _release(self) -> None:
        """Pass on gathered albums (and what waited behind them), then forget them."""
        for held in self._albums.due():
            if held.album:
                await self._guarded(held.updates[0], self._album(held.updates))
            else:
                for update in held.updates:
                    await self.handle(update)
            await self._albums.done(held)

    async def handle(self, update: Update) -> None:
        """Route one update; garbage is logged and skipped, never raised."""
        await self._guarded(update, self._handle(update))

    async def _guarded(self, update: Update, work: Awaitable[None]) -> None:
        with logctx.scope():  # one update's conversation does not label the next's lines
            try:
                await work
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
        msg = update.edited_message or update.message
        if msg is not None:
            await self._message([msg], edited=update.edited_message is not None)

    async def _album(self, updates: Sequence[Update]) -> None:
        """The items of one album, gathered: one message of the desk, or a patron's."""
        chat = updates[0].effective_chat
        if self._elsewhere is not None and chat is not None and chat.id != self._target.chat_id:
            if self._elsewhere_albums is not None:
                await self._elsewhere_albums(updates)
            else:
                for update in updates:
                    await self._elsewhere(update)
            return
        await self._message([u.message for u in updates if u.message is not None])

    async def _message(self, msgs: Sequence[TgMessage], *, edited: bool = False) -> None:
        """A librarian's message in the desk group, or the items of their album."""
        msg = msgs[0]
        if msg.chat.id != self._target.chat_id:
            log.info("ignored message %s from chat %s: not the desk group",
                     msg.message_id, msg.chat.id)
            return
        user = msg.from_user
        if user is None or user.is_bot or user.id == self._bot_id:
            return
        text = "\n\n".join(t for t in (m.text or m.caption for m in msgs) if t)
        if not text and not any(carries_file(m) for m in msgs):
            return  # service messages (topic created, member joined …) say nothing
        await self._commands.seen(user)
        conversation = await self._conversation_of(msg)
        if conversation is None and not edited:
            conversation = await self._second_look(msg)
        if conversation is not None:  # its topic's commands and edits are about it too
            logctx.bind(conversation_id=conversation.id, channel=conversation.origin.value,
                        patron_id=conversation.patron_id)
        if edited:
            if conversation is not None and text and not text.startswith("/"):
                stamp = msg.edit_date.timestamp() if msg.edit_date else 0
                await self._router.desk.edit(conversation.id, str(msg.message_id), text,
                                        edit_key=f"{stamp:.0f}")
            return
        if text.startswith("/"):
            await self._commands.command(self._asked(msg, user, conversation), text)
            return
        if conversation is None:
            return  # general talk among librarians
        await self._answer(conversation, msgs, user, text)

    async def _answer(self, conversation: Conversation, msgs: Sequence[TgMessage], user: User,
                      text: str) -> None:
        """A librarian's reply, with its files; a file that cannot go is said in the topic
        (and left out: the patron has no use for a file they cannot get)."""
        files = await fetch_all(self._bot, msgs, self._blobs, self._files)
        kept = tuple(a for a in files if a.kept)
        try:
            if text or kept:
                stored = await self._router.desk.reply(DeskReply(
                    conversation_id=conversation.id,
                    librarian_id=str(user.id),
                    librarian_name=user.full_name,
                    text=text,
                    # an album's first item names it, so it is taken once whatever comes again
                    external_id=str(msgs[0].message_id),
                    attachments=kept,
                ))
                if stored is not None:  # /delete or an edit may name any item of an album
                    await self._router.trail.desk_posts(
                        conversation.id, stored.id, [later.message_id for later in msgs[1:]])
        except Claimed as claimed:
            await self._commands.refuse_claimed(conversation, claimed)
            return
        for refused in (a for a in files if not a.kept):
            await self._router.records.notify_desk(
                conversation.id, f"📎 {refused.name} ({human_size(refused.size)}) did not go "
                f"to the patron: {refused.note}.", event="file_refused")

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
        found = await self._router.desk.conversation_for_thread(thread)
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
            return await self._router.desk.conversation_for_thread(msg.message_thread_id)
        replied = msg.reply_to_message
        if replied is None:
            return None
        found = await self._router.desk.conversation_for_desk_message(str(replied.message_id))
        if found is None and not self._target.forum:
            found = await self._router.desk.conversation_for_thread(replied.message_id)
        return found

"""Patrons who write to the bot in a private chat.

``PatronChats.handle`` takes every update the desk poller reads and keeps the private
ones: a patron's message becomes an ``Inbound`` for the router (the first one, or
/start, is greeted with the configured text), a rating button press is recorded, and a
reply to the rating message is the rating's comment. Anything refused (a blocked patron,
a too long or empty message) is answered politely in the chat. Group updates are left
to the desk (``handle`` returns False).

Photos, documents, voice notes and albums (``handle_album``, the items gathered by the
desk poller) go to the desk with the message; a file the library does not take still
goes as a note, and the patron is told why in their language. A patron who blocks the
bot (``my_chat_member``, "kicked") is recorded as unreachable and their topic says so.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace

from telegram import Bot, CallbackQuery, ChatMemberUpdated, Update
from telegram import Message as TgMessage
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import BadRequest, TelegramError

from adapters.blobs import BlobStore
from adapters.files import FilePolicy, human_size
from adapters.telegram import patron_words as words
from adapters.telegram.files import MAX_DOWNLOAD, NOT_FETCHED, NOT_KEPT, carries_file, fetch_all
from adapters.telegram.patron_book import PatronBook, PatronStore
from routing.model import Attachment, Channel, Contact, Inbound
from routing.ports import Clock, SystemClock
from routing.router import Refused, Router

__all__ = ["PatronChats"]

log = logging.getLogger(__name__)

_GREETED_COMMANDS = ("/start", "/help")


class PatronChats:
    """``greeting(lang)`` returns the welcome text ("en" or "id"), hours included.
    ``blobs`` keeps patrons' files and ``files`` is the library's rule for them; without
    ``blobs`` a file reaches the desk as a note only."""

    def __init__(
        self, bot: Bot, store: PatronStore, router: Router, greeting: Callable[[str], str], *,
        blobs: BlobStore | None = None, files: FilePolicy | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._bot = bot
        self._store = store
        self._router = router
        self._greeting = greeting
        self._book = PatronBook(store)
        self._blobs = blobs
        self._files = files
        self._clock = clock or SystemClock()

    async def handle(self, update: Update) -> bool:
        """True when the update belonged to a private chat (and was dealt with here)."""
        change = update.my_chat_member
        if change is not None:
            if change.chat.type != ChatType.PRIVATE:
                return False
            await self._membership(change)
            return True
        query = update.callback_query
        if query is not None:
            if query.message is None or query.message.chat.type != ChatType.PRIVATE:
                return False
            await self._press(query)
            return True
        msg = update.message or update.edited_message
        if msg is None or msg.chat.type != ChatType.PRIVATE:
            return False
        if update.message is not None:  # a patron's edits are not passed on (yet)
            await self._take([update.message])
        return True

    async def handle_album(self, updates: Sequence[Update]) -> None:
        """The items of an album a patron sent, gathered: one message to the desk."""
        msgs = [u.message for u in updates
                if u.message is not None and u.message.chat.type == ChatType.PRIVATE]
        if msgs:
            await self._take(msgs)

    # -- messages -------------------------------------------------------------------

    async def _take(self, msgs: Sequence[TgMessage]) -> None:
        msg = msgs[0]
        user = msg.from_user
        if user is None or user.is_bot:
            return
        text = "\n\n".join(t for t in (m.text or m.caption for m in msgs) if t)
        if not text and all(m.effective_attachment is None for m in msgs):
            return  # a service message (pinned, write access allowed ...) says nothing
        state, new = await self._book.wrote(user.id, words.language(user.language_code))
        lang = state.language
        if _command(text) in _GREETED_COMMANDS:
            await self._say(msg.chat_id, self._greeting(lang))
            return
        if text and len(msgs) == 1 and await self._comment(msg, text, lang):
            return
        if new:
            await self._say(msg.chat_id, self._greeting(lang))
        inbound = Inbound(
            Channel.TELEGRAM, str(user.id), text, name=user.full_name,
            external_id=str(msg.message_id),
            # A message read again after a restart is the same message, not a new one;
            # an album is named by its first item.
            client_id=f"tg:{msg.message_id}",
        )
        # A blocked patron's files are never fetched: accept refuses them anyway.
        if any(carries_file(m) for m in msgs) and not await self._router.intake.is_blocked(inbound):
            inbound = replace(inbound, attachments=await fetch_all(
                self._bot, msgs, self._blobs, self._files))
        files = inbound.attachments
        try:
            await self._router.intake.accept(inbound)
        except Refused as refused:
            await self._say(msg.chat_id, _refusal(refused, lang))
            return
        for refused_file in (a for a in files if not a.kept):
            await self._say(msg.chat_id, _file_refusal(refused_file, self._files, lang))

    async def _membership(self, change: ChatMemberUpdated) -> None:
        """The patron blocked the bot (or started it again): nothing reaches them there
        until they write again, and the librarians must not wait for an answer read."""
        user, status = change.from_user, change.new_chat_member.status
        if status == ChatMemberStatus.BANNED:
            if await self._book.unreachable(user.id, self._clock.now()):
                log.info("Telegram patron %s blocked the bot", user.id)
                await self._tell_desk(user.id, words.DESK_BLOCKED)
        elif status == ChatMemberStatus.MEMBER:
            state = await self._book.state(user.id)
            if state.unreachable_since:  # writing resets it too; this is the same news
                await self._book.wrote(user.id, state.language)
                await self._tell_desk(user.id, words.DESK_UNBLOCKED)

    async def _tell_desk(self, user_id: int, text: str) -> None:
        patron = await self._store.patron_by_contact(Contact(Channel.TELEGRAM, str(user_id)))
        conversation = (await self._store.latest_conversation(patron.id)
                        if patron is not None else None)
        if conversation is not None:
            await self._router.records.notify_desk(conversation.id, text, event="patron_reach")

    async def _comment(self, msg: TgMessage, text: str, lang: str) -> bool:
        """A reply to the bot's "thank you for rating" message is the rating's comment."""
        replied = msg.reply_to_message
        if replied is None:
            return False
        rated = await self._book.rating_at(msg.chat_id, replied.message_id)
        if rated is None:
            return False
        cid, score = rated
        if await self._router.claims.rate(cid, score, text):
            await self._say(msg.chat_id, words.say("comment_thanks", lang))
            return True
        return False  # reopened since: it is an ordinary message again

    async def _say(self, chat_id: int, text: str) -> None:
        """Answer at once, outside the outbox: nothing of the conversation depends on it."""
        try:
            await self._bot.send_message(chat_id, html.escape(text, quote=False),
                                         parse_mode=ParseMode.HTML)
        except TelegramError as exc:
            log.warning("could not answer Telegram patron %s: %s", chat_id, exc)

    # -- rating buttons -------------------------------------------------------------

    async def _press(self, query: CallbackQuery) -> None:
        answer = ""
        try:
            answer = await self._rate(query)
        finally:
            try:
                await self._bot.answer_callback_query(query.id, text=answer or None)
            except BadRequest as exc:  # too old: the app has given up waiting
                log.info("callback %s could not be answered: %s", query.id, exc.message)

    async def _rate(self, query: CallbackQuery) -> str:
        parsed = words.parse_rating(query.data)
        message = query.message
        if parsed is None or message is None:
            return ""
        cid, score = parsed
        user = query.from_user
        lang = (await self._book.state(user.id)).language
        conversation = await self._store.get_conversation(cid)
        patron = None if conversation is None else await self._store.get_patron(
            conversation.patron_id)
        if patron is None or Contact(Channel.TELEGRAM, str(user.id)) not in patron.contacts:
            log.info("ignored a rating of %s by Telegram user %s: not theirs", cid, user.id)
            return ""
        if not await self._router.claims.rate(cid, score):
            return words.say("rating_refused", lang)
        thanks = words.say("rated", lang, stars=words.stars(score))
        try:  # no reply_markup: the buttons go, so nobody rates twice by accident
            await self._bot.edit_message_text(html.escape(thanks, quote=False),
                                              message.chat.id, message.message_id,
                                              parse_mode=ParseMode.HTML)
        except BadRequest as exc:
            log.info("could not replace the rating buttons: %s", exc.message)
        await self._book.remember_rating(message.chat.id, message.message_id, cid)
        return words.say("rated_short", lang)


def _command(text: str) -> str:
    """"/start" from "/start", "/start@pustaka_bot" or "/start ref-opac"; else ""."""
    first = text.split(maxsplit=1)[0] if text.startswith("/") else ""
    return first.split("@")[0].lower()


def _refusal(refused: Refused, lang: str) -> str:
    if refused.code == "blocked":
        return refused.reason  # the library's own configured words
    if refused.code in ("too_long", "too_many_files"):
        return words.say(refused.code, lang)
    return words.say("empty", lang)


def _file_refusal(attachment: Attachment, policy: FilePolicy | None, lang: str) -> str:
    """Why a file did not go, in the patron's words (the note itself is for the desk)."""
    limit = min(MAX_DOWNLOAD, policy.max_bytes) if policy is not None else MAX_DOWNLOAD
    if attachment.note == NOT_KEPT or (policy is not None and not policy.enabled):
        key = "files_off"
    elif attachment.note == NOT_FETCHED:
        key = "file_failed"
    elif attachment.size > limit:
        key = "file_too_big"
    else:
        key = "file_type"
    return words.say(key, lang, name=attachment.name, limit=human_size(limit))

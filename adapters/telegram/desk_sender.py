"""The desk's outbound side: ``DeskSender`` opens a forum topic per conversation and
posts patron messages and notices into it (or, without topics, into the group).

A new topic's id is kept on the conversation (through ``DeskTopics``, the only way it is
saved) as soon as Telegram creates it, before anything is posted there: a librarian who
answers the moment the first post appears must find the conversation, and a retry after
a failed post must not open a second topic. A deleted topic is forgotten the same way,
and the outbox's retry opens a new one, its cost booked first.
A patron's files follow their text as photos, documents, voice notes or an album
(files_send.py); every Telegram message a send costs is booked in ``budget_keys``.
"""

from __future__ import annotations

import functools
import logging
import warnings

from telegram import Bot, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.warnings import PTBUserWarning

from adapters.blobs import BlobStore
from adapters.telegram import render
from adapters.telegram.browser import load_rules
from adapters.telegram.desk_base import DeskStore, DeskTarget, card_markup
from adapters.telegram.failures import opened_failure, telegram_failure, thread_gone
from adapters.telegram.files_send import (
    CAPTION_LIMIT,
    Place,
    Post,
    PostLog,
    available,
    cost,
    plan,
    send_posts,
    visible_length,
)
from routing.model import Attachment, Conversation, Delivery, DeliveryKind, Message, Patron
from routing.ports import (
    DeskCard,
    DeskTopics,
    Sent,
    TopicFailure,
)
from routing.trail import Trail

# telegram_failure is adapters.telegram.failures'; named here, where callers found it.
__all__ = ["DeskSender", "desk_keys", "telegram_failure"]

log = logging.getLogger(__name__)

# As Telegram's JSON, not a ``LinkPreviewOptions``: PTB would turn that object back into
# this dict on every send (``to_dict``: 4 % of the forwarding loop in bench_slice).
_NO_PREVIEW = {"is_disabled": True}
# do_api_request warns when asked for a method PTB wraps; DeskSender._post does so on
# purpose, for the message id alone.
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.sendMessage'",
                        category=PTBUserWarning)

def desk_keys(chat_id: int, posts: int = 1, *, topic: bool = False) -> tuple[str, ...]:
    """The budget ``posts`` messages into the desk group spend: the bot's and the group's
    windows, once each per message; opening a topic costs one more of the group's
    (Telegram counts the topic's creation message)."""
    return _desk_keys(chat_id, posts, topic)


@functools.lru_cache(maxsize=64)
def _desk_keys(chat_id: int, posts: int, topic: bool) -> tuple[str, ...]:
    """One tuple per cost (asked before every send; the same few every time)."""
    return ("bot",) * posts + (f"group:{chat_id}",) * (posts + int(topic))


class DeskSender:
    """``routing.ports.Sender`` for ``Channel.DESK``. ``topics`` keeps each topic it
    opens on its conversation, the moment Telegram made it (the router, under the
    conversation's lock); it is the only place a topic is saved. ``store`` (optional)
    remembers each info card's message id, so ``/verify`` can show its result on the
    card. ``blobs`` holds the bytes of patrons' files; without it a file is a line."""

    def __init__(self, bot: Bot, target: DeskTarget, store: DeskStore | None = None, *,
                 topics: DeskTopics, blobs: BlobStore | None = None) -> None:
        self._bot = bot
        self._target = target
        self._store = store
        self._topics = topics
        self._blobs = blobs
        # Conversations whose topic was deleted: their new card says it continues one.
        self._gone: set[str] = set()
        # Built once, as the bridge starts: the info card's User-Agent rules are compiled
        # here, before any patron is served, not on the first card (once per process).
        load_rules()

    def budget_keys(
        self, delivery: Delivery, conversation: Conversation, patron: Patron,
        message: Message | None = None,
    ) -> tuple[str, ...]:
        """The bot's and the group's budget, once per Telegram message the send costs (an
        album of four costs four). Opening a topic costs one more of the group's
        (Telegram counts the topic's creation message), and the info card goes with the
        text when they fit together; only ``message`` tells, so without it two."""
        posts = 1 if message is None else self._posts(delivery, conversation, patron, message)
        opening = conversation.desk_thread is None and self._target.forum
        return desk_keys(self._target.chat_id, posts, topic=opening)

    def _posts(self, delivery: Delivery, conversation: Conversation, patron: Patron,
               message: Message) -> int:
        """The Telegram messages the send costs, an opening's info card included."""
        files = _files(delivery, message)
        if conversation.desk_thread is None:
            card, text = self._card(patron, conversation)[1], self._text(delivery, message,
                                                                         patron)
            return 1 + cost(plan(_opening(card, text, files)[1], files))
        if not files:
            return 1  # a text alone is one post (``plan``): no need to render it here
        return max(1, cost(plan(self._text(delivery, message, patron), files)))

    async def send(
        self, delivery: Delivery, message: Message, conversation: Conversation, patron: Patron
    ) -> Sent:
        try:
            return await self._send(delivery, message, conversation, patron)
        except TelegramError as exc:
            raise telegram_failure(exc) from exc

    def _text(self, delivery: Delivery, message: Message, patron: Patron) -> str:
        if delivery.kind is DeliveryKind.DESK_NOTICE:
            return render.notice_text(message)
        return render.patron_text(message, patron, with_name=not self._target.forum)

    async def _send(
        self, delivery: Delivery, message: Message, conversation: Conversation, patron: Patron
    ) -> Sent:
        text = self._text(delivery, message, patron)
        files = _files(delivery, message)
        thread = conversation.desk_thread
        if thread is None:
            return await self._open(patron, conversation, message, text, files)
        event = message.event if delivery.kind is DeliveryKind.DESK_NOTICE else ""
        try:
            if event == "reopened":
                await self._topic_state(thread, closed=False)
            first_id = (await self._post(text, thread) if not files  # the usual send
                        else await self._post_all(text, files, thread, conversation, message))
        except BadRequest as exc:
            if not self._target.forum or not thread_gone(exc):
                raise
            raise await self._topic_gone(conversation, thread) from exc
        if event == "closed":
            await self._topic_state(thread, closed=True)
        return Sent(external_id=str(first_id))

    async def _topic_gone(self, conversation: Conversation, thread: int) -> TopicFailure:
        """A librarian deleted the topic: forget it, and let the outbox retry at once.
        The retry opens a new topic, and the outbox books that opening's cost (the
        topic and the post) before it, which this send's booking did not cover."""
        log.warning("topic %s of conversation %s is gone; a new one opens on the retry",
                    thread, conversation.id)
        await self._topics.keep_topic(conversation.id, None)
        self._gone.add(conversation.id)
        return TopicFailure(f"the desk topic {thread} was deleted", maybe_sent=False,
                            topic_gone=True)

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

    def _card(self, patron: Patron, conversation: Conversation) -> tuple[str, str]:
        """The info card alone (what ``/verify`` rewrites) and as it opens a topic: after a
        deleted one, with a line saying this one continues it."""
        base = render.info_card(patron, conversation, forum=self._target.forum,
                                origins=self._target.origins)
        if conversation.id in self._gone:
            return base, base + "\n<i>The earlier topic was deleted; this one continues it.</i>"
        return base, base

    async def _open(
        self, patron: Patron, conversation: Conversation, message: Message, text: str,
        files: tuple[Attachment, ...],
    ) -> Sent:
        """Open the conversation's place in the desk: the info card and the first message
        go as one post, which spends one message of the group's budget, not two; files
        follow the card (with the text as their caption when it did not fit the card).
        The place is kept (``DeskTopics``) before anything is posted into it."""
        base, card = self._card(patron, conversation)
        first, rest = _opening(card, text, files)
        thread = opened = None
        if self._target.forum:
            topic = await self._bot.create_forum_topic(
                self._target.chat_id, render.topic_name(patron, conversation))
            thread = opened = topic.message_thread_id
            await self._topics.keep_topic(conversation.id, thread)
        try:
            card_id = await self._post(first, thread, card_markup(conversation))
            if thread is None:  # no topics: the card is the anchor replies reach the patron by
                opened = card_id
                await self._topics.keep_topic(conversation.id, card_id)
            self._gone.discard(conversation.id)
            await self._remember_card(conversation, card_id, first[len(base):])
            last_id = card_id
            if rest or files:
                last_id = await self._post_all(rest, files, thread, conversation, message,
                                               reply_to=None if thread else card_id)
        except TelegramError as exc:
            raise opened_failure(exc, opened) from exc
        return Sent(external_id=str(card_id if thread is None else last_id),
                    desk_thread=opened)

    async def _remember_card(self, conversation: Conversation, card_id: int, tail: str
                             ) -> None:
        if self._store is not None:
            await self._store.save_desk_card(conversation.id, DeskCard(card_id, tail))

    async def _post_all(
        self, text: str, files: tuple[Attachment, ...], thread: int | None,
        conversation: Conversation, message: Message, reply_to: int | None = None,
    ) -> int:
        """Post the text and the files; the first Telegram message's id is returned
        (the outbox links it). The others are linked here, so a librarian who replies
        to any photo of an album in a group without topics still reaches the patron."""
        if not files and thread is not None:
            return await self._post(text, thread)
        attachments, data = await available(self._blobs, files)
        place = Place(self._target.chat_id, thread if self._target.forum else None,
                      reply_to, link_preview=False)
        posts = plan(text, attachments) or [Post((), "<i>(an empty message)</i>")]
        log = (PostLog(self._store, message.id, f"telegram.posts.{self._target.chat_id}")
               if self._store is not None else None)
        sent = await send_posts(self._bot, place, posts, data, log)
        if self._store is not None:
            await Trail(self._store).desk_posts(conversation.id, message.id, sent[1:])
        return sent[0]

    async def _post(
        self, text: str, thread: int | None, buttons: InlineKeyboardMarkup | None = None
    ) -> int:
        """Post one HTML text into the topic (or the group); return its message id.

        Asked through ``do_api_request``: ``send_message`` would build a whole
        ``telegram.Message`` from the answer (a third of a send's CPU, measured in
        bench_slice) when the outbox needs only its id. Errors are raised as before.
        """
        params: dict[str, object] = {"chat_id": self._target.chat_id, "text": text,
                                     "parse_mode": ParseMode.HTML,
                                     "link_preview_options": _NO_PREVIEW}
        if self._target.forum and thread is not None:
            params["message_thread_id"] = thread
        if buttons is not None:
            params["reply_markup"] = buttons
        result = await self._bot.do_api_request("sendMessage", params)
        return int(result["message_id"])


def _files(delivery: Delivery, message: Message) -> tuple[Attachment, ...]:
    """A patron's files go to the desk; notices never carry any."""
    return message.attachments if delivery.kind is DeliveryKind.TO_DESK else ()


def _opening(card: str, text: str, files: tuple[Attachment, ...]) -> tuple[str, str]:
    """The first post (the card, with the text when they fit together) and the text left
    for the posts after it. With files the text is the first file's caption instead: it
    costs the same, and the words stay with the photo they are about."""
    if files and visible_length(text) <= CAPTION_LIMIT:
        return card, text
    if _fits(card, text):
        return (f"{card}\n\n{text}" if text else card), ""
    return card, text


def _fits(card: str, text: str) -> bool:
    """Whether card and text go as one post. HTML is never shorter than the text
    Telegram counts, so this check is safe."""
    return len(card) + 2 + len(text) <= render.TELEGRAM_TEXT_LIMIT

"""Files that go out to Telegram (patron files into the desk, librarian files to a patron).

``plan`` is pure: a message's Telegram HTML and its attachments become the posts that
carry them. One file goes with the method of its kind; 2 to 10 go as an album
(``sendMediaGroup``) with the caption on the first item; kinds that cannot share an
album (documents, audio, voice notes, photos with videos) are split. A caption holds
1,024 characters, so a longer text goes first as a message of its own. A file that was
not kept, or is past what a bot may upload (50 MB), is a line of text instead.
``cost`` says how many Telegram messages a plan spends, for the outbox's budget.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from telegram import (
    Bot,
    InputMediaAudio,
    InputMediaDocument,
    InputMediaPhoto,
    InputMediaVideo,
    ReplyParameters,
)
from telegram import Message as TgMessage
from telegram.constants import ParseMode

from adapters.blobs import BlobStore
from adapters.files import human_size
from routing.model import Attachment, AttachmentKind
from routing.ports import DeskState

__all__ = [
    "CAPTION_LIMIT",
    "MAX_UPLOAD",
    "Place",
    "Post",
    "PostLog",
    "available",
    "cost",
    "file_line",
    "method_for",
    "plan",
    "send_posts",
    "visible_length",
]

CAPTION_LIMIT = 1024  # characters after entity parsing
MAX_UPLOAD = 50 * 1024 * 1024  # what a bot may upload
MAX_PHOTO = 10 * 1024 * 1024  # a photo; a bigger image goes as a document
MAX_ALBUM = 10
_TAG = re.compile(r"<[^>]*>")
# the types Telegram shows with each method; anything else is safer as a document
_SHOWN = {"photo": ("image/jpeg", "image/png", "image/webp"),
          "voice": ("audio/ogg", "audio/mpeg", "audio/mp4"),
          "audio": ("audio/mpeg", "audio/mp4", "audio/x-m4a"),
          "video": ("video/mp4",)}
_ALBUM_CLASS = {"photo": "visual", "video": "visual", "document": "document", "audio": "audio"}

Line = Callable[[Attachment], str]  # the HTML line shown for a file that cannot go


@dataclass(frozen=True, slots=True)
class Post:
    """One send: ``text`` alone (no files), one file, or an album; ``text`` is Telegram
    HTML, the caption of the first file when there are files."""

    files: tuple[Attachment, ...]
    text: str


@dataclass(frozen=True, slots=True)
class Place:
    """Where posts go: a chat, a forum topic in it, a message they answer."""

    chat_id: int
    thread: int | None = None
    reply_to: int | None = None
    link_preview: bool = True


def visible_length(text_html: str) -> int:
    """What Telegram counts of an HTML text, at most: UTF-16 units of the text shown."""
    shown = html.unescape(_TAG.sub("", text_html)).strip()
    return len(shown.encode("utf-16-le")) // 2


def method_for(attachment: Attachment) -> str:
    """photo, voice, audio, video or document: how Telegram can show this file."""
    kind = attachment.kind.value
    if kind == AttachmentKind.PHOTO and attachment.size > MAX_PHOTO:
        return "document"
    return kind if attachment.mime in _SHOWN.get(kind, ()) else "document"


def file_line(attachment: Attachment, unsent: str = "kept in the bridge") -> str:
    """"📎 name (size): why", escaped, for a file that goes as words instead."""
    why = attachment.note or unsent
    return f"📎 {_e(attachment.name)} ({human_size(attachment.size)}): {_e(why)}"


def sendable(attachment: Attachment) -> bool:
    return attachment.kept and 0 < attachment.size <= MAX_UPLOAD


def plan(text_html: str, attachments: Sequence[Attachment],
         line: Line = file_line) -> list[Post]:
    """The posts a message becomes; empty when it has nothing to show."""
    lines = [line(a) for a in attachments if not sendable(a)]
    body = "\n".join(part for part in (text_html.strip(), *lines) if part)
    groups = _albums([a for a in attachments if sendable(a)])
    if not groups:
        return [Post((), body)] if body else []
    posts = [Post(group, "") for group in groups]
    if body and visible_length(body) <= CAPTION_LIMIT:
        posts[0] = Post(groups[0], body)
    elif body:
        posts.insert(0, Post((), body))
    return posts


def cost(posts: Sequence[Post]) -> int:
    """Telegram messages spent: each album item counts as one."""
    return sum(max(1, len(post.files)) for post in posts)


def _albums(files: Sequence[Attachment]) -> list[tuple[Attachment, ...]]:
    """Files grouped as Telegram allows, in the order each group first appears."""
    groups: dict[str, list[Attachment]] = {}
    for i, attachment in enumerate(files):
        kind = method_for(attachment)
        key = _ALBUM_CLASS.get(kind, f"alone-{i}")  # voice notes never form albums
        groups.setdefault(key, []).append(attachment)
    return [tuple(group[i : i + MAX_ALBUM])
            for group in groups.values() for i in range(0, len(group), MAX_ALBUM)]


async def available(blobs: BlobStore | None, attachments: Sequence[Attachment]
                    ) -> tuple[tuple[Attachment, ...], dict[str, bytes]]:
    """The attachments with their bytes; one whose bytes are gone becomes a note."""
    found: dict[str, bytes] = {}
    out = []
    for attachment in attachments:
        data = None
        if blobs is not None and sendable(attachment):
            data = found.get(attachment.digest) or await blobs.get(attachment.digest)
        if data is None and sendable(attachment):
            attachment = replace(attachment, digest="", note="the file is missing here")
        elif data is not None:
            found[attachment.digest] = data
        out.append(attachment)
    return tuple(out), found


@dataclass(frozen=True, slots=True)
class PostLog:
    """Which posts of a send of several already went, so a retry after a failure in the
    middle goes on from there instead of posting the first ones again."""

    store: DeskState
    message_id: str
    place: str  # one per chat: "telegram.posts.<chat id>"

    async def load(self, plan_id: str) -> list[list[int]]:
        raw = await self.store.posted(self.message_id, self.place)
        if not raw:
            return []
        try:
            saved = json.loads(raw)
            done = [[int(i) for i in part] for part in saved["done"]]
        except (ValueError, TypeError, KeyError):
            return []
        # A different plan (the text now went with the card, say) starts afresh.
        return done if saved.get("plan") == plan_id else []

    async def save(self, plan_id: str, done: list[list[int]]) -> None:
        await self.store.save_posted(self.message_id, self.place,
                                     json.dumps({"plan": plan_id, "done": done}))


async def send_posts(bot: Bot, place: Place, posts: Sequence[Post],
                     data: dict[str, bytes], log: PostLog | None = None) -> list[int]:
    """Send the posts in order; the ids of every Telegram message they became, in order.

    With ``log``, a send of several posts notes each one as it goes, and a retry of the
    same plan skips those already posted."""
    resume = log is not None and len(posts) > 1
    plan_id = _plan_id(posts) if resume else ""
    done = await log.load(plan_id) if log is not None and resume else []
    ids = [i for part in done for i in part]
    for post in posts[len(done):]:
        part = await _send_post(bot, place, post, data)
        ids.extend(part)
        if log is not None and resume:
            done.append(part)
            await log.save(plan_id, done)
    if log is not None and resume:
        await log.save(plan_id, [])  # settled: nothing to go on from
    return ids


async def _send_post(bot: Bot, place: Place, post: Post, data: dict[str, bytes]) -> list[int]:
    if not post.files:
        sent = await bot.send_message(
            place.chat_id, post.text, parse_mode=ParseMode.HTML,
            message_thread_id=place.thread, reply_parameters=_reply(place),
            disable_web_page_preview=not place.link_preview)
        return [sent.message_id]
    if len(post.files) == 1:
        return [(await _send_one(bot, place, post.files[0], post.text, data)).message_id]
    media = [_input_media(a, data[a.digest]) for a in post.files]
    album = await bot.send_media_group(
        place.chat_id, media, caption=post.text or None,
        parse_mode=ParseMode.HTML if post.text else None,
        message_thread_id=place.thread, reply_parameters=_reply(place))
    return [m.message_id for m in album]


def _plan_id(posts: Sequence[Post]) -> str:
    """What the posts are: the same message planned the same way gets the same id."""
    digest = hashlib.sha256()
    for post in posts:
        digest.update(post.text.encode())
        for attachment in post.files:
            digest.update(f"\0{attachment.digest}:{attachment.name}".encode())
        digest.update(b"\1")
    return digest.hexdigest()[:16]


async def _send_one(bot: Bot, place: Place, attachment: Attachment, caption: str,
                    data: dict[str, bytes]) -> TgMessage:
    chat, content, name = place.chat_id, data[attachment.digest], attachment.name
    text, mode = caption or None, ParseMode.HTML if caption else None
    thread, reply = place.thread, _reply(place)
    method = method_for(attachment)
    if method == "photo":
        return await bot.send_photo(chat, content, caption=text, parse_mode=mode,
                                    message_thread_id=thread, reply_parameters=reply)
    if method == "voice":
        return await bot.send_voice(chat, content, caption=text, parse_mode=mode,
                                    message_thread_id=thread, reply_parameters=reply,
                                    filename=name)
    if method == "audio":
        return await bot.send_audio(chat, content, caption=text, parse_mode=mode,
                                    message_thread_id=thread, reply_parameters=reply,
                                    filename=name)
    if method == "video":
        return await bot.send_video(chat, content, caption=text, parse_mode=mode,
                                    message_thread_id=thread, reply_parameters=reply,
                                    filename=name)
    return await bot.send_document(chat, content, caption=text, parse_mode=mode,
                                   message_thread_id=thread, reply_parameters=reply,
                                   filename=name)


def _input_media(attachment: Attachment, content: bytes
                 ) -> InputMediaPhoto | InputMediaVideo | InputMediaDocument | InputMediaAudio:
    method = method_for(attachment)
    if method == "photo":
        return InputMediaPhoto(content, filename=attachment.name)
    if method == "video":
        return InputMediaVideo(content, filename=attachment.name)
    if method == "audio":
        return InputMediaAudio(content, filename=attachment.name)
    return InputMediaDocument(content, filename=attachment.name)


def _reply(place: Place) -> ReplyParameters | None:
    return ReplyParameters(place.reply_to) if place.reply_to is not None else None


def _e(text: str) -> str:
    return html.escape(text, quote=False)

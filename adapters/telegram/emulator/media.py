"""Bot API methods for files: sendPhoto, sendDocument, sendVoice, sendAudio, sendVideo,
sendMediaGroup (albums) and getFile.

A send passes Telegram's gates in order: the chat and topic, the reply, the caption
(1,024 characters after entity parsing), the file (10 MB for a photo, 50 MB otherwise),
and the flood limits last; an album is checked whole before anything of it is sent,
and each of its items counts against the limits as a message of its own.
"""

from __future__ import annotations

import copy
from typing import Any

from adapters.telegram.emulator.core import MAX_CAPTION, Core, Handler, registrar
from adapters.telegram.emulator.files import MAX_DOWNLOAD, file_from, media_json
from adapters.telegram.emulator.html import Entity
from adapters.telegram.emulator.params import Params
from adapters.telegram.emulator.world import (
    ApiError,
    Chat,
    Json,
    StoredFile,
    StoredMessage,
    bad_request,
)

__all__ = ["MAX_ALBUM", "METHODS", "NOT_MODIFIED", "editable", "edited"]

METHODS: dict[str, Handler] = {}
method = registrar(METHODS)

MAX_ALBUM = 10
_ATTRS = ("duration", "width", "height", "performer", "title")
_ALBUM_TYPES = {"photo", "video", "document", "audio"}


@method("sendPhoto")
async def send_photo(core: Core, p: Params) -> Json:
    return await _send_file(core, p, "photo")


@method("sendDocument")
async def send_document(core: Core, p: Params) -> Json:
    return await _send_file(core, p, "document")


@method("sendVoice")
async def send_voice(core: Core, p: Params) -> Json:
    return await _send_file(core, p, "voice")


@method("sendAudio")
async def send_audio(core: Core, p: Params) -> Json:
    return await _send_file(core, p, "audio")


@method("sendVideo")
async def send_video(core: Core, p: Params) -> Json:
    return await _send_file(core, p, "video")


async def _send_file(core: Core, p: Params, kind: str) -> Json:
    chat = core.writable_chat(p.raw("chat_id"))
    thread = core.thread(chat, p.integer("message_thread_id"))
    reply_to, thread = core.reply(chat, p, thread)
    caption, caption_entities = _caption(core, p)
    source = p.file(kind)
    if source is None:
        raise bad_request(f"there is no {kind} in the request")
    stored = file_from(core.world, source, kind)
    markup = core.inline_markup(p)
    core.throttle(chat)
    attrs = {name: p.raw(name) for name in _ATTRS if p.has(name)}
    msg = core.world.post(chat, core.world.bot.id, thread_id=thread, reply_to=reply_to,
                          caption=caption, caption_entities=caption_entities,
                          reply_markup=markup, extra=media_json(stored, kind, attrs))
    return core.sent(chat, msg)


def _caption(core: Core, p: Params) -> tuple[str | None, list[Entity]]:
    return core.formatted(p, "caption", required=False, limit=MAX_CAPTION,
                          too_long="message caption is too long")


# -- albums -----------------------------------------------------------------------------


@method("sendMediaGroup")
async def send_media_group(core: Core, p: Params) -> list[Json]:
    """Two to ten items become messages sharing a ``media_group_id``; one item is sent
    as a message of its own, as Telegram's server does with it."""
    chat = core.writable_chat(p.raw("chat_id"))
    thread = core.thread(chat, p.integer("message_thread_id"))
    reply_to, thread = core.reply(chat, p, thread)
    items = _input_media(p)
    captions = [_caption(core, Params(_caption_params(item), {})) for item in items]
    files = [file_from(core.world, p.attached(str(item["media"])), item["type"])
             for item in items]
    _throttle_album(core, chat, len(items))
    group = core.world.new_media_group_id() if len(items) > 1 else None
    posted = [_post_item(core, chat, thread, reply_to, item, stored, caption, group)
              for item, stored, caption in zip(items, files, captions, strict=True)]
    return [core.sent(chat, msg) for msg in posted]


def _input_media(p: Params) -> list[dict[str, Any]]:
    """The ``media`` array, checked as Telegram checks an album before sending any of it."""
    media = p.obj("media", "media")
    if media is None or media == []:
        raise bad_request("there are no messages to send")
    if not isinstance(media, list):
        raise bad_request("expected an Array of InputMedia")
    if len(media) > MAX_ALBUM:
        raise bad_request("too many messages to send as an album")
    for item in media:
        if not isinstance(item, dict):
            raise bad_request("can't parse InputMedia JSON object")
        kind = item.get("type")
        if not isinstance(kind, str):
            raise bad_request('can\'t parse InputMedia: Field "type" must be of type String')
        if kind not in _ALBUM_TYPES:
            raise bad_request(f'can\'t parse InputMedia: type "{kind}" is unsupported')
        if not isinstance(item.get("media"), str) or not item["media"]:
            raise bad_request("can't parse InputMedia: media not found")
    kinds = [str(item["type"]) for item in media]
    # documents go only with documents, audio only with audio; photos and videos mix
    alone = next((kind for kind in kinds if kind in ("document", "audio")), None)
    if alone is not None and any(kind != alone for kind in kinds):
        raise bad_request(f"{alone} can't be mixed with other media types")
    return media


def _caption_params(item: dict[str, Any]) -> dict[str, Any]:
    return {key: item[key] for key in ("caption", "parse_mode", "caption_entities")
            if item.get(key) is not None}


def _post_item(core: Core, chat: Chat, thread: int | None, reply_to: int | None,
               item: dict[str, Any], stored: StoredFile,
               caption: tuple[str | None, list[Entity]], group: str | None) -> StoredMessage:
    extra = media_json(stored, str(item["type"]), {k: item.get(k) for k in _ATTRS})
    if group is not None:
        extra["media_group_id"] = group
    return core.world.post(chat, core.world.bot.id, thread_id=thread, reply_to=reply_to,
                           caption=caption[0], caption_entities=caption[1], extra=extra)


def _throttle_album(core: Core, chat: Chat, count: int) -> None:
    """Each item of an album is a message to the flood limits: the whole album must fit.

    A copy of the limiter books the items one by one, so the first that would not fit
    gives the wait; the real limiter is booked only when the album is sent.
    """
    if core.limiter is None or count <= 1:
        core.throttle(chat)
        return
    probe = copy.deepcopy(core.limiter)
    for _ in range(count):
        wait = probe.retry_after(chat.id, chat.is_private)
        if wait is not None:
            core.stats.too_many_requests += 1
            raise ApiError(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
        probe.record(chat.id, chat.is_private)


# -- captions and downloads -------------------------------------------------------------


NOT_MODIFIED = ("message is not modified: specified new message content and reply markup "
                "are exactly the same as a current content and reply markup of the message")


def edited(core: Core, chat: Chat, msg: StoredMessage) -> Json:
    """An edit method's last step: stamp the edit, tell watchers, answer the message."""
    msg.edit_date = max(msg.date, core.world.now())
    core.changed.fire()
    return core.world.render(chat, msg)


def editable(core: Core, p: Params) -> tuple[Chat, StoredMessage]:
    """The bot's own message an edit method names, or Telegram's error for why not."""
    if p.has("inline_message_id"):
        raise bad_request("message to edit not found")  # the emulator has no inline mode
    chat = core.known_chat(p.raw("chat_id"))
    msg = chat.messages.get(p.required_int("message_id", "message identifier is not specified"))
    if msg is None:
        raise bad_request("message to edit not found")
    if msg.from_id != core.world.bot.id or msg.service:
        raise bad_request("message can't be edited")
    return chat, msg


@method("editMessageCaption")
async def edit_message_caption(core: Core, p: Params) -> Json:
    """A file message's caption changes; an omitted caption removes it, as on Telegram."""
    chat, msg = editable(core, p)
    if msg.text is not None:
        raise bad_request("there is no caption in the message to edit")
    caption, entities = _caption(core, p)
    markup = core.inline_markup(p)
    if (caption, entities, markup) == (msg.caption, msg.caption_entities, msg.reply_markup):
        raise bad_request(NOT_MODIFIED)
    msg.caption, msg.caption_entities, msg.reply_markup = caption, entities, markup
    return edited(core, chat, msg)


@method("getFile")
async def get_file(core: Core, p: Params) -> Json:
    file_id = p.text("file_id")
    if not file_id:
        raise bad_request("file_id not specified")
    stored = core.world.files.get(file_id)
    if stored is None:
        raise bad_request("invalid file_id")
    if len(stored.data) > MAX_DOWNLOAD:
        raise bad_request("file is too big")
    return {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data), "file_path": stored.file_path}

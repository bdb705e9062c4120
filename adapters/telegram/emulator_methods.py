"""Bot API methods for the bot itself, updates, messages and files.

Each handler takes the shared :class:`Core` and the request's :class:`Params` and returns
the ``result`` Telegram would, or raises :class:`ApiError` with Telegram's wording.
"""

from __future__ import annotations

import mimetypes
import struct

from adapters.telegram.emulator_core import (
    MAX_CAPTION,
    MAX_TEXT,
    Core,
    Handler,
    PendingQuery,
    registrar,
)
from adapters.telegram.emulator_params import Params, Upload
from adapters.telegram.emulator_world import (
    ApiError,
    Chat,
    Json,
    StoredFile,
    StoredMessage,
    bad_request,
)

__all__ = [
    "MAX_DOWNLOAD",
    "MAX_UPLOAD",
    "METHODS",
    "file_from",
    "image_size",
    "media_json",
    "store_photo",
]

METHODS: dict[str, Handler] = {}
method = registrar(METHODS)

MAX_UPLOAD = 50 * 1024 * 1024  # what a bot may upload
MAX_DOWNLOAD = 20 * 1024 * 1024  # what getFile will hand out
_CHAT_ACTIONS = frozenset({
    "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
    "upload_document", "choose_sticker", "find_location", "record_video_note",
    "upload_video_note",
})


# -- the bot and its updates ------------------------------------------------------------


@method("getMe")
async def get_me(core: Core, p: Params) -> Json:
    me = core.world.bot.to_json()
    me.update({
        "can_join_groups": True,
        "can_read_all_group_messages": not core.privacy_mode,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    })
    return me


@method("getUpdates")
async def get_updates(core: Core, p: Params) -> list[Json]:
    limit = p.integer("limit") or 100
    wait = max(0, p.integer("timeout") or 0)
    allowed = p.obj("allowed_updates", "allowed updates")
    core.updates.set_allowed(allowed if isinstance(allowed, list) else None)
    return await core.updates.get(p.integer("offset") or 0, min(max(limit, 1), 100), wait)


@method("deleteWebhook")
async def delete_webhook(core: Core, p: Params) -> bool:
    if p.flag("drop_pending_updates"):
        pending = core.updates.pending()
        if pending:
            core.updates.confirm(int(pending[-1]["update_id"]) + 1)
    return True


@method("getWebhookInfo")
async def get_webhook_info(core: Core, p: Params) -> Json:
    return {"url": "", "has_custom_certificate": False,
            "pending_update_count": len(core.updates.pending())}


@method("setMyCommands")
async def set_my_commands(core: Core, p: Params) -> bool:
    commands = p.obj("commands", "commands")
    if not isinstance(commands, list):
        raise bad_request("parameter \"commands\" is required")
    for command in commands:
        name = command.get("command", "") if isinstance(command, dict) else ""
        text = command.get("description", "") if isinstance(command, dict) else ""
        if not (1 <= len(name) <= 32 and name.replace("_", "").isalnum() and name.islower()):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(text) <= 256:
            raise bad_request("command description must be non-empty")
    core.commands[_scope_key(p)] = commands
    return True


@method("getMyCommands")
async def get_my_commands(core: Core, p: Params) -> list[Json]:
    return core.commands.get(_scope_key(p), [])


@method("deleteMyCommands")
async def delete_my_commands(core: Core, p: Params) -> bool:
    core.commands.pop(_scope_key(p), None)
    return True


def _scope_key(p: Params) -> str:
    scope = p.obj("scope", "bot command scope") or {"type": "default"}
    return f"{scope}|{p.text('language_code') or ''}"


# -- messages ---------------------------------------------------------------------------


@method("sendMessage")
async def send_message(core: Core, p: Params) -> Json:
    chat = core.writable_chat(p.raw("chat_id"))
    thread = core.thread(chat, p.integer("message_thread_id"))
    reply_to, thread = core.reply(chat, p, thread)
    text, entities = core.formatted(p, "text", required=True, limit=MAX_TEXT,
                                    too_long="message is too long")
    markup = core.inline_markup(p)
    core.throttle(chat)
    extra: Json = {}
    preview = p.obj("link_preview_options", "link preview options")
    if isinstance(preview, dict) and preview:
        extra["link_preview_options"] = preview
    msg = core.world.post(chat, core.world.bot.id, thread_id=thread, reply_to=reply_to,
                          text=text, entities=entities, reply_markup=markup, extra=extra)
    return core.sent(chat, msg)


_NOT_MODIFIED = ("message is not modified: specified new message content and reply markup "
                 "are exactly the same as a current content and reply markup of the message")


def _editable(core: Core, p: Params) -> tuple[Chat, StoredMessage]:
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


@method("editMessageText")
async def edit_message_text(core: Core, p: Params) -> Json:
    chat, msg = _editable(core, p)
    if msg.text is None:
        raise bad_request("there is no text in the message to edit")
    text, entities = core.formatted(p, "text", required=True, limit=MAX_TEXT,
                                    too_long="message is too long")
    markup = core.inline_markup(p)  # omitted markup removes the keyboard, as on Telegram
    if (text, entities, markup) == (msg.text, msg.entities, msg.reply_markup):
        raise bad_request(_NOT_MODIFIED)
    msg.text, msg.entities, msg.reply_markup = text, entities, markup
    msg.edit_date = max(msg.date, core.world.now())
    core.changed.fire()
    return core.world.render(chat, msg)


@method("editMessageReplyMarkup")
async def edit_message_reply_markup(core: Core, p: Params) -> Json:
    """Only the inline keyboard changes; an omitted ``reply_markup`` removes it."""
    chat, msg = _editable(core, p)
    markup = core.inline_markup(p)
    if markup == msg.reply_markup:
        raise bad_request(_NOT_MODIFIED)
    msg.reply_markup = markup
    msg.edit_date = max(msg.date, core.world.now())
    core.changed.fire()
    return core.world.render(chat, msg)


@method("deleteMessage")
async def delete_message(core: Core, p: Params) -> bool:
    chat = core.known_chat(p.raw("chat_id"))
    message_id = p.required_int("message_id", "message identifier is not specified")
    msg = chat.messages.get(message_id)
    if msg is None:
        raise bad_request("message to delete not found")
    own = msg.from_id == core.world.bot.id
    allowed = chat.is_private or own or core.world.bot_can(chat, "can_delete_messages")
    if "forum_topic_created" in msg.service or not allowed:
        raise bad_request("message can't be deleted")
    del chat.messages[message_id]
    core.changed.fire()
    return True


@method("sendChatAction")
async def send_chat_action(core: Core, p: Params) -> bool:
    chat = core.writable_chat(p.raw("chat_id"))
    core.thread(chat, p.integer("message_thread_id"))
    if p.text("action") not in _CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    return True


@method("answerCallbackQuery")
async def answer_callback_query(core: Core, p: Params) -> bool:
    query_id = p.text("callback_query_id") or ""
    pending = core.queries.get(query_id)
    if pending is None or pending.answered:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    pending.answered = True
    core.answers.append(_answer(query_id, pending, p))
    core.changed.fire()
    return True


def _answer(query_id: str, pending: PendingQuery, p: Params) -> Json:
    return {
        "callback_query_id": query_id,
        "chat_id": pending.chat_id,
        "message_id": pending.message_id,
        "user_id": pending.user_id,
        "text": p.text("text") or "",
        "show_alert": p.flag("show_alert"),
    }


# -- files ------------------------------------------------------------------------------


@method("sendDocument")
async def send_document(core: Core, p: Params) -> Json:
    return await _send_file(core, p, "document")


@method("sendPhoto")
async def send_photo(core: Core, p: Params) -> Json:
    return await _send_file(core, p, "photo")


async def _send_file(core: Core, p: Params, kind: str) -> Json:
    chat = core.writable_chat(p.raw("chat_id"))
    thread = core.thread(chat, p.integer("message_thread_id"))
    reply_to, thread = core.reply(chat, p, thread)
    source = p.file(kind)
    if source is None:
        raise bad_request(f"there is no {kind} in the request")
    stored = file_from(core, source, kind)
    caption, caption_entities = core.formatted(p, "caption", required=False, limit=MAX_CAPTION,
                                               too_long="message caption is too long")
    markup = core.inline_markup(p)
    core.throttle(chat)
    msg = core.world.post(chat, core.world.bot.id, thread_id=thread, reply_to=reply_to,
                          caption=caption, caption_entities=caption_entities,
                          reply_markup=markup, extra=media_json(stored, kind))
    return core.sent(chat, msg)


def file_from(core: Core, source: Upload | str, kind: str) -> StoredFile:
    """Store an upload, or find the file a file_id names; URLs cannot be fetched here."""
    if isinstance(source, str):
        if source.startswith(("http://", "https://")):
            raise bad_request("failed to get HTTP URL content")
        known = core.world.files.get(source)
        if known is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        return known
    if not source.data:
        raise bad_request("file must be non-empty")
    if len(source.data) > MAX_UPLOAD:
        raise ApiError(413, "Request Entity Too Large")
    if kind == "photo":
        if image_size(source.data) is None:
            raise bad_request("IMAGE_PROCESS_FAILED")
        return store_photo(core, source.data)
    guessed = mimetypes.guess_type(source.filename)[0]
    return core.world.store_file(source.data, source.filename,
                                 guessed or source.content_type, "documents")


def store_photo(core: Core, data: bytes) -> StoredFile:
    """Telegram re-encodes photos as JPEG; the bytes are kept as sent (see image_mime)."""
    return core.world.store_file(data, "photo.jpg", image_mime(data), "photos")


def image_mime(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    return "image/gif" if data.startswith(b"GIF8") else "image/jpeg"


def media_json(stored: StoredFile, kind: str) -> Json:
    ids = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
    if kind == "photo":
        width, height = image_size(stored.data) or (0, 0)
        return {"photo": [{**ids, "file_size": len(stored.data), "width": width,
                           "height": height}]}
    return {"document": {"file_name": stored.file_name, "mime_type": stored.mime_type, **ids,
                         "file_size": len(stored.data)}}


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


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, GIF or JPEG, read from its header."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        size = struct.unpack(">H", data[i + 2 : i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return int(width), int(height)
        i += 2 + int(size)
    return None

"""Bot API methods for the bot itself, updates and messages (files: media.py).

Each handler takes the shared :class:`Core` and the request's :class:`Params` and returns
the ``result`` Telegram would, or raises :class:`ApiError` with Telegram's wording.
"""

from __future__ import annotations

from adapters.telegram.emulator import media
from adapters.telegram.emulator.core import MAX_TEXT, Core, Handler, PendingQuery, registrar
from adapters.telegram.emulator.files import MAX_DOWNLOAD, MAX_UPLOAD
from adapters.telegram.emulator.params import Params
from adapters.telegram.emulator.world import Json, bad_request

__all__ = ["MAX_DOWNLOAD", "MAX_UPLOAD", "METHODS"]

METHODS: dict[str, Handler] = {}
method = registrar(METHODS)
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
    text, entities = core.formatted(p, "text", required=True)  # read before the chat
    chat = core.writable_chat(p.raw("chat_id"))
    thread = core.thread(chat, p.integer("message_thread_id"))
    reply_to, thread = core.reply(chat, p, thread)
    core.fits(text, MAX_TEXT, "message is too long")
    markup = core.inline_markup(p)
    core.throttle(chat)
    extra: Json = {}
    preview = p.obj("link_preview_options", "link preview options")
    if isinstance(preview, dict) and preview:
        extra["link_preview_options"] = preview
    msg = core.world.post(chat, core.world.bot.id, thread_id=thread, reply_to=reply_to,
                          text=text, entities=entities, reply_markup=markup, extra=extra)
    return core.sent(chat, msg)


@method("editMessageText")
async def edit_message_text(core: Core, p: Params) -> Json:
    text, entities = core.formatted(p, "text", required=True)  # read before the message
    chat, msg = media.editable(core, p)
    if msg.text is None:
        raise bad_request("there is no text in the message to edit")
    core.fits(text, MAX_TEXT, "message is too long")
    markup = core.inline_markup(p)  # omitted markup removes the keyboard, as on Telegram
    if (text, entities, markup) == (msg.text, msg.entities, msg.reply_markup):
        raise bad_request(media.NOT_MODIFIED)
    msg.text, msg.entities, msg.reply_markup = text, entities, markup
    return media.edited(core, chat, msg)


@method("editMessageReplyMarkup")
async def edit_message_reply_markup(core: Core, p: Params) -> Json:
    """Only the inline keyboard changes; an omitted ``reply_markup`` removes it."""
    chat, msg = media.editable(core, p)
    markup = core.inline_markup(p)
    if markup == msg.reply_markup:
        raise bad_request(media.NOT_MODIFIED)
    msg.reply_markup = markup
    return media.edited(core, chat, msg)


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


# Files and albums live in media.py; one table serves every method.
METHODS.update(media.METHODS)

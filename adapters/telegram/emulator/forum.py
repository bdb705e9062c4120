"""Bot API methods for chats, members and forum topics."""

from __future__ import annotations

from adapters.telegram.emulator.core import Core, Handler, registrar
from adapters.telegram.emulator.params import Params
from adapters.telegram.emulator.world import TOPIC_COLORS, Chat, Json, Topic, bad_request

__all__ = ["MAX_TOPIC_NAME", "METHODS", "remove_topic"]

MAX_TOPIC_NAME = 128
METHODS: dict[str, Handler] = {}
method = registrar(METHODS)


@method("getChat")
async def get_chat(core: Core, p: Params) -> Json:
    return core.world.full_chat_json(core.known_chat(p.raw("chat_id")))


@method("getChatMember")
async def get_chat_member(core: Core, p: Params) -> Json:
    chat = core.known_chat(p.raw("chat_id"))
    user_id = p.required_int("user_id", "user_id not specified")
    if user_id not in core.world.users:
        raise bad_request("user not found")
    return core.world.member_json(chat, user_id)


@method("getChatAdministrators")
async def get_chat_administrators(core: Core, p: Params) -> list[Json]:
    chat = core.known_chat(p.raw("chat_id"))
    if chat.is_private:
        raise bad_request("there are no administrators in the private chat")
    admins = [uid for uid in chat.members if core.world.is_admin(chat, uid)]
    admins.sort(key=lambda uid: core.world.status(chat, uid) != "creator")  # owner first
    return [core.world.member_json(chat, user_id) for user_id in admins]


@method("getChatMemberCount")
async def get_chat_member_count(core: Core, p: Params) -> int:
    chat = core.known_chat(p.raw("chat_id"))
    if chat.is_private:
        return 2
    return sum(m.status in ("creator", "administrator", "member", "restricted")
               for m in chat.members.values())


def _forum(core: Core, p: Params) -> Chat:
    chat = core.writable_chat(p.raw("chat_id"))
    if not chat.is_forum:
        raise bad_request("the chat is not a forum")
    return chat


def _topic(core: Core, chat: Chat, p: Params, right: str = "can_manage_topics") -> Topic:
    thread_id = p.required_int("message_thread_id", "invalid message thread identifier specified")
    topic = chat.topics.get(thread_id)
    if topic is None:
        raise bad_request("TOPIC_ID_INVALID")
    creator = chat.messages.get(thread_id)
    own = creator is not None and creator.from_id == core.world.bot.id
    if not (own and right == "can_manage_topics") and not core.world.bot_can(chat, right):
        raise bad_request("not enough rights to manage topics")
    return topic


def _topic_name(name: str | None, *, required: bool) -> str | None:
    if name is None or (not name.strip() and not required):
        if required:
            raise bad_request("TOPIC_TITLE_EMPTY")
        return None
    name = name.strip()
    if not name:
        raise bad_request("TOPIC_TITLE_EMPTY")
    if len(name) > MAX_TOPIC_NAME:
        raise bad_request("TOPIC_TITLE_TOO_LONG")
    return name


@method("createForumTopic")
async def create_forum_topic(core: Core, p: Params) -> Json:
    chat = _forum(core, p)
    if not core.world.bot_can(chat, "can_manage_topics"):
        raise bad_request("not enough rights to create a topic")
    name = _topic_name(p.text("name"), required=True) or ""
    color = p.integer("icon_color")
    if color is None:
        color = TOPIC_COLORS[len(chat.topics) % len(TOPIC_COLORS)]
    elif color not in TOPIC_COLORS:
        raise bad_request("TOPIC_ICON_COLOR_INVALID")
    core.throttle(chat)  # the topic starts with a service message, which counts
    topic = Topic(chat.next_message_id, name, color, p.text("icon_custom_emoji_id") or None)
    created = topic.to_json()
    del created["message_thread_id"]
    msg = core.world.post(chat, core.world.bot.id, thread_id=topic.thread_id,
                          service={"forum_topic_created": created})
    msg.reply_to = None  # the topic's first message replies to nothing
    chat.topics[topic.thread_id] = topic
    core.book(chat)
    return topic.to_json()


@method("editForumTopic")
async def edit_forum_topic(core: Core, p: Params) -> bool:
    chat = _forum(core, p)
    topic = _topic(core, chat, p)
    name = _topic_name(p.text("name"), required=False)
    emoji = p.text("icon_custom_emoji_id")
    edited: Json = {}
    if name is not None and name != topic.name:
        topic.name = edited["name"] = name
    if emoji is not None and (emoji or None) != topic.icon_custom_emoji_id:
        topic.icon_custom_emoji_id = emoji or None
        edited["icon_custom_emoji_id"] = emoji
    if not edited:
        raise bad_request("TOPIC_NOT_MODIFIED")
    _service(core, chat, topic, {"forum_topic_edited": edited})
    return True


@method("closeForumTopic")
async def close_forum_topic(core: Core, p: Params) -> bool:
    return _set_closed(core, p, closed=True)


@method("reopenForumTopic")
async def reopen_forum_topic(core: Core, p: Params) -> bool:
    return _set_closed(core, p, closed=False)


def _set_closed(core: Core, p: Params, *, closed: bool) -> bool:
    chat = _forum(core, p)
    topic = _topic(core, chat, p)
    if topic.closed == closed:
        raise bad_request("TOPIC_NOT_MODIFIED")
    topic.closed = closed
    _service(core, chat, topic, {"forum_topic_closed" if closed else "forum_topic_reopened": {}})
    return True


@method("deleteForumTopic")
async def delete_forum_topic(core: Core, p: Params) -> bool:
    chat = _forum(core, p)
    topic = _topic(core, chat, p, right="can_delete_messages")
    remove_topic(chat, topic.thread_id)
    core.changed.fire()
    return True


def remove_topic(chat: Chat, thread_id: int) -> None:
    """Drop a topic and every message in it, as deleting a topic does."""
    chat.topics.pop(thread_id, None)
    for message_id in [m.message_id for m in chat.messages.values() if m.thread_id == thread_id]:
        del chat.messages[message_id]


def _service(core: Core, chat: Chat, topic: Topic, service: Json) -> None:
    core.world.post(chat, core.world.bot.id, thread_id=topic.thread_id, service=service)
    core.changed.fire()

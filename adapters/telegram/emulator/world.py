"""What the emulated Telegram knows: users, chats, forum topics, messages and files.

Everything here is synchronous and free of HTTP; it renders the Bot API's JSON shapes
(``User``, ``Chat``, ``ChatFullInfo``, ``Message``, ``ChatMember``) from plain records.
"""

from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from adapters.telegram.emulator.html import Entity

__all__ = [
    "ADMIN_RIGHTS",
    "TOPIC_COLORS",
    "ApiError",
    "Chat",
    "Json",
    "Member",
    "StoredFile",
    "StoredMessage",
    "Topic",
    "User",
    "World",
]

Json = dict[str, Any]

# the six colours Telegram offers for a topic icon
TOPIC_COLORS = (7322096, 16766590, 13338331, 9367192, 16749490, 16478047)

ADMIN_RIGHTS: dict[str, bool] = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": True,
    "can_edit_stories": True,
    "can_delete_stories": True,
    "can_pin_messages": True,
    "can_manage_topics": True,
}
_STATUSES = frozenset({"creator", "administrator", "member", "restricted", "left", "kicked"})


class ApiError(Exception):
    """A Bot API failure: the HTTP status doubles as ``error_code``."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def to_json(self) -> Json:
        body: Json = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(what: str) -> ApiError:
    return ApiError(400, f"Bad Request: {what}")


@dataclass(slots=True)
class User:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    is_bot: bool = False
    language_code: str | None = None
    blocked_bot: bool = False
    started_bot: bool = False  # has written to the bot privately, so the bot may write back

    def to_json(self) -> Json:
        out: Json = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        return out

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name


@dataclass(slots=True)
class Member:
    status: str
    rights: dict[str, bool] = field(default_factory=dict)  # administrators only


@dataclass(slots=True)
class Topic:
    thread_id: int
    name: str
    icon_color: int
    icon_custom_emoji_id: str | None = None
    closed: bool = False

    def to_json(self) -> Json:
        out: Json = {
            "message_thread_id": self.thread_id,
            "name": self.name,
            "icon_color": self.icon_color,
        }
        if self.icon_custom_emoji_id:
            out["icon_custom_emoji_id"] = self.icon_custom_emoji_id
        return out


@dataclass(slots=True)
class StoredFile:
    file_id: str
    file_unique_id: str
    data: bytes
    file_name: str
    mime_type: str
    file_path: str
    kind: str = "document"  # photo, document, voice, audio, video: what its file_id may send


@dataclass(slots=True)
class StoredMessage:
    message_id: int
    from_id: int
    date: int
    thread_id: int | None = None
    reply_to: int | None = None
    text: str | None = None
    entities: list[Entity] = field(default_factory=list)
    caption: str | None = None
    caption_entities: list[Entity] = field(default_factory=list)
    extra: Json = field(default_factory=dict)  # document, photo, link_preview_options
    service: Json = field(default_factory=dict)  # {"forum_topic_created": {...}} and kin
    reply_markup: Json | None = None
    edit_date: int | None = None


@dataclass(slots=True)
class Chat:
    id: int
    type: str  # "private" or "supergroup"
    title: str | None = None
    username: str | None = None
    is_forum: bool = False
    members: dict[int, Member] = field(default_factory=dict)
    topics: dict[int, Topic] = field(default_factory=dict)
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    next_message_id: int = 1
    chat_instance: str = ""

    @property
    def is_private(self) -> bool:
        return self.type == "private"


class World:
    """All users, chats and files, and the Bot API JSON they render to."""

    def __init__(self, bot: User) -> None:
        self.bot = bot
        self.users: dict[int, User] = {bot.id: bot}
        self.chats: dict[int, Chat] = {}
        self.files: dict[str, StoredFile] = {}
        self._user_ids = itertools.count(700_000_001)
        self._group_ids = itertools.count(1_000_000_001)
        self._file_seq = itertools.count(1)
        self._media_groups = itertools.count(13_780_000_000_000_001)

    @staticmethod
    def now() -> int:
        return int(time.time())

    # -- people and places -------------------------------------------------------------

    def add_user(self, first_name: str, last_name: str | None, username: str | None,
                 is_bot: bool, language_code: str | None = None) -> User:
        user = User(next(self._user_ids), first_name, last_name, username, is_bot,
                    language_code)
        self.users[user.id] = user
        return user

    def create_group(self, title: str, forum: bool, chat_id: int | None) -> Chat:
        if chat_id is None:
            chat_id = -int(f"100{next(self._group_ids)}")
        if chat_id >= 0 or chat_id in self.chats:
            raise ValueError(f"chat id {chat_id} is taken or not a group id")
        # message 1 is the group's creation; the first topic must not get id 1 (General)
        chat = Chat(chat_id, "supergroup", title=title, is_forum=forum, next_message_id=2,
                    chat_instance=str(abs(chat_id) * 7919 % 10**19))
        chat.members[self.bot.id] = Member("administrator", dict(ADMIN_RIGHTS))
        self.chats[chat_id] = chat
        return chat

    def private_chat(self, user_id: int) -> Chat:
        self.user(user_id)
        chat = self.chats.get(user_id)
        if chat is None:
            chat = Chat(user_id, "private", chat_instance=str(user_id * 104729 % 10**19))
            self.chats[user_id] = chat
        return chat

    def user(self, user_id: int) -> User:
        try:
            return self.users[user_id]
        except KeyError:
            raise ValueError(f"no user {user_id}") from None

    def group(self, chat_id: int) -> Chat:
        chat = self.chats.get(chat_id)
        if chat is None or chat.is_private:
            raise ValueError(f"no group {chat_id}")
        return chat

    def set_member(self, chat_id: int, user_id: int, status: str) -> None:
        if status not in _STATUSES:
            raise ValueError(f"unknown member status {status!r}")
        self.user(user_id)
        rights = dict(ADMIN_RIGHTS) if status == "administrator" else {}
        self.group(chat_id).members[user_id] = Member(status, rights)

    def status(self, chat: Chat, user_id: int) -> str:
        if chat.is_private:
            return "member" if user_id in (chat.id, self.bot.id) else "left"
        member = chat.members.get(user_id)
        return member.status if member else "left"

    def is_admin(self, chat: Chat, user_id: int) -> bool:
        return self.status(chat, user_id) in ("creator", "administrator")

    def bot_can(self, chat: Chat, right: str) -> bool:
        member = chat.members.get(self.bot.id)
        return member is not None and member.status == "administrator" and \
            member.rights.get(right, False)

    # -- messages ---------------------------------------------------------------------

    def post(self, chat: Chat, from_id: int, *, thread_id: int | None = None,
             reply_to: int | None = None, **content: Any) -> StoredMessage:
        """Store a new message; a topic message without a reply replies to the topic start."""
        if thread_id is not None and reply_to is None:
            reply_to = thread_id
        msg = StoredMessage(chat.next_message_id, from_id, self.now(), thread_id, reply_to,
                            **content)
        chat.next_message_id += 1
        chat.messages[msg.message_id] = msg
        return msg

    def render(self, chat: Chat, msg: StoredMessage, *, nested: bool = True) -> Json:
        out: Json = {"message_id": msg.message_id}
        if msg.thread_id is not None:
            out["message_thread_id"] = msg.thread_id
        out["from"] = self.users[msg.from_id].to_json()
        out["chat"] = self.chat_json(chat)
        out["date"] = msg.date
        if msg.edit_date is not None:
            out["edit_date"] = msg.edit_date
        if msg.thread_id is not None and chat.is_forum:
            out["is_topic_message"] = True
        target = chat.messages.get(msg.reply_to) if msg.reply_to is not None else None
        if nested and target is not None:
            out["reply_to_message"] = self.render(chat, target, nested=False)
        if msg.text is not None:
            out["text"] = msg.text
            if msg.entities:
                out["entities"] = msg.entities
        out.update(msg.extra)
        if msg.caption is not None:
            out["caption"] = msg.caption
            if msg.caption_entities:
                out["caption_entities"] = msg.caption_entities
        out.update(msg.service)
        if msg.reply_markup is not None:
            out["reply_markup"] = msg.reply_markup
        return out

    # -- chats and members as JSON ----------------------------------------------------

    def chat_json(self, chat: Chat) -> Json:
        if chat.is_private:
            user = self.users[chat.id]
            out: Json = {"id": chat.id, "first_name": user.first_name}
            if user.last_name:
                out["last_name"] = user.last_name
            if user.username:
                out["username"] = user.username
            out["type"] = "private"
            return out
        out = {"id": chat.id, "title": chat.title}
        if chat.username:
            out["username"] = chat.username
        if chat.is_forum:
            out["is_forum"] = True
        out["type"] = chat.type
        return out

    def full_chat_json(self, chat: Chat) -> Json:
        out = self.chat_json(chat)
        out.update({
            "accent_color_id": abs(chat.id) % 7,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        })
        if not chat.is_private:
            out["permissions"] = {
                "can_send_messages": True,
                "can_send_other_messages": True,
                "can_add_web_page_previews": True,
                "can_manage_topics": False,
            }
            out["join_to_send_messages"] = True
        return out

    def member_json(self, chat: Chat, user_id: int) -> Json:
        user = self.users[user_id]
        status = self.status(chat, user_id)
        out: Json = {"user": user.to_json(), "status": status}
        if status == "creator":
            out["is_anonymous"] = False
        elif status == "administrator":
            out.update(chat.members[user_id].rights)
        elif status == "restricted":
            out.update({"is_member": True, "can_send_messages": False, "until_date": 0})
        elif status == "kicked":
            out["until_date"] = 0
        return out

    # -- files ------------------------------------------------------------------------

    def store_file(self, data: bytes, file_name: str, mime_type: str, folder: str,
                   kind: str = "document", extension: str = "") -> StoredFile:
        seq = next(self._file_seq)
        extension = extension or (file_name.rsplit(".", 1)[-1] if "." in file_name else "bin")
        stored = StoredFile(
            # the prefixes Telegram's own file ids of each kind start with
            file_id=f"{_ID_PREFIX.get(kind, 'BQAC')}AgIAAx{seq:06d}{secrets.token_urlsafe(24)}",
            file_unique_id=f"AgAD{seq:04d}{secrets.token_urlsafe(6)}",
            data=data,
            file_name=file_name,
            mime_type=mime_type,
            file_path=f"{folder}/file_{seq}.{extension}",
            kind=kind,
        )
        self.files[stored.file_id] = stored
        return stored

    def new_media_group_id(self) -> str:
        """An album's id: the decimal text of a 64-bit number, new for each album."""
        return str(next(self._media_groups))


_ID_PREFIX = {"photo": "AgAC", "document": "BQAC", "voice": "AwAC", "audio": "CQAC",
              "video": "BAAC"}

"""What the emulated Telegram knows: users, chats, forum topics, messages and files.

Everything here is synchronous and free of HTTP; it renders the Bot API's JSON shapes
(``User``, ``Chat``, ``ChatFullInfo``, ``Message``, ``ChatMember``) from plain records.
"""

from __future__ import annotations

import itertools
import secrets
import time
from typing import Any

from adapters.telegram.emulator.records import (
    ADMIN_RIGHTS,
    TOPIC_COLORS,
    ApiError,
    Chat,
    Json,
    Member,
    StoredFile,
    StoredMessage,
    Topic,
    User,
    bad_request,
)

# The records are emulator.records'; named here too, where the methods found them.
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
    "bad_request",
]

_STATUSES = frozenset({"creator", "administrator", "member", "restricted", "left", "kicked"})


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

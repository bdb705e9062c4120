"""The emulated Telegram's records: users, members, topics, files, messages and chats,
each rendering its own Bot API JSON where it can, and the Bot API's error."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adapters.telegram.emulator.entities import Entity

__all__ = ["ADMIN_RIGHTS", "TOPIC_COLORS", "ApiError", "Chat", "Json", "Member", "StoredFile",
           "StoredMessage", "Topic", "User", "bad_request"]

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

"""What people do on the emulated Telegram: set up groups, write, press buttons.

These are the test and demo helpers. A person's message becomes an ``Update`` in the
bot's queue only when Telegram would deliver it (privacy mode, membership), and wrong
use (a stranger writing in a group, a member posting in a closed topic) raises
``ValueError`` at once, as the Telegram app would not have let it happen.
"""

from __future__ import annotations

import itertools
from typing import Any

from adapters.telegram.emulator.core import Core, PendingQuery
from adapters.telegram.emulator.forum import remove_topic
from adapters.telegram.emulator.html import auto_entities
from adapters.telegram.emulator.humans_media import MediaHumans
from adapters.telegram.emulator.world import ADMIN_RIGHTS, Chat, StoredMessage, User

__all__ = ["Humans"]

_query_ids = itertools.count(4_382_910_000_000_000_001)


class Humans(MediaHumans):
    """The people's side of the emulator; :class:`BotApiEmulator` is one of these.
    Sending files, voice notes and albums: :class:`MediaHumans`."""

    def __init__(self, core: Core) -> None:
        self._core = core

    # -- setting up -------------------------------------------------------------------

    def create_group(self, title: str, *, forum: bool = True, chat_id: int | None = None,
                     username: str | None = None) -> int:
        """A supergroup with the bot as an administrator allowed to manage topics. With a
        ``username`` the group is public: anyone can read it and press its buttons."""
        chat = self._core.world.create_group(title, forum, chat_id)
        chat.username = username
        self._core.changed.fire()
        return chat.id

    def add_user(self, first_name: str, *, last_name: str | None = None,
                 username: str | None = None, is_bot: bool = False,
                 language_code: str | None = None) -> int:
        """A person (``language_code`` as their app reports it, e.g. "id" or "en-GB")."""
        return self._core.world.add_user(first_name, last_name, username, is_bot,
                                         language_code).id

    def add_member(self, chat_id: int, user_id: int, status: str = "member") -> None:
        self._core.world.set_member(chat_id, user_id, status)
        self._core.changed.fire()

    def set_bot_rights(self, chat_id: int, **rights: bool) -> None:
        """Change the bot's administrator rights, e.g. ``can_manage_topics=False``."""
        unknown = set(rights) - set(ADMIN_RIGHTS)
        if unknown:
            raise ValueError(f"unknown administrator rights: {sorted(unknown)}")
        member = self._core.world.group(chat_id).members.get(self._core.world.bot.id)
        if member is None or member.status != "administrator":
            raise ValueError("the bot is not an administrator there")
        member.rights.update(rights)

    def block_bot(self, user_id: int) -> None:
        """The user blocks the bot; writing to the bot again unblocks it, as on Telegram.
        A bot the user had talked to gets ``my_chat_member``: it is now "kicked"."""
        user = self._core.world.user(user_id)
        if user.blocked_bot:
            return
        user.blocked_bot = True
        if user.started_bot:
            self._bot_membership(user, "member", "kicked")
        self._core.changed.fire()

    def seed_demo_desk(self) -> int:
        """The demo's desk: a forum group "Pustaka Desk" with librarians Sari and Budi."""
        chat_id = self.create_group("Pustaka Desk", forum=True)
        sari = self.add_user("Sari", last_name="Wulandari", username="sari_lib")
        budi = self.add_user("Budi", last_name="Santoso", username="budi_lib")
        self.add_member(chat_id, sari, "creator")
        self.add_member(chat_id, budi, "member")
        return chat_id

    # -- looking ----------------------------------------------------------------------

    def topics(self, chat_id: int) -> list[dict[str, Any]]:
        return [{**t.to_json(), "closed": t.closed}
                for t in self._core.world.group(chat_id).topics.values()]

    def members(self, chat_id: int) -> list[dict[str, Any]]:
        """The group's members as ``ChatMember`` dicts, the bot included."""
        chat = self._core.world.group(chat_id)
        return [self._core.world.member_json(chat, user_id) for user_id in chat.members]

    def messages(self, chat_id: int, message_thread_id: int | None = None) -> list[dict[str, Any]]:
        chat = self._chat(chat_id)
        return [self._core.world.render(chat, m) for m in chat.messages.values()
                if message_thread_id is None or m.thread_id == message_thread_id]

    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates queued for the bot and not yet confirmed by an offset."""
        return self._core.updates.pending()

    # -- acting -----------------------------------------------------------------------

    def user_sends(self, chat_id: int, user_id: int, text: str, *,
                   message_thread_id: int | None = None,
                   reply_to_message_id: int | None = None) -> dict[str, Any]:
        """A person writes; the bot gets ``Update(message=...)`` if Telegram would send it."""
        if not text.strip():
            raise ValueError("Telegram does not send empty messages")
        stripped = text.strip()
        return self._user_posts(chat_id, user_id, message_thread_id, reply_to_message_id,
                                text=stripped, entities=auto_entities(stripped, []))

    def user_edits(self, chat_id: int, message_id: int, text: str) -> dict[str, Any]:
        """A person edits their message (or a file's caption); the bot gets
        ``Update(edited_message=...)``."""
        chat = self._chat(chat_id)
        msg = chat.messages.get(message_id)
        if msg is None or msg.from_id == self._core.world.bot.id or (
                msg.text is None and not msg.extra):
            raise ValueError(f"no message {message_id} of a person in chat {chat_id}")
        edited = text.strip()
        if msg.text is not None:
            msg.text, msg.entities = edited, auto_entities(edited, [])
        else:
            msg.caption, msg.caption_entities = edited, auto_entities(edited, [])
        msg.edit_date = max(msg.date, self._core.world.now())
        rendered = self._core.world.render(chat, msg)
        if self._bot_sees(chat, msg):
            self._core.updates.push("edited_message", rendered)
        self._core.changed.fire()
        return rendered

    def press_button(self, chat_id: int, message_id: int, user_id: int,
                     data: str) -> dict[str, Any]:
        """A person presses an inline button; the bot gets ``Update(callback_query=...)``."""
        chat = self._chat(chat_id)
        world = self._core.world
        msg = chat.messages.get(message_id)
        rows = (msg.reply_markup or {}).get("inline_keyboard", []) if msg else []
        if msg is None or not any(b.get("callback_data") == data for row in rows for b in row):
            raise ValueError(f"message {message_id} has no button with callback_data {data!r}")
        status = world.status(chat, user_id)
        # A public group is readable by anyone not banned from it, and its inline buttons
        # work for them too (the bot must check membership itself); a private group is not
        # seen from outside.
        if not chat.is_private and (status == "kicked" or (
                status == "left" and chat.username is None)):
            raise ValueError(f"user {user_id} is not in chat {chat_id}")
        query_id = str(next(_query_ids))
        query = {"id": query_id, "from": world.user(user_id).to_json(),
                 "message": world.render(chat, msg), "chat_instance": chat.chat_instance,
                 "data": data}
        self._core.queries[query_id] = PendingQuery(chat.id, message_id, user_id)
        self._core.updates.push("callback_query", query)
        return query

    def delete_topic(self, chat_id: int, thread_id: int) -> None:
        """Someone deletes a topic by hand; Telegram sends the bot no update for that."""
        chat = self._core.world.group(chat_id)
        if thread_id not in chat.topics:
            raise ValueError(f"no topic {thread_id} in chat {chat_id}")
        remove_topic(chat, thread_id)
        self._core.changed.fire()

    # -- the common path of a person's message ----------------------------------------

    def _chat(self, chat_id: int) -> Chat:
        chat = self._core.world.chats.get(chat_id)
        if chat is None:
            if chat_id in self._core.world.users:
                return self._core.world.private_chat(chat_id)
            raise ValueError(f"no chat {chat_id}")
        return chat

    def _user_posts(self, chat_id: int, user_id: int, thread_id: int | None,
                    reply_to: int | None, **content: Any) -> dict[str, Any]:
        world = self._core.world
        user = world.user(user_id)
        chat = self._chat(chat_id)
        if chat.is_private:
            if chat.id != user_id:
                raise ValueError("a private chat's id is its user's id")
            if user.blocked_bot:  # writing again restarts the bot, and the bot is told so
                self._bot_membership(user, "kicked", "member")
            user.started_bot, user.blocked_bot = True, False
        elif world.status(chat, user_id) in ("left", "kicked"):
            raise ValueError(f"{user.first_name} is not a member of chat {chat_id}")
        thread_id, reply_to = self._place(chat, user_id, thread_id, reply_to)
        msg = world.post(chat, user_id, thread_id=thread_id, reply_to=reply_to, **content)
        rendered = world.render(chat, msg)
        if self._bot_sees(chat, msg):
            self._core.updates.push("message", rendered)
        self._core.changed.fire()
        return rendered

    def _bot_membership(self, user: User, old: str, new: str) -> None:
        """``my_chat_member`` for the bot in a user's private chat."""
        world = self._core.world
        bot = world.bot.to_json()
        change: dict[str, Any] = {
            "chat": world.chat_json(world.private_chat(user.id)),
            "from": user.to_json(),
            "date": world.now(),
            "old_chat_member": {"user": bot, "status": old},
            "new_chat_member": {"user": bot, "status": new},
        }
        for member in (change["old_chat_member"], change["new_chat_member"]):
            if member["status"] == "kicked":
                member["until_date"] = 0
        self._core.updates.push("my_chat_member", change)

    def _place(self, chat: Chat, user_id: int, thread_id: int | None,
               reply_to: int | None) -> tuple[int | None, int | None]:
        if reply_to is not None:
            target = chat.messages.get(reply_to)
            if target is None:
                raise ValueError(f"no message {reply_to} to reply to")
            if thread_id is None:
                thread_id = target.thread_id
        if thread_id is not None:
            topic = chat.topics.get(thread_id)
            if topic is None:
                raise ValueError(f"no topic {thread_id} in chat {chat.id}")
            if topic.closed and not self._core.world.is_admin(chat, user_id):
                raise ValueError("the topic is closed; only administrators may write there")
        return thread_id, reply_to

    def _bot_sees(self, chat: Chat, msg: StoredMessage) -> bool:
        """Privacy mode: a bot that is not an admin sees only commands and replies to it."""
        world = self._core.world
        if chat.is_private:
            return True
        if world.status(chat, world.bot.id) in ("left", "kicked"):
            return False
        if not self._core.privacy_mode or world.is_admin(chat, world.bot.id):
            return True
        text = msg.text or msg.caption or ""
        explicit = msg.reply_to is not None and msg.reply_to != msg.thread_id
        target = chat.messages.get(msg.reply_to) if explicit and msg.reply_to else None
        return (text.startswith("/") or f"@{world.bot.username}" in text
                or (target is not None and target.from_id == world.bot.id))

"""The emulator's shared state and the checks every sending method makes.

A send passes the same gates in the same order as on Telegram: the chat exists and the
bot may write there, the topic exists and is open, the replied message exists, the text
parses and fits, and only then the flood limits.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

from adapters.telegram.emulator.html import (
    Entity,
    EntityParseError,
    auto_entities,
    parse_html,
    trim_text,
)
from adapters.telegram.emulator.limits import RateLimiter
from adapters.telegram.emulator.params import Params
from adapters.telegram.emulator.updates import Signal, UpdateQueue
from adapters.telegram.emulator.world import (
    ApiError,
    Chat,
    Json,
    StoredMessage,
    World,
    bad_request,
)

__all__ = ["MAX_CAPTION", "MAX_RAW_TEXT", "MAX_TEXT", "Core", "Handler", "Stats", "registrar"]

MAX_TEXT = 4096  # characters (code points) after entity parsing
MAX_RAW_TEXT = 1 << 15  # bytes the Bot API server reads at all, before parsing entities
MAX_CAPTION = 1024


Handler = Callable[["Core", Params], Awaitable[Any]]


def registrar(table: dict[str, Handler]) -> Callable[[str], Callable[[Handler], Handler]]:
    """A ``@method("sendMessage")`` decorator that files handlers into ``table``."""

    def method(name: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            table[name] = handler
            return handler

        return register

    return method


@dataclass(slots=True)
class Stats:
    calls: Counter[str] = field(default_factory=Counter)
    too_many_requests: int = 0
    messages_sent: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": dict(self.calls),
            "429": self.too_many_requests,
            "messages_sent": self.messages_sent,
        }


@dataclass(slots=True)
class PendingQuery:
    chat_id: int
    message_id: int
    user_id: int
    answered: bool = False


@dataclass
class Core:
    world: World
    updates: UpdateQueue
    limiter: RateLimiter | None
    privacy_mode: bool = True
    changed: Signal = field(default_factory=Signal)
    stats: Stats = field(default_factory=Stats)
    queries: dict[str, PendingQuery] = field(default_factory=dict)
    # bounded, so a demo left running for days does not grow without end
    answers: deque[Json] = field(default_factory=lambda: deque(maxlen=200))
    calls: deque[tuple[str, Json]] = field(default_factory=lambda: deque(maxlen=10_000))
    commands: dict[str, list[Json]] = field(default_factory=dict)

    # -- where a message may go -------------------------------------------------------

    def known_chat(self, raw: Any) -> Chat:
        """The chat named by ``chat_id`` (a number or ``@username``), if the bot may see it."""
        if raw is None or raw == "":
            raise bad_request("chat_id is empty")
        world = self.world
        if isinstance(raw, str) and raw.startswith("@"):
            name = raw[1:].lower()
            found = [c for c in world.chats.values() if (c.username or "").lower() == name]
            if not found:
                raise bad_request("chat not found")
            chat = found[0]
        else:
            try:
                chat_id = int(raw)
            except (TypeError, ValueError):
                raise bad_request("chat not found") from None
            if chat_id in world.chats:
                chat = world.chats[chat_id]
            elif chat_id > 0 and chat_id in world.users and chat_id != world.bot.id:
                chat = world.private_chat(chat_id)
            else:
                raise bad_request("chat not found")
        if not chat.is_private:
            status = world.status(chat, world.bot.id)
            if status == "kicked":
                raise ApiError(403, "Forbidden: bot was kicked from the supergroup chat")
            if status == "left":
                raise ApiError(403, "Forbidden: bot is not a member of the supergroup chat")
        return chat

    def writable_chat(self, raw: Any) -> Chat:
        chat = self.known_chat(raw)
        if chat.is_private:
            user = self.world.users[chat.id]
            if user.is_bot:
                raise ApiError(403, "Forbidden: bot can't send messages to bots")
            if user.blocked_bot:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            if not user.started_bot:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return chat

    def thread(self, chat: Chat, thread_id: int | None) -> int | None:
        """Check ``message_thread_id`` for a bot's send; ``None`` is the General topic."""
        if thread_id is None:
            return None
        topic = chat.topics.get(thread_id) if chat.is_forum else None
        if topic is None:
            raise bad_request("message thread not found")
        if topic.closed and not self.world.bot_can(chat, "can_manage_topics"):
            raise bad_request("TOPIC_CLOSED")
        return thread_id

    def reply(self, chat: Chat, p: Params, thread_id: int | None) -> tuple[int | None, int | None]:
        """The message replied to and the thread the new message lands in."""
        params = p.obj("reply_parameters", "reply parameters")
        allow_missing = p.flag("allow_sending_without_reply")
        if isinstance(params, dict):
            target_id = params.get("message_id")
            allow_missing = bool(params.get("allow_sending_without_reply", allow_missing))
            if params.get("chat_id") not in (None, chat.id, str(chat.id)):
                raise bad_request("message to be replied not found")
        else:
            target_id = p.integer("reply_to_message_id")
        if target_id is None:
            return None, thread_id
        target = chat.messages.get(int(target_id))
        if target is None or (thread_id is not None and target.thread_id != thread_id):
            if allow_missing:
                return None, thread_id
            raise bad_request("message to be replied not found")
        if thread_id is None:  # a reply lands in the topic of the message it answers
            thread_id = self.thread(chat, target.thread_id)
        return target.message_id, thread_id

    # -- what a message says ----------------------------------------------------------

    def formatted(
        self, p: Params, key: str, *, required: bool, limit: int | None = None,
        too_long: str = ""
    ) -> tuple[str | None, list[Entity]]:
        """The text and its entities. The Bot API server reads them before it looks at the
        chat, so a caller checks ``limit`` here or later with :meth:`fits`."""
        raw = p.text(key)
        if raw is None and not required:
            return None, []
        if len((raw or "").encode()) > MAX_RAW_TEXT:
            raise bad_request("text is too long")
        mode = (p.text("parse_mode") or "").lower()
        if mode == "none":  # the server's own spelling of "no parse mode"
            mode = ""
        entities: list[Entity] = []
        if mode == "html":
            try:
                text, entities = parse_html(raw or "")
            except EntityParseError as exc:
                raise bad_request(f"can't parse entities: {exc}") from None
        elif mode in ("markdown", "markdownv2"):
            raise bad_request(f"the emulator does not implement parse_mode {mode}")
        elif mode:
            raise bad_request("unsupported parse_mode")
        else:
            text = raw or ""
            given = p.obj("entities" if key == "text" else "caption_entities", "entities")
            if isinstance(given, list):
                entities = [cast(Entity, e) for e in given if isinstance(e, dict)]
        text, entities = trim_text(text, entities)
        if not text:
            if required:
                raise bad_request("message text is empty")
            return None, []
        if limit is not None:
            self.fits(text, limit, too_long)
        return text, auto_entities(text, entities)

    def fits(self, text: str | None, limit: int, too_long: str) -> None:
        """TDLib's length check, made when the message is built for its chat."""
        if text is not None and len(text) > limit:
            raise bad_request(too_long)

    def inline_markup(self, p: Params) -> Json | None:
        markup = p.obj("reply_markup", "reply keyboard markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        rows = markup.get("inline_keyboard")
        if rows is None:
            return None  # reply keyboards live on the client, not on the message
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad_request("can't parse inline keyboard button: field \"inline_keyboard\" "
                              "must be an Array of Arrays")
        for row in rows:
            for button in row:
                _check_button(button)
        return {"inline_keyboard": rows}

    # -- sending ----------------------------------------------------------------------

    def throttle(self, chat: Chat) -> None:
        if self.limiter is None:
            return
        wait = self.limiter.retry_after(chat.id, chat.is_private)
        if wait is not None:
            self.stats.too_many_requests += 1
            raise ApiError(429, f"Too Many Requests: retry after {wait}", retry_after=wait)

    def sent(self, chat: Chat, msg: StoredMessage) -> Json:
        """Book a message the bot just posted and return it as the Bot API does."""
        self.stats.messages_sent += 1
        self.book(chat)
        return self.world.render(chat, msg)

    def book(self, chat: Chat) -> None:
        """Count a post against the flood limits (service messages count too)."""
        if self.limiter is not None:
            self.limiter.record(chat.id, chat.is_private)
        self.changed.fire()


def _check_button(button: Any) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise bad_request("can't parse inline keyboard button: Field \"text\" must be of "
                          "type String")
    kinds = [k for k in ("url", "callback_data", "switch_inline_query", "web_app",
                         "login_url", "copy_text", "pay", "callback_game",
                         "switch_inline_query_current_chat", "switch_inline_query_chosen_chat")
             if k in button]
    if not kinds:
        raise bad_request("can't parse inline keyboard button: Text buttons are unallowed in "
                          "the inline keyboard")
    data = button.get("callback_data")
    if data is not None and not (isinstance(data, str) and 1 <= len(data.encode()) <= 64):
        raise bad_request("BUTTON_DATA_INVALID")

"""``/_sim``: the people's side of the emulator over HTTP, for the desk page and e2e tests.

Every endpoint answers JSON; a ``ValueError`` from a helper (a stranger writing, a
closed topic, a button that is not there) comes back as 400 ``{"error": "..."}``.
``GET /_sim/state`` long-polls: given ``after=<version>`` it waits until something in
the emulator changes, so the desk page stays live without hammering the server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from adapters.telegram.emulator.core import Core
from adapters.telegram.emulator.world import Chat, Json

if TYPE_CHECKING:
    from adapters.telegram.emulator.humans import Humans

__all__ = ["desk_state", "sim_routes"]

_STATE_WAIT = 20.0  # seconds a state request may wait for a change
_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})

Endpoint = Callable[[web.Request], Awaitable[web.StreamResponse]]


def sim_routes(humans: Humans, core: Core) -> list[web.RouteDef]:
    sim = _Sim(humans, core)
    return [
        web.get("/_sim/state", sim.state),
        web.get("/_sim/topics", sim.topics),
        web.get("/_sim/messages", sim.messages),
        web.get("/_sim/stats", _guarded(lambda _: core.stats.as_dict())),
        web.get("/_sim/updates", _guarded(lambda _: humans.pending_updates())),
        web.get("/_sim/file/{file_id}", sim.file),
        web.post("/_sim/send", _guarded(sim.send)),
        web.post("/_sim/press", _guarded(sim.press)),
        web.post("/_sim/seed", _guarded(lambda _: {"chat_id": humans.seed_demo_desk()})),
        web.post("/_sim/group", _guarded(sim.group)),
        web.post("/_sim/user", _guarded(sim.user)),
        web.post("/_sim/member", _guarded(sim.member)),
        web.post("/_sim/rights", _guarded(sim.rights)),
        web.post("/_sim/block", _guarded(sim.block)),
        web.post("/_sim/delete_topic", _guarded(sim.delete_topic)),
    ]


def _guarded(action: Callable[[Json], Any]) -> Endpoint:
    """A JSON endpoint: the body's object to ``action``, its answer as JSON; a bad body is
    a 400 saying what is wrong."""
    async def endpoint(request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json() if request.can_read_body else {}
            if not isinstance(body, dict):
                raise ValueError("a JSON object is expected")
            return web.json_response(action(body))
        except (ValueError, KeyError, TypeError) as exc:
            return web.json_response({"error": str(exc) or type(exc).__name__}, status=400)

    return endpoint


def _query(request: web.Request, name: str) -> int | None:
    value = request.query.get(name)
    return int(value) if value not in (None, "") else None


class _Sim:
    """The test-side controls: what people do in Telegram, and what a test may look at."""

    def __init__(self, humans: Humans, core: Core) -> None:
        self.humans, self.core = humans, core

    async def state(self, request: web.Request) -> web.StreamResponse:
        core = self.core
        try:
            chat_id = _query(request, "chat_id")
            after = _query(request, "after")
        except ValueError:
            return web.json_response({"error": "chat_id and after are numbers"}, status=400)
        if after is not None and after == core.changed.version:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + _STATE_WAIT
            while core.changed.version == after and not core.updates.closed:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                await core.changed.wait(remaining)
        chat = core.world.chats.get(chat_id) if chat_id is not None else _first_group(core)
        return web.json_response(desk_state(core, chat))

    async def topics(self, request: web.Request) -> web.StreamResponse:
        return await _guarded(
            lambda _: self.humans.topics(int(request.query["chat_id"])))(request)

    async def messages(self, request: web.Request) -> web.StreamResponse:
        def look(_: Json) -> Any:
            return self.humans.messages(int(request.query["chat_id"]),
                                        _query(request, "message_thread_id"))

        return await _guarded(look)(request)

    async def file(self, request: web.Request) -> web.StreamResponse:
        stored = self.core.world.files.get(request.match_info["file_id"])
        if stored is None:
            raise web.HTTPNotFound()
        headers = {"X-Content-Type-Options": "nosniff"}
        if stored.mime_type in _IMAGES:
            return web.Response(body=stored.data, content_type=stored.mime_type, headers=headers)
        safe_name = "".join(c for c in stored.file_name if c.isalnum() or c in "._- ") or "file"
        headers["Content-Disposition"] = f'attachment; filename="{safe_name}"'
        return web.Response(body=stored.data, content_type="application/octet-stream",
                            headers=headers)

    def send(self, b: Json) -> Any:
        return self.humans.user_sends(
            int(b["chat_id"]), int(b["user_id"]), str(b["text"]),
            message_thread_id=_opt_int(b, "message_thread_id"),
            reply_to_message_id=_opt_int(b, "reply_to_message_id"))

    def press(self, b: Json) -> Any:
        return self.humans.press_button(int(b["chat_id"]), int(b["message_id"]),
                                        int(b["user_id"]), str(b["data"]))

    def group(self, b: Json) -> Any:
        chat_id = self.humans.create_group(str(b["title"]), forum=bool(b.get("forum", True)),
                                           chat_id=_opt_int(b, "chat_id"))
        return {"chat_id": chat_id}

    def user(self, b: Json) -> Any:
        user_id = self.humans.add_user(str(b["first_name"]), last_name=b.get("last_name"),
                                       username=b.get("username"), is_bot=bool(b.get("is_bot")))
        return {"user_id": user_id}

    def member(self, b: Json) -> Any:
        self.humans.add_member(int(b["chat_id"]), int(b["user_id"]),
                               str(b.get("status", "member")))
        return {"ok": True}

    def rights(self, b: Json) -> Any:
        chat_id = int(b.pop("chat_id"))
        self.humans.set_bot_rights(chat_id, **{k: bool(v) for k, v in b.items()})
        return {"ok": True}

    def block(self, b: Json) -> Any:
        self.humans.block_bot(int(b["user_id"]))
        return {"ok": True}

    def delete_topic(self, b: Json) -> Any:
        self.humans.delete_topic(int(b["chat_id"]), int(b["message_thread_id"]))
        return {"ok": True}


def _opt_int(body: Json, key: str) -> int | None:
    value = body.get(key)
    return None if value in (None, "") else int(value)


def _first_group(core: Core) -> Chat | None:
    return next((c for c in core.world.chats.values() if not c.is_private), None)


def desk_state(core: Core, chat: Chat | None) -> Json:
    """Everything the desk page shows for one chat, plus the list of chats to switch to."""
    world = core.world
    chats = [{"id": c.id, "type": c.type,
              "title": c.title if not c.is_private else world.users[c.id].full_name}
             for c in world.chats.values()]
    out: Json = {"version": core.changed.version, "bot": world.bot.to_json(), "chats": chats,
                 "chat": None, "members": [], "topics": [], "messages": [], "answers": []}
    if chat is None:
        return out
    out["chat"] = world.chat_json(chat)
    if chat.is_private:
        people = [(chat.id, "member")]
    else:
        people = [(uid, m.status) for uid, m in chat.members.items()
                  if m.status not in ("left", "kicked")]
    out["members"] = [{"id": uid, "name": world.users[uid].full_name, "status": status,
                       "is_bot": world.users[uid].is_bot} for uid, status in people]
    out["topics"] = [{**t.to_json(), "closed": t.closed} for t in chat.topics.values()]
    out["messages"] = [world.render(chat, m) for m in chat.messages.values()]
    out["answers"] = [a for a in core.answers if a["chat_id"] == chat.id][-20:]
    return out

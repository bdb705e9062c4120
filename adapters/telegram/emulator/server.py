"""A Telegram Bot API emulator that the real python-telegram-bot talks to.

It stands in for Telegram in the demo and in tests::

    emulator = BotApiEmulator()
    url = await emulator.start()
    bot = Bot("123456:TEST", base_url=f"{url}/bot", base_file_url=f"{url}/file/bot")

Routes: ``/bot{token}/{method}`` (the Bot API), ``/file/bot{token}/{path}`` (downloads),
``/desk`` (a Telegram-like page for playing the librarians) and ``/_sim/*`` (the JSON
API behind that page, mirroring the Python helpers of :class:`Humans`).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from adapters.telegram.emulator import forum, methods
from adapters.telegram.emulator.core import Core, Handler
from adapters.telegram.emulator.faults import FaultPlan, Faults
from adapters.telegram.emulator.humans import Humans
from adapters.telegram.emulator.limits import RateLimiter, RateLimits
from adapters.telegram.emulator.methods import MAX_UPLOAD
from adapters.telegram.emulator.params import Params, read_params
from adapters.telegram.emulator.sim import sim_routes
from adapters.telegram.emulator.updates import UpdateQueue
from adapters.telegram.emulator.world import ApiError, Json, User, World

__all__ = ["BotApiEmulator"]

log = logging.getLogger(__name__)

_STATIC = Path(__file__).parent / "static"
_DESK_ASSETS = {"desk.js": "text/javascript", "desk.css": "text/css"}
_TOKEN_SHAPE = re.compile(r"\d+:[\w-]+")
# Telegram matches method names without regard to case
_HANDLERS: dict[str, tuple[str, Handler]] = {
    name.lower(): (name, handler)
    for table in (methods.METHODS, forum.METHODS)
    for name, handler in table.items()
}


class BotApiEmulator(Humans):
    """Telegram for one bot: its chats, topics, updates, files and flood limits."""

    def __init__(
        self,
        *,
        rate_limits: bool = True,
        bot_token: str = "123456:TEST",
        bot_username: str = "pustaka_bot",
        bot_messages_per_second: int = 30,
        private_messages_per_second: float = 1.0,
        private_burst: int = 3,
        group_messages_per_minute: int = 20,
        privacy_mode: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        bot_id, _, _ = bot_token.partition(":")
        if not bot_id.isdigit():
            raise ValueError("a bot token starts with the bot's numeric id")
        self.bot_token = bot_token
        bot = User(int(bot_id), "Pustaka Bridge", username=bot_username, is_bot=True)
        limits = RateLimits(bot_messages_per_second, private_messages_per_second,
                            private_burst, group_messages_per_minute)
        limiter = RateLimiter(limits, clock) if rate_limits else None
        super().__init__(Core(World(bot), UpdateQueue(), limiter, privacy_mode=privacy_mode))
        self._runner: web.AppRunner | None = None
        self._faults = Faults()
        self.app = web.Application(client_max_size=MAX_UPLOAD + 1024 * 1024)
        self.app.router.add_route("*", "/bot{token}/{method}", self._api)
        self.app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self.app.router.add_get("/desk", self._desk)
        self.app.router.add_get("/desk/{asset}", self._desk_asset)
        self.app.router.add_routes(sim_routes(self, self._core))

    # -- lifecycle --------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0 picks a free port); returns the base URL."""
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        self._core.updates.closed = False
        runner = web.AppRunner(self.app, shutdown_timeout=1.0, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        address = runner.addresses[0]
        return f"http://{host}:{address[1]}"

    async def stop(self) -> None:
        """Release every long poll with what it has, then close the server."""
        self._core.updates.closed = True
        self._faults.release()
        self._core.updates.signal.fire()
        self._core.changed.fire()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    # -- faults -----------------------------------------------------------------------

    def set_faults(self, plan: FaultPlan) -> None:
        """Inject latency and faults into the plan's methods from now on (RNG reseeded)."""
        self._faults.set(plan)

    def clear_faults(self) -> None:
        """Back to a healthy Telegram; requests still held by ``timeout`` are let go."""
        self._faults.clear()

    # -- what tests look at -----------------------------------------------------------

    @property
    def bot_id(self) -> int:
        return self._core.world.bot.id

    @property
    def stats(self) -> dict[str, Any]:
        """``calls`` per method, ``"429"`` flood-limit refusals, ``messages_sent`` by the bot
        and ``faults``: how many of each kind were injected (their 429s are counted there)."""
        return {**self._core.stats.as_dict(), "faults": dict(self._faults.counts)}

    @property
    def answers(self) -> list[Json]:
        """Every answerCallbackQuery in order: the query, who pressed, the text shown."""
        return list(self._core.answers)

    @property
    def calls(self) -> list[tuple[str, Json]]:
        """Every Bot API call in order: method name and its parameters."""
        return list(self._core.calls)

    # -- HTTP -------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        if token != self.bot_token:
            if _TOKEN_SHAPE.fullmatch(token):
                return _reply(ApiError(401, "Unauthorized").to_json(), 401)
            return _not_found()
        found = _HANDLERS.get(request.match_info["method"].lower())
        if found is None:  # the Bot API server's own wording (Client.cpp)
            return _reply(ApiError(404, "Not Found: method not found").to_json(), 404)
        name, handler = found
        self._core.stats.calls[name] += 1
        try:
            params = await read_params(request)
        except Exception as exc:
            return _failure(name, exc)
        self._core.calls.append((name, params.logged()))  # faulted calls arrived too
        return await self._faults.around(name, request,
                                         lambda: self._answer(name, handler, params))

    async def _answer(self, name: str, handler: Handler, params: Params) -> web.Response:
        try:
            result = await handler(self._core, params)
        except Exception as exc:
            return _failure(name, exc)
        return _reply({"ok": True, "result": result}, 200)

    async def _download(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.bot_token:
            return _not_found()
        path = request.match_info["path"]
        for stored in self._core.world.files.values():
            if stored.file_path == path:
                return web.Response(body=stored.data, content_type="application/octet-stream")
        return _not_found()

    async def _desk(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(_STATIC / "desk.html",
                                headers={"Content-Type": "text/html; charset=utf-8"})

    async def _desk_asset(self, request: web.Request) -> web.StreamResponse:
        asset = request.match_info["asset"]
        if asset not in _DESK_ASSETS:
            raise web.HTTPNotFound()
        return web.FileResponse(_STATIC / asset,
                                headers={"Content-Type": f"{_DESK_ASSETS[asset]}; charset=utf-8"})


def _failure(name: str, exc: Exception) -> web.Response:
    if isinstance(exc, ApiError):
        return _reply(exc.to_json(), exc.code)
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return _reply(ApiError(413, "Request Entity Too Large").to_json(), 413)
    log.error("emulated %s failed", name, exc_info=exc)
    error = ApiError(500, "Internal Server Error: the emulator failed; see its log")
    return _reply(error.to_json(), 500)


def _reply(body: Json, status: int) -> web.Response:
    return web.json_response(body, status=status)


def _not_found() -> web.Response:
    return _reply({"ok": False, "error_code": 404, "description": "Not Found"}, 404)

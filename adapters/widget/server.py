"""The widget's endpoints: WebSocket, HTTP fallback, config and the script itself.

A thin translator: frames in PROTOCOL.md go to the steps in steps.py, and their answers
go back as frames. One patron's garbage gets an error frame, never a crash.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from contextlib import suppress
from importlib import resources
from typing import Any

from aiohttp import WSMsgType, web

from adapters.widget.availability import Availability, AvailabilitySource, always_staffed
from adapters.widget.frames import FrameError, error_frame
from adapters.widget.hub import WidgetHub, message_json
from adapters.widget.steps import OfflineHook, PatronSteps, Session, WidgetSettings, no_offline_hook
from adapters.widget.tokens import VisitorTokens
from routing.model import PageInfo
from routing.router import Router

__all__ = ["Availability", "FrameError", "WidgetServer", "WidgetSettings"]

log = logging.getLogger(__name__)

MAX_FRAME = 16 * 1024
HARD_FRAME_LIMIT = 1024 * 1024  # beyond this aiohttp closes the socket (1009) unread

Step = Callable[[Session, dict[str, Any]], Awaitable[dict[str, Any]]]


class WidgetServer:
    def __init__(
        self,
        router: Router,
        hub: WidgetHub,
        tokens: VisitorTokens,
        settings: WidgetSettings,
        *,
        availability: AvailabilitySource = always_staffed,
        on_offline_question: OfflineHook = no_offline_hook,
    ) -> None:
        self._router = router
        self._hub = hub
        self._settings = settings
        self._tokens = tokens
        self._steps = PatronSteps(router, hub, tokens, settings, availability=availability,
                                  on_offline_question=on_offline_question)
        self._script = resources.files("adapters.widget").joinpath("static/widget.js")

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/widget.js", self.script)
        app.router.add_get("/widget/config", self.config)
        app.router.add_get("/widget/ws", self.websocket)
        app.router.add_post("/widget/api/hello", self.http_hello)
        app.router.add_post("/widget/api/send", self.http_send)
        app.router.add_post("/widget/api/profile", self.http_profile)
        app.router.add_post("/widget/api/offline", self.http_offline)
        app.router.add_post("/widget/api/rate", self.http_rate)
        app.router.add_post("/widget/api/resume", self.http_resume)
        app.router.add_get("/widget/api/poll", self.http_poll)
        app.router.add_route("OPTIONS", "/widget/{tail:.*}", self.preflight)

    # -- plain HTTP --------------------------------------------------------------------

    async def script(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self._script.read_bytes(),
            content_type="application/javascript",
            headers={"Cache-Control": "public, max-age=300", **self._cors(request)},
        )

    async def config(self, request: web.Request) -> web.Response:
        body = {**self._settings.public(), "availability": self._steps.availability()}
        return web.json_response(body, headers={"Cache-Control": "no-store",
                                                **self._cors(request)})

    async def preflight(self, request: web.Request) -> web.Response:
        return web.Response(status=204, headers={
            **self._cors(request),
            "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
            "Access-Control-Allow-Headers": "Authorization, Content-Type",
            "Access-Control-Max-Age": "600",
        })

    async def http_hello(self, request: web.Request) -> web.Response:
        self._check_origin(request)
        body = await self._json_body(request)
        try:
            page = self._page(body, request)
            welcome, _ = await self._steps.hello({"type": "hello", **body}, page)
        except FrameError as exc:
            return self._refusal(request, exc, 401)
        return web.json_response(welcome, headers=self._cors(request))

    async def http_resume(self, request: web.Request) -> web.Response:
        self._check_origin(request)
        body = await self._json_body(request)
        try:
            return web.json_response(self._steps.resume(body), headers=self._cors(request))
        except FrameError as exc:
            return self._refusal(request, exc, 401)

    async def http_send(self, request: web.Request) -> web.Response:
        return await self._http_step(request, lambda s, b: self._steps.send(s, b, None))

    async def http_profile(self, request: web.Request) -> web.Response:
        return await self._http_step(request, self._steps.profile)

    async def http_offline(self, request: web.Request) -> web.Response:
        return await self._http_step(request, lambda s, b: self._steps.offline(s, b, None))

    async def http_rate(self, request: web.Request) -> web.Response:
        return await self._http_step(request, self._steps.rate)

    async def _http_step(self, request: web.Request, step: Step) -> web.Response:
        self._check_origin(request)
        session = self._session_from_bearer(request)
        body = await self._json_body(request)
        try:
            answer = await step(session, body)
        except FrameError as exc:
            status = {"rate_limited": 429, "not_yours": 403, "blocked": 403}.get(exc.code, 400)
            return self._refusal(request, exc, status, body.get("cid"))
        finally:
            self._hub.touch(session.visitor)
        return web.json_response(answer, headers=self._cors(request))

    async def http_poll(self, request: web.Request) -> web.Response:
        self._check_origin(request)
        session = self._session_from_bearer(request)
        since = request.query.get("since", "")[:40]
        try:
            wait = min(30.0, max(0.0, float(request.query.get("wait", "25"))))
        except ValueError:
            wait = 25.0
        _, messages = await self._router.patron_view(session.contact, after=since)
        if not messages and wait:
            await self._hub.wait(session.visitor, wait)
            _, messages = await self._router.patron_view(session.contact, after=since)
        self._hub.touch(session.visitor)
        return web.json_response({"messages": [message_json(m) for m in messages]},
                                 headers=self._cors(request))

    # -- WebSocket ---------------------------------------------------------------------

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        self._check_origin(request)
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=HARD_FRAME_LIMIT)
        await ws.prepare(request)
        session: Session | None = None
        line = _SendLine(ws)
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    if msg.type is WSMsgType.BINARY:
                        await line.drain()
                        await ws.send_json(error_frame("bad_frame", "Frames must be JSON text."))
                    continue
                session = await self._receive(ws, request, session, line, msg.data)
                if session is not None:
                    self._hub.touch(session.visitor)
            await line.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            if session is not None:
                self._hub.detach(session.visitor, ws)
        return ws

    async def _receive(
        self, ws: web.WebSocketResponse, request: web.Request, session: Session | None,
        line: _SendLine, data: str,
    ) -> Session | None:
        """A 'send' joins the line (the next frame is read while it commits); any other
        frame waits for the line to empty, so every answer leaves in the frames' order."""
        frame: dict[str, Any] | None = None
        try:
            frame = _decode(data)
            if frame["type"] == "send" and session is not None:
                await line.push(_answer(self._steps.send(session, frame, ws), frame))
                return session
            await line.drain()
            return await self._frame(ws, request, session, frame)
        except FrameError as exc:
            await line.drain()
            await ws.send_json(error_frame(exc.code, str(exc), _cid_of(data)))
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception:
            log.exception("widget frame failed")
            await ws.send_json(error_frame("internal", "Something went wrong; try again."))
        return session

    async def _frame(
        self, ws: web.WebSocketResponse, request: web.Request, session: Session | None,
        frame: dict[str, Any],
    ) -> Session | None:
        kind = frame["type"]
        if kind == "ping":
            await ws.send_json({"type": "pong"})
            return session
        if kind == "hello":
            welcome, new = await self._steps.hello(frame, self._page(frame, request))
            if session is not None:
                self._hub.detach(session.visitor, ws)
            self._hub.attach(new.visitor, ws)
            await ws.send_json(welcome)
            return new
        if session is None:
            raise FrameError("no_hello", "Send 'hello' first.")
        steps: dict[str, Step] = {
            "send": lambda s, f: self._steps.send(s, f, ws),
            "profile": self._steps.profile,
            "offline": lambda s, f: self._steps.offline(s, f, ws),
            "rate": self._steps.rate,
        }
        step = steps.get(kind)
        if step is None:
            raise FrameError("bad_frame", f"Unknown frame type {kind[:40]!r}.")
        await ws.send_json(await step(session, frame))
        return session

    # -- helpers -----------------------------------------------------------------------

    def _page(self, frame: dict[str, Any], request: web.Request) -> PageInfo:
        raw = frame.get("page")
        page: dict[str, Any] = raw if isinstance(raw, dict) else {}
        return PageInfo(
            url=_short(page.get("url"), 500),
            title=_short(page.get("title"), 200),
            user_agent=request.headers.get("User-Agent", "")[:300],
            language=_short(frame.get("lang"), 20),
            timezone=_short(frame.get("tz"), 60),
            ip=self._client_ip(request),
        )

    def _client_ip(self, request: web.Request) -> str:
        remote = request.remote or ""
        forwarded = request.headers.get("X-Forwarded-For", "")
        if forwarded and remote in self._settings.trusted_proxies:
            return forwarded.split(",")[0].strip()[:64]
        return remote

    def _session_from_bearer(self, request: web.Request) -> Session:
        header = request.headers.get("Authorization", "")
        visitor = self._tokens.verify(header.removeprefix("Bearer ").strip())
        if visitor is None:
            raise web.HTTPUnauthorized(
                text=json.dumps(error_frame("bad_token", "This chat token is not valid.")),
                content_type="application/json", headers=self._cors(request))
        return self._steps.new_session(visitor, self._page({}, request))

    async def _json_body(self, request: web.Request) -> dict[str, Any]:
        if request.content_length is not None and request.content_length > MAX_FRAME:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_FRAME,
                                                actual_size=request.content_length)
        raw = await request.content.read(MAX_FRAME + 1)
        if len(raw) > MAX_FRAME:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_FRAME, actual_size=len(raw))
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(
                text=json.dumps(error_frame("bad_frame", "The body must be a JSON object.")),
                content_type="application/json", headers=self._cors(request))
        return body

    def _refusal(
        self, request: web.Request, exc: FrameError, status: int, cid: Any = None
    ) -> web.Response:
        return web.json_response(error_frame(exc.code, str(exc), cid), status=status,
                                 headers=self._cors(request))

    def _check_origin(self, request: web.Request) -> None:
        allowed = self._settings.allowed_origins
        origin = request.headers.get("Origin", "")
        if allowed and origin and origin not in allowed:
            raise web.HTTPForbidden(text="This site may not embed the library's chat.")

    def _cors(self, request: web.Request) -> dict[str, str]:
        origin = request.headers.get("Origin", "")
        allowed = self._settings.allowed_origins
        if not allowed:
            return {"Access-Control-Allow-Origin": "*"}
        if origin not in allowed:
            return {}
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


class _SendLine:
    """A socket's 'send' frames in flight, each in a task started in arrival order (so the
    router numbers them in that order); each answer waits for the one before it."""

    def __init__(self, ws: web.WebSocketResponse, limit: int = 32) -> None:
        self._ws = ws
        self._limit = limit
        self._tasks: deque[asyncio.Task[None]] = deque()

    async def push(self, answer: Awaitable[dict[str, Any]]) -> None:
        while len(self._tasks) >= self._limit:
            await self._tasks[0]
        before = self._tasks[-1] if self._tasks else None
        task = asyncio.ensure_future(self._send_after(answer, before))
        self._tasks.append(task)
        task.add_done_callback(lambda t: self._tasks.remove(t) if t in self._tasks else None)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks))

    async def _send_after(
        self, answer: Awaitable[dict[str, Any]], before: asyncio.Task[None] | None
    ) -> None:
        frame = await answer
        if before is not None:
            await asyncio.wait([before])
        with suppress(ConnectionError, RuntimeError):
            await self._ws.send_json(frame)


async def _answer(step: Awaitable[dict[str, Any]], frame: dict[str, Any]) -> dict[str, Any]:
    """The step's answer, or the error frame that stands for its failure."""
    try:
        return await step
    except FrameError as exc:
        return error_frame(exc.code, str(exc), frame.get("cid"))
    except Exception:
        log.exception("widget frame failed")
        return error_frame("internal", "Something went wrong; try again.")


def _decode(data: str) -> dict[str, Any]:
    if len(data) > MAX_FRAME:
        raise FrameError("too_big", f"Frames are limited to {MAX_FRAME} bytes.")
    try:
        frame = json.loads(data)
    except ValueError:
        raise FrameError("bad_frame", "The frame is not valid JSON.") from None
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise FrameError("bad_frame", "A frame is a JSON object with a 'type'.")
    return frame


def _cid_of(data: str) -> Any:
    try:
        frame = json.loads(data) if len(data) <= MAX_FRAME else None
    except ValueError:
        return None
    return frame.get("cid") if isinstance(frame, dict) else None


def _short(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""

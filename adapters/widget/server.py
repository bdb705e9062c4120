"""The widget's endpoints: WebSocket, HTTP fallback, config and the script itself.

A thin translator: frames in PROTOCOL.md become ``Inbound`` records for the router, and
router answers become frames. One patron's garbage gets an error frame, never a crash.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from aiohttp import WSMsgType, web

from adapters.widget.hub import WidgetHub, message_json
from adapters.widget.tokens import VisitorTokens
from routing.limits import TokenBucket
from routing.model import Channel, Contact, Inbound, PageInfo
from routing.router import Refused, Router

__all__ = ["WidgetServer", "WidgetSettings"]

log = logging.getLogger(__name__)

MAX_FRAME = 16 * 1024
HARD_FRAME_LIMIT = 1024 * 1024  # beyond this aiohttp closes the socket (1009) unread


@dataclass(frozen=True)
class WidgetSettings:
    library: str = "Our Library"
    colour: str = "#0b5394"
    position: str = "right"
    logo: str = ""
    greeting: dict[str, str] = field(default_factory=dict)
    max_text: int = 4000
    messages_per_minute: int = 30
    allowed_origins: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = ()

    def public(self) -> dict[str, Any]:
        return {
            "library": self.library,
            "colour": self.colour,
            "position": self.position,
            "logo": self.logo,
            "greeting": self.greeting,
            "max_text": self.max_text,
            "languages": sorted(self.greeting),
        }


class FrameError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Session:
    """One browser tab: who it is and where it is."""

    visitor: str
    page: PageInfo
    bucket: TokenBucket


class WidgetServer:
    def __init__(
        self, router: Router, hub: WidgetHub, tokens: VisitorTokens, settings: WidgetSettings
    ) -> None:
        self._router = router
        self._hub = hub
        self._tokens = tokens
        self._settings = settings
        self._script = resources.files("adapters.widget").joinpath("static/widget.js")

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/widget.js", self.script)
        app.router.add_get("/widget/config", self.config)
        app.router.add_get("/widget/ws", self.websocket)
        app.router.add_post("/widget/api/hello", self.http_hello)
        app.router.add_post("/widget/api/send", self.http_send)
        app.router.add_post("/widget/api/profile", self.http_profile)
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
        return web.json_response(self._settings.public(), headers=self._cors(request))

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
            welcome, _ = await self._hello({"type": "hello", **body}, request)
        except FrameError as exc:
            return web.json_response(_error(exc.code, str(exc)), status=401,
                                     headers=self._cors(request))
        return web.json_response(welcome, headers=self._cors(request))

    async def http_profile(self, request: web.Request) -> web.Response:
        self._check_origin(request)
        session = self._session_from_bearer(request)
        body = await self._json_body(request)
        try:
            await self._profile(session, body)
        except FrameError as exc:
            return web.json_response(_error(exc.code, str(exc)), status=400,
                                     headers=self._cors(request))
        return web.json_response({"type": "profile_saved"}, headers=self._cors(request))

    async def http_send(self, request: web.Request) -> web.Response:
        self._check_origin(request)
        session = self._session_from_bearer(request)
        body = await self._json_body(request)
        try:
            ack = await self._send(session, {"type": "send", **body}, None)
        except FrameError as exc:
            status = 429 if exc.code == "rate_limited" else 400
            return web.json_response(_error(exc.code, str(exc), body.get("cid")), status=status,
                                     headers=self._cors(request))
        return web.json_response(ack, headers=self._cors(request))

    async def http_poll(self, request: web.Request) -> web.Response:
        self._check_origin(request)
        session = self._session_from_bearer(request)
        since = request.query.get("since", "")[:40]
        try:
            wait = min(30.0, max(0.0, float(request.query.get("wait", "25"))))
        except ValueError:
            wait = 25.0
        contact = Contact(Channel.WIDGET, session.visitor)
        _, messages = await self._router.patron_view(contact, after=since)
        if not messages and wait:
            await self._hub.wait(session.visitor, wait)
            _, messages = await self._router.patron_view(contact, after=since)
        return web.json_response({"messages": [message_json(m) for m in messages]},
                                 headers=self._cors(request))

    # -- WebSocket ---------------------------------------------------------------------

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        self._check_origin(request)
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=HARD_FRAME_LIMIT)
        await ws.prepare(request)
        session: Session | None = None
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    if msg.type is WSMsgType.BINARY:
                        await ws.send_json(_error("bad_frame", "Frames must be JSON text."))
                    continue
                try:
                    session = await self._frame(ws, request, session, msg.data)
                except FrameError as exc:
                    await ws.send_json(_error(exc.code, str(exc), _cid_of(msg.data)))
                except Exception:
                    log.exception("widget frame failed")
                    await ws.send_json(_error("internal", "Something went wrong; try again."))
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            if session is not None:
                self._hub.detach(session.visitor, ws)
        return ws

    async def _frame(
        self, ws: web.WebSocketResponse, request: web.Request, session: Session | None, data: str
    ) -> Session | None:
        if len(data) > MAX_FRAME:
            raise FrameError("too_big", f"Frames are limited to {MAX_FRAME} bytes.")
        try:
            frame = json.loads(data)
        except ValueError:
            raise FrameError("bad_frame", "The frame is not valid JSON.") from None
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            raise FrameError("bad_frame", "A frame is a JSON object with a 'type'.")
        kind = frame["type"]
        if kind == "ping":
            await ws.send_json({"type": "pong"})
            return session
        if kind == "hello":
            welcome, new = await self._hello(frame, request)
            if session is not None:
                self._hub.detach(session.visitor, ws)
            self._hub.attach(new.visitor, ws)
            await ws.send_json(welcome)
            return new
        if session is None:
            raise FrameError("no_hello", "Send 'hello' first.")
        if kind == "send":
            await ws.send_json(await self._send(session, frame, ws))
        elif kind == "profile":
            await self._profile(session, frame)
            await ws.send_json({"type": "profile_saved"})
        else:
            raise FrameError("bad_frame", f"Unknown frame type {kind[:40]!r}.")
        return session

    # -- steps shared by both transports -------------------------------------------------

    async def _hello(
        self, frame: dict[str, Any], request: web.Request
    ) -> tuple[dict[str, Any], Session]:
        token = frame.get("token")
        if token is None or token == "":
            visitor, token = self._tokens.issue()
        else:
            verified = self._tokens.verify(token)
            if verified is None:
                raise FrameError("bad_token", "This chat token is not valid; start a new chat.")
            visitor = verified
        since = frame.get("since")
        since = since[:40] if isinstance(since, str) else ""
        conversation, history = await self._router.patron_view(
            Contact(Channel.WIDGET, visitor), after=since
        )
        session = Session(visitor, self._page(frame, request), self._bucket())
        welcome = {
            "type": "welcome",
            "token": token,
            "visitor": visitor,
            "conversation": None if conversation is None else {
                "id": conversation.id,
                "status": conversation.status.value,
                "claimed_by": conversation.claimed_by,
            },
            "history": [message_json(m) for m in history],
        }
        return welcome, session

    async def _send(
        self, session: Session, frame: dict[str, Any], ws: web.WebSocketResponse | None
    ) -> dict[str, Any]:
        cid, text = frame.get("cid"), frame.get("text")
        if not isinstance(cid, str) or not 0 < len(cid) <= 64:
            raise FrameError("bad_frame", "'cid' must be a string of 1 to 64 characters.")
        if not isinstance(text, str):
            raise FrameError("bad_frame", "'text' must be a string.")
        loop = asyncio.get_running_loop()
        if not session.bucket.take(loop.time()):
            raise FrameError("rate_limited", "You are sending too fast; wait a moment.")
        inbound = Inbound(Channel.WIDGET, session.visitor, text, client_id=cid, page=session.page)
        try:
            accepted = await self._router.accept(inbound)
        except Refused as exc:
            raise FrameError(exc.code, exc.reason) from None
        stored = message_json(accepted.message)
        if not accepted.duplicate:  # the patron's other tabs show it too
            await self._hub.publish(session.visitor, {"type": "message", "message": stored},
                                    exclude=ws)
        return {"type": "ack", "cid": cid, "message": stored}

    async def _profile(self, session: Session, frame: dict[str, Any]) -> None:
        name, email = frame.get("name", ""), frame.get("email", "")
        if not isinstance(name, str) or not isinstance(email, str):
            raise FrameError("bad_frame", "'name' and 'email' must be strings.")
        name, email = " ".join(name.split())[:200], email.strip()[:200]
        if email and (email.count("@") != 1 or any(c.isspace() for c in email)):
            raise FrameError("bad_email", "That email address does not look right.")
        await self._router.identify(Contact(Channel.WIDGET, session.visitor), name=name,
                                    email=email)

    # -- helpers -----------------------------------------------------------------------

    def _bucket(self) -> TokenBucket:
        per_minute = max(1, self._settings.messages_per_minute)
        return TokenBucket(rate=per_minute / 60.0, capacity=max(5.0, per_minute / 6))

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
                text=json.dumps(_error("bad_token", "This chat token is not valid.")),
                content_type="application/json", headers=self._cors(request))
        return Session(visitor, self._page({}, request), self._bucket())

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
                text=json.dumps(_error("bad_frame", "The body must be a JSON object.")),
                content_type="application/json", headers=self._cors(request))
        return body

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


def _error(code: str, message: str, cid: Any = None) -> dict[str, Any]:
    frame = {"type": "error", "code": code, "message": message}
    if isinstance(cid, str):
        frame["cid"] = cid[:64]
    return frame


def _cid_of(data: str) -> Any:
    try:
        frame = json.loads(data) if len(data) <= MAX_FRAME else None
    except ValueError:
        return None
    return frame.get("cid") if isinstance(frame, dict) else None


def _short(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""

"""The widget's plain-HTTP endpoints: its config, the fallback for browsers without
WebSockets, file uploads and downloads (origin checks: origins.py). Each endpoint only
carries a step of steps.py (or an upload into one); a refusal is an ``error`` object with
an HTTP 4xx, never a crash.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from adapters.widget.address import TrustedProxies, client_ip
from adapters.widget.downloads import FileDownloads
from adapters.widget.frames import FrameError, cid_in, error_frame, json_value, refusal
from adapters.widget.hub import WidgetHub
from adapters.widget.origins import Origins
from adapters.widget.presence import accept_language
from adapters.widget.render import FILE_PATH, history_json
from adapters.widget.steps import PatronSteps, Session, WidgetSettings
from adapters.widget.tokens import VisitorTokens
from adapters.widget.uploads import FileRefused, Upload, Uploads
from routing.model import Channel, Inbound, PageInfo
from routing.router import Router

__all__ = ["MAX_FRAME", "Step", "WidgetHttp"]

MAX_FRAME = 16 * 1024

Step = Callable[[Session, dict[str, Any]], Awaitable[dict[str, Any]]]
_STATUS = {"rate_limited": 429, "not_yours": 403, "blocked": 403, "bad_token": 401}


class WidgetHttp:
    def __init__(
        self,
        router: Router,
        hub: WidgetHub,
        tokens: VisitorTokens,
        settings: WidgetSettings,
        steps: PatronSteps,
        *,
        uploads: Uploads | None = None,
        downloads: FileDownloads | None = None,
    ) -> None:
        self._router = router
        self._hub = hub
        self._tokens = tokens
        self._settings = settings
        self._steps = steps
        self._uploads = uploads
        self._downloads = downloads
        self._proxies = TrustedProxies(settings.trusted_proxies)
        origins = Origins(settings.allowed_origins)
        self.check_origin, self.cors = origins.check, origins.cors

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/widget/config", self.config)
        app.router.add_post("/widget/api/hello", self.http_hello)
        app.router.add_post("/widget/api/send", self.http_send)
        app.router.add_post("/widget/api/upload", self.http_upload)
        app.router.add_post("/widget/api/profile", self.http_profile)
        app.router.add_post("/widget/api/confirm", self.http_confirm)
        app.router.add_post("/widget/api/offline", self.http_offline)
        app.router.add_post("/widget/api/rate", self.http_rate)
        app.router.add_post("/widget/api/resume", self.http_resume)
        app.router.add_get("/widget/api/poll", self.http_poll)
        app.router.add_get(FILE_PATH + "{digest}", self.download)

    # -- the config ------------------------------------------------------------------------

    async def config(self, request: web.Request) -> web.Response:
        files = self._uploads.public() if self._uploads is not None else {"enabled": False}
        body = {**self._settings.public(), "availability": self._steps.availability(),
                "files": files}
        return web.json_response(body, headers={"Cache-Control": "no-store",
                                                **self.cors(request)})

    async def preflight(self, request: web.Request) -> web.Response:
        return web.Response(status=204, headers={
            **self.cors(request),
            "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
            "Access-Control-Allow-Headers": "Authorization, Content-Type",
            "Access-Control-Max-Age": "600",
        })

    # -- the fallback for browsers without WebSockets -----------------------------------------

    async def http_hello(self, request: web.Request) -> web.Response:
        self.check_origin(request)
        body = await self._json_body(request)
        try:
            page = self.page(body, request)
            welcome, _ = await self._steps.hello({"type": "hello", **body}, page)
        except FrameError as exc:
            return self._refusal(request, exc, _STATUS.get(exc.code, 401))
        return web.json_response(welcome, headers=self.cors(request))

    async def http_resume(self, request: web.Request) -> web.Response:
        self.check_origin(request)
        body = await self._json_body(request)
        try:
            return web.json_response(await self._steps.resume(body), headers=self.cors(request))
        except FrameError as exc:
            return self._refusal(request, exc, 401)

    async def http_send(self, request: web.Request) -> web.Response:
        return await self.http_step(request, lambda s, b: self._steps.send(s, b, None))

    async def http_profile(self, request: web.Request) -> web.Response:
        return await self.http_step(request, self._steps.profile)

    async def http_confirm(self, request: web.Request) -> web.Response:
        return await self.http_step(request, self._steps.confirm_email)

    async def http_offline(self, request: web.Request) -> web.Response:
        return await self.http_step(request, lambda s, b: self._steps.offline(s, b, None))

    async def http_rate(self, request: web.Request) -> web.Response:
        return await self.http_step(request, self._steps.rate)

    async def http_step(self, request: web.Request, step: Step) -> web.Response:
        self.check_origin(request)
        session = await self._session_from_bearer(request)
        body = await self._json_body(request)
        try:
            answer = await step(session, body)
        except FrameError as exc:
            return self._refusal(request, exc, _STATUS.get(exc.code, 400), body.get("cid"))
        finally:
            self._hub.touch(session.visitor)
        status = 400 if answer.get("type") == "error" else 200  # a refusal with a reason
        return web.json_response(answer, status=status, headers=self.cors(request))

    async def http_poll(self, request: web.Request) -> web.Response:
        self.check_origin(request)
        session = await self._session_from_bearer(request)
        since = request.query.get("since", "")[:40]
        try:
            wait = min(30.0, max(0.0, float(request.query.get("wait", "25"))))
        except ValueError:
            wait = 25.0
        conversation, messages = await self._router.intake.patron_view(session.contact, after=since)
        if not messages and wait:
            await self._hub.wait(session.visitor, wait)
            if self._steps.sessions.superseded(session):  # a resume link was opened meanwhile
                raise self._unauthorized(request)
            conversation, messages = await self._router.intake.patron_view(session.contact,
                                                                    after=since)
        self._hub.touch(session.visitor)
        body = {"messages": history_json(messages, session.visitor, self._tokens),
                "queue": self._steps.queue_for(conversation, session.visitor)}
        return web.json_response(body, headers=self.cors(request))

    # -- files ------------------------------------------------------------------------------

    async def http_upload(self, request: web.Request) -> web.Response:
        """Files (and a caption) as one patron message; the answer is the ``ack``."""
        self.check_origin(request)
        session = await self._session_from_bearer(request)
        cid: str | None = None
        try:
            upload = await self._read_upload(request, session)
            cid = upload.cid
            answer = await self._send_upload(session, upload)
        except FileRefused as exc:
            frame = refusal(exc, exc.cid)
            if exc.file:
                frame["file"] = exc.file
            if exc.index is not None:
                frame["index"] = exc.index
            headers = {**self.cors(request), **_retry_header(exc)}
            if exc.status in (408, 413, 503):  # the body may be unread: start afresh
                headers["Connection"] = "close"
            return web.json_response(frame, status=exc.status, headers=headers)
        except FrameError as exc:
            return self._refusal(request, exc, _STATUS.get(exc.code, 400), cid)
        finally:
            self._hub.touch(session.visitor)
        return web.json_response(answer, headers=self.cors(request))

    async def _read_upload(self, request: web.Request, session: Session) -> Upload:
        """The form, once the visitor may send files, has paid for it and sent no more
        than ten files' worth. The budget goes first, so a refused or a parallel upload
        costs it too."""
        if self._uploads is None or not self._uploads.enabled:
            raise FileRefused("files_off", "Files are not accepted here.", status=403)
        limit = self._uploads.request_limit
        if request.content_length is not None and request.content_length > limit:
            raise FileRefused("too_big", "The upload is larger than the limit.", status=413)
        try:
            self._steps.sessions.spend(session)
        except FrameError as exc:
            raise FileRefused(exc.code, str(exc), status=429,
                              retry_after=exc.retry_after) from None
        return await self._uploads.read(request, session.visitor, session.page.ip)

    async def _send_upload(self, session: Session, upload: Upload) -> dict[str, Any]:
        """Store the files and send the message; files a refused message newly stored
        go again. A blocked patron's files are never stored: the router refuses the
        message whatever it carries, and says so in the library's words."""
        assert self._uploads is not None
        frame = {"cid": upload.cid, "text": upload.text}
        try:
            probe = Inbound(Channel.WIDGET, session.visitor, upload.text, page=session.page)
            if await self._router.intake.is_blocked(probe):
                return await self._steps.send(session, frame, None, (), paid=True)
            stored = await self._uploads.store(upload)
        finally:
            self._uploads.discard(upload)  # what was not stored
        try:
            answer = await self._steps.send(session, frame, None, stored, paid=True)
        except FrameError:
            self._uploads.settle(stored, ())
            raise
        except BaseException:  # the message may be stored: keep its files
            self._uploads.settle(stored, [a.digest for a in stored])
            raise
        self._uploads.settle(stored, _shown_digests(answer))
        return answer

    async def download(self, request: web.Request) -> web.StreamResponse:
        self.check_origin(request)
        if self._downloads is None:
            raise web.HTTPNotFound(text="Files are not kept here.")
        return await self._downloads.response(request)

    # -- shared checks ----------------------------------------------------------------------

    def page(self, frame: dict[str, Any], request: web.Request) -> PageInfo:
        raw = frame.get("page")
        page: dict[str, Any] = raw if isinstance(raw, dict) else {}
        return PageInfo(
            url=_short(page.get("url"), 500),
            title=_short(page.get("title"), 200),
            user_agent=request.headers.get("User-Agent", "")[:300],
            language=(_short(frame.get("lang"), 20)
                      or accept_language(request.headers.get("Accept-Language", ""))),
            timezone=_short(frame.get("tz"), 60),
            ip=self._client_ip(request),
        )

    def _client_ip(self, request: web.Request) -> str:
        """The rightmost hop our proxies did not add: see address.py."""
        return client_ip(request.remote, request.headers.get("X-Forwarded-For"), self._proxies)

    async def _session_from_bearer(self, request: web.Request) -> Session:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip()
        session = await self._steps.sessions.bearer(token, self.page({}, request))
        if session is None:
            raise self._unauthorized(request)
        return session

    def _unauthorized(self, request: web.Request) -> web.HTTPUnauthorized:
        return web.HTTPUnauthorized(
            text=json.dumps(error_frame("bad_token", "This chat token is not valid.")),
            content_type="application/json", headers=self.cors(request))

    async def _json_body(self, request: web.Request) -> dict[str, Any]:
        if request.content_length is not None and request.content_length > MAX_FRAME:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_FRAME,
                                                actual_size=request.content_length)
        raw = await request.content.read(MAX_FRAME + 1)
        if len(raw) > MAX_FRAME:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_FRAME, actual_size=len(raw))
        try:
            body = json_value(raw or b"{}")
            if not isinstance(body, dict):
                raise FrameError("bad_frame", "The body must be a JSON object.")
        except FrameError as exc:  # the cid of a body too deep to read is looked for too
            raise web.HTTPBadRequest(
                text=json.dumps(error_frame(exc.code, str(exc), cid_in(raw))),
                content_type="application/json", headers=self.cors(request)) from None
        return body

    def _refusal(
        self, request: web.Request, exc: FrameError, status: int, cid: Any = None
    ) -> web.Response:
        return web.json_response(refusal(exc, cid), status=status,
                                 headers={**self.cors(request), **_retry_header(exc)})


def _shown_digests(ack: dict[str, Any]) -> set[str]:
    """The files the stored message carries, read from their links: a resent upload
    (same cid, other files) is answered with the first message, not these files."""
    files = ack.get("message", {}).get("attachments", [])
    return {urlsplit(f.get("url", "")).path.removeprefix(FILE_PATH) for f in files}


def _retry_header(exc: FrameError) -> dict[str, str]:
    return {} if exc.retry_after is None else {"Retry-After": str(exc.retry_after)}


def _short(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""

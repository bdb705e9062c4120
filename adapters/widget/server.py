"""The widget's endpoints: the WebSocket here, plain HTTP in http_api.py.

A thin translator: frames in PROTOCOL.md go to the steps in steps.py, and their answers
go back as frames. One patron's garbage gets an error frame, never a crash.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from aiohttp import WSMsgType, web

from adapters.blobs import BlobStore
from adapters.files import FilePolicy
from adapters.i18n import Catalog
from adapters.widget.assets import WidgetAssets
from adapters.widget.availability import Availability, AvailabilitySource, always_staffed
from adapters.widget.beacon import BEACON_EVERY, BEACONS_PER_IP_HOUR, PresenceBeacon
from adapters.widget.bundle import build
from adapters.widget.downloads import FileDownloads
from adapters.widget.frames import (
    FrameError,
    cid_in,
    error_frame,
    internal_error,
    json_value,
    refusal,
)
from adapters.widget.http_api import MAX_FRAME, Step, WidgetHttp
from adapters.widget.http_transcript import TranscriptHttp
from adapters.widget.hub import WidgetHub
from adapters.widget.identity import VisitorEpochs, VisitorIdentity
from adapters.widget.profile import CodeMail, ProfileSteps
from adapters.widget.queue_view import QueueWatch
from adapters.widget.quota import UploadQuota
from adapters.widget.send_line import SendLine
from adapters.widget.steps import OfflineHook, PatronSteps, Session, WidgetSettings, no_offline_hook
from adapters.widget.tokens import VisitorTokens
from adapters.widget.transcript_step import TranscriptHook, TranscriptStep
from adapters.widget.uploads import Uploads
from routing.email_proof import EmailProofs
from routing.router import Router

__all__ = ["Availability", "FrameError", "WidgetServer", "WidgetSettings"]

log = logging.getLogger(__name__)

HARD_FRAME_LIMIT = 1024 * 1024  # beyond this aiohttp closes the socket (1009) unread


class WidgetServer:
    """``blobs`` serves the conversation's files to the widget; with ``files`` (the
    library's FilePolicy) patrons may upload too. ``queue`` shows waiting patrons their
    place; the bridge runs its ``run()`` loop. ``epochs`` keeps visitors' token
    generations (persist them: a resume must outlive a restart); ``proofs`` and
    ``send_code`` let patrons confirm the email address they type; ``quota`` limits the
    bytes of files a visitor and an address may upload a day; ``texts`` (the library's
    translations) words system lines in history in the patron's language and the bubble's
    label in the loader; ``beacon_every`` is the seconds between the loader's presence
    beacons, ``beacons_per_ip_hour`` how many one network may send (beacon.py)."""

    def __init__(
        self,
        router: Router,
        hub: WidgetHub,
        tokens: VisitorTokens,
        settings: WidgetSettings,
        *,
        availability: AvailabilitySource = always_staffed,
        on_offline_question: OfflineHook = no_offline_hook,
        blobs: BlobStore | None = None,
        files: FilePolicy | None = None,
        queue: QueueWatch | None = None,
        epochs: VisitorEpochs | None = None,
        proofs: EmailProofs | None = None,
        send_code: CodeMail | None = None,
        quota: UploadQuota | None = None,
        texts: Catalog | None = None,
        transcript_mail: TranscriptHook | None = None,
        beacon_every: float = BEACON_EVERY,
        beacons_per_ip_hour: int = BEACONS_PER_IP_HOUR,
    ) -> None:
        self._router = router
        self._hub = hub
        self._settings = settings
        self._tokens = tokens
        self._steps = PatronSteps(router, hub, tokens, settings, availability=availability,
                                  on_offline_question=on_offline_question, queue=queue,
                                  identity=VisitorIdentity(tokens, epochs),
                                  profiles=ProfileSteps(router, proofs=proofs,
                                                        send_code=send_code), texts=texts)
        uploads = None
        if blobs is not None and files is not None:
            uploads = Uploads(blobs, files, max_text=settings.max_text, quota=quota)
        downloads = FileDownloads(router, blobs, tokens) if blobs is not None else None
        self._http = WidgetHttp(router, hub, tokens, settings, self._steps,
                                uploads=uploads, downloads=downloads)
        self._assets = WidgetAssets(build(settings.public(), texts))
        self._beacon = PresenceBeacon(hub, tokens, self._http, every=beacon_every,
                                      per_ip_hour=beacons_per_ip_hour)
        self._extra: dict[str, Step] = {} if transcript_mail is None else {
            "transcript": TranscriptStep(router, self._steps, transcript_mail)}
        self._transcript_http = TranscriptHttp(self._http, self._extra.get("transcript"))

    def add_routes(self, app: web.Application) -> None:
        self._http.add_routes(app)
        self._transcript_http.add_routes(app)
        self._assets.add_routes(app)
        self._beacon.add_routes(app)
        app.router.add_get("/widget/ws", self.websocket)
        app.router.add_route("OPTIONS", "/widget/{tail:.*}", self._http.preflight)

    # -- WebSocket ---------------------------------------------------------------------

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        self._http.check_origin(request)
        # No permessage-deflate, though every browser offers it: a socket's compressor and
        # decompressor hold about 100 KiB for as long as it is open (118 KiB a socket
        # against 16 without, bench_slice --only idle), and chat frames are a few hundred
        # bytes. Uncompressed, a burst of answers is also written at once (send_line.py).
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=HARD_FRAME_LIMIT,
                                   compress=False)
        await ws.prepare(request)
        session: Session | None = None
        if request.transport is None:  # gone while the handshake was answered
            return ws
        line = SendLine(ws, request.transport)
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
        line: SendLine, data: str,
    ) -> Session | None:
        """A 'send' joins the line (the next frame is read while it commits); any other
        frame waits for the line to empty, so every answer leaves in the frames' order."""
        frame: dict[str, Any] | None = None
        try:
            frame = _decode(data)
            if frame["type"] == "send" and session is not None:
                refused = self._steps.sessions.refused_send(session, frame)
                if refused is not None:  # a spent budget (a flood's every frame): no step
                    await line.push_text(refused)
                else:
                    await line.push(_answer(self._steps.send(session, frame, ws), frame))
                return session
            await line.drain()
            return await self._frame(ws, request, session, frame)
        except FrameError as exc:
            await line.drain()
            await ws.send_json(refusal(exc, _cid_of(data)))
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception:
            log.exception("widget frame failed")
            await ws.send_json(internal_error())
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
            welcome, new = await self._steps.hello(frame, self._http.page(frame, request))
            if session is not None:
                self._hub.detach(session.visitor, ws)
            self._hub.attach(new.visitor, ws)
            await ws.send_json(welcome)
            return new
        if session is None:
            raise FrameError("no_hello", "Send 'hello' first.")
        if kind == "page":  # the visitor moved to another page: no answer
            self._steps.page(session, frame)
            return session
        steps: dict[str, Step] = {
            "send": lambda s, f: self._steps.send(s, f, ws),
            "profile": self._steps.profile,
            "confirm_email": self._steps.confirm_email,
            "offline": lambda s, f: self._steps.offline(s, f, ws),
            "rate": self._steps.rate,
            **self._extra,
        }
        step = steps.get(kind)
        if step is None:
            raise FrameError("bad_frame", f"Unknown frame type {kind[:40]!r}.")
        await ws.send_json(await step(session, frame))
        return session


async def _answer(step: Awaitable[dict[str, Any]], frame: dict[str, Any]) -> dict[str, Any]:
    """The step's answer, or the error frame that stands for its failure."""
    try:
        return await step
    except FrameError as exc:
        return refusal(exc, frame.get("cid"))
    except Exception:
        log.exception("widget frame failed")
        return internal_error()


def _decode(data: str) -> dict[str, Any]:
    if len(data) > MAX_FRAME:
        raise FrameError("too_big", f"Frames are limited to {MAX_FRAME} bytes.")
    frame = json_value(data)
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise FrameError("bad_frame", "A frame is a JSON object with a 'type'.")
    return frame


def _cid_of(data: str) -> Any:
    return cid_in(data) if len(data) <= MAX_FRAME else None

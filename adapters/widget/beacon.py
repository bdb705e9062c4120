"""``POST /widget/api/presence``: the loader's beacon, so the desk's ``/visitors`` and
``/greet`` see every visitor on the library's pages, not only those who opened the chat.

The loader sends ``{"visit", "page": {"url", "title"}, "referrer", "lang"}`` when a page
loads, when a single-page catalogue moves, and every ``next`` seconds while the page is
visible. A first beacon has no ``visit``: the answer gives one, a random id with the
bridge's signature (an HMAC with the file-link key over the id and ``"presence"``, never a
file's digest), which the loader keeps and sends back. It is no visitor token and makes
no patron: presence stays in this process's memory and lapses ``_LAPSE`` beacons after the
last one. Only when a librarian greets such a visitor (``/greet``) does a beacon's
answer carry a visitor token for that id and ``greet: true``; the loader then fetches the
chat, which opens with the greeting. Beacons are limited per network (``NetworkBudget``).
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from adapters.widget.frames import FrameError, json_value, refusal
from adapters.widget.http_api import WidgetHttp
from adapters.widget.hub import WidgetHub
from adapters.widget.newcomers import NetworkBudget
from adapters.widget.tokens import VisitorTokens

__all__ = ["BEACONS_PER_IP_HOUR", "BEACON_EVERY", "PresenceBeacon"]

BEACON_EVERY = 30.0  # seconds between two beacons of a visible page
BEACONS_PER_IP_HOUR = 12_000  # a library's shared address: ~100 visible pages at once
MAX_BODY = 4096
_LAPSE = 2.5  # beacons missed before the visitor counts as gone
_HANDLE = re.compile(r"[0-9a-f]{24}\.[0-9a-f]{32}")
_LANG = re.compile(r"[A-Za-z0-9-]{1,35}")


class PresenceBeacon:
    def __init__(self, hub: WidgetHub, tokens: VisitorTokens, http: WidgetHttp, *,
                 every: float = BEACON_EVERY, per_ip_hour: int = BEACONS_PER_IP_HOUR,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._hub = hub
        self._tokens = tokens
        self._http = http
        self._every = every
        self._budget = NetworkBudget(per_ip_hour, "presence beacons", clock=clock)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/widget/api/presence", self.beacon)

    async def beacon(self, request: web.Request) -> web.Response:
        self._http.check_origin(request)
        headers = self._http.cors(request)
        presence = self._hub.presence
        if presence is None:  # no desk reads it: the loader stops asking
            return web.json_response({"next": 0}, headers=headers)
        try:
            body = await _body(request)
            page = self._http.page(body, request)
            self._budget.spend(page.ip)
            visitor, handle = self._visit(body.get("visit"))
        except FrameError as exc:
            status = 429 if exc.code == "rate_limited" else 400
            retry = {} if exc.retry_after is None else {"Retry-After": str(exc.retry_after)}
            return web.json_response(refusal(exc), status=status, headers={**headers, **retry})
        if body.get("gone") is True:  # the chat took over: its hello says where they are
            presence.leave(visitor)
            return web.json_response({"next": 0}, headers=headers)
        presence.beacon(visitor, page, body.get("referrer"), self._every * _LAPSE)
        answer: dict[str, Any] = {"visit": handle, "next": self._every}
        if self._hub.take_greeting(visitor):
            answer |= {"greet": True, "token": self._tokens.token_for(visitor)}
        return web.json_response(answer, headers={**headers, "Cache-Control": "no-store"})

    def _visit(self, handle: Any) -> tuple[str, str]:
        """The visitor id in a handle this bridge signed; a new one for none."""
        if handle is None or handle == "":
            visitor = secrets.token_hex(12)
            return visitor, f"{visitor}.{self._tokens.file_signature(visitor, 'presence')}"
        if not isinstance(handle, str) or not _HANDLE.fullmatch(handle):
            raise FrameError("bad_visit", "visit must be the handle a beacon's answer gave.")
        visitor, signature = handle.split(".")
        if not self._tokens.verify_file(visitor, "presence", signature):
            raise FrameError("bad_visit", "This visit handle was not signed by this bridge; "
                                          "send none to get a new one.")
        return visitor, handle


async def _body(request: web.Request) -> dict[str, Any]:
    """The beacon's JSON object, each field of the type it must have."""
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise FrameError("too_long", f"A beacon is at most {MAX_BODY} bytes.")
    body = json_value(raw or b"{}")
    if not isinstance(body, dict):
        raise FrameError("bad_frame", "The body must be a JSON object.")
    page = body.get("page", {})
    if not isinstance(page, dict):
        raise FrameError("bad_frame", "page must be an object with url and title.")
    for name, value in (("page.url", page.get("url")), ("page.title", page.get("title")),
                        ("referrer", body.get("referrer")), ("lang", body.get("lang"))):
        if value is not None and not isinstance(value, str):
            raise FrameError("bad_frame", f"{name} must be text.")
    lang = body.get("lang")
    if lang and not _LANG.fullmatch(lang):
        raise FrameError("bad_frame", "lang must be a language tag such as id or pt-BR.")
    return body

"""Faults the emulator can inject into Bot API calls: what a bad day at Telegram looks like.

A :class:`FaultPlan` names the methods it touches, a latency added to each of their calls,
and the chance of each fault. One seeded draw per call picks at most one fault, so a run
that makes its calls in the same order meets the same faults.

=================  ===============================================  ====================
fault              on the wire                                      the message
=================  ===============================================  ====================
``rate_limit``     429, Telegram's JSON with ``retry_after``        not stored
``server_error``   500 ``Internal Server Error`` JSON               not stored
``bad_gateway``    502 with nginx's HTML page, as Telegram's front  not stored
``timeout``        held ``hang_seconds``, then the connection cut   not stored
``reset``          the connection cut (TCP RST), no response        not stored
``lost_response``  processed, then the connection cut               **stored**
=================  ===============================================  ====================
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from aiohttp import web

__all__ = ["DEFAULT_METHODS", "FAULT_KINDS", "FaultKind", "FaultPlan", "Faults"]

FaultKind = Literal["rate_limit", "server_error", "bad_gateway", "timeout", "reset",
                    "lost_response"]
FAULT_KINDS: tuple[FaultKind, ...] = ("rate_limit", "server_error", "bad_gateway", "timeout",
                                      "reset", "lost_response")
DEFAULT_METHODS = frozenset({"sendMessage", "createForumTopic", "editMessageText",
                             "sendDocument", "sendPhoto"})

# what nginx in front of api.telegram.org answers when the backend is away
_BAD_GATEWAY = ("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
                "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>"
                "\r\n</body>\r\n</html>\r\n")


@dataclass(frozen=True)
class FaultPlan:
    """Which methods suffer, how slowly, and how often each fault strikes (0 to 1 each)."""

    methods: frozenset[str] = DEFAULT_METHODS
    latency: float = 0.0
    rate_limit: float = 0.0
    server_error: float = 0.0
    bad_gateway: float = 0.0
    timeout: float = 0.0
    reset: float = 0.0
    lost_response: float = 0.0
    retry_after: int = 3
    hang_seconds: float = 10.0
    seed: int = 0
    _odds: tuple[tuple[FaultKind, float], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        odds = tuple((kind, float(getattr(self, kind))) for kind in FAULT_KINDS)
        if any(not 0.0 <= p <= 1.0 for _, p in odds) or sum(p for _, p in odds) > 1.0 + 1e-9:
            raise ValueError("fault probabilities are each in [0, 1] and add up to at most 1")
        if self.latency < 0 or self.hang_seconds < 0 or self.retry_after < 1:
            raise ValueError("latency and hang_seconds are >= 0, retry_after >= 1")
        object.__setattr__(self, "methods", frozenset(self.methods))
        object.__setattr__(self, "_odds", odds)

    def draw(self, rng: random.Random) -> FaultKind | None:
        """At most one fault for a call, from a single draw."""
        roll = rng.random()
        for kind, chance in self._odds:
            if roll < chance:
                return kind
            roll -= chance
        return None


Answer = Callable[[], Awaitable[web.Response]]


class Faults:
    """The emulator's current plan, its seeded dice and a count of what it injected."""

    def __init__(self) -> None:
        self.plan: FaultPlan | None = None
        self.counts: dict[FaultKind, int] = dict.fromkeys(FAULT_KINDS, 0)
        self._rng = random.Random(0)
        self._released = asyncio.Event()

    def set(self, plan: FaultPlan) -> None:
        self.plan = plan
        self._rng = random.Random(plan.seed)

    def clear(self) -> None:
        self.plan = None
        self.release()

    def release(self) -> None:
        """Let held (``timeout``) requests go now, so stopping the server does not wait."""
        self._released.set()
        self._released = asyncio.Event()  # requests held from now on wait again

    async def around(self, method: str, request: web.Request, answer: Answer) -> web.Response:
        """Answer one call, or fail it as the plan says."""
        plan = self.plan
        if plan is None or method not in plan.methods:
            return await answer()
        kind = plan.draw(self._rng)  # drawn on arrival, so order of arrival decides
        if plan.latency:
            await asyncio.sleep(plan.latency)
        if kind is None:
            return await answer()
        self.counts[kind] += 1
        if kind == "rate_limit":
            wait = plan.retry_after
            return web.json_response({"ok": False, "error_code": 429,
                                      "description": f"Too Many Requests: retry after {wait}",
                                      "parameters": {"retry_after": wait}}, status=429)
        if kind == "server_error":
            return web.json_response({"ok": False, "error_code": 500,
                                      "description": "Internal Server Error"}, status=500)
        if kind == "bad_gateway":
            return web.Response(status=502, text=_BAD_GATEWAY, content_type="text/html")
        if kind == "timeout":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._released.wait(), plan.hang_seconds)
        elif kind == "lost_response":
            await answer()
        return _cut(request)


def _cut(request: web.Request) -> web.Response:
    """Drop the connection with a TCP reset; the response returned is never written."""
    transport = request.transport
    if transport is not None and not transport.is_closing():
        sock = transport.get_extra_info("socket")
        if sock is not None:  # linger 0: close() sends RST instead of an orderly FIN
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    # aiohttp finds the transport closing and drops this quietly as a client disconnect
    return web.Response(status=599)

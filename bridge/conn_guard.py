"""Connections: at most ``server.max_connections_per_ip`` of one client at once, and
``server.header_timeout`` seconds for each request head.

aiohttp (3.14) has no header timeout: a connection that never finishes its request head
is closed only by ``keepalive_timeout`` (an hour), so 500 slow senders hold 500 sockets
as long as they like; and it accepts every connection. HTTP parsing stays aiohttp's. The
guard works at the two layers that know what it needs:

- the listening socket's protocol factory (``GuardedSite``): every connection's protocol
  is wrapped; it counts open connections per peer network (an IPv4 address, an IPv6
  /64) and answers the one too many with a fixed ``429`` and ``Retry-After`` before
  reading it; and it closes a connection that has no request in hand after
  ``header_timeout`` seconds (since it opened, or since its last response was sent);
- a middleware, which aiohttp runs once a request head is complete: it stops that
  clock while the request is served (a WebSocket or a long-poll may last hours), and
  counts requests in flight per client address as ``client_ip`` reads it. A trusted
  proxy is many patrons, so its connections are not counted at the socket; the
  middleware caps what each patron behind it holds (a 429 again).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

from adapters.widget.address import TrustedProxies, client_ip, network_key

__all__ = ["CONNECTION_GUARD", "ConnectionGuard", "GuardedSite"]

RETRY_AFTER = 10  # seconds: connections come and go; try again soon
_LINGER = 2.0  # seconds a refused connection is read (and dropped) before it is closed
_TOO_MANY = "Too many connections from your address; please try again shortly."
_REFUSAL = (f"HTTP/1.1 429 Too Many Requests\r\nRetry-After: {RETRY_AFTER}\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\nContent-Length: {len(_TOO_MANY)}\r\n"
            f"Connection: close\r\n\r\n{_TOO_MANY}").encode()

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ConnectionGuard:
    def __init__(self, max_per_ip: int, header_timeout: float,
                 trusted_proxies: Sequence[str] = ()) -> None:
        self.max_per_ip = max_per_ip
        self.header_timeout = header_timeout
        self._proxies = TrustedProxies(trusted_proxies)
        self._open: Counter[str] = Counter()  # peer network -> open connections
        self._serving: Counter[str] = Counter()  # client network -> requests in flight
        self._by_transport: dict[asyncio.BaseTransport, _GuardedConnection] = {}

    def install(self, app: web.Application) -> None:
        """Register on ``app`` (before it starts); ``GuardedSite`` finds it there."""
        app[CONNECTION_GUARD] = self
        app.middlewares.append(self.middleware)

    def protocol_factory(self, inner: Callable[[], Any]) -> Callable[[], asyncio.Protocol]:
        return lambda: _GuardedConnection(self, inner)

    @property
    def open_connections(self) -> int:
        return sum(self._open.values())

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        connection = self._by_transport.get(request.transport)  # type: ignore[arg-type]
        key = network_key(client_ip(request.remote, request.headers.get("X-Forwarded-For"),
                                    self._proxies))
        if self._serving[key] >= self.max_per_ip:
            raise web.HTTPTooManyRequests(text=_TOO_MANY,
                                          headers={"Retry-After": str(RETRY_AFTER)})
        self._serving[key] += 1
        if connection is not None:
            connection.begin()
        try:
            return await handler(request)
        finally:
            self._serving[key] -= 1
            if not self._serving[key]:
                del self._serving[key]
            if connection is not None:
                connection.end()

    # -- for _GuardedConnection ---------------------------------------------------------

    def _admit(self, peer: str, connection: _GuardedConnection) -> bool:
        """Count a new connection from ``peer``; False when it is one too many."""
        if connection.transport is not None:
            self._by_transport[connection.transport] = connection
        if peer in self._proxies:
            return True
        key = network_key(peer)
        if self._open[key] >= self.max_per_ip:
            return False
        self._open[key] += 1
        connection.counted = key
        return True

    def _release(self, connection: _GuardedConnection) -> None:
        if connection.transport is not None:
            self._by_transport.pop(connection.transport, None)
        if connection.counted:
            self._open[connection.counted] -= 1
            if not self._open[connection.counted]:
                del self._open[connection.counted]
            connection.counted = ""


CONNECTION_GUARD = web.AppKey("connection_guard", ConnectionGuard)


class _GuardedConnection(asyncio.Protocol):
    """aiohttp's protocol for one connection, behind a count and a header clock."""

    def __init__(self, guard: ConnectionGuard, inner_factory: Callable[[], Any]) -> None:
        self._guard = guard
        self._inner_factory = inner_factory
        self._inner: asyncio.Protocol | None = None
        self.transport: asyncio.Transport | None = None
        self.counted = ""
        self._serving = 0
        self._clock: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        address = peer[0] if isinstance(peer, tuple) and peer else ""
        if not self._guard._admit(client_ip(address, None, TrustedProxies()), self):
            self._refuse(transport)
            return
        self._inner = self._inner_factory()
        self._inner.connection_made(transport)
        self._start_clock()

    def data_received(self, data: bytes) -> None:
        if self._inner is not None:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        if self._inner is None:
            return None
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_clock()
        self._guard._release(self)
        if self._inner is not None:
            self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    def begin(self) -> None:
        """A request head arrived: its handler may take as long as it needs."""
        self._serving += 1
        self._stop_clock()

    def end(self) -> None:
        """Its handler is done: the next request head is on the clock."""
        self._serving -= 1
        if not self._serving:
            self._start_clock()

    def _start_clock(self) -> None:
        self._stop_clock()
        loop = asyncio.get_running_loop()
        self._clock = loop.call_later(self._guard.header_timeout, self._time_is_up)

    def _stop_clock(self) -> None:
        if self._clock is not None:
            self._clock.cancel()
            self._clock = None

    def _time_is_up(self) -> None:
        self._clock = None
        transport = self.transport
        if transport is None or transport.is_closing() or self._serving:
            return
        if transport.get_write_buffer_size() or not transport.is_reading():
            self._start_clock()  # the last response is still on its way (a slow reader)
            return
        transport.close()  # no request head in time: a slow sender, or an idle keep-alive

    def _refuse(self, transport: asyncio.Transport) -> None:
        """A plain 429 before reading anything; what the client sends meanwhile is
        dropped for a moment (closing on unread data would reset the connection and lose
        the answer), then the connection closes."""
        transport.write(_REFUSAL)
        if transport.can_write_eof():
            transport.write_eof()
        asyncio.get_running_loop().call_later(_LINGER, transport.close)


class GuardedSite(web.TCPSite):
    """A ``TCPSite`` whose connections pass the app's ``ConnectionGuard`` (when it has
    one: ``ConnectionGuard.install``)."""

    async def start(self) -> None:
        runner = self._runner
        guard = runner.app.get(CONNECTION_GUARD) if isinstance(runner, web.AppRunner) else None
        if guard is None:
            await super().start()
            return
        server = runner.server
        assert server is not None
        runner._reg_site(self)  # what BaseSite.start does
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            guard.protocol_factory(server), self._host, self._port, ssl=self._ssl_context,
            backlog=self._backlog, reuse_address=self._reuse_address,
            reuse_port=self._reuse_port)
        if self._server.sockets:
            self._bound_port = self._server.sockets[0].getsockname()[1]

"""python-telegram-bot networking over aiohttp, a drop-in for its ``HTTPXRequest``.

PTB's documented extension point is :class:`telegram.request.BaseRequest`: ``do_request``
returns ``(status, body)`` and PTB itself turns 4xx/5xx bodies into ``BadRequest``,
``Forbidden``, ``RetryAfter`` and the rest. What is ours is the transport failures:
timeouts become :class:`~telegram.error.TimedOut` and a refused, reset or dropped
connection :class:`~telegram.error.NetworkError`, as ``HTTPXRequest`` raises them.

Timeouts keep HTTPX's meaning. ``pool`` waits for one of ``connection_pool_size``
slots; ``connect`` bounds opening a connection; ``read`` bounds each wait for response
bytes. aiohttp has no write timeout, so one is kept here for any body that could stall on
the socket (uploads, and bodies over 64 KiB): the call fails when the body makes no
progress for ``write_timeout`` seconds, ``media_write_timeout`` for uploads unless the
call gives its own, as in HTTPX. A smaller body is one write into a buffer: it cannot stall.
"""

from __future__ import annotations

import asyncio
import io

import aiohttp

# PTB exports DefaultValue and ODVInput only privately; its HTTPXRequest uses them alike
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

__all__ = ["AiohttpRequest", "NotSent", "NotSentTimeout"]


class NotSent(NetworkError):
    """No connection was made: the request surely never reached Telegram, so a retry
    cannot double it (a reset or a read timeout, by contrast, may come after it did)."""


class NotSentTimeout(TimedOut):
    """A pool or connect timeout: like :class:`NotSent`, the request was not sent."""

_POOL_TIMEOUT = ("Pool timeout: All connections in the connection pool are occupied. Request was "
                 "*not* sent to Telegram. Consider adjusting the connection pool size or the "
                 "pool timeout.")
_CONNECT_TIMEOUT = "Connect timeout: no connection to the server. Request was *not* sent."
_WRITE_TIMEOUT = "Write timeout: the upload made no progress. Request was not fully sent."
_READ_TIMEOUT = "Read timeout: no response in time. Telegram may have processed the request."
_STREAM_ABOVE = 1 << 20  # aiohttp warns that bigger raw bytes may block the event loop
_WRITE_BUFFER = 1 << 16  # asyncio's default high-water mark: below it a write never waits
_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class AiohttpRequest(BaseRequest):
    """One aiohttp session with a keep-alive pool of ``connection_pool_size`` connections."""

    __slots__ = ("_keepalive", "_media_write_timeout", "_pool_size", "_proxy", "_session",
                 "_slots", "_timeouts")

    def __init__(
        self,
        connection_pool_size: int = 64,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        proxy: str | None = None,
        media_write_timeout: float | None = 20.0,
        keepalive_timeout: float = 15.0,
    ) -> None:
        if connection_pool_size < 1:
            raise ValueError("connection_pool_size must be at least 1")
        self._pool_size = connection_pool_size
        self._timeouts = (read_timeout, write_timeout, connect_timeout, pool_timeout)
        self._media_write_timeout = media_write_timeout
        self._proxy = proxy  # an http:// proxy; aiohttp itself speaks no SOCKS
        self._keepalive = keepalive_timeout
        self._session: aiohttp.ClientSession | None = None
        self._slots = asyncio.Semaphore(connection_pool_size)

    @property
    def read_timeout(self) -> float | None:
        """The read timeout used when a call does not pass its own."""
        return self._timeouts[0]

    @property
    def closed(self) -> bool:
        """True before :meth:`initialize` and after :meth:`shutdown`."""
        return self._session is None or self._session.closed

    async def initialize(self) -> None:
        """Open the session; aiohttp binds it to the running event loop."""
        if not self.closed:
            return
        connector = aiohttp.TCPConnector(limit=self._pool_size,
                                         keepalive_timeout=self._keepalive)
        # trust_env stays off: with it aiohttp looks up netrc and proxy variables in a
        # thread on every request
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=None),
            headers={"User-Agent": self.USER_AGENT}, proxy=self._proxy,
            cookie_jar=aiohttp.DummyCookieJar(), trust_env=False,
        )
        self._slots = asyncio.Semaphore(self._pool_size)

    async def shutdown(self) -> None:
        """Close the session and every pooled connection; safe to call twice."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """See :meth:`BaseRequest.do_request`: the status and body, whatever the status."""
        # Over 40 lines only by python-telegram-bot's eight-parameter signature.
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        default_read, default_write, default_connect, default_pool = self._timeouts
        body = _body(request_data)
        if isinstance(body, aiohttp.FormData):
            default_write = self._media_write_timeout
        # a smaller body is one write into aiohttp's buffer: it cannot stall on the socket
        watched = isinstance(body, aiohttp.FormData) or len(body or b"") > _WRITE_BUFFER
        write = _given(write_timeout, default_write) if watched else None
        connect = _given(connect_timeout, default_connect)
        limits = aiohttp.ClientTimeout(total=None, connect=connect, sock_connect=connect,
                                       sock_read=_given(read_timeout, default_read))
        try:
            async with asyncio.timeout(_given(pool_timeout, default_pool)):
                await self._slots.acquire()
        except TimeoutError:
            raise NotSentTimeout(_POOL_TIMEOUT) from None
        try:
            return await _exchange(session, method, url, body, limits, write)
        except TimeoutError as exc:
            if isinstance(exc, aiohttp.ConnectionTimeoutError):
                raise NotSentTimeout(_CONNECT_TIMEOUT) from exc
            raise TimedOut(_READ_TIMEOUT) from exc
        except aiohttp.ClientConnectorError as exc:  # refused, unreachable, DNS, TLS
            raise NotSent(f"aiohttp.{type(exc).__name__}: {exc}") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc
        finally:
            self._slots.release()


def _given(value: ODVInput[float], default: float | None) -> float | None:
    return default if isinstance(value, DefaultValue) else value


def _body(request_data: RequestData | None) -> aiohttp.FormData | bytes | None:
    if request_data is None:
        return None
    if request_data.contains_files:  # before parameters, which leave uploaded files out
        return _multipart(request_data)
    if not request_data.parameters:
        return None
    # form-encoded like HTTPXRequest, each value already JSON-encoded by PTB
    return request_data.url_encoded_parameters().encode()


def _multipart(request_data: RequestData) -> aiohttp.FormData:
    # unquoted: file names go out as UTF-8, as HTTPX and browsers send them, not %-escaped
    form = aiohttp.FormData(quote_fields=False)
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in request_data.multipart_data.items():
        if isinstance(content, bytes) and len(content) > _STREAM_ABOVE:
            content = io.BytesIO(content)  # aiohttp streams it instead of one huge write
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form


async def _exchange(session: aiohttp.ClientSession, method: str, url: str,
                    body: aiohttp.FormData | bytes | None, limits: aiohttp.ClientTimeout,
                    write_timeout: float | None) -> tuple[int, bytes]:
    """One request; fails if its body makes no progress for ``write_timeout`` seconds."""
    headers = _FORM if isinstance(body, bytes) else None
    if write_timeout is None:
        async with session.request(method, url, data=body, headers=headers,
                                   timeout=limits) as response:
            return response.status, await response.read()
    tracker = aiohttp.UploadTracker()
    try:
        async with asyncio.timeout(None) as deadline:
            watch = _UploadWatch(tracker, deadline, write_timeout)
            try:
                async with session.request(method, url, data=body, headers=headers,
                                           timeout=limits, upload_tracker=tracker) as response:
                    answer = response.status, await response.read()
            finally:
                watch.stop()
    except TimeoutError:
        if deadline.expired():
            raise TimedOut(_WRITE_TIMEOUT) from None
        raise
    return answer


class _UploadWatch:
    """Pushes an upload's deadline on while bytes leave; lifts it once the body is sent."""

    def __init__(self, tracker: aiohttp.UploadTracker, deadline: asyncio.Timeout,
                 limit: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._tracker, self._deadline, self._limit = tracker, deadline, limit
        self._seen = 0
        self._stopped = False
        self._every = max(0.01, min(limit / 4, 0.25))
        deadline.reschedule(self._loop.time() + limit)
        tracker.upload_complete.add_done_callback(lambda _: self.stop())
        self._tick_handle = self._loop.call_later(self._every, self._tick)

    def _tick(self) -> None:
        if self._stopped:
            return
        written = self._tracker.bytes_written
        if written > self._seen:
            self._seen = written
            self._deadline.reschedule(self._loop.time() + self._limit)
        self._tick_handle = self._loop.call_later(self._every, self._tick)

    def stop(self) -> None:
        """Idempotent; the upload's own callback may run after the request ended."""
        if self._stopped:
            return
        self._stopped = True
        self._tick_handle.cancel()
        if not self._deadline.expired():
            self._deadline.reschedule(None)

"""A socket's line of answers to its 'send' frames: each answer leaves in its frame's order.

The steps of a socket's sends run at once (the next frame is read while one commits),
and finish in any order. An answer leaves when every answer before it has left. Each
step is one task; when it finishes, the answers at the head of the line that are ready
go to one writer task, which sends them in order and ends when none are left. No answer
waits on another's task: a burst of acks from one group commit is one writer's work, and
one write to the socket (the frames built here: the widget's socket compresses nothing).
"""

from __future__ import annotations

import asyncio
import json
import struct
from collections import deque
from collections.abc import Coroutine, Iterable
from contextlib import suppress
from typing import Any, Protocol

from aiohttp import web

from adapters.widget.frames import internal_error

__all__ = ["SendLine", "text_frames"]

Answer = dict[str, Any] | str  # a frame, or its JSON text already written
BACKED_UP = 64 * 1024  # bytes the client has not read yet: the writer waits below this
BACKED_UP_PAUSE = 0.05  # seconds between looks at a backed-up socket


class Transport(Protocol):
    def write(self, data: bytes) -> None: ...
    def is_closing(self) -> bool: ...
    def get_write_buffer_size(self) -> int: ...


def text_frames(texts: Iterable[str]) -> bytes:
    """RFC 6455 text frames as a server sends them (final, unmasked, uncompressed)."""
    parts: list[bytes] = []
    for text in texts:
        data = text.encode()
        size = len(data)
        if size < 126:
            parts.append(struct.pack("!BB", 0x81, size))
        elif size < 65536:
            parts.append(struct.pack("!BBH", 0x81, 126, size))
        else:
            parts.append(struct.pack("!BBQ", 0x81, 127, size))
        parts.append(data)
    return b"".join(parts)


class SendLine:
    """At most ``limit`` answers wait in the line: ``push`` waits for room, which stops
    the socket's reading until answers leave (a client that sends and never reads is
    held by TCP, not by our memory)."""

    def __init__(self, ws: web.WebSocketResponse, transport: Transport,
                 limit: int = 32) -> None:
        self._ws = ws
        self._transport = transport  # the socket's own: aiohttp writes its frames there too
        self._limit = limit
        self._line: deque[asyncio.Future[Answer]] = deque()
        self._ready: list[Answer] = []  # left the line, not yet written
        self._writer: asyncio.Task[None] | None = None
        self._moved: asyncio.Future[None] | None = None  # wakes push and drain

    async def push(self, answer: Coroutine[Any, Any, Answer]) -> None:
        """Start ``answer`` (which must not raise: it answers its own failures) now."""
        while self._full():
            await self._wait_for_move()
        task = asyncio.ensure_future(answer)
        self._line.append(task)
        task.add_done_callback(self._take_ready)

    async def push_text(self, text: str) -> None:
        """An answer already written: sent now when nothing is before it, else in turn."""
        if not self._line and self._writer is None:
            with suppress(ConnectionError, RuntimeError):
                await self._ws.send_str(text)
            return
        while self._full():
            await self._wait_for_move()
        done: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        done.set_result(text)
        self._line.append(done)
        self._take_ready(done)

    async def drain(self) -> None:
        """Wait until every answer pushed so far has been written."""
        while self._line or self._writer is not None:
            await self._wait_for_move()

    def _full(self) -> bool:
        """Answers not yet written count, whether still in a step or waiting to be written."""
        return len(self._line) + len(self._ready) >= self._limit

    def _take_ready(self, _finished: asyncio.Future[Answer]) -> None:
        line = self._line
        while line and line[0].done():
            head = line.popleft()
            if head.cancelled():  # the server is stopping: nothing to answer
                continue
            if head.exception() is not None:  # not reached: a step answers its own failures
                self._ready.append(internal_error())
                continue
            self._ready.append(head.result())
        if self._ready and self._writer is None:
            self._writer = asyncio.ensure_future(self._write())
        self._wake()

    async def _write(self) -> None:
        try:
            while self._ready:
                answers, self._ready = self._ready, []
                if self._ws.closed or self._transport.is_closing():
                    continue  # closed (a close frame may be out): nothing may follow it
                self._transport.write(text_frames(
                    answer if isinstance(answer, str) else json.dumps(answer)
                    for answer in answers))
                # The line stays full while the client does not read, so its reading
                # stops. Looked at, not awaited: neither asyncio nor aiohttp offers a
                # public wait for a transport's buffer (aiohttp's drain is private).
                while (self._transport.get_write_buffer_size() > BACKED_UP  # noqa: ASYNC110
                       and not self._transport.is_closing()):
                    await asyncio.sleep(BACKED_UP_PAUSE)
        finally:
            self._writer = None
            self._wake()

    async def _wait_for_move(self) -> None:
        if self._moved is None:
            self._moved = asyncio.get_running_loop().create_future()
        await self._moved  # one reader per socket waits here: no shield needed

    def _wake(self) -> None:
        moved, self._moved = self._moved, None
        if moved is not None and not moved.done():
            moved.set_result(None)

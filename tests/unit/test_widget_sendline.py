"""A socket's line of answers: each answer leaves in its frame's order, whenever its step
finishes; a ready answer (a refusal of a spent budget) waits for the answers before it."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

from aiohttp import web

from adapters.widget.send_line import BACKED_UP, BACKED_UP_PAUSE, SendLine


class RecordingSocket:
    """Stands in for the WebSocket and its transport: records each frame, decoded, in
    order, whether aiohttp's writer or the line's own write sent it."""

    def __init__(self) -> None:
        self.sent: list[Any] = []
        self.writes = 0
        self.closed = False
        self.unread = 0  # bytes the client has not read

    async def send_str(self, text: str) -> None:
        self.sent.append(json.loads(text))

    def write(self, data: bytes) -> None:
        self.writes += 1
        self.sent += [json.loads(text) for text in read_frames(data)]

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return self.unread


def read_frames(data: bytes) -> list[str]:
    """Text frames as a browser reads them (RFC 6455 5.2); fails on anything else."""
    texts = []
    while data:
        assert data[0] == 0x81 and not data[1] & 0x80  # final text frame, unmasked
        size, start = data[1], 2
        if size == 126:
            size, start = int.from_bytes(data[2:4], "big"), 4
        elif size == 127:
            size, start = int.from_bytes(data[2:10], "big"), 10
        texts.append(data[start:start + size].decode())
        data = data[start + size:]
    return texts


async def gated(gate: asyncio.Event, frame: dict[str, Any]) -> dict[str, Any]:
    await gate.wait()
    return frame


def line_of(socket: RecordingSocket, limit: int = 32) -> SendLine:
    return SendLine(cast(web.WebSocketResponse, socket), socket, limit)


async def ready(frame: dict[str, Any]) -> dict[str, Any]:
    return frame


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def test_a_ready_answer_waits_for_the_answer_in_flight_before_it() -> None:
    """A refusal pushed while an ack's commit is pending is sent after that ack."""
    socket = RecordingSocket()
    line = line_of(socket)
    gate = asyncio.Event()
    await line.push(gated(gate, {"type": "ack", "cid": "c1"}))
    await line.push_text('{"type": "error", "cid": "c2"}')
    await settle()
    assert socket.sent == []
    gate.set()
    await line.drain()
    assert socket.sent == [{"type": "ack", "cid": "c1"}, {"type": "error", "cid": "c2"}]


async def test_a_ready_answer_with_nothing_in_flight_leaves_at_once() -> None:
    """With no answer pending the refusal is written before push_text returns."""
    socket = RecordingSocket()
    line = line_of(socket)
    await line.push_text('{"type": "error", "cid": "c1"}')
    assert socket.sent == [{"type": "error", "cid": "c1"}]


async def test_answers_finishing_in_reverse_leave_in_the_frames_order() -> None:
    """Steps that finish last-first are still answered first-first, each once."""
    socket = RecordingSocket()
    line = line_of(socket)
    gates = [asyncio.Event() for _ in range(5)]
    for index, gate in enumerate(gates):
        await line.push(gated(gate, {"cid": f"c{index}"}))
    for gate in reversed(gates[1:]):
        gate.set()
        await settle()
        assert socket.sent == []  # the first is still committing
    gates[0].set()
    await line.drain()
    assert socket.sent == [{"cid": f"c{index}"} for index in range(5)]


async def test_a_full_line_holds_the_next_push_until_its_head_leaves() -> None:
    """At the limit, push waits (the socket's reading stops) until an answer is written."""
    socket = RecordingSocket()
    line = line_of(socket, limit=2)
    first, second = asyncio.Event(), asyncio.Event()
    await line.push(gated(first, {"cid": "c1"}))
    await line.push(gated(second, {"cid": "c2"}))
    third = asyncio.ensure_future(line.push(gated(asyncio.Event(), {"cid": "c3"})))
    await settle()
    assert not third.done()
    second.set()
    await settle()
    assert not third.done()  # c2 is ready but waits behind c1: the line is still full
    first.set()
    await settle()
    assert third.done()
    assert socket.sent == [{"cid": "c1"}, {"cid": "c2"}]


async def test_drain_returns_once_every_answer_is_written() -> None:
    """drain waits for the steps in flight and for their writing."""
    socket = RecordingSocket()
    line = line_of(socket)
    gate = asyncio.Event()
    await line.push(gated(gate, {"cid": "c1"}))
    drained = asyncio.ensure_future(line.drain())
    await settle()
    assert not drained.done()
    gate.set()
    await drained
    assert socket.sent == [{"cid": "c1"}]


async def test_a_burst_of_ready_answers_is_one_write_of_whole_frames() -> None:
    """Answers made ready by one commit leave in one write, each its own text frame, of
    every size the frame header has (7-bit, 16-bit and 64-bit lengths)."""
    socket = RecordingSocket()
    line = line_of(socket)
    gate = asyncio.Event()
    sizes = [10, 200, 70_000]
    for size in sizes:
        await line.push(gated(gate, {"text": "é" * size}))
    gate.set()
    await line.drain()
    assert socket.writes == 1
    assert [len(frame["text"]) for frame in socket.sent] == sizes


async def test_nothing_is_written_once_the_socket_closed() -> None:
    """An answer that finishes after the socket closed writes nothing (no frame may follow
    a close frame)."""
    socket = RecordingSocket()
    line = line_of(socket)
    gate = asyncio.Event()
    await line.push(gated(gate, {"cid": "c1"}))
    socket.closed = True
    gate.set()
    await line.drain()
    assert socket.writes == 0


async def test_a_client_that_does_not_read_holds_the_line() -> None:
    """While the client's unread bytes pass the mark the writer waits, so the line fills
    and push stops the socket's reading; once it reads, the line moves again."""
    socket = RecordingSocket()
    line = line_of(socket, limit=1)
    socket.unread = 10 * BACKED_UP
    await line.push(ready({"cid": "c1"}))
    await settle()
    assert socket.sent == [{"cid": "c1"}]
    await line.push(ready({"cid": "c2"}))  # room in the line: c1 left it
    nxt = asyncio.ensure_future(line.push(ready({"cid": "c3"})))
    await asyncio.sleep(3 * BACKED_UP_PAUSE)
    assert socket.sent == [{"cid": "c1"}] and not nxt.done()
    socket.unread = 0
    await asyncio.sleep(3 * BACKED_UP_PAUSE)
    await line.drain()
    assert socket.sent == [{"cid": "c1"}, {"cid": "c2"}, {"cid": "c3"}]


class StepCrashed(BaseException):
    """Not an Exception: what _answer's own guard would not catch."""


async def crashing() -> dict[str, Any]:
    raise StepCrashed


async def test_a_step_that_escapes_its_guard_is_answered_and_the_line_moves_on() -> None:
    """An answer that died unanswered becomes an internal error frame; the answers behind
    it still leave, in order, and drain returns."""
    socket = RecordingSocket()
    line = line_of(socket)
    await line.push(crashing())
    await line.push(ready({"cid": "c2"}))
    await line.drain()
    assert [frame.get("code") or frame.get("cid") for frame in socket.sent] == ["internal", "c2"]

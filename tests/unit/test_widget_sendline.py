"""A socket's line of answers: each answer leaves in its frame's order, whenever its step
finishes; a ready answer (a refusal of a spent budget) waits for the answers before it."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

from aiohttp import web

from adapters.widget.send_line import SendLine


class RecordingSocket:
    """Stands in for the WebSocket: records each frame sent, decoded, in order."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def send_str(self, text: str) -> None:
        self.sent.append(json.loads(text))


async def gated(gate: asyncio.Event, frame: dict[str, Any]) -> dict[str, Any]:
    await gate.wait()
    return frame


def line_of(socket: RecordingSocket, limit: int = 32) -> SendLine:
    return SendLine(cast(web.WebSocketResponse, socket), limit)


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

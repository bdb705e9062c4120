"""A socket's line of answers: an answer ready at once (a refusal of a spent budget)
still leaves after the answers of the frames before it."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from aiohttp import web

from adapters.widget.server import _SendLine


class RecordingSocket:
    """Stands in for the WebSocket: records what is sent, in order, as text or JSON."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def send_str(self, text: str) -> None:
        self.sent.append(text)

    async def send_json(self, frame: dict[str, Any]) -> None:
        self.sent.append(frame)


async def gated(gate: asyncio.Event, frame: dict[str, Any]) -> dict[str, Any]:
    await gate.wait()
    return frame


async def test_a_ready_answer_waits_for_the_answer_in_flight_before_it() -> None:
    """A refusal pushed while an ack's commit is pending is sent after that ack."""
    socket = RecordingSocket()
    line = _SendLine(cast(web.WebSocketResponse, socket))
    gate = asyncio.Event()
    await line.push(gated(gate, {"type": "ack", "cid": "c1"}))
    await line.push_text('{"type": "error", "cid": "c2"}')
    for _ in range(5):
        await asyncio.sleep(0)
    assert socket.sent == []
    gate.set()
    await line.drain()
    assert socket.sent == [{"type": "ack", "cid": "c1"}, '{"type": "error", "cid": "c2"}']


async def test_a_ready_answer_with_nothing_in_flight_leaves_at_once() -> None:
    """With no answer pending the refusal is written before push_text returns."""
    socket = RecordingSocket()
    line = _SendLine(cast(web.WebSocketResponse, socket))
    await line.push_text('{"type": "error", "cid": "c1"}')
    assert socket.sent == ['{"type": "error", "cid": "c1"}']

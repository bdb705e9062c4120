"""Who is connected right now, and the widget's sender port.

The hub maps a visitor id to its open sockets and waiting long-polls. The sender pushes
a stored reply to them; a visitor who is away gets it from history when they return.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiohttp import web

from routing.model import Channel, Conversation, Delivery, Direction, Message, Patron
from routing.ports import Sent

__all__ = ["WidgetHub", "WidgetSender", "message_json"]

log = logging.getLogger(__name__)


def message_json(message: Message) -> dict[str, Any]:
    """The `Msg` object of PROTOCOL.md; notes never leave the server."""
    if message.direction is Direction.NOTE:
        raise ValueError("internal notes are never sent to a patron")
    return {
        "id": message.id,
        "cid": message.client_id,
        "direction": message.direction.value,
        "author": message.author,
        "text": message.text,
        "event": message.event,
        "at": message.created_at,
    }


class WidgetHub:
    def __init__(self) -> None:
        self._sockets: dict[str, set[web.WebSocketResponse]] = {}
        self._polls: dict[str, set[asyncio.Future[None]]] = {}

    def attach(self, visitor: str, ws: web.WebSocketResponse) -> None:
        self._sockets.setdefault(visitor, set()).add(ws)

    def detach(self, visitor: str, ws: web.WebSocketResponse) -> None:
        sockets = self._sockets.get(visitor)
        if sockets is not None:
            sockets.discard(ws)
            if not sockets:
                del self._sockets[visitor]

    def online(self, visitor: str) -> bool:
        return bool(self._sockets.get(visitor) or self._polls.get(visitor))

    @property
    def connections(self) -> int:
        return sum(len(s) for s in self._sockets.values())

    async def wait(self, visitor: str, seconds: float) -> None:
        """Park an HTTP long-poll until something is published for the visitor."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters = self._polls.setdefault(visitor, set())
        waiters.add(future)
        try:
            await asyncio.wait_for(future, seconds)
        except TimeoutError:
            pass
        finally:
            waiters.discard(future)
            if not waiters:
                self._polls.pop(visitor, None)

    async def publish(
        self, visitor: str, frame: dict[str, Any], exclude: web.WebSocketResponse | None = None
    ) -> int:
        """Send a frame to every socket of the visitor; wake its long-polls. Returns reach."""
        data = json.dumps(frame, ensure_ascii=False)
        reached = 0
        for ws in list(self._sockets.get(visitor, ())):
            if ws is exclude or ws.closed:
                continue
            try:
                await ws.send_str(data)
                reached += 1
            except (ConnectionError, RuntimeError):
                log.debug("socket of visitor %s went away during a push", visitor)
        for future in self._polls.get(visitor, ()):
            if not future.done():
                future.set_result(None)
                reached += 1
        return reached

    async def close_all(self) -> None:
        for sockets in list(self._sockets.values()):
            for ws in list(sockets):
                await ws.close(code=1001, message=b"server shutting down")


class WidgetSender:
    """Sender port for Channel.WIDGET: the message is already stored, so this only pushes."""

    def __init__(self, hub: WidgetHub) -> None:
        self._hub = hub

    async def send(
        self, delivery: Delivery, message: Message, conversation: Conversation, patron: Patron
    ) -> Sent:
        frame = {"type": "message", "message": message_json(message)}
        for contact in patron.contacts:
            if contact.channel is Channel.WIDGET:
                await self._hub.publish(contact.address, frame)
        return Sent()

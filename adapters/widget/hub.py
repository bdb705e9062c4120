"""Who is connected right now, when each visitor was last seen, and the widget's sender.

The hub maps a visitor id to its open sockets and waiting long-polls. The sender pushes
a stored reply to them; a visitor who is away gets it from history when they return.

Presence (``last_seen`` / ``away_for``) lets the email fallback tell a patron who left the
page from one who is still there: a visitor with an open socket or a waiting long-poll is
away for 0 seconds; otherwise for the time since their last connect, frame, poll or
disconnect. It is kept in this process's memory only: after a restart, or for a visitor
this process never saw, ``last_seen`` is None and ``away_for`` is infinite.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from aiohttp import web

from adapters.i18n import Catalog
from adapters.widget.presence import VisitorPresence, greet_frame
from adapters.widget.render import message_json
from adapters.widget.system_lines import worded
from adapters.widget.tokens import VisitorTokens
from routing.greeting import GREETING_EVENT
from routing.model import Channel, Conversation, Delivery, Message, Patron
from routing.ports import Sent

__all__ = ["DeliveryListener", "WidgetHub", "WidgetSender", "message_json"]

DeliveryListener = Callable[[Message], None]

log = logging.getLogger(__name__)


class WidgetHub:
    """Open sockets and long-polls per visitor, and when each visitor was last seen.

    ``clock`` gives wall-clock epoch seconds (``time.time``), so ``last_seen`` can be
    compared with stored message times and across processes. At most ``remember``
    visitors are remembered; the longest-unseen are forgotten first.
    """

    def __init__(self, *, clock: Callable[[], float] = time.time,
                 remember: int = 200_000) -> None:
        self._sockets: dict[str, set[web.WebSocketResponse]] = {}
        self._polls: dict[str, set[asyncio.Future[None]]] = {}
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._clock = clock
        self._remember = max(1, remember)
        self._listeners: list[DeliveryListener] = []
        self.presence: VisitorPresence | None = None  # live visitors for the desk (optional)
        self._greeted: OrderedDict[str, float] = OrderedDict()  # greeted with no chat open

    def watch_presence(self, **options: Any) -> VisitorPresence:
        """Keep the view of live visitors the desk's /visitors reads (presence.py)."""
        self.presence = VisitorPresence(self.online, self.away_for, clock=self._clock,
                                        **options)
        return self.presence

    def attach(self, visitor: str, ws: web.WebSocketResponse) -> None:
        self._sockets.setdefault(visitor, set()).add(ws)
        self.touch(visitor)

    def detach(self, visitor: str, ws: web.WebSocketResponse) -> None:
        sockets = self._sockets.get(visitor)
        if sockets is not None:
            sockets.discard(ws)
            if not sockets:
                del self._sockets[visitor]
        self.touch(visitor)
        if self.presence is not None and not self.online(visitor):
            self.presence.leave(visitor)

    def listen(self, listener: DeliveryListener) -> None:
        """Call ``listener`` with every message the sender pushes to a patron (the queue
        view moves the line on when a librarian answers)."""
        self._listeners.append(listener)

    def delivered(self, message: Message) -> None:
        for listener in self._listeners:
            try:
                listener(message)
            except Exception:  # a listener's failure is not the delivery's
                log.exception("widget delivery listener failed")

    # -- presence ----------------------------------------------------------------------

    def touch(self, visitor: str) -> None:
        """The visitor did something now (connected, sent a frame, polled, left)."""
        self._seen[visitor] = self._clock()
        self._seen.move_to_end(visitor)
        while len(self._seen) > self._remember:
            self._seen.popitem(last=False)

    def last_seen(self, visitor: str) -> float | None:
        """Epoch seconds of the visitor's last sign of life, or None if never seen here."""
        return self._seen.get(visitor)

    def away_for(self, visitor: str, now: float) -> float:
        """Seconds the visitor has been gone at ``now`` (epoch): 0 while connected."""
        if self.online(visitor):
            return 0.0
        seen = self._seen.get(visitor)
        return math.inf if seen is None else max(0.0, now - seen)

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
        self.touch(visitor)
        try:
            await asyncio.wait_for(future, seconds)
        except TimeoutError:
            pass
        finally:
            waiters.discard(future)
            if not waiters:
                self._polls.pop(visitor, None)
            self.touch(visitor)

    async def publish(
        self, visitor: str, frame: dict[str, Any], exclude: web.WebSocketResponse | None = None
    ) -> int:
        """Send a frame to every socket of the visitor; wake its long-polls. Returns reach."""
        targets = [ws for ws in self._sockets.get(visitor, ()) if ws is not exclude]
        reached = 0
        data = json.dumps(frame, ensure_ascii=False) if targets else ""
        for ws in targets:
            if ws.closed:
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
        if not reached and frame.get("type") == "greet":
            self._keep_greeting(visitor)
        return reached

    def _keep_greeting(self, visitor: str) -> None:
        """A greeting for a visitor with no chat open (only the loader's beacon): its
        next beacon is told to fetch the chat, which shows the stored greeting."""
        self._greeted.pop(visitor, None)
        self._greeted[visitor] = self._clock()
        while len(self._greeted) > 10_000:
            self._greeted.popitem(last=False)

    def take_greeting(self, visitor: str) -> bool:
        """Whether a greeting waits for this beacon visitor (once, within a day)."""
        at = self._greeted.pop(visitor, None)
        return at is not None and self._clock() - at < 86400

    async def disconnect(self, visitor: str) -> None:
        """Another browser took the visitor over (a resume link): close its sockets and
        answer its long-polls now, so none of them sees what comes next."""
        for future in list(self._polls.get(visitor, ())):
            if not future.done():
                future.set_result(None)
        for ws in list(self._sockets.get(visitor, ())):
            await ws.close(code=4001, message=b"continued in another browser")

    async def close_all(self) -> None:
        """Shutting down: close every socket and answer every waiting long-poll now."""
        for waiters in list(self._polls.values()):
            for future in waiters:
                if not future.done():
                    future.set_result(None)
        for sockets in list(self._sockets.values()):
            for ws in list(sockets):
                await ws.close(code=1001, message=b"server shutting down")


class WidgetSender:
    """Sender port for Channel.WIDGET: the message is already stored, so this only pushes.

    With ``tokens`` (the bridge's ``VisitorTokens``) each visitor's frame carries file
    links signed for that visitor; without, files show by name and size only. System
    lines are worded in the patron's language from ``texts`` (the library's catalog).
    """

    def __init__(self, hub: WidgetHub, *, tokens: VisitorTokens | None = None,
                 texts: Catalog | None = None) -> None:
        self._hub = hub
        self._tokens = tokens
        self._texts = texts or Catalog.bundled()

    def budget_keys(
        self, delivery: Delivery, conversation: Conversation, patron: Patron, message: Message
    ) -> tuple[str, ...]:
        """Pushing to the widget costs no one's budget."""
        return ()

    async def send(
        self, delivery: Delivery, message: Message, conversation: Conversation, patron: Patron
    ) -> Sent:
        for contact in patron.contacts:
            if contact.channel is Channel.WIDGET:
                shown = message_json(message, contact.address, self._tokens)
                frame = (greet_frame(message, conversation, shown)
                         if message.event == GREETING_EVENT else
                         {"type": "message",
                          "message": worded(shown, patron.language, self._texts)})
                await self._hub.publish(contact.address, frame)
        self._hub.delivered(message)
        return Sent()

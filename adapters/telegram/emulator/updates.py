"""The bot's update queue with Telegram's ``getUpdates`` semantics, and a change signal.

Updates wait in the queue until a ``getUpdates`` call confirms them with a higher
``offset``; a long poll returns as soon as one arrives; a second poller cuts off the
first with 409, as Telegram does when two bot instances run at once.
"""

from __future__ import annotations

import asyncio
import itertools

from adapters.telegram.emulator.world import ApiError, Json

__all__ = ["DEFAULT_UPDATE_TYPES", "Signal", "UpdateQueue"]

# what Telegram delivers when allowed_updates was never set or set to []
DEFAULT_UPDATE_TYPES = frozenset({
    "message", "edited_message", "channel_post", "edited_channel_post", "callback_query",
    "inline_query", "chosen_inline_result", "my_chat_member", "chat_join_request",
    "shipping_query", "pre_checkout_query", "poll", "poll_answer",
})


class Signal:
    """Wakes every waiter on each change; waiters then re-check what they wait for."""

    def __init__(self) -> None:
        self.version = 0
        self._event = asyncio.Event()

    def fire(self) -> None:
        self.version += 1
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, seconds: float) -> None:
        event = self._event
        try:
            await asyncio.wait_for(event.wait(), seconds)
        except TimeoutError:
            pass


class UpdateQueue:
    def __init__(self, first_update_id: int = 100_000_001) -> None:
        self.signal = Signal()
        self.closed = False
        self.allowed: frozenset[str] = DEFAULT_UPDATE_TYPES
        self._pending: list[Json] = []
        self._ids = itertools.count(first_update_id)
        self._poll_seq = 0

    def push(self, kind: str, payload: Json) -> Json | None:
        """Queue an update; ``None`` if the bot's ``allowed_updates`` filters it out."""
        if kind not in self.allowed:
            return None
        update: Json = {"update_id": next(self._ids), kind: payload}
        self._pending.append(update)
        self.signal.fire()
        return update

    def pending(self) -> list[Json]:
        return list(self._pending)

    def confirm(self, offset: int) -> None:
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]

    def set_allowed(self, allowed: list[str] | None) -> None:
        if allowed is not None:  # None keeps the previous setting, as Telegram does
            self.allowed = frozenset(allowed) if allowed else DEFAULT_UPDATE_TYPES

    async def get(self, offset: int, limit: int, poll_seconds: float) -> list[Json]:
        self._poll_seq += 1
        me = self._poll_seq
        self.signal.fire()  # an older poller wakes up and finds itself superseded
        loop = asyncio.get_running_loop()
        deadline = loop.time() + poll_seconds
        while True:
            if me != self._poll_seq:
                raise ApiError(409, "Conflict: terminated by other getUpdates request; "
                                    "make sure that only one bot instance is running")
            self.confirm(offset)
            batch = self._pending[:limit]
            remaining = deadline - loop.time()
            if batch or self.closed or remaining <= 0:
                return batch
            await self.signal.wait(remaining)

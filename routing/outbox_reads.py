"""What the outbox's lanes read: few reads, however many lanes start or read on at once.

A restart onto a backlog in 500 conversations starts 500 lanes at once, and they finish
their first rows at about the same moment. Read one by one, their messages,
conversations, patrons and next rows queue up as thousands of small reads on the
store's one reading connection while the send slots stand idle. So the lanes a dispatch
starts are read in three reads (``conversations``, then ``start`` for those that do
start), and lanes that read on in the same turn of the event loop share one read of
their rows and one of their messages (``read_on``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from routing.model import Conversation, Delivery, Message, Patron
from routing.outbox_rules import Lane, lane_of
from routing.ports import OutboxStore

__all__ = ["Chats", "Known", "LaneReads"]

# What a lane reads once: its conversation and patron (None when missing), by conversation id.
Known = dict[str, "tuple[Conversation | None, Patron | None]"]
# Conversations by id, as the store reads them.
Chats = Mapping[str, Conversation]


class LaneReads:
    """``messages`` holds the messages read ahead for the lanes' next sends; a lane takes
    its own out as it sends them and drops what is left when its batch ends."""

    def __init__(self, store: OutboxStore, per_lane: int) -> None:
        self._store = store
        self._per_lane = per_lane
        self.messages: dict[str, Message] = {}
        self._waiting: dict[Lane, asyncio.Future[list[Delivery]]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._now = 0.0

    async def conversations(self, lanes: Mapping[Lane, list[Delivery]]) -> Chats:
        """The conversations of lanes that may start (the first of ``start``'s reads:
        which lanes start may depend on them)."""
        return await self._store.get_conversations({c for c, _ in lanes})

    async def start(self, lanes: Mapping[Lane, list[Delivery]], chats: Chats) -> Known:
        """The messages and patrons of lanes about to start (``chats``: their
        conversations, from ``conversations``), with the conversations as ``Known``."""
        self.messages.update(await self._store.get_messages(
            [d.message_id for rows in lanes.values() for d in rows]))
        mine = [chats[c] for c in {c for c, _ in lanes} if c in chats]
        patrons = await self._store.get_patrons({c.patron_id for c in mine})
        return {c.id: (c, patrons.get(c.patron_id)) for c in mine}

    async def read_on(self, lane: Lane, now: float) -> list[Delivery]:
        """The lane's next due rows (at most ``per_lane``), their messages read ahead."""
        waiting = self._waiting.get(lane)
        if waiting is None:
            waiting = self._waiting[lane] = asyncio.get_running_loop().create_future()
        self._now = max(self._now, now)
        if self._reader is None:
            self._reader = asyncio.create_task(self._read_all())
        return await waiting

    async def _read_all(self) -> None:
        """Read for every lane waiting; lanes that ask meanwhile wait for the next
        round, so at most one read is under way (the store has one reading connection)."""
        try:
            await asyncio.sleep(0)  # one turn: lanes reading on in it join this read
            while self._waiting:
                waiting, self._waiting = self._waiting, {}
                await self._read(waiting, self._now)
        finally:
            self._reader = None

    async def _read(self, waiting: dict[Lane, asyncio.Future[list[Delivery]]],
                    now: float) -> None:
        try:
            rows = await self._store.lane_deliveries(list(waiting), now, self._per_lane)
            wanted = [d for d in rows if not waiting[lane_of(d)].done()]  # not cancelled
            self.messages.update(await self._store.get_messages([d.message_id
                                                                 for d in wanted]))
        except Exception as exc:
            for future in waiting.values():
                if not future.done():
                    future.set_exception(exc)
            return
        by_lane: dict[Lane, list[Delivery]] = {lane: [] for lane in waiting}
        for delivery in rows:
            by_lane[lane_of(delivery)].append(delivery)
        for lane, future in waiting.items():
            if not future.done():
                future.set_result(by_lane[lane])

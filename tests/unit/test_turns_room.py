"""Room kept for conversations the desk knows: kept while it talks, given back when not."""

from __future__ import annotations

import asyncio

from routing.limits import SendBudget, WindowRule
from routing.turns import Turns
from tests.unit.fakes import FakeClock, eventually

KEYS = ("group:desk",)


def _turns(clock: FakeClock, waits: list[float]) -> Turns:
    budget = SendBudget({"group": WindowRule(4, 60.0)}, margin=0.0)

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(3600)  # a new conversation waiting for room

    return Turns(budget, clock, sleep)


class TestRoomForKnownConversations:
    async def test_a_burst_of_new_conversations_alone_takes_the_whole_window(self) -> None:
        """Of a group's 4 posts a minute, new conversations take 3 while the room for a
        known one is kept; a window later, with no known conversation having posted,
        they take all 4 at once."""
        clock, waits = FakeClock(), list[float]()
        turns = _turns(clock, waits)
        assert [await turns.book(KEYS, False, clock.now()) for _ in range(3)] == [clock.now()] * 3
        clock.advance(61.0)
        now = clock.now()
        assert [await turns.book(KEYS, False, now) for _ in range(4)] == [now] * 4
        assert waits == []

    async def test_while_the_desk_talks_the_room_stays_kept(self) -> None:
        """A known conversation posted within the window: new ones leave it its post."""
        clock, waits = FakeClock(), list[float]()
        turns = _turns(clock, waits)
        await turns.book(KEYS, True, clock.now())
        clock.advance(30.0)
        now = clock.now()
        assert [await turns.book(KEYS, False, now) for _ in range(2)] == [now] * 2
        third = asyncio.create_task(turns.book(KEYS, False, now))
        await eventually(lambda: bool(waits))
        assert waits == [30.0]  # until the known post's minute ends, not the post kept free
        assert await turns.book(KEYS, True, now) == now
        third.cancel()

    async def test_a_desk_quiet_for_long_keeps_room_again(self) -> None:
        """After two windows without a post, a new flood keeps the room from its start."""
        clock, waits = FakeClock(), list[float]()
        turns = _turns(clock, waits)
        await turns.book(KEYS, False, clock.now())
        clock.advance(121.0)
        now = clock.now()
        assert [await turns.book(KEYS, False, now) for _ in range(3)] == [now] * 3
        fourth = asyncio.create_task(turns.book(KEYS, False, now))
        await eventually(lambda: bool(waits))
        assert waits == [60.0]
        fourth.cancel()

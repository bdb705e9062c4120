"""Waiting in tests for what a real server does a moment later, and time a test moves.

``eventually(check)`` is the one polling helper: it asks ``check`` (plain or async) until
its answer is truthy and returns that answer, or fails saying what it last saw.
``JumpClock`` is wall-clock time a test can move forward: ``build(clock=, sleep=)`` hands it
to every timer in the bridge, so a reminder or an email fallback comes when the test jumps,
not after real minutes.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["JumpClock", "eventually"]

T = TypeVar("T")


async def eventually(check: Callable[[], T | Awaitable[T]], *, within: float = 15.0,
                     every: float = 0.02) -> T:
    """``check()``'s first truthy answer; an AssertionError after ``within`` seconds.

    The deadline only stops a broken test from hanging: a passing one returns as soon as
    the answer is there, so ``within`` is generous and never a measure of speed.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if loop.time() >= deadline:
            raise AssertionError(f"not true within {within} s; last answer: {value!r}")
        await asyncio.sleep(every)


class JumpClock:
    """``time.time()`` plus whatever the test has jumped; ``sleep`` wakes on a jump.

    Time still flows, so rate-limit windows and retries behave as in production; a test
    only skips the long waits (``advance(600)``) it is about.
    """

    def __init__(self) -> None:
        self.offset = 0.0
        self._sleepers: set[asyncio.Future[None]] = set()

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        """Jump forward; every ``sleep`` in progress looks at the new time at once."""
        self.offset += seconds
        for sleeper in self._sleepers:
            if not sleeper.done():
                sleeper.set_result(None)

    async def sleep(self, seconds: float) -> None:
        until = self.now() + seconds
        await asyncio.sleep(0)  # a zero sleep still yields, as asyncio.sleep(0) does
        while (left := until - self.now()) > 0:
            woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._sleepers.add(woken)
            try:
                await asyncio.wait([woken], timeout=left)
            finally:
                self._sleepers.discard(woken)

"""Garbage collection paced by the serving process: survivors aside while busy, cycles
collected at a quiet moment."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import weakref
from collections.abc import AsyncIterator, Callable

from bridge.gc_pacing import pace_collections


async def eventually(predicate: Callable[[], bool], within: float = 5.0) -> None:
    """The pacing ticks on the real clock (every 5 ms here): wait for it, a while."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        assert loop.time() < deadline, "condition never became true"
        await asyncio.sleep(0.001)


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def _cycle() -> weakref.ref[_Node]:
    """A pair of objects that hold each other: only a collection can free them."""
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    return weakref.ref(a)


class _Cpu:
    """Process time that moves a whole ``every`` per reading while busy."""

    def __init__(self) -> None:
        self.busy = True
        self.used = 0.0

    def __call__(self) -> float:
        if self.busy:
            self.used += 1.0
        return self.used


@contextlib.asynccontextmanager
async def pacing(cpu: _Cpu, defer_at_most: float = 600.0) -> AsyncIterator[None]:
    task = asyncio.create_task(pace_collections(every=0.005, cpu=cpu, gap=0.0,
                                                defer_at_most=defer_at_most))
    try:
        await eventually(lambda: gc.get_freeze_count() > 0)  # startup's collection done
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class TestPacing:
    async def test_a_quiet_walk_waits_its_gap(self) -> None:
        """Quiet seconds within ``gap`` of the last walk walk nothing: a light load that
        looks quiet now and then is not paused by a whole-heap walk each time."""
        cpu = _Cpu()
        task = asyncio.create_task(pace_collections(every=0.005, cpu=cpu, gap=3600.0))
        try:
            await eventually(lambda: gc.get_freeze_count() > 0)
            gone = _cycle()
            frozen = gc.get_freeze_count()
            await eventually(lambda: gc.get_freeze_count() > frozen)
            cpu.busy = False
            await asyncio.sleep(0.05)  # ten quiet ticks
            gc.collect()
            assert gone() is not None
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def test_while_busy_survivors_are_moved_aside(self) -> None:
        """A busy process moves what lives out of the full collections (frozen), and a
        cycle dropped meanwhile waits: no full collection walks it while busy."""
        cpu = _Cpu()
        async with pacing(cpu):
            gone = _cycle()
            frozen = gc.get_freeze_count()
            await eventually(lambda: gc.get_freeze_count() > frozen)
            gc.collect()  # what the automatic full collection does: frozen is not walked
            assert gone() is not None

    async def test_a_quiet_moment_collects_what_was_moved_aside(self) -> None:
        """The same cycle is collected at the first quiet second."""
        cpu = _Cpu()
        async with pacing(cpu):
            gone = _cycle()
            frozen = gc.get_freeze_count()
            await eventually(lambda: gc.get_freeze_count() > frozen)
            cpu.busy = False
            await eventually(lambda: gone() is None)

    async def test_never_quiet_still_collects_after_the_longest_deferral(self) -> None:
        """Busy without end, the full walk still comes ``defer_at_most`` after the last."""
        cpu = _Cpu()
        async with pacing(cpu, defer_at_most=0.05):
            gone = _cycle()
            await eventually(lambda: gone() is None)

    async def test_no_automatic_full_collection_while_paced(self) -> None:
        """Paced, the automatic full collection never comes (young ones do, less often)."""
        before = gc.get_threshold()
        async with pacing(_Cpu()):
            young, older, full = gc.get_threshold()
            assert young == max(10_000, before[0]) and older == before[1]
            assert full > 10**6

    async def test_a_young_cycle_is_still_collected_while_paced(self) -> None:
        """The raised young threshold still frees young cycles once enough is allocated."""
        async with pacing(_Cpu()):
            gone = _cycle()
            kept = [[] for _ in range(gc.get_threshold()[0] * 2)]  # allocations only
            assert gone() is None and kept

    async def test_stopping_gives_the_collector_back(self) -> None:
        """Cancelled, the pacing leaves nothing frozen and the thresholds as they were."""
        before = gc.get_threshold()
        async with pacing(_Cpu()):
            await eventually(lambda: gc.get_freeze_count() > 0)
        assert gc.get_freeze_count() == 0 and gc.get_threshold() == before

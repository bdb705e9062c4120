"""Full garbage collections at quiet moments, not on a patron's ack.

Python's automatic full collection walks every object the process keeps: with thousands
of sockets, lanes and cached rows it takes 50-200 ms, all of it on the event loop, and
it comes when allocations say so, in the middle of a burst of acks. What a bridge keeps
for long (startup's modules and wiring, a visitor's socket, a lane's rows) needs no
walking again and again. So ``pace_collections`` turns the automatic full collection
off and, every ``every`` seconds the process is busy, moves what lives aside
(``gc.freeze``, which costs nothing). The young collections run as always and still
free young cycles, and an object freed by its reference count is freed as always; only
reference cycles that become garbage after being moved aside wait: for a quiet second
(less than ``quiet`` of a core used: a twentieth, a bridge with no patron writing) at
least ``gap`` seconds after the last walk, when everything is walked once
(``gc.unfreeze`` and a full collection), or at the latest ``defer_at_most`` seconds
after the last walk, quiet or not. (At every quiet-looking second of a light load the
walk would land on acks itself: hence the gap.)

The young collection's threshold is raised too (``young``: 10,000 allocations, not 700).
Python counts allocations less frees since the last young collection, never below
zero: what lived at a collection and is freed after it is forgotten. A serving bridge
always has thousands of objects in flight (a send's coroutines, futures and rows held
across its awaits, for hundreds of lanes), so at 700 a young collection came every few
sends, and each walked everything in flight: 550 of them and 45 of the middle
generation per 5,000 forwards to the desk (bench_slice), against 4 and none at 10,000.
A young cycle that is garbage waits for at most 10,000 allocations: a megabyte or two.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable

__all__ = ["pace_collections"]


_NEVER = 1 << 30  # the automatic full collection's threshold while paced: never reached


async def pace_collections(*, every: float = 0.5, quiet: float = 0.05, gap: float = 60.0,
                           defer_at_most: float = 600.0, young: int = 10_000,
                           cpu: Callable[[], float] = time.process_time,
                           clock: Callable[[], float] = time.monotonic) -> None:
    """Run until cancelled; started once by the process that serves (not by tests'
    bridges, which share their process with each other)."""
    gc.collect()
    gc.freeze()  # what startup made lives as long as the process
    was = gc.get_threshold()
    gc.set_threshold(max(young, was[0]), was[1], _NEVER)
    last_cpu, last_full = cpu(), clock()
    try:
        while True:
            await asyncio.sleep(every)
            used, last_cpu = cpu() - last_cpu, cpu()
            since = clock() - last_full
            if since >= defer_at_most or (used < quiet * every and since >= gap):
                full_collection()
                last_full = clock()
            elif used >= quiet * every:
                gc.freeze()  # busy: what lives now is out of the full collections
    finally:
        gc.set_threshold(*was)  # the process's own collector as it was
        gc.unfreeze()


def full_collection() -> int:
    """Walk everything once (what was moved aside too), then move the living aside
    again; returns how many unreachable objects were found."""
    gc.unfreeze()
    found = gc.collect()
    gc.freeze()
    return found

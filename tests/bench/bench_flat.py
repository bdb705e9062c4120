"""Flat cost: what one budget reservation and one accepted message cost as the backlog grows.

Run: python -m tests.bench.bench_flat [--sizes 1000,10000,100000] [--only budget,intake,flood,paced]
     [--gc paced,startup]

(budget) ``N`` conversations wait for a group's 20 posts a minute (each needs a topic and
  a post), queued in the outbox's ``Turns`` as the delivery worker queues them, with
  2,000 more behind them; time per reservation is the average while the whole queue is
  served (each lane books its moment and hands the turn on), on a fake clock so only the
  work counts. Beside it, ``SendBudget.reserve``
  called directly with ``N`` sends already booked ahead (as ``commands.py`` books).
(intake) A data directory is seeded directly with ``N`` conversations, each with a patron
  message waiting for the desk; the bridge then starts on it as ``pustaka demo`` runs it
  (Telegram's real budget, in a process of its own) and 500 new widget visitors send 4
  messages each (within the per-visitor limit). Prints acked msg/s, ack p50/p99 and the
  bridge's CPU per accepted message (its own process time over the load).
(flood) The trust issue's flood: 200 new identities from one address send 10,000
  messages (50 each, beyond the per-visitor limit) against a quiet 200 x 5; the bridge's
  CPU per accepted message in both, each on a fresh bridge.
(paced) Ack latency at a paced 1,000 msg/s from 2,000 visitors (one message each every
  two seconds, within the per-visitor limit) while 2,000 seeded conversations drain;
  once with garbage collection paced as ``pustaka run`` paces it (bridge/gc_pacing.py),
  once with only a freeze after startup (``--gc paced,startup``), one after the other.

Prints figures, never asserts: they depend on the machine. tests/bench/README.md keeps the
latest ones.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from routing.limits import SendBudget, WindowRule
from routing.turns import Turns
from tests.bench.flat_intake import flood, intake_curve, paced

RULES = {"group": WindowRule(20, 60.0), "bot": WindowRule(30, 1.0)}
KEYS = ("bot", "group:desk", "group:desk")  # a new conversation: a topic and its post
MEASURED = 2_000


class _Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t


async def turns_cost(waiting: int) -> float:
    """Microseconds per reservation with ``waiting`` lanes queued for the group."""
    clock = _Clock()
    served = 0
    go, done = asyncio.Event(), asyncio.Event()
    total = waiting + MEASURED

    async def sleep(seconds: float) -> None:
        await go.wait()  # the queue fills first; then time runs
        clock.t += seconds

    turns = Turns(SendBudget(RULES, margin=0.25), clock, sleep)

    async def lane() -> None:
        nonlocal served
        await turns.book(KEYS, False, clock.now())
        served += 1
        if served == total:
            done.set()

    tasks = [asyncio.create_task(lane()) for _ in range(total)]
    while turns.waiting() + served < total:
        await asyncio.sleep(0)
    started, before = time.perf_counter(), served
    go.set()
    await done.wait()
    elapsed = time.perf_counter() - started
    await asyncio.gather(*tasks)
    return elapsed / (total - before) * 1e6

def reserve_cost(booked: int) -> float:
    """Microseconds per ``SendBudget.reserve`` with ``booked`` sends already booked ahead."""
    budget = SendBudget(RULES, margin=0.25)
    for _ in range(booked):
        budget.reserve(KEYS, 0.0)
    started = time.perf_counter()
    for _ in range(MEASURED):
        budget.reserve(KEYS, 0.0)
    return (time.perf_counter() - started) / MEASURED * 1e6


async def budget_curve(sizes: list[int]) -> None:
    for n in sizes:
        queued = await turns_cost(n)
        direct = reserve_cost(n)
        print(f"budget: {n:>7,} conversations waiting: {queued:6.1f} us per turn (queued), "
              f"{direct:6.1f} us per reserve with {n:,} booked ahead", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--only", default="budget,intake,flood,paced")
    parser.add_argument("--gc", default="paced,startup",
                        help="paced: garbage collection as serve_until_signalled paces it; "
                             "startup: one freeze after startup (the comparison); "
                             "ceiling: the ceiling server (BENCH_CEILING, else "
                             "../shared/bench/intake_ceiling.py beside the checkout's folder)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if "budget" in args.only:
        asyncio.run(budget_curve(sizes))
    if "intake" in args.only:
        intake_curve(sizes)
    if "flood" in args.only:
        flood(18_500)
    if "paced" in args.only:
        paced(18_600, gc_modes=tuple(args.gc.split(",")))


if __name__ == "__main__":
    main()

"""Delivery guarantees, measured: bursts under Telegram's limits, faults, and crashes.

    .venv/bin/python -m tests.bench.bench_delivery                 # all three, real speed
    .venv/bin/python -m tests.bench.bench_delivery --runs a --speed 20
    .venv/bin/python -m tests.bench.bench_delivery --runs bc --crash-speed 4  # (b) at 1x

(a) burst: 60 widget patrons send 600 messages within one minute into one desk group
    with Telegram's limits on (20 posts a minute into the group, topics count too).
(b) faults: the same with 10% of the bot's sends failing, shared equally by 429, 500,
    502, timeout, connection reset and a response lost after acceptance.
(c) crash: the bridge in its own process (tests/bench/delivery_runner.py), with email
    on, is killed with SIGKILL at five random moments and restarted, while widget, email
    (real Dovecot and aiosmtpd) and Telegram-DM patrons write and librarians answer in
    the topics (crash_mixed.py; its figures per channel: crash_report.py).

Printed for each: delivered, duplicated (copies found in the desk; and what the outbox
counted as possible duplicates), lost, 429s (refused by the flood limiter / received by
the outbox), time to drain against the physical minimum; for (c) replies too. ``--speed``
runs Telegram's clock (and the bridge's group window) that many times fast (see
delivery_rig.py); ``--fault-speed`` and ``--crash-speed`` set it for (b) or (c) alone.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from adapters.telegram.emulator import BotApiEmulator, FaultPlan
from tests.bench.burst_timeline import PostClock, eager_floor, timeline
from tests.bench.crash_mixed import CrashPlan, mixed_crash_run
from tests.bench.delivery_rig import (
    Census,
    census,
    close_patrons,
    open_patrons,
    send_burst,
    start_bridge,
    start_emulator,
)
from tests.bench.desk_census import GROUP_PER_MINUTE, bot_posts, physical_minimum

__all__ = ["main"]


@dataclass
class Run:
    name: str
    expected: int
    found: Census
    drain: float  # seconds from the first message to the last one in its topic
    minimum: float  # the physical minimum for the same
    limiter_429: int
    stats: dict[str, int]
    extra: str = ""

    def report(self) -> str:
        ratio = self.drain / self.minimum if self.minimum else float("nan")
        lines = [
            f"({self.name})",
            f"  delivered      {self.found.delivered}/{self.expected}   lost "
            f"{len(self.found.missing)}   out of order {len(self.found.out_of_order)}   "
            f"split {len(self.found.split)}",
            f"  duplicated     {self.found.duplicated} found in the desk; outbox counted "
            f"{self.stats.get('possible_duplicates', 0)} possible "
            f"({self.stats.get('crash_resends', 0)} after a crash); extra topics "
            f"{self.found.extra_topics}",
            f"  429s           {self.limiter_429} refused by the flood limiter; "
            f"{self.stats.get('rate_limited', 0)} received by the outbox",
            f"  drain          {self.drain:.1f} s vs physical minimum {self.minimum:.1f} s "
            f"({ratio:.2f}x)",
            f"  outbox         sent {self.stats.get('sent', 0)} posts for "
            f"{self.stats.get('delivered', 0)} deliveries (coalesced "
            f"{self.stats.get('coalesced', 0)}), retried {self.stats.get('retried', 0)}, "
            f"failed {self.stats.get('failed', 0)}",
        ]
        if self.extra:
            lines.append(f"  {self.extra}")
        return "\n".join(lines)


async def wait_drained(emulator: BotApiEmulator, group: int, sent: dict[int, list[str]],
                       start: float, limit: float) -> tuple[Census, float]:
    shown = start
    while True:
        found = census(emulator, group, sent)
        now = time.monotonic()
        if not found.missing or now - start > limit:
            return found, now - start
        if now - shown > 30:  # a real-speed run takes minutes: show it is alive
            shown = now
            print(f"  … {now - start:.0f} s: {found.delivered} in their topics, "
                  f"{len(found.missing)} to go", file=sys.stderr, flush=True)
        await asyncio.sleep(0.2)


def fault_plan(share: float = 0.10) -> FaultPlan:
    each = share / 6
    return FaultPlan(rate_limit=each, server_error=each, bad_gateway=each, timeout=each,
                     reset=each, lost_response=each, retry_after=3, hang_seconds=5.0, seed=11)


async def burst_run(name: str, speed: float, patrons: int, messages: int,
                    faults: FaultPlan | None) -> Run:
    emulator, url, group, _ = await start_emulator(speed)
    with tempfile.TemporaryDirectory() as tmp:
        bridge = await start_bridge(url, group, Path(tmp), speed=speed)
        if faults is not None:
            emulator.set_faults(faults)
        widgets = await open_patrons(bridge.url, patrons)
        sent: dict[int, list[str]] = {}
        minute = 60.0 / speed
        start = time.monotonic()
        clock, moments = PostClock(emulator, group, start), dict[int, list[float]]()
        clock.begin()
        try:
            await send_burst(widgets, sent, minute=minute, messages=messages,
                             rng=random.Random(3), moments=moments)
            found, drain = await wait_drained(emulator, group, sent, start, 40 * minute)
            stats = bridge.worker.stats()
        finally:
            clock.end()
            await close_patrons(widgets)
            emulator.clear_faults()
            await bridge.stop()
            await emulator.stop()
    posts = bot_posts(emulator, group)  # reminders, too, take from the group's 20 a minute
    extra = (f"group posts    {posts['topics']} topics, {posts['patron']} patron posts, "
             f"{posts['notices']} notices\n" + floors(patrons, moments, start, speed, posts, drain)
             + "\n  " + "\n  ".join(timeline(clock.posts, minute)))
    if faults:
        extra += f"\n  faults         {emulator.stats['faults']}"
    return Run(name, patrons * messages, found, drain, physical_minimum(patrons, minute, speed),
               emulator.stats["429"], stats, extra)


def floors(patrons: int, moments: dict[int, list[float]], start: float, speed: float,
           posts: Counter[str], drain: float) -> str:
    """The posts the run needed by each floor's count, beside what it made."""
    minute = 60.0 / speed
    relative = {p: [t - start for t in ts] for p, ts in moments.items()}
    needed, finish = eager_floor(relative, minute)
    made = sum(posts.values())
    least = physical_minimum(patrons, minute, speed)
    return (f"  posts needed   {2 * patrons} by a schedule that knows the future (topic, then "
            f"the card with every message, per patron: floor {least:.1f} s); {needed} by a "
            f"perfect pacer opening each topic at once (floor {finish:.1f} s: the drain "
            f"{drain / finish:.3f}x); this run made "
            f"{made} (least time for them {((made - 1) // GROUP_PER_MINUTE) * minute:.1f} s "
            "after its first post)")


async def run(args: argparse.Namespace) -> None:
    for name, speed in (("a", args.speed), ("b", args.fault_speed or args.speed),
                        ("c", args.crash_speed or args.speed)):
        if name not in args.runs:
            continue
        print(f"({name}) clock {speed:g}x: the group takes {GROUP_PER_MINUTE} posts per "
              f"{60 / speed:.1f} real seconds", flush=True)
        if name == "c":
            plan = CrashPlan(speed, args.widget_patrons, args.email_patrons,
                             args.telegram_patrons, args.messages, args.answers, args.kills,
                             int(os.environ.get("BENCH_SEED", "5")), args.latency)
            print((await mixed_crash_run(plan)).report(), flush=True)
        else:
            faults = fault_plan() if name == "b" else None
            found = await burst_run(name, speed, args.patrons, args.messages, faults)
            print(found.report(), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", default="abc")
    parser.add_argument("--speed", type=float, default=1.0, help="clock of every run")
    parser.add_argument("--fault-speed", type=float, default=0.0, help="clock of (b)")
    parser.add_argument("--crash-speed", type=float, default=0.0, help="clock of (c)")
    parser.add_argument("--patrons", type=int, default=60)
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--widget-patrons", type=int, default=12, help="in (c)")
    parser.add_argument("--email-patrons", type=int, default=9, help="in (c)")
    parser.add_argument("--telegram-patrons", type=int, default=9, help="in (c)")
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--answers", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.1,
                        help="seconds each bot send takes in the emulator, in (c)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)  # PTB logs every injected fault
    asyncio.run(run(args))


if __name__ == "__main__":
    main()


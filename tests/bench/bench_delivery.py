"""Delivery guarantees, measured: bursts under Telegram's limits, faults, and crashes.

    .venv/bin/python -m tests.bench.bench_delivery                 # all three, real speed
    .venv/bin/python -m tests.bench.bench_delivery --runs a --speed 20

(a) burst: 60 widget patrons send 600 messages within one minute into one desk group
    with Telegram's limits on (20 posts a minute into the group, topics count too).
(b) faults: the same with 10% of the bot's sends failing, shared equally by 429, 500,
    502, timeout, connection reset and a response lost after acceptance.
(c) crash: the bridge in its own process (tests/bench/delivery_runner.py) is killed with
    SIGKILL at five random moments and restarted, while patrons write and librarians
    answer in the topics. Email and Telegram-DM patrons join when those channels land:
    add their senders in ``crash_run`` next to the widget patrons.

Printed for each: delivered, duplicated (copies found in the desk; and what the outbox
counted as possible duplicates), lost, 429s (refused by the flood limiter / received by
the outbox), time to drain against the physical minimum. ``--speed`` runs Telegram's
clock (and the bridge's group window) that many times fast; see delivery_rig.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from adapters.telegram.emulator import BotApiEmulator
from adapters.telegram.emulator_faults import FaultPlan
from tests.bench.delivery_rig import (
    HOST,
    Census,
    Patron,
    census,
    close_patrons,
    open_patrons,
    reply_token,
    send_burst,
    start_bridge,
    start_emulator,
)

__all__ = ["main"]

GROUP_PER_MINUTE = 20


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


def physical_minimum(patrons: int, minute: float, speed: float) -> float:
    """No schedule beats this: every conversation needs a topic and a post (2 of the
    group's 20 a minute), and the last message cannot arrive before it is written."""
    units = 2 * patrons
    window = 60.0 / speed
    return max(minute, ((units - 1) // GROUP_PER_MINUTE) * window)


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
        try:
            await send_burst(widgets, sent, minute=minute, messages=messages,
                             rng=random.Random(3))
            found, drain = await wait_drained(emulator, group, sent, start, 40 * minute)
            stats = bridge.worker.stats()
        finally:
            await close_patrons(widgets)
            emulator.clear_faults()
            await bridge.stop()
            await emulator.stop()
    extra = f"faults injected: {emulator.stats['faults']}" if faults else ""
    return Run(name, patrons * messages, found, drain, physical_minimum(patrons, minute, speed),
               emulator.stats["429"], stats, extra)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class BridgeProcess:
    """The bridge in a child process: started, polled for its counters, SIGKILLed."""

    def __init__(self, api_url: str, group: int, data_dir: Path, speed: float) -> None:
        self.args = [api_url, str(group), str(data_dir), str(free_port()), str(speed)]
        self.url = f"http://{HOST}:{self.args[3]}"
        self.log = open(data_dir / "bridge.log", "ab")
        self.proc: asyncio.subprocess.Process | None = None
        self.totals: Counter[str] = Counter()
        self.current: dict[str, int] = {}

    async def start(self, http: aiohttp.ClientSession) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.bench.delivery_runner", *self.args,
            stdout=asyncio.subprocess.PIPE, stderr=self.log, cwd=Path(__file__).parents[2])
        assert self.proc.stdout is not None
        await asyncio.wait_for(self.proc.stdout.readline(), 60)
        self.current = {}

    async def poll(self, http: aiohttp.ClientSession) -> None:
        try:
            async with http.get(f"{self.url}/_bench/stats") as response:
                self.current = await response.json()
        except (aiohttp.ClientError, OSError, json.JSONDecodeError):
            pass

    async def kill(self) -> None:
        """SIGKILL: no drain, no goodbye; counters read up to the last poll are kept."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()
            self.totals.update(self.current)
            self.proc = None

    async def stop(self, http: aiohttp.ClientSession) -> dict[str, int]:
        await self.poll(http)
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            await self.proc.wait()
            self.totals.update(self.current)
        self.log.close()
        return {k: v for k, v in self.totals.items() if not k.startswith("lanes_")}


async def librarians(emulator: BotApiEmulator, group: int, librarian: int,
                     sent: dict[int, list[str]], replies: dict[int, list[str]],
                     per_patron: int, until: float, rng: random.Random) -> None:
    """Librarians answer in each topic once it exists, ``per_patron`` times, in order."""
    while time.monotonic() < until or any(len(r) < per_patron for r in replies.values()):
        topics = census(emulator, group, sent).topic_of
        for patron, thread in topics.items():
            done = replies.setdefault(patron, [])
            if len(done) < per_patron and rng.random() < 0.3:
                done.append(reply_token(patron, len(done)))
                emulator.user_sends(group, librarian, f"{done[-1]} yes, on shelf 3",
                                    message_thread_id=thread)
        await asyncio.sleep(0.3)


def widget_figures(widgets: list[Patron], replies: dict[int, list[str]]) -> dict[str, int]:
    figures: Counter[str] = Counter()
    for widget in widgets:
        expected = replies.get(widget.number, [])
        shown = [text.split()[0] for text in widget.replies()]
        figures["replies_expected"] += len(expected)
        figures["replies_shown"] += len(set(shown) & set(expected))
        figures["replies_shown_twice"] += len(shown) - len(set(shown))
        figures["replies_out_of_order"] += list(dict.fromkeys(shown)) != expected
        figures["pushes_repeated"] += sum(n - 1 for n in widget.pushes.values() if n > 1)
    return dict(figures)


async def crash_run(speed: float, patrons: int, messages: int, kills: int,
                    answers: int) -> Run:
    rng = random.Random(int(os.environ.get("BENCH_SEED", "5")))
    emulator, url, group, librarian = await start_emulator(speed)
    http = aiohttp.ClientSession()
    with tempfile.TemporaryDirectory() as tmp:
        bridge = BridgeProcess(url, group, Path(tmp), speed)
        await bridge.start(http)
        widgets = await open_patrons(bridge.url, patrons)
        sent: dict[int, list[str]] = {}
        replies: dict[int, list[str]] = {}
        minute = 60.0 / speed
        span = 3 * minute  # patrons keep writing for three (Telegram) minutes
        start = time.monotonic()
        talking = asyncio.create_task(send_burst(widgets, sent, minute=span,
                                                 messages=messages, rng=rng))
        answering = asyncio.create_task(librarians(emulator, group, librarian, sent, replies,
                                                   answers, start + span, rng))
        moments = sorted(rng.uniform(0.05, 1.0) * span for _ in range(kills))
        for moment in moments:
            while time.monotonic() - start < moment:
                await bridge.poll(http)
                await asyncio.sleep(0.2)
            await bridge.kill()
            await asyncio.sleep(rng.uniform(0.1, 1.0))
            await bridge.start(http)
        await talking
        await answering
        found, drain = await wait_drained(emulator, group, sent, start, 40 * span)
        while widget_figures(widgets, replies)["replies_shown"] < sum(map(len, replies.values())):
            if time.monotonic() - start > 60 * span:
                break
            await asyncio.sleep(0.2)
        stats = await bridge.stop(http)
        shown = widget_figures(widgets, replies)
        await close_patrons(widgets)
    await http.close()
    await emulator.stop()
    extra = (f"kills at {', '.join(f'{m:.1f}s' for m in moments)}; widget: "
             + ", ".join(f"{k} {v}" for k, v in shown.items()))
    return Run("c", patrons * messages, found, drain,
               physical_minimum(patrons, span, speed), emulator.stats["429"], stats, extra)


async def run(args: argparse.Namespace) -> None:
    print(f"speed {args.speed}x: the group takes {GROUP_PER_MINUTE} posts per "
          f"{60 / args.speed:.1f} real seconds", flush=True)
    if "a" in args.runs:
        print((await burst_run("a", args.speed, args.patrons, args.messages,
                                               None)).report(), flush=True)
    if "b" in args.runs:
        print((await burst_run("b", args.speed, args.patrons, args.messages,
                                               fault_plan())).report(), flush=True)
    if "c" in args.runs:
        print((await crash_run(args.speed, args.crash_patrons, args.messages,
                                               args.kills, args.answers)).report(), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", default="abc")
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--patrons", type=int, default=60)
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--crash-patrons", type=int, default=30)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--answers", type=int, default=5)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)  # PTB logs every injected fault
    asyncio.run(run(args))


if __name__ == "__main__":
    main()


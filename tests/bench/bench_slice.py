"""The whole slice under load: widget intake, desk forwarding, replies, idle sockets.

Run: python -m tests.bench.bench_slice [--quick] [--only intake,forward,reply,idle]
     [--profile]
The bridge and the Bot API emulator run as ``pustaka demo`` runs them, in a process of
their own (the emulator's flood limits off; the intake row keeps the widget's per-visitor
limit as shipped and spreads its load over many new visitors, slice_intake.py); the
patrons' WebSockets are driven from this process and, for the idle sockets, from two
more. Prints each figure with the issue's target and PASS/MISS. Loopback only; about
two and a half minutes (``--quick``: under 30 s); never asserts: figures depend on the
machine. tests/bench/README.md says what each figure means and what was measured.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from contextlib import suppress
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import aiohttp

from tests.bench.common import (
    ServerProcess,
    Widget,
    mark,
    raise_nofile,
    rank,
    rss_kib,
    session,
    spawn,
)
from tests.bench.slice_forward import Forwarding, forward
from tests.bench.slice_intake import intake, serving

PHASE_LIMIT = 60.0  # seconds; a phase that takes longer is cut and says so


@dataclass(frozen=True)
class Sizes:
    connections: int = 2_000  # intake: new visitors per figure
    per_connection: int = 5  # throughput: messages each visitor sends (its budget's burst)
    window: int = 5  # un-acknowledged sends kept in flight per visitor
    rate: float = 1_000.0  # paced phase, messages per second in total
    seconds: float = 10.0
    forward_messages: int = 5_000
    forward_conversations: int = 500
    forward_concurrency: int = 64  # outbox.concurrency's default, and PTB's pool size
    forward_rounds: int = 3  # ours and PTB alone alternate; each side's best counts
    reply_patrons: int = 20
    reply_samples: int = 200
    reply_spacing: float = 0.04
    idle: int = 20_000


QUICK = Sizes(connections=300, seconds=1.5, forward_messages=500,
              forward_conversations=50, forward_rounds=1, reply_samples=30, idle=1_000)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    return rank(ordered, 0.5), rank(ordered, 0.99), ordered[-1]


# -- 3. a librarian's reply reaches the widget ------------------------------------------


async def reply(sizes: Sizes) -> None:
    print(f"\n3. Librarian reply -> patron's widget: {sizes.reply_samples} replies spread over "
          f"{sizes.reply_patrons} topics, {ms(sizes.reply_spacing)} apart, each after the "
          "last arrived")
    async with serving("lifted") as (server, http):
        await reply_latency(server, http, sizes)


async def reply_latency(server: ServerProcess, http: aiohttp.ClientSession,
                        sizes: Sizes) -> None:
    waiting: dict[str, asyncio.Future[float]] = {}

    def on_frame(frame: dict[str, Any], at: float) -> None:
        if frame["type"] == "message":
            future = waiting.pop(frame["message"]["text"], None)
            if future is not None and not future.done():
                future.set_result(at)

    threads: list[int] = []
    patrons: list[Widget] = []
    for n in range(sizes.reply_patrons):  # one at a time, so each new topic is theirs
        patron = await Widget.open(http, server.url)
        patron.on_frame = on_frame
        patrons.append(patron)
        known = set(await server.acall("topics"))
        await patron.send(f"q{n}", f"Question {n}: when does the reading room open?")
        async with asyncio.timeout(10):
            while not (new := set(await server.acall("topics")) - known):
                await asyncio.sleep(0.01)
        threads.append(new.pop())

    async def one(thread: int, text: str) -> float:
        arrived: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        waiting[text] = arrived
        sent: float = await server.acall("reply", thread, text)
        return await asyncio.wait_for(arrived, 10) - sent

    for n, thread in enumerate(threads):  # the first reply also claims: not sampled
        await one(thread, f"Warm-up answer {n}")
    samples: list[float] = []
    for n in range(sizes.reply_samples):
        samples.append(await one(threads[n % len(threads)], f"Answer {n}: from nine to five."))
        await asyncio.sleep(sizes.reply_spacing)
    p50, p99, worst = percentiles(samples)
    print(f"   user_sends -> getUpdates -> router -> SQLite -> outbox -> WebSocket frame: "
          f"p50 {ms(p50)}, p99 {ms(p99)}, max {ms(worst)} "
          f"[target p99 < 50 ms: {mark(p99 < 0.050)}]")
    await asyncio.gather(*(p.close() for p in patrons))


# -- 2. forwarding into the emulator: tests/bench/slice_forward.py ----------------------


# -- 4. idle connections ----------------------------------------------------------------


def idle(sizes: Sizes) -> None:
    print("\n4. Idle widget sockets (each sent hello) held by the server process; its RSS "
          "from /proc/<pid>/status")
    server = ServerProcess()
    children = []
    try:
        asyncio.run(_warm_up(server.url))
        time.sleep(1.0)
        files = server.call("files")
        room = files["limit"] - files["open"] - 64  # its store, pool and pipes need some too
        target = min(sizes.idle, room)
        if target < sizes.idle:
            print(f"   the server may open {files['limit']:,} files (hard RLIMIT_NOFILE) and "
                  f"holds {files['open']} already: asking for {target:,} sockets, "
                  f"not {sizes.idle:,}")
        base = rss_kib(server.pid)
        halves = [target // 2, target - target // 2]
        for n, share in enumerate(halves):  # two clients, so each stays under its own limit
            ours, theirs = spawn().Pipe()
            child = spawn().Process(target=hold, daemon=True,
                                    args=(theirs, server.url, f"127.0.0.{2 + n}"))
            child.start()
            children.append((child, ours, share))
        held, steps = 0, 4
        rows = [(0, base)]
        started = time.monotonic()
        for step in range(1, steps + 1):
            for _, conn, share in children:
                conn.send(share * step // steps - share * (step - 1) // steps)
            held = sum(conn.recv() for _, conn, _ in children)
            time.sleep(0.3)
            rows.append((held, rss_kib(server.pid)))
        elapsed = time.monotonic() - started
        time.sleep(1.0)  # let the last hellos' garbage settle
        sockets = server.call("files")["sockets"]
        final = rss_kib(server.pid)
        rows[-1] = (held, final)
        print("   " + "; ".join(f"{count:,} sockets: {rss / 1024:,.0f} MiB" for count, rss in rows))
        growth = (final - base) / max(1, held)
        print(f"   {held:,} sockets opened in {elapsed:.1f} s ({sockets:,} in the server's hub):"
              f" RSS {base / 1024:,.0f} -> {final / 1024:,.0f} MiB = {growth:.1f} KiB per "
              f"connection [target <= 20 KiB: {mark(growth <= 20)}]")
        if held < sizes.idle:
            print(f"   (not {sizes.idle:,}: see the file limit above)")
    finally:
        for _child, conn, _ in children:
            with suppress(OSError):
                conn.send(-1)
        for child, _, _ in children:
            child.join(30)
            if child.is_alive():
                child.terminate()
        server.stop()


async def _warm_up(url: str) -> None:
    """A few sockets opened and closed, so one-off imports and caches are not counted."""
    async with session() as http:
        widgets = await Widget.open_many(http, url, 100)
        await asyncio.gather(*(w.close() for w in widgets))


def hold(conn: Connection, url: str, local_ip: str) -> None:
    """Child process: open as many sockets as asked each time, say how many are open."""
    raise_nofile()
    asyncio.run(_hold(conn, url, local_ip))


async def _hold(conn: Connection, url: str, local_ip: str) -> None:
    loop = asyncio.get_running_loop()
    widgets: list[Widget] = []
    slots = asyncio.Semaphore(64)

    async def one(http: aiohttp.ClientSession) -> None:
        async with slots:
            with suppress(aiohttp.ClientError, OSError, TimeoutError):
                widgets.append(await Widget.open(http, url))

    async with session(local_ip) as http:
        while (more := await loop.run_in_executor(None, conn.recv)) >= 0:
            await asyncio.gather(*(one(http) for _ in range(more)))
            conn.send(sum(not w.ws.closed for w in widgets))
        for widget in widgets:
            await widget.ws.close()


# -- main -------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs, under 30 s")
    parser.add_argument("--only", default="intake,forward,reply,idle",
                        help="comma-separated, of: intake, forward, reply, idle")
    parser.add_argument("--profile", action="store_true",
                        help="print a cProfile of the bridge while it forwards")
    args = parser.parse_args()
    sizes = QUICK if args.quick else Sizes()
    only = set(args.only.split(","))
    if unknown := only - {"intake", "forward", "reply", "idle"}:
        parser.error(f"--only: unknown {', '.join(sorted(unknown))}")
    print(f"bench_slice on {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
          f"{time.strftime('%Y-%m-%d %H:%M')}; the emulator runs in the bridge's process as "
          "in `pustaka demo`, its flood limits off; the widget's per-visitor limit as shipped")
    started = time.monotonic()
    if "intake" in only:
        asyncio.run(intake(sizes))
    if "forward" in only:
        forward(Forwarding(sizes.forward_messages, sizes.forward_conversations,
                           sizes.forward_concurrency, sizes.forward_rounds), args.profile)
    if "reply" in only:
        asyncio.run(reply(sizes))
    if "idle" in only:
        idle(sizes)
    print(f"\ndone in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()

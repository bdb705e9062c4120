"""bench_slice's first row: widget intake under load, the per-visitor limit as shipped.

Every figure is taken from visitors new to it: ``sizes.connections`` fresh WebSockets,
each sending ``sizes.per_connection`` messages, no more than the widget's per-visitor
budget lets a visitor send at once (a bucket of 5, refilled at 30 a minute). So the load
is many patrons, as a library's busy hour is, not a hundred patrons typing a hundred
messages each, which the shipped limit refuses. Only the per-address limits (issue 11)
are lifted: every bench visitor comes from one loopback address.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any, Protocol

import aiohttp

from tests.bench.common import ServerProcess, Usage, Widget, mark, rank, session

__all__ = ["Load", "intake", "serving"]

PHASE_LIMIT = 60.0  # seconds; a phase that takes longer is cut and says so


class Load(Protocol):
    """The sizes this row reads (bench_slice.Sizes)."""

    @property
    def connections(self) -> int: ...
    @property
    def per_connection(self) -> int: ...
    @property
    def window(self) -> int: ...
    @property
    def rate(self) -> float: ...
    @property
    def seconds(self) -> float: ...


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


async def intake(sizes: Load) -> None:
    """Each figure on a fresh server or a drained one, so no backlog leaks into it."""
    print(f"\n1. Widget intake: {sizes.connections:,} new visitors per figure x "
          f"{sizes.per_connection} messages (the per-visitor limit as shipped) -> router -> "
          "SQLite group commit -> ack, while the outbox forwards each message into the emulator")
    print("   a) Telegram budget lifted: every message is its own sendMessage")
    async with serving("intake-lifted") as (server, http):
        await saturate(server, http, sizes, "throughput")
        await paced(server, http, sizes, "paced")
        await server.acall("pause_outbox")
        await paced(server, http, sizes, "paced, outbox paused")
        await saturate(server, http, sizes, "intake alone (outbox paused)")
    print("   b) Telegram's budget kept (30/s, 20/min into the group), as in production: "
          "the outbox coalesces")
    async with serving("intake-telegram") as (server, http):
        await paced(server, http, sizes, "paced")
        await saturate(server, http, sizes, "throughput")


@asynccontextmanager
async def serving(budget: str) -> AsyncIterator[tuple[ServerProcess, aiohttp.ClientSession]]:
    """A fresh server process and a client session for its patrons."""
    server = ServerProcess(budget)
    print(f"      (server process {server.pid})", flush=True)
    try:
        async with session() as http:
            yield server, http
    finally:
        server.stop()


@asynccontextmanager
async def visitors(server: ServerProcess, http: aiohttp.ClientSession,
                   count: int) -> AsyncIterator[list[Widget]]:
    """``count`` new visitors, welcomed before the figure's clock starts."""
    widgets = await Widget.open_many(http, server.url, count)
    try:
        yield widgets
    finally:
        await asyncio.gather(*(w.close() for w in widgets))


async def saturate(server: ServerProcess, http: aiohttp.ClientSession, sizes: Load,
                   label: str) -> None:
    each, refused = sizes.per_connection, []

    async def pump(n: int, widget: Widget) -> None:
        slots, done, got = asyncio.Semaphore(sizes.window), asyncio.Event(), 0

        def on_frame(frame: dict[str, Any], _at: float) -> None:
            nonlocal got
            if frame["type"] in ("ack", "error"):
                if frame["type"] == "error":
                    refused.append(frame["code"])
                got += 1
                slots.release()
                if got == each:
                    done.set()

        widget.on_frame = on_frame
        for i in range(each):
            await slots.acquire()
            await widget.send(f"{label[0]}{n}-{i}")
        await done.wait()

    async with visitors(server, http, sizes.connections) as widgets:
        before = await server.acall("counts")
        usage, started, cut = Usage(server.pid), time.monotonic(), False
        try:
            async with asyncio.timeout(PHASE_LIMIT):
                await asyncio.gather(*(pump(n, w) for n, w in enumerate(widgets)))
        except TimeoutError:
            cut = True
        ended = time.monotonic()
    after = await server.acall("counts")
    total = each * sizes.connections
    _report_saturated(label, sizes, total - len(refused), ended - started, cut, refused)
    print(f"         {usage}; {after['desk_posts'] - before['desk_posts']:,} desk posts meanwhile, "
          f"{after['pending']:,} deliveries pending at the end")
    if after["pending"] and label == "throughput" and server.budget == "intake-lifted":
        await drain(server, ended, total, started)  # at 20 a minute it would take hours


def _report_saturated(label: str, sizes: Load, acked: int, took: float, cut: bool,
                      refused: list[str]) -> None:
    rate = acked / took
    print(f"      {label}: {acked:,} messages acknowledged, {sizes.window} in flight per visitor, "
          f"in {took:.2f} s -> {rate:,.0f} msg/s "
          f"[target >= 10,000 msg/s: {mark(rate >= 10_000 and not cut and not refused)}]"
          + (f"  (cut at {PHASE_LIMIT:.0f} s)" if cut else "")
          + (f"; {len(refused)} refused ({', '.join(sorted(set(refused)))})" if refused else
             "; none refused"))


async def drain(server: ServerProcess, since: float, total: int, started: float) -> None:
    usage = Usage(server.pid)
    done = await server.acall("drained", PHASE_LIMIT)
    if done["pending"]:
        print(f"         desk forwarding NOT drained {PHASE_LIMIT:.0f} s after the last ack: "
              f"{done['pending']:,} pending")
        return
    print(f"         desk forwarding drained {done['at'] - since:.2f} s after the last ack "
          f"({total / (done['at'] - started):,.0f} msg/s from first send to last desk post; "
          f"while draining {usage})")


async def paced(server: ServerProcess, http: aiohttp.ClientSession, sizes: Load,
                label: str) -> None:
    """``sizes.rate`` messages a second, taking the visitors in turn (so each sends one
    every connections / rate seconds, within its budget)."""
    due: dict[str, float] = {}
    latencies: list[float] = []
    refused: list[str] = []
    settled = asyncio.Event()
    count = int(sizes.rate * sizes.seconds)

    def on_frame(frame: dict[str, Any], at: float) -> None:
        when = due.pop(frame.get("cid", ""), None)
        if when is not None:
            if frame["type"] == "ack":
                latencies.append(at - when)
            else:
                refused.append(str(frame.get("code")))
            if not due and len(latencies) + len(refused) == count:
                settled.set()

    async with visitors(server, http, sizes.connections) as widgets:
        for widget in widgets:
            widget.on_frame = on_frame
        usage = Usage(server.pid)
        await _pace(widgets, due, count, sizes.rate, label)
        with suppress(TimeoutError):
            await asyncio.wait_for(settled.wait(), 30)
    _report_paced(label, sizes, latencies, refused, count)
    counts = await server.acall("counts")
    print(f"         {usage}; {counts['desk_posts']:,} desk posts by the end, "
          f"{counts['pending']:,} deliveries still pending")


async def _pace(widgets: list[Widget], due: dict[str, float], count: int, rate: float,
                label: str) -> None:
    start, n = time.monotonic() + 0.05, 0
    while n < count:
        now = time.monotonic()
        while n < count and start + n / rate <= now:
            # Latency counts from when the message was due, so a late sender cannot hide it.
            due[f"{label}{n}"] = start + n / rate
            await widgets[n % len(widgets)].send(f"{label}{n}")
            n += 1
        await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))


def _report_paced(label: str, sizes: Load, latencies: list[float], refused: list[str],
                  count: int) -> None:
    ordered = sorted(latencies or [float("inf")])
    p50, p99, worst = rank(ordered, 0.5), rank(ordered, 0.99), ordered[-1]
    met = p99 < 0.020 and len(latencies) == count
    print(f"      {label}: {sizes.rate:,.0f} msg/s for {sizes.seconds:.0f} s "
          f"({len(latencies):,} of {count:,} acked"
          + (f", {len(refused)} refused ({', '.join(sorted(set(refused)))})" if refused else "")
          + f"): ack latency p50 {ms(p50)}, p99 {ms(p99)}, max {ms(worst)} "
          f"[target p99 < 20 ms: {mark(met)}]")

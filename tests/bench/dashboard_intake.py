"""bench_dashboard's third part: the widget's intake in a bridge process of its own while
year overviews run back to back in it, in phases that say how the reports read."""

from __future__ import annotations

import asyncio
import os
import statistics
import threading
import time
from contextlib import suppress
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bridge.admin.report_queries import DateRange, Reports
from bridge.demo import demo_bridge
from bridge.store.sqlite import SqliteStore
from bridge.store.sqlite_report_conn import REPORT_NICENESS, thread_of
from tests.bench.common import (
    HOST,
    LIFTED,
    Commands,
    Widget,
    mark,
    quiet_logging,
    rank,
    session,
    spawn,
)

__all__ = ["PHASES", "intake_under_reports", "overviews"]

TZ = "Asia/Jakarta"  # the demo library's
RATE, SECONDS, SOCKETS = 200.0, 4.0, 20


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


class ReportCommands(Commands):
    def __init__(self, bridge: Any, emulator: Any) -> None:
        super().__init__(bridge, emulator)
        self._names: dict[int | None, str] = {}  # native thread id -> what it does

    async def reports(self, seconds: float, where: str) -> dict[str, Any]:
        """Year overviews back to back for ``seconds``, how long each took, and how late
        the event loop woke from 1 ms sleeps meanwhile. ``where`` says how they read
        (``PHASES``)."""
        store = self._bridge.store
        thread = await thread_of(store.report_connection)
        if where == "shared":
            store._report_db = store._db  # type: ignore[method-assign]  # main's way
        elif where.startswith("nice"):  # raising a priority needs root or CAP_SYS_NICE
            os.setpriority(os.PRIO_PROCESS, thread, int(where[4:]))
        elif where == "yielding":
            await store.report_connection.set_progress_handler(lambda: 0, 1000)
        lag = asyncio.ensure_future(loop_lag(seconds))
        before = await self.cpu()
        try:
            took = await overviews(store, seconds)
        finally:
            if where == "shared":
                del store._report_db
            elif where.startswith("nice"):
                os.setpriority(os.PRIO_PROCESS, thread, REPORT_NICENESS)
            elif where == "yielding":
                await store.report_connection.set_progress_handler(
                    None, 1000)  # type: ignore[arg-type]  # sqlite3: None removes it
        return {"took": took, "lag": await lag, "cpu": cpu_since(before, await self.cpu())}

    async def idle_lag(self, seconds: float) -> dict[str, Any]:
        before = await self.cpu()
        lag = await loop_lag(seconds)
        return {"took": [], "lag": lag, "cpu": cpu_since(before, await self.cpu())}

    async def cpu(self) -> dict[str, tuple[int, int]]:
        """Per thread of this process: nanoseconds run on a core, and waited for one."""
        if not self._names:  # first asked in the phase "alone", before any "shared"
            store = self._bridge.store
            self._names = {threading.main_thread().native_id: "event loop",
                           await thread_of(store._db()): "intake reader",
                           await thread_of(store.report_connection): "reports"}
            self._names.update((t.native_id, "writer") for t in threading.enumerate()
                               if t.name.startswith("pustaka-sqlite-writer"))
        return schedstats(self._names)


def schedstats(names: dict[int | None, str]) -> dict[str, tuple[int, int]]:
    """Linux's /proc/self/task/*/schedstat, summed by the thread's name in ``names``."""
    found: dict[str, tuple[int, int]] = {}
    for task in Path("/proc/self/task").iterdir():
        with suppress(OSError, ValueError):
            ran, waited = map(int, (task / "schedstat").read_text().split()[:2])
            name = names.get(int(task.name), "other threads")
            had = found.get(name, (0, 0))
            found[name] = (had[0] + ran, had[1] + waited)
    return found


def cpu_since(before: dict[str, tuple[int, int]],
              after: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    return {name: (ran - before.get(name, (0, 0))[0], waited - before.get(name, (0, 0))[1])
            for name, (ran, waited) in after.items()}


async def overviews(store: SqliteStore, seconds: float) -> list[float]:
    reports = Reports(store, TZ)
    now = time.time()
    year = DateRange(reports.today(now - 364 * 86400), reports.today(now))
    took: list[float] = []
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        start = time.perf_counter()
        await reports.overview(year, time.time())
        took.append(time.perf_counter() - start)
    return took


async def loop_lag(seconds: float) -> list[float]:
    """How much later than asked the event loop woke from 1 ms sleeps."""
    late: list[float] = []
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        start = time.perf_counter()
        await asyncio.sleep(0.001)
        late.append(time.perf_counter() - start - 0.001)
    return late


def serve(conn: Connection, data_dir: str) -> None:
    quiet_logging()
    asyncio.run(_serve(conn, Path(data_dir)))


async def _serve(conn: Connection, data_dir: Path) -> None:
    bridge, emulator, _ = await demo_bridge(HOST, 0, data_dir, rate_limits=False, desk_port=0,
                                            overrides=LIFTED)
    commands = ReportCommands(bridge, emulator)
    conn.send({"url": bridge.url, "pid": os.getpid()})
    loop = asyncio.get_running_loop()
    try:
        while True:
            name, args = await loop.run_in_executor(None, conn.recv)
            if name == "stop":
                return
            conn.send(await getattr(commands, name)(*args))
    finally:
        await bridge.stop(drain_timeout=2.0)
        await emulator.stop()
        with suppress(OSError):
            conn.send(None)


PHASES = {  # name -> how the reports read (None: no reports)
    "alone": None,
    f"reports on their own read-only connection, its thread at niceness {REPORT_NICENESS} (as"
    " the bridge runs)": "own",
    **{f"reports on their own connection at niceness {n}": f"nice{n}"
       for n in (19, 10, 0) if n != REPORT_NICENESS},
    "reports on the intake's reader (main before issue 14)": "shared",
    f"reports on their own connection at niceness {REPORT_NICENESS}, yielding every 1,000"
    " SQLite steps": "yielding",
}


async def intake_under_reports(data_dir: Path, rounds: int, seconds: float) -> None:
    ours, theirs = spawn().Pipe()
    child = spawn().Process(target=serve, args=(theirs, str(data_dir)), daemon=True)
    child.start()
    loop = asyncio.get_running_loop()
    hello = await loop.run_in_executor(None, ours.recv)

    async def call(name: str, *args: Any) -> Any:
        ours.send((name, args))
        return await loop.run_in_executor(None, ours.recv)

    print(f"intake at {RATE:.0f} msg/s through {SOCKETS} widget sockets (bridge pid "
          f"{hello['pid']}): {rounds} rounds of {len(PHASES)} phases of {seconds:.0f} s, each "
          "round starting one phase later in the order below; a phase's figures over all its "
          "rounds:", flush=True)
    acks: dict[str, list[float]] = {label: [] for label in PHASES}
    rounds_p99: dict[str, list[float]] = {label: [] for label in PHASES}
    sides: dict[str, list[Any]] = {label: [] for label in PHASES}
    sent = 0
    try:
        async with session() as http:
            widgets = await Widget.open_many(http, hello["url"], SOCKETS)
            await paced(widgets, "warm", 2.0, 0)  # the first messages open conversations
            phases = list(PHASES.items())
            for round_ in range(rounds):  # each round starts one phase later: drift spreads
                for index in range(len(phases)):
                    label, where = phases[(round_ + index) % len(phases)]
                    side = asyncio.ensure_future(
                        call("idle_lag", seconds) if where is None
                        else call("reports", seconds, where))
                    latencies, sent_now = await paced(widgets, f"r{round_}p{index}n", seconds,
                                                      sent)
                    sent += sent_now
                    acks[label] += latencies
                    rounds_p99[label].append(rank(sorted(latencies) or [float("inf")], 0.99))
                    sides[label].append(await side)
            for widget in widgets:
                await widget.close()
    finally:
        ours.send(("stop", ()))
        child.join(20)
    for label in PHASES:
        print_phase(label, acks[label], int(RATE * seconds) * rounds, sides[label], seconds,
                    rounds_p99[label])


def print_phase(label: str, latencies: list[float], sent: int, sides: list[Any],
                seconds: float, rounds_p99: list[float]) -> None:
    ordered = sorted(latencies) or [float("inf")]
    took = sorted(t for side in sides for t in side["took"])
    lag = sorted(x for side in sides for x in side["lag"]) or [0.0]
    p99 = rank(ordered, 0.99)
    print(f"   {label}:")
    if took:
        print(f"      {len(took)} year overviews back to back, each median "
              f"{ms(statistics.median(took))}")
    print(f"      {len(latencies):,} of {sent:,} acked: ack p50 {ms(rank(ordered, 0.5))}, "
          f"p99 {ms(p99)}, max {ms(ordered[-1])} [target p99 < 50 ms: {mark(p99 < 0.05)}]")
    print(f"      p99 of each round: {', '.join(ms(p) for p in rounds_p99)}; their median "
          f"{ms(statistics.median(rounds_p99))} (one stall of the machine spoils one round, "
          "not the phase)")
    print(f"      the bridge's event loop late from 1 ms sleeps: p50 "
          f"{rank(lag, 0.5) * 1000:.1f} ms, p99 {rank(lag, 0.99) * 1000:.1f} ms, "
          f"max {lag[-1] * 1000:.1f} ms", flush=True)
    wall = seconds * len(sides)
    cpu: dict[str, list[int]] = {}
    for side in sides:
        for name, (ran, waited) in side["cpu"].items():
            cpu.setdefault(name, [0, 0])
            cpu[name][0] += ran
            cpu[name][1] += waited
    print("      per second, each thread of the bridge ran / waited for a free core: " + ", ".join(
        f"{name} {ran / 1e6 / wall:.0f} / {waited / 1e6 / wall:.0f} ms"
        for name, (ran, waited) in sorted(cpu.items(), key=lambda kv: -kv[1][0])), flush=True)


async def paced(widgets: list[Widget], label: str, seconds: float,
                first: int) -> tuple[list[float], int]:
    """``seconds`` of messages at ``RATE``, spread over the sockets from ``first`` on (so
    phases keep each socket's turn); the ack latency of each, counted from when it was due."""
    due: dict[str, float] = {}
    latencies: list[float] = []

    def on_frame(frame: dict[str, Any], at: float) -> None:
        when = due.pop(frame.get("cid", ""), None)
        if when is not None and frame["type"] == "ack":
            latencies.append(at - when)

    for widget in widgets:
        widget.on_frame = on_frame
    count, start, n = int(RATE * seconds), time.monotonic() + 0.05, 0
    while n < count:
        while n < count and start + n / RATE <= time.monotonic():
            due[f"{label}{n}"] = start + n / RATE  # counted from when it was due
            await widgets[(first + n) % len(widgets)].send(f"{label}{n}")
            n += 1
        await asyncio.sleep(max(0.0, start + n / RATE - time.monotonic()))
    deadline = time.monotonic() + 10
    while due and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return latencies, count



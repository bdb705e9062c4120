"""The dashboard's reports over a year of a busy library: 100,000 conversations with
1,000,000 messages, seeded straight into SQLite.

Run: python -m tests.bench.bench_dashboard [--conversations N] [--messages-each M]
     [--rounds R] [--seconds S] [--data-dir DIR]
Prints, against the issue's targets:
  1. the year's overview: from live rows only (before any roll-up), and after the
     daily roll-up (how the bridge runs: past days from the aggregates, today live);
  2. the export of a year's reference statistics as CSV, both ways; then a point read
     such as the intake makes, every 5 ms beside back-to-back overviews, with the
     reports on their own connection and on the intake's reader, alternating;
  3. the widget's ack latency at 200 msg/s alone, then while year overviews run back to
     back in the same bridge process (the dashboard is served by the bridge), after the
     roll-up as the bridge runs: the reports on their own read-only connection (as the
     bridge runs, its thread at the lowest CPU priority), the same at niceness 10 and 0,
     on the intake's reader (as main did before issue 14, for comparison in the same
     run), and on their own with a progress handler making them yield; with how late
     the bridge's event loop wakes from 1 ms sleeps, and how long each of its threads
     ran and waited for a free core (Linux schedstat), in each phase. Phases are
     interleaved in rounds, so the load of a shared machine falls on all of them.
The bridge and the Bot API emulator run in a process of their own, as ``pustaka demo``
runs them; the patrons' WebSockets are driven from this one. Loopback only; a few
minutes, most of it seeding. Never asserts: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bridge.admin.reference import csv_text
from bridge.admin.report_queries import DateRange, Reports
from bridge.admin.report_rollup import roll_up, settled_until
from bridge.store.sqlite import SqliteStore
from routing.report_roles import DEFAULT_KINDS
from tests.bench.common import mark, rank
from tests.bench.dashboard_intake import SECONDS, TZ, intake_under_reports, ms, overviews
from tests.seed import seed_sql


async def timed(call: Callable[[], Awaitable[Any]],
                runs: int) -> tuple[float, float, float, Any]:
    """Median and worst wall time of ``runs`` calls, the median CPU time this process
    spent on one (every thread; on a shared machine the steadier figure), the last result."""
    took, cpu, result = [], [], None
    for _ in range(runs):
        start, used = time.perf_counter(), time.process_time()
        result = await call()
        took.append(time.perf_counter() - start)
        cpu.append(time.process_time() - used)
    return statistics.median(took), max(took), statistics.median(cpu), result


async def seed(data_dir: Path, conversations: int, messages_each: int, now: float) -> None:
    path = data_dir / "pustaka.db"
    store = SqliteStore(path)
    await store.open()  # migrates the new file
    await store.close()
    start = time.perf_counter()
    written = seed_sql(path, conversations=conversations, messages_each=messages_each,
                       now=now, timezone=TZ)
    print(f"seeded {conversations:,} conversations with {written:,} messages over the year "
          f"before now in {time.perf_counter() - start:.0f} s "
          f"({path.stat().st_size / 2**20:,.0f} MiB)")


async def queries(data_dir: Path, now: float) -> None:
    store = SqliteStore(data_dir / "pustaka.db")
    await store.open()
    try:
        reports = Reports(store, TZ)
        year = DateRange(reports.today(now - 364 * 86400), reports.today(now))
        await report_figures("live rows only (no roll-up yet)" if not await store.rolled_until()
                             else "rolled up by an earlier run (--data-dir)", reports, year, now)
        start = time.perf_counter()
        days = await roll_up(store, settled_until(now, TZ), timezone=TZ, now=now)
        print(f"   roll-up of {days} days: {time.perf_counter() - start:.1f} s "
              "(once; then one day a day)")
        await report_figures("after the roll-up (past days aggregated, the last two live)",
                             reports, year, now)
        await reads_beside_reports(store)
    finally:
        await store.close()


async def report_figures(label: str, reports: Reports, year: Any, now: float) -> None:
    p50, worst, cpu, overview = await timed(lambda: reports.overview(year, now), 5)
    print(f"{label}:")
    print(f"   overview of a year ({overview.total.conversations:,} conversations): "
          f"median {ms(p50)}, worst of 5 {ms(worst)}, CPU {ms(cpu)} "
          f"[target < 500 ms: {mark(worst < 0.5)}]")

    async def export() -> str:
        table = await reports.reference(year, list(DEFAULT_KINDS), now)
        return csv_text(table.csv_rows())

    p50, worst, cpu, text = await timed(export, 3)
    print(f"   reference statistics CSV for the year ({len(text.splitlines())} rows): "
          f"median {ms(p50)}, worst of 3 {ms(worst)}, CPU {ms(cpu)} "
          f"[target < 2 s: {mark(worst < 2)}]")


async def reads_beside_reports(store: SqliteStore, rounds: int = 4,
                               seconds: float = 2.0) -> None:
    """A point read such as the intake makes (one conversation's messages) every 5 ms
    while year overviews run back to back: the reports on their own connection, then
    on the intake's reader as main ran them, alternating."""
    rows = await store._db().execute_fetchall("SELECT id FROM conversations LIMIT 1")
    conversation = next(iter(rows))[0]
    took: dict[str, list[float]] = {"own": [], "shared": []}
    for _ in range(rounds):
        for where, reads in took.items():
            if where == "shared":
                store._report_db = store._db  # type: ignore[method-assign]  # main's way
            reporting = asyncio.ensure_future(overviews(store, seconds))
            while not reporting.done():
                start = time.perf_counter()
                await store.history(conversation, limit=20)
                reads.append(time.perf_counter() - start)
                await asyncio.sleep(0.005)
            await reporting
            if where == "shared":
                del store._report_db
    print("   an intake's point read every 5 ms while year overviews run back to back "
          f"({rounds} × {seconds:.0f} s each way, alternating):")
    for where, label in (("own", "reports on their own read-only connection"),
                         ("shared", "reports on the intake's reader (main before issue 14)")):
        ordered = sorted(took[where])
        print(f"      {label}: {len(ordered):,} reads, p50 {ordered[len(ordered) // 2] * 1000:.1f}"
              f" ms, p99 {rank(ordered, 0.99) * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms")


async def main(conversations: int, messages_each: int, rounds: int, seconds: float,
               data_dir: Path | None) -> None:
    with tempfile.TemporaryDirectory(prefix="pustaka-dashboard-") as tmp:
        now = time.time()
        if data_dir is None or not (data_dir / "pustaka.db").exists():
            data_dir = data_dir or Path(tmp)
            data_dir.mkdir(parents=True, exist_ok=True)
            await seed(data_dir, conversations, messages_each, now)
        else:
            print(f"reusing the year seeded in {data_dir} (and the messages of earlier runs)")
        await queries(data_dir, now)
        await intake_under_reports(data_dir, rounds, seconds)  # rolled up, as the bridge runs


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages-each", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5,
                        help="rounds of the intake phases, interleaved against drift")
    parser.add_argument("--seconds", type=float, default=SECONDS, help="of each phase")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="seed here once and reuse it in later runs (default: a temp dir)")
    options = parser.parse_args()
    asyncio.run(main(options.conversations, options.messages_each, options.rounds,
                     options.seconds, options.data_dir))

"""The router's accept on the real SQLite store, in one process: CPU per message.

Run: python -m tests.bench.bench_accept [--base DIR] [--loads few,many] [--rounds 3]

``PatronIntake.accept`` over a ``SqliteStore`` on a real file, no widget, no sockets:
- few: 100 patrons with an open conversation, 100 messages each (the patrons write at
  once, each its messages in turn);
- many: 2,000 new patrons x 5 (each first message makes a patron and a conversation).
Prints the event loop's CPU per message (the router and the store's calls) and the
other threads' (the SQLite writer and reader), and messages a second. ``--base DIR``
(another checkout) runs the same with that tree's code, alternating, in one run.
Prints figures, never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[2]
LOADS = {"few": (100, 100), "many": (2000, 5)}


async def measure(load: str) -> str:
    from bridge.store.sqlite import SqliteStore
    from routing.conversation_log import ConversationLog
    from routing.intake import PatronIntake
    from routing.model import Channel, Inbound, PageInfo
    from routing.ports import SystemClock

    store = SqliteStore(Path(tempfile.mkdtemp()) / "bench.db")
    await store.open()
    intake = PatronIntake(ConversationLog(store, SystemClock()))
    page = PageInfo(url="https://opac.example.org/", ip="127.0.0.1", language="id")
    visitors, per = LOADS[load]
    names = [secrets.token_hex(12) for _ in range(visitors)]

    def inbound(visitor: str, text: str) -> Inbound:
        return Inbound(Channel.WIDGET, visitor, text, client_id=secrets.token_hex(6), page=page)

    if load == "few":  # known patrons, each with an open conversation
        await asyncio.gather(*(intake.accept(inbound(v, "hello")) for v in names))

    async def patron(visitor: str) -> None:
        for n in range(per):
            await intake.accept(inbound(visitor, f"Is the book {n} on the shelf?"))

    loop_cpu, all_cpu, wall = time.thread_time(), time.process_time(), time.perf_counter()
    await asyncio.gather(*(patron(v) for v in names))
    count = visitors * per
    loop_us = (time.thread_time() - loop_cpu) / count * 1e6
    others_us = (time.process_time() - all_cpu) / count * 1e6 - loop_us
    rate = count / (time.perf_counter() - wall)
    await store.close()
    return (f"event loop {loop_us:.0f} us + other threads {others_us:.0f} us = "
            f"{loop_us + others_us:.0f} us per message, {rate:,.0f} msg/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default=None, help="another checkout, run alternately")
    parser.add_argument("--loads", default="few,many")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--one", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(asyncio.run(measure(args.one)))
        return
    trees = {"this": HERE, **({"base": Path(args.base).resolve()} if args.base else {})}
    for _ in range(args.rounds):
        for load in args.loads.split(","):
            for name, tree in trees.items():
                out = subprocess.run(  # by path: that tree's bridge/ is the one imported
                    [sys.executable, __file__, "--one", load],
                    cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)},
                    capture_output=True, text=True, check=True).stdout.strip()
                print(f"{load:4} {name}: {out}", flush=True)


if __name__ == "__main__":
    main()

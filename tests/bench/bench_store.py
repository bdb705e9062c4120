"""Throughput and latency of SqliteStore.append, the widget intake's durable step.

Run: python -m tests.bench.bench_store [--synchronous NORMAL] [--messages 20000] ...
Prints appends/s with many concurrent writers (each append one message plus one outbox
row, acknowledged only after its group commit), append latency at a paced rate, and
how long the outbox query takes with 100,000 pending rows.
Not a pytest test: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from bridge.store.sqlite import SqliteStore
from routing.model import (
    Channel,
    Contact,
    Conversation,
    Delivery,
    DeliveryKind,
    Direction,
    Message,
    Patron,
    new_id,
)

TEXT = "Hello, do you have the 2019 edition of this book on the shelf, or only as an e-book?"


async def _conversations(store: SqliteStore, count: int) -> list[str]:
    ids = []
    for n in range(count):
        now = time.time()
        patron = Patron(new_id(), name=f"visitor {n}",
                        contacts=(Contact(Channel.WIDGET, f"visitor-{n}-{new_id()}"),),
                        created_at=now)
        conversation = Conversation(new_id(), patron.id, Channel.WIDGET, created_at=now,
                                    updated_at=now)
        await store.save_patron(patron)
        await store.save_conversation(conversation)
        ids.append(conversation.id)
    return ids


async def _append(store: SqliteStore, conversation_id: str) -> None:
    now = time.time()
    message = Message(new_id(), conversation_id, Direction.PATRON, TEXT, author="visitor",
                      client_id=new_id(), created_at=now)
    delivery = Delivery(new_id(), conversation_id, message.id, DeliveryKind.TO_DESK,
                        Channel.DESK, f"{message.id}:desk", next_attempt_at=now,
                        created_at=now)
    await store.append(message, [delivery])


async def throughput(store: SqliteStore, writers: int, messages: int) -> None:
    conversations = await _conversations(store, writers)
    each = messages // writers

    async def writer(conversation_id: str) -> None:
        for _ in range(each):
            await _append(store, conversation_id)

    commits = store.commits
    started = time.perf_counter()
    await asyncio.gather(*(writer(c) for c in conversations))
    elapsed = time.perf_counter() - started
    made = store.commits - commits
    total = each * writers
    print(f"throughput: {writers} writers x {each} appends = {total} messages "
          f"(+{total} deliveries) in {elapsed:.2f} s -> {total / elapsed:,.0f} appends/s; "
          f"{made} commits, {total / max(made, 1):.0f} appends per commit")


async def latency(store: SqliteStore, rate: float, seconds: float) -> None:
    conversations = await _conversations(store, 100)
    samples: list[float] = []

    async def one(conversation_id: str, due: float) -> None:
        await _append(store, conversation_id)
        samples.append(time.perf_counter() - due)  # from when it should have started

    tasks = []
    start = time.perf_counter() + 0.05
    count = int(rate * seconds)
    for n in range(count):
        due = start + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(conversations[n % len(conversations)], due)))
    await asyncio.gather(*tasks)
    samples.sort()
    ms = [s * 1000 for s in samples]
    p50 = statistics.median(ms)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(f"latency at {rate:,.0f} msg/s for {seconds:.0f} s ({count} appends): "
          f"p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {ms[-1]:.2f} ms")


async def outbox(store: SqliteStore, pending: int, blocked_lanes: int) -> None:
    """due_deliveries(limit=1000) with ``pending`` rows queued and some lanes behind a retry."""
    conversations = await _conversations(store, 5_000)
    missing = pending - await store.pending_deliveries()
    for start in range(0, missing, 2_000):
        await asyncio.gather(*(_append(store, conversations[n % len(conversations)])
                               for n in range(start, min(missing, start + 2_000))))
    now = time.time()
    heads: dict[str, str] = {}
    for delivery in await store.due_deliveries(now, pending):
        heads.setdefault(delivery.conversation_id, delivery.id)
    lanes = list(heads.values())
    total = await store.pending_deliveries()
    stages = [(lanes[:blocked_lanes], min(blocked_lanes, len(lanes))),
              (lanes[blocked_lanes:], len(lanes))]  # then every lane
    for blocked, waiting in stages:
        await asyncio.gather(*(store.retry_delivery(d, 1, now + 3600, "429") for d in blocked))
        runs = []
        for _ in range(20):
            started = time.perf_counter()
            due = await store.due_deliveries(now, 1_000)
            runs.append(time.perf_counter() - started)
        print(f"outbox: {total:,} pending in {len(lanes):,} lanes, {waiting:,} lanes behind a "
              f"retry: due_deliveries(limit=1000) -> {len(due)} rows in "
              f"{statistics.median(runs) * 1000:.1f} ms (median of 20)")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--synchronous", default="FULL", choices=["NORMAL", "FULL"])
    parser.add_argument("--writers", type=int, default=100)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=1_000.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=None, help="where the database goes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        print(f"SQLite at {tmp}, synchronous={args.synchronous}")
        store = SqliteStore(Path(tmp) / "bench.db", synchronous=args.synchronous)
        await store.open()
        try:
            await throughput(store, args.writers, args.messages)
            await latency(store, args.rate, args.seconds)
            if args.pending:  # --pending 0 skips the outbox figures
                await outbox(store, args.pending, blocked_lanes=1_000)
        finally:
            await store.close()


if __name__ == "__main__":
    asyncio.run(main())

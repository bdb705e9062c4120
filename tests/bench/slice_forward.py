"""bench_slice's part 2: forwarding a stored backlog into the Bot API emulator, beside
python-telegram-bot alone making the same calls against the same emulator.

Ours: the bridge is stopped, ``count`` messages with an outbox row each are written in
conversations whose topics exist, and the bridge is started onto that backlog: its
outbox (lane reads, budget, the crash-note ledger, DeskSender, the done rows and links)
sends them all. Theirs: a ``Bot`` made as the bridge makes its own (the same
``AiohttpRequest``, the same pool) sends the same texts into the same topics with the
same concurrency, as ``Bot.send_message`` and as ``do_api_request`` (the call DeskSender
makes, no ``telegram.Message`` built). Everything runs in one process with the emulator,
as ``pustaka demo`` runs it, its flood limits off and the bridge's budget lifted (so
neither side waits for Telegram's windows; ours still keeps its books).

Like with like: ours is timed from the moment its ``start()`` returned, and only the
sends made from then on count (a send made while it started is neither timed nor
counted). A shared machine's load swings from one second to the next, so the two
alternate over ``rounds`` rounds (a fresh backlog each) and each side's best counts.
"""

from __future__ import annotations

import asyncio
import cProfile
import gc
import io
import os
import pstats
import tempfile
import time
from collections.abc import Coroutine, Iterator
from contextlib import suppress
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from telegram.constants import ParseMode

from adapters.telegram import render
from adapters.telegram.emulator import BotApiEmulator
from bridge.app import Bridge, make_bot
from bridge.demo import demo_bridge
from bridge.gc_pacing import pace_collections
from bridge.store.sqlite import SqliteStore
from routing.model import (
    Channel,
    Contact,
    Conversation,
    Delivery,
    DeliveryKind,
    Direction,
    Message,
    PageInfo,
    Patron,
    new_id,
)
from tests.bench.common import HOST, LIFTED, TEXT, mark, quiet_logging, spawn

__all__ = ["Forwarding", "forward", "forwarding_child"]

PHASE_LIMIT = 60.0  # seconds; a phase that takes longer is cut and says so


@dataclass(frozen=True)
class Forwarding:
    messages: int = 5_000
    conversations: int = 500
    concurrency: int = 64  # outbox.concurrency's default, and PTB's pool size
    rounds: int = 3


# seconds, CPU seconds of the process, sends, and the garbage collections meanwhile
# (young, middle, full): what a send leaves alive shows in them first.
Timed = tuple[float, float, int, tuple[int, ...]]
_COLLECTIONS = [0, 0, 0]  # by generation, since the forwarding process began


def _counted(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _COLLECTIONS[info["generation"]] += 1


def _collected_since(before: list[int]) -> tuple[int, ...]:
    return tuple(now - then for now, then in zip(_COLLECTIONS, before, strict=True))


def forward(sizes: Forwarding, profile: bool) -> None:
    print(f"\n2. Desk forwarding: {sizes.messages:,} stored messages in {sizes.conversations} "
          f"conversations whose topics exist -> sendMessage into the emulator, concurrency "
          f"{sizes.concurrency}; {sizes.rounds} round(s), ours and PTB alternating")
    ours, theirs = spawn().Pipe()
    child = spawn().Process(target=forwarding_child, args=(theirs, sizes, profile), daemon=True)
    child.start()
    try:
        result = ours.recv()
    finally:
        child.join(30)
        if child.is_alive():
            child.terminate()
    if isinstance(result, Exception):
        raise result
    _report(sizes, result)


def _rate(timed: Timed) -> float:
    return timed[2] / timed[0] if timed[0] > 0 else 0.0


def _line(label: str, timed: Timed, wanted: int) -> str:
    seconds, cpu, sent, collections = timed
    cut = "" if sent >= wanted else f"  (cut at {PHASE_LIMIT:.0f} s: {sent:,} of {wanted:,})"
    return (f"   {label}: {sent:,} in {seconds:.2f} s -> {_rate(timed):,.0f} msg/s, "
            f"CPU {cpu:.2f} s ({cpu / max(sent, 1) * 1e6:,.0f} µs a message), "
            f"collections young/middle/full {'/'.join(map(str, collections))}{cut}")


def _report(sizes: Forwarding, result: dict[str, Any]) -> None:
    wanted = sizes.messages
    for n, (ours, raw) in enumerate(zip(result["ours"], result["raw"], strict=True), 1):
        print(f"   round {n}:")
        print(_line("  ours (outbox + DeskSender, bridge restarted onto the backlog)",
                    ours, wanted - result["early"][n - 1]))
        print(_line("  python-telegram-bot alone, do_api_request as DeskSender asks", raw,
                    wanted))
        print(f"     ratio {_rate(ours) / max(_rate(raw), 1e-9):.0%}")
    print(_line("python-telegram-bot alone, Bot.send_message (round 1)", result["ptb"], wanted))
    best_ours = max(_rate(t) for t in result["ours"])
    best_raw = max(_rate(t) for t in result["raw"])
    ratio = best_ours / max(best_raw, 1e-9)
    # Like with like: the headline compares with PTB making the call DeskSender makes.
    print(f"   best of {sizes.rounds}: ours {best_ours:,.0f} msg/s, PTB's do_api_request "
          f"{best_raw:,.0f} msg/s: ratio {ratio:.0%} [target >= 90%: {mark(ratio >= 0.9)}]; "
          f"{best_ours / max(_rate(result['ptb']), 1e-9):.0%} of Bot.send_message (round 1), "
          "which also builds a telegram.Message per answer")
    if result.get("profile"):
        print(result["profile"])


def forwarding_child(conn: Connection, sizes: Forwarding, profile: bool) -> None:
    quiet_logging()
    gc.callbacks.append(_counted)
    print(f"   (forwarding process {os.getpid()})", flush=True)
    try:
        conn.send(asyncio.run(_paced(_forwarding(sizes, profile))))
    except Exception as exc:
        conn.send(exc)


async def _paced(work: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    """The process's garbage collection as ``pustaka run`` has it (bridge.gc_pacing), for
    both sides alike; ``BENCH_GC=auto`` leaves Python's own."""
    if os.environ.get("BENCH_GC", "paced") == "auto":
        return await work
    pacing = asyncio.create_task(pace_collections())
    try:
        return await work
    finally:
        pacing.cancel()


async def _forwarding(sizes: Forwarding, profile: bool) -> dict[str, Any]:
    result: dict[str, Any] = {"ours": [], "raw": [], "early": [], "profile": ""}
    with tempfile.TemporaryDirectory(prefix="pustaka-bench-") as tmp:
        first, emulator, _ = await demo_bridge(HOST, 0, Path(tmp), rate_limits=False,
                                               desk_port=0, overrides=LIFTED)
        config, bridge = first.config, first
        try:
            group = config.telegram.group_id
            threads = await _open_topics(first, sizes)
            for n in range(sizes.rounds):
                await bridge.stop()  # the backlog is written while the bridge is down
                posts = await _seed(config.data_dir / "pustaka.db", threads, sizes.messages)
                bridge = Bridge(config)
                profiler = cProfile.Profile() if profile and n == 0 else None
                ours, early = await _ours(bridge, emulator, len(posts), profiler)
                result["ours"].append(ours)
                result["early"].append(early)
                result["raw"].append(await _ptb_alone(bridge, group, posts, sizes.concurrency,
                                                      raw=True))
                if n == 0:
                    result["ptb"] = await _ptb_alone(bridge, group, posts, sizes.concurrency)
                if profiler:
                    result["profile"] = _top(profiler)
        finally:
            await bridge.stop()
            await emulator.stop()
    return result


async def _ours(bridge: Bridge, emulator: BotApiEmulator, count: int,
                profiler: cProfile.Profile | None) -> tuple[Timed, int]:
    """Start the bridge onto the backlog and time it until all ``count`` are sent; the
    sends made before ``start()`` returned are not timed, so they are not counted."""
    base = emulator.stats["messages_sent"]
    await bridge.start()
    before = emulator.stats["messages_sent"]
    collected = list(_COLLECTIONS)
    cpu, started = time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    with suppress(TimeoutError):
        async with asyncio.timeout(PHASE_LIMIT):
            while emulator.stats["messages_sent"] - base < count:
                await asyncio.sleep(0.002)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    if profiler:
        profiler.disable()
    return ((seconds, cpu, emulator.stats["messages_sent"] - before,
             _collected_since(collected)), before - base)


async def _open_topics(bridge: Bridge, sizes: Forwarding) -> list[int]:
    group, slots = bridge.config.telegram.group_id, asyncio.Semaphore(32)

    async def one(n: int) -> int:
        async with slots:
            topic = await bridge.bot.create_forum_topic(group, f"Patron {n} · Web chat")
            return int(topic.message_thread_id)

    return list(await asyncio.gather(*(one(n) for n in range(sizes.conversations))))


async def _seed(path: Path, threads: list[int], count: int) -> list[tuple[int, str]]:
    """Patrons, conversations in their topics, and ``count`` messages with an outbox row
    each, interleaved across conversations as live traffic would be."""
    store = SqliteStore(path)
    await store.open()
    try:
        now = time.time()
        people = []
        for n, thread in enumerate(threads):
            patron = Patron(new_id(), name=f"Patron {n}", created_at=now,
                            contacts=(Contact(Channel.WIDGET, f"bench-{n}-{new_id()}"),))
            chat = Conversation(new_id(), patron.id, Channel.WIDGET, desk_thread=thread,
                                page=PageInfo(url="https://library.example/opac"),
                                created_at=now, updated_at=now)
            people.append((patron, chat))
        await asyncio.gather(*(store.save_patron(p) for p, _ in people))
        await asyncio.gather(*(store.save_conversation(c) for _, c in people))
        posts, appends = [], []
        for n in range(count):
            patron, chat = people[n % len(people)]
            message = Message(new_id(), chat.id, Direction.PATRON, f"{TEXT} (#{n})",
                              author=patron.name, client_id=f"c{n}", created_at=now)
            appends.append(store.append(message, [Delivery(
                new_id(), chat.id, message.id, DeliveryKind.TO_DESK, Channel.DESK,
                f"{message.id}:desk", next_attempt_at=now, created_at=now)]))
            posts.append((chat.desk_thread or 0, render.patron_text(message, patron)))
        await asyncio.gather(*appends)
        return posts
    finally:
        await store.close()


async def _ptb_alone(bridge: Bridge, group: int, posts: list[tuple[int, str]],
                     concurrency: int, raw: bool = False) -> Timed:
    """The same sendMessage calls through a Bot made as the bridge makes its own: as
    ``Bot.send_message`` (what a PTB bot does), or ``raw`` through ``do_api_request``
    without building a ``telegram.Message`` (what DeskSender does)."""
    bot = make_bot(bridge.config)
    queue: Iterator[tuple[int, str]] = iter(posts)
    sent = 0

    async def sender() -> None:
        nonlocal sent
        for thread, text in queue:
            if raw:
                await bot.do_api_request("sendMessage", {
                    "chat_id": group, "text": text, "parse_mode": ParseMode.HTML,
                    "message_thread_id": thread,
                    "link_preview_options": {"is_disabled": True}})
            else:
                await bot.send_message(group, text, parse_mode=ParseMode.HTML,
                                       message_thread_id=thread, disable_web_page_preview=True)
            sent += 1

    async with bot:
        collected = list(_COLLECTIONS)
        cpu, started = time.process_time(), time.perf_counter()
        with suppress(TimeoutError):
            async with asyncio.timeout(PHASE_LIMIT):
                await asyncio.gather(*(sender() for _ in range(concurrency)))
        return (time.perf_counter() - started, time.process_time() - cpu, sent,
                _collected_since(collected))


def _top(profiler: cProfile.Profile) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(25)
    ours = r"/(routing|bridge|adapters/telegram/(desk|aiohttp))"  # our modules, any checkout
    stats.sort_stats("cumtime").print_stats(ours, 25)
    return "   cProfile of the bridge's loop while forwarding, round 1 (own time first):\n" + \
        out.getvalue()

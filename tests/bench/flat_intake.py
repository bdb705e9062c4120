"""bench_flat's intake curve: accepted messages while N conversations wait for the desk.

The data directory is seeded through the store itself (a patron, a conversation, one
patron message and its desk delivery each), then the bridge starts on it in a process of
its own as ``pustaka demo`` runs it, with Telegram's real budget: the seeded backlog is
the queue a long evening leaves. New widget visitors then write within the per-visitor
limit; the bridge's CPU per accepted message is read from /proc around the load.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

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
from tests.bench.common import rank

__all__ = ["flood", "intake_curve", "paced", "widget_load"]

VISITORS, PER, INFLIGHT = 500, 4, 4
_CHILD = r'''
import asyncio, sys
from pathlib import Path
from bridge.demo import demo_bridge
async def main():
    # Every visitor here writes from 127.0.0.1: the per-address limits (issue 11) are
    # lifted; the per-visitor limit is kept.
    lifted = 100_000_000
    await demo_bridge("127.0.0.1", int(sys.argv[1]), Path(sys.argv[2]), overrides={
        "server": {"max_connections_per_ip": lifted},
        "widget": {"new_visitors_per_ip_hour": lifted, "new_conversations_per_ip_hour": lifted}})
    import gc, os, time
    began = [0.0]
    log = open(Path(sys.argv[2]) / "gc2.log", "a", buffering=1)
    def full_collections(phase, info):  # how long each full collection takes, to gc2.log
        if phase == "start":
            began[0] = time.perf_counter()
        elif info["generation"] == 2:
            log.write(f"{time.time():.3f} {(time.perf_counter() - began[0]) * 1000:.1f}\n")
    gc.callbacks.append(full_collections)
    stalls = open(Path(sys.argv[2]) / "stalls.log", "a", buffering=1)
    async def loop_stalls():  # turns of the event loop held up by 10 ms or more, to stalls.log
        while True:
            asked = time.perf_counter()
            await asyncio.sleep(0.002)
            late = time.perf_counter() - asked - 0.002
            if late >= 0.010:
                stalls.write(f"{time.time():.3f} {late * 1000:.1f}\n")
    asyncio.create_task(loop_stalls())
    if os.environ.get("BENCH_GC") == "startup":  # the comparison: one freeze after startup
        gc.collect()
        gc.freeze()
    else:  # as serve_until_signalled runs it
        from bridge.gc_pacing import pace_collections
        asyncio.create_task(pace_collections())
    print("READY", flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
'''


async def _seed_one(store: SqliteStore, n: int) -> None:
    now = time.time()
    patron = Patron(new_id(), name=f"waiting {n}",
                    contacts=(Contact(Channel.WIDGET, f"seed-{n}-{new_id()}"),), created_at=now)
    conversation = Conversation(new_id(), patron.id, Channel.WIDGET, created_at=now,
                                updated_at=now)
    await store.save_patron(patron)
    await store.save_conversation(conversation)
    message = Message(new_id(), conversation.id, Direction.PATRON, "is this book in?",
                      author="visitor", client_id=new_id(), created_at=now)
    await store.append(message, [Delivery(
        new_id(), conversation.id, message.id, DeliveryKind.TO_DESK, Channel.DESK,
        f"{message.id}:desk", next_attempt_at=now, created_at=now)])


async def seed(data_dir: Path, conversations: int) -> None:
    store = SqliteStore(data_dir / "pustaka.db")
    await store.open()
    try:
        for start in range(0, conversations, 2_000):
            await asyncio.gather(*(_seed_one(store, n) for n in
                                   range(start, min(conversations, start + 2_000))))
    finally:
        await store.close()


async def _visitor(http: aiohttp.ClientSession, url: str, gate: asyncio.Event,
                   lat: list[float], per: int = PER) -> int:
    """hello, then ``per`` sends with INFLIGHT in flight; returns how many were acked
    (a send refused, by the per-visitor limit say, is answered and not counted)."""
    async with http.ws_connect(url, headers={"Origin": "http://127.0.0.1"}) as ws:
        await ws.send_str(json.dumps({"type": "hello", "token": None, "since": None,
                                      "page": {"url": "http://127.0.0.1/", "title": "b"},
                                      "lang": "en", "tz": "UTC"}))
        while json.loads((await ws.receive()).data).get("type") != "welcome":
            pass
        await gate.wait()
        sent: dict[str, float] = {}
        acked = i = 0
        while i < per or sent:
            while len(sent) < INFLIGHT and i < per:
                cid, i = secrets.token_hex(6), i + 1
                sent[cid] = time.perf_counter()
                await ws.send_str(json.dumps({"type": "send", "cid": cid, "text": "a question"}))
            frame = json.loads((await ws.receive()).data)
            if frame.get("type") in ("ack", "error") and frame.get("cid") in sent:
                started = sent.pop(frame["cid"])
                if frame["type"] == "ack":
                    lat.append(time.perf_counter() - started)
                    acked += 1
        return acked


async def widget_load(url: str, visitors: int = VISITORS, per: int = PER,
                      ) -> tuple[int, float, list[float]]:
    """(acked, seconds, ack latencies) for ``visitors`` new widgets writing at once."""
    lat: list[float] = []
    gate = asyncio.Event()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        tasks = [asyncio.create_task(_visitor(http, url, gate, lat, per))
                 for _ in range(visitors)]
        await asyncio.sleep(1.0 + visitors * 0.005)
        started = time.perf_counter()
        gate.set()
        acked = sum(await asyncio.gather(*tasks))
        return acked, time.perf_counter() - started, sorted(lat)


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _start(port: int, data_dir: Path, gc_mode: str = "") -> subprocess.Popen[str]:
    """The bridge in a child process: this checkout's, or BENCH_PRODUCT's (another
    checkout, to compare two versions under one harness); garbage collection paced, or
    as ``gc_mode`` / BENCH_GC says ("startup": one freeze after startup)."""
    product = os.environ.get("BENCH_PRODUCT") or str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": product,
           "BENCH_GC": gc_mode or os.environ.get("BENCH_GC", "paced")}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(port), str(data_dir)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env=env, cwd=product)  # "-c" puts the cwd first on the path
    assert child.stdout is not None
    for line in child.stdout:
        if "READY" in line:
            return child
    raise SystemExit(f"the bridge did not start:\n{child.stdout.read()}")


def _profile(pid: int, size: int | str, seconds: int = 6) -> subprocess.Popen[bytes] | None:
    """With BENCH_PYSPY=DIR, py-spy (a dev tool, not a dependency) records the bridge
    through the load into DIR/flat_SIZE.txt (collapsed stacks)."""
    where = os.environ.get("BENCH_PYSPY")
    if not where:
        return None
    form = os.environ.get("BENCH_PYSPY_FORMAT", "raw")  # speedscope keeps the samples' order
    idle = ["--idle"] if form == "speedscope" else []  # the loop's waits too: its busy stretches
    return subprocess.Popen(["py-spy", "record", *idle, "-p", str(pid), "-f", form, "-r", "200",
                             "-d", str(seconds), "--nonblocking", "-o", f"{where}/flat_{size}.txt"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def one_size(conversations: int, port: int) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        asyncio.run(seed(Path(tmp), conversations))
        seeded = time.perf_counter() - started
        child = _start(port, Path(tmp))
        try:
            time.sleep(3.0)  # the outbox takes up the backlog first
            idle = _cpu(child.pid)
            time.sleep(2.0)  # what the outbox spends meanwhile, with no patron writing
            cpu = _cpu(child.pid)
            background = (cpu - idle) / 2.0
            spy = _profile(child.pid, conversations)
            acked, seconds, lat = asyncio.run(widget_load(f"ws://127.0.0.1:{port}/widget/ws"))
            used = _cpu(child.pid) - cpu
            if spy is not None:
                spy.wait()
        finally:
            child.terminate()
            child.wait(10)
    def p(q: float) -> float:
        return lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else float("nan")

    return (f"intake: {conversations:>7,} waiting (seeded in {seeded:.0f} s): {acked} acked "
            f"in {seconds:.2f} s -> {acked / seconds:,.0f} msg/s, ack p50 {p(0.5):.1f} ms "
            f"p99 {p(0.99):.1f} ms, bridge CPU {used / max(acked, 1) * 1e6:,.0f} us/msg "
            f"({background:.0%} of a core busy before the load, taking up the backlog)")


async def _paced_visitor(http: aiohttp.ClientSession, url: str, start: float, every: float,
                         count: int, lat: list[float], later: list[float]) -> None:
    """Acks' latencies into ``lat``; those of messages after the visitor's first (its
    conversation already open) into ``later`` too."""
    async with http.ws_connect(url, headers={"Origin": "http://127.0.0.1"}) as ws:
        await ws.send_str(json.dumps({"type": "hello", "token": None, "since": None,
                                      "page": {"url": "http://127.0.0.1/", "title": "b"},
                                      "lang": "en", "tz": "UTC"}))
        while json.loads((await ws.receive()).data).get("type") != "welcome":
            pass
        sent: dict[str, tuple[float, int]] = {}

        async def read() -> None:
            async for msg in ws:
                frame = json.loads(msg.data)
                if frame.get("type") == "ack" and frame.get("cid") in sent:
                    at, n = sent.pop(frame["cid"])
                    lat.append(time.perf_counter() - at)
                    if n:
                        later.append(lat[-1])

        reader = asyncio.create_task(read())
        for n in range(count):
            await asyncio.sleep(max(0.0, start + n * every - time.perf_counter()))
            cid = secrets.token_hex(6)
            sent[cid] = (time.perf_counter(), n)
            await ws.send_str(json.dumps({"type": "send", "cid": cid, "text": "a question"}))
        while sent and time.perf_counter() < start + count * every + 10:
            await asyncio.sleep(0.05)
        reader.cancel()


async def paced_load(url: str, visitors: int, rate: float, seconds: float,
                     later: list[float] | None = None) -> list[float]:
    """``visitors`` widgets sending ``rate`` messages a second between them, evenly;
    ``later`` gets the acks of every message but each visitor's first."""
    lat: list[float] = []
    later = [] if later is None else later
    every = visitors / rate
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        start = time.perf_counter() + 2.0 + visitors * 0.005
        await asyncio.gather(*(
            _paced_visitor(http, url, start + n / rate, every, int(seconds / every), lat,
                           later)
            for n in range(visitors)))
    return sorted(lat)


def paced(port: int, backlog: int = 2_000, gc_modes: tuple[str, ...] = ("paced",)) -> None:
    """Ack latency at a paced 1,000 msg/s from 2,000 visitors (each within its limit)
    while ``backlog`` seeded conversations wait for and drain into the desk; once per
    garbage-collection mode ("paced": as shipped; "startup": one freeze after startup)."""
    for gc_mode in gc_modes:
        _paced_once(port, backlog, gc_mode)


def _paced_ceiling(port: int) -> None:
    """The same paced load against the ceiling server (BENCH_CEILING: the path of
    shared/bench/intake_ceiling.py), for a reference taken in the same minutes."""
    script = os.environ.get("BENCH_CEILING") or str(
        Path(__file__).resolve().parents[3] / "shared" / "bench" / "intake_ceiling.py")
    later: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        child = subprocess.Popen([sys.executable, script, "serve", "--port", str(port),
                                  "--db", f"{tmp}/ceiling.db"], stdout=subprocess.DEVNULL)
        try:
            time.sleep(2.0)
            lat = asyncio.run(paced_load(f"ws://127.0.0.1:{port}/widget/ws", 2_000,
                                         1_000.0, 10.0, later))
        finally:
            child.terminate()
            child.wait(10)
    later.sort()
    print(f"paced (ceiling server): {len(lat):,} acked, ack p50 {rank(lat, 0.5) * 1000:.1f} ms "
          f"p99 {rank(lat, 0.99) * 1000:.1f} ms; after the openings "
          f"p99 {rank(later, 0.99) * 1000:.1f} ms", flush=True)


def _paced_once(port: int, backlog: int, gc_mode: str) -> None:
    if gc_mode == "ceiling":
        _paced_ceiling(port)
        return
    later: list[float]
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(seed(Path(tmp), backlog))
        child = _start(port, Path(tmp), gc_mode)
        try:
            time.sleep(2.0)
            spy = _profile(child.pid, "paced", 26)
            began, later = time.time(), []
            lat = asyncio.run(paced_load(f"ws://127.0.0.1:{port}/widget/ws", 2_000,
                                         1_000.0, 10.0, later))
            later.sort()
            pauses = _full_collections(Path(tmp), began)
            stalls = _full_collections(Path(tmp), began, "stalls.log")
            if spy is not None:
                spy.wait()
        finally:
            child.terminate()
            child.wait(10)

    def p(q: float) -> float:
        return lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else float("nan")

    print(f"paced (gc {gc_mode}): 1,000 msg/s from 2,000 visitors for 10 s, "
          f"{backlog:,} conversations draining: {len(lat):,} acked, "
          f"ack p50 {p(0.5):.1f} ms p99 {p(0.99):.1f} ms "
          f"max {p(1.0):.1f} ms; after the openings (each visitor's first message) "
          f"p99 {rank(later, 0.99) * 1000 if later else float('nan'):.1f} ms; "
          f"full collections during the load: {len(pauses)}, "
          f"longest {max(pauses, default=0.0):.0f} ms, {sum(pauses):.0f} ms in all; "
          f"loop stalls >= 10 ms: {len(stalls)}, >= 40 ms: {sum(s >= 40 for s in stalls)}, "
          f"longest {max(stalls, default=0.0):.0f} ms", flush=True)


def _full_collections(data_dir: Path, since: float, name: str = "gc2.log") -> list[float]:
    """The bridge's full collections (ms each) from ``since`` on, as its gc2.log says
    (or its loop stalls, as stalls.log says)."""
    lines = (data_dir / name).read_text().split()
    return [float(ms) for at, ms in zip(lines[::2], lines[1::2], strict=True)
            if float(at) >= since]


def flood(port: int) -> None:
    """The trust issue's flood beside a quiet evening, each on a fresh bridge: 200 new
    identities from one address writing 10,000 messages (most refused by the per-visitor
    limit), against 200 visitors writing 5 each. CPU per accepted message for both."""
    for name, per in (("quiet", 5), ("flood", 50)):
        with tempfile.TemporaryDirectory() as tmp:
            child = _start(port, Path(tmp))
            try:
                time.sleep(1.0)
                cpu = _cpu(child.pid)
                acked, seconds, _ = asyncio.run(
                    widget_load(f"ws://127.0.0.1:{port}/widget/ws", 200, per))
                used = _cpu(child.pid) - cpu
            finally:
                child.terminate()
                child.wait(10)
        print(f"flood: {name}: {200 * per:,} sent by 200 identities, {acked:,} accepted in "
              f"{seconds:.2f} s; bridge CPU {used:.2f} s, "
              f"{used / max(acked, 1) * 1e6:,.0f} us per accepted message, "
              f"{used / (200 * per) * 1e6:,.0f} us per message received", flush=True)
        port += 1


def intake_curve(sizes: list[int]) -> None:
    for n, size in enumerate(sizes):
        print(one_size(size, 18_400 + n * 7), flush=True)

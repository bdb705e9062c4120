"""What live-visitor presence costs: idle widget sockets with presence off and on.

Run: python -m tests.bench.bench_presence [--sockets 20000]
Two bridges run one after the other in this run, each as ``pustaka demo`` runs it in a
process of its own: one with presence off (the hub keeps no visitor view, as before
issue 13), one with it on. Each gets the same sockets from two client processes (two
loopback addresses), each sending a ``hello`` with its own page address, title,
referrer, a phone's user agent and Accept-Language. Printed side by side: the server's
RSS per socket (``/proc/<pid>/status``) with presence off and on, the difference, and
the bytes the presence view itself holds per visitor (``sys.getsizeof`` over its
records, their own strings and its dicts; shared strings counted once). Target: presence
costs at most 1 KiB a socket more than an idle socket without it. Never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import tempfile
import time
from contextlib import suppress
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp

from bridge.demo import demo_bridge
from tests.bench.common import HOST, mark, quiet_logging, raise_nofile, rss_kib, session, spawn

AGENT = {"User-Agent": "Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 (KHTML, "
                       "like Gecko) Chrome/126.0.6478.122 Mobile Safari/537.36",
         "Accept-Language": "id-ID,id;q=0.9,en-US;q=0.8,en;q=0.7"}


def hello(n: int) -> str:
    return json.dumps({
        "type": "hello", "token": None, "since": None, "tz": "Asia/Jakarta",
        "page": {"url": f"https://library.example/opac/record/{n}?q=sejarah+batik",
                 "title": f"Sejarah batik Indonesia, jilid {n} — Katalog Perpustakaan"},
        "referrer": f"https://www.google.com/search?q=batik+{n}"})


# -- the server -------------------------------------------------------------------------


def serve(conn: Connection, presence: bool) -> None:
    quiet_logging()
    raise_nofile()
    asyncio.run(_serve(conn, presence))


async def _serve(conn: Connection, presence: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="pustaka-bench-") as tmp:
        bridge, emulator, _ = await demo_bridge(
            HOST, 0, Path(tmp), rate_limits=False, desk_port=0,
            overrides={"widget": {"allowed_origins": ["https://library.example"]}})
        if not presence:
            bridge.hub.presence = None  # the hub as it was before issue 13
        conn.send(bridge.url)
        loop = asyncio.get_running_loop()
        try:
            while (command := await loop.run_in_executor(None, conn.recv)) != "stop":
                if command == "files":
                    conn.send({"limit": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
                               "open": len(os.listdir("/proc/self/fd")),
                               "sockets": bridge.hub.connections})
                elif command == "view":
                    conn.send(view_bytes(bridge.hub.presence))
        finally:
            await bridge.stop(drain_timeout=2.0)
            await emulator.stop()


def view_bytes(presence: Any) -> dict[str, int]:
    """Bytes the presence view holds: its dicts, its records and each string once."""
    if presence is None:
        return {"visitors": 0, "bytes": 0}
    here, labels, shared = presence._here, presence._labels, presence._shared
    seen: set[int] = set()
    total = sys.getsizeof(here) + sys.getsizeof(labels) + sys.getsizeof(shared)
    for record in here.values():
        total += sys.getsizeof(record)
        for name in ("label", "url", "title", "referrer_host", "user_agent", "language",
                     "city", "page_since", "arrived"):
            value = getattr(record, name)
            if id(value) not in seen:
                seen.add(id(value))
                total += sys.getsizeof(value)
    return {"visitors": len(here), "bytes": total}  # visitor ids are the hub's own keys


# -- the patrons ------------------------------------------------------------------------


def hold(conn: Connection, url: str, local_ip: str, first: int) -> None:
    raise_nofile()
    asyncio.run(_hold(conn, url, local_ip, first))


async def _hold(conn: Connection, url: str, local_ip: str, first: int) -> None:
    loop = asyncio.get_running_loop()
    sockets: list[aiohttp.ClientWebSocketResponse] = []
    slots = asyncio.Semaphore(64)
    readers: list[asyncio.Task[None]] = []

    async def drain(ws: aiohttp.ClientWebSocketResponse) -> None:
        async for _ in ws:  # answers heartbeats
            pass

    async def one(http: aiohttp.ClientSession, n: int) -> None:
        async with slots:
            with suppress(aiohttp.ClientError, OSError, TimeoutError):
                ws = await http.ws_connect(f"{url}/widget/ws", headers=AGENT)
                await ws.send_str(hello(n))
                await asyncio.wait_for(ws.receive(), 30)  # the welcome
                sockets.append(ws)
                readers.append(asyncio.create_task(drain(ws)))

    async with session(local_ip) as http:
        count = await loop.run_in_executor(None, conn.recv)
        await asyncio.gather(*(one(http, first + n) for n in range(count)))
        conn.send(sum(not ws.closed for ws in sockets))
        await loop.run_in_executor(None, conn.recv)  # told to let go
        for ws in sockets:
            await ws.close()
        for task in readers:
            task.cancel()


# -- one side of the comparison ------------------------------------------------------------


def measure(presence: bool, wanted: int) -> dict[str, Any]:
    ours, theirs = spawn().Pipe()
    server = spawn().Process(target=serve, args=(theirs, presence), daemon=True)
    server.start()
    url = ours.recv()
    clients = []
    try:
        asyncio.run(_warm_up(url))
        time.sleep(1.0)
        ours.send("files")
        files = ours.recv()
        target = min(wanted, files["limit"] - files["open"] - 64)
        base = rss_kib(server.pid)
        started = time.monotonic()
        for n, share in enumerate((target // 2, target - target // 2)):
            mine, child_end = spawn().Pipe()
            child = spawn().Process(target=hold, daemon=True,
                                    args=(child_end, url, f"127.0.0.{2 + n}", n * target))
            child.start()
            mine.send(share)
            clients.append((child, mine))
        held = sum(mine.recv() for _, mine in clients)
        elapsed = time.monotonic() - started
        time.sleep(1.5)  # the last hellos' garbage settles
        final = rss_kib(server.pid)
        ours.send("view")
        view = ours.recv()
        ours.send("files")
        sockets = ours.recv()["sockets"]
        return {"asked": wanted, "target": target, "held": held, "sockets": sockets,
                "base": base, "final": final, "elapsed": elapsed, "view": view,
                "per_socket": (final - base) / max(1, held)}
    finally:
        for child, mine in clients:
            with suppress(OSError):
                mine.send(-1)
            child.join(30)
            if child.is_alive():
                child.terminate()
        with suppress(OSError):
            ours.send("stop")
        server.join(20)
        if server.is_alive():
            server.terminate()


async def _warm_up(url: str) -> None:
    async with session() as http:
        for n in range(50):
            ws = await http.ws_connect(f"{url}/widget/ws", headers=AGENT)
            await ws.send_str(hello(10_000_000 + n))
            await ws.receive()
            await ws.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sockets", type=int, default=20_000)
    args = parser.parse_args()
    print(f"Idle widget sockets, presence off vs on (asked for {args.sockets:,} each); "
          "server RSS from /proc/<pid>/status")
    off = measure(False, args.sockets)
    on = measure(True, args.sockets)
    for name, row in (("presence off", off), ("presence on ", on)):
        print(f"   {name}: {row['held']:,} sockets ({row['sockets']:,} in the hub) in "
              f"{row['elapsed']:.1f} s; RSS {row['base'] / 1024:,.1f} -> "
              f"{row['final'] / 1024:,.1f} MiB = {row['per_socket']:.2f} KiB per socket")
        if row["target"] < row["asked"]:
            print(f"      (the file limit allowed {row['target']:,}, not {row['asked']:,})")
    extra = on["per_socket"] - off["per_socket"]
    view = on["view"]
    own = view["bytes"] / max(1, view["visitors"]) / 1024
    print(f"   presence costs {extra:+.2f} KiB per socket by RSS (on minus off) "
          f"[target <= 1 KiB: {mark(extra <= 1.0)}]")
    print(f"   the presence view itself: {view['visitors']:,} visitors, "
          f"{view['bytes'] / 1024:,.0f} KiB = {own:.2f} KiB per visitor, counting the page's "
          f"address and title the session also holds "
          f"[target <= 1 KiB: {mark(own <= 1.0)}]")


if __name__ == "__main__":
    main()

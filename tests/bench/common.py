"""What the slice benches share: the server's own process, a patron's socket, figures.

The bridge (with the Bot API emulator, as ``pustaka demo`` runs them) lives in a child
process of its own, so its event loop never serves a load generator and its RSS and CPU
time are its own. The parent drives it over a pipe with a few small commands, and plays
the patrons with ``Widget``: one WebSocket speaking adapters/widget/PROTOCOL.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import os
import resource
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import aiohttp

from adapters.telegram.emulator import BotApiEmulator
from bridge.app import Bridge
from bridge.demo import demo_bridge

__all__ = [
    "BUDGETS",
    "HOST",
    "LIFTED",
    "TEXT",
    "ServerProcess",
    "Usage",
    "Widget",
    "cpu_seconds",
    "mark",
    "quiet_logging",
    "raise_nofile",
    "rank",
    "rss_kib",
    "session",
    "spawn",
]

HOST = "127.0.0.1"
# The widget's per-visitor flood limit is always lifted (100 sockets send thousands each).
# "lifted" also lifts the budget the outbox plans Telegram sends within, so every message
# is one sendMessage; "telegram" keeps Telegram's published limits (30 a second, 20 a
# minute into the group), as in production: the outbox then coalesces. The emulator's
# own limits are off either way.
WIDGET_LIFTED: dict[str, dict[str, Any]] = {"widget": {"messages_per_minute": 100_000_000}}
# So are the per-address limits (issue 11): every bench patron comes from loopback.
WIDGET_LIFTED["widget"].update(new_visitors_per_ip_hour=100_000_000,
                               new_conversations_per_ip_hour=100_000_000)
WIDGET_LIFTED["server"] = {"max_connections_per_ip": 1_000_000}
LIFTED: dict[str, dict[str, Any]] = {
    **WIDGET_LIFTED,
    "telegram": {"messages_per_second": 1_000_000, "group_messages_per_minute": 100_000_000},
}
BUDGETS = {"lifted": LIFTED, "telegram": WIDGET_LIFTED}
BUDGETS["production"] = {}  # every limit as shipped (bench_flood: the widget's limits under test)
# bench_slice's intake row keeps the per-visitor limit as shipped and sends from many new
# visitors instead (slice_intake.py): only the per-address limits are lifted there.
BUDGETS["intake-telegram"] = {"widget": {k: v for k, v in WIDGET_LIFTED["widget"].items()
                                         if k != "messages_per_minute"},
                              "server": WIDGET_LIFTED["server"]}
BUDGETS["intake-lifted"] = {**BUDGETS["intake-telegram"], "telegram": LIFTED["telegram"]}

TEXT = "Hello, do you have the 2019 edition of this book on the shelf, or only as an e-book?"
AGENT = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 Safari/537.36"}
HELLO = json.dumps({"type": "hello", "token": None, "since": None,
                    "page": {"url": "https://library.example/opac", "title": "Catalogue"},
                    "lang": "id-ID", "tz": "Asia/Jakarta"})


# -- reading figures ------------------------------------------------------------------


def rank(ordered: Sequence[float], share: float) -> float:
    """Nearest-rank percentile of an ascending sequence."""
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def mark(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process, all its threads."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raise_nofile() -> int:
    """Lift the limit on open files: to 65,536 where allowed (root may raise the hard
    limit), else the soft limit to the hard one. Returns the limit now in force."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(hard, 65536), max(hard, 65536)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def spawn() -> Any:
    """The multiprocessing context: spawned children share no event loop or socket."""
    return multiprocessing.get_context("spawn")


class Usage:
    """CPU the server and this process used over a span of wall time."""

    def __init__(self, server_pid: int) -> None:
        self._pid = server_pid
        self._wall = time.monotonic()
        self._server = cpu_seconds(server_pid)
        self._client = time.process_time()

    def __str__(self) -> str:
        wall = time.monotonic() - self._wall
        server = (cpu_seconds(self._pid) - self._server) / wall * 100
        client = (time.process_time() - self._client) / wall * 100
        return f"CPU: server {server:.0f}% of a core, load generator {client:.0f}%"


# -- a patron's widget ------------------------------------------------------------------


def session(local_ip: str | None = None) -> aiohttp.ClientSession:
    """A client session without a connection limit, optionally from a given loopback IP."""
    local = (local_ip, 0) if local_ip else None
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, local_addr=local))


BROWSER_DEFLATE = int(os.environ.get("BENCH_WS_DEFLATE", "15"))  # 0: offer no compression


class Widget:
    """One WebSocket speaking PROTOCOL.md; frames after the welcome go to ``on_frame``."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.on_frame: Callable[[dict[str, Any], float], None] = lambda frame, at: None
        self.welcome: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, http: aiohttp.ClientSession, url: str) -> Widget:
        # As a browser does: Chromium and Firefox offer permessage-deflate on every socket.
        widget = cls(await http.ws_connect(f"{url}/widget/ws", headers=AGENT,
                                           compress=BROWSER_DEFLATE))
        await widget.ws.send_str(HELLO)
        await asyncio.wait_for(widget.welcome, 30)
        return widget

    @classmethod
    async def open_many(cls, http: aiohttp.ClientSession, url: str, count: int) -> list[Widget]:
        return list(await asyncio.gather(*(cls.open(http, url) for _ in range(count))))

    async def send(self, cid: str, text: str = TEXT) -> None:
        await self.ws.send_str(json.dumps({"type": "send", "cid": cid, "text": text}))

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        with suppress(asyncio.CancelledError):
            await self._reader

    async def _read(self) -> None:
        async for msg in self.ws:  # reading also answers the server's heartbeat pings
            if msg.type is not aiohttp.WSMsgType.TEXT:
                continue
            frame = json.loads(msg.data)
            if frame["type"] == "welcome" and not self.welcome.done():
                self.welcome.set_result(frame)
            else:
                self.on_frame(frame, time.monotonic())


# -- the server's process ---------------------------------------------------------------


class ServerProcess:
    """The parent's handle on a bridge running in its own process."""

    def __init__(self, budget: str = "lifted") -> None:
        self.budget = budget
        self._conn, theirs = spawn().Pipe()
        self._process: BaseProcess = spawn().Process(target=serve, args=(theirs, budget),
                                                     daemon=True)
        self._process.start()
        self.info: dict[str, Any] = self._conn.recv()
        self.pid = self.info["pid"]
        self.url: str = self.info["url"]

    def call(self, command: str, *args: Any) -> Any:
        self._conn.send((command, args))
        answer = self._conn.recv()
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def acall(self, command: str, *args: Any) -> Any:
        """``call`` without blocking the caller's event loop."""
        return await asyncio.get_running_loop().run_in_executor(None, self.call, command, *args)

    def stop(self) -> None:
        try:
            self._conn.send(("stop", ()))
            self._conn.recv()
        except (EOFError, OSError):
            pass
        self._process.join(15)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)


def quiet_logging() -> None:
    """Warnings and errors only; the demo's generated signing secret is expected here."""
    logging.basicConfig(level=logging.WARNING, format="server %(levelname)s %(name)s: %(message)s")
    logging.getLogger("bridge.app").setLevel(logging.ERROR)


def serve(conn: Connection, budget: str) -> None:
    """Child process: a demo bridge with the given Telegram budget, until told to stop."""
    quiet_logging()
    raise_nofile()
    target = os.environ.get("BENCH_SERVER_PROFILE")  # a file: the server's cProfile stats
    if not target:
        asyncio.run(_serve(conn, BUDGETS[budget]))
        return
    import cProfile

    cProfile.runctx("asyncio.run(_serve(conn, BUDGETS[budget]))", globals(),
                    {"conn": conn, "budget": budget}, f"{target}.{os.getpid()}")


async def _serve(conn: Connection, overrides: dict[str, dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory(prefix="pustaka-bench-") as tmp:
        bridge, emulator, _ = await demo_bridge(HOST, 0, Path(tmp), rate_limits=False,
                                                desk_port=0, overrides=overrides)
        commands = Commands(bridge, emulator)
        conn.send({"pid": os.getpid(), "url": bridge.url})
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    name, args = await loop.run_in_executor(None, conn.recv)
                except EOFError:
                    return  # the parent is gone
                if name == "stop":
                    return
                try:
                    conn.send(await getattr(commands, name)(*args))
                except Exception as exc:  # reported to the parent, which raises it
                    conn.send(exc)
        finally:
            await bridge.stop(drain_timeout=2.0)
            await emulator.stop()
            with suppress(OSError):
                conn.send(None)  # stopped


class Commands:
    """What the parent may ask of the server process; each answers with plain data."""

    def __init__(self, bridge: Bridge, emulator: BotApiEmulator) -> None:
        self._bridge = bridge
        self._emulator = emulator
        self._group = bridge.config.telegram.group_id
        self._librarian = emulator.add_user("Sari", last_name="Dewi", username="sari_bench")
        emulator.add_member(self._group, self._librarian)

    async def counts(self) -> dict[str, int]:
        return {"desk_posts": self._emulator.stats["messages_sent"],
                "pending": await self._bridge.store.pending_deliveries()}

    async def drained(self, timeout: float) -> dict[str, Any]:
        """Wait until the outbox holds nothing pending; when that happened (monotonic)."""
        deadline = time.monotonic() + timeout
        while (pending := await self._bridge.store.pending_deliveries()) and \
                time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return {"at": time.monotonic(), "pending": pending,
                "desk_posts": self._emulator.stats["messages_sent"]}

    async def pause_outbox(self) -> None:
        """Stop forwarding (what is in flight finishes), to time the intake on its own."""
        await self._bridge.worker.drain(2.0)

    async def topics(self) -> list[int]:
        return [int(t["message_thread_id"]) for t in self._emulator.topics(self._group)]

    async def reply(self, thread: int, text: str) -> float:
        """A librarian writes in a topic; returns when (monotonic, shared by processes)."""
        at = time.monotonic()
        self._emulator.user_sends(self._group, self._librarian, text, message_thread_id=thread)
        return at

    async def desk_seen(self, texts: list[str], timeout: float) -> dict[str, float]:
        """When (monotonic, shared by processes) a message containing each of ``texts``
        was first seen in the desk group, looking every 10 ms for up to ``timeout``;
        texts not seen by then are left out."""
        seen: dict[str, float] = {}
        deadline = time.monotonic() + timeout
        while len(seen) < len(texts) and time.monotonic() < deadline:
            posted = [m.get("text", "") for m in self._emulator.messages(self._group)]
            now = time.monotonic()
            for text in texts:
                if text not in seen and any(text in p for p in posted):
                    seen[text] = now
            await asyncio.sleep(0.01)
        return seen

    async def files(self) -> dict[str, int]:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        return {"open": len(os.listdir("/proc/self/fd")), "limit": soft,
                "sockets": self._bridge.hub.connections}

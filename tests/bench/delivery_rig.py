"""What the delivery tests and bench share: a rig, patrons that reconnect, and a census.

The emulator keeps Telegram's published limits. To fit a run into seconds, time in the
emulator can run ``speed`` times fast (its clock is scaled) while the bridge's group
window is shortened by the same factor: 20 posts per 60 Telegram-seconds becomes 20 per
60/speed real seconds on both sides. The bot-wide and private limits then stay looser
in the emulator than in the bridge, so the group limit is the one that binds, as it
does in a real library's evening. ``speed=1`` is Telegram as it is.

``census`` reads every topic of the desk group back and checks each patron's messages
are all there, in order, in one topic; tokens like ``p07m03`` make each message known.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from adapters.telegram.emulator import BotApiEmulator
from bridge.app import Bridge
from bridge.config import load_config
from bridge.demo import DEMO_TOKEN
from routing.limits import WindowRule

__all__ = [
    "HOST",
    "Census",
    "Patron",
    "bridge_sections",
    "census",
    "close_patrons",
    "open_patrons",
    "patron_token",
    "reply_token",
    "scaled_clock",
    "send_burst",
    "start_bridge",
    "start_emulator",
]

HOST = "127.0.0.1"
PATRON_TOKEN = re.compile(r"\bp(\d+)m(\d+)\b")
REPLY_TOKEN = re.compile(r"\br(\d+)n(\d+)\b")
AGENT = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 Safari/537.36"}


def patron_token(patron: int, n: int) -> str:
    return f"p{patron:02d}m{n:02d}"


def reply_token(patron: int, n: int) -> str:
    return f"r{patron:02d}n{n:02d}"


def scaled_clock(speed: float) -> Callable[[], float]:
    """Monotonic time running ``speed`` times fast (the emulator's view of the world)."""
    start = time.monotonic()
    return lambda: start + (time.monotonic() - start) * speed


async def start_emulator(speed: float = 1.0) -> tuple[BotApiEmulator, str, int, int]:
    """The emulator with Telegram's limits on; returns it, its URL, the desk group and a
    librarian's user id."""
    emulator = BotApiEmulator(rate_limits=True, bot_token=DEMO_TOKEN, clock=scaled_clock(speed))
    url = await emulator.start(HOST, 0)
    group = emulator.seed_demo_desk()
    librarian = emulator.add_user("Rina", last_name="Pustakawan", username="rina_lib")
    emulator.add_member(group, librarian)
    return emulator, url, group, librarian


def bridge_sections(api_url: str, group: int, data_dir: Path, port: int = 0,
                    ) -> dict[str, dict[str, Any]]:
    """The demo's config, with the widget's per-visitor flood limit lifted (not under test)."""
    return {
        "library": {"name": "Perpustakaan Kota Pustaka", "timezone": "Asia/Jakarta"},
        "server": {"host": HOST, "port": port},
        "storage": {"data_dir": str(data_dir)},
        "telegram": {"group_id": group, "api_url": api_url, "poll_timeout": 2},
        "widget": {"messages_per_minute": 100_000},
        "outbox": {"backoff_base": 0.5, "backoff_cap": 5.0, "max_attempts": 30},
    }


async def start_bridge(api_url: str, group: int, data_dir: Path, *, speed: float = 1.0,
                       port: int = 0, routes: Sequence[web.RouteDef] = ()) -> Bridge:
    """The real bridge as ``pustaka demo`` wires it, its group window scaled by ``speed``."""
    config = load_config(None, env={"PUSTAKA_TELEGRAM_TOKEN": DEMO_TOKEN},
                         **bridge_sections(api_url, group, data_dir, port))
    bridge = Bridge(config, extra_routes=list(routes))
    await bridge.start()
    scale_group_window(bridge, config.telegram.group_messages_per_minute, speed)
    return bridge


def scale_group_window(bridge: Bridge, per_minute: int, speed: float) -> None:
    bridge.worker.budget.set_rule("group", WindowRule(per_minute, 60.0 / speed))


@dataclass
class Patron:
    """A widget that behaves like widget.js: keeps its token, reconnects, resends what
    was not acknowledged (same ``cid``), and shows each message id once."""

    number: int
    url: str
    http: aiohttp.ClientSession
    token: str | None = None
    unacked: dict[str, str] = field(default_factory=dict)  # cid -> text
    acked: set[str] = field(default_factory=set)
    shown: dict[str, dict[str, Any]] = field(default_factory=dict)  # message id -> Msg
    pushes: Counter[str] = field(default_factory=Counter)  # message id -> frames seen
    last_id: str | None = None
    ws: aiohttp.ClientWebSocketResponse | None = None
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
        if self.ws is not None:
            await self.ws.close()

    async def send(self, cid: str, text: str) -> None:
        self.unacked[cid] = text
        if self.ws is not None and self.connected.is_set():
            with suppress(ConnectionError, RuntimeError, aiohttp.ClientError):
                await self.ws.send_str(json.dumps({"type": "send", "cid": cid, "text": text}))

    def replies(self) -> list[str]:
        """Librarian reply tokens in the order the widget shows them (by message id)."""
        shown = [self.shown[k] for k in sorted(self.shown)]
        return [m["text"] for m in shown if m.get("direction") == "librarian"]

    async def _run(self) -> None:
        backoff = 0.05
        while True:
            try:
                await self._session()
                backoff = 0.05
            except (aiohttp.ClientError, ConnectionError, TimeoutError, OSError):
                pass
            self.connected.clear()
            await asyncio.sleep(backoff)
            backoff = min(1.0, backoff * 2)

    async def _session(self) -> None:
        async with self.http.ws_connect(f"{self.url}/widget/ws", headers=AGENT,
                                        heartbeat=None) as ws:
            self.ws = ws
            await ws.send_str(json.dumps({
                "type": "hello", "token": self.token, "since": self.last_id,
                "page": {"url": "https://library.example/opac", "title": "Catalogue"},
                "lang": "id-ID", "tz": "Asia/Jakarta"}))
            async for msg in ws:
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    continue
                await self._frame(ws, json.loads(msg.data))

    async def _frame(self, ws: aiohttp.ClientWebSocketResponse, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "welcome":
            self.token = frame["token"]
            for message in frame.get("history", []):
                self._show(message)
            self.connected.set()
            for cid, text in list(self.unacked.items()):  # what the last socket left
                await ws.send_str(json.dumps({"type": "send", "cid": cid, "text": text}))
        elif kind == "ack":
            self.unacked.pop(frame["cid"], None)
            self.acked.add(frame["cid"])
            self._show(frame["message"])
        elif kind == "message":
            self.pushes[frame["message"]["id"]] += 1
            self._show(frame["message"])

    def _show(self, message: dict[str, Any]) -> None:
        self.shown[message["id"]] = message
        if self.last_id is None or message["id"] > self.last_id:
            self.last_id = message["id"]


async def open_patrons(url: str, count: int) -> list[Patron]:
    """``count`` widgets, connected; they share one client session (closed by ``close``)."""
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    patrons = [Patron(n, url, http) for n in range(count)]
    for patron in patrons:
        patron.start()
    await asyncio.wait_for(asyncio.gather(*(p.connected.wait() for p in patrons)), 60)
    return patrons


async def close_patrons(patrons: list[Patron]) -> None:
    for patron in patrons:
        await patron.stop()
    if patrons:
        await patrons[0].http.close()


async def send_burst(patrons: list[Patron], sent: dict[int, list[str]], *, minute: float,
                     messages: int, rng: random.Random) -> None:
    """Each patron sends ``messages`` at random moments within ``minute`` seconds, in
    order; ``sent`` records each patron's tokens in the order sent."""
    loop = asyncio.get_running_loop()

    async def talk(patron: Patron) -> None:
        offsets = sorted(rng.random() * minute for _ in range(messages))
        start = loop.time()
        tokens = sent.setdefault(patron.number, [])
        for n, at in enumerate(offsets):
            await asyncio.sleep(max(0.0, start + at - loop.time()))
            tokens.append(patron_token(patron.number, n))
            await patron.send(f"c{n}", f"{tokens[-1]} is the 2019 edition on the shelf?")

    await asyncio.gather(*(talk(p) for p in patrons))


@dataclass
class Census:
    """What the desk group holds, read back token by token.

    A patron's topic is the one holding most of their messages. A topic opened twice
    (the first opening's answer was lost, so it was opened again) may hold a copy of
    the first post: that copy is counted as a duplicate, not as a split conversation.
    """

    delivered: int = 0  # distinct patron messages found in their topic
    duplicated: int = 0  # extra copies of patron messages, in any topic
    missing: list[str] = field(default_factory=list)  # not in the patron's topic
    out_of_order: list[int] = field(default_factory=list)  # patrons whose topic is unordered
    split: list[int] = field(default_factory=list)  # messages only in another topic
    extra_topics: int = 0  # topics opened twice for one conversation, or left empty
    topic_of: dict[int, int] = field(default_factory=dict)  # patron -> thread id

    @property
    def ok(self) -> bool:
        return not (self.missing or self.out_of_order or self.split)


def topic_tokens(emulator: BotApiEmulator, group: int) -> dict[int, dict[int, list[str]]]:
    """patron -> thread -> the patron's tokens in the bot's posts there, in post order."""
    found: dict[int, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    for topic in emulator.topics(group):
        thread = topic["message_thread_id"]
        for message in emulator.messages(group, thread):
            if message.get("from", {}).get("is_bot") is not True:
                continue
            for patron, n in PATRON_TOKEN.findall(message.get("text", "")):
                found[int(patron)][thread].append(patron_token(int(patron), int(n)))
    return found


def census(emulator: BotApiEmulator, group: int, sent: dict[int, list[str]]) -> Census:
    """Check every token in ``sent`` (patron -> tokens in order) is in the patron's topic."""
    result = Census()
    found = topic_tokens(emulator, group)
    result.extra_topics = len(emulator.topics(group)) - len(found)
    for patron, tokens in sent.items():
        threads = found.get(patron, {})
        if not threads:
            result.missing += tokens
            continue
        home = max(threads, key=lambda t: (len(set(threads[t])), t))
        result.topic_of[patron] = home
        here = Counter(threads[home])
        result.delivered += sum(1 for t in tokens if here[t])
        result.missing += [t for t in tokens if not here[t]]
        every = Counter(t for posts in threads.values() for t in posts)
        result.duplicated += sum(c - 1 for c in every.values() if c > 1)
        if list(dict.fromkeys(threads[home])) != [t for t in tokens if here[t]]:
            result.out_of_order.append(patron)
        if any(t not in here for posts in threads.values() for t in posts):
            result.split.append(patron)
    return result

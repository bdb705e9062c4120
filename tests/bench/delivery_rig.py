"""What the delivery tests and bench share: a rig, and widget patrons that reconnect.

The emulator keeps Telegram's published limits. To fit a run into seconds, time in the
emulator can run ``speed`` times fast (its clock is scaled) while the bridge's group
window is shortened by the same factor: 20 posts per 60 Telegram-seconds becomes 20 per
60/speed real seconds on both sides. The bot-wide and private limits then stay looser
in the emulator than in the bridge, so the group limit is the one that binds, as it
does in a real library's evening. ``speed=1`` is Telegram as it is.

Tokens like ``p07m03`` (a patron's message) and ``r07n01`` (a librarian's reply) make
each message known; ``census`` (desk_census.py, re-exported here) reads the desk back.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import aiohttp
from aiohttp import web

from adapters.telegram.emulator import BotApiEmulator
from bridge.app import Bridge
from bridge.config import load_config
from bridge.demo import DEMO_TOKEN
from routing.limits import WindowRule
from tests.bench.desk_census import Census, census, patron_token

__all__ = [
    "HOST",
    "REPLY_TOKEN",
    "Census",
    "Patron",
    "Writer",
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
REPLY_TOKEN = re.compile(r"\br(\d+)n(\d+)\b")
AGENT = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 Safari/537.36"}


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
                    overrides: dict[str, dict[str, Any]] | None = None,
                    ) -> dict[str, dict[str, Any]]:
    """The demo's config, with the widget's per-visitor flood limit lifted (not under test);
    ``overrides`` sets keys by section (the mixed crash run turns email on with them)."""
    sections: dict[str, dict[str, Any]] = {
        "library": {"name": "Perpustakaan Kota Pustaka", "timezone": "Asia/Jakarta"},
        "server": {"host": HOST, "port": port, "max_connections_per_ip": 1_000_000},
        "storage": {"data_dir": str(data_dir)},
        "telegram": {"group_id": group, "api_url": api_url, "poll_timeout": 2},
        "widget": {"messages_per_minute": 100_000, "new_visitors_per_ip_hour": 100_000,
                   "new_conversations_per_ip_hour": 100_000},
        "outbox": {"backoff_base": 0.5, "backoff_cap": 5.0, "max_attempts": 30},
    }
    for section, values in (overrides or {}).items():
        sections[section] = {**sections.get(section, {}), **values}
    return sections


async def start_bridge(api_url: str, group: int, data_dir: Path, *, speed: float = 1.0,
                       port: int = 0, routes: Sequence[web.RouteDef] = (),
                       overrides: dict[str, dict[str, Any]] | None = None,
                       secrets: dict[str, str] | None = None) -> Bridge:
    """The real bridge as ``pustaka demo`` wires it, its group window scaled by ``speed``;
    ``secrets`` adds environment secrets (``PUSTAKA_IMAP_PASSWORD`` ...)."""
    config = load_config(None, env={"PUSTAKA_TELEGRAM_TOKEN": DEMO_TOKEN, **(secrets or {})},
                         **bridge_sections(api_url, group, data_dir, port, overrides))
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


class Writer(Protocol):
    """A patron on any channel: a widget, a mail client, a Telegram app."""

    number: int

    async def send(self, cid: str, text: str) -> None: ...


async def send_burst(patrons: Sequence[Writer], sent: dict[int, list[str]], *, minute: float,
                     messages: int, rng: random.Random,
                     moments: dict[int, list[float]] | None = None) -> None:
    """Each patron sends ``messages`` at random moments within ``minute`` seconds, in
    order; ``sent`` records each patron's tokens in the order sent, ``moments`` when
    (``time.monotonic()``)."""
    loop = asyncio.get_running_loop()

    async def talk(patron: Writer) -> None:
        offsets = sorted(rng.random() * minute for _ in range(messages))
        start = loop.time()
        tokens = sent.setdefault(patron.number, [])
        for n, at in enumerate(offsets):
            await asyncio.sleep(max(0.0, start + at - loop.time()))
            tokens.append(patron_token(patron.number, n))
            if moments is not None:
                moments.setdefault(patron.number, []).append(time.monotonic())
            await patron.send(f"c{n}", f"{tokens[-1]} is the 2019 edition on the shelf?")

    await asyncio.gather(*(talk(p) for p in patrons))

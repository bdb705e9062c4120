"""`pustaka demo`: the whole service on this machine, no accounts needed.

Starts the Bot API emulator with a forum group ("the desk"), then the bridge against it,
and serves a sample library home page with the widget embedded by one script tag.
"""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web

from adapters.telegram.emulator import BotApiEmulator
from bridge.app import Bridge, serve_until_signalled
from bridge.bootstrap import Sleep
from bridge.config import Config, load_config
from bridge.demo_config import demo_config
from bridge.web_guard import add_headers
from routing.ports import Clock

__all__ = ["demo_bridge", "run_demo", "sample_page_routes"]

DEMO_TOKEN = "123456:DEMO-pustaka-bridge"


def sample_page_routes() -> list[web.RouteDef]:
    page = resources.files("adapters.widget").joinpath("static/sample.html")

    async def sample(_: web.Request) -> web.Response:
        return web.Response(text=page.read_text(encoding="utf-8"), content_type="text/html")

    return [web.get("/", sample)]


async def demo_bridge(
    host: str,
    port: int,
    data_dir: Path,
    *,
    rate_limits: bool = True,
    desk_port: int | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
    secrets: dict[str, str] | None = None,
    clock: Clock | None = None,
    sleep: Sleep = asyncio.sleep,
    config_path: Path | None = None,
    env: Mapping[str, str] | None = None,
    notes: list[str] | None = None,
) -> tuple[Bridge, BotApiEmulator, str]:
    """Start the emulator and a bridge wired to it; returns (bridge, emulator, desk url).

    ``overrides`` sets config keys by section (``{"widget": {"messages_per_minute": 10**6}}``)
    on top of the demo's own; benches use it to lift limits. ``secrets`` adds environment
    secrets (``PUSTAKA_SMTP_PASSWORD`` ...) for tests that turn on email. ``clock`` and
    ``sleep`` go to ``bridge.bootstrap.build``: tests move time instead of waiting for it.
    ``config_path`` and ``env`` are the library's own file and ``PUSTAKA_*`` variables
    (none by default); what the demo replaces of them is appended to ``notes``.
    """
    library_env = {**(env or {}), **(secrets or {})}
    load_config(config_path, env=library_env)  # a bad file fails before anything listens
    emulator, api_url = await _start_emulator(
        host, port + 1 if desk_port is None else desk_port, rate_limits)
    forced = _forced(host, port, data_dir, emulator.seed_demo_desk(), api_url)
    try:
        config, replaced = demo_config(config_path, library_env, forced, overrides,
                                       token=DEMO_TOKEN)
    except BaseException:
        await emulator.stop()
        raise
    if notes is not None:
        notes.extend(replaced)
    bridge = await _start_bridge(emulator, config, clock, sleep)
    return bridge, emulator, f"{api_url}/desk"


async def _start_emulator(host: str, port: int, rate_limits: bool) -> tuple[BotApiEmulator, str]:
    emulator = BotApiEmulator(rate_limits=rate_limits, bot_token=DEMO_TOKEN)
    add_headers(emulator.app)  # the desk simulator is a page too: same CSP and framing rules
    try:
        return emulator, await emulator.start(host, port)
    except OSError as exc:
        if not port or exc.errno != errno.EADDRINUSE:
            raise
    # The port after the bridge's is taken (by a program, or a connection's own port on a
    # busy loopback): the desk simulator takes a free one; its address is printed anyway.
    return emulator, await emulator.start(host, 0)


def _forced(host: str, port: int, data_dir: Path, group: int,
            api_url: str) -> dict[str, dict[str, Any]]:
    """What the demo sets whatever the library's file says: where it listens, its desk."""
    return {
        "server": {"host": host, "port": port},
        "storage": {"data_dir": str(data_dir)},
        "telegram": {"group_id": group, "api_url": api_url, "poll_timeout": 10},
    }


async def _start_bridge(emulator: BotApiEmulator, config: Config, clock: Clock | None,
                        sleep: Sleep) -> Bridge:
    """The bridge started; if it cannot start, the emulator stops too, freeing its port."""
    bridge = Bridge(config, extra_routes=sample_page_routes(), clock=clock, sleep=sleep)
    try:
        await bridge.start()
    except BaseException:
        await emulator.stop()
        raise
    return bridge


async def run_demo(host: str, port: int, data_dir: Path, config_path: Path | None = None) -> int:
    notes: list[str] = []
    bridge, emulator, desk = await demo_bridge(host, port, data_dir, config_path=config_path,
                                               env=os.environ, notes=notes)
    print()
    print("  Pustaka Bridge demo is running.")
    if config_path is not None:
        print(f"  With your settings from {config_path} and PUSTAKA_* variables, except:")
    elif notes:
        print("  With your PUSTAKA_* variables, except:")
    for note in notes:
        print(f"    - {note}")
    print(f"  1. Library home page with the chat widget: {bridge.url}/")
    print(f"  2. Librarians' desk (Telegram group simulator): {desk}")
    print(f"  3. Staff dashboard (reports, transcripts): {bridge.url}/admin/")
    print(f"     make an account first: pustaka user add NAME --role admin --data-dir {data_dir}")
    print("  Open both side by side, write as a patron in 1, answer as a librarian in 2.")
    print("  Press Ctrl+C to stop.")
    print(flush=True)
    try:
        await serve_until_signalled(bridge)
    finally:
        await emulator.stop()
    return 0

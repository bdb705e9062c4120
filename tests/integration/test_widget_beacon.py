"""The loader's presence beacon (``POST /widget/api/presence``, adapters/widget/beacon.py)
through the whole bridge as `pustaka run` builds it: a visitor who never opened the chat
is listed by /visitors, a /greet reaches them through their next beacon, and what is not
a beacon is refused with a clear error and leaves presence as it was."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from adapters.widget.server import WidgetServer
from adapters.widget.tokens import VisitorTokens
from bridge.app import signing_secret, widget_settings
from bridge.config import widget_texts
from routing.ports import SystemClock
from routing.router import Router
from tests.integration.test_widget_presence import (
    ANDROID,
    SITE,
    Rig,
    label_in,
    start,
    until,
    visitors_list,
)

OPAC = {"url": f"{SITE}/opac", "title": "Katalog"}


@pytest_asyncio.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    bridge, emulator, rina = await start(tmp_path)
    try:
        yield bridge, emulator, rina
    finally:
        await bridge.stop()
        await emulator.stop()


async def beacon(http: aiohttp.ClientSession, url: str, body: Any) -> tuple[int, dict[str, Any]]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with http.post(f"{url}/widget/api/presence", data=data,
                         headers={"Content-Type": "text/plain"}) as response:
        return response.status, await response.json()


async def test_a_beacon_lists_the_visitor_and_a_greet_comes_with_the_next(rig: Rig) -> None:
    """A first beacon gets a signed visit handle and no token (no patron is made); the
    desk lists the visitor on its page; after /greet the next beacon carries a visitor
    token once, and the chat's hello with it finds the greeting in its history."""
    bridge, emulator, rina = rig
    group = bridge.config.telegram.group_id
    async with aiohttp.ClientSession(headers={"User-Agent": ANDROID}) as http:
        status, first = await beacon(http, bridge.url, {"page": OPAC, "lang": "id",
                                                        "referrer": "https://x.example/a?q"})
        assert status == 200 and first["next"] == 30 and "token" not in first
        label = label_in(await visitors_list(emulator, group, rina, f"“Katalog” {SITE}/opac",
                                             "from x.example"))
        assert await bridge.store.conversations() == []
        emulator.user_sends(group, rina, f"/greet {label} Halo! Ada yang bisa dibantu?")

        async def greeted() -> dict[str, Any] | None:
            _, answer = await beacon(http, bridge.url, {"visit": first["visit"], "page": OPAC})
            return answer if answer.get("greet") else None
        answer = await until(greeted)
        assert answer["token"].split(".")[1] == first["visit"].split(".")[0]
        _, again = await beacon(http, bridge.url, {"visit": first["visit"], "page": OPAC})
        assert "greet" not in again and "token" not in again
        ws = await http.ws_connect(f"{bridge.url}/widget/ws")
        await ws.send_json({"type": "hello", "token": answer["token"], "page": OPAC})
        welcome = await ws.receive_json()
        assert [(m["event"], m["text"]) for m in welcome["history"]][:1] == [
            ("greeting", "Halo! Ada yang bisa dibantu?")]
        await ws.close()


@pytest.mark.parametrize(("body", "code"), [
    (b"not json", "bad_frame"),
    ([1, 2], "bad_frame"),
    ({"page": "https://library.example/"}, "bad_frame"),
    ({"page": {"url": 42}}, "bad_frame"),
    ({"page": OPAC, "lang": "id<script>"}, "bad_frame"),
    ({"page": OPAC, "referrer": ["a"]}, "bad_frame"),
    ({"page": OPAC, "visit": "0" * 24 + "." + "0" * 32}, "bad_visit"),
    ({"page": OPAC, "visit": "v1.abc.def"}, "bad_visit"),
    ({"page": {"url": SITE + "/" + "a" * 5000}}, "too_long"),
])
async def test_what_is_not_a_beacon_is_refused_and_changes_nothing(
        rig: Rig, body: Any, code: str) -> None:
    """Bad JSON, wrong types, a bad language tag, a visit handle this bridge did not sign
    and a body over 4 KB each get a 400 naming the problem; nobody appears in presence."""
    bridge, _, _ = rig
    async with aiohttp.ClientSession() as http:
        status, answer = await beacon(http, bridge.url, body)
    assert (status, answer["code"]) == (400, code), answer
    assert answer["message"]
    assert bridge.hub.presence is not None and list(bridge.hub.presence.visitors()) == []


async def test_beacons_are_limited_per_network(rig: Rig) -> None:
    """Past its budget a network's beacons get 429 with Retry-After, and the visitor's
    presence is neither made nor refreshed by them."""
    bridge, _, _ = rig
    config = bridge.config
    server = WidgetServer(Router(bridge.store, SystemClock()), bridge.hub,
                          VisitorTokens(signing_secret(config)),
                          widget_settings(config, widget_texts(config)),
                          beacons_per_ip_hour=60)  # ten at once
    app = web.Application()
    server.add_routes(app)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    try:
        async with aiohttp.ClientSession() as http:
            answers = [await beacon(http, url, {"page": OPAC}) for _ in range(11)]
            async with http.post(f"{url}/widget/api/presence", data=b"{}") as refused:
                retry = refused.headers.get("Retry-After")
    finally:
        await runner.cleanup()
    assert [s for s, _ in answers] == [200] * 10 + [429]
    assert answers[-1][1]["code"] == "rate_limited" and answers[-1][1]["retry_after"] >= 1
    assert retry is not None and int(retry) >= 1
    assert bridge.hub.presence is not None and len(bridge.hub.presence.visitors()) == 10

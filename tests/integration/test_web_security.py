"""Security headers on every kind of response, who may read /metrics, and Origin rules,
through the real bridge (and the desk simulator) as `pustaka demo` starts them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from adapters.telegram.emulator import BotApiEmulator
from bridge.app import Bridge
from bridge.config import ConfigError, load_config
from bridge.demo import demo_bridge

Start = Callable[..., Awaitable[tuple[Bridge, str]]]


@pytest_asyncio.fixture
async def start(tmp_path: Path) -> AsyncIterator[Start]:
    """Starts a demo bridge with config overrides; returns it and the desk page's URL."""
    running: list[tuple[Bridge, BotApiEmulator]] = []

    async def go(secrets: dict[str, str] | None = None, **sections: Any) -> tuple[Bridge, str]:
        bridge, emulator, desk = await demo_bridge(
            "127.0.0.1", 0, tmp_path / f"data{len(running)}", rate_limits=False, desk_port=0,
            overrides=sections, secrets=secrets)
        running.append((bridge, emulator))
        return bridge, desk

    yield go
    for bridge, emulator in running:
        await bridge.stop()
        await emulator.stop()


async def fetch(method: str, url: str, **kwargs: Any) -> aiohttp.ClientResponse:
    async with aiohttp.ClientSession() as session, session.request(method, url,
                                                                   **kwargs) as response:
        await response.read()
        return response


async def test_the_bridges_own_pages_get_a_strict_policy_and_no_framing(start: Start) -> None:
    """The sample page and the desk simulator allow scripts from their origin only and
    refuse to be framed."""
    bridge, desk = await start()
    for url in (bridge.url + "/", desk):
        headers = (await fetch("GET", url)).headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, url
        assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"


async def test_widget_js_is_a_script_any_site_may_load(start: Start) -> None:
    """widget.js is nosniff and loadable cross-origin, without page-only rules."""
    bridge, _ = await start()
    headers = (await fetch("GET", bridge.url + "/widget.js")).headers
    assert headers["Content-Type"].startswith("application/javascript")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert "X-Frame-Options" not in headers and "Content-Security-Policy" not in headers


async def test_api_answers_and_errors_can_never_render_as_a_page(start: Start) -> None:
    """JSON answers, refusals and 404s carry default-src 'none' and nosniff."""
    bridge, _ = await start()
    answers = [await fetch("GET", bridge.url + "/widget/config"),
               await fetch("GET", bridge.url + "/healthz"),
               await fetch("GET", bridge.url + "/no-such-page"),
               await fetch("POST", bridge.url + "/widget/api/send", json={"text": "x"}),
               await fetch("POST", bridge.url + "/widget/api/hello", data=b"[")]
    assert [a.status for a in answers] == [200, 200, 404, 401, 400]
    for answer in answers:
        assert answer.headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["X-Frame-Options"] == "DENY"


async def test_metrics_answer_only_the_monitoring_network_or_the_token(start: Start) -> None:
    """Loopback is allowed by default; another allow-list refuses it, the token opens it,
    and a trusted proxy's X-Forwarded-For is judged, not the proxy's own address."""
    bridge, _ = await start()
    assert (await fetch("GET", bridge.url + "/metrics")).status == 200
    guarded, _ = await start(secrets={"PUSTAKA_METRICS_TOKEN": "m" * 32},
                             server={"metrics_allow": ["10.9.9.0/24"],
                                     "trusted_proxies": ["127.0.0.1"]})
    url = guarded.url + "/metrics"
    refused = await fetch("GET", url)
    assert refused.status == 403 and "metrics_allow" in await refused.text()
    assert (await fetch("GET", url, headers={"Authorization": "Bearer " + "m" * 32})).status \
        == 200
    assert (await fetch("GET", url, headers={"Authorization": "Bearer wrong"})).status == 403
    assert (await fetch("GET", url, headers={"X-Forwarded-For": "10.9.9.7"})).status == 200
    assert (await fetch("GET", url, headers={"X-Forwarded-For": "10.9.9.7, 203.0.113.9"})
            ).status == 403


async def test_origins_are_matched_as_browsers_send_them(start: Start) -> None:
    """An allowed origin written with a slash, capitals or its default port still matches;
    another site and 'null' are refused; no Origin passes, on HTTP and the WebSocket alike."""
    bridge, _ = await start(widget={"allowed_origins": ["https://Library.example:443/"]})
    hello = bridge.url + "/widget/api/hello"
    cases = {"https://library.example": 200, "https://evil.example": 403, "null": 403}
    for origin, status in cases.items():
        answer = await fetch("POST", hello, json={}, headers={"Origin": origin})
        assert answer.status == status, origin
        if status == 200:
            assert answer.headers["Access-Control-Allow-Origin"] == origin
    assert (await fetch("POST", hello, json={})).status == 200
    async with aiohttp.ClientSession() as session:
        for origin, status in cases.items():
            if status == 200:
                async with session.ws_connect(bridge.url + "/widget/ws",
                                              headers={"Origin": origin}) as ws:
                    await ws.send_json({"type": "hello"})
                    assert (await ws.receive_json(timeout=5))["type"] == "welcome"
                continue
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(bridge.url + "/widget/ws", headers={"Origin": origin})
            assert refused.value.status == 403
        async with session.ws_connect(bridge.url + "/widget/ws") as ws:
            await ws.send_json({"type": "hello"})
            assert (await ws.receive_json(timeout=5))["type"] == "welcome"


def test_a_bad_metrics_network_is_named_at_load() -> None:
    """server.metrics_allow with a wrong entry is refused with the key named."""
    with pytest.raises(ConfigError, match=r"server\.metrics_allow: 'ten-dot' is not"):
        load_config(None, env={}, server={"metrics_allow": ["ten-dot"]})

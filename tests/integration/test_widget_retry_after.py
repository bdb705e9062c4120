"""A rate-limit refusal says when the patron may send again, on the WebSocket and HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest_asyncio

from bridge.app import Bridge
from bridge.demo import demo_bridge

PER_MINUTE = 12  # a burst of 5, then one every 5 s


@pytest_asyncio.fixture
async def bridge(tmp_path: Path) -> AsyncIterator[Bridge]:
    bridge, emulator, _ = await demo_bridge(
        "127.0.0.1", 0, tmp_path, rate_limits=False, desk_port=0,
        overrides={"widget": {"messages_per_minute": PER_MINUTE}})
    try:
        yield bridge
    finally:
        await bridge.stop()
        await emulator.stop()


async def test_the_socket_refusal_carries_retry_after(bridge: Bridge) -> None:
    """Past the burst, the error frame names its cid and the whole seconds to wait."""
    async with aiohttp.ClientSession() as session, \
            session.ws_connect(bridge.url + "/widget/ws") as ws:
        await ws.send_json({"type": "hello"})
        assert (await ws.receive_json(timeout=5))["type"] == "welcome"
        for n in range(6):
            await ws.send_json({"type": "send", "cid": f"c{n}", "text": f"question {n}"})
        answers = [await ws.receive_json(timeout=5) for _ in range(6)]
    assert [a["type"] for a in answers] == ["ack"] * 5 + ["error"]
    refused = answers[-1]
    assert (refused["code"], refused["cid"]) == ("rate_limited", "c5")
    assert refused["retry_after"] in range(1, 6)
    assert f"in {refused['retry_after']} s" in refused["message"]


async def test_the_http_refusal_is_a_429_with_retry_after(bridge: Bridge) -> None:
    """The HTTP fallback answers 429 with a Retry-After header equal to the body's figure."""
    async with aiohttp.ClientSession() as session:
        async with session.post(bridge.url + "/widget/api/hello", json={}) as answer:
            token = (await answer.json())["token"]
        auth = {"Authorization": f"Bearer {token}"}
        statuses = []
        for n in range(6):
            async with session.post(bridge.url + "/widget/api/send", headers=auth,
                                    json={"cid": f"h{n}", "text": f"question {n}"}) as answer:
                statuses.append(answer.status)
                body, header = await answer.json(), answer.headers.get("Retry-After")
    assert statuses == [200] * 5 + [429]
    assert body["code"] == "rate_limited" and body["retry_after"] in range(1, 6)
    assert header == str(body["retry_after"])

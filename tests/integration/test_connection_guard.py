"""Issue 11 item 8: one client cannot hold every socket, and a connection that never
finishes its request head is closed; through the bridge as `pustaka demo` starts it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
import pytest_asyncio

from adapters.telegram.emulator import BotApiEmulator
from bridge.app import Bridge
from bridge.demo import demo_bridge

Start = Callable[..., Awaitable[Bridge]]
Pipe = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@pytest_asyncio.fixture
async def start(tmp_path: Path) -> AsyncIterator[Start]:
    running: list[tuple[Bridge, BotApiEmulator]] = []

    async def go(**server: Any) -> Bridge:
        bridge, emulator, _ = await demo_bridge(
            "127.0.0.1", 0, tmp_path / f"data{len(running)}", rate_limits=False, desk_port=0,
            overrides={"server": server})
        running.append((bridge, emulator))
        return bridge

    yield go
    for bridge, emulator in running:
        await bridge.stop()
        await emulator.stop()


async def connect(bridge: Bridge) -> Pipe:
    where = urlsplit(bridge.url)
    return await asyncio.open_connection(where.hostname, where.port)


async def healthz(pipe: Pipe) -> bytes:
    """One keep-alive request on an open connection; the status line it got."""
    reader, writer = pipe
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: library\r\n\r\n")
    status = await asyncio.wait_for(reader.readline(), 10)
    length = 0
    while (line := await asyncio.wait_for(reader.readline(), 10)) != b"\r\n":
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await reader.readexactly(length)
    return status


class TestConnectionsPerAddress:
    async def test_one_connection_too_many_gets_a_429_before_it_is_read(
        self, start: Start
    ) -> None:
        """Past server.max_connections_per_ip open connections, the next is answered 429
        with Retry-After and closed; once one closes, there is room again."""
        bridge = await start(max_connections_per_ip=3)
        held = [await connect(bridge) for _ in range(3)]
        for pipe in held:
            assert b" 200 " in await healthz(pipe)
        reader, writer = await connect(bridge)
        refused = await asyncio.wait_for(reader.read(), 10)
        assert refused.startswith(b"HTTP/1.1 429 ")
        assert b"\r\nRetry-After: 10\r\n" in refused
        assert b"Too many connections" in refused
        writer.close()
        held[0][1].close()
        await held[0][1].wait_closed()
        for _ in range(50):  # the bridge sees the close a moment later
            again = await connect(bridge)
            if b" 200 " in await asyncio.wait_for(healthz(again), 10):
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("a freed connection slot was never given again")
        for _, writer in held:
            writer.close()

    async def test_websockets_past_the_cap_are_refused(self, start: Start) -> None:
        """A flood of widget sockets from one address stops at the cap with a 429."""
        bridge = await start(max_connections_per_ip=4)
        async with AsyncExitStack() as stack:
            http = await stack.enter_async_context(aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, force_close=True)))
            for _ in range(4):
                await stack.enter_async_context(http.ws_connect(bridge.url + "/widget/ws"))
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(bridge.url + "/widget/ws")
        assert refused.value.status == 429

    async def test_behind_a_proxy_each_patron_is_capped_not_the_proxy(
        self, start: Start
    ) -> None:
        """Through a trusted proxy, the cap counts each forwarded client's open requests:
        one client is refused at the cap while another still gets in."""
        bridge = await start(max_connections_per_ip=2, trusted_proxies=["127.0.0.1"])
        url = bridge.url + "/widget/ws"

        def fwd(ip: str) -> dict[str, str]:
            return {"X-Forwarded-For": ip}

        async with AsyncExitStack() as stack:
            http = await stack.enter_async_context(aiohttp.ClientSession())
            for _ in range(2):
                await stack.enter_async_context(http.ws_connect(url, headers=fwd("192.0.2.1")))
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(url, headers=fwd("192.0.2.1"))
            other = await stack.enter_async_context(http.ws_connect(url,
                                                                    headers=fwd("192.0.2.2")))
            await other.send_json({"type": "ping"})
            assert (await other.receive_json(timeout=5))["type"] == "pong"
        assert refused.value.status == 429
        assert refused.value.headers is not None and refused.value.headers["Retry-After"]


class TestHeaderTimeout:
    async def test_a_request_head_sent_slowly_is_cut_off(self, start: Start) -> None:
        """A connection dripping header lines never completes a request; it is closed
        after server.header_timeout, whatever it keeps sending."""
        bridge = await start(header_timeout=0.5)
        reader, writer = await connect(bridge)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: library\r\n")

        async def drip() -> None:
            for n in range(200):
                await asyncio.sleep(0.1)
                writer.write(b"X-Slow-%d: 1\r\n" % n)

        dripping = asyncio.create_task(drip())
        try:
            assert await asyncio.wait_for(reader.read(), 15) == b""
        finally:
            dripping.cancel()
            writer.close()

    async def test_served_requests_and_open_sockets_are_not_cut_off(
        self, start: Start
    ) -> None:
        """The clock runs only while a request head is awaited: a WebSocket (a request in
        hand) outlives it, and a keep-alive connection serves requests within it."""
        bridge = await start(header_timeout=0.5)
        async with aiohttp.ClientSession() as http, \
                http.ws_connect(bridge.url + "/widget/ws", heartbeat=None) as ws:
            pipe = await connect(bridge)
            assert b" 200 " in await healthz(pipe)
            assert b" 200 " in await healthz(pipe)
            await asyncio.sleep(1.5)
            await ws.send_json({"type": "ping"})
            assert (await ws.receive_json(timeout=5))["type"] == "pong"
            pipe[1].close()

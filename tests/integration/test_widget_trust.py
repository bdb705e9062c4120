"""Issue 11: what a patron (or a flood) cannot get by reconnecting, by making new
identities, or by writing its own X-Forwarded-For; through the real widget socket, the
HTTP API and the bridge as `pustaka demo` starts it with the Bot API emulator."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from adapters.telegram.emulator import BotApiEmulator
from bridge.app import Bridge
from bridge.demo import demo_bridge

Start = Callable[..., Awaitable[Bridge]]
PER_MINUTE = 12  # a burst of 5, then one every 5 s


@pytest_asyncio.fixture
async def start(tmp_path: Path) -> AsyncIterator[Start]:
    """Starts a demo bridge with config overrides (by section)."""
    running: list[tuple[Bridge, BotApiEmulator]] = []

    async def go(**sections: dict[str, Any]) -> Bridge:
        bridge, emulator, _ = await demo_bridge(
            "127.0.0.1", 0, tmp_path / f"data{len(running)}", rate_limits=False, desk_port=0,
            overrides=sections)
        running.append((bridge, emulator))
        return bridge

    yield go
    for bridge, emulator in running:
        await bridge.stop()
        await emulator.stop()


async def hello(ws: aiohttp.ClientWebSocketResponse, token: str | None = None) -> dict[str, Any]:
    await ws.send_json({"type": "hello", "token": token})
    answer: dict[str, Any] = await ws.receive_json(timeout=5)
    return answer


async def send(ws: aiohttp.ClientWebSocketResponse, cid: str) -> dict[str, Any]:
    await ws.send_json({"type": "send", "cid": cid, "text": f"question {cid}"})
    answer: dict[str, Any] = await ws.receive_json(timeout=5)
    return answer


async def next_answer(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    """The next ack or error (queue frames come and go between them)."""
    while True:
        frame: dict[str, Any] = await ws.receive_json(timeout=10)
        if frame["type"] in ("ack", "error"):
            return frame


class TestClientAddress:
    async def test_the_socket_records_the_hop_our_proxy_added_not_the_clients_claim(
        self, start: Start
    ) -> None:
        """Behind a trusted proxy, a client-written leftmost X-Forwarded-For entry is
        ignored: the conversation records the address the proxy saw."""
        bridge = await start(server={"trusted_proxies": ["127.0.0.1"]})
        forwarded = {"X-Forwarded-For": "6.6.6.6, 203.0.113.9"}
        async with aiohttp.ClientSession() as http, \
                http.ws_connect(bridge.url + "/widget/ws", headers=forwarded) as ws:
            assert (await hello(ws))["type"] == "welcome"
            assert (await send(ws, "a"))["type"] == "ack"
        [conversation] = await bridge.store.conversations()
        assert conversation.page.ip == "203.0.113.9"

    async def test_the_http_api_skips_every_trusted_hop(self, start: Start) -> None:
        """Hops our own proxies added (a network of them) are skipped from the right; the
        first one that is not ours is the client."""
        bridge = await start(server={"trusted_proxies": ["127.0.0.1", "10.0.0.0/8"]})
        forwarded = {"X-Forwarded-For": "6.6.6.6, 198.51.100.7, 10.1.2.3"}
        async with aiohttp.ClientSession(headers=forwarded) as http:
            async with http.post(bridge.url + "/widget/api/hello", json={}) as answer:
                token = (await answer.json())["token"]
            async with http.post(bridge.url + "/widget/api/send",
                                 headers={"Authorization": f"Bearer {token}"},
                                 json={"cid": "h", "text": "hi"}) as answer:
                assert answer.status == 200
        [conversation] = await bridge.store.conversations()
        assert conversation.page.ip == "198.51.100.7"

    async def test_without_a_trusted_proxy_the_header_is_ignored(self, start: Start) -> None:
        """A client that is not our proxy cannot name its address at all."""
        bridge = await start()
        async with aiohttp.ClientSession() as http, http.ws_connect(
                bridge.url + "/widget/ws", headers={"X-Forwarded-For": "6.6.6.6"}) as ws:
            await hello(ws)
            await send(ws, "a")
        [conversation] = await bridge.store.conversations()
        assert conversation.page.ip == "127.0.0.1"


class TestVisitorBudget:
    async def test_hello_again_does_not_refill_the_budget(self, start: Start) -> None:
        """A second hello with the same token, on the same or a new socket, continues the
        visitor's budget: the sixth message of the burst is refused."""
        bridge = await start(widget={"messages_per_minute": PER_MINUTE})
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(bridge.url + "/widget/ws") as ws:
                token = (await hello(ws))["token"]
                answers = [await send(ws, f"a{n}") for n in range(3)]
                await hello(ws, token)
                answers.append(await send(ws, "a3"))
            async with http.ws_connect(bridge.url + "/widget/ws") as ws:
                await hello(ws, token)
                answers += [await send(ws, f"b{n}") for n in range(2)]
        assert [a["type"] for a in answers] == ["ack"] * 5 + ["error"]
        assert answers[-1]["code"] == "rate_limited" and answers[-1]["retry_after"] >= 1

    async def test_the_socket_and_http_share_one_budget(self, start: Start) -> None:
        """What a visitor spent on the socket is spent for its HTTP calls too."""
        bridge = await start(widget={"messages_per_minute": PER_MINUTE})
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(bridge.url + "/widget/ws") as ws:
                token = (await hello(ws))["token"]
                assert [(await send(ws, f"a{n}"))["type"] for n in range(5)] == ["ack"] * 5
            async with http.post(bridge.url + "/widget/api/send",
                                 headers={"Authorization": f"Bearer {token}"},
                                 json={"cid": "h", "text": "hi"}) as answer:
                assert answer.status == 429
                assert int(answer.headers["Retry-After"]) >= 1


class TestRefusedFlood:
    @pytest.mark.timeout(60)
    async def test_sockets_of_refused_sends_are_answered_and_spin_nothing(
        self, start: Start
    ) -> None:
        """A flood as shipped limits meet it (12 sockets from one address, 50 pipelined
        sends each: some accepted, most refused at once, some after a store read, some
        without a hello) gets every answer in order, and the bridge goes on serving
        others. Before: a full line awaited a send already finished, which never yields,
        and the whole bridge spun forever."""
        bridge = await start()

        async def flood(http: aiohttp.ClientSession, tag: str) -> list[dict[str, Any]]:
            async with http.ws_connect(bridge.url + "/widget/ws") as ws:
                await hello(ws)
                for n in range(50):
                    await ws.send_json({"type": "send", "cid": f"{tag}{n}", "text": "flood"})
                return [await next_answer(ws) for _ in range(50)]

        async with aiohttp.ClientSession() as http:
            floods = await asyncio.gather(*(flood(http, f"s{s}-") for s in range(12)))
            async with http.ws_connect(bridge.url + "/widget/ws") as other:
                await other.send_json({"type": "ping"})
                pong = await other.receive_json(timeout=10)
        for s, answers in enumerate(floods):
            assert [a["cid"] for a in answers] == [f"s{s}-{n}" for n in range(50)]
        codes = Counter(a.get("code", a["type"]) for answers in floods for a in answers)
        assert codes == {"ack": 25, "rate_limited": 475, "no_hello": 100}
        assert pong["type"] == "pong"


class TestNewcomersPerNetwork:
    async def test_new_identities_from_one_address_are_limited(self, start: Start) -> None:
        """Past a burst of ten minutes' worth of widget.new_visitors_per_ip_hour, a
        tokenless hello is refused with the seconds to wait (one hour's share), on the
        socket and as an HTTP 429; a known visitor still gets in."""
        bridge = await start(widget={"new_visitors_per_ip_hour": 18})  # 3 at once
        async with aiohttp.ClientSession() as http, \
                http.ws_connect(bridge.url + "/widget/ws") as ws:
            welcomes = [await hello(ws) for _ in range(4)]
            async with http.post(bridge.url + "/widget/api/hello", json={}) as answer:
                status, header, body = answer.status, answer.headers, await answer.json()
            again = await hello(ws, welcomes[0]["token"])
        assert [w["type"] for w in welcomes] == ["welcome"] * 3 + ["error"]
        refused = welcomes[-1]
        assert refused["code"] == "rate_limited" and 150 <= refused["retry_after"] <= 200
        assert (status, body["code"]) == (429, "rate_limited")
        assert header["Retry-After"] == str(body["retry_after"])
        assert again["type"] == "welcome" and again["visitor"] == welcomes[0]["visitor"]

    async def test_a_spoofed_forwarded_for_does_not_buy_new_identities(
        self, start: Start
    ) -> None:
        """Behind a trusted proxy the budget follows the hop the proxy added, whatever the
        client wrote on the left; an IPv6 client counts by its /64."""
        bridge = await start(widget={"new_visitors_per_ip_hour": 1},
                             server={"trusted_proxies": ["127.0.0.1"]})
        answers = []
        for forwarded in ("1.1.1.1, 203.0.113.5", "2.2.2.2, 203.0.113.5",
                          "2001:db8:0:1::1", "2001:db8:0:1::2", "2001:db8:0:2::1"):
            async with aiohttp.ClientSession() as http, http.post(
                    bridge.url + "/widget/api/hello", json={},
                    headers={"X-Forwarded-For": forwarded}) as answer:
                answers.append(answer.status)
        assert answers == [200, 429, 200, 429, 200]

    async def test_new_conversations_from_one_address_are_limited(self, start: Start) -> None:
        """Past ten minutes' worth of widget.new_conversations_per_ip_hour, a new visitor's
        first message is refused and opens no topic; messages sent together open (and
        pay for) one conversation; a patron already in conversation writes on."""
        bridge = await start(widget={"new_conversations_per_ip_hour": 12})  # 2 at once
        async with aiohttp.ClientSession() as http:
            sockets = [await http.ws_connect(bridge.url + "/widget/ws") for _ in range(3)]
            for ws in sockets:
                await hello(ws)
            for n in range(3):  # pipelined: all three are in flight before one is stored
                await sockets[0].send_json({"type": "send", "cid": f"p{n}", "text": "hi"})
            together = [await sockets[0].receive_json(timeout=5) for _ in range(3)]
            first = [await send(ws, "first") for ws in sockets[1:]]
            later = await send(sockets[0], "later")
            for ws in sockets:
                await ws.close()
        assert [a["type"] for a in together] == ["ack"] * 3
        assert [a["type"] for a in first] == ["ack", "error"]
        assert first[-1]["code"] == "rate_limited" and 250 <= first[-1]["retry_after"] <= 300
        assert "new conversations" in first[-1]["message"]
        assert later["type"] == "ack"
        assert len(await bridge.store.conversations()) == 2

"""Live visitors and proactive chat, through the whole bridge as `pustaka run` builds it.

Real SQLite, real widget WebSockets (aiohttp speaking PROTOCOL.md), the real
python-telegram-bot client against the Bot API emulator: a librarian lists who is on
the library's pages with /visitors and opens a conversation with one of them by /greet.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest_asyncio

from adapters.telegram.emulator import BotApiEmulator
from bridge.app import Bridge
from bridge.demo import demo_bridge
from tests.eventually import eventually
from tests.mmdb_file import write_city_db

ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/126.0.0.0 Mobile Safari/537.36")
SITE = "https://library.example"
Rig = tuple[Bridge, BotApiEmulator, int]


async def until(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    return await eventually(check, within=timeout)


async def start(tmp_path: Path, **widget: Any) -> Rig:
    bridge, emulator, _ = await demo_bridge(
        "127.0.0.1", 0, tmp_path, rate_limits=False, desk_port=0,
        overrides={"widget": {"allowed_origins": [SITE], **widget}})
    rina = emulator.add_user("Rina", last_name="Kusuma", username="rina")
    emulator.add_member(bridge.config.telegram.group_id, rina)
    return bridge, emulator, rina


@pytest_asyncio.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    bridge, emulator, rina = await start(tmp_path)
    try:
        yield bridge, emulator, rina
    finally:
        await bridge.stop()
        await emulator.stop()


@pytest_asyncio.fixture
async def geo_rig(tmp_path: Path) -> AsyncIterator[Rig]:
    db = write_city_db(tmp_path / "GeoLite2-City.mmdb", {"127.0.0.0/8": {
        "city": {"names": {"en": "Bandung", "id": "Bandung"}}, "country": {"iso_code": "ID"}}})
    bridge, emulator, rina = await start(tmp_path / "data", geoip_db=str(db))
    try:
        yield bridge, emulator, rina
    finally:
        await bridge.stop()
        await emulator.stop()


async def visit(http: aiohttp.ClientSession, bridge: Bridge, page: str = "/opac",
                **hello: Any) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, Any]]:
    ws = await http.ws_connect(f"{bridge.url}/widget/ws", headers={
        "User-Agent": ANDROID, "Accept-Language": "id-ID,id;q=0.9,en;q=0.5"})
    await ws.send_json({"type": "hello", "token": None,
                        "page": {"url": f"{SITE}{page}", "title": "Katalog <b>OPAC</b>"},
                        **hello})  # a ``token`` in ``hello`` replaces the None
    welcome = await ws.receive_json()
    assert welcome["type"] == "welcome"
    return ws, welcome


def bot_says(emulator: BotApiEmulator, group: int, *parts: str) -> Callable[[], str]:
    def found() -> str:
        for message in reversed(emulator.messages(group)):
            text = message.get("text", "")
            if message.get("from", {}).get("is_bot") and all(p in text for p in parts):
                return str(text)
        return ""
    return found


async def visitors_list(emulator: BotApiEmulator, group: int, rina: int, *parts: str) -> str:
    emulator.user_sends(group, rina, "/visitors")
    return str(await until(bot_says(emulator, group, "on our pages now", *parts)))


async def test_visitors_lists_a_connected_visitor_and_never_its_token(rig: Rig) -> None:
    """/visitors in the group names the visitor by a short label with page, time on
    page, referrer host, device and language (from Accept-Language: the hello has no
    lang), never the token, the visitor id or the referrer's path; no city without a
    GeoLite2 file; a `page` frame moves them; once they close the page they are gone."""
    bridge, emulator, rina = rig
    group = bridge.config.telegram.group_id
    async with aiohttp.ClientSession() as http:
        ws, welcome = await visit(http, bridge,
                                  referrer="https://www.google.com/search?q=secret+thing")
        text = await visitors_list(emulator, group, rina, "v-")
        assert "1 visitor on our pages now" in text
        assert f"{SITE}/opac" in text and "Katalog <b>OPAC</b>" in text  # escaped, shown as text
        assert "from www.google.com" in text and "secret" not in text
        # the library's language the visitor's id-ID matched
        assert "Chrome 126 on Android 14 (phone)" in text and text.endswith("(phone) · id")
        assert "Bandung" not in text
        assert welcome["token"] not in text and welcome["visitor"] not in text
        assert re.search(r"• v-[0-9a-f]{4} · \d+ s on ", text)
        await ws.send_json({"type": "page", "page": {"url": f"{SITE}/hours", "title": "Hours"}})
        await visitors_list(emulator, group, rina, f"“Hours” {SITE}/hours")  # no answer frame
        await ws.close()
        await until(lambda: not bridge.hub.online(welcome["visitor"]))
        emulator.user_sends(group, rina, "/visitors")
        await until(bot_says(emulator, group, "Nobody has the chat open"))


async def test_visitors_shows_the_city_only_with_a_geoip_database(geo_rig: Rig) -> None:
    """With widget.geoip_db set, the visitor's approximate city (read with maxminddb from
    the library's file) joins their line; the address itself is never shown."""
    bridge, emulator, rina = geo_rig
    group = bridge.config.telegram.group_id
    async with aiohttp.ClientSession() as http:
        ws, _ = await visit(http, bridge, lang="en")
        text = await visitors_list(emulator, group, rina, "Bandung, ID")
        assert "127.0.0.1" not in text and " · en · Bandung, ID" in text
        await ws.close()


def label_in(text: str) -> str:
    found = re.search(r"v-[0-9a-f]{4,}", text)
    assert found, text
    return found.group(0)


async def test_greet_opens_the_widget_and_a_claimed_topic_and_the_reply_lands_there(
        rig: Rig) -> None:
    """/greet <label> text sends a `greet` frame to the visitor's socket with the
    librarian's words, opens a topic claimed by that librarian, and the patron's answer
    lands in that topic; a second /greet is refused, since they are now in a chat."""
    bridge, emulator, rina = rig
    group = bridge.config.telegram.group_id
    async with aiohttp.ClientSession() as http:
        ws, welcome = await visit(http, bridge)
        label = label_in(await visitors_list(emulator, group, rina, "v-"))
        emulator.user_sends(group, rina, f"/greet {label} Hello! Looking for <a> book?")
        frame = await ws.receive_json(timeout=10)
        assert frame["type"] == "greet"
        assert frame["message"]["text"] == "Hello! Looking for <a> book?"
        assert frame["message"]["author"] == "Rina Kusuma"
        assert frame["message"]["direction"] == "librarian"
        assert frame["conversation"]["claimed_by"] == "Rina Kusuma"
        [topic] = await until(lambda: emulator.topics(group))
        thread = topic["message_thread_id"]
        [conversation] = await bridge.store.conversations()
        assert conversation.claimed_by_id == str(rina) and "greeted" in conversation.tags
        assert conversation.id == frame["conversation"]["id"]
        await until(lambda: any(f"greeted visitor {label}: Hello! Looking for <a> book?" in
                                m.get("text", "") for m in emulator.messages(group, thread)))
        await ws.send_json({"type": "send", "cid": "a1", "text": "Yes, about batik please"})
        assert (await ws.receive_json(timeout=10))["type"] == "ack"
        await until(lambda: any(m.get("text", "").endswith("Yes, about batik please")
                                for m in emulator.messages(group, thread)))
        assert len(emulator.topics(group)) == 1
        emulator.user_sends(group, rina, f"/greet {label} Hello again")
        await until(bot_says(emulator, group, f"{label}: This visitor already has an open"))
        assert len(await bridge.store.conversations()) == 1
        again, back = await visit(http, bridge, token=welcome["token"])  # a reload
        assert back["conversation"]["id"] == conversation.id
        assert [m["text"] for m in back["history"]][:2] == [
            "Hello! Looking for <a> book?", "Yes, about batik please"]
        await again.close()
        await ws.close()


async def test_greet_once_a_day_unless_answered_and_unknown_visitors(rig: Rig) -> None:
    """A visitor greeted and silent is not greeted again that day (one `greet` frame
    only); a label nobody has, or a visitor who left, gets a clear answer."""
    bridge, emulator, rina = rig
    group = bridge.config.telegram.group_id
    async with aiohttp.ClientSession() as http:
        ws, welcome = await visit(http, bridge)
        label = label_in(await visitors_list(emulator, group, rina, "v-"))
        emulator.user_sends(group, rina, f"/greet {label} Hello!")
        assert (await ws.receive_json(timeout=10))["type"] == "greet"
        emulator.user_sends(group, rina, f"/greet {label} Hello? Anyone?")
        await until(bot_says(emulator, group, f"{label}: This visitor was greeted less"))
        emulator.user_sends(group, rina, "/greet v-zzzz Hi")
        await until(bot_says(emulator, group, "No visitor v-zzzz is on our pages now"))
        await ws.close()
        await until(lambda: not bridge.hub.online(welcome["visitor"]))
        emulator.user_sends(group, rina, f"/greet {label} Still there?")
        await until(bot_says(emulator, group, f"No visitor {label} is on our pages now"))
        messages = await bridge.store.history((await bridge.store.conversations())[0].id)
        assert [m.text for m in messages if m.direction.value == "librarian"] == ["Hello!"]


async def test_an_outsiders_greet_does_nothing(rig: Rig) -> None:
    """/greet from another group, or privately to the bot, reaches no visitor and opens
    no conversation with one (the desk's own /visitors, sent after both, is answered, so
    theirs were handled)."""
    bridge, emulator, rina = rig
    group = bridge.config.telegram.group_id
    outsider = emulator.add_user("Mallory")
    elsewhere = emulator.create_group("Not the desk")
    emulator.add_member(elsewhere, outsider)
    async with aiohttp.ClientSession() as http:
        ws, _ = await visit(http, bridge)
        label = label_in(await visitors_list(emulator, group, rina, "v-"))
        emulator.user_sends(elsewhere, outsider, f"/greet {label} Click my link")
        emulator.user_sends(outsider, outsider, f"/greet {label} Click my link")  # to the bot
        def lists() -> int:
            return sum("on our pages now" in m.get("text", "") for m in emulator.messages(group))

        emulator.user_sends(group, rina, "/visitors")
        await until(lambda: lists() == 2)
        # The private message is a Telegram patron's question like any other, no greeting.
        assert all(c.origin.value == "telegram" for c in await bridge.store.conversations())
        assert all(t["name"] for t in emulator.topics(group))
        await ws.send_json({"type": "ping"})
        assert (await ws.receive_json(timeout=10))["type"] == "pong"  # no greet before it
        await ws.close()




async def test_a_visitor_on_the_http_fallback_is_listed_and_greeted(rig: Rig) -> None:
    """Without WebSockets (hello and long-polls over HTTP) a visitor is listed while
    polling, and the greeting wakes their poll as a librarian line of event "greeting"."""
    bridge, emulator, rina = rig
    group = bridge.config.telegram.group_id
    async with aiohttp.ClientSession(headers={"User-Agent": ANDROID}) as http:
        welcome = await (await http.post(f"{bridge.url}/widget/api/hello", json={
            "token": None, "page": {"url": f"{SITE}/events", "title": "Events"},
            "lang": "en"})).json()
        auth = {"Authorization": f"Bearer {welcome['token']}"}
        poll = asyncio.ensure_future(http.get(f"{bridge.url}/widget/api/poll?wait=25",
                                              headers=auth))
        await until(lambda: bridge.hub.online(welcome["visitor"]))
        label = label_in(await visitors_list(emulator, group, rina, f"“Events” {SITE}/events"))
        emulator.user_sends(group, rina, f"/greet {label} Hi! The batik talk starts at 3.")
        body = await (await asyncio.wait_for(poll, 15)).json()
        [greeting] = body["messages"]
        assert greeting["event"] == "greeting" and greeting["direction"] == "librarian"
        assert greeting["text"] == "Hi! The batik talk starts at 3."

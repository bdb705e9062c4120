"""The pre-chat form's answers through the whole bridge as `pustaka run` builds it: a
real widget WebSocket, real SQLite, the real python-telegram-bot client against the Bot
API emulator. The topic becomes a tag on the new conversation and on its card; the
member number is shown as given, not verified; nothing the widget says is trusted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest_asyncio

from bridge.app import Bridge
from bridge.demo import demo_bridge
from routing.model import Channel, Contact
from tests.integration.test_widget_presence import SITE, Rig, bot_says, until, visit

PRECHAT = {"show": "always", "fields": ["name", "email", "member_number", "question", "topic"],
           "required": ["name", "question", "topic"],
           "topics": [{"label": "Borrowing", "tag": "borrowing"},
                      {"label": "Research help", "tag": "research-help"}]}


@pytest_asyncio.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    bridge, emulator, _ = await demo_bridge(
        "127.0.0.1", 0, tmp_path, rate_limits=False, desk_port=0,
        overrides={"widget": {"allowed_origins": [SITE], "prechat": PRECHAT}})
    try:
        yield bridge, emulator, 0
    finally:
        await bridge.stop()
        await emulator.stop()


async def send(ws: aiohttp.ClientWebSocketResponse, cid: str, text: str,
               **prechat: str) -> dict[str, Any]:
    await ws.send_json({"type": "send", "cid": cid, "text": text, "prechat": prechat})
    answer: dict[str, Any] = await ws.receive_json()
    return answer


async def conversations(bridge: Bridge, visitor: str) -> list[Any]:
    conversation, _ = await bridge.router.intake.patron_view(
        Contact(Channel.WIDGET, visitor), after="~")
    return [] if conversation is None else [conversation]


async def test_topic_and_member_number_reach_the_card(rig: Rig) -> None:
    """The first message with its pre-chat answers opens a conversation tagged with the
    chosen topic; the card shows the topic and the member number as given, not
    verified, and the patron's name; the ack says the typed email is unconfirmed."""
    bridge, emulator, _ = rig
    group = bridge.config.telegram.group_id
    async with aiohttp.ClientSession() as http:
        ws, welcome = await visit(http, bridge)
        ack = await send(ws, "c1", "Can I renew a thesis?", name="Sari <b>Dewi</b>",
                         email="sari@example.org", member_number="A12345",
                         topic="research-help")
        assert ack["type"] == "ack" and ack["profile"]["email_confirmed"] is False
        card = await until(bot_says(emulator, group, "New conversation", "Topic:"))
        assert "Topic: #research-help" in card
        assert "Member number: A12345 ⚠️ given, not verified" in card
        assert "Patron: Sari <b>Dewi</b>" in card  # escaped, shown as text
        [conversation] = await conversations(bridge, welcome["visitor"])
        assert conversation.tags == ("research-help",)
        await ws.close()


async def test_answers_are_checked_by_the_server(rig: Rig) -> None:
    """A topic the library does not offer, a missing required topic, or a member
    number with symbols in it is refused with its code, and nothing reaches the desk."""
    bridge, emulator, _ = rig
    group = bridge.config.telegram.group_id
    async with aiohttp.ClientSession() as http:
        ws, welcome = await visit(http, bridge)
        for cid, answers, code in [
            ("c1", {"name": "Sari", "topic": "admin"}, "bad_topic"),
            ("c2", {"name": "Sari"}, "missing_topic"),
            ("c3", {"topic": "borrowing"}, "missing_name"),
            ("c4", {"name": "Sari", "topic": "borrowing", "member_number": "12;DROP"},
             "bad_member_number"),
        ]:
            refused = await send(ws, cid, "Hello", **answers)
            assert (refused["type"], refused["code"], refused.get("cid")) == ("error", code, cid)
        assert await conversations(bridge, welcome["visitor"]) == []
        assert not bot_says(emulator, group, "New conversation")()
        await ws.close()


async def test_a_send_without_answers_still_works(rig: Rig) -> None:
    """A later message (or an older widget) carries no answers: no tag, no check."""
    bridge, _, _ = rig
    async with aiohttp.ClientSession() as http:
        ws, welcome = await visit(http, bridge)
        await ws.send_json({"type": "send", "cid": "c1", "text": "Hello"})
        assert (await ws.receive_json())["type"] == "ack"
        [conversation] = await conversations(bridge, welcome["visitor"])
        assert conversation.tags == ()
        await ws.close()

"""The end-to-end slice without a browser: a WebSocket patron, the real bridge, the real
python-telegram-bot client and the Bot API emulator standing in for Telegram."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters.telegram.emulator import BotApiEmulator
from bridge.app import Bridge
from bridge.demo import demo_bridge
from tests.eventually import eventually


class Desk:
    def __init__(self, bridge: Bridge, emulator: BotApiEmulator, data_dir: Path) -> None:
        self.bridge = bridge
        self.emulator = emulator
        self.data_dir = data_dir
        self.group = bridge.config.telegram.group_id
        self.librarian = emulator.add_user("Sari", last_name="Dewi", username="sari")
        emulator.add_member(self.group, self.librarian)

    def topics(self) -> list[dict[str, Any]]:
        return self.emulator.topics(self.group)

    def texts(self, thread: int) -> list[str]:
        """Message texts in a topic; the first patron message shares its post with the
        info card, so only the part after the card counts here."""
        return [self.body(m.get("text", "")) for m in self.emulator.messages(self.group, thread)]

    @staticmethod
    def body(text: str) -> str:
        return text.rsplit("\n\n", 1)[-1] if "New conversation" in text else text


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    bridge, emulator, _ = await demo_bridge("127.0.0.1", 0, tmp_path, rate_limits=False,
                                            desk_port=0)
    try:
        yield Desk(bridge, emulator, tmp_path)
    finally:
        await bridge.stop()
        await emulator.stop()


class Patron:
    """A widget as the server sees it: a WebSocket speaking PROTOCOL.md."""

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse):
        self.session = session
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self.token: str | None = None

    async def hello(self, token: str | None = None, since: str | None = None) -> dict[str, Any]:
        await self.ws.send_json({"type": "hello", "token": token, "since": since,
                                 "page": {"url": "https://library.example/opac?q=1",
                                          "title": "Catalogue"},
                                 "lang": "id-ID", "tz": "Asia/Jakarta"})
        welcome = await self.next("welcome", "error")
        self.token = welcome.get("token", self.token)
        return welcome

    async def send(self, text: str, cid: str) -> dict[str, Any]:
        await self.ws.send_json({"type": "send", "cid": cid, "text": text})
        return await self.next("ack", "error")

    async def next(self, *types: str, timeout: float = 5.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                for i, frame in enumerate(self.frames):
                    if frame["type"] in types:
                        return self.frames.pop(i)
                msg = await self.ws.receive()
                assert msg.type is aiohttp.WSMsgType.TEXT, msg
                self.frames.append(json.loads(msg.data))


@pytest.fixture
async def connect(desk: Desk) -> AsyncIterator[Callable[[], Awaitable[Patron]]]:
    session = aiohttp.ClientSession()
    opened: list[Patron] = []

    async def open_patron() -> Patron:
        ws = await session.ws_connect(f"{desk.bridge.url}/widget/ws",
                                      headers={"User-Agent": "Mozilla/5.0 (Linux; Android 14) "
                                               "Chrome/156.0 Mobile Safari/537.36"})
        patron = Patron(session, ws)
        opened.append(patron)
        return patron

    yield open_patron
    for patron in opened:
        await patron.ws.close()
    await session.close()


async def test_patron_message_opens_a_topic_with_info_card(desk: Desk, connect: Any) -> None:
    """A patron's first message opens one topic named after them, with the info card first."""
    patron = await connect()
    await patron.hello()
    ack = await patron.send("Do you have <b>Laskar Pelangi</b>?", "c1")
    assert ack["type"] == "ack" and ack["message"]["text"] == "Do you have <b>Laskar Pelangi</b>?"
    topics = await eventually(desk.topics)
    assert len(topics) == 1 and topics[0]["name"].endswith("· Web chat")
    thread = topics[0]["message_thread_id"]
    texts = await eventually(lambda: [m.get("text", "") for m in
                                      desk.emulator.messages(desk.group, thread)][1:])
    card = texts[-1]  # the card and the first message travel as one post
    assert "New conversation" in card and "Catalogue" in card
    assert "Chrome 156 on Android 14 (phone)" in card
    assert "Asia/Jakarta" in card and "Language: Indonesian (Bahasa Indonesia, id)" in card
    assert card.endswith("\n\nDo you have <b>Laskar Pelangi</b>?")  # escaped: arrives as text


async def test_librarian_reply_reaches_the_widget_and_claims(desk: Desk, connect: Any) -> None:
    """The first librarian reply shows in the widget with their name and claims the chat."""
    patron = await connect()
    await patron.hello()
    await patron.send("Jam buka hari Sabtu?", "c1")
    topic = (await eventually(desk.topics))[0]["message_thread_id"]
    await eventually(lambda: "Jam buka hari Sabtu?" in desk.texts(topic))
    desk.emulator.user_sends(desk.group, desk.librarian, "Sabtu buka 09.00–14.00",
                             message_thread_id=topic)
    claimed = await patron.next("message")
    reply = await patron.next("message")
    assert claimed["message"]["event"] == "claimed"
    assert claimed["message"]["author"] == "Sari Dewi"
    assert reply["message"]["text"] == "Sabtu buka 09.00–14.00"
    assert reply["message"]["author"] == "Sari Dewi"
    await eventually(lambda: any("Sari Dewi is answering" in t for t in desk.texts(topic)))


async def test_later_messages_land_in_the_same_topic(desk: Desk, connect: Any) -> None:
    """Every message of one patron goes to the one topic of their conversation."""
    patron = await connect()
    await patron.hello()
    for i in range(3):
        await patron.send(f"question {i}", f"c{i}")
    topic = (await eventually(desk.topics))[0]["message_thread_id"]
    await eventually(lambda: "question 2" in desk.texts(topic))
    assert len(desk.topics()) == 1
    assert [t for t in desk.texts(topic) if t.startswith("question")] == [
        "question 0", "question 1", "question 2"]


async def test_reconnect_keeps_history_and_resend_is_not_doubled(
    desk: Desk, connect: Any
) -> None:
    """A returning browser sees its history, and resending an un-acked cid doubles nothing."""
    first = await connect()
    await first.hello()
    ack = await first.send("first question", "same-cid")
    await first.ws.close()
    again = await connect()
    welcome = await again.hello(token=first.token)
    assert [m["text"] for m in welcome["history"]] == ["first question"]
    dup = await again.send("first question", "same-cid")
    assert dup["message"]["id"] == ack["message"]["id"]
    topic = (await eventually(desk.topics))[0]["message_thread_id"]
    await again.send("second question", "next-cid")  # the desk gets it after any double
    await eventually(lambda: "second question" in desk.texts(topic))
    assert desk.texts(topic).count("first question") == 1
    since = await (await connect()).hello(token=first.token, since=ack["message"]["id"])
    assert [m["text"] for m in since["history"]] == ["second question"]


async def test_a_second_visitor_cannot_see_the_first(desk: Desk, connect: Any) -> None:
    """Two browsers are two conversations; neither sees the other's messages."""
    one, two = await connect(), await connect()
    await one.hello()
    await two.hello()
    await one.send("private question", "a")
    await two.send("other question", "b")
    welcome = await (await connect()).hello(token=two.token)
    assert [m["text"] for m in welcome["history"]] == ["other question"]
    assert len(await eventually(lambda: len(desk.topics()) == 2 and desk.topics())) == 2


async def test_forged_token_is_refused_and_socket_survives(desk: Desk, connect: Any) -> None:
    """A forged token gets a bad_token error; the same socket can then start afresh."""
    patron = await connect()
    await patron.hello()
    forged = patron.token.rsplit(".", 1)[0] + ".00000000000000000000000000000000"
    error = await patron.hello(token=forged)
    assert error == {"type": "error", "code": "bad_token", "message": error["message"]}
    fresh = await patron.hello()
    assert fresh["type"] == "welcome" and fresh["token"] != forged


@pytest.mark.parametrize("frame,code", [
    ("not json", "bad_frame"),
    ("[1,2]", "bad_frame"),
    ('{"type": "send", "cid": "x", "text": "hi"}', "no_hello"),
    ('{"type": "mystery"}', "bad_frame"),
    ("x" * 20_000, "too_big"),
])
async def test_malformed_frames_get_errors_and_socket_survives(
    desk: Desk, connect: Any, frame: str, code: str
) -> None:
    """Garbage gets an error frame naming what is wrong, and the socket keeps working."""
    patron = await connect()
    if code != "no_hello":
        await patron.hello()
    await patron.ws.send_str(frame)
    error = await patron.next("error")
    assert error["code"] == code and error["message"]
    await patron.ws.send_json({"type": "ping"})
    assert (await patron.next("pong"))["type"] == "pong"


async def test_too_long_and_empty_messages_are_refused(desk: Desk, connect: Any) -> None:
    """Over-limit and empty texts are refused with a reason, and nothing reaches the desk."""
    patron = await connect()
    await patron.hello()
    too_long = await patron.send("x" * 4001, "long")
    assert too_long["code"] == "too_long" and "4000" in too_long["message"]
    assert too_long["cid"] == "long"
    empty = await patron.send("   ", "empty")
    assert empty["code"] == "empty"
    await patron.send("a real question", "real")  # opens the topic the refused ones did not
    [topic] = await eventually(desk.topics)
    texts = await eventually(lambda: "a real question" in desk.texts(topic["message_thread_id"])
                             and desk.texts(topic["message_thread_id"]))
    assert [t for t in texts if t] == ["a real question"]  # '' is the topic's own post


async def test_update_from_a_foreign_chat_changes_nothing(desk: Desk, connect: Any) -> None:
    """Someone writing to the bot from another group never reaches a patron."""
    patron = await connect()
    await patron.hello()
    await patron.send("hello", "c1")
    topic = (await eventually(desk.topics))[0]["message_thread_id"]
    other_group = desk.emulator.create_group("Other group", forum=True)
    stranger = desk.emulator.add_user("Mallory")
    desk.emulator.add_member(other_group, stranger)
    desk.emulator.user_sends(other_group, stranger, "you are hacked", message_thread_id=None)
    desk.emulator.user_sends(stranger, stranger, "private hello")
    desk.emulator.user_sends(desk.group, desk.librarian, "real answer", message_thread_id=topic)
    reply = await patron.next("message")
    while reply["message"]["event"]:
        reply = await patron.next("message")
    assert reply["message"]["text"] == "real answer"


async def test_deleted_topic_is_recreated(desk: Desk, connect: Any) -> None:
    """A topic deleted by hand gets a new one on the next message, not a crash."""
    patron = await connect()
    await patron.hello()
    await patron.send("one", "c1")
    first = (await eventually(desk.topics))[0]["message_thread_id"]
    await eventually(lambda: "one" in desk.texts(first))
    desk.emulator.delete_topic(desk.group, first)
    await patron.send("two", "c2")
    second = await eventually(
        lambda: [t["message_thread_id"] for t in desk.topics()
                 if t["message_thread_id"] != first])
    await eventually(lambda: "two" in desk.texts(second[0]))
    desk.emulator.user_sends(desk.group, desk.librarian, "found you", message_thread_id=second[0])
    texts = []
    while "found you" not in texts:
        texts.append((await patron.next("message"))["message"]["text"])

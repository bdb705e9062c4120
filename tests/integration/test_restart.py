"""A restart loses nothing and repeats nothing: update offsets and the outbox are durable."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from adapters.telegram.emulator import BotApiEmulator
from bridge.app import Bridge
from bridge.config import load_config
from tests.eventually import eventually

TOKEN = "123456:RESTART-test"


@pytest.fixture
async def emulator() -> AsyncIterator[tuple[BotApiEmulator, str]]:
    emulator = BotApiEmulator(rate_limits=False, bot_token=TOKEN)
    api_url = await emulator.start("127.0.0.1", 0)
    yield emulator, api_url
    await emulator.stop()


def make_bridge(api_url: str, group: int, data_dir: Path) -> Bridge:
    config = load_config(
        None, env={"PUSTAKA_TELEGRAM_TOKEN": TOKEN, "PUSTAKA_SECRET": "s" * 32},
        server={"port": 0}, storage={"data_dir": str(data_dir)},
        telegram={"group_id": group, "api_url": api_url, "poll_timeout": 1},
    )
    return Bridge(config)


async def texts(session: aiohttp.ClientSession, url: str, token: str,
                say: str | None = None) -> list[str]:
    """What the patron's widget shows after a reload (having written ``say`` first)."""
    async with session.ws_connect(f"{url}/widget/ws") as ws:
        await ws.send_json({"type": "hello", "token": token})
        welcome = json.loads((await ws.receive()).data)
        if say is not None:
            await ws.send_json({"type": "send", "cid": say, "text": say})
            while json.loads((await ws.receive(timeout=10)).data)["type"] != "ack":
                pass  # a queue update or a live reply may come first
        return [m["text"] for m in welcome["history"]]


def topic_texts(emulator: BotApiEmulator, group: int, topic: int) -> list[str]:
    return [m.get("text", "") for m in emulator.messages(group, topic)]


async def test_reply_written_while_down_arrives_once_after_restart(
    emulator: tuple[BotApiEmulator, str], tmp_path: Path
) -> None:
    """A librarian reply written while the bridge is down reaches the patron once, and the
    next restart neither repeats it nor re-sends the patron's question to the desk."""
    emulator, api_url = emulator
    group = emulator.seed_demo_desk()
    librarian = emulator.add_user("Budi")
    emulator.add_member(group, librarian)
    bridge = make_bridge(api_url, group, tmp_path)
    url = await bridge.start()
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"{url}/widget/ws") as ws:
            await ws.send_json({"type": "hello", "token": None})
            token = json.loads((await ws.receive()).data)["token"]
            await ws.send_json({"type": "send", "cid": "q1", "text": "Is the library open?"})
            assert json.loads((await ws.receive()).data)["type"] == "ack"
        topic = (await eventually(lambda: emulator.topics(group)))[0]["message_thread_id"]
        await eventually(lambda: any(m.get("text", "").endswith("Is the library open?")
                                     for m in emulator.messages(group, topic)))
        await bridge.stop()

        emulator.user_sends(group, librarian, "Yes, until 8 pm", message_thread_id=topic)

        for run in range(2):
            bridge = make_bridge(api_url, group, tmp_path)
            url = await bridge.start()

            async def replied(url: str = url) -> bool:
                return "Yes, until 8 pm" in await texts(session, url, token)

            await eventually(replied)
            # Later messages each way: a repeated update or re-sent question would come
            # before them in its conversation's order, so their arrival proves there was none.
            emulator.user_sends(group, librarian, f"Anything else? {run}",
                                message_thread_id=topic)
            thanks = f"thanks {run}"
            await texts(session, url, token, say=thanks)
            await eventually(lambda t=thanks: any(x.endswith(t) for x in topic_texts(
                emulator, group, topic)))

            async def asked(url: str = url, run: int = run) -> list[str] | None:
                history = await texts(session, url, token)
                return history if f"Anything else? {run}" in history else None

            history = await eventually(asked)
            assert history.count("Yes, until 8 pm") == 1
            assert history.count("Is the library open?") == 1
            await bridge.stop()
    questions = [m for m in emulator.messages(group, topic)
                 if m.get("text", "").endswith("Is the library open?")]
    assert len(questions) == 1
    assert len(emulator.topics(group)) == 1

"""A desk group without topics still works: librarians answer by replying to a message."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp

from adapters.telegram.emulator import BotApiEmulator
from bridge.app import Bridge
from bridge.config import load_config
from tests.eventually import eventually

TOKEN = "123456:PLAIN-group"


async def test_reply_to_a_forwarded_message_reaches_its_patron(tmp_path: Path) -> None:
    """In a group without topics each patron's messages carry their name, and a librarian's
    reply to one of them goes to that patron only."""
    emulator = BotApiEmulator(rate_limits=False, bot_token=TOKEN)
    api_url = await emulator.start("127.0.0.1", 0)
    group = emulator.create_group("Reference desk", forum=False)
    librarian = emulator.add_user("Ayu")
    emulator.add_member(group, librarian)
    config = load_config(
        None, env={"PUSTAKA_TELEGRAM_TOKEN": TOKEN, "PUSTAKA_SECRET": "s" * 32},
        server={"port": 0}, storage={"data_dir": str(tmp_path)},
        telegram={"group_id": group, "api_url": api_url, "poll_timeout": 1},
    )
    bridge = Bridge(config)
    url = await bridge.start()
    try:
        async with aiohttp.ClientSession() as session:
            sockets, tokens = [], []
            for text in ("question from one", "question from two"):
                ws = await session.ws_connect(f"{url}/widget/ws")
                await ws.send_json({"type": "hello", "token": None})
                tokens.append(json.loads((await ws.receive()).data)["token"])
                await ws.send_json({"type": "profile", "name": text.split()[-1].title(),
                                    "email": ""})
                await ws.receive()
                await ws.send_json({"type": "send", "cid": "c", "text": text})
                assert json.loads((await ws.receive()).data)["type"] == "ack"
                sockets.append(ws)
            forwarded = await eventually(lambda: [
                m for m in emulator.messages(group) if "question from two" in m.get("text", "")])
            assert "\n\nTwo [#" in forwarded[0]["text"]
            assert "Reply to this message" in forwarded[0]["text"]
            assert emulator.topics(group) == []
            emulator.user_sends(group, librarian, "answer for two",
                                reply_to_message_id=forwarded[0]["message_id"])
            frames = []
            async with asyncio.timeout(5):
                while not any(f["message"]["text"] == "answer for two" for f in frames):
                    frames.append(json.loads((await sockets[1].receive()).data))
            assert all(f["message"]["author"] == "Ayu" for f in frames)
            for ws in sockets:
                await ws.close()
            async with session.ws_connect(f"{url}/widget/ws") as ws:
                await ws.send_json({"type": "hello", "token": tokens[0]})
                history = json.loads((await ws.receive()).data)["history"]
            assert [m["text"] for m in history] == ["question from one"]
    finally:
        await bridge.stop()
        await emulator.stop()

"""A real run's log lines name the conversation, channel and patron, and never the text."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters.telegram.emulator import BotApiEmulator, FaultPlan
from bridge import logs
from bridge.demo import demo_bridge
from tests.eventually import eventually

ROOT = str(Path(__file__).resolve().parents[2])
QUESTION = "Is Laskar Pelangi on the shelf? My card is 0042-7781"
ANSWER = "Yes, shelf 813 PEL"
TOKEN = "7012345678:AAHk3v_Q9xY2zRtLmNpQ-8sUvWxYz012345"


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The bridge's own log setup in JSON at INFO, written to a buffer."""
    out = io.StringIO()
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    quiet = {name: logging.getLogger(name).level for name in logs._QUIET}
    handler = logs.configure("json", stream=out)
    for other in handlers:  # pytest's capture handlers would only repeat the lines
        root.removeHandler(other)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        for other in handlers:
            root.addHandler(other)
        root.setLevel(level)
        for name, was in quiet.items():  # configure() quietens these; later tests want all
            logging.getLogger(name).setLevel(was)


def lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


async def test_a_real_run_logs_ids_in_json_and_no_message_text(
        tmp_path: Path, json_log: io.StringIO) -> None:
    """A patron's question (its first send to the desk failing once) and a librarian's
    answer: every line is JSON; the intake and the failed attempt name the conversation,
    its channel and patron; no line carries either message's text."""
    bridge, emulator, _ = await demo_bridge(
        "127.0.0.1", 0, tmp_path, rate_limits=False, desk_port=0,
        overrides={"outbox": {"backoff_base": 0.05, "backoff_cap": 0.1}})
    group = bridge.config.telegram.group_id
    librarian = emulator.add_user("Sari")
    emulator.add_member(group, librarian)
    emulator.set_faults(FaultPlan(server_error=1.0))
    try:
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(f"{bridge.url}/widget/ws")
            await ws.send_json({"type": "hello", "token": None})
            assert (await ws.receive_json())["type"] == "welcome"
            await ws.send_json({"type": "send", "cid": "c1", "text": QUESTION})
            assert (await ws.receive_json())["type"] == "ack"
            [conversation] = await bridge.store.conversations()
            await eventually(lambda: emulator.stats["faults"]["server_error"] > 0)
            emulator.clear_faults()
            topic = (await eventually(lambda: emulator.topics(group)))[0]
            emulator.user_sends(group, librarian, ANSWER,
                                message_thread_id=topic["message_thread_id"])
            async with asyncio.timeout(10):
                while (await ws.receive_json()).get("message", {}).get("text") != ANSWER:
                    pass
            await ws.close()
    finally:
        await bridge.stop()
        await emulator.stop()
    found = lines(json_log)
    about = {"conversation_id": conversation.id, "patron_id": conversation.patron_id}
    opened = [line for line in found if line["event"] == "new conversation"]
    assert opened == [opened[0]] and opened[0] | about | {"channel": "widget"} == opened[0]
    retried = [line for line in found if "attempt 1 failed" in line["event"]]
    assert retried and retried[0] | about | {"channel": "desk"} == retried[0], found
    assert all(line["level"] in {"INFO", "WARNING", "ERROR"} for line in found)
    text = json_log.getvalue()
    assert QUESTION not in text and "0042-7781" not in text and ANSWER not in text


def test_one_line_keeps_its_ids_apart_from_the_next_scope(json_log: io.StringIO) -> None:
    """Ids bound in a scope label its lines only; third-party loggers get them too."""
    from routing import logctx

    with logctx.scope(conversation_id="c-1", channel="email", patron_id="p-1"):
        logging.getLogger("aiohttp.client").warning("slow %s", "server")
    logging.getLogger("aiohttp.client").warning("after")
    first, second = lines(json_log)
    assert first["event"] == "slow server" and first["logger"] == "aiohttp.client"
    assert (first["conversation_id"], first["channel"], first["patron_id"]) == (
        "c-1", "email", "p-1")
    assert "conversation_id" not in second and second["level"] == "WARNING"


async def test_log_format_json_from_the_config_file(tmp_path: Path) -> None:
    """`pustaka -v check` with ``[log] format = "json"``: every log line is JSON, DEBUG
    included, and the bot token is in none of them."""
    emulator = BotApiEmulator(rate_limits=False, bot_token=TOKEN)
    url = await emulator.start("127.0.0.1", 0)
    try:
        group = emulator.seed_demo_desk()
        config = tmp_path / "pustaka.toml"
        config.write_text(f'[telegram]\ngroup_id = {group}\napi_url = "{url}"\n'
                          '[log]\nformat = "json"\n')
        env = {**os.environ, "PUSTAKA_TELEGRAM_TOKEN": TOKEN, "PYTHONPATH": ROOT}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bridge.cli", "-v", "check", "--config", str(config),
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(process.communicate(), 60)
    finally:
        await emulator.stop()
    assert process.returncode == 0, (out + err).decode()
    found = [json.loads(line) for line in err.decode().splitlines()]
    assert any(line["level"] == "DEBUG" and line["logger"].startswith("telegram")
               for line in found), found[:5]
    assert TOKEN not in err.decode() and TOKEN not in out.decode()
    assert "✓" in out.decode()


def test_log_flag_refuses_an_unknown_format(capsys: pytest.CaptureFixture[str]) -> None:
    """`--log-format xml` is an argument error naming the choices."""
    from bridge.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["--log-format", "xml", "init", "/nonexistent/x.toml"])
    assert exit_.value.code == 2
    assert "console" in capsys.readouterr().err

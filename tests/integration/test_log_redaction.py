"""The bot token never reaches a log line, whichever library logs it, at any level."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.telegram.emulator import BotApiEmulator
from bridge.demo import DEMO_TOKEN, demo_bridge
from bridge.redact import MASK, redact_secrets

# Shaped like a real token from BotFather, so the shape rule is tried as well as the value.
ROOT = str(Path(__file__).resolve().parents[2])
TOKEN = "7012345678:AAHk3v_Q9xY2zRtLmNpQ-8sUvWxYz012345"


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    """Everything logged at DEBUG, through a handler as `pustaka -v` sets one up."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_a_debug_run_of_the_bridge_logs_no_token(tmp_path: Path,
                                                       debug_log: io.StringIO) -> None:
    """A real start and stop at DEBUG (PTB logs its API URL) writes the token nowhere."""
    bridge, emulator, _ = await demo_bridge("127.0.0.1", 0, tmp_path / "data",
                                            rate_limits=False, desk_port=0)
    try:
        await bridge.bot.get_me()
        try:  # a traceback whose text carries the URL
            raise ConnectionError(f"{bridge.config.telegram.api_url}/bot{DEMO_TOKEN}/getMe")
        except ConnectionError:
            logging.getLogger("aiohttp.client").exception("request failed")
        logging.getLogger("httpx").debug("HTTP Request: POST %s", f"/bot{TOKEN}/getUpdates")
    finally:
        await bridge.stop()
        await emulator.stop()
    text = debug_log.getvalue()
    assert "Set Bot API URL" in text and "ConnectionError" in text, text[:2000]
    assert DEMO_TOKEN not in text and TOKEN not in text
    assert f"/bot{MASK}/getMe" in text and f"/bot{MASK}/getUpdates" in text


def test_short_or_empty_secrets_blank_nothing(debug_log: io.StringIO) -> None:
    """An empty or tiny password is not taken as a secret, so ordinary words survive."""
    redact_secrets("", None, "x", "hunter2-but-longer")
    logging.getLogger("bridge.test").info("x marks hunter2-but-longer and %s", "more")
    assert f"INFO bridge.test: x marks {MASK} and more\n" in debug_log.getvalue()


async def test_pustaka_check_with_v_prints_no_token(tmp_path: Path) -> None:
    """`pustaka -v check` against the emulator, output captured: no token in it."""
    emulator = BotApiEmulator(rate_limits=False, bot_token=TOKEN)
    url = await emulator.start("127.0.0.1", 0)
    try:
        group = emulator.seed_demo_desk()
        config = tmp_path / "pustaka.toml"
        config.write_text(f'[telegram]\ngroup_id = {group}\napi_url = "{url}"\n')
        env = {**os.environ, "PUSTAKA_TELEGRAM_TOKEN": TOKEN,
               "PYTHONPATH": ROOT}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bridge.cli", "-v", "check", "--config", str(config),
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        output, _ = await asyncio.wait_for(process.communicate(), 60)
    finally:
        await emulator.stop()
    text = output.decode()
    assert process.returncode == 0, text
    assert "DEBUG" in text and MASK in text, text
    assert TOKEN not in text and TOKEN.split(":")[1] not in text

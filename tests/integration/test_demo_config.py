"""`pustaka demo --config FILE` and PUSTAKA_* variables: a library sees its own settings
in the demo, while the desk stays the demo's emulated one."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from bridge.config import ConfigError
from bridge.demo import DEMO_TOKEN, demo_bridge

ROOT = str(Path(__file__).resolve().parents[2])

LIBRARY_TOML = """
[library]
name = "Bibliotheca Test"

[widget]
colour = "#7a1f5c"
greeting_en = "Welcome to Bibliotheca Test, ask away."
allowed_origins = ["https://library.example"]

[hours]
mon = "closed"
tue = "closed"
wed = "closed"
thu = "closed"
fri = "closed"
sat = "closed"
sun = "closed"

[telegram]
group_id = -100999
"""


async def fetch(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


def loader_branding(loader: str) -> dict[str, object]:
    found = re.search(r"const CHAT = (.*);\n", loader)
    assert found, "the loader carries the chat's branding"
    branding: dict[str, object] = json.loads(found.group(1))
    return branding


@pytest.mark.asyncio
async def test_the_demo_shows_the_librarys_colour_greeting_and_hours(tmp_path: Path) -> None:
    """A config file's colour, greeting, name and hours reach /widget/config and the
    loader; its telegram group is replaced by the demo desk's, and the demo says so."""
    path = tmp_path / "pustaka.toml"
    path.write_text(LIBRARY_TOML)
    notes: list[str] = []
    bridge, emulator, _ = await demo_bridge("127.0.0.1", 0, tmp_path / "data", desk_port=0,
                                            rate_limits=False, config_path=path, notes=notes)
    try:
        status, body = await fetch(bridge.url + "/widget/config")
        assert status == 200
        config = json.loads(body)
        assert config["colour"] == "#7a1f5c"
        assert config["library"] == "Bibliotheca Test"
        assert config["greeting"]["en"] == "Welcome to Bibliotheca Test, ask away."
        assert config["availability"]["staffed"] is False
        _, loader = await fetch(bridge.url + "/widget.js")
        assert "#7a1f5c" in loader
        assert bridge.config.telegram.group_id != -100999
        assert bridge.config.telegram_token == DEMO_TOKEN
        assert bridge.config.widget.allowed_origins == []  # the sample page may embed it
        assert any("Telegram token and group" in note for note in notes)
        assert any("allowed_origins" in note for note in notes)
    finally:
        await bridge.stop()
        await emulator.stop()


@pytest.mark.asyncio
async def test_pustaka_variables_are_honoured_by_the_demo(tmp_path: Path) -> None:
    """PUSTAKA_WIDGET_COLOUR in the environment sets the demo's colour, as it does for
    `pustaka run`; a real token in the environment is not used."""
    env = {"PUSTAKA_WIDGET_COLOUR": "#114477", "PUSTAKA_TELEGRAM_TOKEN": "999:REAL-token"}
    notes: list[str] = []
    bridge, emulator, _ = await demo_bridge("127.0.0.1", 0, tmp_path, desk_port=0,
                                            rate_limits=False, env=env, notes=notes)
    try:
        _, body = await fetch(bridge.url + "/widget/config")
        assert json.loads(body)["colour"] == "#114477"
        _, loader = await fetch(bridge.url + "/widget.js")
        assert "#114477" in loader
        assert bridge.config.telegram_token == DEMO_TOKEN
        assert bridge.config.library.name == "Perpustakaan Kota Pustaka"  # the sample's
        assert any("Telegram token and group" in note for note in notes)
    finally:
        await bridge.stop()
        await emulator.stop()


@pytest.mark.asyncio
async def test_an_unknown_key_fails_as_in_pustaka_run(tmp_path: Path) -> None:
    """A typo in the library's file is the same clear ConfigError, naming file and key."""
    path = tmp_path / "pustaka.toml"
    path.write_text('[widget]\ncolor = "#7a1f5c"\n')
    with pytest.raises(ConfigError, match="color") as demo_error:
        await demo_bridge("127.0.0.1", 0, tmp_path, desk_port=0, rate_limits=False,
                          config_path=path)
    assert str(path) in str(demo_error.value)


def pustaka(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command in its own process: its umask and logging stay its own."""
    env = {**os.environ, "PYTHONPATH": ROOT}
    return subprocess.run([sys.executable, "-m", "bridge.cli", *args], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_the_cli_reports_a_bad_demo_config_like_run(tmp_path: Path) -> None:
    """`pustaka demo --config` with an unknown key exits 2 with run's message."""
    path = tmp_path / "pustaka.toml"
    path.write_text('[widget]\ncolor = "#7a1f5c"\n')
    run = pustaka("run", "--config", str(path))
    demo = pustaka("demo", "--port", "0", "--data-dir", str(tmp_path / "d"),
                   "--config", str(path))
    assert run.returncode == demo.returncode == 2
    assert "color" in run.stderr and run.stderr.splitlines()[-1] == demo.stderr.splitlines()[-1]

"""Behind a proxy the bridge does not trust, every patron seems to come from one address:
the bridge says so when it starts and in `pustaka check`, before an IP block or a
per-address limit hits every patron at once."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from adapters.telegram.emulator import BotApiEmulator
from bridge.check import check_addresses, recent_conversations
from bridge.cli import _check
from bridge.config import load_config
from bridge.demo import DEMO_TOKEN, demo_bridge
from bridge.store.sqlite import SqliteStore
from routing.model import Channel, Conversation, PageInfo, Patron

PROXY = "172.18.0.1"  # docker's gateway: what the bridge sees behind the shipped compose


async def _patrons_behind_one_address(data_dir: Path, count: int = 6) -> None:
    store = SqliteStore(data_dir / "pustaka.db")
    await store.open()
    try:
        for n in range(count):
            await store.save_patron(Patron(f"p{n}", created_at=n))
            await store.save_conversation(Conversation(
                f"c{n}", f"p{n}", Channel.WIDGET, page=PageInfo(ip=PROXY),
                created_at=n, updated_at=n))
    finally:
        await store.close()


async def test_start_warns_when_every_patron_shares_one_address(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Six web patrons all from 172.18.0.1 and no trusted proxy: the bridge logs a
    warning at start naming the address and server.trusted_proxies."""
    await _patrons_behind_one_address(tmp_path)
    caplog.set_level(logging.WARNING, logger="bridge.app")
    bridge, emulator, _ = await demo_bridge("127.0.0.1", 0, tmp_path, rate_limits=False,
                                            desk_port=0)
    try:
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any(PROXY in w and "server.trusted_proxies" in w for w in warnings), warnings
    finally:
        await bridge.stop()
        await emulator.stop()


async def test_pustaka_check_names_the_proxy(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`pustaka check` fails with a sentence naming the one address and the key to set,
    next to the desk checks that pass."""
    await _patrons_behind_one_address(tmp_path)
    emulator = BotApiEmulator(rate_limits=False, bot_token=DEMO_TOKEN)
    api = await emulator.start("127.0.0.1", 0)
    try:
        config = load_config(None, env={"PUSTAKA_TELEGRAM_TOKEN": DEMO_TOKEN},
                             telegram={"group_id": emulator.seed_demo_desk(), "api_url": api},
                             storage={"data_dir": str(tmp_path)})
        assert await _check(config) == 1
    finally:
        await emulator.stop()
    printed = capsys.readouterr().out.splitlines()
    assert any(line.startswith("✓ The token works") for line in printed)
    [proxy] = [line for line in printed if PROXY in line]
    assert proxy.startswith("✗ All of the last 6 web patrons") and "trusted_proxies" in proxy


async def test_addresses_of_a_sound_setup(tmp_path: Path) -> None:
    """No database yet is no finding against the setup (and none is created); an https
    public_url with no trusted proxy is named; a trusted proxy passing the patron's
    address on passes."""
    assert await recent_conversations(tmp_path / "pustaka.db") == []
    assert not (tmp_path / "pustaka.db").exists()
    [tls] = check_addresses("https://chat.library.example", [], [])
    assert not tls.ok and "server.trusted_proxies" in tls.sentence
    own = [Conversation(f"c{n}", f"p{n}", Channel.WIDGET, page=PageInfo(ip=f"203.0.113.{n}"))
           for n in range(6)]
    assert [f.ok for f in check_addresses("https://chat.library.example", [PROXY], own)] == [
        True]


def test_the_shipped_compose_trusts_the_proxy_it_puts_in_front() -> None:
    """deploy/compose.yaml trusts exactly its own network's gateway (where host nginx's
    connections come from), so the patron's address reaches the bridge."""
    text = (Path(__file__).parents[2] / "deploy" / "compose.yaml").read_text()
    trusted = re.search(r'PUSTAKA_SERVER_TRUSTED_PROXIES:\s*"([^"]+)"', text)
    gateway = re.search(r"gateway:\s*(\S+)", text)
    assert trusted is not None and gateway is not None
    assert trusted.group(1) == gateway.group(1)

"""bootstrap.build wires without starting anything and keeps what it was handed apart
from what it opened; Bridge starts the loops build lists and stops every one of them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.telegram.emulator import BotApiEmulator
from bridge.app import Bridge
from bridge.bootstrap import build
from bridge.config import Config, load_config
from bridge.store.sqlite import SqliteStore
from tests.eventually import JumpClock

TOKEN = "777777:BOOTSTRAP-test"


@pytest.fixture
async def config(tmp_path: Path) -> AsyncIterator[Config]:
    emulator = BotApiEmulator(rate_limits=False, bot_token=TOKEN)
    api = await emulator.start("127.0.0.1", 0)
    group = emulator.seed_demo_desk()
    yield load_config(None, env={"PUSTAKA_TELEGRAM_TOKEN": TOKEN, "PUSTAKA_SECRET": "b" * 32},
                      server={"port": 0}, storage={"data_dir": str(tmp_path)},
                      telegram={"group_id": group, "api_url": api, "poll_timeout": 1})
    await emulator.stop()


def loops() -> set[str]:
    return {t.get_name() for t in asyncio.all_tasks() if not t.done()}


async def test_build_starts_nothing_and_leaves_a_handed_in_store_open(
        config: Config, tmp_path: Path) -> None:
    """The parts come back wired to the store and clock handed in, no loop runs, and
    closing the parts leaves the caller's store open."""
    store = SqliteStore(tmp_path / "mine.db")
    await store.open()
    clock = JumpClock()
    parts = await build(config, store=store, clock=clock, sleep=clock.sleep)
    try:
        assert parts.store is store and parts.clock is clock
        assert not loops() & set(parts.runners())
        assert set(parts.runners()) == {"outbox", "desk-poller", "widget-queue", "reminders",
                                       "retention", "report-rollup"}
    finally:
        await parts.close()
    await store.set_state("still", "open")  # the caller's store was not closed
    assert await store.get_state("still") == "open"
    await store.close()


async def test_bridge_runs_the_loops_build_lists_and_stop_ends_them(config: Config) -> None:
    """Started, every loop build lists runs under its name; stopped, none is left."""
    bridge = Bridge(config)
    await bridge.start()
    names = set(bridge.parts.runners())
    try:
        assert names <= loops()
    finally:
        await bridge.stop()
    assert not names & loops()

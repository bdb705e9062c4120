"""A burst of widget patrons into one desk group with Telegram's limits on.

Scaled to run in seconds (tests/bench/delivery_rig.py explains the scaling): 60 patrons
send 10 messages each within one Telegram minute, and the emulator's clock and the
bridge's group window both run 20 times fast, so the group takes 20 posts per 3 real
seconds. The full-size run at Telegram's own speed is tests/bench/bench_delivery.py.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.telegram.emulator import BotApiEmulator
from bridge.app import Bridge
from tests.bench.delivery_rig import (
    Census,
    Patron,
    census,
    close_patrons,
    open_patrons,
    send_burst,
    start_bridge,
    start_emulator,
)

SPEED = 20.0
PATRONS = 60
MESSAGES = 10


class Rig:
    def __init__(self, emulator: BotApiEmulator, group: int, bridge: Bridge) -> None:
        self.emulator, self.group, self.bridge = emulator, group, bridge
        self.sent: dict[int, list[str]] = {}


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    emulator, url, group, _ = await start_emulator(SPEED)
    bridge = await start_bridge(url, group, tmp_path, speed=SPEED)
    try:
        yield Rig(emulator, group, bridge)
    finally:
        await bridge.stop()
        await emulator.stop()


async def burst(rig: Rig, minute: float, seed: int = 1, count: int = PATRONS) -> list[Patron]:
    """Every patron sends its messages spread over ``minute`` real seconds, in order."""
    patrons = await open_patrons(rig.bridge.url, count)
    await send_burst(patrons, rig.sent, minute=minute, messages=MESSAGES,
                     rng=random.Random(seed))
    return patrons


async def drained(rig: Rig, seconds: float) -> Census:
    """The census once every message is in the desk (or when time is up)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        found = census(rig.emulator, rig.group, rig.sent)
        if not found.missing or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.25)


async def close(patrons: list[Patron]) -> None:
    await close_patrons(patrons)


async def test_burst_reaches_every_topic_in_order_without_a_429(rig: Rig) -> None:
    """600 messages from 60 patrons in one (scaled) minute all land in their own topics,
    in order, none twice, and Telegram never had to refuse a send."""
    patrons = await burst(rig, minute=60.0 / SPEED)
    try:
        found = await drained(rig, 45.0)
        assert all(not p.unacked for p in patrons)
    finally:
        await close(patrons)
    assert found.missing == [] and found.delivered == PATRONS * MESSAGES
    assert found.out_of_order == [] and found.split == [] and found.duplicated == 0
    assert len(found.topic_of) == PATRONS
    assert rig.emulator.stats["429"] == 0
    stats = rig.bridge.worker.stats()
    assert stats["coalesced"] > 0 and stats["rate_limited"] == 0

"""The burst again, with Telegram failing one call in ten in every way it can.

Faults (adapters/telegram/emulator/faults.py) strike 10% of the bot's sends, shared
equally by: 429 with retry_after, 500, 502, a timeout, a connection reset, and a
response lost after the message was accepted. Time is scaled as in
test_delivery_burst.py (group window 3 real seconds), with fewer patrons.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.telegram.emulator import FAULT_KINDS, FaultPlan
from tests.bench.delivery_rig import start_bridge, start_emulator
from tests.integration.test_delivery_burst import SPEED, Rig, burst, close, drained

FAULT_SHARE = 0.10


def plan(seed: int) -> FaultPlan:
    each = FAULT_SHARE / len(FAULT_KINDS)
    return FaultPlan(rate_limit=each, server_error=each, bad_gateway=each, timeout=each,
                     reset=each, lost_response=each, retry_after=2, hang_seconds=2.0,
                     seed=seed)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    emulator, url, group, _ = await start_emulator(SPEED)
    bridge = await start_bridge(url, group, tmp_path, speed=SPEED)
    emulator.set_faults(plan(seed=5))
    try:
        yield Rig(emulator, group, bridge)
    finally:
        emulator.clear_faults()
        await bridge.stop()
        await emulator.stop()


async def test_faults_lose_nothing_and_keep_order(rig: Rig) -> None:
    """With 10% of sends failing, every patron message still reaches its topic in order,
    and every copy the far side may have kept twice is counted by the outbox."""
    patrons = await burst(rig, minute=60.0 / SPEED, count=30)
    try:
        found = await drained(rig, 50.0)
    finally:
        await close(patrons)
    faults = rig.emulator.stats["faults"]
    assert sum(faults.values()) > 0
    assert found.missing == [] and found.out_of_order == [] and found.split == []
    stats = rig.bridge.worker.stats()
    assert found.duplicated <= stats["possible_duplicates"]
    assert stats["rate_limited"] == faults["rate_limit"]  # each 429 reached the outbox
    assert rig.emulator.stats["429"] == 0  # the flood limiter itself never refused a send

"""A patron the desk is already talking to goes before a flood of new conversations.

The real bridge and python-telegram-bot against the emulator with Telegram's limits on
(the group window scaled as in test_delivery_burst.py). Forty new conversations queue
for the group's budget, each needing a topic; then patrons whose topics are open write
again. Order is read from the group itself, not from a clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.telegram.emulator import BotApiEmulator
from tests.bench.delivery_rig import (
    Patron,
    census,
    close_patrons,
    open_patrons,
    patron_token,
    start_bridge,
    start_emulator,
)
from tests.bench.desk_census import bot_posts
from tests.eventually import eventually

SPEED = 30.0
NEW = 40
KNOWN = 3


async def acked(patrons: list[Patron], within: float) -> None:
    await eventually(lambda: not any(p.unacked for p in patrons), within=within)


async def delivered(emulator: BotApiEmulator, group: int, sent: dict[int, list[str]],
                    within: float) -> None:
    await eventually(lambda: not census(emulator, group, sent).missing, within=within,
                     every=0.1)


async def opened(emulator: BotApiEmulator, group: int, topics: int, within: float) -> None:
    await eventually(lambda: bot_posts(emulator, group)["topics"] >= topics, within=within)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[tuple[BotApiEmulator, int, str]]:
    emulator, url, group, _ = await start_emulator(SPEED)
    bridge = await start_bridge(url, group, tmp_path, speed=SPEED)
    try:
        yield emulator, group, bridge.url
    finally:
        await bridge.stop()
        await emulator.stop()


def topics_before(emulator: BotApiEmulator, group: int, token: str) -> int | None:
    """How many topics the bot opened in the group before the post holding ``token``."""
    opened = 0
    for message in emulator.messages(group):
        if "forum_topic_created" in message:
            opened += 1
        elif token in message.get("text", ""):
            return opened
    return None


async def test_known_conversations_go_before_new_topics(
        rig: tuple[BotApiEmulator, int, str]) -> None:
    """Messages of three patrons with open topics reach them before the topics of the
    forty conversations queued ahead of them are opened (at most the one being sent
    when they arrived goes first)."""
    emulator, group, url = rig
    known = await open_patrons(url, KNOWN)
    crowd = await open_patrons(url, NEW)
    sent = {p.number: [patron_token(p.number, 0)] for p in known}
    try:
        for patron in known:
            await patron.send("c0", f"{sent[patron.number][0]} do you have this atlas?")
        await delivered(emulator, group, sent, 30)
        for patron in crowd:
            number = KNOWN + patron.number
            sent[number] = [patron_token(number, 0)]
            await patron.send("c0", f"{sent[number][0]} a new question")
        await acked(crowd, 30)
        # Past the first window: the backlog now waits its turn, not a window's leftover.
        await opened(emulator, group, KNOWN + 10, 30)
        opened_then = bot_posts(emulator, group)["topics"]
        for patron in known:
            sent[patron.number].append(patron_token(patron.number, 1))
            await patron.send("c1", f"{sent[patron.number][1]} and the 1998 edition?")
        await acked(known, 30)
        await delivered(emulator, group, sent, 60)
    finally:
        await close_patrons(known)
        await close_patrons(crowd)
    before = [topics_before(emulator, group, sent[p.number][1]) for p in known]
    assert opened_then < KNOWN + NEW // 2
    # The topic they found waiting its moment, and one in flight, at most.
    assert all(b is not None and b <= opened_then + 2 for b in before), (before, opened_then)
    assert bot_posts(emulator, group)["topics"] == KNOWN + NEW
    assert census(emulator, group, sent).ok

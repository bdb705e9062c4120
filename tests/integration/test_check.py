"""`pustaka check` tells a librarian, one sentence each, what is wrong with the desk setup."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Bot

from adapters.telegram.emulator import BotApiEmulator
from bridge.check import check_desk

TOKEN = "123456:CHECK-test"


@pytest.fixture
async def emulator() -> AsyncIterator[tuple[BotApiEmulator, str]]:
    emulator = BotApiEmulator(rate_limits=False, bot_token=TOKEN)
    url = await emulator.start("127.0.0.1", 0)
    yield emulator, url
    await emulator.stop()


def bot(url: str, token: str = TOKEN) -> Bot:
    return Bot(token, base_url=f"{url}/bot", base_file_url=f"{url}/file/bot")


async def findings(url: str, group: int, token: str = TOKEN) -> list[tuple[bool, str]]:
    return [(f.ok, f.sentence) for f in await check_desk(bot(url, token), group)]


async def test_a_correct_setup_passes_every_check(emulator: tuple[BotApiEmulator, str]) -> None:
    """A forum group where the bot is an admin with Manage topics passes every check."""
    emu, url = emulator
    result = await findings(url, emu.seed_demo_desk())
    assert all(ok for ok, _ in result) and len(result) == 4
    assert "@pustaka_bot" in result[0][1]


async def test_a_wrong_token_is_named(emulator: tuple[BotApiEmulator, str]) -> None:
    """A refused token yields one failing sentence that points at the environment variable."""
    emu, url = emulator
    result = await findings(url, emu.seed_demo_desk(), token="999:WRONG")
    assert result == [(False, result[0][1])] and "PUSTAKA_TELEGRAM_TOKEN" in result[0][1]


async def test_an_unknown_group_is_named(emulator: tuple[BotApiEmulator, str]) -> None:
    """A group the bot cannot see says to add the bot and check the id."""
    _, url = emulator
    result = await findings(url, -1009999999999)
    assert result[-1][0] is False and "add the bot to the group" in result[-1][1]


async def test_a_group_without_topics_is_reported(emulator: tuple[BotApiEmulator, str]) -> None:
    """A group without topics is flagged with how to turn them on."""
    emu, url = emulator
    group = emu.create_group("Plain group", forum=False)
    result = await findings(url, group)
    assert (False, next(s for ok, s in result if "Topics" in s)) in result


async def test_missing_manage_topics_right_is_reported(
    emulator: tuple[BotApiEmulator, str]
) -> None:
    """A bot admin without Manage topics is told exactly which right to turn on."""
    emu, url = emulator
    group = emu.seed_demo_desk()
    emu.set_bot_rights(group, can_manage_topics=False)
    result = await findings(url, group)
    assert result[-1] == (False, result[-1][1]) and "'Manage topics'" in result[-1][1]


async def test_an_unreachable_api_is_a_sentence_not_a_traceback() -> None:
    """When Telegram cannot be reached at all, check says so in one sentence."""
    result = await findings("http://127.0.0.1:9", -100123)
    assert result == [(False, result[0][1])] and "Could not reach Telegram" in result[0][1]

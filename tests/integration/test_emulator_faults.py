"""The emulator's injected faults, met by the real python-telegram-bot Bot.

Every fault test runs over both transports, HTTPXRequest and AiohttpRequest, and pins down
what PTB raises and whether Telegram kept the message: what the delivery worker must
tell apart.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from telegram import Bot
from telegram.error import NetworkError, RetryAfter, TimedOut
from telegram.request import BaseRequest, HTTPXRequest

from adapters.telegram.aiohttp_request import AiohttpRequest
from adapters.telegram.emulator import BotApiEmulator, FaultPlan

TOKEN = "123456:TEST"
READ_TIMEOUT = 0.3
TRANSPORTS: dict[str, Callable[[], BaseRequest]] = {
    "httpx": lambda: HTTPXRequest(read_timeout=READ_TIMEOUT),
    "aiohttp": lambda: AiohttpRequest(read_timeout=READ_TIMEOUT),
}


@dataclass
class Rig:
    emulator: BotApiEmulator
    bot: Bot
    group: int

    def texts(self) -> list[str]:
        return [m.get("text", "") for m in self.emulator.messages(self.group)]


@pytest.fixture(params=sorted(TRANSPORTS))
async def rig(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    emulator = BotApiEmulator(rate_limits=False)
    url = await emulator.start()
    group = emulator.seed_demo_desk()
    bot = Bot(TOKEN, base_url=f"{url}/bot", base_file_url=f"{url}/file/bot",
              request=TRANSPORTS[request.param]())
    try:
        async with bot:
            yield Rig(emulator, bot, group)
    finally:
        await emulator.stop()


@pytest.fixture(autouse=True)
def _timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opt in to PTB's coming ``RetryAfter.retry_after`` type instead of its warning."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


class TestEachFault:
    async def test_rate_limit(self, rig: Rig) -> None:
        """rate_limit answers Telegram's 429, PTB raises RetryAfter, nothing is stored."""
        rig.emulator.set_faults(FaultPlan(rate_limit=1.0, retry_after=4))
        with pytest.raises(RetryAfter) as refused:
            await rig.bot.send_message(rig.group, "hello")
        assert refused.value.retry_after == timedelta(seconds=4)
        assert rig.texts() == []
        assert rig.emulator.stats["faults"]["rate_limit"] == 1
        assert rig.emulator.stats["429"] == 0  # the flood limiter refused nothing

    async def test_server_error(self, rig: Rig) -> None:
        """server_error answers 500 JSON; PTB raises a plain NetworkError, nothing is stored."""
        rig.emulator.set_faults(FaultPlan(server_error=1.0))
        with pytest.raises(NetworkError, match=r"^Internal Server Error$") as failed:
            await rig.bot.send_message(rig.group, "hello")
        assert not isinstance(failed.value, TimedOut)
        assert rig.texts() == []
        assert rig.emulator.stats["faults"]["server_error"] == 1

    async def test_bad_gateway(self, rig: Rig) -> None:
        """bad_gateway answers nginx's HTML 502, which PTB reports as NetworkError."""
        rig.emulator.set_faults(FaultPlan(bad_gateway=1.0))
        with pytest.raises(NetworkError, match=r"Bad Gateway \(502\)\. Parsing the server"):
            await rig.bot.send_message(rig.group, "hello")
        assert rig.texts() == []
        assert rig.emulator.stats["faults"]["bad_gateway"] == 1

    async def test_timeout(self, rig: Rig) -> None:
        """timeout holds the call past the read timeout: TimedOut, and it is never stored."""
        rig.emulator.set_faults(FaultPlan(timeout=1.0, hang_seconds=READ_TIMEOUT + 0.2))
        with pytest.raises(TimedOut):
            await rig.bot.send_message(rig.group, "hello")
        await asyncio.sleep(0.3)  # past the hang: the held request was dropped, not processed
        assert rig.texts() == []
        assert rig.emulator.stats["faults"]["timeout"] == 1

    async def test_reset(self, rig: Rig) -> None:
        """reset cuts the connection unanswered: NetworkError, not TimedOut, nothing stored."""
        rig.emulator.set_faults(FaultPlan(reset=1.0))
        with pytest.raises(NetworkError) as failed:
            await rig.bot.send_message(rig.group, "hello")
        assert not isinstance(failed.value, TimedOut)
        assert rig.texts() == []
        assert rig.emulator.stats["faults"]["reset"] == 1

    async def test_lost_response(self, rig: Rig) -> None:
        """lost_response stores the message, then cuts the connection: the client sees failure."""
        rig.emulator.set_faults(FaultPlan(lost_response=1.0))
        with pytest.raises(NetworkError) as failed:
            await rig.bot.send_message(rig.group, "did this arrive?")
        assert not isinstance(failed.value, TimedOut)
        assert rig.texts() == ["did this arrive?"]
        assert rig.emulator.stats["faults"]["lost_response"] == 1
        assert rig.emulator.stats["messages_sent"] == 1


class TestPlan:
    async def test_latency_applies_to_planned_methods_only(self, rig: Rig) -> None:
        """latency slows the plan's methods and leaves others, such as getMe, alone."""
        rig.emulator.set_faults(FaultPlan(latency=0.2))
        started = time.monotonic()
        await rig.bot.get_me()
        assert time.monotonic() - started < 0.15
        started = time.monotonic()
        await rig.bot.send_message(rig.group, "slow")
        assert time.monotonic() - started >= 0.2

    async def test_unplanned_methods_are_untouched(self, rig: Rig) -> None:
        """A plan for sendDocument leaves sendMessage working."""
        rig.emulator.set_faults(FaultPlan(methods=frozenset({"sendDocument"}), reset=1.0))
        await rig.bot.send_message(rig.group, "fine")
        with pytest.raises(NetworkError):
            await rig.bot.send_document(rig.group, b"%PDF", filename="card.pdf")
        assert rig.texts() == ["fine"]

    async def test_seed_makes_faults_reproducible(self, rig: Rig) -> None:
        """The same plan and seed strike the same calls of a sequential run."""

        async def outcomes() -> list[str]:
            rig.emulator.set_faults(FaultPlan(rate_limit=0.3, server_error=0.2, seed=7))
            seen = []
            for n in range(30):
                try:
                    await rig.bot.send_message(rig.group, f"message {n}")
                    seen.append("ok")
                except RetryAfter:
                    seen.append("429")
                except NetworkError:
                    seen.append("500")
            return seen

        first = await outcomes()
        assert await outcomes() == first
        assert {"ok", "429", "500"} <= set(first)
        faults = rig.emulator.stats["faults"]
        assert faults["rate_limit"] == 2 * first.count("429")
        assert faults["server_error"] == 2 * first.count("500")

    async def test_clear_faults_heals(self, rig: Rig) -> None:
        """After clear_faults calls succeed again over the same bot."""
        rig.emulator.set_faults(FaultPlan(server_error=1.0))
        with pytest.raises(NetworkError):
            await rig.bot.send_message(rig.group, "broken")
        rig.emulator.clear_faults()
        assert (await rig.bot.send_message(rig.group, "healed")).text == "healed"

    async def test_faulted_calls_are_logged(self, rig: Rig) -> None:
        """A faulted call still shows in the call log and the per-method call count."""
        rig.emulator.set_faults(FaultPlan(rate_limit=1.0))
        with pytest.raises(RetryAfter):
            await rig.bot.send_message(rig.group, "refused")
        assert rig.emulator.calls[-1] == ("sendMessage",
                                          {"chat_id": str(rig.group), "text": "refused"})
        assert rig.emulator.stats["calls"]["sendMessage"] == 1


class TestLifecycle:
    async def test_stop_releases_held_requests(self) -> None:
        """Stopping the emulator does not wait out a held request's hang_seconds."""
        emulator = BotApiEmulator()
        url = await emulator.start()
        group = emulator.seed_demo_desk()
        emulator.set_faults(FaultPlan(timeout=1.0, hang_seconds=30))
        async with Bot(TOKEN, base_url=f"{url}/bot", request=AiohttpRequest()) as bot:
            call = asyncio.create_task(bot.send_message(group, "held"))
            await asyncio.sleep(0.2)
            started = time.monotonic()
            await emulator.stop()
            assert time.monotonic() - started < 1.0
            with pytest.raises(NetworkError):
                await call

    def test_plan_rejects_impossible_odds(self) -> None:
        """Odds outside [0, 1] or adding up past 1 are refused when the plan is made."""
        with pytest.raises(ValueError, match="add up to at most 1"):
            FaultPlan(reset=0.6, timeout=0.6)
        with pytest.raises(ValueError):
            FaultPlan(rate_limit=-0.1)

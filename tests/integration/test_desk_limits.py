"""The group's flood limit as the emulator counts it, through the real python-telegram-bot
client, the real SQLite store, router and outbox: a post into a deleted topic books the
new topic and its post before making them, and a command's answer in General spends the
outbox's windows and is not lost to a 429.

Time is virtual and shared: the emulator's windows and the outbox's waits run on one
fake clock, which moves only when the outbox waits for its budget.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from telegram import Bot
from telegram._utils.types import ODVInput  # PTB exports it only privately
from telegram.request import BaseRequest, RequestData

from adapters.telegram.aiohttp_request import AiohttpRequest
from adapters.telegram.commands import Asked, DeskCommands
from adapters.telegram.desk import DeskSender, DeskTarget
from adapters.telegram.emulator import BotApiEmulator
from bridge.store.sqlite import SqliteStore
from routing.limits import SendBudget, WindowRule
from routing.model import Channel, Inbound
from routing.outbox import DeliveryWorker
from routing.ports import Sender
from routing.router import Router
from tests.unit.fakes import FakeClock, RecordingSender
from tests.unit.test_budget import fake_sleep

TOKEN = "454545:DESK-limits"
LIMIT = 3  # group messages a minute: small, so a few sends fill the window
SPAN = 60.0
COUNTED = frozenset({"createForumTopic", "sendMessage"})  # what a group's window counts


class TimedRequest(AiohttpRequest):
    """Notes, on the shared clock, each Bot API call Telegram took (answered 200)."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(connection_pool_size=4)
        self.clock = clock
        self.taken: list[tuple[str, float]] = []

    async def do_request(
        self, url: str, method: str, request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        code, body = await super().do_request(url, method, request_data, read_timeout,
                                              write_timeout, connect_timeout, pool_timeout)
        if code == 200:
            self.taken.append((url.rsplit("/", 1)[-1], self.clock.now()))
        return code, body

    def counted(self) -> list[float]:
        return [at for name, at in self.taken if name in COUNTED]


@dataclass
class Desk:
    emulator: BotApiEmulator
    group: int
    clock: FakeClock
    request: TimedRequest
    store: SqliteStore
    router: Router
    worker: DeliveryWorker
    commands: DeskCommands

    def too_many(self) -> int:
        return int(self.emulator.stats["429"])

    def topics(self) -> list[int]:
        return [t["message_thread_id"] for t in self.emulator.topics(self.group)]

    def texts(self, thread: int | None = None) -> list[str]:
        return [m.get("text", "") for m in self.emulator.messages(self.group, thread)]


def most_in_a_window(times: list[float]) -> int:
    """The most sends any window of the group's span holds (the emulator's rule)."""
    return max((sum(1 for x in times if t - SPAN < x <= t) for t in times), default=0)


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    clock = FakeClock()
    emulator = BotApiEmulator(rate_limits=True, bot_token=TOKEN,
                              group_messages_per_minute=LIMIT, clock=clock.now)
    api = await emulator.start()
    group = emulator.create_group("Pustaka Desk")
    store = SqliteStore(tmp_path / "limits.db")
    await store.open()
    request = TimedRequest(clock)
    bot = Bot(TOKEN, base_url=f"{api}/bot", request=request)
    await bot.initialize()
    target = DeskTarget(group, forum=True)
    router = Router(store, clock)
    budget = SendBudget({"bot": WindowRule(30, 1.0), "group": WindowRule(LIMIT, SPAN)})
    senders: dict[Channel, Sender] = {
        Channel.DESK: DeskSender(bot, target, store, topics=router.records),
        Channel.WIDGET: RecordingSender("widget")}  # the patron side: not under test
    worker = DeliveryWorker(store, clock, senders, budget=budget, sleep=fake_sleep(clock))
    commands = DeskCommands(bot, store, router, target, clock=clock, calls=worker)
    try:
        yield Desk(emulator, group, clock, request, store, router, worker, commands)
    finally:
        await bot.shutdown()
        await store.close()
        await emulator.stop()


class TestDeletedTopic:
    async def test_reopening_stays_within_the_groups_limit(self, desk: Desk) -> None:
        """A librarian deleted the topic: the next patron line opens a new one, and the
        topic and its post are booked before they are made, so Telegram never answers
        429 and no window holds more than the group's limit."""
        await desk.router.intake.accept(Inbound(Channel.WIDGET, "visitor-1", "Hello?", name="Sari"))
        await desk.worker.run_until_idle()
        [old] = desk.topics()
        desk.emulator.delete_topic(desk.group, old)

        await desk.router.intake.accept(Inbound(Channel.WIDGET, "visitor-1", "Are you there?"))
        await desk.worker.run_until_idle()

        assert desk.too_many() == 0
        [new] = desk.topics()
        assert new != old
        assert any("Are you there?" in t and "earlier topic was deleted" in t
                   for t in desk.texts(new))
        counted = desk.request.counted()
        assert len(counted) == 4  # two topics, two posts: the post that found none is not
        assert most_in_a_window(counted) <= LIMIT


    async def test_a_reopened_conversation_whose_topic_was_deleted(self, desk: Desk) -> None:
        """A patron writes again after /close, and the closed topic has been deleted: the
        reopening notice opens a new topic (booked first) and the patron's line follows."""
        accepted = await desk.router.intake.accept(Inbound(Channel.WIDGET, "visitor-1", "Hello?"))
        await desk.worker.run_until_idle()
        await desk.router.claims.close(accepted.conversation.id, "id-ana", "Ana")
        await desk.worker.run_until_idle()
        [old] = desk.topics()
        desk.emulator.delete_topic(desk.group, old)

        await desk.router.intake.accept(Inbound(Channel.WIDGET, "visitor-1", "One more thing."))
        await desk.worker.run_until_idle()

        assert desk.too_many() == 0
        [new] = desk.topics()
        assert new != old and any("One more thing." in t for t in desk.texts(new))
        assert desk.worker.stats()["failed"] == 0  # the reopening notice too reached it
        assert most_in_a_window(desk.request.counted()) <= LIMIT


class TestCommandAnswers:
    async def test_an_answer_waits_out_a_429_and_is_not_lost(self, desk: Desk) -> None:
        """The group's window is full from sends this process did not book (another
        process, or the one before a restart): the answer's 429 pauses the group, the
        answer is posted when the pause ends, and the answers after it wait their turn
        instead of earning more 429s."""
        for n in range(LIMIT):  # the previous process's posts, unknown to this budget
            await desk.commands.bot.send_message(desk.group, f"earlier {n}")
        general = Asked("id-ana", "Ana", None, 1, None)

        await desk.commands.say(general, "Nobody is on duty.")
        assert desk.too_many() == 1  # how this process learnt of the full window
        for n in range(LIMIT + 1):
            await desk.commands.say(general, f"Answer {n}.")

        said = [t for t in desk.texts() if t.startswith(("Nobody", "Answer"))]
        assert said == ["Nobody is on duty.", *(f"Answer {n}." for n in range(LIMIT + 1))]
        assert desk.too_many() == 1
        assert most_in_a_window(desk.request.counted()) <= LIMIT

    async def test_answers_share_the_window_with_the_outbox(self, desk: Desk) -> None:
        """Answers in General and the outbox's posts book one window: a topic opened
        after a burst of answers waits for room instead of earning a 429."""
        general = Asked("id-ana", "Ana", None, 1, None)
        for n in range(LIMIT - 1):
            await desk.commands.say(general, f"Answer {n}.")
        await desk.router.intake.accept(Inbound(Channel.WIDGET, "visitor-2", "Any news?"))
        await desk.worker.run_until_idle()

        assert any("Any news?" in t for t in desk.texts(desk.topics()[0]))
        assert desk.too_many() == 0
        assert most_in_a_window(desk.request.counted()) <= LIMIT

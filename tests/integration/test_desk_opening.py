"""Opening a conversation's topic, through the real python-telegram-bot client and the
real SQLite store against the Bot API emulator: a librarian who answers at once is
heard, a failed first post does not open a second topic, and the budget counts what
an opening really posts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from telegram import Bot

from adapters.telegram.aiohttp_request import AiohttpRequest
from adapters.telegram.desk import DeskSender, DeskTarget
from adapters.telegram.emulator import BotApiEmulator, FaultPlan
from bridge.store.sqlite import SqliteStore
from routing.model import (
    Channel,
    Conversation,
    Delivery,
    DeliveryKind,
    Direction,
    Inbound,
    Message,
    Patron,
)
from routing.ports import TopicFailure
from tests.eventually import eventually
from tests.integration.test_desk_commands import Rig
from tests.integration.test_desk_commands import rig as rig  # the shared desk fixture

TOKEN = "434343:DESK-opening"
POSTS = frozenset({"sendMessage"})


@dataclass
class Desk:
    emulator: BotApiEmulator
    bot: Bot
    group: int
    store: SqliteStore

    def group_calls(self) -> int:
        """Calls that Telegram counts against the group: a topic and each post."""
        return sum(1 for name, params in self.emulator.calls
                   if name in ("createForumTopic", "sendMessage")
                   and params.get("chat_id") in (self.group, str(self.group)))


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    emulator = BotApiEmulator(rate_limits=False, bot_token=TOKEN)
    api = await emulator.start()
    group = emulator.create_group("Pustaka Desk")
    store = SqliteStore(tmp_path / "opening.db")
    await store.open()
    bot = Bot(TOKEN, base_url=f"{api}/bot", base_file_url=f"{api}/file/bot",
              request=AiohttpRequest(connection_pool_size=4))
    await bot.initialize()
    try:
        yield Desk(emulator, bot, group, store)
    finally:
        await bot.shutdown()
        await store.close()
        await emulator.stop()


class KeptTopics:
    """``DeskTopics`` that records what it was asked to keep."""

    def __init__(self) -> None:
        self.kept: list[tuple[str, int | None]] = []

    async def keep_topic(self, conversation_id: str, thread: int | None) -> None:
        self.kept.append((conversation_id, thread))


def patron_line(text: str) -> tuple[Delivery, Message, Conversation, Patron]:
    patron = Patron("p1", name="Sari")
    conversation = Conversation("c1", "p1", Channel.WIDGET)
    message = Message("m1", "c1", Direction.PATRON, text)
    delivery = Delivery("d1", "c1", "m1", DeliveryKind.TO_DESK, Channel.DESK, "m1:desk")
    return delivery, message, conversation, patron


class TestOpening:
    async def test_topic_is_known_before_its_first_post(self, rig: Rig) -> None:
        """While the first post into a new topic is still on its way, the topic already
        finds its conversation, so a librarian answering at once reaches the patron."""
        rig.emulator.set_faults(FaultPlan(methods=POSTS, latency=1.5))
        accepted = await rig.router.intake.accept(Inbound(Channel.WIDGET, "v1", "Bumi Manusia?"))
        thread = int(await rig.until(lambda: next(
            (t["message_thread_id"] for t in rig.emulator.topics(rig.group)), None)))
        await eventually(lambda: rig.store.conversation_by_thread(thread), within=1.0)
        assert not any("reply_markup" in m for m in rig.emulator.messages(rig.group, thread))
        rig.emulator.clear_faults()
        rig.says(rig.ana, thread, "Yes, two copies.")

        await rig.until(lambda: rig.patron_side.texts() == ["Yes, two copies."])
        assert (await rig.conversation(thread)).id == accepted.conversation.id
        await rig.line(thread, "Bumi Manusia?")

    async def test_failed_first_post_keeps_its_topic(self, rig: Rig) -> None:
        """When the post after createForumTopic fails, the retry posts into the topic
        already opened instead of opening a second one."""
        rig.emulator.set_faults(FaultPlan(methods=POSTS, server_error=1.0))
        await rig.router.intake.accept(Inbound(Channel.WIDGET, "v1", "Is it on loan?"))
        await rig.until(lambda: rig.emulator.stats["faults"]["server_error"] >= 1)
        rig.emulator.clear_faults()

        [topic] = await rig.until(lambda: rig.emulator.topics(rig.group))
        await rig.line(topic["message_thread_id"], "Is it on loan?")
        assert len(rig.emulator.topics(rig.group)) == 1

    async def test_failure_names_the_topic_it_kept(self, desk: Desk) -> None:
        """When the first post into a new topic fails, the topic has been kept through
        DeskTopics already, and the typed failure names it."""
        topics = KeptTopics()
        sender = DeskSender(desk.bot, DeskTarget(desk.group, forum=True), topics=topics)
        desk.emulator.set_faults(FaultPlan(methods=POSTS, server_error=1.0))
        with pytest.raises(TopicFailure) as failed:
            await sender.send(*patron_line("Hello"))
        [topic] = desk.emulator.topics(desk.group)
        thread = topic["message_thread_id"]
        assert (failed.value.opened_topic, topics.kept) == (thread, [("c1", thread)])


class TestBudget:
    @pytest.mark.parametrize(("text", "units"), [("Hello", 2), ("Tom & Jerry " * 300, 3)])
    async def test_opening_costs_what_it_posts(self, desk: Desk, text: str,
                                               units: int) -> None:
        """Opening a topic books as many group units as Telegram counts: the topic and
        one post, or the topic, the card and the text when they do not fit together."""
        sender = DeskSender(desk.bot, DeskTarget(desk.group, forum=True), desk.store,
                            topics=KeptTopics())
        line = patron_line(text)
        await desk.store.save_patron(line[3])
        await desk.store.save_conversation(line[2])
        keys = sender.budget_keys(*line[::2], line[3], message=line[1])
        assert keys.count(f"group:{desk.group}") == units

        await sender.send(*line)
        assert desk.group_calls() == units


class TestUnmappedTopic:
    async def test_reply_waits_for_its_topic(self, rig: Rig) -> None:
        """A librarian's message in a topic not yet linked to its conversation is looked
        up again a moment later, and reaches the patron once the link is saved."""
        thread = await rig.ask()
        opened = await rig.conversation(thread)
        await rig.store.save_conversation(replace(opened, desk_thread=None))
        rig.says(rig.budi, thread, "Shelf 3.")
        await eventually(lambda: rig.store.get_librarian(str(rig.budi)))  # read the message
        await asyncio.sleep(0.2)  # the poller has missed the topic once by now
        await rig.store.save_conversation(opened)

        await rig.until(lambda: rig.patron_side.texts() == ["Shelf 3."])

    async def test_stranger_topic_is_logged(self, rig: Rig,
                                            caplog: pytest.LogCaptureFixture) -> None:
        """A message in a topic that stays no conversation's is ignored, and the log
        says so."""
        caplog.set_level(logging.INFO, logger="adapters.telegram.desk")
        thread = await rig.ask()

        async def settled() -> bool:  # the outbox saves the conversation as it posts
            return await rig.store.pending_deliveries() == 0

        await rig.until(settled)
        opened = await rig.conversation(thread)
        await rig.store.save_conversation(replace(opened, desk_thread=None))
        rig.says(rig.budi, thread, "Staff talk.")

        await rig.until(lambda: "is no conversation's" in caplog.text)
        assert rig.patron_side.texts() == []

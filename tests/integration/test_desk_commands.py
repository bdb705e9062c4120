"""Desk commands in a forum group, through the real python-telegram-bot client, the real
SQLite store and outbox, against the Bot API emulator. The patron side is a recording
sender: what a librarian does must reach it, or must not."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from telegram import Bot

from adapters.telegram.emulator import BotApiEmulator
from bridge.app import Bridge
from bridge.config import load_config
from bridge.store.sqlite import SqliteStore
from routing.duty import DutyRoster
from routing.model import (
    Channel,
    Conversation,
    Delivery,
    Direction,
    Inbound,
    Message,
    PageInfo,
    Patron,
    Status,
)
from routing.ports import Sent
from routing.router import Router
from tests.eventually import eventually

TOKEN = "424242:DESK-commands"
CANNED = {"hours": "We are open 8 to 16 on weekdays.", "isbn": "Send us the ISBN, please."}


class PatronSide:
    """The widget and email senders: records what would reach the patron."""

    def __init__(self) -> None:
        self.got: list[Message] = []

    def budget_keys(self, delivery: Delivery, conversation: Conversation, patron: Patron,
                    message: Message) -> tuple[str, ...]:
        return ()  # not Telegram: no budget

    async def send(self, delivery: Delivery, message: Message, conversation: Conversation,
                   patron: Patron) -> Sent:
        self.got.append(message)
        return Sent(external_id=f"patron-{len(self.got)}")

    def texts(self) -> list[str]:
        return [m.text for m in self.got if m.direction is Direction.LIBRARIAN]

    def events(self) -> list[str]:
        return [m.event for m in self.got if m.event]


@dataclass
class Rig:
    emulator: BotApiEmulator
    group: int
    store: SqliteStore
    router: Router
    patron_side: PatronSide
    ana: int
    budi: int
    outsider: int
    bot: Bot
    roster: DutyRoster
    threads: dict[str, int] = field(default_factory=dict)  # conversation id -> topic

    async def ask(self, text: str = "Do you have Bumi Manusia?", visitor: str = "visitor-1",
                  ip: str = "203.0.113.9") -> int:
        """A widget patron writes; returns the conversation's topic once its card is up."""
        accepted = await self.router.intake.accept(Inbound(Channel.WIDGET, visitor, text,
                                                    name="Sari", page=PageInfo(ip=ip)))
        thread = int(await self.until(lambda: self.thread_of(accepted.conversation.id)))
        await self.until(lambda: any("reply_markup" in m  # the buttons a test presses
                                     for m in self.emulator.messages(self.group, thread)))
        return thread

    def thread_of(self, cid: str) -> int | None:
        return self.threads.get(cid)

    async def until(self, check: Callable[[], Any], within: float = 15.0) -> Any:
        async def refreshed() -> Any:
            await self._refresh_threads()
            value = check()
            return await value if inspect.isawaitable(value) else value

        return await eventually(refreshed, within=within)

    async def _refresh_threads(self) -> None:
        for conversation in await self.store.conversations(limit=1000):
            if conversation.desk_thread is not None:
                self.threads[conversation.id] = conversation.desk_thread

    async def conversation(self, thread: int) -> Conversation:
        found = await self.store.conversation_by_thread(thread)
        assert found is not None
        return found

    def says(self, user: int, thread: int, text: str) -> int:
        return int(self.emulator.user_sends(self.group, user, text,
                                            message_thread_id=thread)["message_id"])

    def texts(self, thread: int) -> list[str]:
        return [m.get("text", "") for m in self.emulator.messages(self.group, thread)]

    def card(self, thread: int) -> dict[str, Any]:
        return next(m for m in self.emulator.messages(self.group, thread) if "reply_markup" in m)

    def buttons(self, thread: int) -> list[str]:
        rows = self.card(thread)["reply_markup"]["inline_keyboard"]
        return [b["text"] for row in rows for b in row]

    def press(self, user: int, thread: int, action: str, cid: str) -> None:
        self.emulator.press_button(self.group, self.card(thread)["message_id"], user,
                                   f"{action}:{cid}")

    async def answered(self, count: int) -> list[dict[str, Any]]:
        return list(await self.until(lambda: len(self.emulator.answers) >= count
                                     and self.emulator.answers))

    async def line(self, thread: int, *parts: str) -> str:
        """The topic's first line containing every one of ``parts``."""
        return str(await self.until(lambda: next(
            (t for t in self.texts(thread) if all(p in t for p in parts)), None)))


MEMBERS = """Nomor Anggota;Nama;Status;Berlaku sampai
12345;Sari Lestari;active;2026-06-30
22222;Sari Lestari;suspended;2099-12-31
33333;Sari Lestari;active;2099-12-31
"""


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    """The bridge as ``bootstrap.build`` wires it; the widget and email patrons are one
    recorder, the member directory a CSV file."""
    emulator = BotApiEmulator(rate_limits=False, bot_token=TOKEN)
    api = await emulator.start()
    group = emulator.create_group("Pustaka Desk", username="pustaka_desk")
    ana = emulator.add_user("Ana", last_name="Wijaya", username="ana_w")
    budi = emulator.add_user("Budi", username="budi_s")
    outsider = emulator.add_user("Eve", username="eve")
    emulator.add_member(group, ana, "administrator")
    emulator.add_member(group, budi)
    (tmp_path / "members.csv").write_text(MEMBERS, encoding="utf-8")
    config = load_config(
        None, env={"PUSTAKA_TELEGRAM_TOKEN": TOKEN, "PUSTAKA_SECRET": "d" * 32},
        server={"port": 0}, storage={"data_dir": str(tmp_path)},
        library={"timezone": "Asia/Jakarta"},
        desk={"canned": CANNED, "blocked_text": "Maaf, we cannot take your message."},
        directory={"kind": "csv", "path": str(tmp_path / "members.csv")},
        telegram={"group_id": group, "api_url": api, "poll_timeout": 1,
                  # the emulator's flood limits are off here, and so are ours
                  "messages_per_second": 10**6, "group_messages_per_minute": 10**6})
    patron_side = PatronSide()
    bridge = Bridge(config, senders={Channel.WIDGET: patron_side, Channel.EMAIL: patron_side})
    await bridge.start()
    try:
        yield Rig(emulator, group, bridge.store, bridge.router, patron_side, ana, budi, outsider,
                  bridge.bot, bridge.roster)
    finally:
        await bridge.stop()
        await emulator.stop()


class TestClaims:
    async def test_claim_button_assigns_and_answers(self, rig: Rig) -> None:
        """Claim on the card assigns the conversation, answers the press, relabels the
        button with the holder, and the widget patron hears who is answering."""
        thread = await rig.ask()
        cid = (await rig.conversation(thread)).id
        rig.press(rig.budi, thread, "claim", cid)

        [answer] = await rig.answered(1)
        assert answer["text"] == "It is yours now."
        assert (await rig.conversation(thread)).claimed_by == "Budi"
        await rig.until(lambda: "✋ Budi" in rig.buttons(thread))
        await rig.until(lambda: "claimed" in rig.patron_side.events())

    async def test_second_librarian_is_held_back(self, rig: Rig) -> None:
        """After Ana answers, Budi's message in the topic is not forwarded; the bot says in
        the topic that Ana has it and how to take over."""
        thread = await rig.ask()
        rig.says(rig.ana, thread, "Yes, two copies.")
        await rig.until(lambda: rig.patron_side.texts() == ["Yes, two copies."])
        rig.says(rig.budi, thread, "It is on shelf 3.")

        line = await rig.line(thread, "Ana Wijaya has this conversation", "/takeover")
        assert "not sent" in line
        rig.says(rig.ana, thread, "Shelf 5, in fact.")  # reaches the patron after Budi's would
        await rig.until(lambda: len(rig.patron_side.texts()) == 2)
        assert rig.patron_side.texts() == ["Yes, two copies.", "Shelf 5, in fact."]

    async def test_takeover_then_transfer(self, rig: Rig) -> None:
        """/takeover moves the claim to Budi, whose replies then go out; /transfer @ana_w
        hands it back to Ana."""
        thread = await rig.ask()
        rig.says(rig.ana, thread, "Looking.")
        await rig.until(lambda: rig.patron_side.texts() == ["Looking."])
        rig.says(rig.budi, thread, "/takeover")
        await rig.line(thread, "Budi took over from Ana Wijaya")
        rig.says(rig.budi, thread, "Found it.")
        await rig.until(lambda: rig.patron_side.texts() == ["Looking.", "Found it."])
        rig.says(rig.budi, thread, "/transfer @ana_w")
        await rig.line(thread, "Budi handed the conversation to Ana Wijaya")
        assert (await rig.conversation(thread)).claimed_by_id == str(rig.ana)

    async def test_transfer_by_a_bystander_says_the_truth(self, rig: Rig) -> None:
        """Only the holder transfers: Citra's /transfer @budi_s of Ana's conversation is
        refused naming Ana; Budi's /transfer @budi_s is worded as his take-over, never
        "Budi handed the conversation to Budi"."""
        citra = rig.emulator.add_user("Citra", username="citra_p")
        rig.emulator.add_member(rig.group, citra)
        thread = await rig.ask()
        rig.says(rig.budi, thread, "/who")  # Budi is seen, so @budi_s names him
        await rig.line(thread, "This conversation: nobody yet")
        rig.says(rig.ana, thread, "Looking.")
        await rig.until(lambda: rig.patron_side.texts() == ["Looking."])
        rig.says(citra, thread, "/transfer @budi_s")
        await rig.line(thread, "Ana Wijaya has this conversation", "only they can transfer")
        assert (await rig.conversation(thread)).claimed_by_id == str(rig.ana)
        rig.says(rig.budi, thread, "/transfer @budi_s")
        await rig.line(thread, "Budi took over from Ana Wijaya")
        assert (await rig.conversation(thread)).claimed_by_id == str(rig.budi)
        assert not any("handed the conversation to Budi" in t for t in rig.texts(thread))

    async def test_outsider_press_changes_nothing(self, rig: Rig) -> None:
        """A non-member pressing Claim in the public group is refused after getChatMember
        says "left"; the conversation stays unclaimed."""
        thread = await rig.ask()
        cid = (await rig.conversation(thread)).id
        rig.press(rig.outsider, thread, "claim", cid)

        [answer] = await rig.answered(1)
        assert answer["text"].startswith("Only librarians")
        assert (await rig.conversation(thread)).claimed_by_id == ""
        assert ("getChatMember" in [name for name, _ in rig.emulator.calls])

    async def test_commands_from_elsewhere_change_nothing(self, rig: Rig) -> None:
        """/close sent in another group the bot is in closes nothing."""
        thread = await rig.ask()
        other = rig.emulator.create_group("Staff room", forum=False)
        rig.emulator.add_member(other, rig.ana)
        rig.emulator.user_sends(other, rig.ana, "/close")
        rig.emulator.user_sends(rig.budi, rig.budi, "/close")  # a private chat with the bot
        rig.says(rig.ana, thread, "/who")
        await rig.line(thread, "This conversation: nobody yet")
        assert (await rig.conversation(thread)).status is Status.OPEN
        # Updates from elsewhere go to the patron channel, not to the desk: Budi's private
        # message is a patron's (greeted), the staff room hears nothing from the bot.
        bot = rig.emulator.bot_id
        await rig.until(lambda: any(m["from"]["id"] == bot for m in rig.emulator.messages(
            rig.budi)))
        assert not any(m["from"]["id"] == bot for m in rig.emulator.messages(other))


class TestClose:
    async def test_close_reopen_and_rate(self, rig: Rig) -> None:
        """/close closes the topic and asks the patron for a rating; the patron writing
        again reopens the same conversation and topic; the rating lands on the server."""
        thread = await rig.ask()
        rig.says(rig.ana, thread, "Here you are.")
        rig.says(rig.ana, thread, "/close")
        await rig.until(lambda: rig.emulator.topics(rig.group)[0]["closed"])
        await rig.until(lambda: {"closed", "rating_request"} <= set(rig.patron_side.events()))
        conversation = await rig.conversation(thread)
        assert conversation.status is Status.CLOSED
        assert await rig.router.claims.rate(conversation.id, 5, "Quick!")
        await rig.line(thread, "Patron rated", "Quick!")

        again = await rig.ask("One more question")
        assert again == thread
        await rig.until(lambda: not rig.emulator.topics(rig.group)[0]["closed"])
        await rig.line(thread, "reopened")
        await rig.line(thread, "One more question")
        assert len(rig.emulator.topics(rig.group)) == 1

    async def test_close_button(self, rig: Rig) -> None:
        """The Close button closes like /close and says so on the button."""
        thread = await rig.ask()
        rig.press(rig.ana, thread, "close", (await rig.conversation(thread)).id)
        [answer] = await rig.answered(1)
        assert answer["text"].startswith("Closed")
        await rig.until(lambda: "✔ Closed" in rig.buttons(thread))
        await rig.until(lambda: rig.emulator.topics(rig.group)[0]["closed"])

"""Patrons on Telegram: private chats with the bot, through the real python-telegram-bot
client, the real SQLite store, router and outbox, and the desk poller, against the Bot
API emulator (Telegram's flood limits on). The bridge is the one ``bootstrap.build``
wires, so private updates reach ``PatronChats`` exactly as in production."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from telegram import Bot

from adapters.telegram.emulator import BotApiEmulator
from adapters.telegram.patron_book import PatronBook
from adapters.telegram.patron_sender import PatronSender
from bridge.app import Bridge, telegram_budget
from bridge.config import Config, load_config
from bridge.store.sqlite import SqliteStore
from routing.model import (
    Channel,
    Contact,
    Conversation,
    Delivery,
    DeliveryKind,
    Direction,
    Message,
    Patron,
    new_id,
)
from routing.router import Router
from tests.eventually import eventually

TOKEN = "515151:PATRON-chats"
GREETING = {"en": "Welcome to <Perpus> & friends! Mon-Fri 08:00-16:00",
            "id": "Selamat datang di <Perpus>! Sen-Jum 08.00-16.00"}
BLOCKED = "Maaf, we cannot take your message."


@dataclass
class Rig:
    emulator: BotApiEmulator
    group: int
    store: SqliteStore
    router: Router
    librarian: int

    def patron(self, first: str, last: str | None = None, lang: str | None = None) -> int:
        user = self.emulator.add_user(first, last_name=last)
        if lang:  # the emulator's add_user takes no language; set it as Telegram would
            self.emulator._core.world.user(user).language_code = lang
        return user

    def writes(self, user: int, text: str, reply_to: int | None = None) -> int:
        sent = self.emulator.user_sends(user, user, text, reply_to_message_id=reply_to)
        return int(sent["message_id"])

    def private(self, user: int) -> list[dict[str, Any]]:
        """What the bot wrote in the patron's private chat."""
        return [m for m in self.emulator.messages(user)
                if m["from"]["id"] == self.emulator.bot_id]

    def private_texts(self, user: int) -> list[str]:
        return [m.get("text", "") for m in self.private(user)]

    def topic_texts(self, thread: int) -> list[str]:
        return [m.get("text", "") for m in self.emulator.messages(self.group, thread)]

    async def conversation(self, user: int) -> Conversation | None:
        patron = await self.store.patron_by_contact(Contact(Channel.TELEGRAM, str(user)))
        return None if patron is None else await self.store.latest_conversation(patron.id)

    async def thread(self, user: int) -> int:
        async def opened() -> int | None:
            conversation = await self.conversation(user)
            return None if conversation is None else conversation.desk_thread
        return int(await self.until(opened))

    async def until(self, check: Callable[[], Any]) -> Any:
        return await eventually(check)  # plain or async checks alike


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    emulator = BotApiEmulator(bot_token=TOKEN)  # Telegram's flood limits on
    api = await emulator.start()
    group = emulator.create_group("Pustaka Desk")
    librarian = emulator.add_user("Sari", last_name="Dewi", username="sari")
    emulator.add_member(group, librarian, "administrator")
    config = load_config(
        None, env={"PUSTAKA_TELEGRAM_TOKEN": TOKEN, "PUSTAKA_SECRET": "p" * 32},
        server={"port": 0}, storage={"data_dir": str(tmp_path)}, desk={"blocked_text": BLOCKED},
        telegram={"group_id": group, "api_url": api, "poll_timeout": 1,
                  "patron_greeting_en": GREETING["en"], "patron_greeting_id": GREETING["id"]})
    bridge = Bridge(config)
    await bridge.start()
    try:
        yield Rig(emulator, group, bridge.store, bridge.router, librarian)
    finally:
        await bridge.stop()
        await emulator.stop()


def greetings(texts: list[str]) -> list[str]:
    """The greeting part of each text (the opening hours follow it after a blank line)."""
    return [text.split("\n\n", 1)[0] for text in texts]


async def test_dm_opens_a_topic_with_a_telegram_card(rig: Rig) -> None:
    """A patron's first private message is greeted and opens a topic whose card says
    Telegram and shows their name and message."""
    ana = rig.patron("Ana", "Putri")
    rig.writes(ana, "Do you have Laskar Pelangi?")
    thread = await rig.thread(ana)
    topic = next(t for t in rig.emulator.topics(rig.group) if t["message_thread_id"] == thread)
    assert topic["name"] == "Ana Putri · Telegram"
    card = await rig.until(lambda: next((t for t in rig.topic_texts(thread)
                                         if "New conversation" in t), None))
    assert "Telegram" in card and "Ana Putri" in card
    assert card.endswith("\n\nDo you have Laskar Pelangi?")
    assert greetings(rig.private_texts(ana)) == [GREETING["en"]]  # HTML shown literally


async def test_start_greets_and_later_messages_join_one_conversation(rig: Rig) -> None:
    """/start is greeted and reaches nobody; later messages join one conversation and
    are not greeted again."""
    budi = rig.patron("Budi", lang="id")
    rig.writes(budi, "/start")
    await rig.until(lambda: greetings(rig.private_texts(budi)) == [GREETING["id"]])
    rig.writes(budi, "Jam buka hari Sabtu?")
    rig.writes(budi, "Dan hari Minggu?")
    thread = await rig.thread(budi)
    await rig.until(lambda: any("Dan hari Minggu?" in t for t in rig.topic_texts(thread)))
    assert not any("/start" in t for t in rig.topic_texts(thread))
    assert len(rig.emulator.topics(rig.group)) == 1
    assert greetings(rig.private_texts(budi)) == [GREETING["id"]]


async def test_librarian_reply_reaches_the_private_chat_with_name(rig: Rig) -> None:
    """A librarian's reply in the topic arrives in the patron's private chat under the
    librarian's name, HTML in either text shown literally."""
    ana = rig.patron("Ana")
    rig.writes(ana, "Is <b>this</b> & <script>x</script> bold?")
    thread = await rig.thread(ana)
    await rig.until(lambda: any(t.endswith("Is <b>this</b> & <script>x</script> bold?")
                                for t in rig.topic_texts(thread)))
    rig.emulator.user_sends(rig.group, rig.librarian, "No, <i>plain</i> text & more",
                            message_thread_id=thread)
    reply = await rig.until(lambda: next((m for m in rig.private(ana)
                                          if "plain" in m.get("text", "")), None))
    assert reply["text"] == "Sari Dewi\nNo, <i>plain</i> text & more"
    assert reply["entities"] == [{"type": "bold", "offset": 0, "length": 9}]


async def test_librarian_edit_edits_the_private_message(rig: Rig) -> None:
    """A librarian who edits a reply in the topic edits it in the patron's chat too."""
    ana = rig.patron("Ana")
    rig.writes(ana, "When is the book due?")
    thread = await rig.thread(ana)
    said = rig.emulator.user_sends(rig.group, rig.librarian, "On Monday",
                                   message_thread_id=thread)
    await rig.until(lambda: any("On Monday" in t for t in rig.private_texts(ana)))
    rig.emulator.user_edits(rig.group, said["message_id"], "On Tuesday")
    await rig.until(lambda: any("On Tuesday" in t for t in rig.private_texts(ana)))
    texts = rig.private_texts(ana)
    # greeting, "<librarian> is answering", reply
    assert not any("On Monday" in t for t in texts) and len(texts) == 3


async def test_blocked_bot_fails_for_good_and_the_topic_says_so(rig: Rig) -> None:
    """A reply to a patron who blocked the bot fails permanently, the topic says why,
    the patron is recorded as unreachable; writing again makes them reachable."""
    ana = rig.patron("Ana")
    rig.writes(ana, "Please renew my loan")
    thread = await rig.thread(ana)
    rig.emulator.block_bot(ana)
    rig.emulator.user_sends(rig.group, rig.librarian, "Renewed until May",
                            message_thread_id=thread)
    note = await rig.until(lambda: next((t for t in rig.topic_texts(thread)
                                         if "Could not deliver" in t
                                         and "Renewed until May" in t), None))
    assert "blocked the bot" in note and "Renewed until May" in note
    book = PatronBook(rig.store)
    assert (await book.state(ana)).unreachable_since > 0
    rig.writes(ana, "Sorry, unblocked you")
    await rig.until(lambda: any("unblocked you" in t for t in rig.topic_texts(thread)))
    assert (await book.state(ana)).unreachable_since == 0
    rig.emulator.user_sends(rig.group, rig.librarian, "Welcome back",
                            message_thread_id=thread)
    await rig.until(lambda: any("Welcome back" in t for t in rig.private_texts(ana)))


async def test_close_asks_for_a_rating_that_is_recorded(rig: Rig) -> None:
    """/close tells the patron in their language and asks for a rating; pressing a button
    records it against the librarian, removes the buttons, a reply adds a comment, and
    the private chat's flood limit is never hit."""
    budi = rig.patron("Budi", lang="id-ID")
    rig.writes(budi, "Apakah ada buku Bumi Manusia?")
    thread = await rig.thread(budi)
    rig.emulator.user_sends(rig.group, rig.librarian, "Ada, di rak 3", message_thread_id=thread)
    await rig.until(lambda: any("rak 3" in t for t in rig.private_texts(budi)))
    rig.emulator.user_sends(rig.group, rig.librarian, "/close", message_thread_id=thread)
    ask = await rig.until(lambda: next((m for m in rig.private(budi)
                                        if "reply_markup" in m), None))
    assert "dari 1 sampai 5" in ask["text"]
    assert any("sudah ditutup" in t for t in rig.private_texts(budi))
    buttons = [b["callback_data"] for row in ask["reply_markup"]["inline_keyboard"] for b in row]
    conversation = await rig.conversation(budi)
    assert conversation is not None
    assert buttons == [f"rate:{conversation.id}:{n}" for n in range(1, 6)]
    assert all(len(data.encode()) <= 64 for data in buttons)
    rig.emulator.press_button(budi, ask["message_id"], budi, f"rate:{conversation.id}:4")
    await rig.until(lambda: any("Terima kasih" in (a.get("text") or "")
                                for a in rig.emulator.answers))
    rated = await rig.conversation(budi)
    assert rated is not None and rated.rating == 4
    assert rated.rated_librarian_id == str(rig.librarian)
    thanks = next(m for m in rig.private(budi) if m["message_id"] == ask["message_id"])
    assert "reply_markup" not in thanks and "★★★★☆" in thanks["text"]
    await rig.until(lambda: any("Patron rated" in t for t in rig.topic_texts(thread)))
    rig.writes(budi, "Pelayanan cepat", reply_to=ask["message_id"])
    await rig.until(lambda: _comment(rig, budi))
    assert rig.emulator.stats["429"] == 0  # two lines back to back kept to 1 a second


async def _comment(rig: Rig, user: int) -> bool:
    conversation = await rig.conversation(user)
    return conversation is not None and conversation.rating_comment == "Pelayanan cepat"


async def test_blocked_patron_is_answered_politely_and_nothing_reaches_the_desk(
    rig: Rig,
) -> None:
    """A patron the desk blocked gets the configured answer and their message stays out."""
    ana = rig.patron("Ana")
    rig.writes(ana, "First question")
    thread = await rig.thread(ana)
    rig.emulator.user_sends(rig.group, rig.librarian, "/block 1d", message_thread_id=thread)
    await rig.until(lambda: any("blocked" in t.lower() for t in rig.topic_texts(thread)[2:]))
    before = len(rig.topic_texts(thread))
    rig.writes(ana, "Spam spam spam")
    await rig.until(lambda: BLOCKED in rig.private_texts(ana))
    rig.emulator.user_sends(rig.group, rig.librarian, "/unblock", message_thread_id=thread)
    await rig.until(lambda: any("Lifted" in t for t in rig.topic_texts(thread)[before:]))
    rig.writes(ana, "A fair question")  # reaches the topic after any wrongly forwarded spam
    await rig.until(lambda: any("A fair question" in t for t in rig.topic_texts(thread)))
    assert not any("Spam" in t for t in rig.topic_texts(thread))


async def test_foreign_group_changes_nothing(rig: Rig) -> None:
    """A message in a group that is not the desk opens nothing and gets no answer."""
    other = rig.emulator.create_group("Book club", forum=False)
    eve = rig.emulator.add_user("Eve")
    rig.emulator.add_member(other, eve)
    rig.emulator.user_sends(other, eve, "Hello bot, open a topic for me")
    ana = rig.patron("Ana")
    rig.writes(ana, "A real question")  # processed after Eve's: the poller has seen hers
    await rig.thread(ana)
    assert len(rig.emulator.topics(rig.group)) == 1
    assert await rig.store.patron_by_contact(Contact(Channel.TELEGRAM, str(eve))) is None
    assert [m for m in rig.emulator.messages(other)
            if m["from"]["id"] == rig.emulator.bot_id] == []


async def test_patron_edits_and_service_messages_are_ignored(rig: Rig) -> None:
    """A patron editing their message changes nothing in the topic (not passed on yet)."""
    ana = rig.patron("Ana")
    first = rig.writes(ana, "Original words")
    thread = await rig.thread(ana)
    rig.emulator.user_edits(ana, first, "Edited words")
    rig.writes(ana, "Next message")
    await rig.until(lambda: any("Next message" in t for t in rig.topic_texts(thread)))
    assert not any("Edited words" in t for t in rig.topic_texts(thread))


async def test_status_lines_are_worded_in_the_patron_language(rig: Rig) -> None:
    """"claimed" and "reopened" lines reach the private chat in the patron's language,
    a librarian's name in them escaped; an internal note never does."""
    budi = rig.patron("Budi", lang="id")
    rig.writes(budi, "Halo")
    await rig.thread(budi)
    conversation = await rig.conversation(budi)
    assert conversation is not None
    for direction, event, author in ((Direction.SYSTEM, "claimed", "Sari <Dewi>"),
                                     (Direction.NOTE, "note", "Sari"),
                                     (Direction.SYSTEM, "reopened", "")):
        line = Message(new_id(), conversation.id, direction, "desk words", author=author,
                       event=event, created_at=time.time())
        row = Delivery(new_id(), conversation.id, line.id, DeliveryKind.TO_PATRON,
                       Channel.TELEGRAM, f"{line.id}:telegram", created_at=line.created_at)
        await rig.store.append(line, [row])
    # no wake-up: the worker finds the rows at its next idle poll
    await rig.until(lambda: any("dibuka kembali" in t for t in rig.private_texts(budi)))
    texts = rig.private_texts(budi)[1:]
    assert texts == ["Sari <Dewi> sedang menjawab.",
                     "Percakapan Anda dibuka kembali; pustakawan akan menjawab di sini."]


def test_budget_keys_fall_under_the_private_rule() -> None:
    """The sender's keys map to the bot's and the private chat's rules of the real
    budget, so a reply waits for the chat's one-a-second window."""
    sender = PatronSender(Bot(TOKEN), store=None)  # type: ignore[arg-type]
    patron = Patron("p1", contacts=(Contact(Channel.TELEGRAM, "777"),))
    delivery = Delivery("d1", "c1", "m1", DeliveryKind.TO_PATRON, Channel.TELEGRAM, "k")
    keys = sender.budget_keys(delivery, Conversation("c1", "p1", Channel.TELEGRAM), patron)
    assert keys == ("bot", "private:777")
    budget = telegram_budget(Config())
    rules = [budget.rule_for(k) for k in keys]
    assert rules[0] is not None and rules[0].limit == 30
    assert rules[1] is not None and (rules[1].limit, rules[1].span) == (1, 1.0)

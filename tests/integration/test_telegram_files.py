"""Photos, documents, voice notes and albums over Telegram, both ways: a patron's private
chat to the desk topic and a librarian's topic to the patron, through the real
python-telegram-bot client, the real SQLite store, blob store, router and outbox, and the
desk poller (with the patron chats behind it), against the Bot API emulator."""

from __future__ import annotations

import asyncio
import hashlib
import struct
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import async_playwright
from telegram import Bot, InputMediaPhoto, Update
from telegram.error import BadRequest, RetryAfter, TelegramError

from adapters.blobs import BlobStore
from adapters.files import FilePolicy
from adapters.telegram.aiohttp_request import AiohttpRequest
from adapters.telegram.desk import DeskPoller, DeskSender, DeskTarget
from adapters.telegram.emulator import BotApiEmulator, FaultPlan
from adapters.telegram.files_send import Place, PostLog, available, plan, send_posts
from adapters.telegram.patron import PatronChats
from adapters.telegram.patron_book import PatronBook
from adapters.telegram.patron_sender import PatronSender
from bridge.app import telegram_budget
from bridge.config import Config, FilesSection
from bridge.store.sqlite import SqliteStore
from routing.model import (
    Attachment,
    AttachmentKind,
    Block,
    BlockKind,
    Channel,
    Contact,
    Conversation,
    Delivery,
    DeliveryKind,
    new_id,
)
from routing.outbox import DeliveryWorker
from routing.ports import Sender, SystemClock
from routing.router import Router
from tests.browser import CHROMIUM, require_chromium
from tests.eventually import eventually

TOKEN = "616161:FILES-both-ways"
GREETING = "Welcome to the library chat."


def png(seed: int, width: int = 2, height: int = 2) -> bytes:
    """A real PNG image; ``seed`` makes each one's bytes different."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    rows = b"".join(b"\x00" + bytes([seed % 256, 0, 0]) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height,
                                                             8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def ogg(seed: int) -> bytes:
    return b"OggS\x00\x02" + bytes([seed % 256]) * 200


class NoTopics:
    """``DeskTopics`` for a sender that is only asked what a send costs."""

    async def keep_topic(self, conversation_id: str, thread: int | None) -> None:
        raise AssertionError("no topic is opened here")


@dataclass
class Rig:
    emulator: BotApiEmulator
    url: str
    bot: Bot
    group: int
    store: SqliteStore
    blobs: BlobStore
    librarian: int
    new_poller: Callable[[float], DeskPoller]
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    poller: asyncio.Task[None] | None = None

    async def restart_poller(self, album_quiet: float) -> None:
        """Stop the desk poller (as a stopping bridge does) and start a new one."""
        if self.poller is not None:
            self.poller.cancel()
            with suppress(asyncio.CancelledError):
                await self.poller
        self.poller = asyncio.create_task(self.new_poller(album_quiet).run())

    def patron(self, first: str, lang: str | None = None) -> int:
        return self.emulator.add_user(first, language_code=lang)

    def from_bot(self, chat: int, thread: int | None = None) -> list[dict[str, Any]]:
        return [m for m in self.emulator.messages(chat, thread)
                if m["from"]["id"] == self.emulator.bot_id]

    def with_(self, kind: str, chat: int, thread: int | None = None,
              count: int = 1) -> list[dict[str, Any]] | None:
        """The bot's messages carrying ``kind`` ("photo", "voice" …), once there are
        ``count`` of them."""
        found = [m for m in self.from_bot(chat, thread) if kind in m]
        return found if len(found) >= count else None

    def texts(self, chat: int, thread: int | None = None) -> list[str]:
        return [m.get("text") or m.get("caption") or "" for m in self.from_bot(chat, thread)]

    async def conversation(self, user: int) -> Conversation | None:
        patron = await self.store.patron_by_contact(Contact(Channel.TELEGRAM, str(user)))
        return None if patron is None else await self.store.latest_conversation(patron.id)

    async def thread(self, user: int) -> int:
        async def opened() -> int | None:
            conversation = await self.conversation(user)
            return None if conversation is None else conversation.desk_thread
        return int(await self.until_async(opened))

    async def opened(self, user: int, text: str) -> int:
        """The patron writes; returns their topic once the text shows there."""
        self.emulator.user_sends(user, user, text)
        thread = await self.thread(user)
        await self.until(lambda: any(text in t for t in self.texts(self.group, thread)))
        return thread

    async def download(self, file_id: str) -> bytes:
        """What a Telegram client would get for a file the bot sent (through the API)."""
        found = await self.bot.get_file(file_id)
        return bytes(await found.download_as_bytearray())

    def calls(self, method: str) -> list[dict[str, Any]]:
        return [params for name, params in self.emulator.calls if name == method]

    async def until(self, check: Callable[[], Any]) -> Any:
        return await eventually(check)  # plain or async checks alike

    until_async = until


async def _rig(tmp_path: Path, forum: bool) -> AsyncIterator[Rig]:
    emulator = BotApiEmulator(bot_token=TOKEN)  # Telegram's flood limits on
    api = await emulator.start()
    group = emulator.create_group("Pustaka Desk", forum=forum)
    librarian = emulator.add_user("Sari", last_name="Dewi", username="sari")
    emulator.add_member(group, librarian, "administrator")
    store = SqliteStore(tmp_path / "files.db")
    await store.open()
    blobs = BlobStore(tmp_path / "blobs")
    section = FilesSection()
    policy = FilePolicy(section.max_bytes, tuple(section.allowed_types), section.enabled)
    bot = Bot(TOKEN, base_url=f"{api}/bot", base_file_url=f"{api}/file/bot",
              request=AiohttpRequest(connection_pool_size=8),
              get_updates_request=AiohttpRequest(connection_pool_size=1, read_timeout=10.0))
    await bot.initialize()
    target = DeskTarget(group, forum=forum)
    clock = SystemClock()
    router = Router(store, clock, on_enqueue=lambda queued: worker.wake(queued))
    senders: dict[Channel, Sender] = {
        Channel.DESK: DeskSender(bot, target, store, topics=router.records, blobs=blobs),
        Channel.TELEGRAM: PatronSender(bot, store, clock, blobs=blobs)}
    worker = DeliveryWorker(store, clock, senders, idle_poll=0.05,
                            budget=telegram_budget(Config()))
    patrons = PatronChats(bot, store, router, lambda _lang: GREETING, blobs=blobs,
                          files=policy)

    async def elsewhere(update: Update) -> None:  # as bridge/app.py wires it
        await patrons.handle(update)

    def new_poller(album_quiet: float) -> DeskPoller:
        return DeskPoller(bot, store, router, target, timeout=1, elsewhere=elsewhere,
                          elsewhere_albums=patrons.handle_album, blobs=blobs, files=policy,
                          album_quiet=album_quiet)

    rig = Rig(emulator, api, bot, group, store, blobs, librarian, new_poller)
    rig.tasks = [asyncio.create_task(worker.run())]
    await rig.restart_poller(0.3)
    try:
        yield rig
    finally:
        await worker.drain(2.0)
        running = [t for t in (*rig.tasks, rig.poller) if t is not None]
        for task in running:
            task.cancel()
        for task in running:
            with suppress(asyncio.CancelledError):
                await task
        await bot.shutdown()
        await store.close()
        await emulator.stop()


@pytest.fixture(autouse=True)
def _timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opt in to PTB's coming ``RetryAfter.retry_after`` type instead of its warning."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async for made in _rig(tmp_path, forum=True):
        yield made


@pytest.fixture
async def plain_rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async for made in _rig(tmp_path, forum=False):
        yield made


class TestPatronToDesk:
    async def test_photo_shows_in_the_topic_with_its_caption(self, rig: Rig) -> None:
        """A patron's photo reaches their topic as a photo, the caption escaped, the
        bytes as sent, and the topic's card names the patron."""
        ana = rig.patron("Ana")
        thread = await rig.opened(ana, "Hello, a question about a book")
        image = png(1)
        rig.emulator.user_sends_file(ana, ana, "cover.png", image, photo=True,
                                     caption="Is <this> the book?")
        shown = await rig.until(lambda: next((m for m in rig.from_bot(rig.group, thread)
                                              if "photo" in m), None))
        assert shown["caption"] == "Is <this> the book?"
        assert await rig.download(shown["photo"][-1]["file_id"]) == image
        assert any("Ana" in t for t in rig.texts(rig.group, thread) if "New conversation" in t)

    async def test_album_of_three_is_one_media_group_in_the_topic(self, rig: Rig) -> None:
        """An album of three photos as a patron's first message opens the topic with the
        card, then arrives as one sendMediaGroup: three photos of one album, the caption
        on the first; the budget booked for it is what Telegram counted."""
        ana = rig.patron("Ana")
        images = [png(10 + i) for i in range(3)]
        rig.emulator.user_sends_album(ana, ana, [("photo", f"p{i}.png", data)
                                                 for i, data in enumerate(images)],
                                      caption="Pages 1 to 3")
        thread = await rig.thread(ana)
        album = await rig.until(lambda: rig.with_("photo", rig.group, thread, 3))
        assert len(rig.calls("sendMediaGroup")) == 1 and not rig.calls("sendPhoto")
        assert len({m["media_group_id"] for m in album}) == 1
        assert album[0]["caption"] == "Pages 1 to 3"
        assert "caption" not in album[1] and "caption" not in album[2]
        got = [await rig.download(m["photo"][-1]["file_id"]) for m in album]
        assert got == images
        conversation = await rig.conversation(ana)
        assert conversation is not None
        [stored] = [m for m in await rig.store.history(conversation.id) if m.attachments]
        assert len(stored.attachments) == 3  # one message, not three
        patron = await rig.store.get_patron(conversation.patron_id)
        assert patron is not None
        row = Delivery("d", conversation.id, stored.id, DeliveryKind.TO_DESK, Channel.DESK, "k")
        sender = DeskSender(rig.bot, DeskTarget(rig.group, forum=True), topics=NoTopics(),
                            blobs=rig.blobs)
        keys = sender.budget_keys(row, replace(conversation, desk_thread=None), patron, stored)
        counted = len(rig.from_bot(rig.group))  # the topic's creation, the card, 3 photos
        assert keys.count(f"group:{rig.group}") == counted == 5

    async def test_voice_note_reaches_the_topic_as_a_voice_note(self, rig: Rig) -> None:
        """A patron's voice note arrives in the topic as a voice note with the same bytes."""
        ana = rig.patron("Ana")
        thread = await rig.opened(ana, "I will say it aloud")
        voice = ogg(3)
        rig.emulator.user_sends_voice(ana, ana, voice, duration=4)
        shown = await rig.until(lambda: next((m for m in rig.from_bot(rig.group, thread)
                                              if "voice" in m), None))
        assert shown["voice"]["mime_type"] == "audio/ogg"
        assert await rig.download(shown["voice"]["file_id"]) == voice

    async def test_a_25_mb_file_is_a_note_in_the_topic_and_a_polite_answer(
        self, rig: Rig
    ) -> None:
        """A file past the 20 MB Telegram hands a bot becomes a line in the topic (name,
        size, why), the patron is told in their language, and the chat goes on."""
        budi = rig.patron("Budi", lang="id")
        thread = await rig.opened(budi, "Saya kirim skripsi saya")
        rig.emulator.user_sends_file(budi, budi, "skripsi <final>.zip",
                                     b"PK\x03\x04" + bytes(25 * 1024 * 1024))
        line = await rig.until(lambda: next((t for t in rig.texts(rig.group, thread)
                                             if t.startswith("📎")), None))
        assert line.startswith("📎 skripsi <final>.zip (25.0 MB): 25.0 MB is larger than")
        await rig.until(lambda: any("terlalu besar" in t for t in rig.texts(budi)))
        rig.emulator.user_sends(budi, budi, "Masih di sini")
        await rig.until(lambda: any("Masih di sini" in t for t in rig.texts(rig.group, thread)))

    async def test_a_file_of_a_refused_type_is_noted_not_kept(self, rig: Rig) -> None:
        """A program sent as a document is not kept: the topic gets its name and the
        reason, nothing lands in the blob store."""
        ana = rig.patron("Ana")
        thread = await rig.opened(ana, "Here is the tool")
        rig.emulator.user_sends_file(ana, ana, "setup.exe", b"MZ\x90\x00" + bytes(100),
                                     mime_type="application/x-msdownload")
        line = await rig.until(lambda: next((t for t in rig.texts(rig.group, thread)
                                             if t.startswith("📎")), None))
        assert "setup.exe" in line and "not accepted" in line
        conversation = await rig.conversation(ana)
        assert conversation is not None
        [noted] = [a for m in await rig.store.history(conversation.id) for a in m.attachments]
        assert not noted.kept and noted.name == "setup.exe"
        await rig.until(lambda: any("cannot take files like setup.exe" in t
                                    for t in rig.texts(ana)))

    async def test_a_blocked_patrons_photo_is_never_fetched(self, rig: Rig) -> None:
        """A blocked patron is refused before their file is fetched: no getFile, nothing
        kept in the blob store, and nothing reaches the topic."""
        ana = rig.patron("Ana")
        thread = await rig.opened(ana, "Hello")
        await rig.store.save_block(Block(new_id(), BlockKind.TELEGRAM, str(ana)))
        image = png(7)
        before = len(rig.from_bot(rig.group, thread))
        rig.emulator.user_sends_file(ana, ana, "spam.png", image, photo=True)
        await rig.until(lambda: any("cannot take messages" in t for t in rig.texts(ana)))
        assert rig.calls("getFile") == []
        assert not rig.blobs.path(hashlib.sha256(image).hexdigest()).exists()
        assert len(rig.from_bot(rig.group, thread)) == before

    async def test_without_topics_the_caption_names_the_patron(self, plain_rig: Rig) -> None:
        """In a group without topics a patron's photo carries their name as its author."""
        rig = plain_rig
        ana = rig.patron("Ana")
        rig.emulator.user_sends(ana, ana, "First question")
        await rig.until(lambda: any("First question" in t for t in rig.texts(rig.group)))
        rig.emulator.user_sends_file(ana, ana, "shelf.png", png(5), photo=True,
                                     caption="Which shelf?")
        shown = await rig.until(lambda: next((m for m in rig.from_bot(rig.group)
                                              if "photo" in m), None))
        assert shown["caption"].startswith("Ana [#") and shown["caption"].endswith(
            "Which shelf?")
        assert shown["caption_entities"][0]["type"] == "bold"


class TestDeskToPatron:
    async def test_librarian_document_arrives_with_identical_bytes(self, rig: Rig) -> None:
        """A document a librarian posts in the topic reaches the patron's private chat as
        a document, same name, same bytes, the librarian's name as the caption."""
        ana = rig.patron("Ana")
        thread = await rig.opened(ana, "Can you send the form?")
        form = b"%PDF-1.7\n" + bytes(range(256)) * 40
        rig.emulator.user_sends_file(rig.group, rig.librarian, "loan form.pdf", form,
                                     caption="Fill this in", message_thread_id=thread)
        got = await rig.until(lambda: next((m for m in rig.from_bot(ana)
                                            if "document" in m), None))
        assert got["document"]["file_name"] == "loan form.pdf"
        assert got["caption"] == "Sari Dewi\nFill this in"
        assert await rig.download(got["document"]["file_id"]) == form

    async def test_librarian_voice_note_arrives_as_a_voice_note(self, rig: Rig) -> None:
        """A librarian's voice note reaches the patron as a voice note with the same bytes."""
        ana = rig.patron("Ana")
        thread = await rig.opened(ana, "Please explain by voice")
        voice = ogg(7)
        rig.emulator.user_sends_voice(rig.group, rig.librarian, voice,
                                      message_thread_id=thread)
        got = await rig.until(lambda: next((m for m in rig.from_bot(ana) if "voice" in m),
                                           None))
        assert await rig.download(got["voice"]["file_id"]) == voice

    async def test_librarian_album_is_one_reply_and_delete_withdraws_all_of_it(
        self, rig: Rig
    ) -> None:
        """A librarian's album of two photos reaches the patron as one album (one stored
        reply); /delete as a reply to it deletes both photos from the private chat."""
        ana = rig.patron("Ana")
        thread = await rig.opened(ana, "Show me the reading room")
        album = rig.emulator.user_sends_album(
            rig.group, rig.librarian, [("photo", "a.png", png(21)), ("photo", "b.png", png(22))],
            caption="Our reading room", message_thread_id=thread)
        photos = await rig.until(lambda: rig.with_("photo", ana, count=2))
        assert photos[0]["caption"] == "Sari Dewi\nOur reading room"
        assert photos[0]["media_group_id"] == photos[1]["media_group_id"]
        conversation = await rig.conversation(ana)
        assert conversation is not None
        replies = [m for m in await rig.store.history(conversation.id) if m.attachments]
        assert len(replies) == 1 and len(replies[0].attachments) == 2
        rig.emulator.user_sends(rig.group, rig.librarian, "/delete",
                                message_thread_id=thread,  # any photo of the album will do
                                reply_to_message_id=album[1]["message_id"])
        await rig.until(lambda: not rig.with_("photo", ana))
        await rig.until(lambda: any("Withdrawn" in t for t in rig.texts(rig.group, thread)))
        assert len(rig.calls("deleteMessage")) == 2

    async def test_withdrawing_a_text_reply_deletes_it(self, rig: Rig) -> None:
        """/delete on a librarian's text answer deletes it from the patron's chat."""
        ana = rig.patron("Ana")
        thread = await rig.opened(ana, "When do you open?")
        said = rig.emulator.user_sends(rig.group, rig.librarian, "At 9, wrong answer",
                                       message_thread_id=thread)
        await rig.until(lambda: any("wrong answer" in t for t in rig.texts(ana)))
        rig.emulator.user_sends(rig.group, rig.librarian, "/delete", message_thread_id=thread,
                                reply_to_message_id=said["message_id"])
        await rig.until(lambda: not any("wrong answer" in t for t in rig.texts(ana)))
        assert rig.calls("deleteMessage")

    async def test_blocked_patron_is_unreachable_and_the_topic_says_so(self, rig: Rig) -> None:
        """When a patron blocks the bot, Telegram's my_chat_member update makes the topic
        say so at once, and the patron is recorded as unreachable."""
        ana = rig.patron("Ana")
        thread = await rig.opened(ana, "Thanks, that is all")
        rig.emulator.block_bot(ana)
        await rig.until(lambda: any("blocked the bot" in t
                                    for t in rig.texts(rig.group, thread)))
        assert (await PatronBook(rig.store).state(ana)).unreachable_since > 0
        rig.emulator.user_sends(ana, ana, "I am back")
        await rig.until(lambda: any("started the bot again" in t
                                    for t in rig.texts(rig.group, thread)))
        assert (await PatronBook(rig.store).state(ana)).unreachable_since == 0


class TestPartialSends:
    async def test_a_retry_goes_on_from_the_post_that_failed(self, rig: Rig) -> None:
        """A long text and a document go as two posts; when the document fails, the retry
        posts only the document: the patron never gets the text twice."""
        ana = rig.patron("Ana")
        await rig.opened(ana, "Hello")
        pdf = b"%PDF-1.4\n" + bytes(range(256)) * 8
        stored = await rig.blobs.put(pdf)
        form = Attachment(AttachmentKind.DOCUMENT, "form.pdf", "application/pdf",
                          stored.size, stored.digest)
        attachments, data = await available(rig.blobs, (form,))
        posts = plan("x" * 1500, attachments)
        assert len(posts) == 2
        conversation = await rig.conversation(ana)
        assert conversation is not None
        first = (await rig.store.history(conversation.id))[0]  # progress belongs to a message
        log = PostLog(rig.store, first.id, f"telegram.posts.{ana}")
        rig.emulator.set_faults(FaultPlan(methods=frozenset({"sendDocument"}),
                                          server_error=1.0))
        with pytest.raises(TelegramError):
            await send_posts(rig.bot, Place(ana), posts, data, log)
        rig.emulator.clear_faults()
        ids = await send_posts(rig.bot, Place(ana), posts, data, log)

        texts = [m for m in rig.from_bot(ana) if m.get("text", "").startswith("xxx")]
        documents = [m for m in rig.from_bot(ana) if "document" in m]
        assert (len(texts), len(documents)) == (1, 1)
        assert ids == [texts[0]["message_id"], documents[0]["message_id"]]


class TestRestart:
    async def test_an_album_held_across_a_restart_goes_once(self, rig: Rig) -> None:
        """A librarian's album being gathered when the bridge stops is passed on by the
        next poller, once: one stored reply, one album in the patron's chat."""
        ana = rig.patron("Ana")
        thread = await rig.opened(ana, "Send me the map")
        await rig.restart_poller(60.0)  # a window that will not end before the restart
        rig.emulator.user_sends_album(
            rig.group, rig.librarian, [("photo", "1.png", png(51)), ("photo", "2.png", png(52))],
            caption="Floor plans", message_thread_id=thread)
        await rig.until(lambda: not rig.emulator.pending_updates())  # confirmed: held
        await rig.until_async(lambda: _held(rig))
        await rig.restart_poller(0.1)
        await rig.until(lambda: rig.with_("photo", ana, count=2))
        rig.emulator.user_sends(rig.group, rig.librarian, "Anything else?",
                                message_thread_id=thread)
        await rig.until(lambda: any("Anything else?" in t for t in rig.texts(ana)))
        assert len(rig.with_("photo", ana) or []) == 2
        conversation = await rig.conversation(ana)
        assert conversation is not None
        replies = [m for m in await rig.store.history(conversation.id) if m.attachments]
        assert len(replies) == 1


async def _held(rig: Rig) -> bool:
    return bool(await rig.store.get_state("telegram.albums"))


class TestEmulatorAlbums:
    async def test_eleven_items_are_refused_as_telegram_does(self, rig: Rig) -> None:
        """sendMediaGroup with 11 photos fails with Telegram's 400 and its exact words,
        and sends nothing."""
        media = [InputMediaPhoto(png(30 + i)) for i in range(11)]
        with pytest.raises(BadRequest) as refused:
            await rig.bot.send_media_group(rig.group, media)
        assert refused.value.message == "Too many messages to send as an album"
        body = await _raw(rig, "sendMediaGroup", {
            "chat_id": rig.group,
            "media": [{"type": "photo", "media": "AgACAgIAAx-unknown"}] * 11})
        assert body == {"ok": False, "error_code": 400,
                        "description": "Bad Request: too many messages to send as an album"}
        assert rig.emulator.messages(rig.group) == []

    async def test_captions_over_1024_characters_are_refused(self, rig: Rig) -> None:
        """A 1,100-character caption fails on sendPhoto and sendMediaGroup with Telegram's
        exact error; 1,024 characters after HTML parsing pass."""
        long = "x" * 1100
        with pytest.raises(BadRequest, match=r"^Message caption is too long$"):
            await rig.bot.send_photo(rig.group, png(40), caption=long)
        with pytest.raises(BadRequest, match=r"^Message caption is too long$"):
            await rig.bot.send_media_group(rig.group, [InputMediaPhoto(png(41)),
                                                       InputMediaPhoto(png(42))], caption=long)
        body = await _raw(rig, "sendMediaGroup", {"chat_id": rig.group, "media": [
            {"type": "photo", "media": "x", "caption": long}, {"type": "photo", "media": "y"}]})
        assert body["description"] == "Bad Request: message caption is too long"
        assert rig.emulator.messages(rig.group) == []
        fits = "<b>" + "y" * 1024 + "</b>"
        sent = await rig.bot.send_photo(rig.group, png(43), caption=fits, parse_mode="HTML")
        assert sent.caption == "y" * 1024

    async def test_an_album_counts_each_item_against_the_group_limit(self, rig: Rig) -> None:
        """With 18 of the group's 20 a minute spent, an album of three is refused whole
        with 429 and retry_after; an album of two still fits."""
        for n in range(18):
            await rig.bot.send_message(rig.group, f"line {n}")
        three = [InputMediaPhoto(png(60 + i)) for i in range(3)]
        with pytest.raises(RetryAfter):
            await rig.bot.send_media_group(rig.group, three)
        assert len(rig.emulator.messages(rig.group)) == 18
        sent = await rig.bot.send_media_group(rig.group, three[:2])
        assert len(sent) == 2 and sent[0].media_group_id == sent[1].media_group_id

    async def test_get_file_hands_out_at_most_20_mb(self, rig: Rig) -> None:
        """getFile refuses a 25 MB file with Telegram's "file is too big"."""
        sent = rig.emulator.user_sends_file(rig.group, rig.librarian, "big.bin",
                                            bytes(25 * 1024 * 1024))
        with pytest.raises(BadRequest, match=r"^File is too big$"):
            await rig.bot.get_file(sent["document"]["file_id"])

    async def test_documents_do_not_mix_with_photos(self, rig: Rig) -> None:
        """An album mixing a document with a photo fails with Telegram's words."""
        body = await _raw(rig, "sendMediaGroup", {"chat_id": rig.group, "media": [
            {"type": "photo", "media": "a"}, {"type": "document", "media": "b"}]})
        assert body["description"] == ("Bad Request: document can't be mixed with other "
                                       "media types")


async def _raw(rig: Rig, method: str, body: dict[str, Any]) -> dict[str, Any]:
    """A Bot API call as JSON, to read Telegram's exact error text."""
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{rig.url}/bot{TOKEN}/{method}", json=body) as response:
            answer: dict[str, Any] = await response.json()
            return answer


async def test_desk_page_shows_photos_inline_and_other_files_as_links() -> None:
    """The emulator's desk page, in Chromium: a photo is an image, a document, a voice
    note and an album's items are download links, and a crafted file name or caption
    shows as text, never as markup."""
    require_chromium()
    emulator = BotApiEmulator()
    url = await emulator.start()
    try:
        group = emulator.seed_demo_desk()
        sari = next(m["user"]["id"] for m in emulator.members(group)
                    if m["user"]["first_name"] == "Sari")
        emulator.user_sends_file(group, sari, "cover.png", png(70), photo=True,
                                 caption="<img src=x onerror=alert(1)>")
        emulator.user_sends_file(group, sari, '"><img src=x onerror=alert(2)>.pdf',
                                 b"%PDF-1.4 x")
        emulator.user_sends_voice(group, sari, ogg(71), duration=65)
        emulator.user_sends_album(group, sari, [("document", "a.pdf", b"%PDF a"),
                                                ("document", "b.pdf", b"%PDF b")])
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
            try:
                page = await browser.new_page()
                dialogs: list[str] = []
                page.on("dialog", lambda dialog: dialogs.append(dialog.message))
                await page.goto(f"{url}/desk?chat_id={group}")
                await page.wait_for_selector("img.photo")
                links = page.locator("a.doc")
                await links.nth(3).wait_for()
                labels = [await links.nth(i).inner_text() for i in range(4)]
                assert '"><img src=x onerror=alert(2)>.pdf' in labels[0]
                assert "Voice message · 1:05" in labels[1]
                assert "a.pdf" in labels[2] and "b.pdf" in labels[3]
                assert await page.locator("img").count() == 1  # only the photo
                assert await page.get_by_text("<img src=x onerror=alert(1)>").count() == 1
                assert await page.locator(".msg.album-next").count() == 1
                href = await links.nth(1).get_attribute("href")
                async with aiohttp.ClientSession() as http:
                    async with http.get(f"{url}{href}") as response:
                        assert await response.read() == ogg(71)
                        assert response.headers["Content-Disposition"].startswith("attachment")
                assert dialogs == []
            finally:
                await browser.close()
    finally:
        await emulator.stop()

"""The Bot API emulator, driven by the real python-telegram-bot client over loopback.

Each test proves one Telegram behaviour the bridge depends on; when the emulator and
Telegram disagree, these tests are where that shows first.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import aiohttp
import pytest
from telegram import (
    Bot,
    ChatMemberAdministrator,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, RetryAfter

from adapters.telegram.emulator import BotApiEmulator

TOKEN = "123456:TEST"


@dataclass
class Desk:
    emulator: BotApiEmulator
    url: str
    bot: Bot
    group: int
    sari: int
    budi: int


async def _desk(emulator: BotApiEmulator) -> AsyncIterator[Desk]:
    url = await emulator.start()
    group = emulator.seed_demo_desk()
    people = {m["user"]["first_name"]: m["user"]["id"] for m in emulator.members(group)}
    bot = Bot(TOKEN, base_url=f"{url}/bot", base_file_url=f"{url}/file/bot")
    try:
        async with bot:
            yield Desk(emulator, url, bot, group, people["Sari"], people["Budi"])
    finally:
        await emulator.stop()


@pytest.fixture
async def desk() -> AsyncIterator[Desk]:
    async for rig in _desk(BotApiEmulator()):
        yield rig


@pytest.fixture
async def unlimited() -> AsyncIterator[Desk]:
    async for rig in _desk(BotApiEmulator(rate_limits=False)):
        yield rig


@pytest.fixture(autouse=True)
def _timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opt in to PTB's coming ``RetryAfter.retry_after`` type instead of its warning."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


def _seconds(wait: int | timedelta) -> float:
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


class TestBotAndUpdates:
    async def test_get_me(self, desk: Desk) -> None:
        """getMe describes the bot the token belongs to."""
        me = await desk.bot.get_me()
        assert (me.id, me.username, me.is_bot) == (123456, "pustaka_bot", True)

    async def test_user_message_in_topic_reaches_get_updates(self, desk: Desk) -> None:
        """A librarian's topic message arrives with its thread, replying to the topic start."""
        topic = await desk.bot.create_forum_topic(desk.group, "Ana")
        desk.emulator.user_sends(desk.group, desk.sari, "On it",
                                 message_thread_id=topic.message_thread_id)
        [update] = await desk.bot.get_updates(timeout=0)
        msg = update.message
        assert msg is not None and msg.text == "On it"
        assert msg.message_thread_id == topic.message_thread_id and msg.is_topic_message
        assert msg.reply_to_message is not None
        assert msg.reply_to_message.forum_topic_created is not None

    async def test_offset_confirms_updates(self, desk: Desk) -> None:
        """Updates below the offset are dropped for good; later ones stay queued."""
        desk.emulator.user_sends(desk.group, desk.sari, "one")
        desk.emulator.user_sends(desk.group, desk.sari, "two")
        _, second = await desk.bot.get_updates(timeout=0)
        again = await desk.bot.get_updates(offset=second.update_id, timeout=0)
        assert [u.update_id for u in again] == [second.update_id]
        assert await desk.bot.get_updates(offset=second.update_id + 1, timeout=0) == ()
        assert desk.emulator.pending_updates() == []

    async def test_long_poll_returns_when_update_arrives(self, desk: Desk) -> None:
        """A long poll answers as soon as an update arrives, not at its timeout."""
        poll = asyncio.create_task(desk.bot.get_updates(timeout=5))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        desk.emulator.user_sends(desk.group, desk.budi, "hello")
        updates = await asyncio.wait_for(poll, 2)
        assert len(updates) == 1 and time.monotonic() - started < 1

    async def test_bot_does_not_receive_its_own_messages(self, desk: Desk) -> None:
        """What the bot sends never comes back to it through getUpdates."""
        await desk.bot.send_message(desk.group, "from the bot")
        assert await desk.bot.get_updates(timeout=0) == ()

    async def test_second_poller_cuts_off_the_first(self, desk: Desk) -> None:
        """Two getUpdates at once end the older one with 409 Conflict, as on Telegram."""
        first = asyncio.create_task(desk.bot.get_updates(timeout=5))
        await asyncio.sleep(0.1)
        async with Bot(TOKEN, base_url=f"{desk.url}/bot") as twin:
            second = asyncio.create_task(twin.get_updates(timeout=0))
            with pytest.raises(Conflict):
                await asyncio.wait_for(first, 2)
            assert await second == ()


class TestMessages:
    async def test_html_message_lands_in_topic(self, desk: Desk) -> None:
        """An HTML message sent into a new topic is stored as text plus entities in that topic."""
        topic = await desk.bot.create_forum_topic(desk.group, "Ana — widget")
        sent = await desk.bot.send_message(
            desk.group, "<b>Ana</b> asks: <i>opening hours?</i>", parse_mode=ParseMode.HTML,
            message_thread_id=topic.message_thread_id,
        )
        assert sent.text == "Ana asks: opening hours?"
        assert [(e.type, e.offset, e.length) for e in sent.entities] == [
            ("bold", 0, 3), ("italic", 10, 14)]
        assert sent.message_thread_id == topic.message_thread_id and sent.is_topic_message
        assert desk.emulator.topics(desk.group) == [{
            "message_thread_id": topic.message_thread_id, "name": "Ana — widget",
            "icon_color": topic.icon_color, "closed": False}]
        shown = desk.emulator.messages(desk.group, topic.message_thread_id)
        assert [m["message_id"] for m in shown] == [topic.message_thread_id, sent.message_id]

    async def test_entity_offsets_are_utf16(self, desk: Desk) -> None:
        """Entity offsets count UTF-16 code units, so an emoji shifts what follows by two."""
        sent = await desk.bot.send_message(desk.group, "😀 <b>buku</b> &amp; /help",
                                           parse_mode=ParseMode.HTML)
        assert sent.text == "😀 buku & /help"
        assert [(e.type, e.offset, e.length) for e in sent.entities] == [
            ("bold", 3, 4), ("bot_command", 10, 5)]

    async def test_deleted_topic_is_thread_not_found(self, desk: Desk) -> None:
        """Sending into a topic a human deleted fails with 'message thread not found'."""
        topic = await desk.bot.create_forum_topic(desk.group, "Gone soon")
        desk.emulator.delete_topic(desk.group, topic.message_thread_id)
        with pytest.raises(BadRequest, match=r"(?i)message thread not found"):
            await desk.bot.send_message(desk.group, "hello?",
                                        message_thread_id=topic.message_thread_id)

    async def test_blocked_user_is_forbidden(self, desk: Desk) -> None:
        """A private chat whose user blocked the bot refuses with 403 Forbidden."""
        patron = desk.emulator.add_user("Ana")
        desk.emulator.user_sends(patron, patron, "/start")
        await desk.bot.send_message(patron, "Welcome")
        desk.emulator.block_bot(patron)
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await desk.bot.send_message(patron, "still there?")

    async def test_bad_html_is_refused(self, desk: Desk) -> None:
        """Unbalanced or unknown HTML tags fail with 'can't parse entities', as on Telegram."""
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities: can't find end tag"):
            await desk.bot.send_message(desk.group, "<b>open", parse_mode=ParseMode.HTML)
        with pytest.raises(BadRequest, match=r'(?i)unsupported start tag "div"'):
            await desk.bot.send_message(desk.group, "<div>x</div>", parse_mode=ParseMode.HTML)

    async def test_parse_mode_none_is_plain_text(self, desk: Desk) -> None:
        """parse_mode "None" sends the text as written, as the Bot API server allows."""
        sent = await desk.bot.send_message(desk.group, "<b>as typed</b>", parse_mode="None")
        assert (sent.text, sent.entities) == ("<b>as typed</b>", ())

    async def test_text_length_limits(self, unlimited: Desk) -> None:
        """Text must be 1 to 4096 characters after entity parsing."""
        bot, group = unlimited.bot, unlimited.group
        await bot.send_message(group, "<b>" + "x" * 4096 + "</b>", parse_mode=ParseMode.HTML)
        with pytest.raises(BadRequest, match=r"(?i)message is too long"):
            await bot.send_message(group, "x" * 4097)
        with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
            await bot.send_message(group, "<b> </b>", parse_mode=ParseMode.HTML)

    async def test_edit_message_text(self, desk: Desk) -> None:
        """An edit changes the text and marks it edited; an identical edit is refused."""
        sent = await desk.bot.send_message(desk.group, "draft")
        edited = await desk.bot.edit_message_text("final", desk.group, sent.message_id)
        assert isinstance(edited, Message) and edited.text == "final"
        assert edited.edit_date is not None
        with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
            await desk.bot.edit_message_text("final", desk.group, sent.message_id)

    async def test_topic_needs_forum_and_rights(self, desk: Desk) -> None:
        """createForumTopic needs a forum and the bot's can_manage_topics right."""
        plain = desk.emulator.create_group("Plain group", forum=False)
        with pytest.raises(BadRequest, match=r"(?i)the chat is not a forum"):
            await desk.bot.create_forum_topic(plain, "x")
        desk.emulator.set_bot_rights(desk.group, can_manage_topics=False)
        member = await desk.bot.get_chat_member(desk.group, desk.bot.id)
        assert isinstance(member, ChatMemberAdministrator) and not member.can_manage_topics
        with pytest.raises(BadRequest, match=r"(?i)not enough rights to create a topic"):
            await desk.bot.create_forum_topic(desk.group, "x")


class TestRateLimits:
    async def test_group_burst_gets_429(self, desk: Desk) -> None:
        """More than 20 messages a minute to one group are refused with RetryAfter."""
        for n in range(20):
            await desk.bot.send_message(desk.group, f"message {n}")
        with pytest.raises(RetryAfter) as refused:
            for n in range(20, 25):
                await desk.bot.send_message(desk.group, f"message {n}")
        assert 1 <= _seconds(refused.value.retry_after) <= 60
        assert desk.emulator.stats["429"] == 1
        assert desk.emulator.stats["messages_sent"] == 20

    async def test_no_limits_when_off(self, unlimited: Desk) -> None:
        """With rate limits off the same burst all goes through."""
        for n in range(25):
            await unlimited.bot.send_message(unlimited.group, f"message {n}")
        assert unlimited.emulator.stats["429"] == 0

    async def test_private_chat_allows_a_short_burst(self) -> None:
        """A private chat takes a burst of three, then one a second (on an injected clock)."""
        now = [1000.0]
        emulator = BotApiEmulator(clock=lambda: now[0])
        async for rig in _desk(emulator):
            patron = emulator.add_user("Ana")
            emulator.user_sends(patron, patron, "hi")
            for _ in range(3):
                await rig.bot.send_message(patron, "burst")
            with pytest.raises(RetryAfter) as refused:
                await rig.bot.send_message(patron, "one too many")
            assert _seconds(refused.value.retry_after) == 1
            now[0] += 1.0
            await rig.bot.send_message(patron, "after a second")


class TestErrorsOnTheWire:
    async def test_wrong_token_is_unauthorized(self, desk: Desk) -> None:
        """A well-formed but wrong token gets 401 Unauthorized."""
        with pytest.raises(InvalidToken):
            async with Bot("999:WRONG", base_url=f"{desk.url}/bot"):
                pass

    async def test_json_shapes(self, desk: Desk) -> None:
        """Errors carry Telegram's exact JSON, and JSON and form bodies are both accepted."""
        api = f"{desk.url}/bot{TOKEN}"
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{api}/noSuchMethod") as r:
                assert (r.status, await r.json()) == (404, {
                    "ok": False, "error_code": 404, "description": "Not Found: method not found"})
            async with http.post(f"{api}/sendMessage", json={"chat_id": 42, "text": "x"}) as r:
                assert (r.status, await r.json()) == (400, {
                    "ok": False, "error_code": 400, "description": "Bad Request: chat not found"})
            async with http.post(f"{api}/sendMessage",
                                 json={"chat_id": desk.group, "text": "json"}) as r:
                assert (await r.json())["result"]["text"] == "json"
            form = {"chat_id": str(desk.group), "text": "form"}
            async with http.post(f"{api}/SENDMESSAGE", data=form) as r:
                assert (await r.json())["result"]["text"] == "form"


class TestFilesAndButtons:
    async def test_document_round_trip(self, desk: Desk) -> None:
        """An uploaded document comes back byte for byte through getFile and the file URL."""
        content = b"%PDF-1.4 library card scan"
        sent = await desk.bot.send_document(desk.group, content, filename="card.pdf")
        document = sent.document
        assert document is not None and document.file_size == len(content)
        assert document.mime_type == "application/pdf"
        file = await desk.bot.get_file(document.file_id)
        assert bytes(await file.download_as_bytearray()) == content

    async def test_callback_query_round_trip(self, desk: Desk) -> None:
        """A pressed inline button reaches the bot as callback_query and is answered once."""
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Claim", callback_data="claim:7")]])
        sent = await desk.bot.send_message(desk.group, "New chat", reply_markup=keyboard)
        desk.emulator.press_button(desk.group, sent.message_id, desk.budi, "claim:7")
        [update] = await desk.bot.get_updates(timeout=0)
        query = update.callback_query
        assert query is not None and query.data == "claim:7"
        assert query.from_user.id == desk.budi and query.message is not None
        assert query.message.message_id == sent.message_id
        assert await desk.bot.answer_callback_query(query.id, text="Claimed") is True
        with pytest.raises(BadRequest, match=r"(?i)query is too old"):
            await desk.bot.answer_callback_query(query.id)


class TestDeskPage:
    async def test_sim_send_shows_in_state(self, desk: Desk) -> None:
        """A message typed on the desk page becomes an update and shows in the page's state."""
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{desk.url}/desk") as r:
                assert r.status == 200 and "desk.js" in await r.text()
            body = {"chat_id": desk.group, "user_id": desk.sari, "text": "<b>not html</b>"}
            async with http.post(f"{desk.url}/_sim/send", json=body) as r:
                sent = await r.json()
            async with http.get(f"{desk.url}/_sim/state",
                                params={"chat_id": str(desk.group)}) as r:
                state = await r.json()
        assert state["messages"][-1]["text"] == "<b>not html</b>"
        assert state["messages"][-1]["message_id"] == sent["message_id"]
        [update] = await desk.bot.get_updates(timeout=0)
        assert update.message is not None and update.message.text == "<b>not html</b>"

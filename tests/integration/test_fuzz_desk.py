"""Property-based fuzzing of the desk's update handling: Update JSON shaped like
Telegram's (messages, edits and button presses; from librarians,
outsiders and strangers; in the desk group, its topics and elsewhere) parsed by
python-telegram-bot's ``Update.de_json`` into ``DeskPoller.handle``, with the real PTB
client against the Bot API emulator and the real SQLite store. Nothing raises, nothing
is skipped as malformed, and nobody outside the group (a button press, a message
elsewhere) changes a conversation."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from telegram import Bot, Update
from telegram.error import TelegramError

from adapters.telegram.desk import DeskPoller
from adapters.telegram.emulator import BotApiEmulator
from bridge.bootstrap import build
from bridge.config import load_config
from bridge.store.sqlite import SqliteStore
from routing.model import Channel, Conversation, Inbound, PageInfo, new_id
from tests.eventually import eventually
from tests.integration.test_desk_commands import PatronSide

FUZZ = settings(max_examples=150, deadline=None, derandomize=bool(os.environ.get("CI")),
                suppress_health_check=[HealthCheck.too_slow,
                                       HealthCheck.function_scoped_fixture])
TOKEN = "424242:DESK-fuzz"
T = TypeVar("T")


@dataclass
class Desk:
    loop: asyncio.AbstractEventLoop
    bot: Bot
    poller: DeskPoller
    store: SqliteStore
    patron_side: PatronSide
    group: int
    thread: int
    cid: str
    ana: int
    outsider: int

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=30)


class _Swallowed(logging.Handler):
    """Exceptions the poller caught and logged instead of raising: each is a crash.
    A TelegramError is not: the emulator refusing a call about a chat or message our
    made-up update invented (400 not found) is the API's clean refusal."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and not isinstance(record.exc_info[1], TelegramError):
            self.records.append(record)


async def _open(tmp: Path) -> tuple[Desk, list[Any]]:
    """The desk as ``bootstrap.build`` wires it (nothing started but the outbox: the test
    hands each update to the poller itself); the widget patron is a recorder."""
    emulator = BotApiEmulator(rate_limits=False, bot_token=TOKEN)
    api = await emulator.start()
    group = emulator.create_group("Pustaka Desk", username="pustaka_desk")
    ana = emulator.add_user("Ana", username="ana_w")
    outsider = emulator.add_user("Eve", username="eve")
    emulator.add_member(group, ana, "administrator")
    config = load_config(None, env={"PUSTAKA_TELEGRAM_TOKEN": TOKEN, "PUSTAKA_SECRET": "f" * 32},
                         storage={"data_dir": str(tmp)},
                         telegram={"group_id": group, "api_url": api, "poll_timeout": 1,
                                   # Telegram's limits are off in this emulator: lift ours
                                   # too, or 150 examples wait a minute per 20 group posts.
                                   "messages_per_second": 10**6,
                                   "group_messages_per_minute": 10**6,
                                   "private_messages_per_second": 10**6})
    patron_side = PatronSide()
    parts = await build(config, senders={Channel.WIDGET: patron_side})
    task = asyncio.ensure_future(parts.worker.run())
    accepted = await parts.router.intake.accept(
        Inbound(Channel.WIDGET, "visitor-1", "Hello?", name="Sari",
                page=PageInfo(ip="203.0.113.9")))

    async def opened() -> Conversation | None:
        found = await parts.store.get_conversation(accepted.conversation.id)
        return found if found is not None and found.desk_thread is not None else None

    found = await eventually(opened)
    desk = Desk(asyncio.get_running_loop(), parts.bot, parts.poller, parts.store, patron_side,
                group, found.desk_thread, found.id, ana, outsider)
    return desk, [emulator, parts, task]


async def _close(desk: Desk, opened: list[Any]) -> None:
    emulator, parts, task = opened
    await parts.worker.drain(2.0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await parts.close()
    await emulator.stop()


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    """The desk on an event loop of its own thread, so hypothesis can drive it."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    opened, parts = asyncio.run_coroutine_threadsafe(
        _open(tmp_path_factory.mktemp("desk")), loop).result(timeout=30)
    try:
        yield opened
    finally:
        asyncio.run_coroutine_threadsafe(_close(opened, parts), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


_TEXTS = st.sampled_from(["/verify 12345", "/verify", "/close", "/block 1d", "/block x ip",
                          "/claim", "/takeover", "/transfer @ana_w", "/transfer @nobody",
                          "/r hours", "/note secret", "/onduty", "/unblock", "/help",
                          "hello patron", "/stats", "", "/verify 1234567890" * 5]) | \
    st.text(max_size=60)


def _update(draw: st.DrawFn, desk: Desk) -> tuple[dict[str, Any], bool]:
    sender_id = draw(st.sampled_from([desk.ana, desk.outsider, 777, desk.bot.id]))
    user = {"id": sender_id, "is_bot": sender_id == desk.bot.id,
            "first_name": draw(st.text(min_size=1, max_size=20))}
    chat_id = draw(st.sampled_from([desk.group, desk.group, -100999, sender_id]))
    chat = {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup",
            "is_forum": draw(st.booleans())}
    message: dict[str, Any] = {
        "message_id": draw(st.integers(1, 10**6)), "date": 1_780_000_000, "chat": chat,
        "from": user, "text": draw(_TEXTS)}
    if draw(st.booleans()):
        message["message_thread_id"] = draw(st.sampled_from([desk.thread, 1, 99999]))
        message["is_topic_message"] = True
    if draw(st.booleans()):
        message["reply_to_message"] = {"message_id": draw(st.integers(1, 10**6)),
                                       "date": 1_780_000_000, "chat": chat, "text": "x"}
    kind = draw(st.sampled_from(["message", "edited_message", "callback_query"]))
    body: dict[str, Any] = message
    if kind == "edited_message":
        message["edit_date"] = 1_780_000_100
    if kind == "callback_query":
        action = draw(st.sampled_from(["claim", "close", "block", "verify", "", "x" * 70]))
        body = {"id": str(draw(st.integers(1, 10**9))), "from": user, "chat_instance": "c",
                "data": draw(st.sampled_from([f"{action}:{desk.cid}", f"{action}:nope",
                                               action])), "message": message}
    # Telegram delivers a group message only from a member, so a message "from" Eve in
    # the group is one Telegram never sends; her button presses and her messages
    # elsewhere are real, and must change nothing.
    outsider = sender_id in (desk.outsider, 777) and (
        kind == "callback_query" or chat_id != desk.group)
    return {"update_id": draw(st.integers(1, 2**31)), kind: body}, outsider


@FUZZ
@given(data=st.data())
def test_any_update_is_handled_or_refused(desk: Desk, data: st.DataObject) -> None:
    """Every update is handled without raising or being skipped as malformed, and an
    outsider's changes nothing in the conversation."""
    raw, outsider = data.draw(st.builds(lambda: None).flatmap(
        lambda _: st.composite(lambda draw: _update(draw, desk))()))
    try:
        update = Update.de_json(raw, desk.bot)
    except Exception:  # not an update Telegram would send: not ours to test
        assume(False)
        raise
    before = desk.run(desk.store.get_conversation(desk.cid))
    sent_before = len(desk.patron_side.got)
    made_after = new_id()  # ids sort by creation: what this update made sorts after it
    swallowed = _Swallowed()
    logging.getLogger("adapters.telegram").addHandler(swallowed)
    try:
        desk.run(desk.poller.handle(update))
    finally:
        logging.getLogger("adapters.telegram").removeHandler(swallowed)
    assert not swallowed.records, [r.getMessage() for r in swallowed.records]
    if outsider:
        after = desk.run(desk.store.get_conversation(desk.cid))
        assert after == before
        # An earlier example's line may still reach the patron now (the outbox sends
        # when it can); nothing this update made may.
        assert [m for m in desk.patron_side.got[sent_before:] if m.id > made_after] == []

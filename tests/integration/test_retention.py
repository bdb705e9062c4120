"""The retention job, through the bridge ``build`` wires, a clock the test moves and the
Bot API emulator: only what is older than the library keeps goes, the desk topics of
forgotten conversations close (and are deleted when asked), the counts stay."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from adapters.telegram.emulator import BotApiEmulator, FaultPlan
from bridge.admin.retention import BotTopics
from bridge.bootstrap import build
from bridge.config import load_config
from bridge.parts import Parts
from routing.model import (
    Attachment,
    AttachmentKind,
    Channel,
    Contact,
    Conversation,
    Direction,
    Message,
    PageInfo,
    Patron,
    Status,
    new_id,
)
from tests.eventually import JumpClock

TOKEN = "777777:RETENTION-test"
DAY = 86_400.0


@dataclass
class Rig:
    parts: Parts
    emulator: BotApiEmulator
    group: int
    clock: JumpClock


@pytest.fixture(params=[False, True], ids=["close-topics", "delete-topics"])
async def rig(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Rig]:
    emulator = BotApiEmulator(rate_limits=False, bot_token=TOKEN)
    api = await emulator.start("127.0.0.1", 0)
    group = emulator.seed_demo_desk()
    config = load_config(None, env={"PUSTAKA_TELEGRAM_TOKEN": TOKEN, "PUSTAKA_SECRET": "r" * 32},
                         server={"port": 0}, storage={"data_dir": str(tmp_path)},
                         telegram={"group_id": group, "api_url": api, "poll_timeout": 1},
                         retention={"delete_topics": request.param})
    clock = JumpClock()
    parts = await build(config, clock=clock, sleep=clock.sleep)
    yield Rig(parts, emulator, group, clock)
    await parts.close()
    await emulator.stop()


async def chat(rig: Rig, text: str, *, photo: bytes) -> Conversation:
    """A closed, rated widget conversation with a topic, a page with an IP, and a photo."""
    store, now = rig.parts.store, rig.clock.now()
    visitor = Patron(new_id(), name="Ana", created_at=now,
                     contacts=(Contact(Channel.WIDGET, new_id()),))
    await store.save_patron(visitor)
    topic = await rig.parts.bot.create_forum_topic(rig.group, f"Ana {text}")
    conversation = Conversation(
        new_id(), visitor.id, Channel.WIDGET, status=Status.CLOSED, rating=4,
        desk_thread=topic.message_thread_id, created_at=now, updated_at=now, closed_at=now,
        page=PageInfo(url="https://opac.example.org/r/1", ip="203.0.113.7"))
    await store.save_conversation(conversation)
    blob = await rig.parts.blobs.put(photo)
    file = Attachment(AttachmentKind.PHOTO, "p.jpg", "image/jpeg", blob.size, blob.digest)
    await store.append(Message(new_id(), conversation.id, Direction.PATRON, text,
                               created_at=now, attachments=(file,)), [])
    await store.append(Message(new_id(), conversation.id, Direction.LIBRARIAN, "answered",
                               created_at=now + 1), [])
    return conversation


def topic_state(rig: Rig, thread: int | None) -> str:
    for topic in rig.emulator.topics(rig.group):
        if topic["message_thread_id"] == thread:
            return "closed" if topic["closed"] else "open"
    return "deleted"


async def test_only_older_data_goes_and_topics_close(rig: Rig) -> None:
    """A year-old transcript, its page, visitor id, topic and file go; this week's stay;
    both conversations still count, with their ratings."""
    store, blobs = rig.parts.store, rig.parts.blobs
    old = await chat(rig, "old question about skripsi", photo=b"old photo bytes")
    rig.clock.advance(400 * DAY)
    new = await chat(rig, "new question about skripsi", photo=b"new photo bytes")
    stray = await blobs.put(b"an upload no message took")
    os.utime(blobs.path(stray.digest), (rig.clock.now(), rig.clock.now()))
    before = [c.id for c in await store.conversations_since(0)]

    done = await rig.parts.retention.run_once()  # type: ignore[union-attr]

    # The old page went with its transcript, so no page was left for the visitors' pass.
    assert (done.transcripts, done.messages, done.visitors, done.contacts, done.files) == (
        1, 2, 0, 1, 1)
    assert await store.history(old.id) == []
    assert [m.text for m in await store.history(new.id)] == [
        "new question about skripsi", "answered"]
    kept_old = await store.get_conversation(old.id)
    assert kept_old is not None and kept_old.page == PageInfo() and kept_old.rating == 4
    assert (await store.get_conversation(new.id)).page.ip == "203.0.113.7"  # type: ignore[union-attr]
    owner = await store.get_patron(old.patron_id)
    assert owner is not None and owner.contacts == ()
    assert [c.id for c in await store.conversations_since(0)] == before
    deleted = rig.parts.config.retention.delete_topics
    assert topic_state(rig, old.desk_thread) == ("deleted" if deleted else "closed")
    assert topic_state(rig, new.desk_thread) == "open"
    assert kept_old.desk_thread == (None if deleted else old.desk_thread)
    assert await blobs.get(stray.digest) == b"an upload no message took"
    assert sorted(p.name for p in Path(blobs.path(stray.digest)).parents[2].glob("??/??/*")) \
        == sorted([stray.digest, (await _digest(store, new))])


async def _digest(store: object, conversation: Conversation) -> str:
    [first, _answer] = await store.history(conversation.id)  # type: ignore[attr-defined]
    return str(first.attachments[0].digest)


async def test_a_visitors_page_goes_before_its_transcript(rig: Rig) -> None:
    """Forty days on, the page and IP and the visitor id go; the transcript stays."""
    month = await chat(rig, "a question", photo=b"y")
    rig.clock.advance(40 * DAY)
    done = await rig.parts.retention.run_once()  # type: ignore[union-attr]
    assert (done.transcripts, done.visitors, done.contacts, done.files) == (0, 1, 1, 0)
    kept = await rig.parts.store.get_conversation(month.id)
    assert kept is not None and kept.page == PageInfo()
    assert len(await rig.parts.store.history(month.id)) == 2
    assert topic_state(rig, month.desk_thread) == "open"


async def test_a_second_pass_forgets_nothing_more(rig: Rig) -> None:
    """Run again at once, the job finds nothing left to forget."""
    await chat(rig, "old", photo=b"x")
    rig.clock.advance(400 * DAY)
    await rig.parts.retention.run_once()  # type: ignore[union-attr]
    again = await rig.parts.retention.run_once()  # type: ignore[union-attr]
    assert (again.transcripts, again.messages, again.visitors, again.files) == (0, 0, 0, 0)


async def test_the_loop_runs_once_a_library_day(rig: Rig) -> None:
    """``run`` passes once on a day after run_at_hour, not again that day."""
    job = rig.parts.retention
    assert job is not None
    passes: list[float] = []

    async def counted() -> object:
        passes.append(rig.clock.now())
        return None

    object.__setattr__(job, "run_once", counted)
    task = asyncio.create_task(job.run())
    try:
        for _ in range(3):
            await asyncio.sleep(0.05)
            rig.clock.advance(600)
        first_day = len(passes)
        rig.clock.advance(DAY)
        await asyncio.sleep(0.05)
        rig.clock.advance(600)
        await asyncio.sleep(0.05)
    finally:
        task.cancel()
    assert first_day <= 1 and len(passes) == first_day + 1


async def test_a_429_on_a_topic_is_waited_out_once(rig: Rig) -> None:
    """Telegram's flood limit on closeForumTopic: the wait it names, then the close."""
    topic = await rig.parts.bot.create_forum_topic(rig.group, "old")
    waited: list[float] = []

    async def wait(seconds: float) -> None:
        waited.append(seconds)
        rig.emulator.set_faults(FaultPlan())  # the limit has passed

    rig.emulator.set_faults(FaultPlan(methods=frozenset({"closeForumTopic"}), rate_limit=1.0,
                                      retry_after=7))
    await BotTopics(rig.parts.bot, rig.parts.target, wait).close_topic(topic.message_thread_id)
    assert waited == [7]
    assert topic_state(rig, topic.message_thread_id) == "closed"

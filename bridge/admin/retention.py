"""The retention job: once a day, forget what is older than the library keeps it.

Transcripts (messages, done deliveries, links, desk card and mail thread of closed
conversations last active more than ``retention.transcripts_days`` ago), visitor
records (the page a conversation started from, with its IP address, after
``visitors_days``; a widget visitor id whose patron was last seen that long ago) and
files (blobs no message refers to any more, older than ``files_days``). The
conversation rows stay, stripped of what identifies, so the reports' counts do not
change; the reports' roll-up runs first all the same, so their aggregates hold what
the transcripts were.

The forgotten conversations' topics in the librarians' group are closed, and deleted
when ``delete_topics`` is on. Telegram keeps whatever the bridge does not delete there.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from telegram import Bot
from telegram.error import BadRequest, RetryAfter

from adapters.telegram.desk import DeskTarget
from bridge.admin.report_rollup import roll_up
from bridge.config import RetentionSection
from routing.model import Channel, Conversation, PageInfo
from routing.ports import Clock
from routing.transcript_roles import Forgotten

__all__ = ["BotTopics", "DeskTopics", "RetentionJob"]

log = logging.getLogger(__name__)
DAY = 86_400.0
_BATCH = 200
_DIGEST = re.compile(r"[0-9a-f]{64}")


class DeskTopics(Protocol):
    async def close_topic(self, thread: int) -> None: ...
    async def delete_topic(self, thread: int) -> None: ...


@dataclass(frozen=True)
class BotTopics:
    """The desk group's topics through the bot; a topic already closed is fine, and a
    429 is waited out once (a first pass may close thousands of topics)."""

    bot: Bot
    target: DeskTarget
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    async def close_topic(self, thread: int) -> None:
        if not self.target.forum:
            return
        try:
            await self._call(self.bot.close_forum_topic, thread)
        except BadRequest as exc:
            if "TOPIC_NOT_MODIFIED" not in exc.message.upper():
                raise

    async def delete_topic(self, thread: int) -> None:
        if self.target.forum:
            await self._call(self.bot.delete_forum_topic, thread)

    async def _call(self, method: Callable[[int, int], Awaitable[bool]], thread: int) -> None:
        try:
            await method(self.target.chat_id, thread)
        except RetryAfter as exc:
            wait = exc.retry_after
            await self.sleep(wait if isinstance(wait, int | float) else wait.total_seconds())
            await method(self.target.chat_id, thread)


@dataclass
class RetentionJob:
    """``run_once`` does one pass; ``run`` does one a day after ``run_at_hour``."""

    policy: RetentionSection
    store: Any  # routing.transcript_roles.Retention + the conversation log and directory
    clock: Clock
    timezone: str
    blob_root: Path | None = None
    topics: DeskTopics | None = None
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    last_day: str = ""

    async def run(self) -> None:
        while True:
            local = datetime.fromtimestamp(self.clock.now(), ZoneInfo(self.timezone))
            if local.hour >= self.policy.run_at_hour and local.date().isoformat() != self.last_day:
                self.last_day = local.date().isoformat()
                try:
                    await self.run_once()
                except Exception:  # a failed pass is tried again tomorrow; the log says why
                    log.exception("the retention job failed")
            await self.sleep(600)

    async def run_once(self) -> Forgotten:
        now = self.clock.now()
        transcripts, messages = await self._transcripts(now - self.policy.transcripts_days * DAY)
        visitors, contacts = await self._visitors(now - self.policy.visitors_days * DAY)
        files = await asyncio.to_thread(self._files, now - self.policy.files_days * DAY,
                                        await self.store.referenced_digests())
        done = Forgotten(transcripts, messages, visitors, contacts, files)
        log.info("retention pass done", extra={"forgotten": done})
        return done

    async def _transcripts(self, before: float) -> tuple[int, int]:
        await roll_up(self.store, before, timezone=self.timezone, now=self.clock.now())
        conversations = messages = 0
        while batch := await self.store.stale_transcripts(before, _BATCH):
            deleted = await self.store.forget_messages([c.id for c in batch])
            if not deleted:  # nothing went: stop rather than read the same batch forever
                break
            messages += deleted
            for conversation in batch:
                await self._forget_topic(conversation)
            conversations += len(batch)
        return conversations, messages

    async def _forget_topic(self, conversation: Conversation) -> None:
        thread = conversation.desk_thread
        if thread is not None and self.topics is not None:
            try:
                if self.policy.delete_topics:  # deleting closes it too
                    await self.topics.delete_topic(thread)
                else:
                    await self.topics.close_topic(thread)
            except Exception:  # the topic may be gone already; the records go regardless
                log.warning("retention could not close desk topic %s", thread, exc_info=True)
        await self.store.save_conversation(replace(
            conversation, subject="", rating_comment="", page=PageInfo(),
            desk_thread=None if self.policy.delete_topics else thread))

    async def _visitors(self, before: float) -> tuple[int, int]:
        pages = contacts = 0
        while batch := await self.store.stale_pages(before, _BATCH):
            for conversation in batch:
                await self.store.save_conversation(replace(conversation, page=PageInfo()))
            pages += len(batch)
        while batch := await self.store.stale_visitors(before, _BATCH):
            for patron in batch:
                kept = tuple(c for c in patron.contacts if c.channel != Channel.WIDGET)
                await self.store.save_patron(replace(patron, contacts=kept))
            contacts += len(batch)
        return pages, contacts

    def _files(self, before: float, referenced: set[str]) -> int:
        """Blobs no message refers to, last written before ``before``; runs in a thread."""
        if self.blob_root is None or not self.blob_root.is_dir():
            return 0
        gone = 0
        for path in self.blob_root.glob("??/??/*"):
            if path.name in referenced or not _DIGEST.fullmatch(path.name):
                continue
            try:
                if os.stat(path).st_mtime < before:
                    path.unlink()
                    gone += 1
            except FileNotFoundError:
                continue
        return gone

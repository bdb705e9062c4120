"""What ``bridge.bootstrap.build`` returns: every wired part, and what it owns."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from telegram import Bot

from adapters.blobs import BlobStore
from adapters.directory.member import MemberDirectory
from adapters.email.imap import ImapIntake
from adapters.files import FilePolicy
from adapters.telegram.desk import DeskPoller, DeskTarget
from adapters.widget.hub import WidgetHub
from adapters.widget.queue_view import QueueWatch
from adapters.widget.server import WidgetServer
from bridge.admin.report_rollup import DailyRollUp
from bridge.admin.retention import RetentionJob
from bridge.config import Config
from bridge.metrics import BridgeMetrics
from bridge.store.sqlite import SqliteStore
from routing.duty import DutyRoster
from routing.outbox import DeliveryWorker
from routing.ports import Clock
from routing.reminders import Reminders
from routing.router import Router

__all__ = ["Parts"]

log = logging.getLogger(__name__)


@dataclass
class Parts:
    """Everything ``build`` wired, and which of it is its own to close."""

    config: Config
    clock: Clock
    store: SqliteStore
    bot: Bot
    target: DeskTarget
    hub: WidgetHub
    blobs: BlobStore
    files: FilePolicy
    roster: DutyRoster
    directory: MemberDirectory | None
    worker: DeliveryWorker
    router: Router
    queue: QueueWatch
    widget: WidgetServer
    poller: DeskPoller
    web_app: web.Application
    metrics: BridgeMetrics
    reminders: Reminders | None = None
    imap: ImapIntake | None = None
    retention: RetentionJob | None = None
    closers: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)

    def runners(self) -> dict[str, Callable[[], Coroutine[Any, Any, None]]]:
        """The background loops ``bridge.app`` starts, by task name."""
        loops = {"outbox": self.worker.run, "desk-poller": self.poller.run,
                 "widget-queue": self.queue.run,
                 "report-rollup": DailyRollUp(self.store, self.clock,
                                              self.config.library.timezone).run}
        if self.reminders is not None:
            loops["reminders"] = self.reminders.run
        if self.imap is not None:
            loops["imap-intake"] = self.imap.run
        if self.retention is not None:
            loops["retention"] = self.retention.run
        return loops

    async def close(self) -> None:
        """Close what ``build`` opened itself (not what the caller handed in), newest first."""
        for close in reversed(self.closers):
            try:
                await close()
            except Exception:
                log.warning("closing a part failed", exc_info=True)
        self.closers.clear()

"""Fixtures for the email tests: the real mail servers, and the bridge's email parts
wired to a real SQLite store and router.

A test module uses them with ``pytest_plugins = ["tests.integration.mail_fixtures"]``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from adapters.blobs import BlobStore
from adapters.email.imap import ImapIntake
from adapters.email.intake import EmailIntake
from adapters.email.settings import EmailSettings
from adapters.email.smtp import EmailSender
from bridge.store.sqlite import SqliteStore
from routing.model import Channel, Conversation, Delivery, Message, Patron
from routing.outbox import DeliveryWorker, RetryPolicy
from routing.ports import Sender, Sent, SystemClock
from routing.router import Router
from tests.integration.mailservers import LIBRARY, DovecotServer, SmtpRecorder, server_root

__all__ = ["EmailRig", "RecordingDesk", "TestTokens", "dovecot", "rig", "smtp_server"]


class TestTokens:
    """A reply-token signer for tests: HMAC of the conversation id, as the real one does."""

    def __init__(self, secret: bytes = b"test-secret-test-secret") -> None:
        self._secret = secret

    def _sign(self, conversation_id: str) -> str:
        return hmac.new(self._secret, conversation_id.encode(), hashlib.sha256).hexdigest()[:16]

    def token_for(self, conversation_id: str) -> str:
        return f"{conversation_id}.{self._sign(conversation_id)}"

    def conversation_for(self, token: str) -> str | None:
        conversation_id, _, signature = token.partition(".")
        if conversation_id and hmac.compare_digest(signature, self._sign(conversation_id)):
            return conversation_id
        return None


class RecordingDesk:
    """Stands in for the Telegram desk (not under test here): records what it was sent."""

    def __init__(self) -> None:
        self.sent: list[Message] = []

    def budget_keys(self, delivery: Delivery, conversation: Conversation, patron: Patron,
                    message: Message) -> tuple[str, ...]:
        return ()  # not Telegram: no budget

    async def send(self, delivery: Delivery, message: Message, conversation: Conversation,
                   patron: Patron) -> Sent:
        self.sent.append(message)
        return Sent(external_id=str(len(self.sent)))


@dataclass
class EmailRig:
    """Store, router, outbox, email intake and sender over the real servers."""

    root: Path
    dovecot: DovecotServer
    smtp: SmtpRecorder | None
    settings: EmailSettings
    store: SqliteStore = field(init=False)
    router: Router = field(init=False)
    worker: DeliveryWorker = field(init=False)
    desk: RecordingDesk = field(init=False)
    sender: EmailSender = field(init=False)
    tokens: TestTokens = field(default_factory=TestTokens)
    imap: ImapIntake | None = None
    intake: EmailIntake | None = None
    _task: asyncio.Task[None] | None = None
    _worker_task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self.store = SqliteStore(self.root / "pustaka.db")
        await self.store.open()
        self.desk = RecordingDesk()
        self.sender = EmailSender(self.settings, self.store, tokens=self.tokens,
                                  library_name="Perpustakaan Kota Pustaka")
        senders: dict[Channel, Sender] = {Channel.DESK: self.desk, Channel.EMAIL: self.sender}
        self.worker = DeliveryWorker(self.store, SystemClock(), senders,
                                     policy=RetryPolicy(base=0.05, cap=0.2, max_attempts=4))
        self.router = Router(self.store, SystemClock(), on_enqueue=self.worker.wake)

    def close_the_library(self, ack_text: str) -> None:
        """From now on nobody is on duty, and the sender acknowledges with ``ack_text``."""
        self.router = Router(self.store, SystemClock(), on_enqueue=self.worker.wake,
                             staffed=lambda now: False)
        self.sender = EmailSender(self.settings, self.store, tokens=self.tokens,
                                  library_name="Perpustakaan Kota Pustaka",
                                  ack_text=lambda conversation: ack_text)

    def start_intake(self, **changes: Any) -> ImapIntake:
        settings = replace(self.settings, **changes) if changes else self.settings
        self.intake = EmailIntake(self.router, self.store, BlobStore(self.root / "blobs"),
                                  settings, tokens=self.tokens,
                                  acknowledge=self.sender.acknowledge)
        self.imap = ImapIntake(settings, self.store, self.intake)
        self._task = asyncio.create_task(self.imap.run())
        return self.imap

    async def kill_intake(self) -> None:
        """Cut the intake short, as a crash would (no goodbye to the server)."""
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def stop_intake(self) -> None:
        if self.imap is not None and self._task is not None:
            await self.imap.stop()
            await asyncio.wait_for(self._task, 10)
            self._task = None

    def start_outbox(self) -> None:
        self._worker_task = asyncio.create_task(self.worker.run())

    async def close(self) -> None:
        await self.kill_intake()
        if self._worker_task is not None:
            await self.worker.drain(1.0)
            self._worker_task.cancel()
            with suppress(asyncio.CancelledError):
                await self._worker_task
        await self.store.close()

    async def patron_texts(self) -> list[str]:
        """The text of every patron message, over all conversations, oldest first."""
        texts = []
        for conversation in reversed(await self.store.conversations(limit=10_000)):
            texts += [m.text for m in await self.store.history(conversation.id)
                      if m.direction.value == "patron"]
        return texts


@pytest.fixture
def dovecot(tmp_path: Path) -> Iterator[DovecotServer]:
    root = server_root(tmp_path)
    server = DovecotServer(root)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        if root != tmp_path / "dovecot":
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def smtp_server() -> Iterator[SmtpRecorder]:
    server = SmtpRecorder()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def rig(tmp_path: Path, dovecot: DovecotServer,
              smtp_server: SmtpRecorder) -> AsyncIterator[EmailRig]:
    settings = EmailSettings(
        imap_host=dovecot.host, imap_port=dovecot.port, imap_user=dovecot.user,
        imap_password=dovecot.password, imap_ssl=False, imap_timeout=10.0,
        poll_interval=0.2, reconnect_min=0.05, reconnect_max=0.5, first_run="all",
        smtp_host=smtp_server.host, smtp_port=smtp_server.port, smtp_starttls=False,
        smtp_timeout=10.0, from_address=LIBRARY, from_name="Perpustakaan Kota Pustaka",
        help_address=LIBRARY,
    )
    built = EmailRig(tmp_path, dovecot, smtp_server, settings)
    await built.open()
    try:
        yield built
    finally:
        await built.close()

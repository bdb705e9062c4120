"""AiohttpRequest under the real python-telegram-bot Bot, against the Bot API emulator.

PTB turns HTTP statuses into its exceptions itself; these tests prove the transport keeps
that contract and raises TimedOut and NetworkError where HTTPXRequest would.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram import Bot, InputFile
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from adapters.telegram.aiohttp_request import AiohttpRequest
from adapters.telegram.desk_sender import telegram_failure
from adapters.telegram.emulator import BotApiEmulator, FaultPlan

TOKEN = "123456:TEST"


@dataclass
class Rig:
    emulator: BotApiEmulator
    url: str
    group: int

    def bot(self, **request: Any) -> Bot:
        return Bot(TOKEN, base_url=f"{self.url}/bot", base_file_url=f"{self.url}/file/bot",
                   request=AiohttpRequest(**request),
                   get_updates_request=AiohttpRequest(**request))

    def librarian(self) -> int:
        return next(int(m["user"]["id"]) for m in self.emulator.members(self.group)
                    if m["user"]["first_name"] == "Sari")


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    emulator = BotApiEmulator()
    url = await emulator.start()
    try:
        yield Rig(emulator, url, emulator.seed_demo_desk())
    finally:
        await emulator.stop()


@pytest.fixture
async def bot(rig: Rig) -> AsyncIterator[Bot]:
    async with rig.bot() as bot:
        yield bot


@pytest.fixture(autouse=True)
def _timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opt in to PTB's coming ``RetryAfter.retry_after`` type instead of its warning."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class TestCalls:
    async def test_get_me(self, bot: Bot) -> None:
        """getMe comes back as the bot the token belongs to."""
        me = await bot.get_me()
        assert (me.id, me.username, me.is_bot) == (123456, "pustaka_bot", True)

    async def test_html_message(self, rig: Rig, bot: Bot) -> None:
        """An HTML sendMessage arrives form-encoded and comes back as text plus entities."""
        sent = await bot.send_message(rig.group, "<b>Ana</b> asks: <i>hours?</i>",
                                      parse_mode=ParseMode.HTML)
        assert sent.text == "Ana asks: hours?"
        assert [(e.type, e.offset, e.length) for e in sent.entities] == [
            ("bold", 0, 3), ("italic", 10, 6)]

    async def test_document_round_trip(self, rig: Rig, bot: Bot) -> None:
        """A 2 MiB multipart upload keeps its bytes, caption and UTF-8 file name via getFile."""
        content = bytes(range(256)) * 8192
        sent = await bot.send_document(rig.group, content, filename="kartu-anggota-ñ.pdf",
                                       caption="scan")
        document = sent.document
        assert document is not None and sent.caption == "scan"
        assert (document.file_name, document.file_size) == ("kartu-anggota-ñ.pdf", len(content))
        file = await bot.get_file(document.file_id)
        assert bytes(await file.download_as_bytearray()) == content

    async def test_file_handle_upload(self, rig: Rig, bot: Bot, tmp_path: Path) -> None:
        """A file handle PTB leaves unread is streamed from disk by the transport."""
        path = tmp_path / "catalogue.txt"
        path.write_bytes(b"Dewey 020 - library science\n" * 1000)
        with path.open("rb") as handle:
            upload = InputFile(handle, filename="catalogue.txt", read_file_handle=False)
            sent = await bot.send_document(rig.group, upload)
        assert sent.document is not None
        file = await bot.get_file(sent.document.file_id)
        assert bytes(await file.download_as_bytearray()) == path.read_bytes()

    async def test_long_poll_read_timeout_grows_with_poll(self, rig: Rig) -> None:
        """PTB adds the poll's timeout to ``read_timeout``, so a long poll outlives the default."""
        async with rig.bot(read_timeout=0.3) as bot:
            poll = asyncio.create_task(bot.get_updates(timeout=2))
            await asyncio.sleep(0.6)
            rig.emulator.user_sends(rig.group, rig.librarian(), "late hello")
            [update] = await asyncio.wait_for(poll, 3)
        assert update.message is not None and update.message.text == "late hello"


class TestStatusesBecomePtbErrors:
    async def test_bad_request(self, bot: Bot) -> None:
        """A 400 becomes BadRequest carrying Telegram's description."""
        with pytest.raises(BadRequest, match="Chat not found"):
            await bot.send_message(42, "to nowhere")

    async def test_forbidden(self, rig: Rig, bot: Bot) -> None:
        """A 403 becomes Forbidden."""
        patron = rig.emulator.add_user("Ana")
        rig.emulator.user_sends(patron, patron, "/start")
        rig.emulator.block_bot(patron)
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(patron, "still there?")

    async def test_retry_after(self, rig: Rig, bot: Bot) -> None:
        """A 429 becomes RetryAfter with Telegram's retry_after."""
        rig.emulator.set_faults(FaultPlan(rate_limit=1.0, retry_after=7))
        with pytest.raises(RetryAfter) as refused:
            await bot.send_message(rig.group, "too fast")
        assert refused.value.retry_after == timedelta(seconds=7)


class TestTransportFailures:
    async def test_read_timeout(self, rig: Rig) -> None:
        """A response slower than read_timeout becomes TimedOut; a per-call timeout wins."""
        rig.emulator.set_faults(FaultPlan(latency=0.4))
        async with rig.bot(read_timeout=0.1) as bot:
            with pytest.raises(TimedOut, match="Read timeout"):
                await bot.send_message(rig.group, "slow")
            sent = await bot.send_message(rig.group, "patient", read_timeout=2.0)
        assert sent.text == "patient"

    async def test_pool_timeout(self, rig: Rig) -> None:
        """With every pooled connection busy, a call waits pool_timeout, then TimedOut unsent."""
        rig.emulator.set_faults(FaultPlan(latency=0.5))
        async with rig.bot(connection_pool_size=1, pool_timeout=0.1) as bot:
            first = asyncio.create_task(bot.send_message(rig.group, "first"))
            await asyncio.sleep(0.05)
            with pytest.raises(TimedOut, match="Pool timeout") as unsent:
                await bot.send_message(rig.group, "second")
            assert telegram_failure(unsent.value).maybe_sent is False
            assert (await first).text == "first"
        assert [m["text"] for m in rig.emulator.messages(rig.group)] == ["first"]

    async def test_connection_reset(self, rig: Rig, bot: Bot) -> None:
        """A connection reset without a response becomes NetworkError, not TimedOut."""
        rig.emulator.set_faults(FaultPlan(reset=1.0))
        with pytest.raises(NetworkError, match="Connection reset") as failed:
            await bot.send_message(rig.group, "lost")
        assert not isinstance(failed.value, TimedOut)
        # the request went out before the cut: a retry may double it, and is counted so
        assert telegram_failure(failed.value).maybe_sent is True

    async def test_connection_refused(self) -> None:
        """Nothing listening on the port becomes NetworkError, surely not sent."""
        url = f"http://127.0.0.1:{_free_port()}"
        request = AiohttpRequest(connect_timeout=1.0)
        bot = Bot(TOKEN, base_url=f"{url}/bot", request=request)
        await request.initialize()
        try:
            with pytest.raises(NetworkError, match="ClientConnectorError") as failed:
                await bot.get_me()
            assert not isinstance(failed.value, TimedOut)
            assert telegram_failure(failed.value).maybe_sent is False
        finally:
            await request.shutdown()

    async def test_stalled_upload_is_write_timeout(self) -> None:
        """An upload the server stops reading becomes TimedOut after media_write_timeout."""
        done = asyncio.Event()

        async def never_read(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await done.wait()
            writer.close()

        server = await asyncio.start_server(never_read, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        request = AiohttpRequest(media_write_timeout=0.3, read_timeout=10.0)
        bot = Bot(TOKEN, base_url=f"http://127.0.0.1:{port}/bot", request=request)
        try:
            async with request:
                started = time.monotonic()
                with pytest.raises(TimedOut, match="Write timeout"):
                    await bot.send_document(1, b"x" * (64 * 1024 * 1024), filename="big.bin")
                assert time.monotonic() - started < 5
        finally:
            done.set()
            server.close()
            await server.wait_closed()


class TestLifecycle:
    async def test_shutdown_closes_the_session(self, rig: Rig) -> None:
        """Bot shutdown closes the session; calls then fail until it is initialized again."""
        request = AiohttpRequest()
        bot = Bot(TOKEN, base_url=f"{rig.url}/bot", request=request)
        assert request.closed
        async with bot:
            assert not request.closed
        assert request.closed
        with pytest.raises(NetworkError, match="not initialized"):
            await bot.get_me()
        await request.shutdown()  # a second shutdown is harmless
        async with bot:
            assert (await bot.get_me()).username == "pustaka_bot"

    async def test_read_timeout_property(self) -> None:
        """read_timeout reports the default a call without its own timeout gets."""
        assert AiohttpRequest(read_timeout=12.5).read_timeout == 12.5
        assert AiohttpRequest(read_timeout=None).read_timeout is None

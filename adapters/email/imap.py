"""IMAP intake: new mail in the help mailbox is handed on, once, in order, and survives
restarts and servers that go away.

One loop: connect, log in, select; take what is new; wait (IDLE where the server offers
it, re-issued before RFC 2177's 29 minutes, otherwise a NOOP every ``poll_interval``);
take what is new again. Any failure (refused connection, the server gone mid-IDLE, a
timeout) ends the session and the loop reconnects after an exponential, jittered pause.

Where it stands is kept through the ``Cursors`` port, under
``email.imap.<mailbox>.uidvalidity`` and ``email.imap.<mailbox>.last_uid``, and
``last_uid`` is advanced only after the handler has taken a batch: a crash re-reads
at most that batch, which the handler recognises by Message-ID. When the mailbox's
UIDVALIDITY changes, every mail is read again under the same de-duplication.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from typing import Any, TypeVar

from aioimaplib import aioimaplib

from adapters.email.imap_fetch import (
    FetchedMail,
    ImapCommandError,
    fetch_mails,
    new_mail,
    unseen,
)
from adapters.email.imap_response import response_code
from adapters.email.settings import EmailSettings
from routing.ports import Cursors

__all__ = ["ImapIntake", "MailHandler"]

log = logging.getLogger(__name__)

MailHandler = Callable[[Sequence[FetchedMail]], Awaitable[None]]
T = TypeVar("T")
_FAILURES = (OSError, TimeoutError, EOFError, aioimaplib.AioImapException, ImapCommandError)


class _ConnectionLost(Exception):
    pass


class _Stopped(Exception):
    pass


class _Protocol(aioimaplib.IMAP4ClientProtocol):  # type: ignore[misc]  # untyped library
    """aioimaplib drops an EXISTS that arrives during FETCH; noting it lets the intake
    look again before it IDLEs, instead of missing a mail until the next one comes."""

    exists_seen = False

    def _untagged_response(self, line: bytes) -> Any:
        if line.endswith(b" EXISTS"):
            self.exists_seen = True
        return super()._untagged_response(line)


class _Client(aioimaplib.IMAP4):  # type: ignore[misc]  # untyped library
    def create_client(self, host: str, port: int, loop: asyncio.AbstractEventLoop | None,
                      conn_lost_cb: Callable[[Exception | None], None] | None = None,
                      ssl_context: ssl.SSLContext | None = None) -> None:
        running = loop or asyncio.get_running_loop()
        self.protocol = _Protocol(running, conn_lost_cb)
        self._client_task = running.create_task(
            running.create_connection(lambda: self.protocol, host, port, ssl=ssl_context))


class ImapIntake:
    """Reads the help mailbox and hands new mail to ``handler`` in UID order."""

    def __init__(self, settings: EmailSettings, store: Cursors, handler: MailHandler, *,
                 rand: Callable[[], float] = random.random) -> None:
        self._settings = settings
        self._store = store
        self._handler = handler
        self._rand = rand
        self._key = f"email.imap.{settings.imap_mailbox}."
        self._stopping = asyncio.Event()
        self._stop_future: asyncio.Future[None] | None = None
        self._lost: asyncio.Future[None] | None = None
        self._client: _Client | None = None
        self._last = 0
        self._only: set[int] | None = None  # first run, "unseen": the UIDs to take
        self._only_below = 0
        self._waited = False  # the session got as far as waiting for mail
        self._done_sent = False  # DONE ends an IDLE; a second one is a protocol error
        self.ready = asyncio.Event()  # set while a session waits for mail (tests, health)
        self.sessions = 0  # how many times it has logged in
        self.idles = 0  # how many IDLE commands it has issued
        self.taken = 0  # mails handed on since start

    async def run(self) -> None:
        """Until ``stop()``: sessions, with a growing pause after each failed one."""
        self._stop_future = asyncio.get_running_loop().create_future()
        delay = self._settings.reconnect_min
        while not self._stopping.is_set():
            self._waited = False
            try:
                await self._session()
            except _Stopped:
                break
            except _ConnectionLost:
                log.warning("IMAP server %s closed the connection", self._settings.imap_host)
            except _FAILURES as exc:
                log.warning("IMAP %s:%s failed: %r", self._settings.imap_host,
                            self._settings.imap_port, exc)
            except Exception:  # a handler or store failure: nothing advanced; try again
                log.exception("IMAP intake failed; the batch will be read again")
            finally:
                self.ready.clear()
                await self._close()
            if self._waited:  # the session worked for a while: start the backoff over
                delay = self._settings.reconnect_min
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay * (0.5 + self._rand() / 2))
            delay = min(self._settings.reconnect_max, delay * 2)

    async def stop(self) -> None:
        """Ask ``run()`` to end; a batch being handed on is finished first."""
        self._stopping.set()
        if self._stop_future is not None and not self._stop_future.done():
            self._stop_future.set_result(None)

    # -- one session ---------------------------------------------------------------------

    async def _session(self) -> None:
        s = self._settings
        loop = asyncio.get_running_loop()
        self._lost = lost = loop.create_future()

        def on_lost(_exc: Exception | None) -> None:
            if not lost.done():
                lost.set_result(None)

        context = ssl.create_default_context() if s.imap_ssl else None
        self._client = client = _Client(host=s.imap_host, port=s.imap_port,
                                        timeout=s.imap_timeout, ssl_context=context,
                                        conn_lost_cb=on_lost)
        await self._io(client.wait_hello_from_server())
        answer = await self._io(client.login(s.imap_user, s.imap_password))
        if answer.result != "OK":
            raise ImapCommandError(f"LOGIN refused: {answer.lines[-1:]!r}")
        answer = await self._io(client.select(s.imap_mailbox))
        if answer.result != "OK":
            raise ImapCommandError(f"SELECT {s.imap_mailbox} refused: {answer.lines[-1:]!r}")
        self.sessions += 1
        await self._position(client, response_code(answer.lines, "UIDVALIDITY") or 0,
                             response_code(answer.lines, "UIDNEXT") or 1)
        idle = client.has_capability("IDLE")
        while True:
            await self._take_new(client)
            self.ready.set()
            self._waited = True
            if idle:
                await self._idle(client)
            else:
                await self._poll(client)

    async def _io(self, work: Awaitable[T]) -> T:
        """``work``, unless the connection drops or ``stop()`` comes first."""
        task = asyncio.ensure_future(work)
        waits: set[asyncio.Future[Any]] = {task}
        if self._lost is not None:
            waits.add(self._lost)
        if self._stop_future is not None:
            waits.add(self._stop_future)
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            return task.result()
        task.cancel()
        with suppress(BaseException):
            await task
        if self._stopping.is_set():
            raise _Stopped
        raise _ConnectionLost

    async def _close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        with suppress(BaseException):
            if client.has_pending_idle() and not self._done_sent:
                client.idle_done()
            if self._lost is not None and not self._lost.done():
                await asyncio.wait_for(client.logout(), 2.0)
        with suppress(BaseException):
            transport = client.protocol.transport
            if transport is not None:
                transport.close()

    # -- where it stands -----------------------------------------------------------------

    async def _position(self, client: _Client, uidvalidity: int, uidnext: int) -> None:
        validity = await self._store.get_state(self._key + "uidvalidity")
        last = await self._store.get_state(self._key + "last_uid")
        self._only = None
        if validity == str(uidvalidity) and last is not None:
            self._last = int(last)
            return
        if validity is not None:
            log.warning("UIDVALIDITY of %s changed (%s -> %s): reading the mailbox again; "
                        "mail already taken is recognised by its Message-ID",
                        self._settings.imap_mailbox, validity, uidvalidity)
            self._last = 0
        elif self._settings.first_run == "all":
            self._last = 0
        elif self._settings.first_run == "new":
            self._last = uidnext - 1
        else:
            self._only = await self._io(unseen(client))
            self._only_below = uidnext
            self._last = min(self._only) - 1 if self._only else uidnext - 1
        await self._store.set_state(self._key + "uidvalidity", str(uidvalidity))
        await self._store.set_state(self._key + "last_uid", str(self._last))

    # -- taking mail ---------------------------------------------------------------------

    async def _take_new(self, client: _Client) -> None:
        looked_again = False
        while True:
            client.protocol.exists_seen = False
            listed = await self._io(new_mail(client, self._last))
            if not listed:
                if client.protocol.exists_seen and not looked_again:
                    looked_again = True
                    continue
                return
            wanted = [(uid, size) for uid, size in listed if self._wanted(uid)]
            for batch in self._batches(wanted):
                mails = await self._io(fetch_mails(
                    client, batch, self._settings.max_message_bytes,
                    self._settings.max_attachment_bytes))
                await self._handler(mails)  # not cut short by stop(): it finishes
                self.taken += len(mails)
                await self._advance(batch[-1][0])
            await self._advance(listed[-1][0])

    def _wanted(self, uid: int) -> bool:
        return self._only is None or uid >= self._only_below or uid in self._only

    def _batches(self, wanted: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
        s = self._settings
        batches: list[list[tuple[int, int]]] = []
        size = 0
        for uid, octets in wanted:
            counted = min(octets, s.max_message_bytes)  # an oversized mail is read in part
            if not batches or len(batches[-1]) >= s.fetch_batch or \
                    size + counted > s.fetch_batch_bytes:
                batches.append([])
                size = 0
            batches[-1].append((uid, octets))
            size += counted
        return batches

    async def _advance(self, uid: int) -> None:
        if uid > self._last:
            self._last = uid
            await self._store.set_state(self._key + "last_uid", str(uid))

    # -- waiting for mail ----------------------------------------------------------------

    async def _idle(self, client: _Client) -> None:
        renew = self._settings.idle_renew
        self._done_sent = False
        idling = await self._io(client.idle_start(timeout=renew))
        self.idles += 1
        try:
            while True:
                try:
                    push = await self._io(client.wait_server_push(timeout=renew + 30))
                except TimeoutError:
                    break
                if push == aioimaplib.STOP_WAIT_SERVER_PUSH:
                    break  # time to renew the IDLE
                if any(isinstance(line, bytes) and line.endswith(b"EXISTS") for line in push):
                    break
        finally:
            with suppress(Exception):  # on a dropped connection DONE goes nowhere
                client.idle_done()
                self._done_sent = True
        await self._io(asyncio.wait_for(idling, self._settings.imap_timeout))

    async def _poll(self, client: _Client) -> None:
        with suppress(TimeoutError):
            await self._io(asyncio.wait_for(self._stopping.wait(), self._settings.poll_interval))
        if self._stopping.is_set():
            raise _Stopped
        await self._io(client.noop())

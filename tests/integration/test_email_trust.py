"""Email intake against real Dovecot: forged senders stay apart, broken mail is never lost.

Mail from tests/data/emails goes into Dovecot's maildir; the IMAP intake, email intake,
router and SQLite store are the real ones (the desk is the recording stand-in).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from adapters.blobs import BlobStore
from adapters.email.imap import ImapIntake
from adapters.email.intake import EmailIntake
from adapters.telegram.render import info_card
from routing.model import (
    SENDER_UNVERIFIED_TAG,
    Conversation,
    Delivery,
    Direction,
    Message,
    Patron,
)
from routing.router import Router
from tests.eventually import eventually
from tests.integration.mailservers import DovecotServer

if TYPE_CHECKING:
    from tests.integration.mail_fixtures import EmailRig

pytest_plugins = ["tests.integration.mail_fixtures"]
pytestmark = pytest.mark.timeout(120)

CORPUS = Path(__file__).resolve().parents[1] / "data" / "emails"
MX = "mx.library.example"


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def plain(sender: str, text: str, message_id: str, subject: str = "Pertanyaan") -> bytes:
    return (f"From: {sender}\r\nTo: help@library.example\r\nSubject: {subject}\r\n"
            f"Message-ID: <{message_id}>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            f"{text}\r\n").encode()


async def taken(intake: EmailIntake | None, count: int, timeout: float = 15.0) -> None:
    assert intake is not None
    await eventually(lambda: sum(intake.counts.values()) >= count, within=timeout)


async def texts_of(rig: EmailRig, conversation: Conversation) -> list[str]:
    return [m.text for m in await rig.store.history(conversation.id)
            if m.direction is Direction.PATRON]


class TestForgedSender:
    async def test_forged_mail_opens_its_own_marked_conversation(
            self, rig: EmailRig, dovecot: DovecotServer) -> None:
        """Mail our server found forged (dmarc=fail) never joins the real sender's
        conversation, even citing its Message-ID; it opens one of its own, marked on the
        card; its follow-ups stay there; the real sender's next mail still reaches them."""
        dovecot.deliver(corpus("genuine_dmarc_pass.eml"))
        rig.start_intake(trusted_authserv_id=MX)
        await taken(rig.intake, 1)
        [genuine] = await rig.store.conversations()
        dovecot.deliver(corpus("forged_dmarc_fail.eml"))
        await taken(rig.intake, 2)
        dovecot.deliver(plain("Siti Rahma <siti.rahma@example.id>", "Sudah dikirim?",
                              "forged.2@mailer.attacker.example", subject="Re: Re: Kartu")
                        .replace(b"Subject:", b"Authentication-Results: mx.library.example;"
                                 b" dmarc=fail header.from=example.id\r\n"
                                 b"In-Reply-To: <forged.8c2d41@mailer.attacker.example>\r\n"
                                 b"Subject:", 1))
        dovecot.deliver(corpus("genuine_dmarc_pass.eml").replace(
            b"<20240617091200.5b1e@example.id>", b"<again.77@example.id>").replace(
            b"hilang kemarin", b"masih hilang"))
        await taken(rig.intake, 4)
        conversations = {c.id: c for c in await rig.store.conversations()}
        assert len(conversations) == 2
        forged = next(c for c in conversations.values() if c.id != genuine.id)
        assert SENDER_UNVERIFIED_TAG in forged.tags
        assert SENDER_UNVERIFIED_TAG not in conversations[genuine.id].tags
        assert forged.patron_id != genuine.patron_id
        real = await texts_of(rig, genuine)
        assert len(real) == 2 and "Jl. Mawar" not in " ".join(real)
        assert "masih hilang" in real[1]
        fake = await texts_of(rig, forged)
        assert "Jl. Mawar 13" in fake[0] and fake[1] == "Sudah dikirim?"
        patron = await rig.store.get_patron(forged.patron_id)
        assert patron is not None and patron.email == "siti.rahma@example.id"
        assert "Sender not verified" in info_card(patron, forged)

    async def test_forged_mail_after_hours_gets_no_acknowledgement(
            self, rig: EmailRig, dovecot: DovecotServer) -> None:
        """No after-hours acknowledgement goes to a forged From (it would be backscatter
        to the address's owner); the genuine sender's mail is acknowledged as before."""
        assert rig.smtp is not None
        smtp = rig.smtp
        rig.close_the_library("We are closed now.")
        dovecot.deliver(corpus("forged_spf_fail_foreign_dkim.eml"))
        dovecot.deliver(corpus("genuine_dmarc_pass.eml"))
        rig.start_intake(trusted_authserv_id=MX)
        await taken(rig.intake, 2)  # an acknowledgement is sent before its mail counts
        [ack] = smtp.received
        assert ack.message["Subject"] == "Auto: Kartu anggota hilang"
        assert len(await rig.store.conversations()) == 2

    async def test_without_a_trusted_authserv_id_nothing_changes(
            self, rig: EmailRig, dovecot: DovecotServer) -> None:
        """With the check off (the default) a failing mail joins its From's conversation."""
        dovecot.deliver(corpus("genuine_dmarc_pass.eml"))
        dovecot.deliver(corpus("forged_spf_fail_foreign_dkim.eml"))
        rig.start_intake()
        await taken(rig.intake, 2)
        [conversation] = await rig.store.conversations()
        assert conversation.tags == ()


class TestBrokenMail:
    async def test_utf7_lone_surrogate_is_taken_and_intake_goes_on(
            self, rig: EmailRig, dovecot: DovecotServer) -> None:
        """A UTF-7 mail decoding to a lone surrogate is stored (U+FFFD in its place), and
        the same sender's later mail and everyone else's are taken too."""
        dovecot.deliver(corpus("utf7_lone_surrogate.eml"))
        dovecot.deliver(plain("ana@example.org", "Jam buka hari Sabtu?", "a1@example.org"))
        dovecot.deliver(plain("Hendra Saputra <hendra.s@example.id>", "Sudah saya kirim ulang.",
                              "h2@example.id"))
        rig.start_intake()
        await taken(rig.intake, 3)
        assert rig.intake is not None and rig.intake.counts["taken"] == 3
        texts = await rig.patron_texts()
        assert any("buku \ufffd Laskar Pelangi" in t for t in texts)
        assert "Sudah saya kirim ulang." in texts and "Jam buka hari Sabtu?" in texts

    async def test_truncated_inline_png_keeps_sender_and_file(
            self, rig: EmailRig, dovecot: DovecotServer) -> None:
        """The mail with a 16-byte inline PNG reaches its sender's conversation whole."""
        dovecot.deliver(corpus("truncated_inline_png.eml"))
        rig.start_intake()
        await taken(rig.intake, 1)
        assert rig.intake is not None and rig.intake.counts["taken"] == 1
        [conversation] = await rig.store.conversations()
        patron = await rig.store.get_patron(conversation.patron_id)
        assert patron is not None and patron.email == "rina.wulandari@gmail.com"
        [message] = [m for m in await rig.store.history(conversation.id)
                     if m.direction is Direction.PATRON]
        assert "Bisa diganti?" in message.text
        assert [(a.name, a.size) for a in message.attachments] == [("kartu.png", 16)]


class RefusingStore:
    """The real store, except that a message with ``marker`` in its text cannot be
    written, as when one mail keeps breaking the database write."""

    def __init__(self, store: Any, marker: str) -> None:
        self._store = store
        self._marker = marker
        self.refused = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def append(self, message: Message,
                     deliveries: Sequence[Delivery]) -> tuple[Message, bool]:
        if self._marker in message.text:
            self.refused += 1
            raise sqlite3.OperationalError("unable to write this row")
        result: tuple[Message, bool] = await self._store.append(message, deliveries)
        return result

    async def append_first(self, patron: Patron, conversation: Conversation,
                           message: Message, deliveries: Sequence[Delivery]
                           ) -> tuple[Message, bool]:
        if self._marker in message.text:  # a new sender's first mail: the same write
            self.refused += 1
            raise sqlite3.OperationalError("unable to write this row")
        result: tuple[Message, bool] = await self._store.append_first(
            patron, conversation, message, deliveries)
        return result


class TestSetAside:
    async def test_mail_failing_every_time_is_set_aside_reported_and_skipped(
            self, rig: EmailRig, dovecot: DovecotServer, tmp_path: Path) -> None:
        """A mail whose write fails three times is kept on disk, told in its sender's
        topic, and skipped: the mails around it and after it are taken."""
        store = RefusingStore(rig.store, "POISON")
        router = Router(store, rig.router.log.clock, on_enqueue=rig.worker.wake)
        folder = tmp_path / "mail-set-aside"
        poison = plain("Dodi <dodi@example.id>", "POISON row", "p@example.id")
        for raw in (plain("ana@example.org", "sebelum", "b@example.org"), poison,
                    plain("budi@example.org", "sesudah", "c@example.org")):
            dovecot.deliver(raw)
        intake = EmailIntake(router, store, BlobStore(tmp_path / "blobs"),  # type: ignore[arg-type]
                             rig.settings, set_aside_dir=folder)
        imap = ImapIntake(rig.settings, rig.store, intake)
        task = asyncio.create_task(imap.run())
        try:
            await eventually(lambda: intake.counts["set_aside"] == 1)
            dovecot.deliver(plain("Dodi <dodi@example.id>", "lagi", "d@example.id"))
            await eventually(lambda: intake.counts["taken"] == 3)
        finally:
            await imap.stop()
            await asyncio.wait_for(task, 10)
        assert store.refused == 3
        [kept] = list(folder.iterdir())
        assert kept.read_bytes() == poison and kept.stat().st_mode & 0o077 == 0
        texts = await rig.patron_texts()
        assert {"sebelum", "sesudah", "lagi"} <= set(texts)
        dodi = [c for c in await rig.store.conversations()
                if any(m.text == "lagi" for m in await rig.store.history(c.id))]
        [line] = [m.text for m in await rig.store.history(dodi[0].id)
                  if m.event == "set_aside"]
        assert str(kept) in line and "<p@example.id>" in line and "UID 2" in line

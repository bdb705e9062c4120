"""The email channel against real servers: Dovecot for intake, aiosmtpd for sending.

Mail is put into Dovecot's maildir as a local delivery agent would; the bridge's IMAP
intake, email intake, router, SQLite store, outbox and SMTP sender are the real ones.
The Telegram desk is a recording stand-in (it is tested elsewhere).
"""

from __future__ import annotations

import asyncio
import base64
import os
import tracemalloc
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import make_msgid
from typing import TYPE_CHECKING

import pytest

from adapters.email.imap_fetch import FetchedMail
from routing.model import Channel, Contact, DeskReply, Direction, Inbound
from tests.eventually import eventually
from tests.integration.mailservers import LIBRARY, DovecotServer

if TYPE_CHECKING:  # imported by pytest_plugins below, so its asserts are rewritten
    from tests.integration.mail_fixtures import EmailRig

pytest_plugins = ["tests.integration.mail_fixtures"]  # the dovecot, smtp_server, rig fixtures
pytestmark = pytest.mark.timeout(120)


def plain_mail(text: str, *, sender: str = "siti@example.id", name: str = "Siti Rahma",
               subject: str = "Peminjaman buku", **headers: str) -> bytes:
    mail = EmailMessage()
    mail["From"] = f"{name} <{sender}>"
    mail["To"] = LIBRARY
    mail["Subject"] = subject
    mail["Message-ID"] = make_msgid(domain="example.id")
    for key, value in headers.items():
        mail[key.replace("_", "-")] = value
    mail.set_content(text)
    return mail.as_bytes()


async def taken(rig: EmailRig, count: int, timeout: float = 15.0) -> None:
    assert rig.intake is not None
    intake = rig.intake
    await eventually(lambda: sum(intake.counts.values()) >= count, within=timeout)


class TestIntake:
    async def test_plain_mail_opens_a_conversation_with_subject_and_sender(
            self, rig: EmailRig, dovecot: DovecotServer) -> None:
        """A patron's plain mail becomes one patron message from their address, subject kept."""
        dovecot.deliver(plain_mail("Apakah buku Laskar Pelangi tersedia?\n\n-- \nSiti"))
        rig.start_intake()
        await taken(rig, 1)
        [conversation] = await rig.store.conversations()
        assert conversation.origin is Channel.EMAIL
        patron = await rig.store.get_patron(conversation.patron_id)
        assert patron is not None and patron.email == "siti@example.id"
        assert patron.name == "Siti Rahma"
        assert await rig.patron_texts() == ["Apakah buku Laskar Pelangi tersedia?"]

    async def test_html_only_and_windows_1252_mail_read_as_text(
            self, rig: EmailRig, dovecot: DovecotServer) -> None:
        """HTML-only mail arrives as its text; a windows-1252 mail keeps its accents."""
        html = EmailMessage()
        html["From"] = "ana@example.org"
        html["To"] = LIBRARY
        html["Subject"] = "Renewal"
        html["Message-ID"] = make_msgid()
        html.set_content("<html><body><p>Can I <b>renew</b> my loan?</p></body></html>",
                         subtype="html")
        dovecot.deliver(html.as_bytes())
        cp1252 = ("From: jose@example.es\r\nTo: help@library.example\r\nSubject: Caf\xe9\r\n"
                  "Message-ID: <cp1252@example.es>\r\nMIME-Version: 1.0\r\n"
                  "Content-Type: text/plain; charset=windows-1252\r\n"
                  "Content-Transfer-Encoding: 8bit\r\n\r\n"
                  "Se\xf1or, the caf\xe9 \u201creading room\u201d is closed?\r\n")
        dovecot.deliver(cp1252.encode("cp1252"))
        rig.start_intake()
        await taken(rig, 2)
        texts = sorted(await rig.patron_texts())
        assert texts == ["Can I renew my loan?",
                         "Se\u00f1or, the caf\u00e9 \u201creading room\u201d is closed?"]

    async def test_auto_reply_and_list_mail_start_nothing(
            self, rig: EmailRig, dovecot: DovecotServer) -> None:
        """Out-of-office answers and mailing-list mail never open a conversation."""
        dovecot.deliver(plain_mail("I am away until Monday.", subject="Out of office",
                                   Auto_Submitted="auto-replied"))
        dovecot.deliver(plain_mail("Weekly digest", subject="[lib-l] digest",
                                   List_Id="<lib-l.lists.example>"))
        rig.start_intake()
        await taken(rig, 2)
        assert rig.intake is not None and rig.intake.counts["auto"] == 2
        assert await rig.store.conversations() == []

    async def test_restart_neither_loses_nor_repeats(
            self, rig: EmailRig, dovecot: DovecotServer) -> None:
        """Killing the intake and starting it again takes each mail exactly once."""
        for i in range(3):
            dovecot.deliver(plain_mail(f"first {i}", sender=f"p{i}@example.id"))
        rig.start_intake()
        await taken(rig, 3)
        await rig.kill_intake()
        for i in range(3, 6):
            dovecot.deliver(plain_mail(f"second {i}", sender=f"p{i}@example.id"))
        rig.start_intake()
        await taken(rig, 3)
        texts = await rig.patron_texts()
        assert sorted(texts) == sorted([f"first {i}" for i in range(3)] +
                                       [f"second {i}" for i in range(3, 6)])

    async def test_batch_taken_but_position_not_saved_is_not_repeated(
            self, rig: EmailRig, dovecot: DovecotServer) -> None:
        """A crash after mail was handed on but before the UID was saved repeats nothing."""
        for i in range(4):
            dovecot.deliver(plain_mail(f"mail {i}", sender=f"q{i}@example.id"))
        imap = rig.start_intake()
        assert rig.intake is not None
        real = rig.intake
        failures: list[int] = []

        async def crash_after(mails: Sequence[FetchedMail]) -> None:
            await real(mails)
            if not failures:
                failures.append(len(mails))
                raise RuntimeError("crash before the position is saved")

        imap._handler = crash_after  # the same intake, failing once after taking
        await eventually(lambda: imap.taken >= 4 and failures)
        assert real.counts["taken"] == 4 and real.counts["duplicate"] == 4
        assert sorted(await rig.patron_texts()) == [f"mail {i}" for i in range(4)]

    async def test_server_gone_mid_idle_is_survived_and_nothing_read_twice(
            self, rig: EmailRig, dovecot: DovecotServer) -> None:
        """Dovecot stopped while the intake IDLEs, mail arriving meanwhile, then restarted:
        the intake reconnects and takes each mail once."""
        dovecot.deliver(plain_mail("before", sender="a@example.id"))
        imap = rig.start_intake()
        await taken(rig, 1)
        await eventually(imap.ready.is_set)
        dovecot.stop()
        await eventually(lambda: not imap.ready.is_set())
        dovecot.deliver(plain_mail("while down", sender="b@example.id"))
        await asyncio.sleep(0.3)  # a few failed reconnects with backoff
        dovecot.start()
        await taken(rig, 2)
        await eventually(imap.ready.is_set)
        dovecot.deliver(plain_mail("after", sender="c@example.id"))
        await taken(rig, 3)
        assert imap.sessions >= 2
        assert sorted(await rig.patron_texts()) == ["after", "before", "while down"]
        assert rig.intake is not None and rig.intake.counts["duplicate"] == 0

    async def test_idle_is_renewed_on_the_same_connection(
            self, rig: EmailRig, dovecot: DovecotServer) -> None:
        """IDLE is ended and issued again on schedule (here every 0.2 s instead of 25 min)
        without reconnecting, and mail still arrives after several renewals."""
        imap = rig.start_intake(idle_renew=0.2)
        await eventually(imap.ready.is_set)
        await asyncio.sleep(1.0)
        dovecot.deliver(plain_mail("after renewals", sender="idle@example.id"))
        await taken(rig, 1)
        assert imap.sessions == 1 and imap.idles >= 4

    async def test_polling_when_the_server_offers_no_idle(
            self, rig: EmailRig, dovecot: DovecotServer) -> None:
        """Against a server without IDLE the intake polls and still takes new mail."""
        dovecot.stop()
        dovecot.idle = False
        dovecot.start()
        imap = rig.start_intake()
        await eventually(imap.ready.is_set)
        dovecot.deliver(plain_mail("polled", sender="poll@example.id"))
        await taken(rig, 1)
        assert await rig.patron_texts() == ["polled"]

    async def test_uidvalidity_change_reads_again_without_doubles(
            self, rig: EmailRig, dovecot: DovecotServer) -> None:
        """A mailbox rebuilt with a new UIDVALIDITY is read again; known mail is skipped."""
        first = plain_mail("kept once", sender="u@example.id")
        dovecot.deliver(first)
        rig.start_intake()
        await taken(rig, 1)
        await rig.kill_intake()
        dovecot.stop()
        dovecot.reset_mailbox()
        await asyncio.sleep(1.1)  # UIDVALIDITY is a timestamp: make it differ
        dovecot.start()
        dovecot.deliver(first)
        dovecot.deliver(plain_mail("new one", sender="u@example.id"))
        rig.start_intake()
        await taken(rig, 2)
        assert rig.intake is not None and rig.intake.counts["duplicate"] == 1
        assert await rig.patron_texts() == ["kept once", "new one"]


    async def test_after_hours_mail_is_acknowledged_once(
            self, rig: EmailRig, dovecot: DovecotServer) -> None:
        """With nobody on duty a patron's first mail gets one RFC 3834 acknowledgement, sent
        with a null envelope sender; their second mail gets none."""
        assert rig.smtp is not None
        smtp = rig.smtp
        rig.close_the_library("We are closed now; a librarian answers from 08:00.")
        dovecot.deliver(plain_mail("Are you open?", subject="Jam buka"))
        rig.start_intake()
        [ack] = await eventually(lambda: smtp.received)
        dovecot.deliver(plain_mail("Hello again?", subject="Jam buka"))
        await taken(rig, 2)
        [conversation] = await rig.store.conversations()
        assert conversation.after_hours
        assert ack.mail_from == "<>" and ack.rcpt_tos == ("siti@example.id",)
        assert ack.message["Auto-Submitted"] == "auto-replied"
        assert ack.message["Subject"] == "Auto: Jam buka"
        body = ack.message.get_body(("plain",))
        assert body is not None and "answers from 08:00" in body.get_content()
        # The intake counts a mail only after its acknowledgement was sent or passed
        # over, so with two taken a second acknowledgement would be here already.
        assert len(smtp.received) == 1


class TestLargeMail:
    async def test_50_mb_mail_is_taken_with_its_attachment_refused_and_flat_memory(
            self, rig: EmailRig, dovecot: DovecotServer) -> None:
        """A 50 MB mail is accepted without loading it: its text arrives, the attachment is
        refused with its name and size, and Python's allocations stay far below 50 MB."""
        payload = base64.encodebytes(os.urandom(38 * 1024 * 1024))
        raw = (b"From: Budi <budi@example.id>\r\nTo: help@library.example\r\n"
               b"Subject: Skripsi saya\r\nMessage-ID: <big@example.id>\r\nMIME-Version: 1.0\r\n"
               b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\n'
               b'Content-Type: multipart/alternative; boundary="b2"\r\n\r\n--b2\r\n'
               b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
               b"Please find my thesis attached.\r\n--b2\r\n"
               b"Content-Type: text/html; charset=utf-8\r\n\r\n"
               b"<p>Please find my <b>thesis</b> attached.</p>\r\n--b2--\r\n--b1\r\n"
               b'Content-Type: application/pdf; name="skripsi.pdf"\r\n'
               b"Content-Disposition: attachment; "
               b"filename*=utf-8''Skripsi%20Budi%20%E2%80%93%20final.pdf\r\n"
               b"Content-Transfer-Encoding: base64\r\n\r\n" + payload + b"\r\n--b1--\r\n")
        size = len(raw)
        assert size > 50 * 1024 * 1024
        dovecot.deliver(raw)
        del raw, payload
        tracemalloc.start()
        try:
            rig.start_intake()
            await taken(rig, 1, timeout=60)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        [conversation] = await rig.store.conversations()
        [message] = [m for m in await rig.store.history(conversation.id)
                     if m.direction is Direction.PATRON]
        assert message.text == "Please find my thesis attached."
        [thesis] = message.attachments
        assert (thesis.name, thesis.digest, thesis.note) == (
            "Skripsi Budi \u2013 final.pdf", "", "larger than the 20.0 MB limit")
        assert thesis.size // (1024 * 1024) == 38
        print(f"tracemalloc peak {peak} bytes for a {size} byte mail")
        assert peak < size / 10, f"peak {peak} bytes for a {size} byte mail"


class TestSending:
    async def test_reply_threads_under_the_patron_mail(
            self, rig: EmailRig, dovecot: DovecotServer) -> None:
        """A librarian's reply reaches the patron threaded under their mail, with a signed
        Reply-To, and a plain and an HTML part."""
        assert rig.smtp is not None
        dovecot.deliver(plain_mail("Is the library open on Sunday?", subject="Opening hours"))
        rig.start_intake()
        rig.start_outbox()
        await taken(rig, 1)
        [conversation] = await rig.store.conversations()
        [question] = [m for m in await rig.store.history(conversation.id)
                      if m.direction is Direction.PATRON]
        await rig.router.desk.reply(DeskReply(conversation.id, "77", "Sari", "Yes, 9 to 3 & <b>"))
        smtp = rig.smtp
        [received] = await eventually(lambda: smtp.received)
        mail = received.message
        assert received.rcpt_tos == ("siti@example.id",)
        assert mail["In-Reply-To"] == question.external_id
        assert question.external_id in mail["References"]
        assert mail["Subject"] == "Re: Opening hours"
        token = rig.tokens.token_for(conversation.id)
        assert mail["Reply-To"].addresses[0].addr_spec == f"help+{token}@library.example"
        plain = mail.get_body(("plain",))
        html = mail.get_body(("html",))
        assert plain is not None and "Yes, 9 to 3 & <b>" in plain.get_content()
        assert html is not None and "Yes, 9 to 3 &amp; &lt;b&gt;" in html.get_content()
        # the outbox links it as it records the send
        link = await eventually(lambda: rig.store.find_link("email", mail["Message-ID"]))
        assert link.conversation_id == conversation.id

    async def test_temporary_failure_is_retried_and_permanent_one_reported(
            self, rig: EmailRig, dovecot: DovecotServer) -> None:
        """A 451 answer is retried until the mail goes through; a 550 is reported to the desk."""
        assert rig.smtp is not None
        smtp = rig.smtp
        dovecot.deliver(plain_mail("Question one", sender="one@example.id"))
        dovecot.deliver(plain_mail("Question two", sender="two@example.id"))
        rig.start_intake()
        await taken(rig, 2)
        rig.start_outbox()
        one, two = sorted(await rig.store.conversations(), key=lambda c: c.created_at)
        smtp.fail_next = ["451 4.3.0 Try again later"]
        await rig.router.desk.reply(DeskReply(one.id, "77", "Sari", "Answer one"))
        [received] = await eventually(lambda: smtp.received)
        assert received.rcpt_tos == ("one@example.id",) and smtp.attempts == 2
        # a 451 is the server saying it did not take the mail: the retry is no duplicate
        assert rig.worker.stats()["possible_duplicates"] == 0
        smtp.fail_next = ["550 5.1.1 No such user"]
        answer = await rig.router.desk.reply(DeskReply(two.id, "77", "Sari", "Answer two"))
        assert answer is not None
        notes = await eventually(lambda: [m for m in rig.desk.sent
                                          if m.event == "delivery_failed"])
        assert "550" in notes[0].text and len(smtp.received) == 1

    async def test_patron_answer_by_email_lands_in_the_same_conversation(
            self, rig: EmailRig, dovecot: DovecotServer) -> None:
        """End to end: a widget patron's conversation, the librarian's reply by email, and
        the patron's answer appended to Dovecot join the same conversation."""
        assert rig.smtp is not None
        smtp = rig.smtp
        visitor = Contact(Channel.WIDGET, "visitor-1")
        await rig.router.intake.identify(visitor, name="Dewi", email="dewi@example.id")
        accepted = await rig.router.intake.accept(Inbound(Channel.WIDGET, "visitor-1",
                                                   "Do you have e-journals?"))
        conversation = accepted.conversation
        reply = await rig.router.desk.reply(DeskReply(conversation.id, "77", "Sari",
                                                 "Yes, through the portal."))
        assert reply is not None
        # The patron has left the page: the reply goes by email, as the router's fallback
        # asks the outbox to (here the email sender is called as the worker would).
        patron = await rig.store.get_patron(conversation.patron_id)
        assert patron is not None
        [delivery] = [d for d in await rig.store.due_deliveries(1e12, 10)
                      if d.message_id == reply.id]
        sent = await rig.sender.send(delivery, reply, conversation, patron)
        [received] = await eventually(lambda: smtp.received)
        ours = received.message
        answer = EmailMessage()
        answer["From"] = "Dewi <dewi@example.id>"
        answer["To"] = ours["Reply-To"]
        answer["Subject"] = "Re: " + ours["Subject"]
        answer["Message-ID"] = make_msgid(domain="example.id")
        answer["In-Reply-To"] = sent.external_id
        answer["References"] = sent.external_id
        answer.set_content("Thank you! Which portal?\n\nOn Mon, Sari wrote:\n> Yes, through "
                           "the portal.\n")
        dovecot.deliver(answer.as_bytes())
        rig.start_intake()
        await taken(rig, 1)
        texts = [m.text for m in await rig.store.history(conversation.id)
                 if m.direction is Direction.PATRON]
        assert texts == ["Do you have e-journals?", "Thank you! Which portal?"]
        assert len(await rig.store.conversations()) == 1

    async def test_bounce_of_our_reply_is_reported_in_its_topic(
            self, rig: EmailRig, dovecot: DovecotServer) -> None:
        """A delivery failure report for one of our replies becomes a desk notice."""
        dovecot.deliver(plain_mail("Hello?", sender="gone@example.id"))
        rig.start_intake()
        rig.start_outbox()
        await taken(rig, 1)
        [conversation] = await rig.store.conversations()
        await rig.router.desk.reply(DeskReply(conversation.id, "77", "Sari", "Hello!"))
        assert rig.smtp is not None
        smtp = rig.smtp
        [received] = await eventually(lambda: smtp.received)
        ours = received.message["Message-ID"]
        bounce = (f"From: Mail Delivery System <MAILER-DAEMON@mx.example.id>\r\n"
                  f"To: help@library.example\r\nSubject: Undelivered Mail Returned to Sender\r\n"
                  f"Message-ID: <bounce1@mx.example.id>\r\nMIME-Version: 1.0\r\n"
                  f'Content-Type: multipart/report; report-type=delivery-status; '
                  f'boundary="r"\r\n\r\n--r\r\nContent-Type: text/plain\r\n\r\n'
                  f"gone@example.id: mailbox unavailable\r\n--r\r\n"
                  f"Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
                  f"Final-Recipient: rfc822; gone@example.id\r\nStatus: 5.1.1\r\n\r\n--r\r\n"
                  f"Content-Type: text/rfc822-headers\r\n\r\nMessage-ID: {ours}\r\n"
                  f"Subject: Re: Peminjaman buku\r\n\r\n--r--\r\n")
        dovecot.deliver(bounce.encode())
        await taken(rig, 2)
        assert rig.intake is not None and rig.intake.counts["bounce"] == 1
        notices = await eventually(lambda: [m for m in rig.desk.sent if m.event == "bounce"])
        assert "mailbox unavailable" in notices[0].text
        assert len(await rig.store.conversations()) == 1

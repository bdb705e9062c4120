"""Files both ways by email, one Message-ID per delivery, and ratings by reply.

Against the real servers of ``mail_fixtures``: mail is put into Dovecot's maildir, taken
by the real IMAP intake, email intake, router and SQLite store; the librarian's replies
go through the real outbox and SMTP sender to aiosmtpd. The sender here has the blob
store and the real reply-token signer (which makes rating tokens).
"""

from __future__ import annotations

import os
import struct
import tracemalloc
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from adapters.blobs import BlobStore
from adapters.email.smtp import EmailSender
from adapters.email.tokens import ReplyTokens
from routing.model import (
    Attachment,
    AttachmentKind,
    Channel,
    DeskReply,
    Direction,
    Message,
    Status,
)
from routing.outbox import DeliveryWorker, RetryPolicy
from routing.ports import Sender, SystemClock
from routing.router import Router
from tests.eventually import eventually
from tests.integration.mailservers import LIBRARY, DovecotServer, Received

if TYPE_CHECKING:
    from tests.integration.mail_fixtures import EmailRig

pytest_plugins = ["tests.integration.mail_fixtures"]
pytestmark = pytest.mark.timeout(120)

KB = 1024
CORPUS = Path(__file__).resolve().parents[1] / "data" / "emails"
PATRON = "siti@example.id"


def pdf(size: int = 2 * KB) -> bytes:
    return b"%PDF-1.4\n" + os.urandom(size) + b"\n%%EOF\n"


def jpeg(width: int = 640, height: int = 480, size: int = 3 * KB) -> bytes:
    """A JPEG's header (JFIF, a start-of-frame with the size), then bytes, then its end."""
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    app0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return b"\xff\xd8" + app0 + sof + os.urandom(size) + b"\xff\xd9"


def mail_with(text: str, files: list[tuple[str, str, bytes]], *, sender: str = PATRON,
              subject: str = "Dokumen", **headers: str) -> bytes:
    mail = EmailMessage()
    mail["From"] = f"Siti Rahma <{sender}>"
    mail["To"] = LIBRARY
    mail["Subject"] = subject
    mail["Message-ID"] = make_msgid(domain="example.id")
    for key, value in headers.items():
        mail[key.replace("_", "-")] = value
    mail.set_content(text)
    for name, ctype, data in files:
        maintype, subtype = ctype.split("/")
        mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return mail.as_bytes()


async def taken(rig: EmailRig, count: int) -> None:
    intake = rig.intake
    assert intake is not None
    await eventually(lambda: sum(intake.counts.values()) >= count)


async def patron_messages(rig: EmailRig) -> list[Message]:
    out: list[Message] = []
    for conversation in reversed(await rig.store.conversations(limit=100)):
        out += [m for m in await rig.store.history(conversation.id)
                if m.direction is Direction.PATRON]
    return out


def use_sender(rig: EmailRig, sender: EmailSender) -> None:
    """Send email with ``sender``: a new outbox and router around it (nothing started)."""
    rig.sender = sender
    senders: dict[Channel, Sender] = {Channel.DESK: rig.desk, Channel.EMAIL: sender}
    rig.worker = DeliveryWorker(rig.store, SystemClock(), senders,
                                policy=RetryPolicy(base=0.05, cap=0.2, max_attempts=4))
    rig.router = Router(rig.store, SystemClock(), on_enqueue=rig.worker.wake)


@pytest.fixture
async def files_rig(rig: EmailRig) -> AsyncIterator[EmailRig]:
    """The rig with a sender that reads the blob store, and the real token signer."""
    tokens = ReplyTokens("integration-secret-0123456789")
    rig.tokens = tokens  # type: ignore[assignment]  # the real signer, not the test one
    use_sender(rig, EmailSender(rig.settings, rig.store, tokens=tokens,
                                library_name="Perpustakaan Kota Pustaka",
                                blobs=BlobStore(rig.root / "blobs")))
    yield rig


def blobs(rig: EmailRig) -> BlobStore:
    return BlobStore(rig.root / "blobs")


class TestIncomingFiles:
    async def test_pdf_and_jpeg_become_two_attachments_with_identical_bytes(
            self, files_rig: EmailRig, dovecot: DovecotServer) -> None:
        """A mail with a PDF and a JPEG is one patron message carrying both files, in
        order, typed from their bytes, each kept byte for byte in the blob store."""
        rig = files_rig
        scan, photo = pdf(40 * KB), jpeg()
        dovecot.deliver(mail_with("Berikut KTP dan formulir saya.",
                                  [("formulir.pdf", "application/pdf", scan),
                                   ("ktp.jpg", "application/octet-stream", photo)]))
        rig.start_intake()
        await taken(rig, 1)
        [message] = await patron_messages(rig)
        assert message.text == "Berikut KTP dan formulir saya."
        first, second = message.attachments
        assert (first.kind, first.name, first.mime, first.size) == (
            AttachmentKind.DOCUMENT, "formulir.pdf", "application/pdf", len(scan))
        assert (second.kind, second.name, second.mime, second.size) == (
            AttachmentKind.PHOTO, "ktp.jpg", "image/jpeg", len(photo))
        assert await blobs(rig).get(first.digest) == scan
        assert await blobs(rig).get(second.digest) == photo

    async def test_attachment_over_the_limit_is_a_note_without_bytes(
            self, files_rig: EmailRig, dovecot: DovecotServer) -> None:
        """A file over email.max_attachment_bytes arrives as an attachment with no digest
        and a note saying why; the file under the limit beside it is kept."""
        rig = files_rig
        big, small = pdf(300 * KB), pdf(10 * KB)
        dovecot.deliver(mail_with("Skripsi saya.", [("skripsi.pdf", "application/pdf", big),
                                                    ("abstrak.pdf", "application/pdf", small)]))
        rig.start_intake(max_attachment_bytes=100 * KB)
        await taken(rig, 1)
        [message] = await patron_messages(rig)
        refused, kept = message.attachments
        assert (refused.name, refused.digest, refused.kept) == ("skripsi.pdf", "", False)
        assert refused.note == "larger than the 100 KB limit"
        assert refused.size > 300 * KB
        assert kept.kept and await blobs(rig).get(kept.digest) == small

    async def test_more_than_ten_files_pass_the_first_ten_and_name_the_rest(
            self, files_rig: EmailRig, dovecot: DovecotServer) -> None:
        """Twelve files: the first ten go with the message, the other two are named."""
        rig = files_rig
        files = [(f"halaman-{i:02}.pdf", "application/pdf", pdf(KB)) for i in range(12)]
        dovecot.deliver(mail_with("Dua belas halaman.", files))
        rig.start_intake()
        await taken(rig, 1)
        [message] = await patron_messages(rig)
        assert [a.name for a in message.attachments] == [f"halaman-{i:02}.pdf"
                                                          for i in range(10)]
        assert message.text.startswith("Dua belas halaman.\n\n\U0001f4ce 2 more files")
        assert "halaman-10.pdf" in message.text and "halaman-11.pdf" in message.text

    async def test_signature_logo_and_pixel_are_not_attachments(
            self, files_rig: EmailRig, dovecot: DovecotServer) -> None:
        """A Gmail answer with a pasted screenshot, a spacer pixel, a signature logo and
        a logo in the quote passes on the screenshot alone."""
        rig = files_rig
        dovecot.deliver((CORPUS / "gmail_screenshot_and_signature_logo.eml").read_bytes())
        rig.start_intake()
        await taken(rig, 1)
        [message] = await patron_messages(rig)
        assert [(a.name, a.kind) for a in message.attachments] == [
            ("galat-katalog.png", AttachmentKind.PHOTO)]

    async def test_oversized_mail_keeps_small_files_and_reads_flat(
            self, files_rig: EmailRig, dovecot: DovecotServer) -> None:
        """A mail over email.max_message_bytes is read by its parts: its small photo is
        kept exactly, its big file is refused unread, and memory stays far below it."""
        rig = files_rig
        photo, thesis = jpeg(size=200 * KB), pdf(6 * 1024 * KB)
        raw = mail_with("Foto dan skripsi.", [("foto.jpg", "image/jpeg", photo),
                                              ("skripsi.pdf", "application/pdf", thesis)])
        dovecot.deliver(raw)
        size = len(raw)
        del raw, thesis
        tracemalloc.start()
        try:
            rig.start_intake(max_message_bytes=1024 * KB, max_attachment_bytes=2048 * KB)
            await taken(rig, 1)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        [message] = await patron_messages(rig)
        kept, refused = message.attachments
        assert kept.name == "foto.jpg" and await blobs(rig).get(kept.digest) == photo
        assert (refused.name, refused.kept, refused.note) == (
            "skripsi.pdf", False, "larger than the 2.0 MB limit")
        print(f"tracemalloc peak {peak} bytes for a {size} byte mail")
        assert peak < size / 3, f"peak {peak} bytes for a {size} byte mail"


async def email_conversation(rig: EmailRig, dovecot: DovecotServer) -> str:
    dovecot.deliver(mail_with("Jam buka perpustakaan?", [], subject="Jam buka"))
    rig.start_intake()
    await taken(rig, 1)
    [conversation] = await rig.store.conversations()
    return conversation.id


async def stored_file(rig: EmailRig, name: str, mime: str, data: bytes) -> Attachment:
    blob = await blobs(rig).put(data)
    return Attachment(AttachmentKind.DOCUMENT, name, mime, blob.size, blob.digest)


def mails(rig: EmailRig, count: int) -> Callable[[], list[Received] | None]:
    smtp = rig.smtp
    assert smtp is not None
    return lambda: smtp.received if len(smtp.received) >= count else None


class TestOutgoingFiles:
    async def test_reply_with_a_document_is_multipart_mixed_with_the_same_bytes(
            self, files_rig: EmailRig, dovecot: DovecotServer) -> None:
        """A librarian's document reaches the patron attached beside the text and HTML,
        decoding to the same bytes, its hostile name one safe line and no header added."""
        rig = files_rig
        conversation_id = await email_conversation(rig, dovecot)
        rig.start_outbox()
        data = pdf(50 * KB)
        evil = 'Jadwal "Ramadan" \u2013 2025\r\nBcc: victim@example.com\r\n\r\n../../x.pdf'
        file = await stored_file(rig, evil, "application/pdf", data)
        await rig.router.desk.reply(DeskReply(conversation_id, "77", "Sari", "Jadwalnya terlampir.",
                                         attachments=(file,)))
        [received] = await eventually(mails(rig, 1))
        mail = received.message
        assert mail.get_content_type() == "multipart/mixed"
        assert mail["Bcc"] is None and received.rcpt_tos == (PATRON,)
        body = mail.get_body(("plain",))
        assert body is not None and "Jadwalnya terlampir." in body.get_content()
        assert mail.get_body(("html",)) is not None
        [attached] = list(mail.iter_attachments())
        assert attached.get_content_type() == "application/pdf"
        assert attached["Content-Transfer-Encoding"] == "base64"
        assert attached.get_content() == data
        name = attached.get_filename()
        assert name == 'Jadwal "Ramadan" \u2013 2025 Bcc: victim@example.com .._.._x.pdf'
        assert b"filename*" in received.data  # RFC 2231, for the dash
        assert b"\nBcc:" not in received.data

    async def test_missing_and_oversized_files_become_lines(
            self, files_rig: EmailRig, dovecot: DovecotServer) -> None:
        """A file gone from the blob store and one over the size limit are named in the
        text; the reply still goes out, with the file that can be sent."""
        rig = files_rig
        use_sender(rig, EmailSender(replace(rig.settings, max_attachment_bytes=64 * KB),
                                    rig.store, tokens=rig.tokens, blobs=blobs(rig)))
        conversation_id = await email_conversation(rig, dovecot)
        rig.start_outbox()
        small = await stored_file(rig, "denah.pdf", "application/pdf", pdf(KB))
        big = await stored_file(rig, "katalog.pdf", "application/pdf", pdf(100 * KB))
        gone = Attachment(AttachmentKind.DOCUMENT, "hilang.pdf", "application/pdf", 10,
                          "ab" * 32)
        await rig.router.desk.reply(DeskReply(conversation_id, "77", "Sari", "Tiga berkas.",
                                         attachments=(small, big, gone)))
        [received] = await eventually(mails(rig, 1))
        text = received.message.get_body(("plain",))
        assert text is not None
        plain = text.get_content()
        assert "katalog.pdf (100 KB) is too large to send by email" in plain
        assert "hilang.pdf could not be attached" in plain
        assert [a.get_filename() for a in received.message.iter_attachments()] == ["denah.pdf"]

    async def test_mail_too_large_for_the_server_goes_again_without_files(
            self, files_rig: EmailRig, dovecot: DovecotServer) -> None:
        """When the mail server refuses the mail for its size, the answer is sent again
        with the files named instead, not lost."""
        rig = files_rig
        assert rig.smtp is not None
        conversation_id = await email_conversation(rig, dovecot)
        rig.start_outbox()
        file = await stored_file(rig, "katalog.pdf", "application/pdf", pdf(30 * KB))
        rig.smtp.fail_next = ["552 5.3.4 Message size exceeds fixed maximum message size"]
        await rig.router.desk.reply(DeskReply(conversation_id, "77", "Sari", "Katalognya.",
                                         attachments=(file,)))
        [received] = await eventually(mails(rig, 1))
        assert list(received.message.iter_attachments()) == []
        body = received.message.get_body(("plain",))
        assert body is not None and "katalog.pdf (30 KB) is too large" in body.get_content()
        assert [m for m in rig.desk.sent if m.event == "delivery_failed"] == []


class TestMessageId:
    async def test_the_same_delivery_sent_twice_has_the_same_message_id(
            self, files_rig: EmailRig, dovecot: DovecotServer) -> None:
        """Sending one delivery twice (a retry after a crash) gives one Message-ID, made
        from its key; another delivery gets another; the patron's answer to it threads."""
        rig = files_rig
        conversation_id = await email_conversation(rig, dovecot)
        reply = await rig.router.desk.reply(DeskReply(conversation_id, "77", "Sari", "Buka 08.00."))
        other = await rig.router.desk.reply(DeskReply(conversation_id, "77", "Sari", "Juga Sabtu."))
        assert reply is not None and other is not None
        conversation = await rig.store.get_conversation(conversation_id)
        assert conversation is not None
        patron = await rig.store.get_patron(conversation.patron_id)
        assert patron is not None
        due = {d.message_id: d for d in await rig.store.due_deliveries(1e12, 10)}
        first = await rig.sender.send(due[reply.id], reply, conversation, patron)
        again = await rig.sender.send(due[reply.id], reply, conversation, patron)
        third = await rig.sender.send(due[other.id], other, conversation, patron)
        one, two, _ = await eventually(mails(rig, 3))
        assert one.message["Message-ID"] == two.message["Message-ID"] == first.external_id
        assert again.external_id == first.external_id != third.external_id
        assert first.external_id.endswith("@library.example>")
        answer = mail_with("Terima kasih!", [], subject="Re: Jam buka",
                           In_Reply_To=first.external_id, References=first.external_id)
        dovecot.deliver(answer)
        await taken(rig, 2)
        texts = [m.text for m in await patron_messages(rig)]
        assert texts == ["Jam buka perpustakaan?", "Terima kasih!"]


async def closed_conversation(rig: EmailRig, dovecot: DovecotServer) -> tuple[str, Received]:
    """An email conversation answered and closed; returns it and the rating request."""
    conversation_id = await email_conversation(rig, dovecot)
    rig.start_outbox()
    await rig.router.desk.reply(DeskReply(conversation_id, "77", "Sari", "Buka pukul 08.00."))
    await eventually(mails(rig, 1))
    await rig.router.claims.close(conversation_id, "77", "Sari")
    _, request = await eventually(mails(rig, 2))
    return conversation_id, request


def answer_to(request: Received, text: str, *, sender: str = PATRON, threaded: bool = True,
              to_token: bool = True) -> bytes:
    """The patron's answer: threaded under the request and/or sent to its Reply-To."""
    ours = request.message
    headers = {"In_Reply_To": ours["Message-ID"], "References": ours["Message-ID"]}
    mail = mail_with(text, [], sender=sender, subject="Re: Jam buka",
                     **(headers if threaded else {}))
    if not to_token:
        return mail
    return mail.replace(f"To: {LIBRARY}".encode(), f"To: {ours['Reply-To']}".encode(), 1)


class TestRatingByEmail:
    async def test_close_sends_one_rating_request_in_both_languages(
            self, files_rig: EmailRig, dovecot: DovecotServer) -> None:
        """Closing sends one mail, threaded, asking in English and Indonesian, with
        1-5 answer buttons to the rating address."""
        rig = files_rig
        conversation_id, request = await closed_conversation(rig, dovecot)

        async def all_sent() -> bool:  # a second request would be queued by the close
            return await rig.store.pending_deliveries() == 0

        await eventually(all_sent)
        assert rig.smtp is not None and len(rig.smtp.received) == 2
        mail = request.message
        body = mail.get_body(("plain",))
        html = mail.get_body(("html",))
        assert body is not None and html is not None
        assert "How did we do?" in body.get_content()
        assert "Bagaimana layanan kami?" in body.get_content()
        token = ReplyTokens("integration-secret-0123456789").rating_token_for(conversation_id)
        assert mail["Reply-To"].addresses[0].addr_spec == f"help+{token}@library.example"
        assert f"mailto:help+{token}@library.example?subject=" in html.get_content()
        assert mail["Subject"] == "Re: Jam buka"

    async def test_rating_reply_rates_the_conversation(
            self, files_rig: EmailRig, dovecot: DovecotServer) -> None:
        """"5/5 thanks!" in answer to the rating request (found by its In-Reply-To alone,
        sent to the plain help address) rates the closed conversation 5 with the comment,
        tells the desk, and opens nothing."""
        rig = files_rig
        conversation_id, request = await closed_conversation(rig, dovecot)
        dovecot.deliver(answer_to(request, "5/5 thanks!\n\nOn Tue, Library wrote:\n> How did",
                                  to_token=False))
        await taken(rig, 2)
        assert rig.intake is not None and rig.intake.counts["rated"] == 1
        conversation = await rig.store.get_conversation(conversation_id)
        assert conversation is not None
        assert (conversation.rating, conversation.rating_comment) == (5, "thanks!")
        assert conversation.status is Status.CLOSED and conversation.rated_librarian_id == "77"
        notes = await eventually(lambda: [m for m in rig.desk.sent if m.event == "rated"])
        assert "5/5" in notes[0].text
        assert [m.text for m in await patron_messages(rig)] == ["Jam buka perpustakaan?"]

    async def test_rating_without_threading_headers_uses_the_rating_token(
            self, files_rig: EmailRig, dovecot: DovecotServer) -> None:
        """A tap on a button (a new mail to the rating address, no In-Reply-To) rates."""
        rig = files_rig
        conversation_id, request = await closed_conversation(rig, dovecot)
        dovecot.deliver(answer_to(request, "4/5 ", threaded=False))
        await taken(rig, 2)
        conversation = await rig.store.get_conversation(conversation_id)
        assert conversation is not None and conversation.rating == 4

    async def test_anything_else_in_answer_is_a_message(
            self, files_rig: EmailRig, dovecot: DovecotServer) -> None:
        """A question in answer to the rating request reopens the conversation as usual."""
        rig = files_rig
        conversation_id, request = await closed_conversation(rig, dovecot)
        dovecot.deliver(answer_to(request, "Satu lagi: apakah buka hari Minggu?"))
        await taken(rig, 2)
        conversation = await rig.store.get_conversation(conversation_id)
        assert conversation is not None
        assert conversation.status is Status.OPEN and conversation.rating is None
        assert [m.text for m in await patron_messages(rig)][-1] == (
            "Satu lagi: apakah buka hari Minggu?")

    async def test_a_request_that_begins_with_a_number_is_a_message(
            self, files_rig: EmailRig, dovecot: DovecotServer) -> None:
        """"3 copies of ..." in answer to the rating request is a request for a librarian,
        not three stars: the conversation reopens with it and no rating is recorded."""
        rig = files_rig
        conversation_id, request = await closed_conversation(rig, dovecot)
        dovecot.deliver(answer_to(request, "3 copies of Laskar Pelangi please, for my class"))
        await taken(rig, 2)
        conversation = await rig.store.get_conversation(conversation_id)
        assert conversation is not None
        assert conversation.status is Status.OPEN and conversation.rating is None
        assert [m.text for m in await patron_messages(rig)][-1] == (
            "3 copies of Laskar Pelangi please, for my class")

    async def test_someone_else_cannot_rate(
            self, files_rig: EmailRig, dovecot: DovecotServer) -> None:
        """A stranger answering the request (a forward, a forgery) rates nothing and
        joins nothing; their mail is a conversation of their own."""
        rig = files_rig
        conversation_id, request = await closed_conversation(rig, dovecot)
        dovecot.deliver(answer_to(request, "1", sender="mallory@example.net"))
        await taken(rig, 2)
        conversation = await rig.store.get_conversation(conversation_id)
        assert conversation is not None and conversation.rating is None
        assert conversation.status is Status.CLOSED
        assert len(await rig.store.conversations()) == 2


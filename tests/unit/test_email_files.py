"""Email files both ways, decoration left out, Message-IDs per delivery, ratings by reply."""

from __future__ import annotations

import email
import struct
import zlib
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from adapters.blobs import BlobStore
from adapters.email.compose import OutgoingAttachment, compose_reply, delivery_message_id
from adapters.email.imap_fetch import RefusedPart
from adapters.email.inline import PIXEL, QUOTED, image_size, mark_decorations
from adapters.email.intake_files import keep_files
from adapters.email.mime import ParsedAttachment
from adapters.email.outgoing import attached_files, content_for
from adapters.email.parse import parse_email
from adapters.email.rating_mail import rating_html, rating_text
from adapters.email.rating_reply import read_rating
from adapters.email.tokens import ReplyTokens
from routing.model import Attachment, AttachmentKind, Direction, Message

CORPUS = Path(__file__).resolve().parents[1] / "data" / "emails"
MB = 1024 * 1024
SECRET = "corpus-secret-0123456789abcdef"
CONVERSATION = "018fdc6a1b2c0000ab12"


def png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + bytes(width * 3) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def inline(name: str, cid: str, data: bytes) -> ParsedAttachment:
    return ParsedAttachment(name, "image/png", len(data), data, True, cid)


def sent(msg: EmailMessage) -> EmailMessage:
    parsed = email.message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


class TestDecoration:
    def test_gmail_screenshot_kept_logos_and_pixel_left_out(self) -> None:
        """In a Gmail answer the pasted screenshot is content; the spacer pixel, the
        signature logo and the logo in the quoted history are decoration."""
        mail = parse_email((CORPUS / "gmail_screenshot_and_signature_logo.eml").read_bytes())
        assert [(a.filename, a.decoration) for a in mail.attachments] == [
            ("galat-katalog.png", ""), ("spacer.gif", PIXEL), ("logo-univ.png", QUOTED),
            ("logo-perpus.png", QUOTED)]

    def test_logo_under_a_sign_off_is_decoration(self) -> None:
        """Without signature markup (Outlook desktop), a logo under "Best regards," and a
        name is found by the reply stripper's sign-off rule."""
        html = ('<p>Please see the error:</p><p><img src="cid:shot@x"></p>'
                '<p>Best regards,<br>Yusuf Hakim<br><img src="cid:logo@x"></p>')
        shot, logo = inline("image001.png", "shot@x", png(400, 200)), inline(
            "image002.png", "logo@x", png(180, 60))
        marked = mark_decorations([shot, logo], html)
        assert [a.decoration for a in marked] == ["", QUOTED]

    def test_uncited_inline_image_and_attachments_are_kept(self) -> None:
        """An inline part the HTML never shows, and any attached file, are kept."""
        photo = inline("photo.png", "photo@x", png(300, 300))
        tiny = ParsedAttachment("dot.png", "image/png", 70, png(1, 1))  # attached, not inline
        marked = mark_decorations([photo, tiny], "<p>Hello</p>")
        assert [a.decoration for a in marked] == ["", ""]

    def test_image_sizes(self) -> None:
        """Width and height are read from PNG, GIF and JPEG headers."""
        gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00"
        sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, 480, 640, 1)
        jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + sof
        assert [image_size(png(320, 200)), image_size(gif), image_size(jpeg + bytes(8))] == [
            (320, 200), (1, 1), (640, 480)]
        assert image_size(b"%PDF-1.4") is None


class TestKeepFiles:
    async def test_files_typed_by_their_bytes_and_stored(self, tmp_path: Path) -> None:
        """Each file is kept and typed by its first bytes, not its declared type; order kept."""
        blobs = BlobStore(tmp_path)
        fake_photo = b"%PDF-1.4 really a pdf"
        parts = [ParsedAttachment("scan.png", "image/png", len(fake_photo), fake_photo),
                 ParsedAttachment("photo.png", "application/octet-stream", 100, png(5, 5))]
        files = await keep_files(parts, (), blobs, max_attachment_bytes=MB,
                                 max_message_bytes=MB, max_files=10)
        scan, photo = files.attachments
        assert (scan.kind, scan.mime, scan.name) == (
            AttachmentKind.DOCUMENT, "application/pdf", "scan.png")
        assert (photo.kind, photo.mime) == (AttachmentKind.PHOTO, "image/png")
        assert await blobs.get(scan.digest) == fake_photo and files.overflow == ""

    async def test_refused_unloaded_decoration_and_overflow(self, tmp_path: Path) -> None:
        """Refused files carry a note, decoration is dropped, past ten files are named."""
        blobs = BlobStore(tmp_path)
        refused = ParsedAttachment("big.pdf", "application/pdf", 30 * MB, None,
                                   refused_reason="larger than the limit")
        logo = ParsedAttachment("logo.png", "image/png", 9, b"\x89PNG....", True, "l@x",
                                decoration=QUOTED)
        many = [ParsedAttachment(f"p{i}.txt", "text/plain", 2, b"hi") for i in range(10)]
        unloaded = [RefusedPart("video.mp4", "video/mp4", 40 * MB, over_limit=True)]
        files = await keep_files([refused, logo, *many], unloaded, blobs,
                                 max_attachment_bytes=20 * MB, max_message_bytes=25 * MB,
                                 max_files=10)
        assert len(files.attachments) == 10 and files.attachments[0].digest == ""
        assert files.attachments[0].note == "larger than the 20.0 MB limit"
        assert "logo.png" not in [a.name for a in files.attachments]
        assert files.overflow.startswith("\U0001f4ce 2 more files were not passed on")
        assert "p9.txt (2 bytes), video.mp4 (40.0 MB)" in files.overflow


class TestOutgoing:
    async def test_missing_large_and_unkept_files_become_lines(self, tmp_path: Path) -> None:
        """Files that cannot go are lines; the one that can is attached with its sniffed type."""
        blobs = BlobStore(tmp_path)
        kept = await blobs.put(b"%PDF-1.4 ok")
        files = [
            Attachment(AttachmentKind.DOCUMENT, "ok.pdf", "image/png", kept.size, kept.digest),
            Attachment(AttachmentKind.DOCUMENT, "gone.pdf", "application/pdf", 5, "cd" * 32),
            Attachment(AttachmentKind.VIDEO, "film.mp4", "video/mp4", 30 * MB, "ef" * 32),
            Attachment(AttachmentKind.PHOTO, "x.jpg", "image/jpeg", 9, note="not allowed"),
        ]
        out, lines = await attached_files(files, blobs, max_bytes=20 * MB, lang="en")
        assert [(a.filename, a.content_type) for a in out] == [("ok.pdf", "application/pdf")]
        assert lines == [
            "\U0001f4ce gone.pdf could not be attached; please ask us to send it again.",
            "\U0001f4ce film.mp4 (30.0 MB) is too large to send by email; please ask us for "
            "another way to receive it.",
            "\U0001f4ce x.jpg (9 bytes) could not be attached: not allowed."]

    @pytest.mark.parametrize(("direction", "event", "mailed"), [
        (Direction.NOTE, "note", False), (Direction.SYSTEM, "closed", False),
        (Direction.SYSTEM, "claimed", False), (Direction.LIBRARIAN, "withdrawn", False),
        (Direction.SYSTEM, "rating_request", True), (Direction.LIBRARIAN, "", True),
    ])
    async def test_which_messages_become_mail(self, direction: Direction, event: str,
                                              mailed: bool) -> None:
        """Notes, withdrawals and live status lines send nothing; the rating request (which
        also says "closed") and replies do."""
        message = Message("m1", "c1", direction, "text", event=event)
        content = await content_for(message, None, max_bytes=MB, languages=("en", "id"))
        assert (content is not None) is mailed


class TestCompose:
    def reply(self, **changes: object) -> EmailMessage:
        args: dict[str, object] = dict(
            from_address="help@library.example", from_name="Perpustakaan", to_address=
            "budi@example.id", to_name="Budi", subject="Tanya", text="Terlampir.",
            in_reply_to=None, references=[], reply_to="help@library.example",
            message_id_domain="library.example", library_name="Perpustakaan")
        args.update(changes)
        return compose_reply(**args)  # type: ignore[arg-type]

    def test_files_beside_text_and_html(self) -> None:
        """multipart/mixed: the text/HTML alternative first, then each file, base64, with
        its name RFC 2231-encoded in both Content-Disposition and Content-Type."""
        data = bytes(range(256)) * 10
        mail = sent(self.reply(attachments=[OutgoingAttachment(
            "Daftar pustaka \u2013 final.pdf", "application/pdf", data)]))
        assert mail.get_content_type() == "multipart/mixed"
        first, file = mail.iter_parts()
        assert first.get_content_type() == "multipart/alternative"
        assert file.get_filename() == "Daftar pustaka \u2013 final.pdf"
        assert file.get_param("name") == "Daftar pustaka \u2013 final.pdf"
        assert file["Content-Transfer-Encoding"] == "base64" and file.get_content() == data
        assert "filename*=utf-8''Daftar" in self.reply(attachments=[OutgoingAttachment(
            "Daftar pustaka \u2013 final.pdf", "application/pdf", data)]).as_string()

    def test_names_and_types_cannot_add_headers(self) -> None:
        """A name or type with line breaks stays in its parameter; a bad type is
        octet-stream; a name that is only dots gets a plain one."""
        evil = OutgoingAttachment('a.pdf"\r\nBcc: v@example.com\r\n', "text/html\r\nX-Evil: 1",
                                  b"<b>x</b>")
        dots = OutgoingAttachment("..", "application/pdf", b"%PDF-")
        raw = self.reply(attachments=[evil, dots]).as_bytes()
        mail = sent(self.reply(attachments=[evil, dots]))
        assert b"\nBcc:" not in raw and b"\nX-Evil:" not in raw
        first, second = mail.iter_attachments()
        assert first.get_content_type() == "application/octet-stream"
        assert first.get_filename() == 'a.pdf" Bcc: v@example.com'
        assert second.get_filename() == "attachment.pdf"

    def test_message_id_per_delivery(self) -> None:
        """The same key gives the same Message-ID, another key another; compose uses it."""
        one = delivery_message_id("m1:email", "library.example")
        assert one == delivery_message_id("m1:email", "library.example")
        assert one != delivery_message_id("m2:email", "library.example")
        assert one.endswith(".pustaka@library.example>") and "m1" not in one
        assert sent(self.reply(message_id=one))["Message-ID"] == one
        with pytest.raises(ValueError):
            delivery_message_id("m1:email", "library.example>\r\nBcc: x@y")


class TestRatings:
    @pytest.mark.parametrize(("text", "found"), [
        ("5/5 thanks!", (5, "thanks!")), ("5", (5, "")), ("4/5 good", (4, "good")),
        ("3 bintang, oke", (3, "oke")), ("5 - Terima kasih", (5, "Terima kasih")),
        ("5. Great help", (5, "Great help")), ("4 of 5", (4, "")), ("5 stars!", (5, "")),
        ("2 books are missing?", None), ("12 books", None), ("3:30 works", None),
        ("4/12 then", None), ("thanks 5", None), ("0", None), ("6", None),
        ("3 copies of Laskar Pelangi please, for my class", None),
        ("1 more thing: my card number is 12345", None), ("5 thanks!", None),
    ])
    def test_read_rating(self, text: str, found: tuple[int, str] | None) -> None:
        """A digit 1-5 alone or marked as a score is a rating; a digit that begins a
        sentence, times, dates, questions and other text are not."""
        assert read_rating(text) == found

    def test_rating_mail_in_both_languages_with_safe_buttons(self) -> None:
        """Both languages ask; each button is a mailto: to the rating address, escaped."""
        text = rating_text(("en", "id"))
        assert "How did we do?" in text and "Bagaimana layanan kami?" in text
        html = rating_html(("en", "id"), answer_address="help+rabc@library.example",
                           subject='Re: "Buku" & <b>')
        assert html.count('href="mailto:help+rabc@library.example?subject=') == 5
        assert "Re%3A%20%22Buku%22%20%26%20%3Cb%3E" in html and "<b>\"" not in html
        assert "&amp;body=5%2F5%20" in html

    def test_rating_tokens(self) -> None:
        """A rating token names its conversation and says it is one; a plain token does
        not; neither can be turned into the other."""
        tokens = ReplyTokens(SECRET)
        rating, plain = tokens.rating_token_for(CONVERSATION), tokens.token_for(CONVERSATION)
        assert tokens.rating_conversation_of(rating) == CONVERSATION
        assert tokens.conversation_of(rating) == CONVERSATION
        assert tokens.rating_conversation_of(plain) is None
        assert tokens.conversation_of("r" + plain) is None
        assert tokens.conversation_of(rating[1:]) is None
        assert len(f"help+{rating}") <= 64

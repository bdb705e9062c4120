"""Received mail from the corpus under tests/data/emails: what the desk is given."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.email.autoreply import AutoKind
from adapters.email.parse import ParsedMail, parse_email

CORPUS = Path(__file__).resolve().parents[1] / "data" / "emails"
OUR_REPLY = "<171816120777.4242.1010@library.example>"


def parse(name: str, **kwargs: int) -> ParsedMail:
    return parse_email((CORPUS / name).read_bytes(), reply_local_part="help", **kwargs)


class TestReplyStripping:
    def test_gmail_english(self) -> None:
        """A Gmail answer loses the wrapped "On ... wrote:" header and the quote under it."""
        assert parse("gmail_reply_en.eml").text == (
            "Thank you! I will bring it back on Friday. Is the fine paid at the front\n"
            "desk or online?\n\nBudi"
        )

    def test_gmail_indonesian(self) -> None:
        """"Pada tgl ..., ... menulis:" and a "Terima kasih," sign-off are stripped."""
        assert parse("gmail_reply_id.eml").text == (
            "Baik, saya akan datang hari Kamis dengan KTP dan pas foto.\n"
            "Apakah kartu anggota bisa langsung jadi?"
        )

    def test_outlook_desktop_windows_1252(self) -> None:
        """Outlook's rule + From/Sent/To/Subject block and signature go; cp1252 quotes decode."""
        assert parse("outlook_desktop_en.eml").text == (
            "Hi,\n\nI\u2019m happy to wait two weeks \u2013 please go ahead and request the "
            "\u201cJournal of Asian Studies\u201d article from the national library."
        )

    def test_outlook_com_indonesian(self) -> None:
        """Outlook.com's Dari/Dikirim/Kepada/Subjek block and "Dapatkan Outlook" go."""
        assert parse("outlook_com_id.eml").text == (
            "Oh begitu, berarti tanggal 17 Agustus tutup ya. Kalau tanggal 18 buka jam berapa?"
        )

    def test_apple_mail_split_body(self) -> None:
        """Apple Mail's text around an attachment: "Sent from my iPhone" and "> On" quote go."""
        assert parse("apple_mail_en_attachment.eml").text == (
            "Here is the signed deposit form. The abstract is on page 2."
        )

    def test_thunderbird_latin1_flowed(self) -> None:
        """iso-8859-1 decodes, format=flowed lines rejoin, "-- " signature and quote go."""
        assert parse("thunderbird_en_latin1.eml").text == (
            "Thank you. Could I also see the 1920s caf\u00e9 photographs from the Braga "
            "collection while I am there? I'm happy to pay the reproduction fee (\u00a325 or "
            "the rupiah equivalent).\n\nRen\u00e9e"
        )

    def test_thunderbird_indonesian(self) -> None:
        """"Pada <date>, <name> menulis:" and a "Salam," sign-off are stripped."""
        assert parse("thunderbird_id.eml").text == (
            "Siap, kami berenam. Boleh pakai proyektor juga?"
        )

    def test_full_text_keeps_the_quote(self) -> None:
        """``full_text`` is the whole body, quote included, for whoever needs it."""
        mail = parse("gmail_reply_en.eml")
        assert "> Your loan of \"Bumi Manusia\" can be renewed once more." in mail.full_text


class TestBodies:
    def test_html_only(self) -> None:
        """HTML-only mail becomes text: entities decoded, script dropped, quoted block cut."""
        assert parse("outlook_com_html_only_en.eml").text == (
            "Thanks \u2013 my card number was 0012 3456. Can the new card keep my 3 loans & "
            "holds?\n\nMaria"
        )

    def test_undeclared_8bit(self) -> None:
        """8-bit bytes with no charset are read as windows-1252, in the body and the subject."""
        mail = parse("undeclared_8bit_cp1252.eml")
        assert mail.subject == "Buku \u201cLaskar Pelangi\u201d"
        assert mail.text == (
            "Selamat pagi,\n\nApakah buku \u201cLaskar Pelangi\u201d karya Andrea Hirata "
            "tersedia? Saya mau pinjam 2\u00d73 minggu."
        )

    def test_encoded_sender_name(self) -> None:
        """An RFC 2047 display name is decoded; the address is lowercased."""
        mail = parse("thunderbird_en_latin1.eml")
        assert mail.from_name == "Ren\u00e9e Martin"
        assert mail.from_address == "renee.martin@posteo.net"


class TestAttachments:
    def test_apple_mail_pdf(self) -> None:
        """A PDF Apple Mail marks "inline" is an attachment with its name and exact bytes."""
        (pdf,) = parse("apple_mail_en_attachment.eml").attachments
        assert (pdf.filename, pdf.content_type, pdf.inline) == (
            "Deposit form - Rina Kusuma.pdf", "application/pdf", False)
        assert pdf.data is not None and pdf.data.startswith(b"%PDF-1.4\n")
        assert pdf.size == len(pdf.data) == 90

    def test_inline_image_and_attachment(self) -> None:
        """The cid-cited screenshot is inline; the log is attached; its placeholder is cut."""
        mail = parse("inline_image_and_attachment.eml")
        image, log = mail.attachments
        assert (image.filename, image.inline, image.content_id) == (
            "image001.png", True, "image001.png@01DABB2C.5E6F7A80")
        assert image.data is not None and image.data.startswith(b"\x89PNG")
        assert (log.filename, log.inline, log.content_type) == (
            "portal-login.log", False, "text/plain")
        assert log.data == b"2024-06-11 09:01:02 ERROR SSO token expired for member 00123456\n"
        assert mail.text == (
            "Hello,\n\nThe portal shows the error in the screenshot below when I log in with my\n"
            "member number. The full log is attached."
        )

    def test_attachment_over_the_limit(self) -> None:
        """An attachment over the limit is refused with its size and a reason, text kept."""
        (pdf,) = parse("apple_mail_en_attachment.eml", max_attachment_bytes=50).attachments
        assert (pdf.data, pdf.size) == (None, 90)
        assert pdf.refused_reason == "larger than the limit of 50 bytes"


class TestClassification:
    @pytest.mark.parametrize("name", [
        "gmail_reply_en.eml", "gmail_reply_id.eml", "outlook_desktop_en.eml",
        "outlook_com_id.eml", "apple_mail_en_attachment.eml", "thunderbird_en_latin1.eml",
        "thunderbird_id.eml", "outlook_com_html_only_en.eml", "undeclared_8bit_cp1252.eml",
        "inline_image_and_attachment.eml", "gmail_new_encoded_filenames.eml",
    ])
    def test_people(self, name: str) -> None:
        """Mail a person wrote is not classified automatic."""
        assert parse(name).auto is None

    def test_out_of_office(self) -> None:
        """An Exchange out-of-office answer (Auto-Submitted, null Return-Path) is an auto-reply."""
        mail = parse("out_of_office.eml")
        assert (mail.auto, mail.return_path) == (AutoKind.AUTO_REPLY, "")

    def test_bounce_of_our_reply(self) -> None:
        """A Postfix DSN is a bounce, and names the Message-ID of our reply it returns."""
        mail = parse("bounce_dsn.eml")
        assert (mail.auto, mail.bounce_of) == (AutoKind.BOUNCE, OUR_REPLY)
        assert "550-5.1.1 The email account that you tried to reach does not exist." in mail.text

    def test_mailing_list(self) -> None:
        """A list's copy (List-Id, Precedence: list) is list mail."""
        assert parse("mailing_list.eml").auto is AutoKind.LIST


class TestThreading:
    def test_threading_headers(self) -> None:
        """Message-ID, In-Reply-To and References are read as ``<id>`` tokens, in order."""
        mail = parse("gmail_reply_en.eml")
        assert mail.message_id == "<CAF3k9xT8pLm4Q=wZ1e@mail.gmail.com>"
        assert mail.in_reply_to == "<171740430512.4242.1337@library.example>"
        assert mail.references == (
            "<CAF3k9xQ2b7n=Vd4G@mail.gmail.com>", "<171740430512.4242.1337@library.example>")

    def test_reply_token_from_delivered_to(self) -> None:
        """The ``help+<token>@`` recipient gives the reply token."""
        assert parse("gmail_reply_en.eml").reply_token == "hagh5y2q3fqaabkys7umyrazqqrekgcri"

    def test_no_token_without_plus_address(self) -> None:
        """A mail to the plain help address carries no token."""
        assert parse("inline_image_and_attachment.eml").reply_token is None


class TestMalformed:
    def test_wrong_boundary_repaired(self) -> None:
        """A multipart whose declared boundary never occurs is parsed with the one it uses."""
        mail = parse("malformed_boundary.eml")
        assert mail.malformed
        assert mail.text == "Hari Minggu perpustakaan buka jam berapa?"

    def test_no_boundary_salvaged(self) -> None:
        """A multipart with no boundary at all is kept as text: the readable part survives."""
        mail = parse("malformed_no_boundary.eml")
        assert mail.malformed and mail.subject == "Kunjungan sekolah"
        assert mail.text == (
            "Kami ingin berkunjung dengan 30 siswa kelas 5 pada tanggal 20 Juni. "
            "Apakah bisa ada tur perpustakaan?"
        )
        assert "--frontier" in mail.raw_text_fallback

    def test_garbage_never_raises(self) -> None:
        """Bytes that are not a mail at all still give a ParsedMail with their text."""
        mail = parse_email(b"\x00\xff\xfe not a mail\r\n\r\nbut words\xe9")
        assert "but words\u00e9" in mail.full_text


class TestFilenames:
    def test_encoded_filenames(self) -> None:
        """RFC 2047 (Gmail, Outlook) and RFC 2231 filenames decode to the patron's names."""
        names = [a.filename for a in parse("gmail_new_encoded_filenames.eml").attachments]
        assert names[:2] == [
            "Surat pengantar \u2013 Ibu Siti.docx", "Daftar pustaka \u2013 final.pdf"]

    def test_hostile_filename(self) -> None:
        """Path parts and a right-to-left override are removed from a raw UTF-8 filename."""
        hostile = parse("gmail_new_encoded_filenames.eml").attachments[2]
        assert (hostile.filename, hostile.data) == ("evilfdp.exe", b"MZ\x90\x00")

    def test_encoded_subject_and_signature(self) -> None:
        """An encoded-word subject decodes; a "--" signature under the text goes."""
        mail = parse("gmail_new_encoded_filenames.eml")
        assert mail.subject == "Surat pengantar untuk kartu anggota \u2013 Siti"
        assert mail.text == (
            "Selamat pagi, berikut surat pengantar dari kampus dan daftar pustaka saya."
        )

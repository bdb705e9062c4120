"""Broken mail loses nothing: a bad file costs that file, a bad charset costs characters."""

from __future__ import annotations

import struct
from email.message import Message
from pathlib import Path

import pytest

from adapters.email import parse as parse_module
from adapters.email.headers import decode_bytes, decode_words
from adapters.email.inline import image_size
from adapters.email.mime import UNREADABLE, walk
from adapters.email.parse import parse_email

CORPUS = Path(__file__).resolve().parents[1] / "data" / "emails"


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


class TestTruncatedImage:
    def test_truncated_inline_png_keeps_the_sender_text_and_file(self) -> None:
        """A 16-byte inline PNG (cut after IHDR) neither raises nor loses From or text."""
        mail = parse_email(corpus("truncated_inline_png.eml"))
        assert mail.from_address == "rina.wulandari@gmail.com"
        assert mail.from_name == "Rina Wulandari"
        assert "Bisa diganti?" in mail.text and not mail.malformed
        [png] = mail.attachments
        assert png.filename == "kartu.png" and png.size == 16 and png.data is not None

    @pytest.mark.parametrize("head", [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"GIF89a\x01", b"\xff\xd8\xff\xe0\x00",
        b"\xff\xd8\xff\xc0\x00\x11\x08\x00", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00",
    ])
    def test_image_size_of_truncated_images_is_unknown(self, head: bytes) -> None:
        """Every truncated PNG, GIF or JPEG head gives None, never struct.error."""
        assert image_size(head) is None


class _Exploding(Message):
    """A part whose payload cannot be read, as a stdlib bug on hostile input behaves."""

    def get_payload(self, *args: object, **kwargs: object) -> object:
        raise struct.error("unpack requires a buffer of 8 bytes")


class TestOneFileCostsOneFile:
    def test_a_file_that_raises_is_named_unreadable_and_the_rest_kept(self) -> None:
        """An exception while reading one attachment makes that file "unreadable" (by its
        name); the mail's text and its other parts are still read."""
        msg = parse_module._message(corpus("inline_image_and_attachment.eml"))
        files = [p for p in msg.walk() if not p.is_multipart() and p.get_filename()]
        assert len(files) >= 2
        files[-1].__class__ = _Exploding
        found = walk(msg, 20 * 1024 * 1024)
        assert any(p.strip() for p in found.plain + found.html)
        broken = [a for a in found.attachments if a.refused_reason == UNREADABLE]
        assert [a.filename for a in broken] == [files[-1].get_filename()]
        assert any(a.data for a in found.attachments)


class TestFallbackKeepsHeader:
    def test_parser_failure_keeps_from_subject_and_ids(
            self, monkeypatch: pytest.MonkeyPatch) -> None:
        """When the MIME walk itself raises, the fallback still has From, Subject,
        Message-ID and threading ids, and the body as text: the mail is never dropped."""
        def broken_tree(raw: bytes, limit: int) -> None:
            raise RecursionError("a parser bug")

        monkeypatch.setattr(parse_module, "_tree", broken_tree)
        mail = parse_email(corpus("forged_dmarc_fail.eml"))
        assert mail.malformed
        assert mail.from_address == "siti.rahma@example.id"
        assert mail.subject == "Re: Kartu anggota hilang"
        assert mail.message_id == "<forged.8c2d41@mailer.attacker.example>"
        assert mail.in_reply_to == "<20240617091200.5b1e@example.id>"
        assert len(mail.authentication_results) == 3
        assert "Jl. Mawar 13" in mail.text


class TestLoneSurrogates:
    def test_utf7_body_and_subject_decode_to_storable_text(self) -> None:
        """A UTF-7 body and subject holding a lone surrogate become text that encodes as
        UTF-8 (SQLite, JSON, Telegram), the bad character shown as U+FFFD."""
        mail = parse_email(corpus("utf7_lone_surrogate.eml"))
        for text in (mail.text, mail.full_text, mail.subject):
            text.encode("utf-8")
        assert "buku \ufffd Laskar Pelangi" in mail.text
        assert mail.from_address == "hendra.s@example.id"

    def test_every_decoder_replaces_surrogates(self) -> None:
        """decode_bytes and encoded words never hand on a surrogate, whatever the codec."""
        lone = "\ud83d".encode("utf-7")
        assert decode_bytes(b"a" + lone + b"b", "utf-7") == "a\ufffdb"
        assert decode_bytes(b"\x3d\xd8", "utf-16-le") == "\ufffd"
        assert decode_words("=?utf-7?q?x+2D0-y?=") == "x\ufffdy"

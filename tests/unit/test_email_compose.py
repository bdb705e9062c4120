"""The mail the library sends: threading, two parts, escaping, no header injection."""

from __future__ import annotations

import email
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest

from adapters.email.autoreply import AutoKind
from adapters.email.compose import OutgoingAttachment, compose_ack, compose_reply
from adapters.email.parse import parse_email
from adapters.email.tokens import ReplyTokens

PATRON_ID = "<CAF3k9xT8pLm4Q=wZ1e@mail.gmail.com>"
FIRST_ID = "<CAF3k9xQ2b7n=Vd4G@mail.gmail.com>"
TOKEN = ReplyTokens("corpus-secret-0123456789abcdef").token_for("018fdc6a1b2c0000ab12")


def reply(**changes: Any) -> EmailMessage:
    args: dict[str, Any] = {
        "from_address": "help@library.example", "from_name": "Perpustakaan Kota Pustaka",
        "to_address": "budi.santoso@gmail.com", "to_name": "Budi Santoso",
        "subject": "Renewing an overdue book", "text": "Hello Budi,\n\nYes, you can renew it.",
        "in_reply_to": PATRON_ID, "references": [FIRST_ID],
        "reply_to": f"help+{TOKEN}@library.example", "message_id_domain": "library.example",
        "library_name": "Perpustakaan Kota Pustaka", "date": 1717400000.0,
    }
    args.update(changes)
    return compose_reply(**args)


def sent(msg: EmailMessage) -> EmailMessage:
    """The mail as a receiving client reads it: serialised to bytes, parsed again."""
    parsed = email.message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def part(msg: EmailMessage, ctype: str) -> str:
    body = msg.get_body(preferencelist=(ctype.split("/")[1],))
    assert body is not None and body.get_content_type() == ctype
    return str(body.get_content())


class TestThreading:
    def test_threading_headers(self) -> None:
        """In-Reply-To is the patron's mail; References ends with it; a new Message-ID is ours."""
        mail = sent(reply())
        assert mail["In-Reply-To"] == PATRON_ID
        assert str(mail["References"]).split() == [FIRST_ID, PATRON_ID]
        assert str(mail["Message-ID"]).endswith("@library.example>")
        assert str(mail["Message-ID"]) not in (PATRON_ID, FIRST_ID)

    def test_subject_prefixed_once(self) -> None:
        """"Re:" is added once, whatever prefixes the patron's client stacked up."""
        assert sent(reply(subject="RE: Re: AW: Renewing"))["Subject"] == "Re: Renewing"

    def test_reply_to_carries_the_token(self) -> None:
        """Reply-To is the signed plus address, and our parser reads the token back."""
        mail = reply()
        assert mail["Reply-To"].addresses[0].addr_spec == f"help+{TOKEN}@library.example"
        answer = (f"From: budi.santoso@gmail.com\r\nTo: {mail['Reply-To']}\r\n"
                  f"In-Reply-To: {mail['Message-ID']}\r\n\r\nThanks\r\n").encode()
        assert parse_email(answer, reply_local_part="help").reply_token == TOKEN

    def test_references_capped(self) -> None:
        """A very long thread keeps its root and the newest ids, 20 in all."""
        refs = [f"<r{i}@example.com>" for i in range(40)]
        ids = str(sent(reply(references=refs))["References"]).split()
        assert len(ids) == 20 and ids[0] == "<r0@example.com>" and ids[-1] == PATRON_ID


class TestParts:
    def test_plain_and_html(self) -> None:
        """A plain part (text + signature) and an HTML part of the same text are sent."""
        mail = sent(reply())
        assert mail.get_content_type() == "multipart/alternative"
        plain = part(mail, "text/plain")
        assert plain == "Hello Budi,\n\nYes, you can renew it.\n\n-- \nPerpustakaan Kota Pustaka\n"
        html = part(mail, "text/html")
        assert '<p style="margin:0 0 12px">Hello Budi,</p>' in html
        assert "Yes, you can renew it." in html

    def test_html_escapes_the_librarians_text(self) -> None:
        """Markup in a librarian's text is shown as text in the HTML part, never run."""
        text = 'Use <script>alert("x")</script> & <b>bold</b>'
        html = part(sent(reply(text=text)), "text/html")
        assert "<script>" not in html and "<b>bold" not in html
        assert ("Use &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; "
                "&lt;b&gt;bold&lt;/b&gt;") in html

    def test_links_and_chat_button(self) -> None:
        """URLs become links, and the chat link is a button with an escaped href."""
        link = "https://library.example/chat?c=1&v=2#pustaka=r1.abc"
        html = part(sent(reply(text="See https://opac.example/item/42.", link=link)),
                    "text/html")
        assert ('<a href="https://opac.example/item/42">https://opac.example/item/42</a>.'
                in html)
        assert 'href="https://library.example/chat?c=1&amp;v=2#pustaka=r1.abc"' in html

    def test_chat_link_must_be_http(self) -> None:
        """A javascript: or header-breaking link is refused, not sent."""
        for link in ("javascript:alert(1)", "https://x.example/\r\nBcc: a@b.c"):
            with pytest.raises(ValueError):
                reply(link=link)

    def test_attachment(self) -> None:
        """A file the librarian sent goes along as an attachment with a safe name."""
        pdf = OutgoingAttachment("../rules\r\n.pdf", "application/pdf", b"%PDF-1.4\n")
        mail = sent(reply(attachments=[pdf]))
        (attached,) = list(mail.iter_attachments())
        assert attached.get_filename() == ".._rules .pdf"
        assert attached.get_content() == b"%PDF-1.4\n"

    def test_a_reply_is_not_automatic(self) -> None:
        """Our parser sees a librarian's reply as a person's mail, not an auto-reply."""
        assert parse_email(reply().as_bytes()).auto is None


class TestInjection:
    def test_crlf_in_names_and_subject(self) -> None:
        """CR/LF in names and the subject never add a header line."""
        evil = "Budi\r\nBcc: victim@example.com"
        mail = sent(reply(to_name=evil, from_name=evil, subject="Hi\nX-Evil: 1\r\n\r\nbody"))
        assert mail["Bcc"] is None and mail["X-Evil"] is None
        assert mail["Subject"] == "Re: Hi X-Evil: 1 body"
        assert mail["To"].addresses[0].display_name == "Budi Bcc: victim@example.com"
        assert mail["To"].addresses[0].addr_spec == "budi.santoso@gmail.com"

    def test_non_ascii_name_and_subject(self) -> None:
        """Non-ASCII names and subjects are RFC 2047 encoded: ASCII on the wire, exact back."""
        raw = reply(to_name="Renée Şükrü 王", subject="Peminjaman “Bumi Manusia”").as_bytes()
        head = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]
        assert head.isascii()
        mail = sent(reply(to_name="Renée Şükrü 王", subject="Peminjaman “Bumi Manusia”"))
        assert mail["To"].addresses[0].display_name == "Renée Şükrü 王"
        assert mail["Subject"] == "Re: Peminjaman “Bumi Manusia”"

    @pytest.mark.parametrize("address", [
        "a@example.com, b@example.com", "a@example.com\r\nBcc: b@example.com",
        "Budi <a@example.com>", "", "bü@example.com",
    ])
    def test_not_one_address(self, address: str) -> None:
        """Anything but one plain address is refused with ValueError."""
        with pytest.raises(ValueError):
            reply(to_address=address)

    def test_bad_message_id_domain(self) -> None:
        """A Message-ID domain with a line break or space is refused."""
        with pytest.raises(ValueError):
            reply(message_id_domain="library.example\r\nBcc: x@y")


class TestAcknowledgement:
    def test_ack_is_marked_automatic(self) -> None:
        """The after-hours ack carries RFC 3834 marks, so our own intake (and others) skip it."""
        ack = compose_ack(
            from_address="help@library.example", from_name="Perpustakaan",
            to_address="ani@example.com", to_name="Ani", subject="Auto: Re: Jam buka",
            text="We are closed; we answer from 08:00.", in_reply_to=PATRON_ID,
            references=[], reply_to=f"help+{TOKEN}@library.example",
            message_id_domain="library.example", library_name="Perpustakaan",
        )
        mail = sent(ack)
        assert mail["Auto-Submitted"] == "auto-replied"
        assert mail["X-Auto-Response-Suppress"] == "All"
        assert mail["Subject"] == "Auto: Re: Jam buka"
        assert mail["In-Reply-To"] == PATRON_ID
        assert parse_email(ack.as_bytes()).auto is AutoKind.AUTO_REPLY

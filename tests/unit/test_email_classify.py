"""Machine-sent mail is recognised by its headers (RFC 3834, 3464, 2369/2919)."""

from __future__ import annotations

import pytest

from adapters.email.autoreply import AutoKind
from adapters.email.parse import parse_email

PERSON = (
    "Return-Path: <ani@example.com>\r\nFrom: Ani <ani@example.com>\r\n"
    "To: help@library.example\r\nSubject: Question\r\nMessage-ID: <q1@example.com>\r\n"
)


def kind(extra: str, sender: str = "") -> AutoKind | None:
    head = PERSON.replace("From: Ani <ani@example.com>", sender) if sender else PERSON
    return parse_email(f"{head}{extra}\r\nHello, is the library open?\r\n".encode()).auto


class TestAutomatic:
    def test_person(self) -> None:
        """A plain mail from a person is not automatic."""
        assert kind("") is None

    def test_auto_submitted_no(self) -> None:
        """"Auto-Submitted: no" says a person sent it (RFC 3834 section 5)."""
        assert kind("Auto-Submitted: no\r\n") is None

    @pytest.mark.parametrize("header", [
        "Auto-Submitted: auto-replied\r\n",
        "Auto-Submitted: auto-generated; owner-email=x@example.com\r\n",
        "X-Autoreply: yes\r\n",
        "X-Autorespond: vacation\r\n",
        "Precedence: auto_reply\r\n",
    ])
    def test_auto_reply_headers(self, header: str) -> None:
        """Each auto-reply marker makes the mail an auto-reply."""
        assert kind(header) is AutoKind.AUTO_REPLY

    def test_suppress_request_is_not_automatic(self) -> None:
        """X-Auto-Response-Suppress (Exchange puts it on list mail people send) only stops
        our acknowledgement; the patron's mail still counts."""
        mail = parse_email(f"{PERSON}X-Auto-Response-Suppress: DR, OOF\r\n\r\nHi\r\n".encode())
        assert (mail.auto, mail.no_auto_reply) == (None, True)

    def test_person_may_be_acknowledged(self) -> None:
        """A plain mail from a person may get an acknowledgement."""
        assert parse_email(f"{PERSON}\r\nHi\r\n".encode()).no_auto_reply is False

    def test_null_return_path(self) -> None:
        """A null Return-Path (RFC 3834 section 3.3) marks an automatic answer."""
        head = "Return-Path: <>\r\n"
        mail = parse_email(PERSON.replace("Return-Path: <ani@example.com>\r\n", head).encode()
                           + b"\r\nI am away.\r\n")
        assert (mail.auto, mail.return_path) == (AutoKind.AUTO_REPLY, "")

    @pytest.mark.parametrize("header", [
        "List-Id: <readers.lists.example>\r\n",
        "Precedence: list\r\n",
        "List-Unsubscribe: <mailto:leave@lists.example>\r\n",
    ])
    def test_list_headers(self, header: str) -> None:
        """List-Id, Precedence: list and List-Unsubscribe mark list mail."""
        assert kind(header) is AutoKind.LIST

    @pytest.mark.parametrize("value", ["bulk", "junk"])
    def test_bulk(self, value: str) -> None:
        """Precedence: bulk or junk marks bulk mail."""
        assert kind(f"Precedence: {value}\r\n") is AutoKind.BULK

    @pytest.mark.parametrize("sender", [
        "From: MAILER-DAEMON@mx.example.com",
        "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
        "From: postmaster@outlook.com",
    ])
    def test_mailer_daemon(self, sender: str) -> None:
        """Mail from a mailer-daemon or postmaster is a bounce, in any letter case."""
        assert kind("", sender) is AutoKind.BOUNCE

    def test_read_receipt(self) -> None:
        """A disposition notification (read receipt) is automatic, not a bounce."""
        extra = ("MIME-Version: 1.0\r\nContent-Type: multipart/report; "
                 "report-type=disposition-notification; boundary=b\r\n")
        assert kind(extra) is AutoKind.AUTO_REPLY

    def test_bounce_headers_in_the_text(self) -> None:
        """An old-style bounce that pastes the original headers is traced by its text."""
        raw = (b"From: MAILER-DAEMON@mx.example.com\r\nSubject: failure notice\r\n\r\n"
               b"Sorry, it did not work.\r\n--- Below this line is a copy of the message.\r\n"
               b"\r\nMessage-ID: <171816120777.4242.1010@library.example>\r\n")
        mail = parse_email(raw)
        assert mail.bounce_of == "<171816120777.4242.1010@library.example>"

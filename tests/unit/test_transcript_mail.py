"""The patron's copy of a conversation: what is in it, and where it may go."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from adapters.email.transcript_mail import transcript_text
from routing.model import (
    Attachment,
    AttachmentKind,
    Channel,
    Contact,
    Conversation,
    Direction,
    Message,
    Patron,
)
from routing.transcript_mail import (
    TRANSCRIPT_GAP,
    confirmed_address,
    sent_recently,
    transcript_mail,
)

AT = 1_767_225_600.0  # 2026-01-01 00:00 UTC: 07:00 in Jakarta
JAKARTA = ZoneInfo("Asia/Jakarta")


def said(n: int, direction: Direction, text: str, **more: object) -> Message:
    return Message(f"m{n}", "c", direction, text, created_at=AT + 60 * n, **more)  # type: ignore[arg-type]


class TestTranscriptText:
    def test_what_the_patron_saw_in_library_time(self) -> None:
        """Patron and librarian lines with library-time stamps, a system line, a file by
        name and size; the note, the withdrawn answer and the edit's own line are out,
        the edited answer shows its new words at the original's time."""
        photo = Attachment(AttachmentKind.PHOTO, "card.jpg", "image/jpeg", 2048, "ab" * 32)
        messages = [
            said(0, Direction.PATRON, "My card does not work", attachments=(photo,)),
            said(1, Direction.NOTE, "expired in March"),
            said(2, Direction.LIBRARIAN, "Renewed until 2027", author="Sari"),
            said(3, Direction.LIBRARIAN, "Renewed until 2028", author="Sari", event="edited",
                 replaces="m2"),
            said(4, Direction.LIBRARIAN, "wrong chat", author="Sari"),
            said(5, Direction.LIBRARIAN, "", author="Sari", event="withdrawn", replaces="m4"),
            said(6, Direction.SYSTEM, "Sari closed the conversation", event="closed"),
        ]
        text = transcript_text(Conversation("c", "p", Channel.WIDGET, created_at=AT),
                               messages, library="Perpustakaan Kota", timezone=JAKARTA,
                               patron_name="Ana")
        assert text.split("\n\n") == [
            "Perpustakaan Kota: a copy of your conversation of 2026-01-01 (WIB).",
            "[2026-01-01 07:00] Ana: My card does not work\n  (file: card.jpg, 2 KB)",
            "[2026-01-01 07:02] Sari: Renewed until 2028",
            "[2026-01-01 07:06] — Sari closed the conversation",
        ]

    def test_utc_library(self) -> None:
        """Without a patron name the patron is "You"."""
        text = transcript_text(Conversation("c", "p", Channel.WIDGET, created_at=AT),
                               [said(0, Direction.PATRON, "hi")], library="L",
                               timezone=dt.UTC)
        assert text.endswith("[2026-01-01 00:00] You: hi")


class TestWhereItMayGo:
    def test_only_a_proved_address(self) -> None:
        """A typed address is not enough; a confirmed one or a mailed-from one is."""
        typed = Patron("p", email="ana@example.org")
        assert confirmed_address(typed) == ""
        assert confirmed_address(Patron("p", email="ana@example.org",
                                        email_confirmed=True)) == "ana@example.org"
        wrote = Patron("p", contacts=(Contact(Channel.EMAIL, "budi@example.org"),))
        assert confirmed_address(wrote) == "budi@example.org"
        assert confirmed_address(None) == ""

    def test_once_a_day(self) -> None:
        """A transcript note less than a day old blocks another; an older one does not."""
        note, row = transcript_mail("c", "copy", "Dewi (dashboard)", AT)
        assert note.direction is Direction.NOTE and row.destination is Channel.EMAIL
        assert row.message_id == note.id and row.idempotency_key == f"{note.id}:transcript"
        assert sent_recently([note], AT + TRANSCRIPT_GAP - 1)
        assert not sent_recently([note], AT + TRANSCRIPT_GAP)

"""The dashboard's transcripts, through the running bridge and a signed-in client: search
by words and filters, open one (notes marked internal, files downloadable), export what
was found as CSV and JSON, bad input answered with a sentence."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from routing.model import (
    Attachment,
    AttachmentKind,
    Channel,
    Contact,
    Conversation,
    Direction,
    Message,
    Patron,
    Status,
    new_id,
)
from tests.integration.admin_client import *  # noqa: F403  (the admin_* fixtures)
from tests.integration.admin_client import AdminClient, StaffBridge

AT = 1_767_225_600.0  # 2026-01-01 00:00 UTC


async def talk(bridge: StaffBridge, *lines: tuple[Direction, str], name: str = "Ana",
               email: str = "", at: float = AT, files: tuple[Attachment, ...] = (),
               **fields: Any) -> Conversation:
    store = bridge.store
    who = Patron(new_id(), name=name, email=email, created_at=at,
                 contacts=(Contact(Channel.WIDGET, new_id()),))
    await store.save_patron(who)
    conversation = Conversation(new_id(), who.id, fields.pop("origin", Channel.WIDGET),
                                created_at=at, updated_at=at, **fields)
    await store.save_conversation(conversation)
    for index, (direction, text) in enumerate(lines):
        await store.append(Message(new_id(), conversation.id, direction, text,
                                   author=name if direction is Direction.PATRON else "Sari",
                                   created_at=at + 60 * index,
                                   attachments=files if index == 0 else ()), [])
    return conversation


P, L, N = Direction.PATRON, Direction.LIBRARIAN, Direction.NOTE


async def test_words_and_filters_find_conversations(admin_bridge: StaffBridge,
                                                   admin_client: AdminClient) -> None:
    """Words (prefix, Indonesian) and a channel filter narrow the list; the matched
    word is marked, and patron text is escaped."""
    loan = await talk(admin_bridge, (P, "Bagaimana memperpanjang pinjaman <b>buku</b>?"),
                      name="Budi <script>")
    other = await talk(admin_bridge, (P, "Where is the cafe?"), origin=Channel.EMAIL,
                       at=AT + 86_400)
    status, html = await admin_client.get("/admin/transcripts", words="pinjam*")
    assert status == 200 and loan.id in html and other.id not in html
    assert "<mark>pinjaman</mark>" in html
    assert "&lt;b&gt;buku&lt;/b&gt;" in html and "Budi &lt;script&gt;" in html
    status, html = await admin_client.get("/admin/transcripts", channel="email")
    assert other.id in html and loan.id not in html
    status, html = await admin_client.get("/admin/transcripts", to="2026-01-01")
    assert loan.id in html and other.id not in html


async def test_bad_input_gets_a_sentence(admin_client: AdminClient) -> None:
    """A date not a date, a rating out of range, only punctuation: 400 naming the field."""
    for query, words in (({"from": "1/2/2026"}, "from: write the date as YYYY-MM-DD"),
                         ({"rating": "9"}, "rating: choose a number from 1 to 5"),
                         ({"words": '""'}, "at least one word")):
        status, html = await admin_client.get("/admin/transcripts", **query)
        assert status == 400 and words in html


async def test_open_one_with_note_system_line_and_file(admin_bridge: StaffBridge,
                                                      admin_client: AdminClient) -> None:
    """Every message in order with its time; the note is marked internal; the file
    downloads, and a digest of another conversation does not."""
    blob = await admin_bridge.bridge.parts.blobs.put(b"%PDF-1.4 the form")
    form = Attachment(AttachmentKind.DOCUMENT, "form.pdf", "application/pdf", blob.size,
                      blob.digest)
    conversation = await talk(admin_bridge, (P, "Here is my form"), (N, "check her card"),
                              (L, "Thank you, received"), files=(form,),
                              status=Status.CLOSED, claimed_by="Sari")
    status, html = await admin_client.get(f"/admin/transcripts/{conversation.id}")
    assert status == 200
    assert html.index("Here is my form") < html.index("check her card") < html.index(
        "Thank you, received")
    assert "internal note" in html and "2026-01-01 07:00" in html  # the demo library: Asia/Jakarta
    status, headers, body = await admin_client.get_bytes(
        f"/admin/transcripts/{conversation.id}/files/{blob.digest}")
    assert status == 200 and body == b"%PDF-1.4 the form"
    assert headers["Content-Disposition"] == 'attachment; filename="form.pdf"'
    other = await talk(admin_bridge, (P, "hi"))
    status, _, _ = await admin_client.get_bytes(
        f"/admin/transcripts/{other.id}/files/{blob.digest}")
    assert status == 404


async def test_export_csv_and_json(admin_bridge: StaffBridge, admin_client: AdminClient) -> None:
    """The CSV has one row per match with its fields, formula-looking text defused; the
    JSON carries each transcript's messages; the export is in the audit log."""
    first = await talk(admin_bridge, (P, "=HYPERLINK(\"x\") renew please"), (L, "renewed"),
                       name="=cmd", email="ana@example.org", tags=("loan",), rating=5)
    await talk(admin_bridge, (P, "nothing to do with it"))
    status, headers, body = await admin_client.get_bytes("/admin/transcripts", words="renew",
                                                         format="csv")
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert len(rows) == 1
    assert (rows[0]["id"], rows[0]["patron"], rows[0]["email"], rows[0]["tags"],
            rows[0]["rating"]) == (first.id, "'=cmd", "ana@example.org", "loan", "5")
    assert rows[0]["excerpt"].startswith("'=HYPERLINK")
    status, _, body = await admin_client.get_bytes("/admin/transcripts", words="renew",
                                                   format="json")
    [item] = json.loads(body)
    assert [m["text"] for m in item["messages"]] == ['=HYPERLINK("x") renew please', "renewed"]
    audit = await admin_bridge.store.audit_entries(limit=10)
    assert any(e.action == "transcripts exported" and "renew" in e.detail for e in audit)


async def test_a_librarian_reads_transcripts_and_no_mail_without_email(
        admin_bridge: StaffBridge, librarian_client: AdminClient) -> None:
    """Transcripts are every staff member's; with email off, the copy is refused with a
    sentence and no button is shown."""
    conversation = await talk(admin_bridge, (P, "hello"), email="ana@example.org")
    status, html = await librarian_client.get(f"/admin/transcripts/{conversation.id}")
    assert status == 200 and "email-transcript" not in html
    status, text, _ = await librarian_client.post(
        f"/admin/transcripts/{conversation.id}/email")
    assert status == 400 and "Email is not set up" in text

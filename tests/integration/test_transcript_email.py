"""A transcript emailed to the patron from the dashboard: through the outbox and the real
EmailSender into aiosmtpd, only to a confirmed address, at most once a day, without the
internal notes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest_asyncio

from bridge.admin.staff import add_staff
from bridge.app import Bridge
from bridge.demo import demo_bridge
from routing.model import (
    Channel,
    Contact,
    Conversation,
    Direction,
    Message,
    Patron,
    Status,
    new_id,
)
from routing.store_roles import MailThread
from tests.eventually import eventually
from tests.integration.admin_client import ADMIN, PASSWORD, AdminClient, sign_in
from tests.integration.mailservers import LIBRARY, USER, DovecotServer, SmtpRecorder
from tests.integration.mailservers import PASSWORD as IMAP_PASSWORD

pytest_plugins = ["tests.integration.mail_fixtures"]  # dovecot, smtp_server


@pytest_asyncio.fixture
async def mailing(tmp_path: Path, dovecot: DovecotServer,
                  smtp_server: SmtpRecorder) -> AsyncIterator[tuple[Bridge, AdminClient]]:
    email = {"enabled": True, "imap_host": dovecot.host, "imap_port": dovecot.port,
             "imap_user": USER, "imap_ssl": False, "poll_interval": 0.5, "first_run": "all",
             "smtp_host": smtp_server.host, "smtp_port": smtp_server.port,
             "smtp_starttls": False, "from_address": LIBRARY}
    bridge, emulator, _ = await demo_bridge(
        "127.0.0.1", 0, tmp_path, rate_limits=False, desk_port=0, overrides={"email": email},
        secrets={"PUSTAKA_IMAP_PASSWORD": IMAP_PASSWORD, "PUSTAKA_SMTP_PASSWORD": ""})
    await add_staff(bridge.store, ADMIN, "admin", PASSWORD)
    client = await sign_in(bridge.url, ADMIN, PASSWORD)
    try:
        yield bridge, client
    finally:
        await client.http.close()
        await bridge.stop()
        await emulator.stop()


async def chat(bridge: Bridge, *, confirmed: bool) -> Conversation:
    store, now = bridge.store, bridge.parts.clock.now()
    ana = Patron(new_id(), name="Ana", email="ana@example.org", email_confirmed=confirmed,
                 contacts=(Contact(Channel.WIDGET, new_id()),), created_at=now)
    await store.save_patron(ana)
    conversation = Conversation(new_id(), ana.id, Channel.WIDGET, created_at=now,
                                updated_at=now, claimed_by="Sari")
    await store.save_conversation(conversation)
    for direction, text in ((Direction.PATRON, "Can I renew my thesis loan?"),
                            (Direction.NOTE, "her card expired last week"),
                            (Direction.LIBRARIAN, "Yes, renewed until 15 January.")):
        await store.append(Message(new_id(), conversation.id, direction, text,
                                   author="Sari" if direction is not Direction.PATRON else "",
                                   created_at=now), [])
    return conversation


async def test_the_transcript_reaches_the_patron_once_a_day(
        mailing: tuple[Bridge, AdminClient], smtp_server: SmtpRecorder) -> None:
    """The mail holds the patron's and the librarian's lines, never the note; a second
    request the same day is refused; the page shows the copy went."""
    bridge, client = mailing
    conversation = await chat(bridge, confirmed=True)
    status, _, location = await client.post(f"/admin/transcripts/{conversation.id}/email")
    assert status == 303 and location.endswith("done=emailed")
    [mail] = await eventually(lambda: smtp_server.received)
    assert mail.rcpt_tos == ("ana@example.org",)
    body = mail.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Can I renew my thesis loan?" in body and "Yes, renewed until 15 January." in body
    assert "Sari:" in body and "card expired" not in body
    status, text, _ = await client.post(f"/admin/transcripts/{conversation.id}/email")
    assert status == 400 and "less than a day ago" in text
    _, html = await client.get(f"/admin/transcripts/{conversation.id}")
    assert "A copy of this conversation was emailed to the patron." in html
    audit = await bridge.store.audit_entries(limit=5)
    assert any(e.action == "transcript emailed" for e in audit)


async def test_an_unconfirmed_address_gets_nothing(
        mailing: tuple[Bridge, AdminClient], smtp_server: SmtpRecorder) -> None:
    """A typed, never proved address: refused with a sentence, no button, no mail."""
    bridge, client = mailing
    conversation = await chat(bridge, confirmed=False)
    status, text, _ = await client.post(f"/admin/transcripts/{conversation.id}/email")
    assert status == 400 and "no confirmed email address" in text
    _, html = await client.get(f"/admin/transcripts/{conversation.id}")
    assert "email-transcript" not in html
    assert smtp_server.received == []


async def test_without_the_csrf_token_nothing_is_sent(
        mailing: tuple[Bridge, AdminClient], smtp_server: SmtpRecorder) -> None:
    """A forged form (no token) is refused and queues nothing."""
    bridge, client = mailing
    conversation = await chat(bridge, confirmed=True)
    status, _, _ = await client.post(f"/admin/transcripts/{conversation.id}/email", csrf=None)
    assert status == 403
    assert all(m.event != "transcript" for m in await bridge.store.history(conversation.id))


async def frames_until(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    while True:
        frame = await ws.receive_json(timeout=10)
        if frame["type"] in (kind, "error"):
            return dict(frame)


async def test_the_widget_asks_for_its_own_chat(
        mailing: tuple[Bridge, AdminClient], smtp_server: SmtpRecorder) -> None:
    """"Email me this chat": refused while open and for an unconfirmed address, sent once
    closed to the confirmed one, refused again the same day."""
    bridge, _ = mailing
    store = bridge.store
    async with aiohttp.ClientSession() as http, http.ws_connect(
            f"{bridge.url}/widget/ws", headers={"Origin": bridge.url}) as ws:
        await ws.send_json({"type": "hello", "token": None, "page": {"url": bridge.url}})
        visitor = (await frames_until(ws, "welcome"))["visitor"]
        await ws.send_json({"type": "send", "cid": "c1", "text": "Is the library open?"})
        await frames_until(ws, "ack")
        patron = await store.patron_by_contact(Contact(Channel.WIDGET, visitor))
        assert patron is not None
        found = patron.id

        async def with_topic() -> Conversation | None:
            conversation = await store.latest_conversation(found)
            return conversation if conversation and conversation.desk_thread else None

        # The desk's topic first: its opening saves the conversation (under the lock the
        # product's own writes take), which would undo the direct saves below.
        conversation = await eventually(with_topic)
        await ws.send_json({"type": "transcript"})
        assert (await frames_until(ws, "transcript_sent"))["code"] == "transcript_refused"
        await store.save_conversation(replace(conversation, status=Status.CLOSED))
        await store.save_patron(replace(patron, email="ana@example.org"))
        await ws.send_json({"type": "transcript", "conversation": conversation.id})
        refused = await frames_until(ws, "transcript_sent")
        assert refused["code"] == "transcript_refused" and "confirmed" in refused["message"]
        await store.save_patron(replace(patron, email="ana@example.org", email_confirmed=True))
        await ws.send_json({"type": "transcript", "conversation": conversation.id})
        sent = await frames_until(ws, "transcript_sent")
        assert sent == {"type": "transcript_sent", "conversation": conversation.id,
                        "email": "an…@example.org"}
        [mail] = await eventually(lambda: smtp_server.received)
        assert mail.rcpt_tos == ("ana@example.org",)
        assert "Is the library open?" in mail.message.get_body(  # type: ignore[union-attr]
            ("plain",)).get_content()
        await ws.send_json({"type": "transcript"})
        again = await frames_until(ws, "transcript_sent")
        assert again["code"] == "transcript_refused" and "a day" in again["message"]


async def test_an_email_conversation_gets_it_in_its_thread(
        mailing: tuple[Bridge, AdminClient], smtp_server: SmtpRecorder) -> None:
    """A patron who wrote by email gets the copy as a reply in their own thread, to the
    address they wrote from."""
    bridge, client = mailing
    store, now = bridge.store, bridge.parts.clock.now()
    siti = Patron(new_id(), name="Siti", contacts=(Contact(Channel.EMAIL, "siti@example.id"),),
                  created_at=now)
    await store.save_patron(siti)
    conversation = Conversation(new_id(), siti.id, Channel.EMAIL, created_at=now,
                                updated_at=now, subject="Perpanjangan skripsi")
    await store.save_conversation(conversation)
    await store.append(Message(new_id(), conversation.id, Direction.PATRON,
                               "Mohon perpanjang pinjaman saya", created_at=now), [])
    await store.save_mail_thread(conversation.id, MailThread(
        "Perpanjangan skripsi", "<first@example.id>", ("<first@example.id>",)))
    status, _, _ = await client.post(f"/admin/transcripts/{conversation.id}/email")
    assert status == 303
    [mail] = await eventually(lambda: smtp_server.received)
    assert mail.rcpt_tos == ("siti@example.id",)
    assert mail.message["In-Reply-To"] == "<first@example.id>"
    assert mail.message["Subject"] == "Re: Perpanjangan skripsi"

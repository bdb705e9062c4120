"""A transcript emailed to the patron from the dashboard: through the outbox and the real
EmailSender into aiosmtpd, only to a confirmed address, at most once a day, without the
internal notes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from bridge.admin.staff import add_staff
from bridge.app import Bridge
from bridge.demo import demo_bridge
from routing.model import Channel, Contact, Conversation, Direction, Message, Patron, new_id
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

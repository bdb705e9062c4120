"""The mail the offline form and the profile make the library send, through the real
widget socket, SQLite store, EmailSender and aiosmtpd (issue 11 items 1, 2 and 6): one
acknowledgement a day per address, surviving a restart, holding nothing a stranger typed;
and a code mail whose code confirms the address."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters.email.settings import EmailSettings
from adapters.email.smtp import EmailSender
from adapters.widget.links import resume_link
from bridge.channels import visitor_of
from routing.model import Conversation, Patron
from tests.integration.mailservers import LIBRARY, SmtpRecorder
from tests.integration.test_widget_offline import Rig, Tab, question

pytest_plugins = ["tests.integration.mail_fixtures"]  # the smtp_server fixture
pytestmark = pytest.mark.timeout(60)

HOME = "https://library.example/"
LURE = "https://library.example/search?q=URGENT+your+card+is+blocked+call+555"


def mailer(rig: Rig, smtp: SmtpRecorder) -> EmailSender:
    """The bridge's EmailSender over the rig's store, wired to the offline form's hook and
    the code mail as bridge.channels wires them."""
    settings = EmailSettings(smtp_host=smtp.host, smtp_port=smtp.port, smtp_starttls=False,
                             smtp_timeout=10.0, from_address=LIBRARY,
                             from_name="Perpustakaan Kota", help_address=LIBRARY)

    def link(conversation: Conversation, patron: Patron) -> str | None:
        visitor = visitor_of(patron)
        return None if visitor is None else resume_link(
            conversation.page.url, rig.tokens.resume_token(visitor, 3600),
            allowed_origins=(HOME.rstrip("/"),), home_url=HOME)

    sender = EmailSender(settings, rig.store, resume_link=link, library_name="Perpustakaan Kota",
                         clock=rig.clock)

    async def acknowledge(patron: Patron, conversation: Conversation) -> None:
        await sender.send_ack(conversation, patron, subject="Perpustakaan Kota: your question",
                              text="We are closed now; a librarian answers from 08:00.",
                              in_reply_to="")

    rig.acknowledge = acknowledge
    rig.mail_code = sender.send_code
    return sender


async def stranger_form(http: aiohttp.ClientSession, n: int) -> dict[str, Any]:
    """A fresh identity sending the offline form in a victim's name from a lure page."""
    tab = Tab(await http.ws_connect("/widget/ws"))
    await tab.ws.send_json({"type": "hello", "token": None, "page": {"url": LURE}})
    await tab.next()
    saved = await tab.ask(question(cid=f"q{n}", email="victim@example.org",
                                   name="Your account is locked", text="Reset it at evil.example"))
    await tab.ws.close()
    return saved


async def test_twenty_offline_forms_mail_one_acknowledgement_a_day(
    tmp_path: Path, smtp_server: SmtpRecorder
) -> None:
    """Twenty forms naming one address at once mail it one acknowledgement, with no typed
    name, question or page in it; after a restart another form mails none; a day later
    one more goes."""
    rig = Rig(tmp_path)
    rig.staffed = False
    await rig.start()
    mailer(rig, smtp_server)
    async with aiohttp.ClientSession(rig.url) as http:
        saved = await asyncio.gather(*(stranger_form(http, n) for n in range(20)))
    assert all(s["type"] == "offline_saved" for s in saved)
    [ack] = smtp_server.received
    await rig.stop()
    assert ack.rcpt_tos == ("victim@example.org",) and ack.mail_from == "<>"
    assert str(ack.message["To"]) == "victim@example.org"
    body = ack.message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "answers from 08:00" in text and f"{HOME}#pustaka=r1." in text
    for typed in ("locked", "evil.example", "URGENT", "search"):
        assert typed not in ack.data.decode("ascii", "replace")

    again = Rig(tmp_path)
    again.staffed = False
    await again.start()
    mailer(again, smtp_server)
    try:
        async with aiohttp.ClientSession(again.url) as http:
            await stranger_form(http, 21)
            assert len(smtp_server.received) == 1
            again.clock.at += 86400 + 1
            await stranger_form(http, 22)
        assert len(smtp_server.received) == 2
    finally:
        await again.stop()


async def test_the_code_in_the_mail_confirms_the_address(
    tmp_path: Path, smtp_server: SmtpRecorder
) -> None:
    """A profile's address gets a mail holding a six-digit code and nothing typed but the
    address; typing that code back confirms the address."""
    rig = Rig(tmp_path)
    await rig.start()
    mailer(rig, smtp_server)
    try:
        async with aiohttp.ClientSession(rig.url) as http:
            tab = Tab(await http.ws_connect("/widget/ws"))
            await tab.hello()
            saved = await tab.ask({"type": "profile", "name": "Dewi <b>", "email":
                                   "dewi@example.org"})
            assert saved["code_sent"] is True
            [mail] = smtp_server.received
            assert str(mail.message["To"]) == "dewi@example.org"
            body = mail.message.get_body(("plain",))
            assert body is not None and "Dewi" not in mail.data.decode("ascii", "replace")
            [code] = [w.strip(".") for w in body.get_content().split()
                      if w.strip(".").isdigit() and len(w.strip(".")) == 6]
            confirmed = await tab.ask({"type": "confirm_email", "code": code})
            assert confirmed == {"type": "email_confirmed", "email": "dewi@example.org"}
            await tab.ws.close()
    finally:
        await rig.stop()

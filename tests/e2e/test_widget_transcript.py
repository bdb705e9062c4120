""""Email me this chat" in a real browser: Debian's headless Chromium on the sample page,
the real bridge with email on (Dovecot for its mailbox, aiosmtpd receiving what it
sends), and the Bot API emulator as the librarians' desk that answers and closes."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Page, expect

from adapters.i18n import Catalog
from bridge.demo import demo_bridge
from tests.e2e.conftest import Desk, Visitor
from tests.e2e.offline_fixtures import topic_to_answer
from tests.e2e.test_widget_a11y import serious_violations
from tests.e2e.test_widget_browser import LIBRARIAN, ask, open_chat, state
from tests.eventually import eventually
from tests.integration.mailservers import LIBRARY, USER, SmtpRecorder
from tests.integration.mailservers import PASSWORD as IMAP_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
pytest_plugins = ["tests.integration.mail_fixtures"]  # dovecot, smtp_server

BUTTON = '[part="transcript-send"]'
NOTE = '[part="transcript-note"]'
OFFER = '[part="transcript-add-email"]'
COPY_HEAD = "a copy of your conversation"  # adapters/email/transcript_mail.py's first line
ENGLISH = Catalog.bundled().language("en").texts


@pytest_asyncio.fixture(loop_scope="module", params=[True], ids=["email"])
async def desk(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Desk]:
    """conftest's desk with the library's email on (a test parametrized with ``False``
    gets the demo's own, which answers in the chat only)."""
    overrides = {}
    if request.param:
        dovecot = request.getfixturevalue("dovecot")
        smtp = request.getfixturevalue("smtp_server")
        overrides = {"email": {
            "enabled": True, "imap_host": dovecot.host, "imap_port": dovecot.port,
            "imap_user": USER, "imap_ssl": False, "poll_interval": 0.5, "first_run": "all",
            "smtp_host": smtp.host, "smtp_port": smtp.port, "smtp_starttls": False,
            "from_address": LIBRARY}}
    bridge, emulator, _ = await demo_bridge(
        "127.0.0.1", 0, tmp_path, rate_limits=False, desk_port=0, overrides=overrides,
        secrets={"PUSTAKA_IMAP_PASSWORD": IMAP_PASSWORD, "PUSTAKA_SMTP_PASSWORD": ""})
    try:
        yield Desk(bridge, emulator)
    finally:
        await bridge.stop()
        await emulator.stop()


def mails_to(smtp: SmtpRecorder, address: str, holding: str) -> list[str]:
    """The plain-text bodies of the mails to ``address`` that contain ``holding``."""
    bodies = [m.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
              for m in smtp.received if m.rcpt_tos == (address,)]
    return [body for body in bodies if holding in body]


async def confirm_address(page: Page, smtp: SmtpRecorder, address: str) -> None:
    """Type the address in the name / email form, then the code the bridge mailed to it."""
    profile = page.locator('[part="profile"]')
    if await profile.get_attribute("open") is None:
        await profile.locator("summary").click()
    await profile.locator('input[name="name"]').fill("Ana")
    await profile.locator('input[name="email"]').fill(address)
    await profile.locator('[part="profile-save"]').click()
    [mail] = await eventually(lambda: mails_to(smtp, address, "code"))
    code = re.search(r"\b(\d{6})\b", mail)
    assert code is not None, mail
    form = page.locator('[part="profile-code"]')
    await form.locator('input[name="code"]').fill(code.group(1))
    await form.get_by_role("button").click()
    await expect(page.locator('[part="profile"] .note')).to_have_text("Email confirmed")


async def answer_and_close(page: Page, desk: Desk, question: str, answer: str) -> None:
    """The librarian answers the patron's question in its topic, then closes it (/close)."""
    topic = await topic_to_answer(desk, question)
    desk.reply(topic, answer)
    await expect(page.locator(LIBRARIAN).filter(has_text=answer)).to_have_count(1)
    desk.reply(topic, "/close")
    await expect(page.locator('[data-event="closed"]')).to_have_count(1)


async def test_a_confirmed_patron_gets_the_chat_by_email(
        visitor: Visitor, desk: Desk, smtp_server: SmtpRecorder) -> None:
    """No button while the chat is open; once the desk closes it, the button sends the
    copy to the confirmed address, shown half hidden, and stays disabled after; the mail
    holds the patron's question and the librarian's answer. Asked again from a reloaded
    page, the server's "already sent" sentence is shown, with no offer to confirm."""
    page = await visitor()
    await open_chat(page)
    await confirm_address(page, smtp_server, "ana@example.org")
    await ask(page, "Can I renew my thesis loan?")
    await expect(page.locator(BUTTON)).to_be_hidden()
    await answer_and_close(page, desk, "Can I renew my thesis loan?",
                           "Yes, renewed until 15 January.")
    button = page.locator(BUTTON)
    await expect(button).to_have_text("Email me this chat")
    await button.click()
    await expect(page.locator(NOTE)).to_have_text("Sent to an…@example.org")
    await expect(page.locator(NOTE)).to_have_attribute("aria-live", "polite")
    await expect(button).to_be_disabled()
    await expect(page.locator(OFFER)).to_be_hidden()
    [copy] = await eventually(lambda: mails_to(smtp_server, "ana@example.org", COPY_HEAD))
    assert "Can I renew my thesis loan?" in copy, copy
    assert "Yes, renewed until 15 January." in copy, copy
    assert "Rina" in copy, copy  # the librarian's lines carry their name
    await page.reload()  # a new page asks again: refused, no offer to confirm anything
    await page.wait_for_function("() => window.PustakaChat.state().ready")
    await open_chat(page)
    await page.locator(BUTTON).click()
    await expect(page.locator(NOTE)).to_have_text(
        "Not sent: a copy of this conversation was emailed less than a day ago.")
    await expect(page.locator(OFFER)).to_be_hidden()
    await expect(page.locator(BUTTON)).to_be_enabled()


async def test_the_button_works_over_the_http_fallback(
        visitor: Visitor, desk: Desk, smtp_server: SmtpRecorder) -> None:
    """In a browser without WebSockets (long polling), the address is confirmed, the
    desk's /close arrives by poll, and the button posts to /widget/api/transcript: the
    note says where the copy went, and the copy arrives."""
    page = await visitor(init_script="delete window.WebSocket;")
    await open_chat(page)
    assert (await state(page))["transport"] == "http"
    await confirm_address(page, smtp_server, "ana@example.org")
    await ask(page, "Asked without WebSockets")
    await answer_and_close(page, desk, "Asked without WebSockets", "Answered by long-poll.")
    button = page.locator(BUTTON)
    async with page.expect_response(lambda r: r.url.endswith("/widget/api/transcript")) as asked:
        await button.click()
    assert (await asked.value).status == 200
    await expect(page.locator(NOTE)).to_have_text("Sent to an…@example.org")
    await expect(button).to_be_disabled()
    [copy] = await eventually(lambda: mails_to(smtp_server, "ana@example.org", COPY_HEAD))
    assert "Asked without WebSockets" in copy and "Answered by long-poll." in copy, copy


async def test_without_a_confirmed_address_the_refusal_is_said_and_confirming_helps(
        visitor: Visitor, desk: Desk, smtp_server: SmtpRecorder) -> None:
    """A patron with no confirmed address hears why (the server's refusal, in the
    widget's words) and is offered the name / email form; once they confirm the code
    mailed to them, asking again sends the copy."""
    page = await visitor()
    await open_chat(page)
    await ask(page, "Do you have the 1998 theses?")
    await answer_and_close(page, desk, "Do you have the 1998 theses?", "Yes, floor 3.")
    await page.locator(BUTTON).click()
    note = page.locator(NOTE)
    await expect(note).to_have_text(ENGLISH["transcriptNoEmail"])
    await expect(note).to_contain_text("only email a copy to an address you have confirmed")
    await expect(note).to_have_attribute("role", "status")
    await expect(page.locator(BUTTON)).to_be_enabled()
    offer = page.locator(OFFER)
    await expect(offer).to_have_text("Add my email address")
    assert await serious_violations(page) == []  # the refusal and the offer, for axe-core
    await offer.click()
    await expect(page.locator('[part="profile"] input[name="email"]')).to_be_focused()
    assert smtp_server.received == []
    await confirm_address(page, smtp_server, "budi@example.org")
    await expect(offer).to_be_hidden()
    await page.locator(BUTTON).click()
    await expect(note).to_have_text("Sent to bu…@example.org")
    assert await serious_violations(page) == []  # and the disabled button after success
    [copy] = await eventually(lambda: mails_to(smtp_server, "budi@example.org", COPY_HEAD))
    assert "Do you have the 1998 theses?" in copy and "Yes, floor 3." in copy, copy


async def test_the_button_speaks_the_patrons_language(visitor: Visitor, desk: Desk) -> None:
    """An Indonesian browser sees the button, the refusal and the offer in Indonesian."""
    words = Catalog.bundled().language("id").texts
    page = await visitor(locale="id-ID")
    await open_chat(page)
    await ask(page, "Apakah perpustakaan buka hari Minggu?")
    await answer_and_close(page, desk, "Apakah perpustakaan buka hari Minggu?",
                           "Ya, pukul 10.00 sampai 14.00.")
    button = page.locator(BUTTON)
    await expect(button).to_have_text(words["transcriptAsk"])
    assert words["transcriptAsk"] != "Email me this chat"
    await button.click()
    await expect(page.locator(NOTE)).to_have_text(words["transcriptNoEmail"])
    await expect(page.locator(OFFER)).to_have_text(words["transcriptAddEmail"])


@pytest.mark.parametrize("desk", [False], ids=["no-email"], indirect=True)
async def test_a_library_without_email_shows_no_button(visitor: Visitor, desk: Desk) -> None:
    """When the library sends no mail, the ended conversation has no button."""
    page = await visitor()
    await open_chat(page)
    await ask(page, "Is the library open on Sunday?")
    await answer_and_close(page, desk, "Is the library open on Sunday?", "No, sorry.")
    await expect(page.locator('[part="rating"]')).to_be_visible()  # the end is shown
    await expect(page.locator('[part="transcript"]')).to_be_hidden()

"""After hours, email links and ratings in a real browser: Debian's headless Chromium on
the sample library page, the real bridge and the Bot API emulator as the desk."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from routing.model import Channel, Contact
from tests.e2e.conftest import Desk
from tests.e2e.offline_fixtures import (
    OPENS_EN,
    AfterHoursSite,
    Guest,
    after_hours,
    guest,
    topic_to_answer,
)
from tests.e2e.test_widget_browser import LAUNCHER, LIBRARIAN, PANEL, ask, open_chat, shown

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
__all__ = ["after_hours", "guest"]  # fixtures from offline_fixtures.py

FORM = 'form[part="offline"]'
NAME = '[part="offline-name"]'
EMAIL = '[part="offline-email"]'
QUESTION = '[part="offline-question"]'
FORM_ERROR = '[part="offline-error"]'
NOTE = '[part="offline-note"]'
COMPOSER = '[part="composer"]'
NOTICE = '[part="notice"]'


async def open_panel(page: Page) -> None:
    await page.locator(LAUNCHER).click()
    await expect(page.locator(PANEL)).to_be_visible()


async def visitor_of(page: Page) -> str:
    token = await page.evaluate("localStorage.getItem('pustaka.token')")
    return str(token).split(".")[1]


async def test_offline_form_opens_an_after_hours_topic(
    guest: Guest, after_hours: AfterHoursSite, desk: Desk
) -> None:
    """With nobody on duty the widget shows the offline form instead of the chat; it refuses
    a bad email on the field, and a good one opens a topic marked after-hours, shows the
    question with where the answer goes, and triggers the acknowledgement hook."""
    after_hours.staffed = False
    page = await guest()
    await open_panel(page)
    await expect(page.locator(FORM)).to_be_visible()
    await expect(page.locator(COMPOSER)).to_be_hidden()
    await expect(page.locator('[part="offline-opens"]')).to_have_text(OPENS_EN)
    await page.locator(NAME).fill("Dewi Lestari")
    await page.locator(EMAIL).fill("dewi at example.org")
    await page.locator(QUESTION).fill("Can I renew my loan by email?")
    await page.locator('[part="offline-send"]').click()
    await expect(page.locator(FORM_ERROR)).to_have_text("That email address does not look right.")
    await expect(page.locator(EMAIL)).to_have_attribute("aria-invalid", "true")
    await expect(page.locator(EMAIL)).to_be_focused()
    await page.locator(EMAIL).fill("dewi@example.org")
    await page.locator(QUESTION).press("Tab")
    await page.keyboard.press("Enter")  # the send button, reached by keyboard
    await expect(page.locator(FORM)).to_be_hidden()
    await expect(page.locator(NOTE)).to_contain_text(
        "The answer comes by email to dewi@example.org and here.")
    assert await shown(page) == ["patron: Can I renew my loan by email?"]
    topic = await desk.topic_with("Can I renew my loan by email?")
    posts = [m.get("text", "") for m in desk.emulator.messages(desk.group, topic)]
    assert any("Asked after hours" in post for post in posts), posts
    patron = await desk.bridge.store.patron_by_contact(
        Contact(Channel.WIDGET, await visitor_of(page)))
    assert patron is not None and patron.email == "dewi@example.org"
    conversation = await desk.bridge.store.latest_conversation(patron.id)
    assert conversation is not None and conversation.after_hours
    assert [(p.id, c.id) for p, c in after_hours.questions] == [(patron.id, conversation.id)]


async def test_chat_comes_back_when_the_desk_is_staffed(
    guest: Guest, after_hours: AfterHoursSite, desk: Desk
) -> None:
    """A patron who asked after hours, back when a librarian is on duty, has the chat
    again, with the earlier question and the librarian's answer."""
    after_hours.staffed = False
    page = await guest()
    await open_panel(page)
    await page.locator(NAME).fill("Budi")
    await page.locator(EMAIL).fill("budi@example.org")
    await page.locator(QUESTION).fill("Is the reading room open on holidays?")
    await page.locator('[part="offline-send"]').click()
    await expect(page.locator(NOTE)).to_be_visible()
    topic = await topic_to_answer(desk, "Is the reading room open on holidays?")
    after_hours.staffed = True
    desk.reply(topic, "Yes, from ten to two.")
    await expect(page.locator(LIBRARIAN)).to_have_count(1)
    await page.reload()
    await page.wait_for_function("() => window.PustakaChat.state().ready")
    await open_chat(page)
    await expect(page.locator(FORM)).to_be_hidden()
    await expect(page.locator(NOTE)).to_be_hidden()
    await expect(page.locator(COMPOSER)).to_be_visible()
    assert await shown(page) == ["patron: Is the reading room open on holidays?",
                                 f"system: {Desk.LIBRARIAN} is answering",
                                 "librarian: Yes, from ten to two."]
    await ask(page, "Thank you!")


async def test_resume_link_opens_the_history_in_a_fresh_browser(
    guest: Guest, after_hours: AfterHoursSite, desk: Desk
) -> None:
    """An email link with #pustaka=<resume token> opens the same conversation, with its
    history, in a browser that never saw it, and the token leaves the address bar."""
    after_hours.staffed = True
    first = await guest()
    await open_chat(first)
    await ask(first, "Where can I print?")
    desk.reply(await topic_to_answer(desk, "Where can I print?"), "On the second floor.")
    await expect(first.locator(LIBRARIAN)).to_have_count(1)
    visitor = await visitor_of(first)
    link = "/?from=email#pustaka=" + after_hours.tokens.resume_token(visitor, 3600)
    page = await guest(link)
    await expect(page.locator(PANEL)).to_be_visible()
    await expect(page.locator(LIBRARIAN)).to_have_count(1)
    assert await shown(page) == ["patron: Where can I print?",
                                 f"system: {Desk.LIBRARIAN} is answering",
                                 "librarian: On the second floor."]
    assert page.url == after_hours.url + "/?from=email"
    assert await visitor_of(page) == visitor
    await ask(page, "And scan?")
    assert await desk.topic_with("And scan?") == await desk.topic_with("Where can I print?")


async def test_forged_resume_link_is_refused_and_changes_nothing(
    guest: Guest, after_hours: AfterHoursSite
) -> None:
    """A forged resume token shows a clear message, opens no conversation and leaves the
    browser's own chat identity as it was."""
    after_hours.staffed = True
    page = await guest()
    await open_chat(page)
    await ask(page, "My own question")
    mine = await page.evaluate("localStorage.getItem('pustaka.token')")
    forged = after_hours.tokens.resume_token("0" * 24, 3600)[:-4] + "beef"
    again = await guest("/#pustaka=" + forged, context=page.context)
    await expect(again.locator(NOTICE)).to_have_text(
        "This link has expired or is not valid. You can still write to us here.")
    assert await again.evaluate("localStorage.getItem('pustaka.token')") == mine
    assert "#" not in again.url
    await again.wait_for_function("() => window.PustakaChat.state().connected")
    assert await shown(again) == ["patron: My own question"]


async def test_rating_stars_record_a_rating(
    guest: Guest, after_hours: AfterHoursSite, desk: Desk
) -> None:
    """When the librarian closes the conversation the widget says so and offers 1-5 stars;
    choosing four by keyboard with a comment records the rating and thanks the patron,
    also after a reload."""
    after_hours.staffed = True
    page = await guest()
    await open_chat(page)
    await ask(page, "How long can I keep a DVD?")
    desk.reply(await topic_to_answer(desk, "How long can I keep a DVD?"), "One week.")
    await expect(page.locator(LIBRARIAN)).to_have_count(1)
    patron = await desk.bridge.store.patron_by_contact(
        Contact(Channel.WIDGET, await visitor_of(page)))
    assert patron is not None
    conversation = await desk.bridge.store.latest_conversation(patron.id)
    assert conversation is not None
    await after_hours.router.claims.close(conversation.id, str(desk.librarian), Desk.LIBRARIAN)
    await expect(page.locator('[data-event="closed"]')).to_have_text(
        "This conversation was closed.")
    await expect(page.locator('[part="status"]')).to_have_text("")
    first = page.locator('[part="star"][aria-label="1 of 5 stars"]')
    await first.focus()
    for _ in range(3):
        await page.keyboard.press("ArrowRight")
    await expect(page.locator('[part="star"][aria-label="4 of 5 stars"]')).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator('[part="star"][aria-pressed="true"]')).to_have_attribute(
        "aria-label", "4 of 5 stars")
    await page.locator('[part="rating-comment"]').fill("Quick and friendly")
    await page.locator('[part="rating-send"]').click()
    await expect(page.locator('[part="rating-thanks"]')).to_have_text(
        "Thank you for your rating!")
    stored = await desk.bridge.store.get_conversation(conversation.id)
    assert stored is not None and stored.rating == 4
    await page.reload()  # the history remembers: thanks again, no stars to press twice
    await page.wait_for_function("() => window.PustakaChat.state().connected")
    await open_panel(page)
    await expect(page.locator('[part="rating-thanks"]')).to_have_count(1)
    await expect(page.locator('[part="star"]')).to_have_count(0)


async def test_offline_form_and_rating_over_http_fallback(
    guest: Guest, after_hours: AfterHoursSite, desk: Desk
) -> None:
    """Without WebSockets the offline form and the rating travel over HTTP just the same,
    in Indonesian for a browser that asks for it."""
    after_hours.staffed = False
    page = await guest(init_script="delete window.WebSocket;", locale="id-ID")
    await open_panel(page)
    await page.locator(NAME).fill("Sari")
    await page.locator(EMAIL).fill("sari@example.org")
    await page.locator(QUESTION).fill("Apakah bisa pinjam antarperpustakaan?")
    await page.locator('[part="offline-send"]').click()
    await expect(page.locator(NOTE)).to_contain_text("lewat email ke sari@example.org")
    assert (await page.evaluate("window.PustakaChat.state()"))["transport"] == "http"
    topic = await topic_to_answer(desk, "Apakah bisa pinjam antarperpustakaan?")
    desk.reply(topic, "Bisa, isi formulir di meja layanan.")
    await expect(page.locator(LIBRARIAN)).to_have_count(1)
    conversation = (await desk.bridge.router.desk.conversation_for_thread(topic))
    assert conversation is not None and conversation.after_hours
    await after_hours.router.claims.close(conversation.id, str(desk.librarian), Desk.LIBRARIAN)
    await expect(page.locator('[data-event="closed"]')).to_have_text(
        "Percakapan ini telah ditutup.")
    await page.locator('[part="star"][aria-label="5 dari 5 bintang"]').click()
    await page.locator('[part="rating-send"]').click()
    await expect(page.locator('[part="rating-thanks"]')).to_have_text(
        "Terima kasih atas penilaian Anda!")
    stored = await desk.bridge.store.get_conversation(conversation.id)
    assert stored is not None and stored.rating == 5


@pytest.mark.parametrize("after_hours", [False], indirect=True, ids=["chat-only"])
async def test_a_chat_only_library_asks_for_no_email(
    guest: Guest, after_hours: AfterHoursSite, desk: Desk
) -> None:
    """A library that answers in the chat only (`email: false` in /widget/config) asks
    for no address in the offline form, says the answer comes here, and takes the
    question without one."""
    after_hours.staffed = False
    page = await guest()
    await open_panel(page)
    await expect(page.locator(FORM)).to_be_visible()
    await expect(page.locator(EMAIL)).to_be_hidden()
    await expect(page.locator(FORM)).to_contain_text(
        "the answer appears here in this chat when you come back")
    await page.locator(NAME).fill("Dewi Lestari")
    await page.locator(QUESTION).fill("Is the reading room open on Sunday?")
    await page.locator('[part="offline-send"]').click()
    await expect(page.locator(NOTE)).to_contain_text("We have your question. The answer "
                                                     "appears here in this chat; come back")
    await desk.topic_with("Is the reading room open on Sunday?")
    [(patron, _)] = after_hours.questions
    assert patron.email is None or patron.email == ""

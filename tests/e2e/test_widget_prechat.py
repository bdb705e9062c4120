"""The pre-chat form and greeting rules in a real browser: Debian's headless Chromium on
the sample library site, the real bridge and the Bot API emulator as the desk."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect

from adapters.i18n import Catalog
from tests.e2e.conftest import Desk, page_in_language
from tests.e2e.prechat_fixtures import TOPICS, Guest, Site, guest, site
from tests.e2e.test_widget_browser import LAUNCHER, PANEL, shown

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
__all__ = ["guest", "site"]  # fixtures from prechat_fixtures.py

FORM = 'form[part="offline"]'
NAME = '[part="offline-name"]'
EMAIL = '[part="offline-email"]'
QUESTION = '[part="offline-question"]'
MEMBER = '[part="prechat-member"]'
TOPIC = '[part="prechat-topic"]'
FORM_ERROR = '[part="offline-error"]'
COMPOSER = '[part="composer"]'
LINE = '[part="library-line"]'
FULL = {"show": "always", "fields": ["name", "email", "member_number", "question", "topic"],
        "required": ["name", "question", "topic"], "topics": TOPICS}


def card_of(desk: Desk, thread: int) -> str:
    return next(str(m["text"]) for m in desk.emulator.messages(desk.group, thread)
                if m.get("text", "").startswith("💬 New conversation"))


async def open_panel(page: Page) -> None:
    await page.locator(LAUNCHER).click()
    await expect(page.locator(PANEL)).to_be_visible()


async def test_always_form_refuses_until_required_then_tags_the_card(
        site: Site, guest: Guest, desk: Desk) -> None:
    """With show = "always" the form comes first while the desk is staffed; without the
    required topic it refuses on that field, announced; sent, the question is the first
    message, the card shows the topic as a tag and the member number as given, not
    verified; after a reload the patron is in the chat, not the form."""
    at = await site(form=FULL)
    page = await guest(at)
    await open_panel(page)
    await expect(page.locator(FORM)).to_be_visible()
    await expect(page.locator(COMPOSER)).to_be_hidden()
    await expect(page.get_by_label("Member number")).to_be_visible()  # labelled fields
    await page.locator(NAME).fill("Sari Dewi")
    await page.locator(MEMBER).fill("A12345")
    await page.locator(QUESTION).fill("Where are the theses from 1998?")
    await page.locator('[part="offline-send"]').click()
    await expect(page.locator(FORM_ERROR)).to_have_text(
        "Please choose what your question is about.")
    await expect(page.locator(FORM_ERROR)).to_have_attribute("role", "alert")
    await expect(page.locator(TOPIC)).to_have_attribute("aria-invalid", "true")
    await expect(page.locator(TOPIC)).to_be_focused()
    assert desk.topics() == []
    await page.locator(TOPIC).select_option(label="Research help")
    await page.locator('[part="offline-send"]').click()
    await expect(page.locator(FORM)).to_be_hidden()
    await expect(page.locator(COMPOSER)).to_be_visible()
    await page.wait_for_function(
        "() => window.PustakaChat.state().messages.length === 1"
        " && window.PustakaChat.state().pending === 0")
    assert await shown(page) == ["patron: Where are the theses from 1998?"]
    thread = await desk.topic_with("Where are the theses from 1998?")
    card = card_of(desk, thread)
    assert "Topic: #research-help" in card, card
    assert "Member number: A12345 ⚠️ given, not verified" in card, card
    conversation = await desk.bridge.store.latest_conversation((await desk.patron_of(page)).id)
    assert conversation is not None and conversation.tags == ("research-help",)
    await page.reload()
    await page.wait_for_function("() => window.PustakaChat.state().ready")
    await open_panel(page)
    await expect(page.locator(COMPOSER)).to_be_visible()
    await expect(page.locator(FORM)).to_be_hidden()


async def test_the_answers_go_over_the_http_fallback_too(site: Site, guest: Guest,
                                                        desk: Desk) -> None:
    """Where WebSockets are blocked the first message carries the answers by HTTP."""
    at = await site(form=FULL)
    page = await guest(at, init_script="delete window.WebSocket;")
    await open_panel(page)
    await page.locator(NAME).fill("Rudi")
    await page.locator(TOPIC).select_option(label="Borrowing")
    await page.locator(QUESTION).fill("How many books can I borrow over HTTP?")
    await page.locator('[part="offline-send"]').click()
    await expect(page.locator(FORM)).to_be_hidden()
    assert (await page.evaluate("window.PustakaChat.state().transport")) == "http"
    thread = await desk.topic_with("How many books can I borrow over HTTP?")
    assert "Topic: #borrowing" in card_of(desk, thread)


async def test_after_hours_form_shows_only_after_hours(site: Site, guest: Guest,
                                                       desk: Desk) -> None:
    """The default: a staffed desk gets the chat at once; after hours the form, with the
    member number field the library added, and its answers reach the card."""
    at = await site(form={"fields": ["name", "email", "member_number", "question"],
                          "required": ["name", "question"]})
    page = await guest(at)
    await open_panel(page)
    await expect(page.locator(COMPOSER)).to_be_visible()
    await expect(page.locator(FORM)).to_be_hidden()
    at.staffed = False
    late = await guest(at)
    await open_panel(late)
    await expect(late.locator(FORM)).to_be_visible()
    await late.locator(NAME).fill("Budi")
    await late.locator(MEMBER).fill("7 7")
    await late.locator(QUESTION).fill("Is the reading room open on Sunday?")
    await late.locator('[part="offline-send"]').click()
    await expect(late.locator(FORM_ERROR)).to_have_text(
        "A member number is 1 to 32 letters and digits.")
    await late.locator(MEMBER).fill("B77")
    await late.locator('[part="offline-send"]').click()  # no email: not required here
    await expect(late.locator(FORM)).to_be_hidden()
    thread = await desk.topic_with("Is the reading room open on Sunday?")
    card = card_of(desk, thread)
    assert "Member number: B77" in card and "Asked after hours" in card, card


async def test_never_shows_no_form_even_after_hours(site: Site, guest: Guest) -> None:
    """show = "never": after hours the patron writes in the chat itself."""
    at = await site(form={"show": "never"})
    at.staffed = False
    page = await guest(at)
    await open_panel(page)
    await expect(page.locator(COMPOSER)).to_be_visible()
    await expect(page.locator(FORM)).to_be_hidden()


RULE = {"pages": ["/opac/search*"], "after_seconds": 1,
        "text": "Cannot find it? Ask a librarian.", "texts": {"id": "Tidak ketemu? Tanya kami."}}


async def greeted(page: Page) -> None:
    await expect(page.locator(PANEL)).to_be_visible()
    await expect(page.locator(LINE)).to_have_text("Cannot find it? Ask a librarian.")
    await expect(page.locator(LINE)).to_have_attribute("data-direction", "system")


async def not_greeted(page: Page, seconds: float = 2.5) -> None:
    """Longer than the rule's delay, then the chat is still closed."""
    await page.wait_for_timeout(seconds * 1000)
    await expect(page.locator(PANEL)).to_be_hidden()  # or not built at all
    await expect(page.locator(LINE)).to_have_count(0)


async def test_a_greeting_fires_once_a_day(site: Site, guest: Guest) -> None:
    """On a matching page the chat opens after the delay with the rule's words as a
    line from the library; not on other pages; not again the same day after a reload."""
    at = await site(rules=[RULE])
    home = await guest(at, "/")
    await not_greeted(home)
    page = await guest(at, "/opac/search?q=thesis+1998", context=home.context)
    await greeted(page)
    assert await page.locator('[part~="message"][data-direction="librarian"]').count() == 0
    await page.reload()
    await page.wait_for_function("() => window.PustakaChat.state().ready")
    await not_greeted(page)


async def test_a_greeting_speaks_the_patrons_language(site: Site, guest: Guest) -> None:
    """A browser asking for Indonesian gets the rule's Indonesian words, as text."""
    at = await site(rules=[{**RULE, "pages": "/e-resources",
                            "texts": {"id": "Tidak <b>ketemu</b>? Tanya kami."}}])
    page = await guest(at, "/e-resources?db=jstor", locale="id-ID")
    await expect(page.locator(LINE)).to_have_text("Tidak <b>ketemu</b>? Tanya kami.")


async def test_no_greeting_while_typing_in_the_page(site: Site, guest: Guest) -> None:
    """While the patron types in the catalogue's search box the greeting waits; once
    they leave the box it comes."""
    at = await site(rules=[RULE])
    focus = "() => document.getElementById('q').focus()"
    page = await guest(at, "/opac/search",
                       init_script=f"document.addEventListener('DOMContentLoaded', {focus})")
    await page.keyboard.type("thesis")
    await not_greeted(page)
    assert await page.evaluate("document.activeElement.id") == "q"
    await page.evaluate("document.getElementById('q').blur()")
    await greeted(page)


async def test_no_greeting_after_the_patron_closed_the_chat(site: Site, guest: Guest) -> None:
    """Closed once, the chat is never opened by a greeting again, even on a later day."""
    at = await site(rules=[RULE])
    page = await guest(at, "/opac/search")
    await greeted(page)
    await page.locator('[part="close"]').click()
    await expect(page.locator(PANEL)).to_be_hidden()
    await page.evaluate("localStorage.setItem('pustaka.greeted', '2000-1-1')")  # a new day
    await page.reload()
    await page.wait_for_function("() => window.PustakaChat.state().ready")
    await not_greeted(page)


async def test_the_form_speaks_the_patrons_language(site: Site, guest: Guest,
                                                   browser: Browser) -> None:
    """In Indonesian the form's title, labels, topic prompt, "optional" mark and its own
    refusal come from id.json, not the English they once were in every language."""
    id_words = dict(Catalog.bundled().language("id").texts)
    at = await site(form=FULL)
    context = await browser.new_context(locale="id-ID")
    await page_in_language(context, "id")
    try:
        page = await guest(at, context=context)
        await open_panel(page)
        await expect(page.locator(f"{FORM} h3")).to_have_text(id_words["prechatTitle"])
        await expect(page.get_by_label(id_words["memberNumber"])).to_be_visible()
        await expect(page.locator(TOPIC).locator("option").first).to_have_text(
            id_words["chooseTopic"])
        await expect(page.locator(f"{FORM} .optional").first).to_have_text(
            " " + id_words["optional"])
        await page.locator(NAME).fill("Sari Dewi")
        await page.locator(QUESTION).fill("Di mana skripsi tahun 1998?")
        await page.locator('[part="offline-send"]').click()
        await expect(page.locator(FORM_ERROR)).to_have_text(id_words["errors.missing_topic"])
    finally:
        await context.close()

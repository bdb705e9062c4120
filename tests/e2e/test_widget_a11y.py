"""Accessibility of the widget in a real browser: axe-core (bundled by
axe-playwright-python, nothing downloaded) scans the chat's shadow root in every state,
and the chat works by keyboard alone and announces new messages to screen readers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, Request, expect

from bridge.demo import demo_bridge
from routing.model import Channel, Contact
from tests.e2e.conftest import Cable, Desk, Visitor
from tests.e2e.offline_fixtures import AfterHoursSite, Guest, after_hours, guest, topic_to_answer
from tests.e2e.test_widget_browser import (
    INPUT,
    LAUNCHER,
    LIBRARIAN,
    PANEL,
    PENDING,
    ask,
    open_chat,
)

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
__all__ = ["after_hours", "guest"]  # fixtures from offline_fixtures.py

WIDGET = {"include": [["#pustaka-chat"]]}  # the chat alone: the sample page is not ours
SERIOUS = {"serious", "critical"}
AXE = Axe()


async def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings inside the widget, one line each; the
    scan itself fetches nothing (axe-core comes with the Python package)."""
    fetched: list[str] = []

    def note(request: Request) -> None:
        fetched.append(request.url)

    page.on("request", note)
    results = await AXE.run(page, context=WIDGET)
    page.remove_listener("request", note)
    assert not [url for url in fetched if not url.startswith("http://127.0.0.1:")], fetched
    found: list[dict[str, Any]] = results.response["violations"]
    return [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]} {v['help']}"
            for v in found if v["impact"] in SERIOUS]


async def test_closed_bubble_has_no_serious_violations(visitor: Visitor) -> None:
    """The bubble alone, before the chat opens, passes axe-core."""
    page = await visitor()
    await expect(page.locator(LAUNCHER)).to_be_visible()
    assert await serious_violations(page) == []


async def test_open_chat_with_messages_has_no_serious_violations(
        visitor: Visitor, desk: Desk) -> None:
    """The open panel with a patron's question and a librarian's answer passes axe-core."""
    page = await visitor()
    await open_chat(page)
    await ask(page, "Is the reading room open late?")
    desk.reply(await desk.topic_with("Is the reading room open late?"), "Until nine.")
    await expect(page.locator(LIBRARIAN)).to_have_count(1)
    assert await serious_violations(page) == []


async def test_an_error_shown_has_no_serious_violations(visitor: Visitor) -> None:
    """With the too-long error under the composer the panel still passes axe-core."""
    page = await visitor()
    await open_chat(page)
    await page.locator(INPUT).fill("a" * 4001)
    await page.locator(INPUT).press("Enter")
    await expect(page.locator('[part="error"]')).not_to_be_empty()
    assert await serious_violations(page) == []


async def test_reconnecting_with_pending_messages_and_profile_open_has_no_serious_violations(
        visitor: Visitor, cable: Cable) -> None:
    """The reconnecting banner, a message waiting to be sent and the open name/email form
    pass axe-core."""
    page = await visitor(cable.url)
    await open_chat(page)
    await page.locator('[part="profile"] summary').click()
    cable.unplug()
    await expect(page.locator('[part="connection"]')).to_be_visible()
    await page.locator(INPUT).fill("Written while offline")
    await page.locator(INPUT).press("Enter")
    await expect(page.locator(PENDING)).to_have_count(1)
    assert await serious_violations(page) == []
    cable.plug()


async def test_right_to_left_has_no_serious_violations(visitor: Visitor, desk: Desk) -> None:
    """The open chat laid out right to left passes axe-core. The RTL languages are another
    engineer's work: until they land the test sets dir="rtl" on the widget's root."""
    page = await visitor(locale="ar")
    await open_chat(page)
    await page.evaluate("""() => {
        const root = document.querySelector('#pustaka-chat').shadowRoot
            .querySelector('.root');
        if (!root.closest('[dir]')) root.setAttribute('dir', 'rtl');
    }""")
    await ask(page, "Do you lend e-readers?")
    assert await serious_violations(page) == []


async def test_offline_form_has_no_serious_violations(
        guest: Guest, after_hours: AfterHoursSite) -> None:
    """With nobody on duty the offline form in the panel passes axe-core."""
    after_hours.staffed = False
    page = await guest()
    await page.locator(LAUNCHER).click()
    await expect(page.locator('form[part="offline"]')).to_be_visible()
    assert await serious_violations(page) == []
    await page.locator('[part="offline-send"]').click()  # empty: errors on the fields
    await expect(page.locator('[part="offline-error"]')).not_to_be_empty()
    assert await serious_violations(page) == []


async def test_rating_prompt_has_no_serious_violations(
        guest: Guest, after_hours: AfterHoursSite, desk: Desk) -> None:
    """The stars offered when a librarian closes the conversation pass axe-core."""
    after_hours.staffed = True
    page = await guest()
    await open_chat(page)
    await ask(page, "Can I print here?")
    desk.reply(await topic_to_answer(desk, "Can I print here?"), "Yes, at the desk.")
    await expect(page.locator(LIBRARIAN)).to_have_count(1)
    token = str(await page.evaluate("localStorage.getItem('pustaka.token')"))
    patron = await desk.bridge.store.patron_by_contact(
        Contact(Channel.WIDGET, token.split(".")[1]))
    assert patron is not None
    conversation = await desk.bridge.store.latest_conversation(patron.id)
    assert conversation is not None
    await after_hours.router.claims.close(conversation.id, str(desk.librarian), Desk.LIBRARIAN)
    await expect(page.locator('[part="star"]')).to_have_count(5)
    assert await serious_violations(page) == []


async def test_ended_chat_with_the_transcript_button_has_no_serious_violations(
        guest: Guest, after_hours: AfterHoursSite, desk: Desk) -> None:
    """A conversation the librarian closed from the desk (/close), with the stars and the
    "Email me this chat" button of a library that sends mail, passes axe-core."""
    after_hours.staffed = True
    page = await guest()
    await open_chat(page)
    await ask(page, "Can I scan a book here?")
    topic = await topic_to_answer(desk, "Can I scan a book here?")
    desk.reply(topic, "Yes, on the second floor.")
    await expect(page.locator(LIBRARIAN)).to_have_count(1)
    desk.reply(topic, "/close")
    await expect(page.locator('[part="transcript-send"]')).to_be_visible()
    await expect(page.locator('[part="star"]')).to_have_count(5)
    assert await serious_violations(page) == []


async def test_the_scan_reaches_inside_the_widget(visitor: Visitor) -> None:
    """An unlabelled button put into the chat's shadow root is found: the scans above
    look at the widget itself, not at an empty host element."""
    page = await visitor()
    await page.evaluate("""() => {
        const root = document.querySelector('#pustaka-chat').shadowRoot.querySelector('.root');
        const button = document.createElement('button');
        button.className = 'unlabelled';
        root.append(button);
    }""")
    assert any(line.startswith("button-name") for line in await serious_violations(page))


async def focused_part(page: Page) -> str:
    """The part name of what has the keyboard focus inside the widget, "" outside it."""
    result: str = await page.evaluate("""() => {
        const host = document.querySelector('#pustaka-chat');
        const inner = document.activeElement === host ? host.shadowRoot.activeElement : null;
        return inner ? inner.getAttribute('part') || inner.tagName : '';
    }""")
    return result


async def test_the_chat_works_by_keyboard_alone(visitor: Visitor, desk: Desk) -> None:
    """Tab reaches the bubble, Enter opens the chat with the focus in the message box,
    typing and Enter send, Escape closes it and the focus is back on the bubble."""
    page = await visitor()
    for _ in range(200):  # the sample page's own links come first
        await page.keyboard.press("Tab")
        if await focused_part(page) == "launcher":
            break
    assert await focused_part(page) == "launcher"
    await page.keyboard.press("Enter")
    await expect(page.locator(PANEL)).to_be_visible()
    await page.wait_for_function("() => window.PustakaChat.state().connected")
    await page.wait_for_function("""() => document.querySelector('#pustaka-chat')
        .shadowRoot.activeElement?.getAttribute('part') === 'input'""")
    await page.keyboard.type("Can I book a study room?")
    await page.keyboard.press("Enter")
    await desk.topic_with("Can I book a study room?")
    await page.keyboard.press("Escape")
    await expect(page.locator(PANEL)).to_be_hidden()
    assert await focused_part(page) == "launcher"
    await expect(page.locator(LAUNCHER)).to_have_attribute("aria-expanded", "false")


async def live_region_text(page: Page, selector: str) -> str:
    """The text of the nearest aria-live region around ``selector`` inside the widget."""
    result: str = await page.locator(selector).last.evaluate(
        "el => el.closest('[aria-live]')?.textContent ?? ''")
    return result


async def test_a_librarians_answer_is_announced_in_the_open_chat(
        visitor: Visitor, desk: Desk) -> None:
    """In the open chat the answer lands inside the log, a polite live region."""
    page = await visitor()
    await open_chat(page)
    await ask(page, "Where are the atlases?")
    desk.reply(await desk.topic_with("Where are the atlases?"), "Second floor, aisle 4.")
    await expect(page.locator(LIBRARIAN)).to_have_count(1)
    assert "Second floor, aisle 4." in await live_region_text(page, LIBRARIAN)
    await expect(page.locator('[part="log"]')).to_have_attribute("role", "log")


async def test_a_librarians_answer_is_announced_while_the_chat_is_closed(
        visitor: Visitor, desk: Desk) -> None:
    """With the chat closed the panel is hidden, so its log says nothing: a live region
    beside the bubble announces who answered and what."""
    page = await visitor()
    await open_chat(page)
    await ask(page, "Do you have large-print books?")
    topic = await desk.topic_with("Do you have large-print books?")
    await page.keyboard.press("Escape")
    await expect(page.locator(PANEL)).to_be_hidden()
    desk.reply(topic, "Yes, by the entrance.")
    announcer = page.locator('[part="announcer"]')
    await expect(announcer).to_have_text(f"{Desk.LIBRARIAN}: Yes, by the entrance.")
    await expect(announcer).to_have_attribute("aria-live", "polite")
    assert await announcer.evaluate("el => !el.closest('[hidden]')")
    assert await serious_violations(page) == []


@pytest.mark.parametrize("colour", ["#7f7f7f", "#ffd700", "#e53935", "#0b5394"])
async def test_any_brand_colour_keeps_text_readable(
        browser: Browser, tmp_path: Path, colour: str) -> None:
    """Whatever colour a library picks, the text on it (the header, the send button, the
    patron's own bubbles) passes axe-core's contrast check: a mid grey, where neither
    white nor the usual dark ink reaches 4.5:1, gets black."""
    bridge, emulator, _ = await demo_bridge("127.0.0.1", 0, tmp_path, rate_limits=False,
                                            desk_port=0, overrides={"widget": {"colour": colour}})
    context = await browser.new_context(locale="en-GB")
    try:
        page = await context.new_page()
        await page.goto(bridge.url + "/")
        await page.wait_for_function("() => window.PustakaChat && window.PustakaChat.state().ready")
        await open_chat(page)
        await ask(page, "Is there a quiet room?")
        assert await serious_violations(page) == []
    finally:
        await context.close()
        await bridge.stop()
        await emulator.stop()

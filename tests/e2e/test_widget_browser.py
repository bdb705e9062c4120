"""The widget in a real browser: Debian's headless Chromium on the sample library page,
the real bridge, and the Bot API emulator standing in for the librarians' Telegram group."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.e2e.conftest import Cable, Desk, Visitor, eventually

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

LAUNCHER = 'button[part="launcher"]'
PANEL = '[part="panel"]'
INPUT = 'textarea[part="input"]'
SEND = 'button[part="send"]'
STATUS = '[part="status"]'
STORED = '[part~="message"][data-id]'
PENDING = '[part~="pending"]'
LIBRARIAN = '[part~="message"][data-direction="librarian"]'


async def state(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate("window.PustakaChat.state()")
    return result


async def open_chat(page: Page) -> None:
    await page.locator(LAUNCHER).click()
    await expect(page.locator(PANEL)).to_be_visible()
    await page.wait_for_function("() => window.PustakaChat.state().connected")


async def ask(page: Page, text: str) -> None:
    """Type a question, press Enter and wait until the bridge acknowledged it."""
    await page.locator(INPUT).fill(text)
    await page.locator(INPUT).press("Enter")
    await expect(page.locator(PENDING)).to_have_count(0)
    await expect(page.locator(f'{STORED}[data-direction="patron"]').filter(
        has_text=text)).to_have_count(1)


async def shown(page: Page) -> list[str]:
    """The stored messages the widget shows, as "direction: text", in display order."""
    result: list[str] = await page.locator(STORED).evaluate_all(
        "els => els.map(e => e.dataset.direction + ': ' +"
        " e.querySelector('[part=text]').textContent)")
    return result


async def test_question_reaches_the_desk_and_the_answer_comes_back(
    visitor: Visitor, desk: Desk
) -> None:
    """A question from the sample page opens a topic, and the librarian's answer shows in
    the widget under their name while the header says who is answering."""
    page = await visitor()
    await open_chat(page)
    await expect(page.locator('[part="greeting"]')).to_contain_text(
        desk.bridge.config.widget.greeting_en)
    await ask(page, "Do you have Laskar Pelangi?")
    assert (await state(page))["pending"] == 0
    topic = await desk.topic_with("Do you have Laskar Pelangi?")
    desk.reply(topic, "Yes, two copies on shelf 3.")
    answer = page.locator(LIBRARIAN)
    await expect(answer.locator('[part="text"]')).to_have_text("Yes, two copies on shelf 3.")
    await expect(answer.locator('[part="author"]')).to_have_text(Desk.LIBRARIAN)
    await expect(page.locator(STATUS)).to_have_text(f"{Desk.LIBRARIAN} is answering")


async def test_reload_keeps_the_history_once(visitor: Visitor, desk: Desk) -> None:
    """After a reload the question and the answer are shown again, each exactly once."""
    page = await visitor()
    await open_chat(page)
    await ask(page, "When do you open on Saturday?")
    desk.reply(await desk.topic_with("When do you open on Saturday?"), "At nine.")
    await expect(page.locator(LIBRARIAN)).to_have_count(1)
    before = await shown(page)
    await page.reload()
    await page.wait_for_function("() => window.PustakaChat && window.PustakaChat.state().connected")
    await open_chat(page)
    await expect(page.locator(STORED)).to_have_count(len(before))
    after = await shown(page)
    assert after == before
    assert after.count("patron: When do you open on Saturday?") == 1
    assert after.count("librarian: At nine.") == 1


async def test_a_second_visitor_sees_nothing_of_the_first(visitor: Visitor, desk: Desk) -> None:
    """Another browser is another patron: it sees none of the first one's messages, and its
    question opens a second topic."""
    first = await visitor()
    await open_chat(first)
    await ask(first, "My card number is 1234")
    second = await visitor()
    await open_chat(second)
    assert await shown(second) == []
    await ask(second, "Is the reading room open?")
    assert await shown(second) == ["patron: Is the reading room open?"]
    assert await shown(first) == ["patron: My card number is 1234"]
    one = await desk.topic_with("My card number is 1234")
    two = await desk.topic_with("Is the reading room open?")
    assert one != two and sorted(desk.topics()) == sorted([one, two])


async def test_markup_is_shown_as_text_both_ways(visitor: Visitor, desk: Desk) -> None:
    """HTML from the patron or the librarian is shown literally and never runs, and the desk
    gets the patron's text escaped, so Telegram shows it literally too."""
    patron_text = '<img src=x onerror="window.__pwned=1">'
    librarian_text = "<script>window.__pwned=2</script><b>bold?</b>"
    page = await visitor()
    await open_chat(page)
    await ask(page, patron_text)
    topic = await desk.topic_with(patron_text)
    desk.reply(topic, librarian_text)
    await expect(page.locator(LIBRARIAN).locator('[part="text"]')).to_have_text(librarian_text)
    widget = await shown(page)
    assert f"patron: {patron_text}" in widget and f"librarian: {librarian_text}" in widget
    assert await page.evaluate("typeof window.__pwned") == "undefined"
    assert await page.locator('[part="log"]').locator("img, script, b").count() == 0
    sent = [params["text"] for method, params in desk.emulator.calls
            if method == "sendMessage" and "onerror" in str(params.get("text", ""))]
    assert sent and all("<img" not in text and "&lt;img" in text for text in sent)


async def test_messages_written_offline_are_sent_once_on_reconnect(
    visitor: Visitor, desk: Desk, cable: Cable
) -> None:
    """Messages written while the connection is down stay pending, and are delivered exactly
    once, to the widget and to the desk, when it comes back."""
    page = await visitor(cable.url)
    await open_chat(page)
    await ask(page, "Before the drop")
    topic = await desk.topic_with("Before the drop")
    cable.unplug()
    await page.wait_for_function("() => !window.PustakaChat.state().connected")
    await expect(page.locator('[part="connection"]')).to_have_text("Reconnecting…")
    offline = ["Written offline, one", "Written offline, two"]
    for text in offline:
        await page.locator(INPUT).fill(text)
        await page.locator(INPUT).press("Enter")
    await expect(page.locator(PENDING)).to_have_count(2)
    assert (await state(page))["pending"] == 2
    assert not set(offline) & set(desk.texts(topic))
    cable.plug()
    await expect(page.locator(PENDING)).to_have_count(0, timeout=10_000)
    await eventually(lambda: set(offline) <= set(desk.texts(topic)))
    widget, at_desk = await shown(page), desk.texts(topic)
    for text in offline:
        assert widget.count(f"patron: {text}") == 1
        assert at_desk.count(text) == 1
    assert (await state(page))["pending"] == 0


async def test_http_fallback_sends_receives_and_saves_the_profile(
    visitor: Visitor, desk: Desk
) -> None:
    """Without WebSockets the widget talks HTTP: the question reaches the desk, the answer
    arrives by long-poll, and the profile is saved over HTTP too."""
    page = await visitor(init_script="delete window.WebSocket;")
    await open_chat(page)
    assert (await state(page))["transport"] == "http"
    await ask(page, "Asked over HTTP")
    desk.reply(await desk.topic_with("Asked over HTTP"), "Answered by long-poll")
    await expect(page.locator(LIBRARIAN).locator('[part="text"]')).to_have_text(
        "Answered by long-poll")
    await save_profile(page, "Ayu Lestari", "ayu@example.org")
    await expect(page.locator('[part="profile"] .note')).to_have_text("Saved")
    patron = await desk.patron_of(page)
    assert (patron.name, patron.email) == ("Ayu Lestari", "ayu@example.org")


async def save_profile(page: Page, name: str, email: str) -> None:
    profile = page.locator('[part="profile"]')
    await profile.locator("summary").click()
    await profile.locator('input[name="name"]').fill(name)
    await profile.locator('input[name="email"]').fill(email)
    await profile.locator('[part="profile-save"]').click()


async def test_profile_shows_saved_only_when_the_server_confirms(
    visitor: Visitor, desk: Desk, cable: Cable
) -> None:
    """A profile saved while offline is not shown as saved until the bridge confirms it
    after the reconnect."""
    page = await visitor(cable.url)
    await open_chat(page)
    cable.unplug()
    await page.wait_for_function("() => !window.PustakaChat.state().connected")
    await save_profile(page, "Dewi Sartika", "dewi@example.org")
    note = page.locator('[part="profile"] .note')
    await expect(note).to_have_text("")
    assert await desk.patron_of(page) is None
    cable.plug()
    await expect(note).to_have_text("Saved", timeout=10_000)
    patron = await desk.patron_of(page)
    assert (patron.name, patron.email) == ("Dewi Sartika", "dewi@example.org")


async def test_keyboard_only_patron(visitor: Visitor) -> None:
    """Tab reaches the launcher, Enter opens the chat, Enter sends, and Escape closes it and
    gives focus back to the launcher."""
    page = await visitor()
    launcher = page.locator(LAUNCHER)
    for _ in range(80):
        if await launcher.evaluate("el => el.getRootNode().activeElement === el"):
            break
        await page.keyboard.press("Tab")
    await expect(launcher).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator(PANEL)).to_be_visible()
    await expect(page.locator(INPUT)).to_be_focused()
    await page.keyboard.type("Typed with the keyboard")
    await page.keyboard.press("Enter")
    await expect(page.locator(STORED).filter(has_text="Typed with the keyboard")).to_have_count(1)
    await expect(page.locator(INPUT)).to_have_value("")
    await page.keyboard.press("Escape")
    await expect(page.locator(PANEL)).to_be_hidden()
    await expect(launcher).to_be_focused()


async def test_phone_panel_fills_the_screen(visitor: Visitor, tmp_path: Path) -> None:
    """On a 390x844 phone the open chat covers the whole screen width."""
    page = await visitor(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    await open_chat(page)
    panel = page.locator(PANEL)
    await panel.evaluate("el => Promise.all(el.getAnimations().map(a => a.finished))")
    box = await panel.bounding_box()
    assert box is not None
    assert (box["x"], box["width"]) == (0, 390)
    assert (box["y"], box["height"]) == (0, 844)
    await expect(page.locator(LAUNCHER)).to_be_hidden()
    shot = tmp_path / "phone.png"
    await page.screenshot(path=str(shot))
    assert shot.stat().st_size > 0 and shot.read_bytes().startswith(b"\x89PNG")


async def test_pasting_too_long_a_text_is_refused_in_the_browser(
    visitor: Visitor, desk: Desk
) -> None:
    """A pasted text of 4001 characters gets the localized too-long error, stays in the box
    for editing, and nothing is sent to the bridge or the desk."""
    page = await visitor(permissions=["clipboard-read", "clipboard-write"])
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda data: frames.append(str(data))))
    await open_chat(page)
    text = "a" * 4001
    await page.evaluate("text => navigator.clipboard.writeText(text)", text)
    await page.locator(INPUT).focus()
    await page.keyboard.press("ControlOrMeta+V")
    await expect(page.locator(INPUT)).to_have_value(text)
    await expect(page.locator(SEND)).to_be_disabled()
    await page.keyboard.press("Enter")
    await expect(page.locator('[part="error"]')).to_have_text(
        "Your message is too long (at most 4000 characters).")
    await expect(page.locator(INPUT)).to_have_value(text)
    assert (await state(page))["pending"] == 0 and await shown(page) == []
    assert not [f for f in frames if '"send"' in f]
    assert desk.topics() == []


async def test_indonesian_browser_gets_indonesian_texts(visitor: Visitor, desk: Desk) -> None:
    """A browser set to Indonesian shows the Indonesian greeting and interface."""
    page = await visitor(locale="id-ID")
    launcher = page.locator(LAUNCHER)
    await expect(launcher).to_have_attribute("aria-label", "Chat dengan Perpustakaan Kota Pustaka")
    await open_chat(page)
    assert (await state(page))["lang"] == "id"
    await expect(page.locator('[part="greeting"]')).to_contain_text(
        desk.bridge.config.widget.greeting_id)
    await expect(page.locator(INPUT)).to_have_attribute("placeholder", "Tulis pesan Anda…")
    await expect(page.locator(SEND)).to_have_text("Kirim")
    await expect(page.locator('[part="profile"] summary')).to_have_text(
        "Nama / email Anda (opsional)")

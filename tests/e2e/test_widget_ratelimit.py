"""A rate-limit refusal in a real browser: one composer draft and a countdown, not a pile
of "Not sent" bubbles. Debian's headless Chromium on the sample page (under its strict
Content-Security-Policy), the real bridge, and the Bot API emulator as the desk."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from bridge.demo import demo_bridge
from tests.e2e.conftest import Desk, eventually, page_in_language
from tests.e2e.test_widget_browser import INPUT, PENDING, SEND, open_chat, state

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

PER_MINUTE = 12  # a burst of 5, then one every 5 s: the refusal asks for up to 5 s
RETRY = '[part="retry"]'
WAIT = '[part="wait"]'
ERROR = '[part="error"]'
QUESTIONS = [f"Question {n} about my loan" for n in range(1, 9)]
QUESTION = re.compile(r"Question \d about my loan")


def questions_in(desk: Desk, topic: int) -> list[str]:
    """The questions of a topic's posts, in post order, however they were joined."""
    return QUESTION.findall("\n".join(desk.texts(topic)))


@pytest_asyncio.fixture(loop_scope="module")
async def strict_desk(tmp_path: Path) -> AsyncIterator[Desk]:
    bridge, emulator, _ = await demo_bridge(
        "127.0.0.1", 0, tmp_path, rate_limits=False, desk_port=0,
        overrides={"widget": {"messages_per_minute": PER_MINUTE}})
    try:
        yield Desk(bridge, emulator)
    finally:
        await bridge.stop()
        await emulator.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def page(browser: Browser, strict_desk: Desk) -> AsyncIterator[Page]:
    context = await browser.new_context(locale="en-GB")
    await page_in_language(context, "")  # not the sample page's Indonesian: the browser's
    problems: list[str] = []
    page = await context.new_page()
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda msg: problems.append(msg.text)
            if "Content Security Policy" in msg.text else None)
    await page.goto(strict_desk.bridge.url + "/")
    await page.wait_for_function("() => window.PustakaChat && window.PustakaChat.state().ready")
    yield page
    await context.close()
    assert problems == [], problems


async def burst(page: Page, texts: list[str]) -> None:
    """Send each text with Enter, all before the bridge can answer the first: a patron
    hammering the key, at the speed a script would."""
    await page.evaluate("""texts => {
        const input = document.querySelector("pustaka-chat").shadowRoot
            .querySelector('textarea[part="input"]');
        for (const text of texts) {
            input.value = text;
            input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
        }
    }""", texts)


def seconds_left(text: str) -> int:
    match = re.fullmatch(r"You can send again in (\d+) s\.", text)
    assert match, text
    return int(match.group(1))


async def test_a_refused_burst_leaves_one_draft_and_a_countdown(
        page: Page, strict_desk: Desk) -> None:
    """Past the budget, the refused texts come back as one composer draft, with no retry
    bubble; sending waits out a visible countdown, then the draft goes and nothing is lost."""
    await open_chat(page)
    assert (await state(page))["transport"] == "ws"  # connect-src 'self' lets the socket in
    await burst(page, QUESTIONS)
    await expect(page.locator(INPUT)).to_have_value("\n".join(QUESTIONS[5:]))
    await expect(page.locator(PENDING)).to_have_count(0)
    await expect(page.locator(RETRY)).to_have_count(0)
    await expect(page.locator(SEND)).to_be_disabled()
    await expect(page.locator(ERROR)).to_contain_text("sending messages too fast")
    first = seconds_left(await page.locator(WAIT).text_content() or "")
    assert 1 <= first <= 5

    await page.locator(INPUT).press("Enter")  # refused in the browser: the draft stays
    assert (await state(page))["pending"] == 0
    await expect(page.locator(INPUT)).to_have_value("\n".join(QUESTIONS[5:]))
    if first > 1:  # the number counts down while the patron waits
        await expect(page.locator(WAIT)).to_have_text(f"You can send again in {first - 1} s.",
                                                      timeout=3000)

    await expect(page.locator(SEND)).to_be_enabled(timeout=(first + 2) * 1000)
    await expect(page.locator(WAIT)).to_have_text("")
    await expect(page.locator(ERROR)).to_have_text("")
    await page.locator(SEND).click()
    await expect(page.locator(INPUT)).to_have_value("")
    await expect(page.locator(PENDING)).to_have_count(0)
    # Each question once, in the order sent, in one topic, the draft's three last. Under a
    # slow desk the outbox may join queued questions into one post ("[HH:MM] " each part).
    asked = await eventually(lambda: [found for topic in strict_desk.topics()
                                      if (found := questions_in(strict_desk, topic))
                                      and found[-1] == QUESTIONS[-1]])
    assert asked == [QUESTIONS]


async def test_the_draft_and_the_countdown_survive_a_reload(browser: Browser,
                                                            strict_desk: Desk) -> None:
    """A draft a rate limit gave back is still in the composer after the page reloads,
    sending still waits for the server's time, and the draft is gone once sent."""
    context = await browser.new_context(locale="en-GB")
    await page_in_language(context, "")
    try:
        page = await context.new_page()
        await page.goto(strict_desk.bridge.url + "/")
        await page.wait_for_function("() => window.PustakaChat && window.PustakaChat.state().ready")
        await open_chat(page)
        texts = [f"Reload question {n}" for n in range(1, 8)]
        await burst(page, texts)
        await expect(page.locator(INPUT)).to_have_value("\n".join(texts[5:]))
        until = float(await page.evaluate("localStorage.getItem('pustaka.sendable_at')"))
        await page.reload()
        await page.wait_for_function("() => window.PustakaChat && window.PustakaChat.state().ready")
        await open_chat(page)
        await expect(page.locator(INPUT)).to_have_value("\n".join(texts[5:]))
        if await page.evaluate("until => Date.now() < until - 1000", until):
            await expect(page.locator(SEND)).to_be_disabled()  # the wait goes on after a reload
            seconds_left(await page.locator(WAIT).text_content() or "")
        await expect(page.locator(SEND)).to_be_enabled(timeout=7000)
        await page.locator(SEND).click()
        await expect(page.locator(INPUT)).to_have_value("")
        assert await page.evaluate("localStorage.getItem('pustaka.draft')") is None
    finally:
        await context.close()

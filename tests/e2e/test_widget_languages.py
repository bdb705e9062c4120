"""The widget in the patron's language, in a real browser: its words from
/widget/texts/<code>.json for every shipped language (a screenshot of each for the
README), Arabic laid out right to left, the choice of language (data-lang, then the
page's, then the browser's), `hello.lang` reaching the desk's card, and the desk greeting
a visitor (/greet) and following them through a single-page catalogue (/visitors)."""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import FloatRect, Page, expect

from adapters.i18n import Catalog
from bridge.demo import demo_bridge
from tests.e2e.conftest import Desk, Visitor
from tests.e2e.network_log import NetworkLog
from tests.e2e.test_widget_browser import (
    INPUT,
    LAUNCHER,
    LIBRARIAN,
    PANEL,
    SEND,
    STATUS,
    ask,
    open_chat,
    state,
)
from tests.eventually import eventually

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(loop_scope="module")
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    """conftest's desk, with the sample site as the library's own (widget.allowed_origins),
    so /visitors shows its pages' addresses and titles."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    site = {"widget": {"allowed_origins": [f"http://127.0.0.1:{port}"]}}
    bridge, emulator, _ = await demo_bridge("127.0.0.1", port, tmp_path, rate_limits=False,
                                            desk_port=0, overrides=site)
    try:
        yield Desk(bridge, emulator)
    finally:
        await bridge.stop()
        await emulator.stop()


CATALOG = Catalog.bundled()
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def words(code: str) -> dict[str, str]:
    return dict(CATALOG.language(code).texts)


async def box(page: Page, selector: str) -> FloatRect:
    found = await page.locator(selector).bounding_box()
    assert found is not None, selector
    return found


async def screenshot(page: Page, path: Path) -> None:
    """The open panel and the bubble under it, with a margin of the page around them."""
    panel, launcher = await box(page, PANEL), await box(page, LAUNCHER)
    left = round(min(panel["x"], launcher["x"]) - 16)
    top = round(panel["y"] - 16)
    right = round(max(panel["x"] + panel["width"], launcher["x"] + launcher["width"]) + 16)
    bottom = round(launcher["y"] + launcher["height"] + 16)
    path.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(path), animations="disabled", caret="hide",
                          clip={"x": left, "y": top, "width": right - left,
                                "height": bottom - top})


async def bot_says(desk: Desk, command: str, *parts: str) -> str:
    """A librarian sends ``command`` in the group; the bot's answer holding ``parts``."""
    desk.emulator.user_sends(desk.group, desk.librarian, command)

    def found() -> str:
        for message in reversed(desk.emulator.messages(desk.group)):
            text = str(message.get("text", ""))
            if message.get("from", {}).get("is_bot") and all(p in text for p in parts):
                return text
        return ""
    return str(await eventually(found))


async def label_of_the_visitor(desk: Desk) -> str:
    """The one visitor's label as /visitors shows it to the desk."""
    text = await bot_says(desk, "/visitors", "on our pages now")
    labels: set[str] = set(re.findall(r"v-[0-9a-f]{4,}", text))
    assert len(labels) == 1, text
    return labels.pop()


async def test_every_language_opens_in_its_own_words(visitor: Visitor, desk: Desk) -> None:
    """On a page in each shipped language the bubble, the greeting, the composer and the
    header speak it, taken from /widget/texts; a screenshot of each goes to the README."""
    library = desk.bridge.config.library.name
    assert len(CATALOG.codes) == 10
    for code in CATALOG.codes:
        said = words(code)
        # Reduced motion: the picture shows the panel, not a frame of its pop-in.
        page = await visitor(html_lang=code, reduced_motion="reduce")
        await expect(page.locator(LAUNCHER)).to_have_attribute(
            "aria-label", said["open"].replace("{library}", library))
        await open_chat(page)
        assert (await state(page))["lang"] == code
        await expect(page.locator('[part="greeting"]')).to_contain_text(said["greeting"])
        await expect(page.locator(SEND)).to_have_text(said["send"])
        await expect(page.locator(INPUT)).to_have_attribute("placeholder", said["placeholder"])
        await expect(page.locator('[part="close"]')).to_have_attribute("aria-label", said["close"])
        await expect(page.locator('[part="profile"] summary')).to_have_text(said["profile"])
        await screenshot(page, SCREENSHOTS / f"widget-{code}.png")
        await page.context.close()


async def test_arabic_is_laid_out_right_to_left(visitor: Visitor, desk: Desk) -> None:
    """In Arabic the panel is mirrored: its root says dir="rtl", the librarian's greeting
    hugs the right edge, the send button sits left of the message box; the bubble stays on
    the side the library chose; times are written as Arabic writes them."""
    page = await visitor(html_lang="ar")
    await open_chat(page)
    direction = await page.evaluate(
        "document.querySelector('pustaka-chat').shadowRoot.querySelector('.root').dir")
    assert direction == "rtl"
    assert await page.locator(INPUT).evaluate("el => getComputedStyle(el).direction") == "rtl"
    panel, greeting = await box(page, PANEL), await box(page, '[part="greeting"] .bubble')
    assert greeting["x"] + greeting["width"] > panel["x"] + panel["width"] - 40
    assert greeting["x"] > panel["x"] + 40
    send, text = await box(page, SEND), await box(page, INPUT)
    assert send["x"] + send["width"] <= text["x"] + 1
    launcher = await box(page, LAUNCHER)
    assert launcher["x"] > 640  # "right", as the library configured it
    await ask(page, "هل لديكم كتب عن تاريخ إندونيسيا؟")
    time = page.locator('[part~="message"][data-direction="patron"] time')
    shown, arabic, english = await time.evaluate(
        "el => [el.textContent, ...['ar', 'en-GB'].map((lang) => new Intl.DateTimeFormat("
        "lang, {hour: '2-digit', minute: '2-digit'}).format(new Date(el.dateTime)))]")
    assert shown == arabic and shown != english


async def test_auto_position_puts_the_bubble_where_arabic_starts(visitor: Visitor) -> None:
    """data-position="auto" places the bubble on the left for a right-to-left language
    and on the right for any other."""
    arabic = await visitor(html_lang="ar", embed={"data-position": "auto"})
    assert (await box(arabic, LAUNCHER))["x"] < 640
    english = await visitor(html_lang="en", embed={"data-position": "auto"})
    assert (await box(english, LAUNCHER))["x"] > 640


CHOICES: list[tuple[dict[str, Any], str]] = [
    ({"embed": {"data-lang": "fr"}, "html_lang": "de", "locale": "es-ES"}, "fr"),
    ({"html_lang": "de", "locale": "es-ES"}, "de"),
    ({"html_lang": "", "locale": "es-ES"}, "es"),
    ({"html_lang": "", "locale": "pt-BR"}, "pt"),
    ({"html_lang": "zh-Hans-CN"}, "zh"),
    ({"html_lang": "", "locale": "ko-KR"}, "en"),  # none of the library's: its default
]


async def test_data_lang_wins_over_the_page_which_wins_over_the_browser(
        visitor: Visitor) -> None:
    """The chat speaks data-lang's language, else the page's <html lang>, else the
    browser's first the library has (pt-BR → pt, zh-Hans-CN → zh), else the default."""
    for options, code in CHOICES:
        page = await visitor(**options)
        await page.locator(LAUNCHER).click()
        await expect(page.locator(SEND)).to_have_text(words(code)["send"])
        assert (await state(page))["lang"] == code, options
        await page.context.close()


async def test_hello_carries_the_language_to_the_desk(visitor: Visitor, desk: Desk) -> None:
    """The chosen language travels in hello: the topic's card names German and the
    librarian's claim is worded in German in the widget."""
    page = await visitor(html_lang="de-AT")
    await open_chat(page)
    await ask(page, "Haben Sie Zeitungen aus Wien?")
    topic = await desk.topic_with("Haben Sie Zeitungen aus Wien?")
    card = desk.emulator.messages(desk.group, topic)[1]["text"]
    assert "Language: German (Deutsch, de)" in card
    desk.reply(topic, "Ja, im ersten Stock.")
    await expect(page.locator(STATUS)).to_have_text(
        words("de")["answering"].replace("{name}", Desk.LIBRARIAN))


async def test_greet_from_the_desk_opens_the_widget_with_the_message(
        visitor: Visitor, desk: Desk) -> None:
    """A returning visitor browsing with the chat closed: /greet opens the panel without
    taking the focus, shows the librarian's words in the live log as the conversation's
    start (claimed by them), and the patron's answer lands in that topic."""
    page = await visitor()
    await open_chat(page)
    await page.reload()  # a returning patron connects at once, the panel closed
    await page.wait_for_function("() => window.PustakaChat.state().connected")
    await expect(page.locator(PANEL)).to_be_hidden()
    label = await label_of_the_visitor(desk)
    desk.emulator.user_sends(desk.group, desk.librarian,
                             f"/greet {label} Hello! Looking for a book on batik?")
    await expect(page.locator(PANEL)).to_be_visible()
    greeting = page.locator(f'[role="log"][aria-live="polite"] {LIBRARIAN}')
    await expect(greeting.locator('[part="text"]')).to_have_text(
        "Hello! Looking for a book on batik?")
    await expect(page.locator(STATUS)).to_have_text(f"{Desk.LIBRARIAN} is answering")
    await expect(page.locator('[part="greeting"]')).to_be_hidden()
    assert await page.evaluate("document.activeElement === document.body")
    await ask(page, "Yes, batik from Pekalongan")
    [topic] = desk.topics()
    assert await desk.topic_with("Yes, batik from Pekalongan") == topic


async def test_greet_leaves_a_widget_the_patron_closed_closed(
        visitor: Visitor, desk: Desk) -> None:
    """A patron who closed the chat on this page is not interrupted: the greeting waits
    in the log and the bubble counts it."""
    page = await visitor()
    await open_chat(page)
    await page.locator('[part="close"]').click()
    label = await label_of_the_visitor(desk)
    desk.emulator.user_sends(desk.group, desk.librarian, f"/greet {label} Can I help?")
    await expect(page.locator(LIBRARIAN)).to_have_count(1)
    await expect(page.locator(PANEL)).to_be_hidden()
    await expect(page.locator(LAUNCHER)).to_have_attribute("aria-label", re.compile(r"\(1 new\)"))


async def test_referrer_and_single_page_moves_reach_visitors(
        visitor: Visitor, desk: Desk) -> None:
    """hello carries document.referrer (the desk sees its host only), and a pushState
    navigation in a single-page catalogue sends a page frame: /visitors shows the new page."""
    page = await visitor(referer="https://search.example.org/find?q=batik")
    await open_chat(page)
    await bot_says(desk, "/visitors", "from search.example.org")
    await page.evaluate("history.pushState({}, '', '/katalog/record/42');"
                        "document.title = 'Record 42';")
    presence = desk.bridge.hub.presence
    assert presence is not None
    await eventually(lambda: [v for v in presence.visitors()
                              if v.url.endswith("/katalog/record/42")])
    text = await bot_says(desk, "/visitors", "/katalog/record/42")
    assert "Record 42" in text and "q=batik" not in text


async def test_without_its_texts_the_chat_speaks_english(visitor: Visitor, desk: Desk) -> None:
    """When /widget/texts cannot be fetched, the chat still works in its built-in English
    and tells the bridge so in hello (the card says English, not German)."""
    page = await visitor(html_lang="de")
    await page.context.route("**/widget/texts/**", lambda route: route.abort())
    await open_chat(page)
    await expect(page.locator(SEND)).to_have_text("Send")
    assert (await state(page))["lang"] == "en"
    await ask(page, "Do you lend e-readers?")
    topic = await desk.topic_with("Do you lend e-readers?")
    assert "Language: English" in desk.emulator.messages(desk.group, topic)[1]["text"]


async def test_the_texts_come_from_the_browsers_cache_on_the_next_page(
        visitor: Visitor) -> None:
    """A patron's next page takes the language's texts from the browser's cache (or a
    304 from the ETag), never the whole file again."""
    page = await visitor(html_lang="de")
    await open_chat(page)
    log = await NetworkLog.attach(page)
    await page.reload()
    await page.locator(LAUNCHER).click()
    await expect(page.locator(SEND)).to_have_text(words("de")["send"])
    fetches = log.fetches("/widget/texts/de.json")
    assert fetches and all(f.cached or f.status == 304 for f in fetches), fetches


async def test_greet_reaches_a_visitor_on_the_http_fallback(
        visitor: Visitor, desk: Desk) -> None:
    """Without WebSockets the greeting comes in a poll's messages and opens the panel
    just the same."""
    page = await visitor(init_script="delete window.WebSocket;")
    await open_chat(page)
    await page.reload()
    await page.wait_for_function("() => window.PustakaChat.state().connected")
    assert (await state(page))["transport"] == "http"
    label = await label_of_the_visitor(desk)
    desk.emulator.user_sends(desk.group, desk.librarian, f"/greet {label} Selamat datang!")
    await expect(page.locator(PANEL)).to_be_visible()
    await expect(page.locator(f"{LIBRARIAN} [part=\"text\"]")).to_have_text("Selamat datang!")

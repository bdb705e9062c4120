"""Presence for every visitor on the library's pages, in a real browser: the loader's
beacon (adapters/widget/beacon.py) lists a visitor who never opened the chat in the desk's
/visitors, follows their single-page moves, and a /greet from the desk makes the loader
fetch the chat and open it with the librarian's words."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import Desk
from tests.e2e.prechat_fixtures import Guest, Site, guest, site
from tests.e2e.test_widget_browser import LIBRARIAN, PANEL
from tests.eventually import eventually

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
__all__ = ["guest", "site"]  # fixtures from prechat_fixtures.py


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


async def test_a_visitor_with_the_chat_never_opened_is_listed_and_greeted(
        site: Site, guest: Guest, desk: Desk) -> None:
    """Only the loader on the page: /visitors lists the visitor on their page, then on the
    page a single-page move took them to; /greet makes the loader fetch the chat, which
    opens with the greeting; the visitor then has a token of their own."""
    at = await site(beacon_every=1)
    page = await guest(at, "/opac/search")
    text = await bot_says(desk, "/visitors", "on our pages now")
    [label] = set(re.findall(r"v-[0-9a-f]{4,}", text))
    presence = desk.bridge.hub.presence
    assert presence is not None
    [here] = presence.visitors()  # its page is not shown: this site is not the library's
    await page.evaluate("history.pushState({}, '', '/katalog/record/42')")
    await eventually(lambda: [v for v in presence.visitors()
                              if v.label == label and v.page_since > here.page_since])
    state = await page.evaluate("window.PustakaChat.state()")
    assert state["loaded"] is False
    assert await page.evaluate("localStorage.getItem('pustaka.token')") is None
    desk.emulator.user_sends(desk.group, desk.librarian, f"/greet {label} Hello from the desk!")
    await expect(page.locator(PANEL)).to_be_visible(timeout=15_000)
    await expect(page.locator(LIBRARIAN).locator('[part="text"]')).to_have_text(
        "Hello from the desk!")
    assert await page.evaluate("localStorage.getItem('pustaka.token')")
    assert await page.evaluate("localStorage.getItem('pustaka.visit')") is None

"""Transcripts in real headless Chromium: search by words, open one (the internal note
marked), export what was found as CSV and read its rows; screenshots for README."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import pytest
from playwright.async_api import Browser

from routing.model import Channel, Contact, Conversation, Direction, Message, Patron, new_id
from tests.e2e.admin_fixtures import screenshot, sign_in_page
from tests.integration.admin_client import StaffBridge

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
pytest_plugins = ["tests.e2e.admin_fixtures"]  # staff_bridge
DAY = 86_400.0
CHATS = (
    ("Budi Santoso", "email", ("thesis",), 5,
     ("Bagaimana cara memperpanjang pinjaman skripsi saya?",
      "Bisa lewat akun Anda, atau kami perpanjang sekarang.")),
    ("Citra Lestari", "widget", ("loan",), 4,
     ("Apakah pinjaman buku bisa diperpanjang dua kali?", "Bisa, selama tidak dipesan.")),
    ("Ana Wijaya", "telegram", ("hours",), None,
     ("Is the library open on Saturday?", "Yes, from 9 to 14.")),
)


async def seed(staff: StaffBridge) -> list[str]:
    store, now = staff.store, staff.bridge.parts.clock.now()
    made = []
    for age, (name, origin, tags, rating, (question, answer)) in reversed(list(
            enumerate(CHATS))):  # oldest first, as they would have come
        at = now - age * DAY
        who = Patron(new_id(), name=name, email=f"{name.split()[0].lower()}@example.org",
                     created_at=at, contacts=(Contact(Channel.WIDGET, new_id()),))
        await store.save_patron(who)
        conversation = Conversation(new_id(), who.id, Channel(origin), claimed_by="Sari",
                                    tags=tags, rating=rating, created_at=at, updated_at=at)
        await store.save_conversation(conversation)
        for offset, (direction, text) in enumerate((
                (Direction.PATRON, question), (Direction.NOTE, "member since 2019"),
                (Direction.LIBRARIAN, answer))):
            await store.append(Message(new_id(), conversation.id, direction, text,
                                       author=name if direction is Direction.PATRON else "Sari",
                                       created_at=at + 60 * offset), [])
        made.insert(0, conversation.id)
    return made


async def test_search_open_and_export(browser: Browser, staff_bridge: StaffBridge) -> None:
    """'pinjam*' finds the two Indonesian loan questions, newest first, the word marked;
    the transcript shows the note as internal; the CSV export holds the same two rows."""
    budi, citra, _ana = await seed(staff_bridge)
    page = await sign_in_page(browser, staff_bridge)
    await page.goto(staff_bridge.url + "/admin/transcripts")
    await page.fill("input[name=words]", "pinjam*")
    await page.click("form[role=search] button[type=submit]")
    await page.wait_for_function("() => document.querySelectorAll('#hits tbody tr').length > 0")
    links = await page.locator("#hits tbody tr td:first-child a").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))")
    assert links == [f"/admin/transcripts/{budi}", f"/admin/transcripts/{citra}"]
    assert await page.locator("#hits mark").count() == 2
    await screenshot(page, "transcripts")

    async with page.expect_download() as download:
        await page.click("#export-csv")
    path = await (await download.value).path()
    text = await asyncio.to_thread(Path(path).read_text, encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["id"], r["patron"], r["channel"], r["tags"], r["rating"]) for r in rows] == [
        (budi, "Budi Santoso", "email", "thesis", "5"), (citra, "Citra Lestari", "widget",
                                                        "loan", "4")]

    await page.click(f"#hits a[href='/admin/transcripts/{budi}']")
    await page.wait_for_function("() => !!document.querySelector('#messages li')")
    assert await page.locator("#messages li").count() == 3
    assert await page.locator("#messages li.internal .tag-internal").count() == 1
    await screenshot(page, "transcript")
    await page.context.close()


async def test_on_a_phone_a_bad_date_is_told(browser: Browser,
                                             staff_bridge: StaffBridge) -> None:
    """On a phone-sized page, a search with the last day before the first says so."""
    page = await sign_in_page(browser, staff_bridge, viewport={"width": 390, "height": 844})
    await page.goto(staff_bridge.url + "/admin/transcripts?from=2026-03-02&to=2026-03-01")
    await page.wait_for_function("() => !!document.querySelector('.error')")
    assert "the last day comes before the first" in (await page.text_content(".error") or "")
    width = await page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390 + 1  # nothing wider than the phone
    await page.context.close()

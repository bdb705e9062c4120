"""The report pages in real headless Chromium, signed in to the bridge's dashboard, over a
seeded year of conversations: the overview's charts drawn (heat-map cells adding up to
the conversations in range), a custom range, the reference statistics and their CSV
download checked row by row against the seeded marks, the librarians' table, a phone
layout with no sideways scrolling. Each page's screenshot goes to docs/screenshots/."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import time
from collections import Counter
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, Page

from tests.e2e.admin_fixtures import screenshot, sign_in_page
from tests.integration.admin_client import StaffBridge
from tests.seed import LIBRARIANS, Seeded, seed_year

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
pytest_plugins = ["tests.e2e.admin_fixtures"]  # staff_bridge, admin_page
PHONE: dict[str, Any] = {"viewport": {"width": 390, "height": 844}}


async def seeded(staff: StaffBridge) -> tuple[list[Seeded], ZoneInfo, dt.date]:
    tz = staff.bridge.config.library.timezone
    saved = await seed_year(staff.store, conversations=1500, seed=5, now=time.time(),
                            timezone=tz)
    zone = ZoneInfo(tz)
    return saved, zone, dt.datetime.now(zone).date()


def local_day(s: Seeded, zone: ZoneInfo) -> dt.date:
    return dt.datetime.fromtimestamp(s.conversation.created_at, zone).date()


def closed_day(s: Seeded, zone: ZoneInfo) -> dt.date:
    return dt.datetime.fromtimestamp(s.conversation.closed_at, zone).date()


async def go(page: Page, url: str, ready: str) -> None:
    await page.goto(url)
    await page.wait_for_function(f"() => !!document.querySelector({ready!r})")


async def test_overview_reference_librarians(browser: Browser, staff_bridge: StaffBridge) -> None:
    """A year's overview draws every chart and its heat map counts every conversation in
    the range; the reference CSV's READ columns are the seeded marks counted by month;
    each librarian is named from the desk's librarians table."""
    saved, zone, today = await seeded(staff_bridge)
    first = today - dt.timedelta(days=364)
    in_range = [s for s in saved if first <= local_day(s, zone) <= today]
    page = await sign_in_page(browser, staff_bridge)
    base = f"{staff_bridge.url}/admin"
    await go(page, f"{base}/?from={first}&to={today}", "#heat svg")
    assert await page.evaluate("() => document.querySelectorAll('#heat rect.cell').length") == 168
    cells = await page.evaluate(
        "() => [...document.querySelectorAll('#heat rect.cell')]"
        ".reduce((n, r) => n + Number(r.dataset.n), 0)")
    assert cells == len(in_range)
    shown = await page.text_content("#fig-conversations .figure")
    assert shown == str(len(in_range))
    for chart in ("#by-day", "#by-channel", "#first-line", "#ratings", "#tags", "#pages"):
        assert await page.evaluate(f"() => !!document.querySelector('{chart} svg title')")
    await screenshot(page, "overview")

    await go(page, f"{base}/reference?from={first}&to={today}", "#reference tfoot")
    await screenshot(page, "reference")
    async with page.expect_download() as download_info:
        await page.click("#csv")
    download = await download_info.value
    saved_csv = await download.path()
    text = await asyncio.to_thread(saved_csv.read_text, encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    closed = [(closed_day(s, zone), s.mark) for s in saved if s.mark is not None]
    expected: Counter[tuple[str, int]] = Counter(  # a mark counts on its close day
        (day.isoformat()[:7], mark.read_level) for day, mark in closed
        if first <= day <= today and mark.read_level is not None)
    head = rows[0]
    for row in rows[1:-1]:
        for level in range(1, 7):
            assert int(row[head.index(f"READ {level}")]) == expected[(row[0], level)]
    assert rows[-1][0] == "total"

    await go(page, f"{base}/librarians?from={first}&to={today}", "#librarians tbody tr")
    names = await page.evaluate(
        "() => [...document.querySelectorAll('#librarians tbody th')].map(t => t.textContent)")
    assert sorted(names) == sorted(name for _, name in LIBRARIANS)
    await screenshot(page, "librarians")
    await page.context.close()


async def test_phone_and_bad_range(browser: Browser, staff_bridge: StaffBridge) -> None:
    """On a phone the overview needs no sideways scrolling; the presets link; a range
    that ends before it starts is refused on the page, saying why."""
    await seeded(staff_bridge)
    page = await sign_in_page(browser, staff_bridge, **PHONE)
    base = f"{staff_bridge.url}/admin"
    await go(page, f"{base}/?range=year", "#heat svg")
    assert await page.evaluate(
        "() => document.documentElement.scrollWidth <= window.innerWidth")
    await page.click("nav[aria-label='Date range'] >> text=7 days")
    await page.wait_for_function("() => location.search === '?range=7d'")
    await screenshot(page, "overview-phone")
    await go(page, f"{base}/?from=2026-03-09&to=2026-03-01", "#range-error")
    assert await page.text_content("#range-error") == "the range ends before it starts"
    await page.context.close()

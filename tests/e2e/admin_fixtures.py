"""Fixtures for the dashboard's browser tests: the demo bridge with its Bot API emulator,
an admin and a librarian account, and a Chromium page signed in to ``/admin``.

    from tests.e2e.admin_fixtures import screenshot, sign_in_page

    pytest_plugins = ["tests.e2e.admin_fixtures"]  # staff_bridge, admin_page

``browser`` comes from tests/e2e/conftest.py. Pages are phone-sized on request
(``await sign_in_page(browser, bridge, viewport={"width": 390, "height": 844})``).
Screenshots for README go to ``docs/screenshots/admin-<page>.png`` (``screenshot``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio
from playwright.async_api import Browser, Page

from tests.integration.admin_client import (
    ADMIN,
    LIBRARIAN,
    PASSWORD,
    StaffBridge,
    running_staff_bridge,
)

__all__ = ["ADMIN", "LIBRARIAN", "PASSWORD", "SCREENSHOTS", "admin_page", "running_staff_bridge",
           "screenshot", "sign_in_page", "staff_bridge"]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest_asyncio.fixture(loop_scope="module")
async def staff_bridge(tmp_path: Path) -> AsyncIterator[StaffBridge]:
    """The demo bridge on a free port, with an admin and a librarian account."""
    async with running_staff_bridge(tmp_path) as staff:
        yield staff


async def sign_in_page(browser: Browser, staff: StaffBridge, name: str = ADMIN,
                       password: str = PASSWORD, **context: Any) -> Page:
    """A new browser context signed in as ``name``, on the Operations page."""
    page = await (await browser.new_context(**{"locale": "en-GB", **context})).new_page()
    await page.goto(staff.url + "/admin/login?next=%2Fadmin%2Foperations")
    await page.fill("input[name=name]", name)
    await page.fill("input[name=password]", password)
    await page.click("#login button[type=submit]")
    await page.wait_for_function("() => !location.pathname.endsWith('/login')")
    return page


@pytest_asyncio.fixture(loop_scope="module")
async def admin_page(browser: Browser, staff_bridge: StaffBridge) -> AsyncIterator[Page]:
    """A Chromium page signed in as the admin account."""
    page = await sign_in_page(browser, staff_bridge)
    yield page
    await page.context.close()


async def screenshot(page: Page, name: str) -> Path:
    """``docs/screenshots/admin-<name>.png``, the whole page."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"admin-{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path

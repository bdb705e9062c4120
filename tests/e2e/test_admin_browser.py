"""The dashboard in real headless Chromium: signing in (and a wrong password), the CSRF
refusal, logging out, the Operations page with a retry of a failed delivery, a patron's
export and erasure from the Privacy page, and the audit log. Each page's screenshot goes
to docs/screenshots/ for README."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page

from adapters.telegram.emulator import FaultPlan
from routing.model import Channel, Inbound
from tests.e2e.admin_fixtures import (
    ADMIN,
    PASSWORD,
    running_staff_bridge,
    screenshot,
    sign_in_page,
)
from tests.eventually import eventually
from tests.integration.admin_client import StaffBridge

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
pytest_plugins = ["tests.e2e.admin_fixtures"]  # staff_bridge, admin_page
PHONE = {"viewport": {"width": 390, "height": 844}}


async def text_of(page: Page, selector: str) -> str:
    return (await page.text_content(selector)) or ""


async def _conversation(staff: StaffBridge, visitor: str, text: str) -> str:
    accepted = await staff.bridge.parts.router.intake.accept(
        Inbound(Channel.WIDGET, visitor, text, name="Sari"))
    return accepted.conversation.id


async def test_wrong_password_then_sign_in(browser: Browser, staff_bridge: StaffBridge) -> None:
    """A wrong password is told so on the page; the right one opens the dashboard."""
    page = await (await browser.new_context(**PHONE)).new_page()
    await page.goto(staff_bridge.url + "/admin/operations")
    await page.wait_for_function("() => location.pathname === '/admin/login'")
    await screenshot(page, "login")
    await page.fill("input[name=name]", ADMIN)
    await page.fill("input[name=password]", "not the password")
    await page.click("#login button[type=submit]")
    await page.wait_for_function("() => !!document.querySelector('#login-error')")
    assert await text_of(page, "#login-error") == "Wrong name or password."
    await page.fill("input[name=password]", PASSWORD)
    await page.click("#login button[type=submit]")
    await page.wait_for_function("() => location.pathname === '/admin/operations'")
    assert ADMIN in await text_of(page, ".who")
    await page.context.close()


async def test_a_forged_form_is_refused_and_logout_ends_the_session(
        browser: Browser, staff_bridge: StaffBridge) -> None:
    """A form whose CSRF token was tampered with is refused; after logging out the
    dashboard asks for sign-in again."""
    page = await sign_in_page(browser, staff_bridge)
    conversation = await _conversation(staff_bridge, "visitor-forged", "Hello")
    await page.fill("#add-block input[name=conversation]", conversation)
    await page.evaluate("document.querySelector('#add-block input[name=csrf]').value = 'x'")
    await page.click("#add-block button[type=submit]")
    await page.wait_for_function("() => document.body.innerText.includes('security token')")
    assert await staff_bridge.bridge.parts.router.moderation.blocks() == []
    await page.goto(staff_bridge.url + "/admin/operations")
    await page.click("form.logout button[type=submit]")
    await page.wait_for_function("() => location.pathname === '/admin/login'")
    await page.goto(staff_bridge.url + "/admin/operations")
    await page.wait_for_function("() => location.pathname === '/admin/login'")
    await page.context.close()


async def test_retry_of_a_failed_delivery_from_operations(browser: Browser,
                                                          tmp_path: Path) -> None:
    """A desk delivery that failed (Telegram answering 500) is listed with its error;
    Retry sends it once Telegram is back, and the list empties."""
    async with running_staff_bridge(tmp_path, outbox={"max_attempts": 1}) as staff:
        staff.emulator.set_faults(FaultPlan(server_error=1.0))
        await _conversation(staff, "visitor-failed", "Is the library open today?")
        await eventually(staff.store.failed_deliveries)
        staff.emulator.clear_faults()
        page = await sign_in_page(browser, staff, **PHONE)
        assert await page.locator("#outbox tr.failed").count() >= 1
        await screenshot(page, "operations")
        while await page.locator("#outbox tr.failed").count():
            await page.locator("#outbox tr.failed button").first.click()
            await page.wait_for_function("() => !!document.querySelector('#notice')")
        assert await page.locator("#no-failed").count() == 1

        async def delivered() -> bool:
            counts = await staff.store.delivery_counts()
            return counts["failed"] == 0 and counts["pending"] == 0
        await eventually(delivered)
        group = staff.bridge.config.telegram.group_id
        assert any("Is the library open today?" in m.get("text", "")
                   for m in staff.emulator.messages(group))
        await page.context.close()


async def test_export_and_erase_a_patron_then_read_the_audit_log(
        browser: Browser, staff_bridge: StaffBridge) -> None:
    """The export downloads the patron's zip; the erasure deletes them and is listed;
    the audit log shows the sign-in, the export and the erasure."""
    conversation = await _conversation(staff_bridge, "visitor-privacy", "Renew my loans")
    page = await sign_in_page(browser, staff_bridge)
    await page.goto(staff_bridge.url + "/admin/privacy")
    await page.fill("#export input[name=who]", "visitor-privacy")
    async with page.expect_download() as download:
        await page.click("#export button[type=submit]")
    path = await (await download.value).path()
    raw = await asyncio.to_thread(Path(path).read_bytes)
    data = json.loads(zipfile.ZipFile(io.BytesIO(raw)).read("patron.json"))
    assert data["tables"]["messages"][0]["text"] == "Renew my loans"
    await page.fill("#erase input[name=who]", "visitor-privacy")
    await page.fill("#erase input[name=confirm]", "erase")
    await page.click("#erase button[type=submit]")
    await page.wait_for_function("() => !!document.querySelector('#erased')")
    assert "conversations 1" in await text_of(page, "#erased")
    assert await staff_bridge.store.get_conversation(conversation) is None
    assert await page.locator("#erasures tbody tr").count() == 1
    await screenshot(page, "privacy")
    await page.goto(staff_bridge.url + "/admin/audit")
    actions = await page.locator("#audit td.action").all_text_contents()
    assert actions[:3] == ["patron erased", "patron exported", "login"]
    await screenshot(page, "audit")
    await page.context.close()


async def test_a_librarian_sees_no_admin_links_and_is_refused_their_pages(
        browser: Browser, staff_bridge: StaffBridge) -> None:
    """Privacy and Audit are not in a librarian's menu, and answer 403 if typed."""
    from tests.e2e.admin_fixtures import LIBRARIAN
    page = await sign_in_page(browser, staff_bridge, LIBRARIAN)
    links = await page.locator("header nav a").all_text_contents()
    assert "Privacy" not in links and "Audit" not in links and "Operations" in links
    answer = await page.goto(staff_bridge.url + "/admin/privacy")
    assert answer is not None and answer.status == 403
    await page.context.close()

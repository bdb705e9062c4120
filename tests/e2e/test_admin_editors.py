"""The dashboard's editors in real headless Chromium: a question's kind and READ level
set on a transcript's page and counted by the reference report and its CSV (on a day
already rolled up too); a tampered form refused; an admin linking a staff account to a
desk librarian's Telegram user so the librarians report names the account; and a
librarian refused the accounts page. The accounts page's screenshot goes to
docs/screenshots/ for README."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from playwright.async_api import Browser, Page

from bridge.admin.report_math import LocalTime
from bridge.admin.report_rollup import roll_up, settled_until
from routing.model import Channel, Inbound
from routing.report_roles import ReferenceMark
from routing.staff_model import Librarian
from tests.e2e.admin_fixtures import ADMIN, LIBRARIAN, screenshot, sign_in_page
from tests.integration.admin_client import StaffBridge

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
pytest_plugins = ["tests.e2e.admin_fixtures"]  # staff_bridge, admin_page
DESK_ID, DESK_NAME = "9001", "Rina on Telegram"


async def _closed(staff: StaffBridge, visitor: str, mark: ReferenceMark | None = None) -> str:
    """A conversation the desk librarian 9001 answered and closed."""
    router = staff.bridge.parts.router
    accepted = await router.intake.accept(Inbound(Channel.WIDGET, visitor, "Hello", name="Sari"))
    await staff.store.save_librarian(Librarian(DESK_ID, DESK_NAME))
    await router.claims.close(accepted.conversation.id, DESK_ID, DESK_NAME, mark)
    return accepted.conversation.id


def _now(staff: StaffBridge) -> float:
    return float(staff.bridge.parts.clock.now())


async def _reference_csv(page: Page, url: str) -> list[list[str]]:
    answer = await page.request.get(url)
    assert answer.status == 200
    return list(csv.reader(io.StringIO(await answer.text())))


async def test_a_mark_edited_on_a_rolled_up_day_moves_the_reference_counts(
        browser: Browser, staff_bridge: StaffBridge) -> None:
    """A mark noted ten days ago and already rolled up is changed on the transcript's
    page; the reference report and its CSV count the new kind and level, not the old."""
    store, tz = staff_bridge.store, staff_bridge.bridge.config.library.timezone
    now = _now(staff_bridge)
    conversation = await _closed(staff_bridge, "visitor-marked")
    await store.save_reference(conversation, ReferenceMark("directional", 1), DESK_ID,
                               now - 10 * 86_400)
    await roll_up(store, settled_until(now, tz), timezone=tz, now=now)
    day = LocalTime(tz)(now - 10 * 86_400)[0]
    assert await store.rolled_until() > day  # the old day is read from the aggregates
    page = await sign_in_page(browser, staff_bridge, LIBRARIAN)
    await page.goto(f"{staff_bridge.url}/admin/transcripts/{conversation}")
    assert "directional" in await page.text_content("#reference-mark") or ""
    await page.select_option("#reference-mark select[name=kind]", "research")
    await page.select_option("#reference-mark select[name=level]", "5")
    await page.click("#reference-mark button[type=submit]")
    await page.wait_for_function("() => !!document.querySelector('.notice')")
    assert await page.input_value("#reference-mark select[name=kind]") == "research"
    span = f"from={day}&to={dt.date.fromisoformat(LocalTime(tz)(now)[0])}"
    rows = await _reference_csv(page, f"{staff_bridge.url}/admin/reference.csv?{span}")
    head, total = rows[0], rows[-1]
    assert total[head.index("research")] == "1" and total[head.index("READ 5")] == "1"
    assert total[head.index("directional")] == "0" and total[head.index("READ 1")] == "0"
    await page.goto(f"{staff_bridge.url}/admin/reference?{span}")
    assert "research" in (await page.text_content("main") or "")
    assert await store.rolled_reference(day, day) == [(day[:7], DESK_ID, "research", 5, 1)]
    entry = next(e for e in await store.audit_entries(limit=5)
                 if e.action == "reference mark edited")
    assert entry.account == LIBRARIAN
    assert entry.detail.endswith("directional READ 1 -> research READ 5")
    await page.context.close()


async def test_a_tampered_form_changes_no_mark(browser: Browser,
                                              staff_bridge: StaffBridge) -> None:
    """The kind/READ form with a forged CSRF token is refused and the mark stays."""
    conversation = await _closed(staff_bridge, "visitor-forged",
                                 ReferenceMark("technical", 2))
    page = await sign_in_page(browser, staff_bridge)
    await page.goto(f"{staff_bridge.url}/admin/transcripts/{conversation}")
    await page.select_option("#reference-mark select[name=kind]", "research")
    await page.evaluate(
        "document.querySelector('#reference-mark input[name=csrf]').value = 'forged'")
    await page.click("#reference-mark button[type=submit]")
    await page.wait_for_function("() => document.body.innerText.includes('security token')")
    assert await staff_bridge.store.reference_of(conversation) == ReferenceMark("technical", 2)
    await page.context.close()


async def test_an_admin_links_an_account_and_the_librarians_report_names_it(
        browser: Browser, staff_bridge: StaffBridge) -> None:
    """The desk librarian is offered for linking; once the librarian account is linked
    to that Telegram user, the librarians report names the account."""
    await _closed(staff_bridge, "visitor-served")
    page = await sign_in_page(browser, staff_bridge)
    await page.goto(staff_bridge.url + "/admin/librarians")
    assert DESK_NAME in (await page.text_content("main") or "")
    await page.goto(staff_bridge.url + "/admin/accounts")
    row = page.locator(f"#accounts tr[data-account='{LIBRARIAN}']")
    await row.locator("summary").click()
    await row.locator("select[name=seen]").select_option(DESK_ID)
    await row.locator("form.link button[type=submit]").first.click()
    await page.wait_for_function("() => !!document.querySelector('#accounts-notice')")
    assert DESK_ID in (await row.locator("td.telegram").text_content() or "")
    await row.locator("summary").click()  # the screenshot shows what can be changed
    await screenshot(page, "accounts")
    linked = [a.telegram_id for a in await staff_bridge.store.accounts() if a.name == LIBRARIAN]
    assert linked == [int(DESK_ID)]
    await page.goto(staff_bridge.url + "/admin/librarians")
    text = await page.text_content("main") or ""
    assert LIBRARIAN in text and DESK_NAME not in text
    await page.goto(staff_bridge.url + "/admin/audit")
    assert "account linked" in await page.locator("#audit td.action").all_text_contents()
    await page.context.close()


async def test_an_admin_adds_an_account_and_a_second_link_is_refused(
        browser: Browser, staff_bridge: StaffBridge) -> None:
    """A new account can sign in; one Telegram user cannot name two accounts."""
    page = await sign_in_page(browser, staff_bridge)
    await page.goto(staff_bridge.url + "/admin/accounts")
    await page.fill("#add-account input[name=name]", "Budi")
    await page.fill("#add-account input[name=password]", "a long enough password")
    await page.fill("#add-account input[name=telegram_id]", "555")
    await page.click("#add-account button[type=submit]")
    await page.wait_for_function("() => !!document.querySelector('#accounts-notice')")
    row = page.locator(f"#accounts tr[data-account='{LIBRARIAN}']")
    await row.locator("summary").click()
    await row.locator("form.link input[name=telegram_id]").fill("555")
    await row.locator("form.link button[type=submit]").first.click()
    await page.wait_for_function("() => !!document.querySelector('#accounts-error')")
    assert "linked to 'Budi' already" in (await page.text_content("#accounts-error") or "")
    budi = await sign_in_page(browser, staff_bridge, "Budi", "a long enough password")
    assert "Budi (librarian)" in (await budi.text_content(".who") or "")
    await budi.context.close()
    await page.context.close()


async def test_an_admin_sets_a_password_and_disables_an_account(
        browser: Browser, staff_bridge: StaffBridge) -> None:
    """The new password signs in; disabling signs that browser out at once; an admin's
    own account offers no Disable, and a forged one is refused."""
    page = await sign_in_page(browser, staff_bridge)
    await page.goto(staff_bridge.url + "/admin/accounts")
    row = page.locator(f"#accounts tr[data-account='{LIBRARIAN}']")
    await row.locator("summary").click()
    await row.locator("form.password input[name=password]").fill("a brand new password")
    await row.locator("form.password input[name=again]").fill("a brand new password")
    await row.locator("form.password button[type=submit]").click()
    await page.wait_for_function("() => !!document.querySelector('#accounts-notice')")
    rina = await sign_in_page(browser, staff_bridge, LIBRARIAN, "a brand new password")
    await row.locator("summary").click()
    await row.locator("form.disable button[type=submit]").click()
    await page.wait_for_function("() => !!document.querySelector('#accounts-notice')")
    assert await row.locator("td.status").text_content() == "disabled"
    await rina.reload()
    await rina.wait_for_function("() => location.pathname === '/admin/login'")
    mine = page.locator(f"#accounts tr[data-account='{ADMIN}']")
    assert await mine.locator("form.disable").count() == 0
    token = await page.input_value("form.logout input[name=csrf]")
    answer = await page.request.post(staff_bridge.url + "/admin/accounts/disable",
                                     form={"csrf": token, "name": ADMIN})
    assert answer.status == 400 and "own account" in await answer.text()
    await rina.context.close()
    await page.context.close()


async def test_a_librarian_is_refused_the_accounts_page_and_its_forms(
        browser: Browser, staff_bridge: StaffBridge) -> None:
    """No Accounts link for a librarian; the page and its forms answer 403 even with
    the session's own CSRF token."""
    page = await sign_in_page(browser, staff_bridge, LIBRARIAN)
    assert "Accounts" not in await page.locator("header nav a").all_text_contents()
    answer = await page.goto(staff_bridge.url + "/admin/accounts")
    assert answer is not None and answer.status == 403
    await page.goto(staff_bridge.url + "/admin/operations")
    token = await page.input_value("form.logout input[name=csrf]")
    posted = await page.request.post(staff_bridge.url + "/admin/accounts/link", form={
        "csrf": token, "name": LIBRARIAN, "telegram_id": "4242"})
    assert posted.status == 403
    assert [a.telegram_id for a in await staff_bridge.store.accounts()] == [None, None]
    await page.context.close()

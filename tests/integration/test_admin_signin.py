"""Signing in to the dashboard over HTTP: sessions, CSRF, roles, logout and disabling."""

from __future__ import annotations

from pathlib import Path

from tests.integration.admin_client import (
    ADMIN,
    PASSWORD,
    AdminClient,
    StaffBridge,
    running_staff_bridge,
    sign_in,
)

MEMBERS = Path(__file__).resolve().parents[1] / "data" / "members.csv"
pytest_plugins = ["tests.integration.admin_client"]  # admin_bridge, admin_client, …


async def test_a_page_without_a_session_sends_the_browser_to_sign_in(
        admin_bridge: StaffBridge) -> None:
    """An anonymous request for a dashboard page is redirected to the sign-in page."""
    client = AdminClient(__import__("aiohttp").ClientSession(), admin_bridge.url, "")
    try:
        status, _ = await client.get("/admin/operations")
        assert status == 303
    finally:
        await client.http.close()


async def test_a_post_without_the_csrf_token_is_refused(admin_client: AdminClient) -> None:
    """A form sent without the session's token (or with a wrong one) changes nothing."""
    assert (await admin_client.post("/admin/operations/lift", {"block": "x"},
                                    csrf=None))[0] == 403
    assert (await admin_client.post("/admin/operations/lift", {"block": "x"},
                                    csrf="forged"))[0] == 403
    assert (await admin_client.post("/admin/operations/lift", {"block": "x"}))[0] == 400


async def test_session_cookie_is_httponly_and_strict(admin_bridge: StaffBridge) -> None:
    """The session cookie cannot be read by scripts nor sent by other sites."""
    client = await sign_in(admin_bridge.url, ADMIN, PASSWORD)
    try:
        cookie = next(c for c in client.http.cookie_jar if c.key == "pustaka_staff")
        assert cookie["httponly"] and cookie["samesite"] == "Strict"
        assert cookie["path"] == "/admin"
    finally:
        await client.http.close()


async def test_logout_ends_the_session(admin_client: AdminClient) -> None:
    """After logging out, the old cookie opens nothing."""
    status, _, location = await admin_client.post("/admin/logout")
    assert (status, location) == (303, "/admin/login")
    cookies = admin_client.http.cookie_jar
    assert not [c for c in cookies if c.key == "pustaka_staff"]


async def test_disabling_an_account_ends_its_sessions(admin_bridge: StaffBridge,
                                                      admin_client: AdminClient) -> None:
    """`disable` signs the account out of every browser at once."""
    from bridge.admin.staff import disable_staff
    assert (await admin_client.get("/admin/operations"))[0] == 200
    await disable_staff(admin_bridge.store, ADMIN)
    assert (await admin_client.get("/admin/operations"))[0] == 303


async def test_a_librarian_is_refused_the_admin_pages(librarian_client: AdminClient) -> None:
    """The audit log and the privacy page answer 403 to a librarian account."""
    assert (await librarian_client.get("/admin/operations"))[0] == 200
    assert (await librarian_client.get("/admin/audit"))[0] == 403
    assert (await librarian_client.get("/admin/privacy"))[0] == 403


async def test_wrong_passwords_lock_the_account_with_a_clear_wait(
        admin_bridge: StaffBridge) -> None:
    """Five wrong passwords: the sixth try, even the right one, is told to wait minutes,
    and every failure is in the audit log."""
    import re

    import aiohttp
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async def attempt(password: str) -> tuple[int, str]:
            async with http.get(admin_bridge.url + "/admin/login") as page:
                token = re.search(r'name="csrf" value="([^"]+)"', await page.text())
            assert token
            async with http.post(admin_bridge.url + "/admin/login", allow_redirects=False,
                                 data={"name": ADMIN, "password": password,
                                       "csrf": token.group(1)}) as answer:
                return answer.status, await answer.text()
        for _ in range(5):
            status, html = await attempt("not the password")
            assert status == 401 and "Wrong name or password." in html
        status, html = await attempt(PASSWORD)
        assert status == 429 and "Try again in 15 minutes." in html
    actions = [e.action for e in await admin_bridge.store.audit_entries()]
    assert actions.count("login failed") == 5 and actions[0] == "login refused"


async def test_the_sign_in_form_needs_its_own_token(admin_bridge: StaffBridge) -> None:
    """A sign-in posted from elsewhere (no form token) is refused before any check."""
    import aiohttp
    async with aiohttp.ClientSession() as http, http.post(
            admin_bridge.url + "/admin/login", allow_redirects=False,
            data={"name": ADMIN, "password": PASSWORD}) as answer:
        assert answer.status == 403


async def test_behind_https_the_session_cookie_is_secure(tmp_path: Path) -> None:
    """With an https public address, the session cookie is sent over TLS only."""
    import re

    import aiohttp
    async with running_staff_bridge(tmp_path, server={
            "public_url": "https://library.example"}) as staff, aiohttp.ClientSession(
            cookie_jar=aiohttp.DummyCookieJar()) as http:
        port = staff.bridge._runner.addresses[0][1]  # the public https address is a proxy's
        base = f"http://127.0.0.1:{port}"
        async with http.get(base + "/admin/login") as page:
            token = re.search(r'name="csrf" value="([^"]+)"', await page.text())
            login_cookie = page.headers["Set-Cookie"]
        assert token and "Secure" in login_cookie
        async with http.post(base + "/admin/login", allow_redirects=False, headers={
                "Cookie": login_cookie.split(";")[0]}, data={
                "name": ADMIN, "password": PASSWORD, "csrf": token.group(1)}) as answer:
            session = [v for v in answer.headers.getall("Set-Cookie")
                       if v.startswith("pustaka_staff=")]
        assert answer.status == 303 and session
        assert all(flag in session[0] for flag in ("Secure", "HttpOnly", "SameSite=Strict"))


async def test_dashboard_pages_carry_the_page_policy_and_are_not_cached(
        admin_bridge: StaffBridge) -> None:
    """The sign-in page (and every page) gets the strict CSP, no framing, and no-store."""
    import aiohttp
    async with aiohttp.ClientSession() as http, http.get(
            admin_bridge.url + "/admin/login") as page:
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
        assert page.headers["X-Frame-Options"] == "DENY"
        assert page.headers["Cache-Control"] == "no-store"


async def test_operations_checks_the_member_directory_on_request(tmp_path: Path) -> None:
    """"Check now" asks the directory and shows when and what it answered; a directory
    that cannot be reached is named unavailable with the reason."""
    members = MEMBERS
    for directory, expected in (({"kind": "csv", "path": str(members)}, "answered"),
                                ({"kind": "http", "url": "http://127.0.0.1:9/members",
                                  "timeout": 1.0}, "unavailable: ")):
        async with running_staff_bridge(tmp_path / directory["kind"],
                                        directory=directory) as staff:
            client = await sign_in(staff.url, ADMIN, PASSWORD)
            try:
                _, before = await client.get("/admin/operations")
                assert "Last check: none since the bridge started." in before
                status, _, _ = await client.post("/admin/operations/directory-check")
                assert status == 303
                _, after = await client.get("/admin/operations")
                assert expected in after.split('id="directory-check"')[1].split("</p>")[0]
            finally:
                await client.http.close()

"""A running bridge (with its Bot API emulator) and a signed-in dashboard client, for the
dashboard's integration tests.

    from tests.integration.admin_client import AdminClient, StaffBridge

    pytest_plugins = ["tests.integration.admin_client"]  # admin_bridge, admin_client, …

    async def test_x(admin_client: AdminClient) -> None:
        status, html = await admin_client.get("/admin/operations")
        response = await admin_client.post("/admin/operations/retry", {"delivery": "d1"})

``post`` sends the session's CSRF token with the form (``csrf``); ``post(..., csrf=None)``
leaves it out, ``csrf="wrong"`` sends a wrong one.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest_asyncio

from adapters.telegram.emulator import BotApiEmulator
from bridge.admin.staff import add_staff
from bridge.app import Bridge
from bridge.demo import demo_bridge

__all__ = ["ADMIN", "LIBRARIAN", "PASSWORD", "AdminClient", "StaffBridge", "admin_bridge",
           "admin_client", "librarian_client", "running_staff_bridge", "sign_in"]

ADMIN, LIBRARIAN, PASSWORD = "Dewi Admin", "Rina Kusuma", "correct horse battery"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class StaffBridge:
    """The bridge, its emulator, and the two seeded accounts (admin and librarian)."""

    bridge: Bridge
    emulator: BotApiEmulator

    @property
    def url(self) -> str:
        return self.bridge.url

    @property
    def store(self) -> Any:
        return self.bridge.store


@dataclass
class AdminClient:
    """An aiohttp session signed in to the dashboard, and the session's CSRF token."""

    http: aiohttp.ClientSession
    base: str
    csrf: str

    async def get(self, path: str, **params: str) -> tuple[int, str]:
        async with self.http.get(self.base + path, params=params,
                                 allow_redirects=False) as response:
            return response.status, await response.text()

    async def get_bytes(self, path: str, **params: str) -> tuple[int, dict[str, str], bytes]:
        async with self.http.get(self.base + path, params=params) as response:
            return response.status, dict(response.headers), await response.read()

    async def post(self, path: str, data: dict[str, str] | None = None, *,
                   csrf: str | bool | None = True) -> tuple[int, str, str]:
        """(status, body, Location) of a form POST; redirects are not followed."""
        form = dict(data or {})
        if csrf is True:
            form["csrf"] = self.csrf
        elif isinstance(csrf, str):
            form["csrf"] = csrf
        async with self.http.post(self.base + path, data=form,
                                  allow_redirects=False) as response:
            return response.status, await response.text(), response.headers.get("Location", "")


async def sign_in(base: str, name: str, password: str) -> AdminClient:
    """A new client session signed in as ``name`` (AssertionError when refused)."""
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with http.get(base + "/admin/login") as page:
        token = _CSRF.search(await page.text())
    assert token, "the sign-in page has no CSRF field"
    async with http.post(base + "/admin/login", allow_redirects=False, data={
            "name": name, "password": password, "csrf": token.group(1)}) as answer:
        assert answer.status == 303, (answer.status, await answer.text())
    async with http.get(base + "/admin/operations") as page:
        html = await page.text()
    found = _CSRF.search(html)
    assert found, "a signed-in page carries the session's CSRF token"
    return AdminClient(http, base, found.group(1))


@contextlib.asynccontextmanager
async def running_staff_bridge(data_dir: Path, **overrides: dict[str, Any]
                               ) -> AsyncIterator[StaffBridge]:
    """The demo bridge on a free port, with an admin and a librarian account; config
    sections in ``overrides`` (``outbox={"max_attempts": 1}``)."""
    bridge, emulator, _ = await demo_bridge("127.0.0.1", 0, data_dir, rate_limits=False,
                                            desk_port=0, overrides=overrides)
    try:
        await add_staff(bridge.store, ADMIN, "admin", PASSWORD)
        await add_staff(bridge.store, LIBRARIAN, "librarian", PASSWORD)
        yield StaffBridge(bridge, emulator)
    finally:
        await bridge.stop()
        await emulator.stop()


@pytest_asyncio.fixture
async def admin_bridge(tmp_path: Path) -> AsyncIterator[StaffBridge]:
    """The demo bridge on a free port with an admin and a librarian account."""
    async with running_staff_bridge(tmp_path) as staff:
        yield staff


@pytest_asyncio.fixture
async def admin_client(admin_bridge: StaffBridge) -> AsyncIterator[AdminClient]:
    client = await sign_in(admin_bridge.url, ADMIN, PASSWORD)
    yield client
    await client.http.close()


@pytest_asyncio.fixture
async def librarian_client(admin_bridge: StaffBridge) -> AsyncIterator[AdminClient]:
    client = await sign_in(admin_bridge.url, LIBRARIAN, PASSWORD)
    yield client
    await client.http.close()

"""One Telegram user names one staff account (``bridge.admin.staff``), also when two
adds or links with the same Telegram user run at once (a double submit, two admins)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bridge.admin.staff import add_staff, link_staff
from bridge.store.sqlite import SqliteStore

PASSWORD = "correct horse battery"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "pustaka.db")
    await opened.open()
    yield opened
    await opened.close()


async def test_two_adds_at_once_link_the_telegram_user_once(store: SqliteStore) -> None:
    results = await asyncio.gather(
        add_staff(store, "Sari", "librarian", PASSWORD, telegram_id=777),
        add_staff(store, "Budi", "librarian", PASSWORD, telegram_id=777),
        return_exceptions=True)
    refused = [r for r in results if isinstance(r, ValueError)]
    assert len(refused) == 1 and "linked to" in str(refused[0])
    assert [a.telegram_id for a in await store.accounts()] == [777]


async def test_two_links_at_once_link_the_telegram_user_once(store: SqliteStore) -> None:
    for name in ("Sari", "Budi"):
        await add_staff(store, name, "librarian", PASSWORD)
    results = await asyncio.gather(link_staff(store, "Sari", 555),
                                   link_staff(store, "Budi", 555), return_exceptions=True)
    assert sum(isinstance(r, ValueError) for r in results) == 1
    assert sorted(a.telegram_id or 0 for a in await store.accounts()) == [0, 555]

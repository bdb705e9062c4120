"""The accounts role of the SQLite store (``routing.staff_roles``): accounts, sessions and
their end, the audit log, erasure records and the outbox repair."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bridge.store.sqlite import SqliteStore
from routing.staff_roles import AuditEntry


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = SqliteStore(tmp_path / "pustaka.db")
    await store.open()
    yield store
    await store.close()


class TestAccounts:
    async def test_an_account_is_found_by_name_case_blind_with_its_hash(
            self, store: SqliteStore) -> None:
        """Names are unique whatever their case; the hash comes back only by name."""
        added = await store.add_account("Dewi", "admin", "$argon2id$x", 42, 1.0)
        found = await store.account_by_name("dewi")
        assert found == (added, "$argon2id$x") and added.telegram_id == 42
        with pytest.raises(ValueError, match="exists already"):
            await store.add_account("DEWI", "librarian", "h", None, 2.0)

    async def test_a_telegram_user_is_linked_and_unlinked(self, store: SqliteStore) -> None:
        """The link is kept on the account, and a session's account carries it too."""
        account = await store.add_account("Sekar", "librarian", "h", None, 0.0)
        await store.open_session("k", account.id, "t", 0.0, 100.0)
        await store.link_telegram(account.id, 7001)
        live = await store.session("k", 1.0)
        assert live is not None and live.account.telegram_id == 7001
        await store.link_telegram(account.id, None)
        assert [a.telegram_id for a in await store.accounts()] == [None]

    async def test_a_session_lives_until_its_end_logout_or_disable(
            self, store: SqliteStore) -> None:
        """Expired, ended and disabled-account sessions open nothing."""
        account = await store.add_account("Rina", "librarian", "h", None, 0.0)
        await store.open_session("s1", account.id, "t1", 0.0, 100.0)
        await store.open_session("s2", account.id, "t2", 0.0, 100.0)
        await store.open_session("s3", account.id, "t3", 0.0, 100.0)
        live = await store.session("s1", 50.0)
        assert live is not None and live.csrf == "t1" and live.account.name == "Rina"
        assert await store.session("s1", 100.0) is None  # expired
        await store.end_session("s2")
        assert await store.session("s2", 1.0) is None
        await store.disable_account(account.id)
        assert await store.session("s3", 1.0) is None

    async def test_the_audit_log_pages_newest_first(self, store: SqliteStore) -> None:
        for at in range(5):
            await store.record_audit(AuditEntry(float(at), "Dewi", "127.0.0.1", "login", ""))
        first = await store.audit_entries(limit=2)
        assert [e.at for e in first] == [4.0, 3.0]
        assert [e.at for e in await store.audit_entries(limit=2, before=3.0)] == [2.0, 1.0]

    async def test_an_erasure_record_keeps_counts_only(self, store: SqliteStore) -> None:
        await store.record_erasure(9.0, "Dewi", {"messages": 3})
        assert await store.erasures() == [(9.0, "Dewi", {"messages": 3})]

    async def test_only_a_failed_delivery_can_be_requeued(self, store: SqliteStore) -> None:
        """An unknown id is refused, not silently accepted."""
        assert not await store.requeue_delivery("no-such-delivery", 1.0)
        assert await store.failed_deliveries() == []

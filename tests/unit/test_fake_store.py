"""FakeStore: every store contract suite, run over the in-memory fake the unit tests
trust, so what they prove of the core holds over a real store too."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.store.sqlite import SqliteStore
from routing.ports import Store
from tests.integration.store_contract_contacts import ContactStatesContract
from tests.integration.store_contract_desk import DeskStateContract
from tests.integration.store_contract_directory import BlocksContract, DirectoryContract
from tests.integration.store_contract_first import FirstMessageContract
from tests.integration.store_contract_links import CursorsContract, LinksContract
from tests.integration.store_contract_log import ConversationLogContract, ReportsContract
from tests.integration.store_contract_outbox import OutboxContract
from tests.unit.fake_store import FakeStore


class FakeFixture:
    @pytest.fixture
    async def store(self) -> FakeStore:
        store = FakeStore()
        await store.open()
        return store


class TestFakeDirectory(FakeFixture, DirectoryContract):
    pass


class TestFakeBlocks(FakeFixture, BlocksContract):
    pass


class TestFakeConversationLog(FakeFixture, ConversationLogContract):
    pass


class TestFakeFirstMessage(FakeFixture, FirstMessageContract):
    pass


class TestFakeReports(FakeFixture, ReportsContract):
    pass


class TestFakeOutbox(FakeFixture, OutboxContract):
    pass


class TestFakeLinks(FakeFixture, LinksContract):
    pass


class TestFakeDeskState(FakeFixture, DeskStateContract):
    pass


class TestFakeContactStates(FakeFixture, ContactStatesContract):
    pass


class TestFakeCursors(FakeFixture, CursorsContract):
    pass


def test_the_fake_and_sqlite_are_every_role() -> None:
    """FakeStore and SqliteStore are each a ``Store``: every role's methods, with the
    port's signatures (mypy --strict checks these assignments)."""
    fake: Store = FakeStore()
    sqlite: Store = SqliteStore(Path("unused.db"))  # never opened: no file is made
    assert fake is not None and sqlite is not None

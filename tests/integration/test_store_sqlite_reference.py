"""SqliteStore: the reference marks' contract."""

from __future__ import annotations

from tests.integration.store_contract_reference import ReferenceMarksContract
from tests.integration.test_store_sqlite import SqliteFixture, sqlite_store

__all__ = ["sqlite_store"]  # the fixture, imported for pytest


class TestSqliteReferenceMarks(SqliteFixture, ReferenceMarksContract):
    pass

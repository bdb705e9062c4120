"""FakeStore: the reference marks' contract, as SQLite runs it."""

from __future__ import annotations

from tests.integration.store_contract_reference import ReferenceMarksContract
from tests.unit.test_fake_store import FakeFixture


class TestFakeReferenceMarks(FakeFixture, ReferenceMarksContract):
    pass

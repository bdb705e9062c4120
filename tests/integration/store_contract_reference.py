"""The store's contract for reference marks (``routing.report_roles.ReferenceMarks``):
the kind and READ level noted at ``/close``, one per conversation, the last note kept,
and only for a conversation the store holds.

Implementation-agnostic: only the role's methods, over any store given as the ``store``
fixture (SQLite in tests/integration, the in-memory fake in tests/unit).
"""

from __future__ import annotations

import pytest

from routing.ports import Store
from routing.report_roles import ReferenceMark
from tests.integration.store_contract import conversation_for, patron

__all__ = ["ReferenceMarksContract"]


class ReferenceMarksContract:
    """Subclass it with a ``store`` fixture that yields an opened, empty store."""

    async def test_the_last_mark_is_kept(self, store: Store) -> None:
        """reference_of is None until noted, then the last mark, per conversation; a mark
        with no level keeps None."""
        ana = await patron(store)
        one, two = await conversation_for(store, ana), await conversation_for(store, ana)
        assert await store.reference_of(one.id) is None
        await store.save_reference(one.id, ReferenceMark("reference", 3), "1001", 10.0)
        await store.save_reference(two.id, ReferenceMark("research"), "1002", 11.0)
        await store.save_reference(one.id, ReferenceMark("directional", 1), "1001", 12.0)
        assert await store.reference_of(one.id) == ReferenceMark("directional", 1)
        assert await store.reference_of(two.id) == ReferenceMark("research", None)

    async def test_a_mark_needs_its_conversation(self, store: Store) -> None:
        """A mark for a conversation the store does not hold is refused."""
        with pytest.raises(Exception):  # noqa: B017 - each store raises its own kind
            await store.save_reference("no-such-conversation", ReferenceMark("reference", 2),
                                       "1001", 1.0)

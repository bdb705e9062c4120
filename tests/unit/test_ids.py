"""new_id: the sortable ids that history paging and outbox order rely on."""

from __future__ import annotations

from routing.model import new_id


class TestNewId:
    def test_ids_sort_in_creation_order(self) -> None:
        """Ids made one after another sort in the order they were made, even within a ms."""
        made = [new_id() for _ in range(10_000)]
        assert sorted(made) == made
        assert len(set(made)) == len(made)

    def test_ids_are_twenty_lowercase_hex_characters(self) -> None:
        """Every id has one fixed width, so string order is time order."""
        made = new_id()
        assert len(made) == 20
        assert set(made) <= set("0123456789abcdef")

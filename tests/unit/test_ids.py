"""new_id: the sortable ids that history paging and outbox order rely on."""

from __future__ import annotations

import time

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

    def test_an_id_is_the_millisecond_then_the_counter_within_it(self) -> None:
        """The first 12 characters are the ms timestamp; the next 4 count ids within it."""
        before = int(time.time() * 1000)
        made = [new_id() for _ in range(3)]
        stamps = [int(m[:12], 16) for m in made]
        assert before <= stamps[0] <= int(time.time() * 1000) + 1
        same = [int(m[12:16], 16) for m, s in zip(made, stamps, strict=True) if s == stamps[0]]
        assert same == list(range(same[0], same[0] + len(same)))

"""The store's contract for patrons and librarians, and blocks.

Implementation-agnostic: only the roles' methods, over any store given as the ``store``
fixture (SQLite in tests/integration, the in-memory fake in tests/unit).
"""

from __future__ import annotations

from dataclasses import replace

from routing.model import (
    Block,
    BlockKind,
    Channel,
    Contact,
    Librarian,
    Patron,
    new_id,
)
from routing.ports import Store
from tests.integration.store_contract import (
    NOW,
    patron,
)


class DirectoryContract:
    """Patrons and librarians (``routing.ports.Directory``). Subclass it with a ``store`` fixture
    that yields an opened, empty store."""

    async def test_patron_round_trips_with_its_contacts_in_order(self, store: Store) -> None:
        """A saved patron reads back equal, contacts in the order they were given."""
        saved = Patron(new_id(), name="Ana", email="ana@example.org", member_number="M-17",
                       contacts=(Contact(Channel.WIDGET, "v-1"),
                                 Contact(Channel.EMAIL, "ana@example.org"),
                                 Contact(Channel.TELEGRAM, "4242")),
                       created_at=NOW)
        await store.save_patron(saved)
        assert await store.get_patron(saved.id) == saved

    async def test_patron_is_found_by_each_of_its_contacts(self, store: Store) -> None:
        """patron_by_contact finds the patron through any contact, and nobody for a stranger."""
        ana = await patron(store, "v-1", "v-2")
        assert await store.patron_by_contact(Contact(Channel.WIDGET, "v-2")) == ana
        assert await store.patron_by_contact(Contact(Channel.WIDGET, "v-1")) == ana
        assert await store.patron_by_contact(Contact(Channel.EMAIL, "v-1")) is None
        assert await store.get_patron("nobody") is None

    async def test_contact_removed_from_patron_no_longer_finds_them(self, store: Store) -> None:
        """Saving a patron without a contact frees that contact."""
        ana = await patron(store, "v-1", "v-2")
        assert await store.patron_by_contact(Contact(Channel.WIDGET, "v-1")) == ana
        await store.save_patron(replace(ana, contacts=(Contact(Channel.WIDGET, "v-2"),)))
        assert await store.patron_by_contact(Contact(Channel.WIDGET, "v-1")) is None

    async def test_a_stranger_found_later_is_not_remembered_as_unknown(self, store: Store) -> None:
        """A contact looked up before its patron existed is found once the patron is saved."""
        assert await store.patron_by_contact(Contact(Channel.WIDGET, "v-9")) is None
        ana = await patron(store, "v-9")
        assert await store.patron_by_contact(Contact(Channel.WIDGET, "v-9")) == ana

    async def test_saving_a_patron_again_updates_it(self, store: Store) -> None:
        """The second save of a patron replaces the first, their language included."""
        ana = await patron(store, "v-1")
        named = replace(ana, name="Ana Lestari", email="ana@example.org", language="id")
        await store.save_patron(named)
        assert await store.get_patron(ana.id) == named
        assert await store.patron_by_contact(Contact(Channel.WIDGET, "v-1")) == named

    async def test_librarians(self, store: Store) -> None:
        """Librarians are found by id and username (any case, with or without @); the
        on-duty list holds those on duty, longest-serving first."""
        ana = Librarian("1", "Ana", "ana_l", True, NOW + 5)
        budi = Librarian("2", "Budi", "", True, NOW)
        await store.save_librarian(ana)
        await store.save_librarian(budi)
        await store.save_librarian(Librarian("3", "Citra", "citra", False, NOW))
        assert await store.get_librarian("1") == ana
        assert await store.librarian_by_username("@Ana_L") == ana
        assert await store.librarian_by_username("") is None
        assert [lib.id for lib in await store.librarians_on_duty()] == ["2", "1"]
        await store.save_librarian(replace(ana, on_duty=False, changed_at=NOW + 9))
        assert [lib.id for lib in await store.librarians_on_duty()] == ["2"]


class BlocksContract:
    """Who may not write (``routing.ports.Blocks``). Subclass it with a ``store`` fixture
    that yields an opened, empty store."""

    async def test_blocks_match_exactly_until_they_expire(self, store: Store) -> None:
        """find_block matches any given (kind, value) while the block is in force."""
        hour = Block(new_id(), BlockKind.IP, "203.0.113.0/24", NOW + 3600, "Ana", "", NOW)
        ever = Block(new_id(), BlockKind.EMAIL, "eve@example.org", None, "Ana", "", NOW + 1)
        await store.save_block(hour)
        await store.save_block(ever)
        keys = [(BlockKind.VISITOR, "v"), (BlockKind.IP, "203.0.113.0/24")]
        assert await store.find_block(keys, NOW) == hour
        assert await store.find_block(keys, NOW + 3600) is None
        assert await store.find_block([(BlockKind.IP, "203.0.114.0/24")], NOW) is None
        assert await store.find_block([(BlockKind.EMAIL, "eve@example.org")], NOW * 2) == ever
        assert await store.active_blocks(NOW) == [hour, ever]
        assert await store.active_blocks(NOW + 3600) == [ever]

    async def test_removed_block_no_longer_matches(self, store: Store) -> None:
        """remove_block lifts a block; removing an unknown id is not an error."""
        block = Block(new_id(), BlockKind.TELEGRAM, "777", None, "Ana", "", NOW)
        await store.save_block(block)
        await store.remove_block(block.id)
        await store.remove_block("unknown")
        assert await store.find_block([(BlockKind.TELEGRAM, "777")], NOW) is None
        assert await store.active_blocks(NOW) == []

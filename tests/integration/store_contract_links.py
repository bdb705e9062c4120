"""The store's contract for links to ids of other worlds, and cursors.

Implementation-agnostic: only the roles' methods, over any store given as the ``store``
fixture (SQLite in tests/integration, the in-memory fake in tests/unit).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from routing.ports import Link, Store
from tests.integration.store_contract import (
    conversation_for,
    patron,
)


class LinksContract:
    """Ids of other worlds (``routing.ports.Links``). Subclass it with a ``store`` fixture
    that yields an opened, empty store."""

    async def test_links_are_found_by_channel_and_external_id(self, store: Store) -> None:
        """find_link returns what save_link stored, keyed by channel and external id."""
        conversation = await conversation_for(store, await patron(store))
        link = Link("desk", "5501", conversation.id, "m-1")
        await store.save_link(link)
        assert await store.find_link("desk", "5501") == link
        assert await store.find_link("email", "5501") is None
        moved = replace(link, message_id="m-2")
        await store.save_link(moved)
        assert await store.find_link("desk", "5501") == moved
        with pytest.raises(ValueError):  # a link leads to a conversation the store holds
            await store.save_link(Link("desk", "5502", "nothing"))
        assert await store.find_link("desk", "5502") is None


class CursorsContract:
    """Key-value cursors (``routing.ports.Cursors``). Subclass it with a ``store`` fixture
    that yields an opened, empty store."""

    async def test_state_keeps_the_last_value(self, store: Store) -> None:
        """get_state returns None for an unknown key, then the last value set."""
        assert await store.get_state("imap.uidvalidity") is None
        await store.set_state("imap.uidvalidity", "1700")
        await store.set_state("imap.uidvalidity", "1701")
        assert await store.get_state("imap.uidvalidity") == "1701"

    async def test_concurrent_cursor_writes_are_each_visible_once_acknowledged(
        self, store: Store
    ) -> None:
        """Each of many simultaneous writers reads its own cursor as soon as it returns."""

        async def one(n: int) -> None:
            await store.set_state(f"k{n}", str(n))
            assert await store.get_state(f"k{n}") == str(n)

        await asyncio.gather(*(one(n) for n in range(50)))

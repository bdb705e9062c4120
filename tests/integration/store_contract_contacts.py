"""The store's contract for contact state (``routing.ports.ContactStates``): what a
channel keeps about one contact point.

Implementation-agnostic: only the role's methods, over any store given as the ``store``
fixture (SQLite in tests/integration, the in-memory fake in tests/unit).
"""

from __future__ import annotations

from routing.model import Channel, Contact
from routing.ports import ContactState, Store

__all__ = ["ContactStatesContract"]


class ContactStatesContract:
    """Subclass it with a ``store`` fixture that yields an opened, empty store."""

    async def test_contact_state_keeps_the_last_save_per_contact(self, store: Store) -> None:
        """contact_state is None until saved, then every field of the last save, kept
        apart per channel and address."""
        chat, visitor = Contact(Channel.TELEGRAM, "4242"), Contact(Channel.WIDGET, "4242")
        assert await store.contact_state(chat) is None
        await store.save_contact_state(chat, ContactState("id", 1_700_000_000.5))
        await store.save_contact_state(visitor, ContactState(token_generation=3))
        assert await store.contact_state(chat) == ContactState("id", 1_700_000_000.5, 0)
        await store.save_contact_state(chat, ContactState("en"))
        assert await store.contact_state(chat) == ContactState("en", 0.0, 0)
        assert await store.contact_state(visitor) == ContactState("", 0.0, 3)

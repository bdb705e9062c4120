"""The store's contract for contact state (``routing.ports.ContactStates``): what a
channel keeps about one contact point.

Implementation-agnostic: only the role's methods, over any store given as the ``store``
fixture (SQLite in tests/integration, the in-memory fake in tests/unit).
"""

from __future__ import annotations

from routing.model import Channel, Contact
from routing.ports import ContactState, EmailProof, Store

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

    async def test_a_pending_email_proof_round_trips(self, store: Store) -> None:
        """A pending code reads back as saved, beside the contact's other state, and is
        gone once saved as None."""
        visitor = Contact(Channel.WIDGET, "v-1")
        proof = EmailProof("dewi@example.org", "5a1t", "ab" * 32, 1_700_000_600.25, 2)
        await store.save_contact_state(visitor, ContactState(token_generation=1,
                                                             email_proof=proof))
        assert await store.contact_state(visitor) == ContactState("", 0.0, 1, proof)
        await store.save_contact_state(visitor, ContactState(token_generation=1))
        assert await store.contact_state(visitor) == ContactState(token_generation=1)

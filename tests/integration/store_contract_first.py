"""The store's contract for a new patron's first message (``append_first``) and for a
contact made a moment ago (``new_contact``), over any store given as ``store``."""

from __future__ import annotations

from dataclasses import replace

import pytest

from routing.model import Channel, Contact, Conversation, Patron, new_id
from routing.ports import Store
from tests.integration.store_contract import (
    NOW,
    conversation_for,
    delivery_for,
    message_in,
    patron,
)


def newcomer(address: str = "") -> tuple[Patron, Conversation]:
    """A patron and conversation not yet stored."""
    contact = Contact(Channel.WIDGET, address or new_id())
    made = Patron(new_id(), name="Sari", contacts=(contact,), created_at=NOW)
    return made, Conversation(new_id(), made.id, Channel.WIDGET, created_at=NOW,
                              updated_at=NOW)


class FirstMessageContract:
    """``append_first`` and ``new_contact``. Subclass it with a ``store`` fixture that
    yields an opened, empty store."""

    async def test_a_first_message_stores_its_patron_and_conversation(
        self, store: Store
    ) -> None:
        """append_first returns (message, True) and the patron, their conversation, the
        message and its delivery all read back."""
        sari, talk = newcomer()
        message = message_in(talk, client_id="c-1")
        delivery = delivery_for(message)
        assert await store.append_first(sari, talk, message, [delivery]) == (message, True)
        assert await store.patron_by_contact(sari.contacts[0]) == sari
        assert await store.latest_conversation(sari.id) == talk
        assert await store.history(talk.id) == [message]
        assert await store.due_deliveries(NOW, 10) == [delivery]

    async def test_a_refused_first_message_leaves_nothing(self, store: Store) -> None:
        """A first message whose delivery key is already queued raises ValueError and
        stores neither the patron nor the conversation nor the message."""
        queued = message_in(await conversation_for(store, await patron(store)))
        await store.append(queued, [delivery_for(queued)])
        sari, talk = newcomer()
        message = message_in(talk)
        clash = replace(delivery_for(message), idempotency_key=f"{queued.id}:desk")
        with pytest.raises(ValueError):
            await store.append_first(sari, talk, message, [clash])
        assert await store.patron_by_contact(sari.contacts[0]) is None
        assert await store.get_patron(sari.id) is None
        assert await store.get_conversation(talk.id) is None
        assert await store.get_message(message.id) is None
        assert await store.pending_deliveries() == 1

    async def test_a_new_contact_is_nobodys_until_its_first_message(self, store: Store) -> None:
        """A contact told of as new is found by nobody, then by the patron its first
        message made."""
        sari, talk = newcomer()
        store.new_contact(sari.contacts[0])
        assert await store.patron_by_contact(sari.contacts[0]) is None
        await store.append_first(sari, talk, message_in(talk), [])
        assert await store.patron_by_contact(sari.contacts[0]) == sari

"""The store's contract for desk state (``routing.ports.DeskState``): what the desk and
the channels keep about one conversation (its topic's info card, its email thread) or
one message (how far its send got).

Implementation-agnostic: only the roles' methods, over any store given as the ``store``
fixture (SQLite in tests/integration, the in-memory fake in tests/unit).
"""

from __future__ import annotations

import pytest

from routing.ports import DeskCard, MailThread, Store
from tests.integration.store_contract import conversation_for, message_in, patron

__all__ = ["DeskStateContract"]


class DeskStateContract:
    """Subclass it with a ``store`` fixture that yields an opened, empty store."""

    async def test_a_desk_card_keeps_the_last_save(self, store: Store) -> None:
        """desk_card is None until saved, then the last card saved, per conversation."""
        ana = await patron(store)
        one, two = await conversation_for(store, ana), await conversation_for(store, ana)
        assert await store.desk_card(one.id) is None
        await store.save_desk_card(one.id, DeskCard(501))
        await store.save_desk_card(two.id, DeskCard(600, "\n\n<b>Ana</b>: Is it open?"))
        assert await store.desk_card(one.id) == DeskCard(501, None)
        await store.save_desk_card(one.id, DeskCard(502, ""))
        assert await store.desk_card(one.id) == DeskCard(502, "")
        assert await store.desk_card(two.id) == DeskCard(600, "\n\n<b>Ana</b>: Is it open?")

    async def test_a_mail_thread_round_trips(self, store: Store) -> None:
        """mail_thread is None until saved, then every field as saved, references in order."""
        conversation = await conversation_for(store, await patron(store))
        assert await store.mail_thread(conversation.id) is None
        thread = MailThread("Renewal «ILL»", "<b@x>", ("<a@x>", "<b@x>"), acknowledged=True)
        await store.save_mail_thread(conversation.id, thread)
        assert await store.mail_thread(conversation.id) == thread
        await store.save_mail_thread(conversation.id, MailThread())
        assert await store.mail_thread(conversation.id) == MailThread()

    async def test_posted_is_kept_per_message_and_place(self, store: Store) -> None:
        """posted returns the last progress saved for a message in one place, and nothing
        for another place or message."""
        conversation = await conversation_for(store, await patron(store))
        first, second = message_in(conversation), message_in(conversation)
        await store.append(first, [])
        await store.append(second, [])
        await store.save_posted(first.id, "telegram.patron", "42:7")
        await store.save_posted(first.id, "telegram.patron", "42:8")
        await store.save_posted(first.id, "telegram.desk.-100", '{"done": []}')
        assert await store.posted(first.id, "telegram.patron") == "42:8"
        assert await store.posted(first.id, "telegram.desk.-100") == '{"done": []}'
        assert await store.posted(second.id, "telegram.patron") is None

    async def test_state_of_an_unknown_owner_is_refused(self, store: Store) -> None:
        """A card, thread or progress for a conversation or message the store does not
        hold raises ValueError and is not kept: desk state never outlives its owner."""
        with pytest.raises(ValueError):
            await store.save_desk_card("nothing", DeskCard(1))
        with pytest.raises(ValueError):
            await store.save_mail_thread("nothing", MailThread("s"))
        with pytest.raises(ValueError):
            await store.save_posted("nothing", "telegram.patron", "1:1")
        assert await store.desk_card("nothing") is None
        assert await store.mail_thread("nothing") is None
        assert await store.posted("nothing", "telegram.patron") is None

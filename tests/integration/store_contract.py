"""What the store's contract suites share: records to build and the moment they live in.

The promises themselves are one suite a role of ``routing.ports`` (aiogram's pattern:
one suite, every storage), in ``store_contract_<role>.py``. A backend's test module
subclasses each with an opened, empty store as the ``store`` fixture (SQLite in
tests/integration/test_store_sqlite.py, the fake in tests/unit/test_fake_store.py).
Only the roles' methods are used, so SQLite, the in-memory fake and PostgreSQL run
exactly these tests.
"""

from __future__ import annotations

from routing.model import (
    Channel,
    Contact,
    Conversation,
    Delivery,
    DeliveryKind,
    Direction,
    Message,
    Patron,
    new_id,
)
from routing.ports import Store

__all__ = [
    "NOW",
    "conversation_for",
    "delivery_for",
    "ids",
    "message_in",
    "patron",
    "queued",
]

NOW = 1_700_000_000.0


async def patron(store: Store, *addresses: str, name: str = "") -> Patron:
    """A saved patron reachable on the widget at each of ``addresses``."""
    contacts = tuple(Contact(Channel.WIDGET, a) for a in addresses or (new_id(),))
    saved = Patron(new_id(), name=name, contacts=contacts, created_at=NOW)
    await store.save_patron(saved)
    return saved


async def conversation_for(store: Store, owner: Patron, *, at: float = NOW,
                           desk_thread: int | None = None) -> Conversation:
    saved = Conversation(new_id(), owner.id, Channel.WIDGET, desk_thread=desk_thread,
                         created_at=at, updated_at=at)
    await store.save_conversation(saved)
    return saved


def message_in(conversation: Conversation, text: str = "Is the library open?", *,
               client_id: str = "", direction: Direction = Direction.PATRON) -> Message:
    return Message(new_id(), conversation.id, direction, text, author="Ana",
                   client_id=client_id, created_at=NOW)


def delivery_for(message: Message, destination: Channel = Channel.DESK, *,
                 at: float = NOW) -> Delivery:
    return Delivery(new_id(), message.conversation_id, message.id, DeliveryKind.TO_DESK,
                    destination, f"{message.id}:{destination.value}", next_attempt_at=at,
                    created_at=at)


async def queued(store: Store, conversation: Conversation, destination: Channel = Channel.DESK,
                 *, at: float = NOW) -> Delivery:
    """Append a message with one delivery to ``destination``; return the delivery."""
    message = message_in(conversation)
    delivery = delivery_for(message, destination, at=at)
    await store.append(message, [delivery])
    return delivery


def ids(deliveries: list[Delivery]) -> list[str]:
    return [d.id for d in deliveries]

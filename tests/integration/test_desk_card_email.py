"""The info card says whether the patron's address was proved (issue 11 item 1), through
the real bridge, widget socket and python-telegram-bot against the Bot API emulator."""

from __future__ import annotations

from typing import Any

from tests.integration.test_slice import Desk, connect, desk, eventually

__all__ = ["connect", "desk"]  # fixtures shared with test_slice.py


async def card_of(desk: Desk) -> str:
    topics = await eventually(desk.topics)
    thread = topics[-1]["message_thread_id"]
    texts = await eventually(lambda: [m.get("text", "") for m in
                                      desk.emulator.messages(desk.group, thread)][1:])
    card: str = texts[-1]
    return card


async def test_a_conversation_opened_by_a_typed_address_says_so_on_the_card(
    desk: Desk, connect: Any
) -> None:
    """A patron who typed an address and never confirmed it gets a card that shows the
    address marked unconfirmed, so no librarian takes it for the patron's own."""
    patron = await connect()
    await patron.hello()
    await patron.ws.send_json({"type": "profile", "name": "Mallory",
                               "email": "victim@example.org"})
    saved = await patron.next("profile_saved", "error")
    assert saved["type"] == "profile_saved" and saved["email_confirmed"] is False
    await patron.send("Please send my loans list to this address", "c1")
    card = await card_of(desk)
    assert "victim@example.org" in card and "unconfirmed" in card

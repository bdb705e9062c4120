"""The pre-chat form's email over the real widget WebSocket, router and SQLite store,
with the library sending mail: the address is typed, so it is confirmed by a code."""

from __future__ import annotations

from tests.integration.test_widget_offline import Rig, Tab, http, rig, tab

__all__ = ["http", "rig", "tab"]  # fixtures shared with test_widget_offline.py


async def test_a_form_address_gets_its_code_and_links_nothing_until_then(
        rig: Rig, tab: Tab) -> None:
    """The pre-chat form's email is a typed address like the profile's: the first
    message's ack says a code went there, the patron stays unconfirmed until the code
    comes back, and the code confirms it."""
    await tab.hello()
    ack = await tab.ask({"type": "send", "cid": "p1", "text": "Can I renew?",
                         "prechat": {"name": "Dewi", "email": "dewi@example.org"}})
    assert ack["type"] == "ack" and ack["profile"] == {
        "type": "profile_saved", "email": "dewi@example.org", "email_confirmed": False,
        "code_sent": True}
    [(address, code)] = rig.codes
    assert address == "dewi@example.org"
    patron = await rig.patron(tab.visitor)
    assert patron is not None and not patron.email_confirmed
    confirmed = await tab.ask({"type": "confirm_email", "code": code})
    assert confirmed == {"type": "email_confirmed", "email": "dewi@example.org"}

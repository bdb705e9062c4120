"""Sends in flight on one WebSocket: the next frame is read while a commit is pending, yet
acks and stored messages keep the order the patron sent them in."""

from __future__ import annotations

import aiohttp

from adapters.widget.session import VisitorBudgets
from tests.integration.test_widget_offline import Rig, Tab, http, rig, tab

__all__ = ["http", "rig", "tab"]  # fixtures shared with test_widget_offline.py


async def test_twenty_sends_in_flight_are_acked_and_stored_in_order(
    rig: Rig, tab: Tab, http: aiohttp.ClientSession
) -> None:
    """Twenty sends written without waiting for acks, then a ping, come back as twenty acks
    in send order followed by the pong, and history holds them in that order."""
    rig.server._steps.sessions.budgets = VisitorBudgets(60_000)  # the limit lifted
    await tab.hello()
    texts = [f"message {n:02d}" for n in range(20)]
    for n, text in enumerate(texts):
        await tab.ws.send_json({"type": "send", "cid": f"c{n:02d}", "text": text})
    await tab.ws.send_json({"type": "ping"})
    answers = [await tab.next() for _ in range(21)]
    assert [a["type"] for a in answers] == ["ack"] * 20 + ["pong"]
    assert [a["cid"] for a in answers[:20]] == [f"c{n:02d}" for n in range(20)]
    ids = [a["message"]["id"] for a in answers[:20]]
    assert ids == sorted(ids)
    patron = await rig.patron(tab.visitor)
    assert patron is not None
    conversation = await rig.store.latest_conversation(patron.id)
    assert conversation is not None
    history = await rig.store.history(conversation.id)
    assert [m.text for m in history] == texts


async def test_a_spent_budget_is_refused_in_order_and_nothing_refused_is_stored(
    rig: Rig, tab: Tab, http: aiohttp.ClientSession
) -> None:
    """Twelve sends at once on a budget of five: five acks, then seven rate_limited
    refusals, then the pong, in the order sent; a send once the budget is known spent
    (the quick refusal) is answered like the others; only the five are stored."""
    rig.server._steps.sessions.budgets = VisitorBudgets(12)  # a burst of 5
    await tab.hello()
    for n in range(12):
        await tab.ws.send_json({"type": "send", "cid": f"c{n:02d}", "text": f"message {n}"})
    await tab.ws.send_json({"type": "ping"})
    answers = [await tab.next() for _ in range(13)]
    assert [a["type"] for a in answers] == ["ack"] * 5 + ["error"] * 7 + ["pong"]
    assert [a["cid"] for a in answers[:12]] == [f"c{n:02d}" for n in range(12)]
    assert {a["code"] for a in answers[5:12]} == {"rate_limited"}
    assert all(a["retry_after"] >= 1 for a in answers[5:12])
    await tab.ws.send_json({"type": "send", "cid": "late", "text": "again"})
    late = await tab.next()
    assert (late["type"], late["code"], late["cid"]) == ("error", "rate_limited", "late")
    patron = await rig.patron(tab.visitor)
    assert patron is not None
    conversation = await rig.store.latest_conversation(patron.id)
    assert conversation is not None
    history = await rig.store.history(conversation.id)
    assert [m.text for m in history] == [f"message {n}" for n in range(5)]


async def test_a_browsers_offer_of_compression_is_declined_and_acks_still_arrive(
    rig: Rig, http: aiohttp.ClientSession
) -> None:
    """A socket offering permessage-deflate, as every browser does, is answered without it
    (its compressor would hold ~100 KiB for the socket's life), and a burst of sends is
    acked frame by frame in order."""
    rig.server._steps.sessions.budgets = VisitorBudgets(60_000)
    async with http.ws_connect("/widget/ws", compress=15) as ws:
        assert ws.compress == 0
        assert "Sec-WebSocket-Extensions" not in ws._response.headers
        tab = Tab(ws)
        await tab.hello()
        for n in range(10):
            await ws.send_json({"type": "send", "cid": f"c{n}", "text": f"message {n}"})
        answers = [await tab.next() for _ in range(10)]
        assert [(a["type"], a["cid"]) for a in answers] == [("ack", f"c{n}") for n in range(10)]

"""Sends in flight on one WebSocket: the next frame is read while a commit is pending, yet
acks and stored messages keep the order the patron sent them in."""

from __future__ import annotations

import dataclasses

import aiohttp

from tests.integration.test_widget_offline import Rig, Tab, http, rig, tab

__all__ = ["http", "rig", "tab"]  # fixtures shared with test_widget_offline.py


async def test_twenty_sends_in_flight_are_acked_and_stored_in_order(
    rig: Rig, tab: Tab, http: aiohttp.ClientSession
) -> None:
    """Twenty sends written without waiting for acks, then a ping, come back as twenty acks
    in send order followed by the pong, and history holds them in that order."""
    steps = rig.server._steps
    steps._settings = dataclasses.replace(steps._settings, messages_per_minute=60_000)
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

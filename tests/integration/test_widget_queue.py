"""The queue line in the widget, over the real aiohttp server, router and SQLite store:
each waiting patron's place, pushed as the line moves, gone once they are answered, and
honest about the wait when nobody is at the desk."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import aiohttp

from routing.model import Channel, Inbound
from tests.eventually import eventually
from tests.integration.test_widget_files import FileRig, http, rig
from tests.integration.test_widget_offline import Tab

__all__ = ["http", "rig"]  # fixtures shared with test_widget_files.py


async def queue_frame(tab: Tab) -> dict[str, Any]:
    """The next ``queue`` frame on the tab's socket, skipping pushed messages."""
    async with asyncio.timeout(5):
        while True:
            frame: dict[str, Any] = await tab.ws.receive_json()
            if frame["type"] == "queue":
                return frame


async def nothing_pending(tab: Tab) -> None:
    """No frame but messages is waiting on the socket: a ping's pong comes next."""
    await tab.ws.send_json({"type": "ping"})
    assert (await tab.next())["type"] == "pong"


async def waiting_patrons(rig: FileRig, http: aiohttp.ClientSession, n: int) -> list[Tab]:
    """``n`` patrons who each asked a question, a minute apart, first one first."""
    tabs = []
    for number in range(n):
        tab = Tab(await http.ws_connect("/widget/ws"))
        await tab.hello()
        ack = await tab.ask({"type": "send", "cid": "q", "text": f"Question {number + 1}"})
        assert ack["type"] == "ack"
        rig.clock.at += 60
        tabs.append(tab)
    return tabs


async def test_three_waiting_patrons_see_their_places(
    rig: FileRig, http: aiohttp.ClientSession
) -> None:
    """Three patrons waiting for a first answer are told they are number 1, 2 and 3 of 3,
    in English and Indonesian, with a wait estimate (three default answer times, less the
    minute already waited); a reconnecting tab's welcome gives the place from that reading."""
    tabs = await waiting_patrons(rig, http, 3)
    await rig.queue.tick()
    frames = [await queue_frame(tab) for tab in tabs]
    assert [(f["position"], f["waiting"]) for f in frames] == [(1, 3), (2, 3), (3, 3)]
    assert frames[2]["text"]["en"] == "You are number 3 in line. Estimated wait: about 8 minutes."
    assert frames[2]["text"]["id"] == (
        "Anda nomor 3 dalam antrean. Perkiraan waktu tunggu: sekitar 8 menit.")
    assert frames[0]["text"]["en"].startswith("You are next in line.")
    assert all(isinstance(f["wait"], int) and f["wait"] > 0 for f in frames)
    again = Tab(await http.ws_connect("/widget/ws"))
    welcome = await again.hello(tabs[1].token)
    assert welcome["queue"]["position"] == 2
    for tab in (*tabs, again):
        await tab.ws.close()


async def test_the_line_moves_when_a_librarian_answers(
    rig: FileRig, http: aiohttp.ClientSession
) -> None:
    """When the first patron is answered their line goes (position null) and the others
    move up; a tick that changes nothing sends nothing."""
    tabs = await waiting_patrons(rig, http, 3)
    await rig.queue.tick()
    for tab in tabs:
        await queue_frame(tab)
    await rig.queue.tick()
    for tab in tabs:
        await nothing_pending(tab)
    await rig.answer(tabs[0].visitor, "Yes, we have it.")
    await rig.queue.tick()
    gone = await queue_frame(tabs[0])
    assert gone["position"] is None
    assert [(await queue_frame(t))["position"] for t in tabs[1:]] == [1, 2]
    welcome = await Tab(await http.ws_connect("/widget/ws")).hello(tabs[0].token)
    assert welcome["queue"] is None
    for tab in tabs:
        await tab.ws.close()


async def test_with_nobody_at_the_desk_the_wait_is_unknown(
    rig: FileRig, http: aiohttp.ClientSession
) -> None:
    """With nobody on duty the place is still given, and the wait is said to be unknown
    rather than made up."""
    rig.librarians = 0
    (tab,) = await waiting_patrons(rig, http, 1)
    await rig.queue.tick()
    frame = await queue_frame(tab)
    assert (frame["position"], frame["wait"]) == (1, None)
    assert {k: frame["text"][k] for k in ("en", "id")} == {
        "en": "You are next in line. We cannot estimate the wait right now.",
        "id": "Anda berikutnya dalam antrean. Perkiraan waktu tunggu belum tersedia."}
    await tab.ws.close()


async def test_the_running_loop_pushes_a_new_patrons_place(
    rig: FileRig, http: aiohttp.ClientSession
) -> None:
    """With the watch's loop running, a patron's first question earns them their place
    without any other event: sending pokes the loop, which reads the line once."""
    rig.queue._settle = 0.0
    loop = asyncio.create_task(rig.queue.run())
    try:
        (tab,) = await waiting_patrons(rig, http, 1)
        frame = await queue_frame(tab)
        assert (frame["position"], frame["waiting"]) == (1, 1)
        await tab.ws.close()
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop


async def test_the_http_fallback_polls_its_place(
    rig: FileRig, http: aiohttp.ClientSession
) -> None:
    """A patron on the HTTP fallback finds their place in the poll's answer."""
    async with http.post("/widget/api/hello", json={}) as response:
        token = (await response.json())["token"]
    auth = {"Authorization": f"Bearer {token}"}
    async with http.post("/widget/api/send", json={"cid": "q", "text": "Hello?"},
                         headers=auth) as response:
        assert response.status == 200
    await rig.queue.tick()
    async with http.get("/widget/api/poll?wait=0", headers=auth) as response:
        body = json.loads(await response.text())
    assert body["queue"]["position"] == 1


async def test_a_waiting_conversation_is_read_once_not_every_tick(
    rig: FileRig, http: aiohttp.ClientSession
) -> None:
    """Ticks after the first read no conversation again for patrons still waiting: a
    long line costs the store nothing per tick beyond the line itself (an answer still
    takes the line away: test_the_line_moves_when_a_librarian_answers)."""
    tabs = await waiting_patrons(rig, http, 3)
    reads: list[str] = []
    get = rig.store.get_conversation

    async def counted(conversation_id: str) -> Any:
        reads.append(conversation_id)
        return await get(conversation_id)

    rig.store.get_conversation = counted  # type: ignore[method-assign]
    await rig.queue.tick()
    first = len(reads)
    for _ in range(3):
        await rig.queue.tick()
    assert first > 0 and len(reads) == first
    for tab in tabs:
        await tab.ws.close()


async def test_a_tick_walks_the_patrons_online_not_the_line(
    rig: FileRig, http: aiohttp.ClientSession
) -> None:
    """With three waiting and two of them gone, a tick reads nothing of the line's
    conversations but the one whose visitor is online, and still counts all three."""
    tabs = await waiting_patrons(rig, http, 3)
    for tab in tabs[:2]:
        await tab.ws.close()
    await eventually(lambda: not any(rig.hub.online(t.visitor) for t in tabs[:2]))
    reads: list[str] = []
    get = rig.store.get_conversation

    async def counted(conversation_id: str) -> Any:
        reads.append(conversation_id)
        return await get(conversation_id)

    rig.store.get_conversation = counted  # type: ignore[method-assign]
    await rig.queue.tick()
    frame = await queue_frame(tabs[2])
    assert (frame["position"], frame["waiting"]) == (3, 3)
    assert len(set(reads)) == 1, reads
    await tabs[2].ws.close()


async def test_the_line_is_read_once_a_minute_and_moves_by_events_between(
    rig: FileRig, http: aiohttp.ClientSession
) -> None:
    """Between two readings of the whole line a patron who writes joins its end by their
    send alone; a patron waiting by email (no widget event) counts from the next
    reading, a minute later, in their place by time."""
    (first,) = await waiting_patrons(rig, http, 1)
    readings = 0
    whole = rig.queue._waiting

    async def counted() -> Any:
        nonlocal readings
        readings += 1
        return await whole()

    rig.queue._waiting = counted
    await rig.queue.tick()
    assert (await queue_frame(first))["position"] == 1 and readings == 1
    rig.clock.at -= 3600  # the email came in long ago
    await rig.router.intake.accept(Inbound(Channel.EMAIL, "sari@example.org", "Any news?"))
    rig.clock.at += 3600 + 1
    (second,) = await waiting_patrons(rig, http, 1)
    rig.clock.at -= 60  # the helper's minute: still within the same reading's minute
    await rig.queue.tick()
    frame = await queue_frame(second)
    assert (frame["position"], frame["waiting"], readings) == (2, 2, 1)
    await nothing_pending(first)
    rig.clock.at += 61
    await rig.queue.tick()
    assert readings == 2
    assert [(await queue_frame(t))["position"] for t in (first, second)] == [2, 3]
    for tab in (first, second):
        await tab.ws.close()


async def test_a_patron_who_writes_during_a_reading_keeps_their_place(
    rig: FileRig, http: aiohttp.ClientSession
) -> None:
    """A reading of the line that began before a patron's first question does not wipe
    them out of it: they are number 2 of 2 when it ends."""
    (first,) = await waiting_patrons(rig, http, 1)
    whole = rig.queue._waiting
    reading, go_on = asyncio.Event(), asyncio.Event()

    async def slow() -> Any:
        line = await whole()  # read before the second patron writes
        reading.set()
        await go_on.wait()
        return line

    rig.queue._waiting = slow
    tick = asyncio.create_task(rig.queue.tick())
    await reading.wait()
    (second,) = await waiting_patrons(rig, http, 1)
    go_on.set()
    await tick
    frame = await queue_frame(second)
    assert (frame["position"], frame["waiting"]) == (2, 2)
    for tab in (first, second):
        await tab.ws.close()


async def test_an_answered_patron_writing_again_does_not_join_the_line(
    rig: FileRig, http: aiohttp.ClientSession
) -> None:
    """A patron the librarian has answered writes a thank-you between two readings of
    the line: the next new patron is still number 1 of 1, not 2 of 2."""
    (answered,) = await waiting_patrons(rig, http, 1)
    await rig.queue.tick()
    await queue_frame(answered)
    await rig.answer(answered.visitor, "Yes, we have it.")
    await rig.queue.tick()
    assert (await queue_frame(answered))["position"] is None
    ack = await answered.ask({"type": "send", "cid": "t", "text": "Thank you!"})
    assert ack["type"] == "ack"
    (new,) = await waiting_patrons(rig, http, 1)
    rig.clock.at -= 60  # the helper's minute: still within the same reading's minute
    await rig.queue.tick()
    frame = await queue_frame(new)
    assert (frame["position"], frame["waiting"]) == (1, 1)
    for tab in (answered, new):
        await tab.ws.close()

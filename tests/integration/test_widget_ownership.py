"""Conversations belong to the person who wrote them (issue 11 items 1, 2 and the profile
part of 12/16), over the real widget WebSocket, HTTP API, router and SQLite store: a resume
link takes a conversation away from every older token, a typed address routes nobody's
mail until its code comes back, and a profile is checked like the offline form."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from routing.model import Channel, Inbound
from tests.eventually import eventually
from tests.integration.test_widget_offline import Rig, Tab, http, question, rig, tab

__all__ = ["http", "rig", "tab"]  # fixtures shared with test_widget_offline.py


async def resume(http: aiohttp.ClientSession, token: str) -> dict[str, Any]:
    async with http.post("/widget/api/resume", json={"resume": token}) as response:
        assert response.status == 200
        answer: dict[str, Any] = await response.json()
        return answer


async def closed_by_server(tab: Tab) -> int | None:
    """Read the socket until the server closes it; the close code."""
    async with asyncio.timeout(5):
        while True:
            msg = await tab.ws.receive()
            if msg.type is aiohttp.WSMsgType.CLOSE:
                return int(msg.data)
            if msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                return tab.ws.close_code


async def test_a_resume_link_takes_the_conversation_from_every_older_token(
    rig: Rig, http: aiohttp.ClientSession
) -> None:
    """Whoever opens a resume link is the only reader from then on: the token it replaced
    is refused by hello, HTTP send and poll, its socket is closed, and a long-poll that was
    waiting answers 401 instead of the new browser's message."""
    rig.staffed = False
    stranger = Tab(await http.ws_connect("/widget/ws"))
    await stranger.hello()
    saved = await stranger.ask(question(email="victim@example.org"))
    old = {"Authorization": f"Bearer {stranger.token}"}
    since = saved["message"]["id"]
    waiting = asyncio.create_task(http.get(f"/widget/api/poll?wait=20&since={since}",
                                           headers=old))
    await eventually(lambda: rig.hub._polls.get(stranger.visitor))

    resumed = await resume(http, rig.tokens.resume_token(stranger.visitor, 3600))
    owner = Tab(await http.ws_connect("/widget/ws"))
    welcome = await owner.hello(resumed["token"])
    assert welcome["conversation"]["id"] == saved["conversation"]["id"]
    await owner.ask({"type": "send", "cid": "o1", "text": "My member number is 4411"})

    async with await waiting as response:
        assert response.status == 401
        assert "4411" not in await response.text()
    assert await closed_by_server(stranger) == 4001
    again = Tab(await http.ws_connect("/widget/ws"))
    assert (await again.hello(stranger.token))["code"] == "bad_token"
    async with http.get("/widget/api/poll?wait=0", headers=old) as response:
        assert response.status == 401
    async with http.post("/widget/api/send", json={"cid": "s2", "text": "hi"},
                         headers=old) as response:
        assert response.status == 401
    for ws in (owner.ws, again.ws):
        await ws.close()


async def test_a_resumed_visitor_stays_resumed_after_a_restart(tmp_path: Path) -> None:
    """The token generation is kept in the store: after a restart the replaced token is
    still refused and the new one still opens the conversation."""
    first = Rig(tmp_path)
    await first.start()
    async with aiohttp.ClientSession(first.url) as http:
        tab = Tab(await http.ws_connect("/widget/ws"))
        await tab.hello()
        await tab.ask({"type": "send", "cid": "c1", "text": "Is the library open?"})
        resumed = await resume(http, first.tokens.resume_token(tab.visitor, 3600))
    await first.stop()

    second = Rig(tmp_path)
    await second.start()
    try:
        async with aiohttp.ClientSession(second.url) as http:
            old = Tab(await http.ws_connect("/widget/ws"))
            assert (await old.hello(tab.token))["code"] == "bad_token"
            new = Tab(await http.ws_connect("/widget/ws"))
            welcome = await new.hello(resumed["token"])
            assert [m["text"] for m in welcome["history"]] == ["Is the library open?"]
            await old.ws.close()
            await new.ws.close()
    finally:
        await second.stop()


async def test_a_typed_address_routes_nobodys_mail_until_its_code_comes_back(
    rig: Rig, tab: Tab
) -> None:
    """A profile with someone else's address mails a code there and joins nothing: the
    owner's own mail opens their own conversation, never shown in the typist's widget,
    and a wrong code confirms nothing."""
    await tab.hello()
    await tab.ask({"type": "send", "cid": "a1", "text": "Hello"})
    saved = await tab.ask({"type": "profile", "name": "Mallory", "email": "Victim@Example.org"})
    assert saved == {"type": "profile_saved", "email": "Victim@Example.org",
                     "email_confirmed": False, "code_sent": True}
    [(address, code)] = rig.codes
    assert address == "Victim@Example.org"

    own = await rig.router.intake.accept(Inbound(Channel.EMAIL, "victim@example.org",
                                          "My own question", email="victim@example.org"))
    typist = await rig.patron(tab.visitor)
    assert typist is not None and own.patron.id != typist.id
    welcome = await tab.hello(tab.token)
    assert [m["text"] for m in welcome["history"]] == ["Hello"]
    wrong = await tab.ask({"type": "confirm_email", "code": "999999" if code != "999999"
                           else "111111"})
    assert (wrong["type"], wrong["code"]) == ("error", "bad_code")
    typist = await rig.patron(tab.visitor)
    assert typist is not None and not typist.email_confirmed


async def test_the_mailed_code_confirms_the_address(
    rig: Rig, tab: Tab, http: aiohttp.ClientSession
) -> None:
    """The code mailed to the address confirms it (once: it is spent), and from then on
    the patron's own mail from that address joins their conversation."""
    await tab.hello()
    ack = await tab.ask({"type": "send", "cid": "a1", "text": "Hello"})
    await tab.ask({"type": "profile", "name": "Dewi", "email": "dewi@example.org"})
    [(_, code)] = rig.codes
    auth = {"Authorization": f"Bearer {tab.token}"}
    async with http.post("/widget/api/confirm", json={"code": code}, headers=auth) as response:
        assert await response.json() == {"type": "email_confirmed", "email": "dewi@example.org"}
    again = await tab.ask({"type": "confirm_email", "code": code})
    assert again["code"] == "bad_code"
    by_mail = await rig.router.intake.accept(Inbound(Channel.EMAIL, "dewi@example.org", "By mail",
                                              email="dewi@example.org"))
    assert by_mail.conversation.id == ack["message"]["conversation"]


@pytest.mark.parametrize(("name", "email", "code"), [
    ("\ud800", "", "bad_name"),
    ("Sari\u202eniamod", "", "bad_name"),
    ("Sa\u200bri", "", "bad_name"),
    ("Sari\nBcc: all", "", "bad_name"),
    ("x" * 201, "", "too_long_profile"),
    ("Sari", "sari@example.org\r\nBcc: all@example.org", "bad_email"),
    ("Sari", "\ud800@example.org", "bad_email"),
    ("Sari", "sari@example", "bad_email"),
])
async def test_a_profile_is_checked_like_the_offline_form(
    rig: Rig, tab: Tab, name: str, email: str, code: str
) -> None:
    """A lone surrogate, a bidi override, a zero-width or control character in the name,
    or a malformed address, is refused with the offline form's code; nothing is stored,
    no code is mailed and the socket goes on."""
    await tab.hello()
    await tab.ws.send_str(json.dumps({"type": "profile", "name": name, "email": email}))
    error = await tab.next()
    assert (error["type"], error["code"]) == ("error", code)
    assert await rig.patron(tab.visitor) is None
    assert rig.codes == []
    assert (await tab.ask({"type": "ping"}))["type"] == "pong"

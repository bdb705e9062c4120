"""The widget after hours, over the real aiohttp server and SQLite store: availability in
config and hello, the offline form and its checks, and presence for the email fallback.

The ``Rig`` here (a widget server on a free loopback port, with a desk whose duty state a
test flips) is shared with test_widget_resume_rating.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from adapters.widget.availability import Availability
from adapters.widget.hub import WidgetHub
from adapters.widget.identity import VisitorEpochs
from adapters.widget.profile import CodeMail
from adapters.widget.server import WidgetServer, WidgetSettings
from adapters.widget.steps import OfflineHook
from adapters.widget.tokens import VisitorTokens
from bridge.store.sqlite import SqliteStore
from routing.email_proof import EmailProofs
from routing.model import Channel, Contact, Conversation, Patron
from routing.router import Router
from tests.eventually import eventually

SECRET = "integration-secret-0123456789"
OPENS_EN = "We answer from Monday 08:00 (WIB)."
OPENS_ID = "Kami menjawab mulai Senin pukul 08.00 WIB."


class Clock:
    """Wall-clock time a test moves by hand (router and hub read the same one)."""

    def __init__(self) -> None:
        self.at = 1_750_000_000.0

    def now(self) -> float:
        return self.at


class Rig:
    """A widget server with a real store and router, and a desk a test staffs or not."""

    def __init__(self, data_dir: Path, *, email: bool = True) -> None:
        self.clock = Clock()
        self.staffed = True
        self.store = SqliteStore(data_dir / "pustaka.db")
        self.router = Router(self.store, self.clock, staffed=lambda now: self.staffed)
        self.hub = WidgetHub(clock=self.clock.now)
        self.tokens = VisitorTokens(SECRET)
        self.questions: list[tuple[Patron, Conversation]] = []
        self.hook_error: Exception | None = None  # the acknowledgement email failing
        self.codes: list[tuple[str, str]] = []  # (address, code) mailed to confirm it
        self.acknowledge: OfflineHook | None = None  # the real acknowledgement, when set
        self.mail_code: CodeMail | None = None  # the real code mail, when set
        self.server = WidgetServer(self.router, self.hub, self.tokens,
                                   WidgetSettings(greeting={"en": "Hi", "id": "Halo"},
                                                  email_answers=email,
                                                  # many strangers from loopback here; the
                                                  # per-network limits have their own tests
                                                  new_visitors_per_ip_hour=10_000,
                                                  new_conversations_per_ip_hour=10_000),
                                   availability=self.availability,
                                   on_offline_question=self.question_asked,
                                   epochs=VisitorEpochs(self.store),
                                   proofs=EmailProofs(self.store, self.clock),
                                   send_code=self.code_mailed)
        self.url = ""
        self._runner: web.AppRunner | None = None

    def availability(self) -> Availability:
        return Availability(self.staffed, OPENS_EN, OPENS_ID)

    async def question_asked(self, patron: Patron, conversation: Conversation) -> None:
        self.questions.append((patron, conversation))
        if self.hook_error is not None:
            raise self.hook_error
        if self.acknowledge is not None:
            await self.acknowledge(patron, conversation)

    async def code_mailed(self, address: str, code: str, lang: str = "") -> None:
        self.codes.append((address, code))
        if self.mail_code is not None:
            await self.mail_code(address, code, lang)

    async def start(self) -> None:
        await self.store.open()
        app = web.Application()
        self.server.add_routes(app)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]

    async def stop(self) -> None:
        await self.hub.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
        await self.store.close()

    async def patron(self, visitor: str) -> Patron | None:
        return await self.store.patron_by_contact(Contact(Channel.WIDGET, visitor))


class Tab:
    """One widget tab speaking PROTOCOL.md over a WebSocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.token: str | None = None
        self.visitor = ""

    async def hello(self, token: str | None = None) -> dict[str, Any]:
        await self.ws.send_json({"type": "hello", "token": token, "since": None,
                                 "page": {"url": "https://library.example/", "title": "Home"},
                                 "lang": "en-GB", "tz": "Asia/Jakarta"})
        welcome = await self.next()
        self.token = welcome.get("token", self.token)
        self.visitor = welcome.get("visitor", self.visitor)
        return welcome

    async def ask(self, frame: dict[str, Any]) -> dict[str, Any]:
        await self.ws.send_json(frame)
        return await self.next()

    async def next(self) -> dict[str, Any]:
        """The next answer, skipping pushed ``message`` frames."""
        async with asyncio.timeout(5):
            while True:
                msg = await self.ws.receive()
                assert msg.type is aiohttp.WSMsgType.TEXT, msg
                frame: dict[str, Any] = json.loads(msg.data)
                if frame["type"] != "message":
                    return frame


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    rig = Rig(tmp_path)
    await rig.start()
    yield rig
    await rig.stop()


@pytest.fixture
async def http(rig: Rig) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(rig.url) as session:
        yield session


@pytest.fixture
async def tab(rig: Rig, http: aiohttp.ClientSession) -> AsyncIterator[Tab]:
    ws = await http.ws_connect("/widget/ws")
    yield Tab(ws)
    await ws.close()


def question(**changes: Any) -> dict[str, Any]:
    frame = {"type": "offline", "cid": "q1", "name": "Dewi Lestari",
             "email": "dewi@example.org", "text": "Can I renew a book by email?"}
    return {**frame, **changes}


async def test_config_and_welcome_say_whether_the_desk_is_staffed(
    rig: Rig, http: aiohttp.ClientSession, tab: Tab
) -> None:
    """/widget/config and the welcome carry availability, read afresh on every call."""
    rig.staffed = False
    async with http.get("/widget/config") as response:
        config = await response.json()
        assert response.headers["Cache-Control"] == "no-store"
    assert config["availability"] == {"staffed": False, "opens": {"en": OPENS_EN, "id": OPENS_ID}}
    assert (await tab.hello())["availability"]["staffed"] is False
    rig.staffed = True
    async with http.get("/widget/config") as response:
        assert (await response.json())["availability"]["staffed"] is True
    assert (await tab.hello(tab.token))["availability"]["staffed"] is True


async def test_offline_question_opens_an_after_hours_conversation(rig: Rig, tab: Tab) -> None:
    """The offline form records name and email, opens a conversation marked after-hours,
    answers with the stored question and calls the acknowledgement hook once."""
    rig.staffed = False
    await tab.hello()
    saved = await tab.ask(question())
    assert saved["type"] == "offline_saved" and saved["cid"] == "q1"
    assert saved["email"] == "dewi@example.org"
    assert saved["message"]["text"] == "Can I renew a book by email?"
    assert saved["conversation"]["after_hours"] is True
    assert saved["message"]["conversation"] == saved["conversation"]["id"]
    patron = await rig.patron(tab.visitor)
    assert patron is not None and (patron.name, patron.email) == ("Dewi Lestari",
                                                                  "dewi@example.org")
    assert [(p.id, c.id) for p, c in rig.questions] == [(patron.id,
                                                         saved["conversation"]["id"])]
    again = await tab.ask(question())  # the widget resending after a lost answer
    assert again["message"]["id"] == saved["message"]["id"]
    assert len(rig.questions) == 1
    history = await rig.store.history(saved["conversation"]["id"])
    assert [m.text for m in history] == ["Can I renew a book by email?"]


@pytest.mark.parametrize(("changes", "code"), [
    ({"email": ""}, "missing_email"),
    ({"email": "dewi at example.org"}, "bad_email"),
    ({"email": "dewi@example"}, "bad_email"),
    ({"email": "dewi@example.org\r\nBcc: all@example.org"}, "bad_email"),
    ({"name": "Dewi\r\nBcc: all@example.org"}, "bad_name"),
    ({"name": "Dewi\nLestari"}, "bad_name"),
    ({"name": "   "}, "missing_name"),
    ({"text": "  "}, "empty"),
    ({"email": None}, "bad_frame"),
])
async def test_offline_form_is_checked_before_anything_is_stored(
    rig: Rig, tab: Tab, changes: dict[str, Any], code: str
) -> None:
    """A missing or malformed name, email or question is refused with its own code, the
    cid comes back for the widget, and no patron, conversation or hook call is made."""
    rig.staffed = False
    await tab.hello()
    error = await tab.ask(question(**changes))
    assert (error["type"], error["code"], error["cid"]) == ("error", code, "q1")
    assert await rig.patron(tab.visitor) is None
    assert rig.questions == []


async def test_offline_form_over_http_fallback(rig: Rig, http: aiohttp.ClientSession) -> None:
    """The HTTP fallback takes the same form: 400 with a code when wrong, saved when right."""
    rig.staffed = False
    async with http.post("/widget/api/hello", json={"token": None}) as response:
        welcome = await response.json()
    auth = {"Authorization": f"Bearer {welcome['token']}"}
    body = {k: v for k, v in question(email="not-an-address").items() if k != "type"}
    async with http.post("/widget/api/offline", json=body, headers=auth) as response:
        assert response.status == 400
        assert (await response.json())["code"] == "bad_email"
    body["email"] = "dewi@example.org"
    async with http.post("/widget/api/offline", json=body, headers=auth) as response:
        saved = await response.json()
    assert saved["type"] == "offline_saved" and saved["conversation"]["after_hours"] is True
    async with http.post("/widget/api/offline", json=body) as response:
        assert response.status == 401


async def test_the_offline_form_is_refused_while_the_desk_is_staffed(
    rig: Rig, tab: Tab, http: aiohttp.ClientSession
) -> None:
    """While someone is on duty the offline form is refused with desk_open (over the
    socket and HTTP): nothing is stored and no acknowledgement is mailed."""
    welcome = await tab.hello()
    error = await tab.ask(question())
    assert (error["type"], error["code"], error["cid"]) == ("error", "desk_open", "q1")
    auth = {"Authorization": f"Bearer {welcome['token']}"}
    body = {k: v for k, v in question().items() if k != "type"}
    async with http.post("/widget/api/offline", json=body, headers=auth) as response:
        assert response.status == 400
        assert (await response.json())["code"] == "desk_open"
    assert await rig.patron(tab.visitor) is None
    assert rig.questions == []


async def test_presence_follows_connect_frames_and_disconnect(
    rig: Rig, http: aiohttp.ClientSession
) -> None:
    """last_seen moves with hello, frames and leaving; away_for is 0 while connected and
    counts from the moment the visitor left."""
    ws = await http.ws_connect("/widget/ws")
    tab = Tab(ws)
    await tab.hello()
    assert rig.hub.last_seen(tab.visitor) == rig.clock.at
    rig.clock.at += 30
    assert rig.hub.away_for(tab.visitor, rig.clock.at + 600) == 0.0
    assert (await tab.ask({"type": "ping"}))["type"] == "pong"
    assert rig.hub.last_seen(tab.visitor) == rig.clock.at
    left_at = rig.clock.at = rig.clock.at + 5
    await ws.close()
    await eventually(lambda: not rig.hub.online(tab.visitor), every=0.01)
    assert rig.hub.last_seen(tab.visitor) == left_at
    assert rig.hub.away_for(tab.visitor, left_at + 120) == 120.0
    assert rig.hub.last_seen("never-seen") is None
    assert rig.hub.away_for("never-seen", left_at) == float("inf")


async def test_a_long_poll_counts_as_present(rig: Rig, http: aiohttp.ClientSession) -> None:
    """A patron on the HTTP fallback is present while a poll waits and seen when it ends."""
    async with http.post("/widget/api/hello", json={}) as response:
        welcome = await response.json()
    auth = {"Authorization": f"Bearer {welcome['token']}"}
    poll = asyncio.create_task(http.get("/widget/api/poll?wait=0.3", headers=auth))
    await eventually(lambda: rig.hub.online(welcome["visitor"]), every=0.01)
    assert rig.hub.away_for(welcome["visitor"], rig.clock.at + 999) == 0.0
    rig.clock.at += 7
    (await poll).release()
    assert rig.hub.last_seen(welcome["visitor"]) == rig.clock.at


async def test_a_failing_acknowledgement_does_not_lose_the_question(
    rig: Rig, tab: Tab
) -> None:
    """If the acknowledgement hook raises, the patron still gets offline_saved and the
    question is stored for the desk."""
    rig.hook_error = ConnectionError("SMTP is down")
    rig.staffed = False
    await tab.hello()
    saved = await tab.ask(question())
    assert saved["type"] == "offline_saved"
    assert [m.text for m in await rig.store.history(saved["conversation"]["id"])] == [
        "Can I renew a book by email?"]


async def test_with_email_off_the_form_promises_no_mail_and_needs_no_address(
    tmp_path: Path
) -> None:
    """When the library sends no mail, /widget/config says so (the widget then words the
    form as an answer in the chat) and the form is taken without an address."""
    rig = Rig(tmp_path, email=False)
    rig.staffed = False
    await rig.start()
    try:
        async with aiohttp.ClientSession(rig.url) as http:
            async with http.get("/widget/config") as response:
                assert (await response.json())["email"] is False
            tab = Tab(await http.ws_connect("/widget/ws"))
            await tab.hello()
            saved = await tab.ask(question(email=""))
            assert saved["type"] == "offline_saved" and saved["email"] == ""
            await tab.ws.close()
    finally:
        await rig.stop()

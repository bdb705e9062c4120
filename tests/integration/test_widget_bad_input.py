"""Bad input through the real widget server (issue 11 item 12): text no database can
store, a file name that is not UTF-8 and a frame nested too deep for the JSON reader are
answered with a clear frame, and whatever is accepted is stored and can be sent back."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from routing.model import Channel, Contact
from tests.integration.test_widget_files import PNG, FileRig, fetch
from tests.integration.test_widget_offline import Tab

NESTED = "[" * 8000


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[FileRig]:
    rig = FileRig(tmp_path)
    await rig.start()
    yield rig
    await rig.stop()


@pytest.fixture
async def http(rig: FileRig) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(rig.url) as session:
        yield session


@pytest.fixture
async def tab(http: aiohttp.ClientSession) -> AsyncIterator[Tab]:
    ws = await http.ws_connect("/widget/ws")
    tab = Tab(ws)
    await tab.hello()
    yield tab
    await ws.close()


async def _post(http: aiohttp.ClientSession, path: str, token: str | None,
                raw: str) -> tuple[int, dict[str, object]]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with http.post(path, data=raw.encode(), headers=headers) as response:
        return response.status, await response.json()


async def test_a_lone_surrogate_in_a_sent_text_is_stored(rig: FileRig, tab: Tab) -> None:
    """A 'send' frame whose text holds a lone surrogate (JSON's \\ud800) is stored, the
    surrogate shown as U+FFFD, instead of failing the database write."""
    await tab.ws.send_str('{"type": "send", "cid": "s1", "text": "buku \\ud800 ini"}')
    ack = await tab.next()
    assert ack["type"] == "ack", ack
    assert ack["message"]["text"] == "buku \ufffd ini"
    stored = await rig.store.history((await rig.conversation_of(tab.visitor)).id)
    assert [m.text for m in stored] == ["buku \ufffd ini"]


async def test_a_lone_surrogate_over_http_send_and_offline(
    rig: FileRig, http: aiohttp.ClientSession, tab: Tab
) -> None:
    """The HTTP send and the offline form take the same text and store it cleaned."""
    status, ack = await _post(http, "/widget/api/send", tab.token,
                              '{"cid": "h1", "text": "\\udfff tanya"}')
    assert status == 200 and ack["type"] == "ack", ack
    rig.librarians = 0
    status, saved = await _post(http, "/widget/api/offline", tab.token, json.dumps(
        {"cid": "o1", "name": "Ani", "email": "ani@example.org", "text": "x"})
        .replace('"x"', '"pertanyaan \\ud83d"'))
    assert status in (200, 400) and saved.get("code") != "internal", saved
    texts = [m.text for m in await rig.store.history(
        (await rig.conversation_of(tab.visitor)).id)]
    assert "\ufffd tanya" in texts


async def test_a_lone_surrogate_in_a_profile_name_is_refused_clearly(
    rig: FileRig, http: aiohttp.ClientSession, tab: Tab
) -> None:
    """A profile name with a lone surrogate is a 400 bad_name, over HTTP and the socket."""
    status, error = await _post(http, "/widget/api/profile", tab.token,
                                '{"name": "Sari \\udc80", "email": ""}')
    assert (status, error["code"]) == (400, "bad_name")
    await tab.ws.send_str('{"type": "profile", "name": "\\ud800", "email": ""}')
    assert (await tab.next())["code"] == "bad_name"
    patron = await rig.store.patron_by_contact(Contact(Channel.WIDGET, tab.visitor))
    assert patron is None or "\ud800" not in patron.name


async def test_a_frame_nested_too_deep_is_a_bad_frame_with_its_cid(
    http: aiohttp.ClientSession, tab: Tab
) -> None:
    """8,000 nested '[' are a bad_frame on the socket (the cid kept when the frame has
    one) and a 400 over HTTP, never 'internal' or a 500."""
    await tab.ws.send_str(NESTED)
    assert (await tab.next())["code"] == "bad_frame"
    await tab.ws.send_str('{"type": "send", "cid": "n1", "text": ' + NESTED + "}")
    error = await tab.next()
    assert (error["code"], error.get("cid")) == ("bad_frame", "n1")
    assert (await tab.ask({"type": "ping"}))["type"] == "pong"  # the socket stays open
    status, body = await _post(http, "/widget/api/send", tab.token, NESTED)
    assert (status, body["code"]) == (400, "bad_frame")
    status, body = await _post(http, "/widget/api/send", tab.token,
                               '{"cid": "n2", "text": ' + NESTED + "}")
    assert (status, body["code"], body.get("cid")) == (400, "bad_frame", "n2")


async def test_a_file_name_that_is_not_utf8_is_stored_and_downloadable(
    rig: FileRig, http: aiohttp.ClientSession, tab: Tab
) -> None:
    """A file name with invalid UTF-8 bytes is shown with U+FFFD: the upload answers 200
    and the file downloads with a valid Content-Disposition."""
    boundary = "pustakaBadNameBoundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"cid\"\r\n\r\nu1\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            ).encode() + b'filename="kartu\xff.png"\r\nContent-Type: image/png\r\n\r\n' + PNG + (
            f"\r\n--{boundary}--\r\n").encode()
    headers = {"Authorization": f"Bearer {tab.token}",
               "Content-Type": f"multipart/form-data; boundary={boundary}"}
    async with http.post("/widget/api/upload", data=body, headers=headers) as response:
        assert response.status == 200, await response.text()
        ack = await response.json()
    file = ack["message"]["attachments"][0]
    assert file["name"] == "kartu\ufffd.png"
    status, data, response_headers = await fetch(http, file["url"])
    assert (status, data) == (200, PNG)
    assert "kartu_.png" in response_headers["Content-Disposition"] or \
        "kartu" in response_headers["Content-Disposition"]

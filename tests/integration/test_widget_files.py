"""Files in the widget, over the real aiohttp server, router, SQLite store, blob store and
outbox worker: uploads become patron messages forwarded to the desk, refusals name the
file and the limit, downloads are bound to the visitor and served so they cannot run,
and edits and withdrawals of replies reach history.

The ``FileRig`` here (a widget server with files and the queue view, and a desk that
records what the outbox forwards to it) is shared with test_widget_queue.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import FilePayload, async_playwright, expect

from adapters.blobs import BlobStore
from adapters.files import FilePolicy
from adapters.widget.frames import error_frame
from adapters.widget.hub import WidgetHub, WidgetSender
from adapters.widget.queue_view import QueueWatch
from adapters.widget.render import file_url
from adapters.widget.server import WidgetServer, WidgetSettings
from adapters.widget.tokens import VisitorTokens
from adapters.widget.uploads import Uploads
from bridge.store.sqlite import SqliteStore
from routing.model import (
    Attachment,
    AttachmentKind,
    Channel,
    Contact,
    Conversation,
    Delivery,
    DeskReply,
    Inbound,
    Message,
    Patron,
)
from routing.outbox import DeliveryWorker
from routing.ports import Sent
from routing.router import Router
from tests.browser import CHROMIUM, require_chromium
from tests.eventually import eventually
from tests.integration.test_widget_offline import SECRET, Clock, Tab

LIMIT = 64 * 1024
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
PDF = b"%PDF-1.7\n" + b"reading list " * 200
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"


class DeskRecorder:
    """The desk's sender in this rig: records what the outbox forwards to the desk."""

    def __init__(self) -> None:
        self.sent: list[Message] = []

    def budget_keys(self, delivery: Delivery, conversation: Conversation, patron: Patron,
                    message: Message) -> tuple[str, ...]:
        return ()  # not Telegram: no budget

    async def send(self, delivery: Delivery, message: Message, conversation: Conversation,
                   patron: Patron) -> Sent:
        self.sent.append(message)
        return Sent(external_id=f"desk-{len(self.sent)}")


class FileRig:
    """A widget server with uploads, downloads and the queue view, over a real store."""

    def __init__(self, data_dir: Path, *, policy: FilePolicy | None = None,
                 per_minute: int = 600) -> None:
        self.clock = Clock()
        self.store = SqliteStore(data_dir / "pustaka.db")
        self.hub = WidgetHub(clock=self.clock.now)
        self.tokens = VisitorTokens(SECRET)
        self.blobs = BlobStore(data_dir / "blobs")
        self.desk = DeskRecorder()
        self.worker = DeliveryWorker(self.store, self.clock, {
            Channel.DESK: self.desk, Channel.WIDGET: WidgetSender(self.hub, tokens=self.tokens)})
        self.router = Router(self.store, self.clock, on_enqueue=self.worker.wake)
        self.librarians = 1
        self.queue = QueueWatch(self.hub, self.store, self.store.waiting,
                                lambda now: self.librarians, self.clock, interval=3600)
        self.policy = policy or FilePolicy(LIMIT, ("image/*", "application/pdf", "text/plain"))
        self.server = WidgetServer(
            self.router, self.hub, self.tokens,
            WidgetSettings(greeting={"en": "Hi"}, messages_per_minute=per_minute),
            blobs=self.blobs, files=self.policy, queue=self.queue)
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._replies = 0

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

    async def conversation_of(self, visitor: str) -> Conversation:
        patron = await self.store.patron_by_contact(Contact(Channel.WIDGET, visitor))
        assert patron is not None
        conversation = await self.store.latest_conversation(patron.id)
        assert conversation is not None
        return conversation

    async def answer(self, visitor: str, text: str,
                     files: Sequence[Attachment] = ()) -> Message:
        """A librarian's reply in the visitor's topic, delivered by the outbox worker."""
        self._replies += 1
        conversation = await self.conversation_of(visitor)
        reply = await self.router.desk.reply(DeskReply(conversation.id, "501", "Rina Kusuma", text,
                                                  external_id=str(9000 + self._replies),
                                                  attachments=tuple(files)))
        assert reply is not None
        await self.worker.run_until_idle()
        return reply

    async def desk_file(self, name: str, mime: str, data: bytes) -> Attachment:
        """A file as the desk adapter hands it to the router: bytes kept, record made."""
        stored = await self.blobs.put(data)
        return Attachment(AttachmentKind.DOCUMENT, name, mime, stored.size, stored.digest)


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
async def tab(rig: FileRig, http: aiohttp.ClientSession) -> AsyncIterator[Tab]:
    ws = await http.ws_connect("/widget/ws")
    tab = Tab(ws)
    await tab.hello()
    yield tab
    await ws.close()


def form(cid: str, text: str, *files: tuple[str, bytes, str]) -> aiohttp.FormData:
    """The upload form as a browser sends it (file names as they are, not %-quoted)."""
    data = aiohttp.FormData(quote_fields=False)
    data.add_field("cid", cid)
    data.add_field("text", text)
    for name, body, mime in files:
        data.add_field("file", body, filename=name, content_type=mime)
    return data


async def upload(http: aiohttp.ClientSession, token: str | None, data: aiohttp.FormData,
                 ) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.post("/widget/api/upload", data=data, headers=headers) as response:
        return response.status, await response.json()


async def fetch(http: aiohttp.ClientSession, url: str) -> tuple[int, bytes, Any]:
    async with http.get(url) as response:
        return response.status, await response.read(), response.headers


async def test_upload_is_stored_and_forwarded_to_the_desk(
    rig: FileRig, http: aiohttp.ClientSession, tab: Tab
) -> None:
    """An image and a PDF with a caption become one patron message: the ack lists both
    files with their sniffed types and links, the blob store holds the bytes, the patron's
    socket gets the message, and the outbox forwards it to the desk with its files."""
    status, ack = await upload(http, tab.token, form(
        "u1", "My library card, both sides", ("card.png", PNG, "image/png"),
        ("form.pdf", PDF, "application/octet-stream")))
    assert status == 200 and ack["type"] == "ack" and ack["cid"] == "u1"
    message = ack["message"]
    assert message["text"] == "My library card, both sides"
    files = message["attachments"]
    assert [(f["kind"], f["name"], f["mime"], f["size"]) for f in files] == [
        ("photo", "card.png", "image/png", len(PNG)),
        ("document", "form.pdf", "application/pdf", len(PDF))]
    pushed = await tab.ws.receive_json(timeout=5)
    assert pushed == {"type": "message", "message": message}
    stored = (await rig.store.history(message["conversation"]))[0]
    assert [a.digest for a in stored.attachments] == [hashlib.sha256(PNG).hexdigest(),
                                                      hashlib.sha256(PDF).hexdigest()]
    assert await rig.blobs.get(stored.attachments[0].digest) == PNG
    await rig.worker.run_until_idle()
    assert [(m.id, m.attachments) for m in rig.desk.sent] == [(stored.id, stored.attachments)]
    for file, body in zip(files, (PNG, PDF), strict=True):
        assert (await fetch(http, file["url"]))[:2] == (200, body)


async def test_a_resent_upload_is_one_message(
    rig: FileRig, http: aiohttp.ClientSession, tab: Tab
) -> None:
    """Sending the same upload again with the same cid (its answer was lost) stores one
    message and forwards it once."""
    first = await upload(http, tab.token, form("u1", "", ("card.png", PNG, "image/png")))
    again = await upload(http, tab.token, form("u1", "", ("card.png", PNG, "image/png")))
    assert first[0] == again[0] == 200
    assert first[1]["message"]["id"] == again[1]["message"]["id"]
    assert first[1]["message"]["text"] == ""
    await rig.worker.run_until_idle()
    assert len(rig.desk.sent) == 1
    assert len(await rig.store.history(first[1]["message"]["conversation"])) == 1


async def test_an_oversize_file_is_refused_by_name_and_nothing_is_kept(
    rig: FileRig, http: aiohttp.ClientSession, tab: Tab
) -> None:
    """A file one byte over files.max_bytes is refused with 413 file_too_big, naming the
    file and the limit; no message is stored and the big file's bytes are not kept."""
    big = PNG + bytes(LIMIT + 1 - len(PNG))
    status, error = await upload(http, tab.token, form(
        "u1", "Caption", ("fine.png", PNG, "image/png"), ("scan of my card.png", big, "image/png")))
    assert status == 413
    assert (error["code"], error["cid"], error["file"]) == ("file_too_big", "u1",
                                                            "scan of my card.png")
    assert "scan of my card.png" in error["message"] and "64 KB limit" in error["message"]
    assert await rig.store.patron_by_contact(Contact(Channel.WIDGET, tab.visitor)) is None
    assert await rig.blobs.get(hashlib.sha256(big).hexdigest()) is None


async def test_html_dressed_as_png_is_read_by_its_bytes_and_refused(
    rig: FileRig, http: aiohttp.ClientSession, tab: Tab
) -> None:
    """A page of HTML named cat.png and declared image/png is not an image by its bytes:
    it is refused (415 file_type, naming it and what its bytes are) and never stored."""
    status, error = await upload(http, tab.token, form("u1", "", ("cat.png", HTML, "image/png")))
    assert status == 415
    assert (error["code"], error["file"]) == ("file_type", "cat.png")
    assert "image/png" in error["message"] and "text/html" in error["message"]
    assert await rig.blobs.get(hashlib.sha256(HTML).hexdigest()) is None


async def test_html_accepted_as_text_is_served_as_plain_text_to_download(
    tmp_path: Path
) -> None:
    """With text/plain allowed, HTML declared as text/plain is kept, and served with its
    declared plain type as an attachment, nosniff and a sandboxing CSP: never as a page."""
    rig = FileRig(tmp_path, policy=FilePolicy(LIMIT, ("text/plain",)))
    await rig.start()
    try:
        async with aiohttp.ClientSession(rig.url) as http:
            tab = Tab(await http.ws_connect("/widget/ws"))
            await tab.hello()
            status, ack = await upload(http, tab.token,
                                       form("u1", "", ("notes.txt", HTML, "text/plain")))
            assert status == 200
            code, body, headers = await fetch(http, ack["message"]["attachments"][0]["url"])
            assert (code, body) == (200, HTML)
            assert headers["Content-Type"].startswith("text/plain")
            assert headers["Content-Disposition"].startswith("attachment;")
            assert headers["X-Content-Type-Options"] == "nosniff"
            assert "sandbox" in headers["Content-Security-Policy"]
            await tab.ws.close()
    finally:
        await rig.stop()


async def test_a_caption_too_long_or_a_missing_cid_keeps_no_file(
    rig: FileRig, http: aiohttp.ClientSession, tab: Tab
) -> None:
    """A caption over the text limit (too_long, with the cid) and a form without a cid
    before its files (bad_frame) are refused before any of their bytes are kept."""
    status, error = await upload(http, tab.token, form(
        "u1", "x" * 4001, ("card.png", PNG, "image/png")))
    assert (status, error["code"], error["cid"]) == (400, "too_long", "u1")
    assert "4001 characters; the limit is 4000" in error["message"]
    nameless = aiohttp.FormData(quote_fields=False)
    nameless.add_field("file", PNG, filename="card.png", content_type="image/png")
    status, error = await upload(http, tab.token, nameless)
    assert (status, error["code"]) == (400, "bad_frame")
    assert await rig.blobs.get(hashlib.sha256(PNG).hexdigest()) is None


async def test_too_many_files_a_bad_token_and_files_off_are_refused(
    tmp_path: Path
) -> None:
    """Eleven files are refused (too_many_files), a forged token gets 401, and a library
    that takes no files answers files_off and says so in /widget/config."""
    rig = FileRig(tmp_path)
    (tmp_path / "off").mkdir()
    off = FileRig(tmp_path / "off", policy=FilePolicy(LIMIT, ("image/*",), enabled=False))
    await rig.start()
    await off.start()
    try:
        async with aiohttp.ClientSession(rig.url) as http:
            tab = Tab(await http.ws_connect("/widget/ws"))
            await tab.hello()
            eleven = [(f"p{n}.png", PNG + bytes([n]), "image/png") for n in range(11)]
            status, error = await upload(http, tab.token, form("u1", "", *eleven))
            assert (status, error["code"]) == (413, "too_many_files")
            status, error = await upload(http, "v1.someone.0000", form("u2", "", eleven[0]))
            assert (status, error["code"]) == (401, "bad_token")
            async with http.get("/widget/config") as response:
                assert (await response.json())["files"]["enabled"] is True
            await tab.ws.close()
        async with aiohttp.ClientSession(off.url) as http:
            async with http.get("/widget/config") as response:
                assert (await response.json())["files"] == {
                    "enabled": False, "max_bytes": LIMIT, "max_files": 10, "types": ["image/*"]}
            async with http.post("/widget/api/hello", json={}) as response:
                token = (await response.json())["token"]
            status, error = await upload(http, token, form("u1", "", eleven[0]))
            assert (status, error["code"]) == (403, "files_off")
    finally:
        await rig.stop()
        await off.stop()


async def test_uploads_share_the_visitors_rate_limit(tmp_path: Path) -> None:
    """Uploads are limited per visitor like messages: past the burst they get 429
    rate_limited, even though each arrives as its own HTTP call."""
    rig = FileRig(tmp_path, per_minute=6)
    await rig.start()
    try:
        async with aiohttp.ClientSession(rig.url) as http:
            async with http.post("/widget/api/hello", json={}) as response:
                token = (await response.json())["token"]
            answers = [await upload(http, token, form(f"u{n}", "", (f"{n}.png", PNG, "image/png")))
                       for n in range(6)]
        assert [status for status, _ in answers] == [200] * 5 + [429]
        assert answers[-1][1]["code"] == "rate_limited"
    finally:
        await rig.stop()


async def test_a_blocked_patron_cannot_upload(
    rig: FileRig, http: aiohttp.ClientSession, tab: Tab
) -> None:
    """An upload takes the same path as a text: a blocked patron gets 403 blocked with the
    library's words, and nothing more is stored or forwarded."""
    status, ack = await upload(http, tab.token, form("u1", "Hello", ("a.png", PNG, "image/png")))
    assert status == 200
    await rig.router.moderation.block(ack["message"]["conversation"], None, "Rina Kusuma")
    await rig.worker.run_until_idle()
    status, error = await upload(http, tab.token, form("u2", "", ("b.pdf", PDF, "application/pdf")))
    assert (status, error["code"], error["cid"]) == (403, "blocked", "u2")
    assert len(await rig.store.history(ack["message"]["conversation"])) == 1
    assert len(rig.desk.sent) == 1


async def test_file_links_work_only_for_their_own_visitor(
    rig: FileRig, http: aiohttp.ClientSession, tab: Tab
) -> None:
    """A file link is refused (403) when its visitor, digest or signature is edited or
    missing, and a genuinely signed link to a file outside the visitor's conversation
    finds nothing (404)."""
    _, ack = await upload(http, tab.token, form("u1", "", ("card.png", PNG, "image/png")))
    url = ack["message"]["attachments"][0]["url"]
    assert (await fetch(http, url))[0] == 200
    parts = urlsplit(url)
    digest = parts.path.rsplit("/", 1)[-1]
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    other = Tab(await http.ws_connect("/widget/ws"))
    await other.hello()
    guessed = hashlib.sha256(b"some other file").hexdigest()
    refused = [
        f"{parts.path}?v={other.visitor}&s={query['s']}",  # another visitor, same link
        f"/widget/files/{guessed}?v={query['v']}&s={query['s']}",  # a guessed digest
        f"{parts.path}?v={query['v']}&s={'0' * 32}",
        f"{parts.path}?v={query['v']}",
        f"/widget/files/..%2F..%2Fpustaka.db?v={query['v']}&s={query['s']}",
    ]
    for bad in refused:
        assert (await fetch(http, bad))[0] == 403, bad
    signature = rig.tokens.file_signature(other.visitor, digest)
    signed_for_other = f"{parts.path}?v={other.visitor}&s={signature}"
    assert (await fetch(http, signed_for_other))[0] == 404
    await other.ws.close()


async def test_a_librarians_files_download_with_safe_headers(
    rig: FileRig, http: aiohttp.ClientSession, tab: Tab
) -> None:
    """A librarian's image is served inline as an image; a document as an attachment under
    its RFC 6266 name; a file the desk labelled text/html is served as bytes, never HTML;
    each with nosniff and a sandboxing CSP, and the same bytes."""
    await tab.ask({"type": "send", "cid": "c1", "text": "Can you send the form?"})
    name = 'Formulir "anggota" é.pdf'
    files = [await rig.desk_file("map.png", "image/png", PNG),
             await rig.desk_file(name, "application/pdf", PDF),
             await rig.desk_file("page.html", "text/html", HTML)]
    await rig.answer(tab.visitor, "Here it is", files)
    frame = await tab.ws.receive_json(timeout=5)
    while frame["message"]["direction"] != "librarian" or frame["message"]["event"]:
        frame = await tab.ws.receive_json(timeout=5)
    links = [a["url"] for a in frame["message"]["attachments"]]
    got = [await fetch(http, url) for url in links]
    assert [(status, body) for status, body, _ in got] == [(200, PNG), (200, PDF), (200, HTML)]
    image, document, page = (headers for _, _, headers in got)
    assert image["Content-Type"] == "image/png"
    assert image["Content-Disposition"] == 'inline; filename="map.png"; filename*=UTF-8\'\'map.png'
    assert document["Content-Type"] == "application/pdf"
    assert document["Content-Disposition"] == (
        "attachment; filename=\"Formulir _anggota_ e.pdf\"; "
        "filename*=UTF-8''Formulir%20%22anggota%22%20%C3%A9.pdf")
    assert page["Content-Type"] == "application/octet-stream"
    assert page["Content-Disposition"].startswith("attachment;")
    for headers in (image, document, page):
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Content-Security-Policy"] == "default-src 'none'; sandbox"


async def test_edits_and_withdrawals_reach_history(
    rig: FileRig, http: aiohttp.ClientSession, tab: Tab
) -> None:
    """An edited reply arrives as an "edited" line naming the original; a withdrawn one
    leaves history without its text or files, and its file link stops working."""
    await tab.ask({"type": "send", "cid": "c1", "text": "Opening hours?"})
    wrong = await rig.answer(tab.visitor, "We open at 8.")
    edit = await rig.router.desk.edit(wrong.conversation_id, wrong.external_id, "We open at 9.",
                                      "e1")
    assert edit is not None
    slip = await rig.answer(tab.visitor, "Another patron's list",
                            [await rig.desk_file("list.pdf", "application/pdf", PDF)])
    await rig.worker.run_until_idle()
    before = Tab(await http.ws_connect("/widget/ws"))
    shown = (await before.hello(tab.token))["history"]
    link = next(m for m in shown if m["id"] == slip.id)["attachments"][0]["url"]
    assert (await fetch(http, link))[0] == 200
    withdrawn = await rig.router.desk.withdraw(slip.conversation_id, slip.external_id,
                                               "Rina Kusuma")
    assert withdrawn is not None
    await rig.worker.run_until_idle()
    fresh = Tab(await http.ws_connect("/widget/ws"))
    history = {m["id"]: m for m in (await fresh.hello(tab.token))["history"]}
    assert (history[edit.id]["event"], history[edit.id]["replaces"],
            history[edit.id]["text"]) == ("edited", wrong.id, "We open at 9.")
    assert (history[slip.id]["text"], history[slip.id]["attachments"]) == ("", [])
    assert (history[withdrawn.id]["event"], history[withdrawn.id]["replaces"]) == (
        "withdrawn", slip.id)
    assert (await fetch(http, link))[0] == 404
    await before.ws.close()
    await fresh.ws.close()


# -- what a refused or stalled upload may cost, and long conversations -------------------


def files_in(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def disk(rig: FileRig) -> list[Path]:
    """Every file under the blob store's folder, spooled ones included."""
    return files_in(rig.blobs.path("0" * 64).parents[2])


async def raw_upload(url: str, token: str | None, body: bytes, *, end: bool = True,
                     ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """An upload as a chunked body without Content-Length, written by hand: ``end``
    False leaves it open, as a stalled browser does."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(b"POST /widget/api/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                 + (token or "").encode() + b"\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n" + f"{len(body):x}\r\n".encode()
                 + body + b"\r\n" + (b"0\r\n\r\n" if end else b""))
    await writer.drain()
    return reader, writer


async def answer_of(reader: asyncio.StreamReader) -> tuple[int, dict[str, Any]]:
    """The status and JSON body of the answer to a raw upload (guarded: a server that
    never answers fails the test instead of hanging it)."""
    async with asyncio.timeout(20):
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:")))
        body = await reader.readexactly(length)
    return int(head.split(b" ")[1]), json.loads(body)


# A form that stops sending halfway through its file.
STALLED = (b'--b\r\nContent-Disposition: form-data; name="cid"\r\n\r\nx\r\n--b\r\n'
           b'Content-Disposition: form-data; name="file"; filename="a.png"\r\n'
           b'Content-Type: image/png\r\n\r\n' + PNG + bytes(30000))


async def test_a_form_refused_halfway_leaves_nothing_on_disk(
    rig: FileRig, http: aiohttp.ClientSession, tab: Tab
) -> None:
    """Nine good images followed by a page of HTML: the upload is refused at the HTML
    (415, its index 9), and none of the nine images, nor any spooled part, stays on disk."""
    files = [(f"p{n}.png", PNG + bytes([n]) * 3000, "image/png") for n in range(9)]
    status, error = await upload(http, tab.token, form(
        "u1", "", *files, ("evil.html", HTML, "text/html")))
    assert (status, error["code"], error["file"], error["index"]) == (415, "file_type",
                                                                       "evil.html", 9)
    assert disk(rig) == []


async def test_refused_uploads_spend_the_visitors_budget(tmp_path: Path) -> None:
    """The rate budget is spent before a form is read: after five refused uploads a good
    one is refused too (429), and nothing of any of them is kept."""
    rig = FileRig(tmp_path, per_minute=6)
    await rig.start()
    try:
        async with aiohttp.ClientSession(rig.url) as http:
            async with http.post("/widget/api/hello", json={}) as response:
                token = (await response.json())["token"]
            refused = [await upload(http, token, form(f"u{n}", "", ("x.png", HTML, "image/png")))
                       for n in range(5)]
            assert [status for status, _ in refused] == [415] * 5
            status, error = await upload(http, token, form("u9", "", ("a.png", PNG, "image/png")))
            assert (status, error["code"]) == (429, "rate_limited")
        assert disk(rig) == []
    finally:
        await rig.stop()


async def test_parallel_uploads_keep_only_the_files_of_accepted_messages(
    tmp_path: Path
) -> None:
    """Eight uploads of one visitor at once with a budget of five: five messages are
    stored, three are refused (429), and the disk holds the five messages' files only."""
    rig = FileRig(tmp_path, per_minute=6)
    await rig.start()
    try:
        async with aiohttp.ClientSession(rig.url) as http:
            async with http.post("/widget/api/hello", json={}) as response:
                token = (await response.json())["token"]
            answers = await asyncio.gather(*(
                upload(http, token, form(f"u{n}", "", (f"{n}.png", PNG + bytes([n]) * 9000,
                                                       "image/png")))
                for n in range(8)))
        assert sorted(status for status, _ in answers) == [200] * 5 + [429] * 3
        kept = {hashlib.sha256(PNG + bytes([n]) * 9000).hexdigest()
                for n, (status, _) in enumerate(answers) if status == 200}
        assert {p.name for p in disk(rig)} == kept
    finally:
        await rig.stop()


async def test_a_blocked_patrons_upload_keeps_no_new_file_and_no_old_one_is_lost(
    rig: FileRig, http: aiohttp.ClientSession, tab: Tab
) -> None:
    """A blocked patron's upload (403 blocked, with its cid) stores none of its new files,
    and a file it repeats from an earlier message stays in the store."""
    status, ack = await upload(http, tab.token, form("u1", "", ("a.png", PNG, "image/png")))
    assert status == 200
    await rig.router.moderation.block(ack["message"]["conversation"], None, "Rina Kusuma")
    status, error = await upload(http, tab.token, form(
        "u2", "", ("a.png", PNG, "image/png"), ("b.pdf", PDF, "application/pdf")))
    assert (status, error["code"], error["cid"]) == (403, "blocked", "u2")
    assert [p.name for p in disk(rig)] == [hashlib.sha256(PNG).hexdigest()]


async def test_a_refused_messages_files_go_unless_they_were_there_or_stored_since(
    tmp_path: Path
) -> None:
    """The blob store's claims: a released unused file this claim created is removed; one
    stored before, one stored by someone else while claimed, or one another claim used,
    stays; a discarded spool leaves nothing."""
    blobs = BlobStore(tmp_path)

    async def claimed(data: bytes) -> str:
        spool = await blobs.spool()
        await spool.write(data)
        return (await blobs.commit(spool)).digest

    before = (await blobs.put(b"kept before")).digest
    blobs.release(await claimed(b"kept before"), used=False)
    fresh = await claimed(b"fresh")
    blobs.release(fresh, used=False)
    shared = await claimed(b"shared")
    await blobs.put(b"shared")  # another channel stores the same bytes meanwhile
    blobs.release(shared, used=False)
    twice = await claimed(b"twice")
    await claimed(b"twice")
    blobs.release(twice, used=False)
    blobs.release(twice, used=True)
    dropped = await blobs.spool()
    await dropped.write(b"never committed")
    dropped.discard()
    assert await blobs.get(fresh) is None
    assert [await blobs.get(d) for d in (before, shared, twice)] == [
        b"kept before", b"shared", b"twice"]
    assert sorted(p.name for p in files_in(tmp_path)) == sorted(
        (before, shared, twice))


async def test_one_visitors_stalled_uploads_hold_one_slot_and_the_rest_are_busy(
    rig: FileRig, http: aiohttp.ClientSession, tab: Tab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight stalled uploads of one visitor take one slot: the extra seven are answered
    503 busy, and another visitor's upload goes through meanwhile."""
    monkeypatch.setattr(Uploads, "slot_wait", 0.3)
    stalled = [await raw_upload(rig.url, tab.token, STALLED, end=False) for _ in range(8)]
    other = Tab(await http.ws_connect("/widget/ws"))
    await other.hello()
    async with asyncio.timeout(20):
        status, _ = await upload(http, other.token, form("v1", "", ("a.png", PNG, "image/png")))
    assert status == 200
    answers = await asyncio.gather(*(answer_of(reader) for reader, _ in stalled[1:]))
    assert {(status, body["code"]) for status, body in answers} == {(503, "busy")}
    for _, writer in stalled:
        writer.close()
    await other.ws.close()


def count_slots(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """How many upload slots are held right now, counted around ``Uploads._slot``."""
    held = [0]
    slot = Uploads._slot

    @asynccontextmanager
    async def counted(self: Uploads, visitor: str) -> AsyncIterator[None]:
        async with slot(self, visitor):
            held[0] += 1
            try:
                yield
            finally:
                held[0] -= 1

    monkeypatch.setattr(Uploads, "_slot", counted)
    return lambda: held[0]


async def test_when_every_slot_is_taken_an_upload_is_told_to_try_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight visitors' stalled uploads take all eight slots; a ninth visitor's upload is
    answered 503 busy once no slot frees up in time, not left waiting."""
    monkeypatch.setattr(Uploads, "slot_wait", 0.3)
    taken = count_slots(monkeypatch)
    rig = FileRig(tmp_path)
    await rig.start()
    try:
        async with aiohttp.ClientSession(rig.url) as http:
            tokens = []
            for _ in range(9):
                async with http.post("/widget/api/hello", json={}) as response:
                    tokens.append((await response.json())["token"])
            stalled = [await raw_upload(rig.url, token, STALLED, end=False)
                       for token in tokens[:8]]
            await eventually(lambda: taken() == 8)  # the eight hold every slot
            async with asyncio.timeout(20):
                status, error = await upload(http, tokens[8],
                                             form("u1", "", ("a.png", PNG, "image/png")))
            assert (status, error["code"]) == (503, "busy")
            for _, writer in stalled:
                writer.close()
    finally:
        await rig.stop()


async def test_a_stalled_upload_is_cut_off_and_frees_its_slot(
    rig: FileRig, http: aiohttp.ClientSession, tab: Tab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An upload that stops sending is answered 408 too_slow when its read time is up,
    keeps nothing, and the visitor can upload again."""
    monkeypatch.setattr(Uploads, "read_grace", 0.2)
    monkeypatch.setattr(Uploads, "max_read", 0.2)
    reader, writer = await raw_upload(rig.url, tab.token, STALLED, end=False)
    status, error = await answer_of(reader)
    assert (status, error["code"], error["cid"]) == (408, "too_slow", "x")
    writer.close()
    assert disk(rig) == []
    monkeypatch.setattr(Uploads, "max_read", 30.0)
    assert (await upload(http, tab.token, form("u1", "", ("a.png", PNG, "image/png"))))[0] == 200


async def test_unknown_fields_and_an_endless_chunked_body_are_refused(
    rig: FileRig, http: aiohttp.ClientSession, tab: Tab
) -> None:
    """A form with a field the upload does not know (or the caption twice) is refused
    400 bad_upload naming it, and a chunked body that keeps sending past the whole
    request's limit is cut off with 413 too_big."""
    data = form("u1", "", ("a.png", PNG, "image/png"))
    data.add_field("junk", "x" * 1000)
    status, error = await upload(http, tab.token, data)
    assert (status, error["code"]) == (400, "bad_upload") and "'junk'" in error["message"]
    twice = form("u2", "one")
    twice.add_field("text", "two")
    twice.add_field("file", PNG, filename="a.png", content_type="image/png")
    assert (await upload(http, tab.token, twice))[1]["code"] == "bad_upload"
    preamble = b"x" * 1000 + b"\r\n"
    endless = preamble * (960 * 1024 // len(preamble))  # past the rig's ~900 KB limit
    reader, writer = await raw_upload(rig.url, tab.token, endless, end=False)
    assert await answer_of(reader) == (413, error_frame(
        "too_big", "The upload is larger than the limit."))
    writer.close()
    assert disk(rig) == []


async def test_files_past_the_500th_message_are_found_and_withdrawn(
    rig: FileRig, http: aiohttp.ClientSession, tab: Tab
) -> None:
    """Downloads look through the whole conversation: a file sent after its 500th
    message downloads, an early one still does, and a reply withdrawn after the 500th
    message stops downloading although its link worked before."""
    _, early = await upload(http, tab.token, form("f0", "", ("a.png", PNG, "image/png")))
    reply_file = await rig.desk_file("private.pdf", "application/pdf", PDF)
    reply = await rig.answer(tab.visitor, "here", [reply_file])
    private = file_url(rig.tokens, tab.visitor, reply_file.digest)
    assert (await fetch(http, private))[0] == 200
    for n in range(500):
        await rig.router.intake.accept(Inbound(Channel.WIDGET, tab.visitor, f"line {n}",
                                        client_id=f"t{n}"))
    status, late = await upload(http, tab.token, form("f1", "", ("b.png", PNG + b"x",
                                                                 "image/png")))
    assert status == 200
    assert (await fetch(http, late["message"]["attachments"][0]["url"]))[0] == 200
    assert (await fetch(http, early["message"]["attachments"][0]["url"]))[0] == 200
    withdrawn = await rig.router.desk.withdraw(reply.conversation_id, reply.external_id, "Rina")
    assert withdrawn is not None
    assert (await fetch(http, private))[0] == 404


async def test_the_widget_drops_the_refused_file_by_its_place_not_its_name(
    rig: FileRig
) -> None:
    """In a real browser, a refused file whose name the server shortens is taken out of
    the tray by the index the server reports: the good file goes back to the tray alone."""
    require_chromium()
    long_name = "a" * 300 + ".png"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                   headless=True, args=["--no-sandbox"])
        try:
            page = await browser.new_page()
            await page.goto(rig.url + "/widget/config")
            await page.set_content('<script src="/widget.js"></script>')
            await page.wait_for_function("window.PustakaChat && window.PustakaChat.state().ready")
            await page.locator('[part="launcher"]').click()
            await page.wait_for_function("window.PustakaChat.state().connected")
            await page.locator('input[part="file-input"]').set_input_files([
                FilePayload(name="good.png", mimeType="image/png", buffer=PNG),
                FilePayload(name=long_name, mimeType="image/png", buffer=HTML)])
            await page.locator('textarea[part="input"]').press("Enter")
            await expect(page.locator('[part="error"]')).to_contain_text("aaaa")
            await expect(page.locator('[part="chip"]')).to_have_count(1)
            await expect(page.locator('[part="chip"]')).to_contain_text("good.png")
        finally:
            await browser.close()


def test_half_received_uploads_are_cleared_at_start(tmp_path: Path) -> None:
    """Spooled files a killed process left behind are removed when the store starts
    over; stored files stay."""
    blobs = BlobStore(tmp_path)
    kept = blobs.put_sync(b"a stored file")
    spool = tmp_path / ".spool"
    spool.mkdir()
    (spool / "tmpabc.part").write_bytes(b"half an upload")
    assert blobs.clear_spool() == 1
    assert list(spool.iterdir()) == [] and blobs.path(kept.digest).exists()

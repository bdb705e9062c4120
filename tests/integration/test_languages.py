"""Patrons' languages end to end: the texts endpoint of the real bridge, a widget saying
its language in ``hello`` (the desk's card names it, system lines come in it) through the
real socket, python-telegram-bot and the Bot API emulator, and the offline form's
acknowledgement in Indonesian through the real EmailSender and aiosmtpd."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters.email.settings import EmailSettings
from adapters.email.smtp import EmailSender
from adapters.i18n import Catalog
from bridge.channels import offline_ack
from bridge.config import load_config
from bridge.demo import demo_bridge
from routing.model import Channel, Contact, Delivery, DeliveryKind, Direction, Message, new_id
from tests.integration.mailservers import LIBRARY, SmtpRecorder
from tests.integration.test_slice import Desk, eventually
from tests.integration.test_widget_offline import Rig, Tab, question

pytest_plugins = ["tests.integration.mail_fixtures"]  # the smtp_server fixture
pytestmark = pytest.mark.timeout(60)

OVERRIDES = {"widget": {"language": "id", "texts": {"de": {"send": "Abschicken"}}}}


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    """The demo bridge and emulator, the library's own German word for "Send" and
    Indonesian as its default language."""
    bridge, emulator, _ = await demo_bridge("127.0.0.1", 0, tmp_path, rate_limits=False,
                                            desk_port=0, overrides=OVERRIDES)
    try:
        yield Desk(bridge, emulator, tmp_path)
    finally:
        await bridge.stop()
        await emulator.stop()


async def get(url: str, **headers: str) -> tuple[aiohttp.ClientResponse, bytes]:
    """The response and its body as sent (aiohttp's default gzip offer only when asked)."""
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        async with http.get(url, headers={"Accept-Encoding": "identity", **headers}) as response:
            return response, await response.read()


class TestTextsEndpoint:
    async def test_a_language_is_served_with_the_library_overrides(self, desk: Desk) -> None:
        """GET /widget/texts/de.json is German with the library's own "Send", its _meta
        (direction included), a long cache, an ETag and CORS for any embedding site."""
        response, body = await get(f"{desk.bridge.url}/widget/texts/de.json")
        texts = json.loads(body)
        assert response.status == 200 and response.content_type == "application/json"
        assert texts["send"] == "Abschicken" and texts["save"] == "Speichern"
        assert texts["_meta"]["dir"] == "ltr" and texts["_meta"]["name"] == "Deutsch"
        assert set(texts) == set(Catalog.bundled().language("en").json())
        assert "max-age=86400" in response.headers["Cache-Control"]
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert response.headers["ETag"].startswith('"')
        assert response.headers["X-Content-Type-Options"] == "nosniff"

    async def test_an_unchanged_copy_is_revalidated_without_a_body(self, desk: Desk) -> None:
        """If-None-Match with the ETag answers 304 and no body."""
        first, _ = await get(f"{desk.bridge.url}/widget/texts/ar.json")
        again, body = await get(f"{desk.bridge.url}/widget/texts/ar.json",
                                **{"If-None-Match": first.headers["ETag"]})
        assert again.status == 304 and body == b""

    async def test_gzip_when_the_browser_takes_it(self, desk: Desk) -> None:
        """A browser that accepts gzip gets the body compressed; it is the same JSON."""
        plain, raw = await get(f"{desk.bridge.url}/widget/texts/ar.json")
        packed, body = await get(f"{desk.bridge.url}/widget/texts/ar.json",
                                 **{"Accept-Encoding": "gzip"})
        assert packed.headers["Content-Encoding"] == "gzip" and len(body) < len(raw)
        assert json.loads(gzip.decompress(body)) == json.loads(raw)
        assert json.loads(raw)["_meta"]["dir"] == "rtl"
        assert "Content-Encoding" not in plain.headers

    @pytest.mark.parametrize("name,served", [("pt-BR.json", "pt"), ("zh-Hans-CN.json", "zh"),
                                             ("nl.json", "id")])
    async def test_a_tag_gets_its_language_or_the_default(self, desk: Desk, name: str,
                                                          served: str) -> None:
        """A regional tag gets its language; one the library lacks gets its default."""
        response, body = await get(f"{desk.bridge.url}/widget/texts/{name}")
        assert response.headers["Content-Language"] == served
        assert json.loads(body)["_meta"]["code"] == served

    async def test_config_lists_the_languages_and_the_default(self, desk: Desk) -> None:
        """/widget/config names every language with texts and the library's default."""
        _, body = await get(f"{desk.bridge.url}/widget/config")
        config = json.loads(body)
        assert config["languages"] == list(Catalog.bundled().codes)
        assert config["language"] == "id"
        assert config["greeting"]["fr"].startswith("Bonjour ! Posez-nous")
        assert config["greeting"]["en"] == load_config(None, env={}).widget.greeting_en

    async def test_anything_but_a_json_name_is_not_found(self, desk: Desk) -> None:
        """Only <language>.json is served."""
        response, _ = await get(f"{desk.bridge.url}/widget/texts/de.txt")
        assert response.status == 404


class Widget:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []

    async def hello(self, lang: str, token: str | None = None) -> dict[str, Any]:
        await self.ws.send_json({"type": "hello", "token": token, "since": None,
                                 "page": {"url": "https://library.example/", "title": "Home"},
                                 "lang": lang, "tz": "Europe/Vienna"})
        return await self.next("welcome")

    async def next(self, kind: str) -> dict[str, Any]:
        while True:
            for i, frame in enumerate(self.frames):
                if frame["type"] == kind:
                    return self.frames.pop(i)
            self.frames.append(await self.ws.receive_json(timeout=5))


async def test_hello_language_reaches_the_card_and_system_lines(desk: Desk) -> None:
    """A widget saying "de-AT" in hello: the desk's card names German, the patron is kept
    as German, and the "is answering" line reaches the widget, live and in history, in
    German, while the desk reads its own English."""
    async with aiohttp.ClientSession() as http:
        widget = Widget(await http.ws_connect(f"{desk.bridge.url}/widget/ws"))
        welcome = await widget.hello("de-AT")
        await widget.ws.send_json({"type": "send", "cid": "c1", "text": "Haben Sie Zeitungen?"})
        await widget.next("ack")
        topic = (await eventually(desk.topics))[0]["message_thread_id"]
        card = await eventually(lambda: desk.emulator.messages(desk.group, topic)[1:])
        assert "Language: German (Deutsch, de)" in card[0]["text"]
        desk.emulator.user_sends(desk.group, desk.librarian, "Ja, im ersten Stock.",
                                 message_thread_id=topic)
        claimed = await widget.next("message")
        assert claimed["message"]["event"] == "claimed"
        assert claimed["message"]["text"] == "Sari Dewi antwortet"
        await eventually(lambda: any("Sari Dewi is answering" in t for t in desk.texts(topic)))
        again = Widget(await http.ws_connect(f"{desk.bridge.url}/widget/ws"))
        history = (await again.hello("de", welcome["token"]))["history"]
        assert [m["text"] for m in history if m["event"] == "claimed"] == ["Sari Dewi antwortet"]
    patron = await desk.bridge.store.patron_by_contact(Contact(Channel.WIDGET,
                                                               welcome["visitor"]))
    assert patron is not None and patron.language == "de"


async def test_offline_acknowledgement_in_indonesian(tmp_path: Path,
                                                     smtp_server: SmtpRecorder) -> None:
    """The offline form from a widget in Indonesian is acknowledged in Indonesian: the
    subject, the text and the chat link, through the bridge's own hook and aiosmtpd."""
    rig = Rig(tmp_path)
    rig.staffed = False
    await rig.start()
    settings = EmailSettings(smtp_host=smtp_server.host, smtp_port=smtp_server.port,
                             smtp_starttls=False, smtp_timeout=10.0, from_address=LIBRARY,
                             from_name="Perpustakaan Kota", help_address=LIBRARY)
    sender = EmailSender(settings, rig.store, library_name="Perpustakaan Kota",
                         clock=rig.clock, resume_link=lambda c, p: "https://library.example/")
    config = load_config(None, env={}, library={"name": "Perpustakaan Kota"})
    rig.acknowledge = offline_ack(config, sender)
    try:
        async with aiohttp.ClientSession(rig.url) as http:
            tab = Tab(await http.ws_connect("/widget/ws"))
            await tab.ws.send_json({"type": "hello", "token": None, "lang": "id-ID",
                                    "page": {"url": "https://library.example/"}})
            visitor = (await tab.next())["visitor"]
            saved = await tab.ask(question())
        assert saved["type"] == "offline_saved"
        [ack] = smtp_server.received
        assert str(ack.message["Subject"]) == "Auto: Perpustakaan Kota: pertanyaan Anda"
        body = ack.message.get_body(("plain",))
        assert body is not None
        text = body.get_content()
        assert "Terima kasih atas pertanyaan Anda. Perpustakaan sedang tutup" in text
        assert "Lanjutkan percakapan ini di chat: https://library.example/" in text
        patron = await rig.patron(visitor)
        assert patron is not None and patron.language == "id"
    finally:
        await rig.stop()


async def test_reply_and_rating_mails_in_the_patron_language(
    tmp_path: Path, smtp_server: SmtpRecorder
) -> None:
    """A French widget patron's emailed reply has a French subject and chat link, and the
    rating request comes in French alone, not in every library language."""
    rig = Rig(tmp_path)
    rig.staffed = False
    await rig.start()
    settings = EmailSettings(smtp_host=smtp_server.host, smtp_port=smtp_server.port,
                             smtp_starttls=False, smtp_timeout=10.0, from_address=LIBRARY,
                             from_name="Perpustakaan Kota", help_address=LIBRARY)
    sender = EmailSender(settings, rig.store, library_name="Perpustakaan Kota",
                         clock=rig.clock, resume_link=lambda c, p: "https://library.example/")
    try:
        async with aiohttp.ClientSession(rig.url) as http:
            tab = Tab(await http.ws_connect("/widget/ws"))
            await tab.ws.send_json({"type": "hello", "token": None, "lang": "fr-BE",
                                    "page": {"url": "https://library.example/"}})
            visitor = (await tab.next())["visitor"]
            await tab.ask(question(email="ana@example.org", text="Ouvert samedi ?"))
        patron = await rig.patron(visitor)
        assert patron is not None and patron.language == "fr"
        conversation = await rig.store.latest_conversation(patron.id)
        assert conversation is not None
        for text, event, key in (("Oui, de 9 h à 14 h.", "", "k1"), ("", "rating_request", "k2")):
            message = Message(new_id(), conversation.id,
                              Direction.SYSTEM if event else Direction.LIBRARIAN, text,
                              author="Sari", event=event)
            await sender.send(Delivery(new_id(), conversation.id, message.id,
                                       DeliveryKind.TO_PATRON, Channel.EMAIL, key),
                              message, conversation, patron)
        reply, rating = (m.message for m in smtp_server.received)
        assert str(reply["Subject"]) == "Re: Votre question à Perpustakaan Kota"
        body = reply.get_body(("plain",))
        assert body is not None
        assert "Poursuivre cette conversation dans la discussion: https://library.example/" \
            in body.get_content()
        asked = rating.get_body(("plain",))
        assert asked is not None
        assert "Comment avons-nous fait ?" in asked.get_content()
        assert "How did we do?" not in asked.get_content()
    finally:
        await rig.stop()


async def test_code_mail_in_the_widget_language(tmp_path: Path,
                                                smtp_server: SmtpRecorder) -> None:
    """An address typed into an Indonesian widget gets its code mail in Indonesian."""
    rig = Rig(tmp_path)
    await rig.start()
    settings = EmailSettings(smtp_host=smtp_server.host, smtp_port=smtp_server.port,
                             smtp_starttls=False, smtp_timeout=10.0, from_address=LIBRARY,
                             from_name="Perpustakaan Kota", help_address=LIBRARY)
    rig.mail_code = EmailSender(settings, rig.store, library_name="Perpustakaan Kota",
                                clock=rig.clock).send_code
    try:
        async with aiohttp.ClientSession(rig.url) as http:
            tab = Tab(await http.ws_connect("/widget/ws"))
            await tab.ws.send_json({"type": "hello", "token": None, "lang": "in",
                                    "page": {"url": "https://library.example/"}})
            await tab.next()
            saved = await tab.ask({"type": "profile", "name": "Dewi",
                                   "email": "dewi@example.org"})
        assert saved["code_sent"] is True
        [mail] = smtp_server.received
        assert str(mail.message["Subject"]) == "Auto: Perpustakaan Kota: kode Anda"
        body = mail.message.get_body(("plain",))
        assert body is not None
        code = rig.codes[0][1]
        assert f"di chat Perpustakaan Kota adalah {code}." in body.get_content()
    finally:
        await rig.stop()

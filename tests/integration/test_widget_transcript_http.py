""""Email me this chat" over the widget's HTTP fallback (``POST /widget/api/transcript``):
a real bridge built by bootstrap (demo_bridge), the Bot API emulator as the desk whose
librarian closes the conversation with /close, aiosmtpd receiving the copy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest_asyncio

from adapters.telegram.emulator import BotApiEmulator
from bridge.app import Bridge
from bridge.demo import demo_bridge
from routing.model import Patron, Status
from tests.eventually import eventually
from tests.integration.mailservers import LIBRARY, USER, DovecotServer, SmtpRecorder
from tests.integration.mailservers import PASSWORD as IMAP_PASSWORD

pytest_plugins = ["tests.integration.mail_fixtures"]  # dovecot, smtp_server

PATH = "/widget/api/transcript"


@dataclass
class Library:
    bridge: Bridge
    emulator: BotApiEmulator
    http: aiohttp.ClientSession
    librarian: int

    async def call(self, path: str, body: dict[str, Any], token: str | None = None,
                   ) -> tuple[int, dict[str, Any]]:
        headers = {"Origin": self.bridge.url}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        async with self.http.post(self.bridge.url + path, json=body,
                                  headers=headers) as response:
            return response.status, await response.json()

    async def visitor(self) -> str:
        """A new visitor's token, from the HTTP hello."""
        status, welcome = await self.call("/widget/api/hello",
                                          {"token": None, "page": {"url": self.bridge.url}})
        assert status == 200 and welcome["type"] == "welcome", welcome
        return str(welcome["token"])

    async def ask(self, token: str, text: str) -> str:
        """The visitor asks over HTTP; the conversation's id."""
        status, ack = await self.call("/widget/api/send", {"cid": text[:20], "text": text},
                                      token)
        assert status == 200 and ack["type"] == "ack", ack
        return str(ack["message"]["conversation"])

    async def close(self, conversation_id: str, question: str) -> None:
        """The librarian types /close in the conversation's topic, once the bridge knows
        the topic (a reply before that finds no conversation)."""
        group = self.bridge.config.telegram.group_id
        desk = self.bridge.router.desk
        topic = await eventually(lambda: [
            t["message_thread_id"] for t in self.emulator.topics(group)
            if any(question in m.get("text", "")
                   for m in self.emulator.messages(group, t["message_thread_id"]))])
        await eventually(lambda: desk.conversation_for_thread(topic[0]))
        self.emulator.user_sends(group, self.librarian, "/close", message_thread_id=topic[0])

        async def closed() -> bool:
            conversation = await self.bridge.store.get_conversation(conversation_id)
            return conversation is not None and conversation.status is Status.CLOSED
        await eventually(closed)

    async def patron(self, conversation_id: str) -> Patron:
        conversation = await self.bridge.store.get_conversation(conversation_id)
        assert conversation is not None
        patron = await self.bridge.store.get_patron(conversation.patron_id)
        assert patron is not None
        return patron


async def _library(tmp_path: Path, overrides: dict[str, dict[str, Any]],
                   ) -> AsyncIterator[Library]:
    bridge, emulator, _ = await demo_bridge(
        "127.0.0.1", 0, tmp_path, rate_limits=False, desk_port=0, overrides=overrides,
        secrets={"PUSTAKA_IMAP_PASSWORD": IMAP_PASSWORD, "PUSTAKA_SMTP_PASSWORD": ""})
    librarian = emulator.add_user("Rina", last_name="Kusuma", username="rina")
    emulator.add_member(bridge.config.telegram.group_id, librarian)
    try:
        async with aiohttp.ClientSession() as http:
            yield Library(bridge, emulator, http, librarian)
    finally:
        await bridge.stop()
        await emulator.stop()


@pytest_asyncio.fixture
async def library(tmp_path: Path, dovecot: DovecotServer,
                  smtp_server: SmtpRecorder) -> AsyncIterator[Library]:
    """A library that sends mail."""
    email = {"enabled": True, "imap_host": dovecot.host, "imap_port": dovecot.port,
             "imap_user": USER, "imap_ssl": False, "poll_interval": 0.5, "first_run": "all",
             "smtp_host": smtp_server.host, "smtp_port": smtp_server.port,
             "smtp_starttls": False, "from_address": LIBRARY}
    async for rig in _library(tmp_path, {"email": email}):
        yield rig


@pytest_asyncio.fixture
async def library_without_email(tmp_path: Path) -> AsyncIterator[Library]:
    async for rig in _library(tmp_path, {}):
        yield rig


async def confirmed(library: Library, conversation_id: str, address: str) -> None:
    patron = await library.patron(conversation_id)
    await library.bridge.store.save_patron(replace(patron, email=address,
                                                   email_confirmed=True))


async def test_a_confirmed_patron_gets_the_chat_over_http(
        library: Library, smtp_server: SmtpRecorder) -> None:
    """Refused while the chat is open; once the desk closes it, the copy goes to the
    confirmed address (shown half hidden) and reaches the SMTP server with the question;
    asked again the same day, refused with the server's sentence."""
    token = await library.visitor()
    conversation = await library.ask(token, "Can I renew my thesis loan over HTTP?")
    await confirmed(library, conversation, "ana@example.org")
    status, open_ = await library.call(PATH, {"conversation": conversation}, token)
    assert status == 400 and open_["code"] == "transcript_refused", open_
    assert "not ended" in open_["message"]
    await library.close(conversation, "Can I renew my thesis loan over HTTP?")
    status, sent = await library.call(
        PATH, {"cid": "transcript:" + conversation, "conversation": conversation}, token)
    assert status == 200, sent
    assert sent == {"type": "transcript_sent", "conversation": conversation,
                    "email": "an…@example.org"}
    [mail] = await eventually(lambda: [m for m in smtp_server.received
                                       if m.rcpt_tos == ("ana@example.org",)])
    body = mail.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Can I renew my thesis loan over HTTP?" in body
    status, again = await library.call(PATH, {"conversation": conversation}, token)
    assert status == 400 and again["code"] == "transcript_refused"
    assert "a day" in again["message"]


async def test_without_a_confirmed_address_the_refusal_says_no_email(
        library: Library, smtp_server: SmtpRecorder) -> None:
    """A typed but never proved address: HTTP 400 with ``reason: no_email`` and the cid
    back, and no mail."""
    token = await library.visitor()
    conversation = await library.ask(token, "Do you have the 1998 theses?")
    patron = await library.patron(conversation)
    await library.bridge.store.save_patron(replace(patron, email="budi@example.org"))
    await library.close(conversation, "Do you have the 1998 theses?")
    status, refused = await library.call(
        PATH, {"cid": "transcript:" + conversation, "conversation": conversation}, token)
    assert status == 400, refused
    assert refused["type"] == "error" and refused["code"] == "transcript_refused"
    assert refused["reason"] == "no_email" and refused["cid"] == "transcript:" + conversation
    assert "no confirmed email address" in refused["message"]
    assert smtp_server.received == []


async def test_another_visitor_cannot_ask_for_this_conversation(
        library: Library, smtp_server: SmtpRecorder) -> None:
    """Another visitor's token naming Ana's closed conversation is refused 403
    ``not_yours``, with a conversation of their own or none; no token at all or a forged
    one is 401; Ana's copy is never sent."""
    ana = await library.visitor()
    conversation = await library.ask(ana, "Is my reservation ready?")
    await confirmed(library, conversation, "ana@example.org")
    await library.close(conversation, "Is my reservation ready?")
    stranger = await library.visitor()
    status, refused = await library.call(PATH, {"conversation": conversation}, stranger)
    assert status == 403 and refused["code"] == "not_yours", refused
    await library.ask(stranger, "And mine?")
    status, refused = await library.call(PATH, {"conversation": conversation}, stranger)
    assert status == 403 and refused["code"] == "not_yours", refused
    for token in (None, ana[:-2] + "xx"):
        status, refused = await library.call(PATH, {"conversation": conversation}, token)
        assert status == 401 and refused["code"] == "bad_token", refused
    assert smtp_server.received == []


async def test_a_library_without_email_says_so(library_without_email: Library) -> None:
    """No mail configured: the call is answered 404 ``email_off`` with a sentence, and the
    widget's config says ``email: false`` (so the button is never shown)."""
    library = library_without_email
    token = await library.visitor()
    conversation = await library.ask(token, "Is the library open on Sunday?")
    await library.close(conversation, "Is the library open on Sunday?")
    status, refused = await library.call(PATH, {"conversation": conversation}, token)
    assert status == 404 and refused["type"] == "error", refused
    assert refused["code"] == "email_off"
    assert refused["message"] == "This library does not send email."
    async with library.http.get(library.bridge.url + "/widget/config") as response:
        assert (await response.json())["email"] is False

"""The whole bridge as `pustaka run` builds it: every channel wired through app.py.

Real SQLite, the real python-telegram-bot client against the emulator, a real Dovecot and
a real aiosmtpd; the patron's widget is an aiohttp WebSocket speaking PROTOCOL.md.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import aiohttp
import pytest_asyncio

from adapters.telegram.emulator import BotApiEmulator
from bridge.app import Bridge
from bridge.demo import demo_bridge
from tests.integration.mailservers import LIBRARY, PASSWORD, USER, DovecotServer, SmtpRecorder

pytest_plugins = ["tests.integration.mail_fixtures"]  # dovecot, smtp_server

CLOSED = {day: "closed" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


async def until(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    async with asyncio.timeout(timeout):
        while not (value := check()):
            await asyncio.sleep(0.05)
        return value


@pytest_asyncio.fixture
async def wired(tmp_path: Path, dovecot: DovecotServer,
                smtp_server: SmtpRecorder) -> AsyncIterator[tuple[Bridge, BotApiEmulator]]:
    email = {"enabled": True, "imap_host": dovecot.host, "imap_port": dovecot.port,
             "imap_user": USER, "imap_ssl": False, "poll_interval": 0.5, "first_run": "all",
             "smtp_host": smtp_server.host, "smtp_port": smtp_server.port,
             "smtp_starttls": False, "from_address": LIBRARY,
             "fallback_after_minutes": 0.01}  # 0.6 s away and replies go by email
    bridge, emulator, _ = await demo_bridge(
        "127.0.0.1", 0, tmp_path, rate_limits=False, desk_port=0,
        overrides={"email": email, "hours": CLOSED,
                   "reminders": {"first_after_minutes": 0.01, "check_seconds": 0.1}},
        secrets={"PUSTAKA_IMAP_PASSWORD": PASSWORD, "PUSTAKA_SMTP_PASSWORD": ""})
    try:
        yield bridge, emulator
    finally:
        await bridge.stop()
        await emulator.stop()


def librarian(bridge: Bridge, emulator: BotApiEmulator) -> int:
    user = emulator.add_user("Rina", last_name="Kusuma", username="rina")
    emulator.add_member(bridge.config.telegram.group_id, user)
    return user


def topic_texts(bridge: Bridge, emulator: BotApiEmulator) -> list[str]:
    group = bridge.config.telegram.group_id
    return [m.get("text", "") for t in emulator.topics(group)
            for m in emulator.messages(group, t["message_thread_id"])]


async def test_after_hours_widget_patron_gets_the_reply_by_email_and_answers_by_email(
        wired: tuple[Bridge, BotApiEmulator], dovecot: DovecotServer,
        smtp_server: SmtpRecorder) -> None:
    """A widget patron who left after hours receives the librarian's reply by email from
    aiosmtpd, and their email answer, put into Dovecot, lands in the same topic."""
    bridge, emulator = wired
    rina = librarian(bridge, emulator)
    async with aiohttp.ClientSession() as http:
        config = await (await http.get(f"{bridge.url}/widget/config")).json()
        assert config["availability"]["staffed"] is False  # every day "closed"
        ws = await http.ws_connect(f"{bridge.url}/widget/ws")
        await ws.send_json({"type": "hello", "token": None,
                            "page": {"url": "https://library.example/opac"}})
        assert (await ws.receive_json())["type"] == "welcome"
        await ws.send_json({"type": "profile", "name": "Siti Rahma",
                            "email": "siti@example.id"})
        await ws.send_json({"type": "send", "cid": "q1", "text": "Is the library open on Sunday?"})
        frames = [await ws.receive_json() for _ in range(2)]
        assert {f["type"] for f in frames} >= {"ack"}
        await ws.close()
    topic = await until(lambda: emulator.topics(bridge.config.telegram.group_id))
    thread = topic[0]["message_thread_id"]
    await asyncio.sleep(1.0)  # the patron has been away longer than fallback_after
    [conversation] = await bridge.store.conversations()
    assert conversation.after_hours  # nobody was on duty when it opened
    emulator.user_sends(bridge.config.telegram.group_id, rina, "No, we open Monday at 8.",
                        message_thread_id=thread)
    replies = await until(lambda: [r for r in smtp_server.received  # not the code mail
                                   if r.message["Auto-Submitted"] is None], timeout=15)
    mail = replies[0].message
    assert mail["To"].addresses[0].addr_spec == "siti@example.id"
    assert "No, we open Monday at 8." in mail.get_body(("plain",)).get_content()
    reply_to = mail["Reply-To"].addresses[0].addr_spec
    assert reply_to.startswith("help+")
    answer = EmailMessage()
    answer["From"] = "Siti Rahma <siti@example.id>"
    answer["To"] = reply_to
    answer["Subject"] = "Re: " + str(mail["Subject"])
    answer["Message-ID"] = make_msgid(domain="example.id")
    answer["In-Reply-To"] = mail["Message-ID"]
    answer.set_content("Thank you, see you Monday!\n\nOn Sat, Library wrote:\n> No, we open")
    dovecot.deliver(answer.as_bytes())
    await until(lambda: any(t.endswith("Thank you, see you Monday!")
                            for t in topic_texts(bridge, emulator)), timeout=15)
    assert len(emulator.topics(bridge.config.telegram.group_id)) == 1  # the same topic
    assert not any("On Sat, Library wrote" in t for t in topic_texts(bridge, emulator))


async def test_onduty_in_the_group_opens_the_chat_after_hours(
        wired: tuple[Bridge, BotApiEmulator]) -> None:
    """Outside opening hours the widget offers the offline form until a librarian says
    /onduty in the group; /offduty closes it again."""
    bridge, emulator = wired
    rina = librarian(bridge, emulator)
    group = bridge.config.telegram.group_id

    async def staffed(http: aiohttp.ClientSession) -> bool:
        body = await (await http.get(f"{bridge.url}/widget/config")).json()
        return bool(body["availability"]["staffed"])

    async with aiohttp.ClientSession() as http:
        assert not await staffed(http)
        emulator.user_sends(group, rina, "/onduty")
        async with asyncio.timeout(10):
            while not await staffed(http):
                await asyncio.sleep(0.05)
        emulator.user_sends(group, rina, "/offduty")
        async with asyncio.timeout(10):
            while await staffed(http):
                await asyncio.sleep(0.05)


async def test_a_telegram_patron_reaches_the_desk_and_gets_the_answer(
        wired: tuple[Bridge, BotApiEmulator]) -> None:
    """A private message to the bot opens a topic; the librarian's answer comes back in
    the private chat with the librarian's name."""
    bridge, emulator = wired
    rina = librarian(bridge, emulator)
    group = bridge.config.telegram.group_id
    patron = emulator.add_user("Budi")
    emulator.user_sends(patron, patron, "Can I renew online?")
    topics = await until(lambda: emulator.topics(group))
    thread = topics[0]["message_thread_id"]
    await until(lambda: any("Can I renew online?" in t for t in topic_texts(bridge, emulator)))
    await asyncio.sleep(0.3)
    emulator.user_sends(group, rina, "Yes, in the OPAC under My loans.", message_thread_id=thread)
    bot = emulator.bot_id

    def answered() -> bool:
        return any("Yes, in the OPAC under My loans." in m.get("text", "")
                   and "Rina" in m.get("text", "")
                   for m in emulator.messages(patron) if m["from"]["id"] == bot)

    await until(answered)


async def test_metrics_report_the_outbox_counters(
        wired: tuple[Bridge, BotApiEmulator]) -> None:
    """/metrics carries the outbox counters, possible duplicates included."""
    bridge, _ = wired
    async with aiohttp.ClientSession() as http:
        text = await (await http.get(f"{bridge.url}/metrics")).text()
    assert "pustaka_outbox_possible_duplicates 0" in text
    assert "pustaka_outbox_pending 0" in text


async def test_an_unanswered_patron_is_reminded_in_the_topic(
        wired: tuple[Bridge, BotApiEmulator]) -> None:
    """With a librarian on duty, a patron left unanswered makes the bot post a reminder in
    the topic naming who is on duty; the librarian's answer stops further reminders."""
    bridge, emulator = wired
    rina = librarian(bridge, emulator)
    group = bridge.config.telegram.group_id
    emulator.user_sends(group, rina, "/onduty")
    await until(lambda: bridge.roster.staffed(time.time()))
    patron = emulator.add_user("Budi")
    emulator.user_sends(patron, patron, "Where is the quiet room?")
    await until(lambda: any("has waited" in t and "Rina Kusuma" in t
                            for t in topic_texts(bridge, emulator)), timeout=15)
    [topic] = emulator.topics(group)
    emulator.user_sends(group, rina, "Second floor.", message_thread_id=topic["message_thread_id"])
    async with asyncio.timeout(10):
        while await bridge.store.waiting():
            await asyncio.sleep(0.05)
    reminded = sum("has waited" in t for t in topic_texts(bridge, emulator))
    await asyncio.sleep(1.0)
    assert sum("has waited" in t for t in topic_texts(bridge, emulator)) == reminded


async def test_an_emailed_attachment_arrives_in_the_topic_as_the_same_file(
        wired: tuple[Bridge, BotApiEmulator], dovecot: DovecotServer) -> None:
    """A patron's email with a PDF opens a topic whose post is that document, byte for
    byte, with the mail's text as its caption."""
    bridge, emulator = wired
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
    mail = EmailMessage()
    mail["From"] = "Budi Santoso <budi@example.id>"
    mail["To"] = LIBRARY
    mail["Subject"] = "Interlibrary loan form"
    mail["Message-ID"] = make_msgid(domain="example.id")
    mail.set_content("Here is the signed form.")
    mail.add_attachment(pdf, maintype="application", subtype="pdf",
                        filename="Formulir pinjam.pdf")
    dovecot.deliver(mail.as_bytes())
    group = bridge.config.telegram.group_id

    def posted() -> dict[str, Any] | None:
        return next((m for t in emulator.topics(group)
                     for m in emulator.messages(group, t["message_thread_id"])
                     if "document" in m), None)

    post = await until(posted, timeout=15)
    assert post["document"]["file_name"] == "Formulir pinjam.pdf"
    assert "Here is the signed form." in post.get("caption", "")
    found = await bridge.bot.get_file(post["document"]["file_id"])
    assert bytes(await found.download_as_bytearray()) == pdf

"""The whole bridge as `pustaka run` builds it: every channel wired by bootstrap.build.

Real SQLite, the real python-telegram-bot client against the emulator, a real Dovecot and
a real aiosmtpd; the patron's widget is an aiohttp WebSocket speaking PROTOCOL.md. Time is
a JumpClock: the email fallback and the reminders come when the test jumps, not after
real minutes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import aiohttp
import pytest_asyncio

from adapters.telegram.emulator import BotApiEmulator
from bridge.app import Bridge
from bridge.demo import demo_bridge
from tests.eventually import JumpClock, eventually
from tests.integration.mailservers import LIBRARY, PASSWORD, USER, DovecotServer, SmtpRecorder

pytest_plugins = ["tests.integration.mail_fixtures"]  # dovecot, smtp_server

CLOSED = {day: "closed" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


@pytest_asyncio.fixture
async def clock() -> JumpClock:
    return JumpClock()


@pytest_asyncio.fixture
async def wired(tmp_path: Path, dovecot: DovecotServer, smtp_server: SmtpRecorder,
                clock: JumpClock) -> AsyncIterator[tuple[Bridge, BotApiEmulator]]:
    email = {"enabled": True, "imap_host": dovecot.host, "imap_port": dovecot.port,
             "imap_user": USER, "imap_ssl": False, "poll_interval": 0.5, "first_run": "all",
             "smtp_host": smtp_server.host, "smtp_port": smtp_server.port,
             "smtp_starttls": False, "from_address": LIBRARY,
             "fallback_after_minutes": 10}  # the default: away 10 min, replies go by email
    bridge, emulator, _ = await demo_bridge(
        "127.0.0.1", 0, tmp_path, rate_limits=False, desk_port=0,
        overrides={"email": email, "hours": CLOSED,
                   "reminders": {"first_after_minutes": 5, "cap_minutes": 60}},
        secrets={"PUSTAKA_IMAP_PASSWORD": PASSWORD, "PUSTAKA_SMTP_PASSWORD": ""},
        clock=clock, sleep=clock.sleep)
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
        smtp_server: SmtpRecorder, clock: JumpClock) -> None:
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
        welcome = await ws.receive_json()
        assert welcome["type"] == "welcome"
        await ws.send_json({"type": "profile", "name": "Siti Rahma",
                            "email": "siti@example.id"})
        await ws.send_json({"type": "send", "cid": "q1", "text": "Is the library open on Sunday?"})
        frames = [await ws.receive_json() for _ in range(2)]
        assert {f["type"] for f in frames} >= {"ack"}
        await ws.close()
    topic = await eventually(lambda: emulator.topics(bridge.config.telegram.group_id))
    thread = topic[0]["message_thread_id"]
    await eventually(lambda: not bridge.hub.online(welcome["visitor"]))
    clock.advance(11 * 60)  # the patron has been away longer than fallback_after
    [conversation] = await bridge.store.conversations()
    assert conversation.after_hours  # nobody was on duty when it opened
    emulator.user_sends(bridge.config.telegram.group_id, rina, "No, we open Monday at 8.",
                        message_thread_id=thread)
    replies = await eventually(lambda: [r for r in smtp_server.received  # not the code mail
                                        if r.message["Auto-Submitted"] is None], within=15)
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
    await eventually(lambda: any(t.endswith("Thank you, see you Monday!")
                                 for t in topic_texts(bridge, emulator)), within=15)
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
        await eventually(lambda: staffed(http))
        emulator.user_sends(group, rina, "/offduty")

        async def closed() -> bool:
            return not await staffed(http)

        await eventually(closed)


async def test_a_telegram_patron_reaches_the_desk_and_gets_the_answer(
        wired: tuple[Bridge, BotApiEmulator]) -> None:
    """A private message to the bot opens a topic; the librarian's answer comes back in
    the private chat with the librarian's name."""
    bridge, emulator = wired
    rina = librarian(bridge, emulator)
    group = bridge.config.telegram.group_id
    patron = emulator.add_user("Budi")
    emulator.user_sends(patron, patron, "Can I renew online?")
    topics = await eventually(lambda: emulator.topics(group))
    thread = topics[0]["message_thread_id"]
    await eventually(lambda: any("Can I renew online?" in t
                                 for t in topic_texts(bridge, emulator)))
    emulator.user_sends(group, rina, "Yes, in the OPAC under My loans.", message_thread_id=thread)
    bot = emulator.bot_id

    def answered() -> bool:
        return any("Yes, in the OPAC under My loans." in m.get("text", "")
                   and "Rina" in m.get("text", "")
                   for m in emulator.messages(patron) if m["from"]["id"] == bot)

    await eventually(answered)


async def test_metrics_report_the_outbox_counters(
        wired: tuple[Bridge, BotApiEmulator]) -> None:
    """/metrics carries the outbox counters, possible duplicates included."""
    bridge, _ = wired
    async with aiohttp.ClientSession() as http:
        text = await (await http.get(f"{bridge.url}/metrics")).text()
    assert "pustaka_outbox_possible_duplicates 0" in text
    assert "pustaka_outbox_pending 0" in text


async def test_an_unanswered_patron_is_reminded_in_the_topic(
        wired: tuple[Bridge, BotApiEmulator], clock: JumpClock) -> None:
    """With a librarian on duty, a patron left unanswered makes the bot post a reminder in
    the topic naming who is on duty; the librarian's answer stops further reminders."""
    bridge, emulator = wired
    rina = librarian(bridge, emulator)
    group = bridge.config.telegram.group_id
    emulator.user_sends(group, rina, "/onduty")
    await eventually(lambda: bridge.roster.staffed(clock.now()))
    patron = emulator.add_user("Budi")
    emulator.user_sends(patron, patron, "Where is the quiet room?")
    await eventually(bridge.store.waiting)

    def reminded() -> bool:
        clock.advance(60)  # a minute per look: the reminders wake on each jump
        return any("has waited" in t and "Rina Kusuma" in t for t in topic_texts(bridge, emulator))

    await eventually(reminded, within=15)
    [topic] = emulator.topics(group)
    emulator.user_sends(group, rina, "Second floor.", message_thread_id=topic["message_thread_id"])

    async def answered() -> bool:
        return not await bridge.store.waiting()

    await eventually(answered)
    clock.advance(2 * 3600)  # past every interval the policy has, within Rina's shift
    assert bridge.roster.staffed(clock.now())  # so an empty round is not for want of staff
    reminders = bridge.parts.reminders
    assert reminders is not None
    assert await reminders.check() == []


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

    post = await eventually(posted, within=15)
    assert post["document"]["file_name"] == "Formulir pinjam.pdf"
    assert "Here is the signed form." in post.get("caption", "")
    found = await bridge.bot.get_file(post["document"]["file_id"])
    assert bytes(await found.download_as_bytearray()) == pdf

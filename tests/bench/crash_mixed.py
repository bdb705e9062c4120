"""(c) The crash run over every channel: widget, email and Telegram patrons at once.

The bridge runs alone in a child process (bridge_process.py) with email on: its IMAP
intake reads a real Dovecot, its replies to email patrons go out through a real
aiosmtpd, and Telegram (the emulator, with its limits, on the run's clock) lives here in
the harness, as do the mail servers, so everything but the bridge outlives each SIGKILL.

Each bot send takes ``latency`` seconds in the emulator (Telegram is some way off), so a
SIGKILL may land while a send is in flight: Telegram posts it, the bridge never hears.

Widget patrons write over websockets (delivery_rig.Patron), email patrons APPEND mails
to the inbox and answer the replies they get, Telegram patrons write privately to the
bot (mixed_patrons.py). Librarians answer in each topic through the emulator's humans,
their replies spread over the run. The bridge is SIGKILLed at ``kills`` random moments
while patrons write and is restarted each time. Afterwards the harness waits until
every patron message is in its topic and every reply reached its patron, and counts
per channel what was lost, doubled or out of order (crash_report.py prints it).
"""

from __future__ import annotations

import asyncio
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from adapters.telegram.emulator import BotApiEmulator, FaultPlan
from tests.bench.bridge_process import BridgeProcess
from tests.bench.crash_report import ChannelFigures, CrashRun
from tests.bench.delivery_rig import (
    REPLY_TOKEN,
    Patron,
    Writer,
    census,
    close_patrons,
    open_patrons,
    reply_token,
    send_burst,
    start_emulator,
)
from tests.bench.desk_census import bot_posts
from tests.bench.mixed_patrons import Mailbox, MailPatron, Reply, TelegramPatron, reply_figures
from tests.integration.mailservers import (
    LIBRARY,
    PASSWORD,
    USER,
    DovecotServer,
    SmtpRecorder,
    server_root,
)

__all__ = ["CrashPlan", "mixed_crash_run"]

TICK = 0.3  # how often the librarians look at the desk


@dataclass(frozen=True)
class CrashPlan:
    speed: float = 4.0
    widgets: int = 12
    emails: int = 9
    telegrams: int = 9
    messages: int = 10  # per patron
    answers: int = 5  # librarian replies per patron
    kills: int = 5
    seed: int = 5
    latency: float = 0.1  # seconds each bot send takes in the emulator, as over the internet


@dataclass
class Cast:
    """Everyone who writes, by channel; patron numbers run on across channels."""

    widgets: list[Patron] = field(default_factory=list)
    mails: list[MailPatron] = field(default_factory=list)
    telegrams: list[TelegramPatron] = field(default_factory=list)

    def writers(self) -> list[Writer]:
        return [*self.widgets, *self.mails, *self.telegrams]

    def numbers(self) -> list[int]:
        return [p.number for p in self.writers()]

    def got(self, replies: dict[int, list[str]]) -> dict[str, list[tuple[list[Reply], list[str]]]]:
        """Per channel: (replies as each patron got them, the tokens written to them)."""
        def widget(w: Patron) -> list[Reply]:
            return [Reply(f"r{p}n{n}") for text in w.replies()
                    for p, n in REPLY_TOKEN.findall(text)]

        return {
            "widget": [(widget(w), replies.get(w.number, [])) for w in self.widgets],
            "email": [(m.replies(), replies.get(m.number, [])) for m in self.mails],
            "telegram": [(t.replies(), replies.get(t.number, [])) for t in self.telegrams],
        }


def email_overrides(dovecot: DovecotServer, smtp: SmtpRecorder) -> dict[str, dict[str, Any]]:
    """The bridge's email section for the harness's mail servers."""
    return {"email": {"enabled": True, "imap_host": dovecot.host, "imap_port": dovecot.port,
                      "imap_user": USER, "imap_ssl": False, "poll_interval": 1.0,
                      "first_run": "all", "smtp_host": smtp.host, "smtp_port": smtp.port,
                      "smtp_starttls": False, "from_address": LIBRARY}}


async def librarians(emulator: BotApiEmulator, group: int, librarian: int, cast: list[int],
                     sent: dict[int, list[str]], replies: dict[int, list[str]],
                     per_patron: int, until: float, rng: random.Random) -> float:
    """Librarians answer in each patron's topic once it exists, ``per_patron`` times, in
    order, spread until ``until``; returns when the last reply was written. A patron
    whose topic never appears (a lost first message) is given up after a long while."""
    start = time.monotonic()
    chance = min(1.0, 2.0 * per_patron * TICK / max(TICK, until - start))
    deadline = until + 20 * (until - start)
    last = start
    while any(len(replies.get(p, [])) < per_patron for p in cast):
        if time.monotonic() > deadline:
            break
        topics = census(emulator, group, sent).topic_of
        odds = chance if time.monotonic() < until else 0.5
        for patron, thread in topics.items():
            done = replies.setdefault(patron, [])
            if len(done) < per_patron and rng.random() < odds:
                done.append(reply_token(patron, len(done)))
                emulator.user_sends(group, librarian, f"{done[-1]} yes, on shelf 3",
                                    message_thread_id=thread)
                last = time.monotonic()
        await asyncio.sleep(TICK)
    return last


async def until_true(check: Callable[[], bool], limit: float) -> float:
    """Wait for ``check()`` (at most ``limit`` seconds); returns when it first held."""
    deadline = time.monotonic() + limit
    while not check() and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    return time.monotonic()


async def crash_at(bridge: BridgeProcess, http: aiohttp.ClientSession, moments: list[float],
                   start: float, rng: random.Random) -> None:
    """SIGKILL the bridge at each moment (seconds after ``start``) and restart it."""
    for moment in moments:
        while time.monotonic() - start < moment:
            await bridge.poll(http)
            await asyncio.sleep(0.2)
        await bridge.kill()
        await asyncio.sleep(rng.uniform(0.1, 1.0))
        await bridge.start(http)


async def drive(plan: CrashPlan, emulator: BotApiEmulator, group: int, librarian: int,
                bridge: BridgeProcess, http: aiohttp.ClientSession, cast: Cast) -> CrashRun:
    """Patrons write, librarians answer, the bridge dies and comes back; then count."""
    sent: dict[int, list[str]] = {}
    replies: dict[int, list[str]] = {}
    span = 3 * 60.0 / plan.speed  # patrons keep writing for three (Telegram) minutes
    rng = random.Random(plan.seed)
    moments = sorted(rng.uniform(0.05, 1.0) * span for _ in range(plan.kills))
    start = time.monotonic()
    talking = asyncio.create_task(send_burst(cast.writers(), sent, minute=span,
                                             messages=plan.messages,
                                             rng=random.Random(plan.seed + 1)))
    answering = asyncio.create_task(librarians(
        emulator, group, librarian, cast.numbers(), sent, replies, plan.answers, start + span,
        random.Random(plan.seed + 2)))
    await crash_at(bridge, http, moments, start, random.Random(plan.seed + 3))
    await talking
    written = time.monotonic()

    def replies_lost() -> int:
        return sum(reply_figures(got)["lost"] for got in cast.got(replies).values())

    async def replies_reached() -> tuple[float, float]:
        last = await answering
        return last, await until_true(lambda: replies_lost() == 0, 20 * span)

    in_topics, (last_reply, reached) = await asyncio.gather(
        until_true(lambda: not census(emulator, group, sent).missing, 40 * span),
        replies_reached())
    await asyncio.sleep(2.0)  # copies still on their way are counted too
    stats = {**await bridge.stop(http), "in_flight_at_kills": bridge.in_flight_at_kills()}
    run = CrashRun(plan.speed, plan.latency, moments, span, stats, emulator.stats["429"],
                   drain=in_topics - start, tail=in_topics - written,
                   replies_tail=reached - last_reply)
    return count(run, emulator, group, cast, sent, replies)


def count(run: CrashRun, emulator: BotApiEmulator, group: int, cast: Cast,
          sent: dict[int, list[str]], replies: dict[int, list[str]]) -> CrashRun:
    """Fill in what the desk, the patrons' widgets, mailboxes and chats hold."""
    run.channels = channel_figures(emulator, group, cast, sent, replies)
    run.extra_topics = census(emulator, group, sent).extra_topics
    run.posts = bot_posts(emulator, group)
    run.acks = sum(len(m.mailbox.mails_to(m.address)) - len(m.replies_mail())
                   for m in cast.mails)
    run.unthreaded = sum(m.unthreaded() for m in cast.mails)
    run.pushes_repeated = sum(n - 1 for w in cast.widgets for n in w.pushes.values() if n > 1)
    return run


def channel_figures(emulator: BotApiEmulator, group: int, cast: Cast,
                    sent: dict[int, list[str]], replies: dict[int, list[str]],
                    ) -> list[ChannelFigures]:
    numbers = {"widget": [w.number for w in cast.widgets],
               "email": [m.number for m in cast.mails],
               "telegram": [t.number for t in cast.telegrams]}
    figures = []
    for name, got in cast.got(replies).items():
        mine = {n: sent.get(n, []) for n in numbers[name]}
        figures.append(ChannelFigures(name, census(emulator, group, mine), reply_figures(got),
                                      len(mine), sum(map(len, mine.values()))))
    return figures


async def mixed_crash_run(plan: CrashPlan) -> CrashRun:
    emulator, url, group, librarian = await start_emulator(plan.speed)
    if plan.latency:  # a send in flight when the SIGKILL comes may still be posted
        emulator.set_faults(FaultPlan(latency=plan.latency))
    work = Path(tempfile.mkdtemp(prefix="pustaka-crash-"))
    root = server_root(work)
    dovecot, smtp = DovecotServer(root), SmtpRecorder()
    dovecot.start()
    smtp.start()
    mailbox = Mailbox(dovecot, smtp)
    (work / "data").mkdir()
    bridge = BridgeProcess(url, group, work / "data", plan.speed,
                           overrides=email_overrides(dovecot, smtp),
                           env={"PUSTAKA_IMAP_PASSWORD": PASSWORD, "PUSTAKA_SMTP_PASSWORD": ""})
    http = aiohttp.ClientSession()
    cast = Cast()
    keep = True  # the bridge's log stays for a run that failed or lost anything
    try:
        await bridge.start(http)
        cast.widgets = await open_patrons(bridge.url, plan.widgets)
        first = plan.widgets
        cast.mails = [MailPatron(n, mailbox) for n in range(first, first + plan.emails)]
        first += plan.emails
        cast.telegrams = [TelegramPatron(n, emulator) for n in range(first, first + plan.telegrams)]
        run = await drive(plan, emulator, group, librarian, bridge, http, cast)
        keep = not run.ok
        return run
    finally:
        await close_patrons(cast.widgets)
        if bridge.proc is not None:  # the run failed half way: no figures to read
            await bridge.kill()
            bridge.log.close()
        await http.close()
        mailbox.close()
        smtp.stop()
        dovecot.stop()
        await emulator.stop()
        shutil.rmtree(root, ignore_errors=True)
        if keep:
            print(f"  the bridge's data and log are kept in {work / 'data'}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)

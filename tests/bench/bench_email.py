"""Email intake under load: 1,000 mails queued in Dovecot, taken into desk topics.

Run: python -m tests.bench.bench_email [--mails 1000] [--patrons 250]
A real Dovecot (tests/integration/mailservers.py) holds the mails in its maildir before
the intake starts; the bridge runs as ``pustaka demo`` runs it (the Bot API emulator's
flood limits off, the outbox's Telegram budget lifted), with the IMAP intake and the email
intake added. Prints mails per second for the intake (IMAP -> parse -> router -> SQLite)
and end to end (until every mail is a post in its topic), with this process's peak
Python allocation (tracemalloc, second run) and resident memory. Never asserts: figures
depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
import tracemalloc
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from adapters.blobs import BlobStore
from adapters.email.imap import ImapIntake
from adapters.email.intake import EmailIntake
from adapters.email.settings import EmailSettings
from bridge.demo import demo_bridge
from tests.bench.common import HOST, LIFTED, mark, quiet_logging, rss_kib
from tests.integration.mailservers import DovecotServer, server_root

TARGET = 200.0  # mails per second, from the issue


def mail(i: int, patrons: int) -> bytes:
    message = EmailMessage()
    patron = i % patrons
    message["From"] = f"Patron {patron} <patron{patron}@example.id>"
    message["To"] = "help@library.example"
    message["Subject"] = f"Question {i}"
    message["Message-ID"] = make_msgid(domain="example.id")
    message.set_content(
        f"Selamat siang, do you have the 2019 edition of book {i} on the shelf?\n\n"
        "On Mon, 1 Jan 2024, Library wrote:\n> an earlier answer\n\n-- \nPatron\n")
    return message.as_bytes()


def peak_rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


async def one_run(mails: int, patrons: int, traced: bool) -> None:
    work = Path(tempfile.mkdtemp(prefix="pustaka-bench-email-"))
    root = server_root(work)
    dovecot = DovecotServer(root)
    dovecot.start()
    bridge, emulator, _ = await demo_bridge(HOST, 0, work / "data", rate_limits=False,
                                            desk_port=0, overrides=LIFTED)
    try:
        for i in range(mails):
            dovecot.deliver(mail(i, patrons))
        settings = EmailSettings(
            imap_host=dovecot.host, imap_port=dovecot.port, imap_user=dovecot.user,
            imap_password=dovecot.password, imap_ssl=False, first_run="all",
            from_address="help@library.example", help_address="help@library.example")
        intake = EmailIntake(bridge.router, bridge.store, BlobStore(work / "blobs"), settings)
        imap = ImapIntake(settings, bridge.store, intake)
        group = bridge.config.telegram.group_id
        rss_before = rss_kib(os.getpid())
        if traced:
            tracemalloc.start()
        started = time.perf_counter()
        task = asyncio.create_task(imap.run())
        while imap.taken < mails:
            await asyncio.sleep(0.005)
        taken_at = time.perf_counter()
        while await bridge.store.pending_deliveries():
            await asyncio.sleep(0.005)
        drained_at = time.perf_counter()
        peak = tracemalloc.get_traced_memory()[1] if traced else 0
        if traced:
            tracemalloc.stop()
            print(f"   peak Python allocation during the run (tracemalloc): "
                  f"{peak / 2**20:.1f} MiB")
            return
        intake_rate = mails / (taken_at - started)
        verdict = mark(intake_rate >= TARGET)
        print(f"   intake: {mails:,} mails in {taken_at - started:.2f} s = "
              f"{intake_rate:,.0f} mails/s  [target >= {TARGET:.0f}: {verdict}]")
        print(f"   end to end (every mail posted in its topic): {drained_at - started:.2f} s = "
              f"{mails / (drained_at - started):,.0f} mails/s; "
              f"{len(emulator.topics(group))} topics, {emulator.stats['messages_sent']:,} posts")
        print(f"   outcome: {dict(intake.counts)}")
        print(f"   resident memory: {rss_before / 1024:.0f} MiB before, "
              f"{rss_kib(os.getpid()) / 1024:.0f} MiB after, peak {peak_rss_kib() / 1024:.0f} MiB")
    finally:
        if "task" in locals():
            await imap.stop()
            await asyncio.wait_for(task, 10)
        await bridge.stop(drain_timeout=2.0)
        await emulator.stop()
        dovecot.stop()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=1000)
    parser.add_argument("--patrons", type=int, default=250)
    args = parser.parse_args()
    quiet_logging()
    print(f"Email intake: {args.mails:,} mails from {args.patrons} patrons queued in Dovecot "
          "-> IMAP -> parse -> router -> SQLite -> desk topics (emulator limits off)")
    await one_run(args.mails, args.patrons, traced=False)
    await one_run(args.mails, args.patrons, traced=True)


if __name__ == "__main__":
    asyncio.run(main())

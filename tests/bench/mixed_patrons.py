"""Patrons who write by email and from Telegram, beside the widget patrons of delivery_rig.

``MailPatron`` behaves like a mail client: each mail is APPENDed over IMAP to the
library's real Dovecot inbox (what the bridge's intake reads), with a fresh Message-ID.
Its first mail starts a thread; each later one answers the newest librarian reply it
has received (To the reply's Reply-To token address, In-Reply-To and References, the
reply quoted below), or else follows up its own last mail. Replies are what the real
aiosmtpd accepted for the patron's address, in the order accepted.

``TelegramPatron`` is a person writing privately to the bot in the emulator; replies
are the bot's messages in that private chat, in message order.

``reply_figures`` checks, for any channel, that every librarian reply reached its
patron once and in order. Tokens (delivery_rig) name every message.
"""

from __future__ import annotations

import asyncio
import imaplib
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid

from adapters.telegram.emulator import BotApiEmulator
from tests.bench.delivery_rig import REPLY_TOKEN
from tests.integration.mailservers import LIBRARY, DovecotServer, Received, SmtpRecorder

__all__ = ["MailPatron", "Mailbox", "Reply", "TelegramPatron", "reply_figures"]

SUBJECT = "Question about the 2019 edition"


@dataclass(frozen=True)
class Reply:
    """One librarian reply as the patron got it; ``copy_of`` names what a client would
    show once (a mail's Message-ID), or is "" when every copy shows."""

    token: str
    copy_of: str = ""


class Mailbox:
    """One IMAP session to the library's inbox, for the patrons' APPENDs (in a thread:
    imaplib blocks), and a reader of what the library sent through aiosmtpd."""

    def __init__(self, dovecot: DovecotServer, smtp: SmtpRecorder) -> None:
        self.dovecot = dovecot
        self.smtp = smtp
        self._imap: imaplib.IMAP4 | None = None
        self._lock = asyncio.Lock()
        self.appended = 0

    def _connect(self) -> imaplib.IMAP4:
        imap = imaplib.IMAP4(self.dovecot.host, self.dovecot.port, timeout=30)
        imap.login(self.dovecot.user, self.dovecot.password)
        return imap

    async def append(self, raw: bytes) -> None:
        """APPEND one mail to INBOX, as the library's mail server delivers it."""
        async with self._lock:
            for attempt in range(5):
                try:
                    if self._imap is None:
                        self._imap = await asyncio.to_thread(self._connect)
                    imap = self._imap
                    status, _ = await asyncio.to_thread(
                        imap.append, "INBOX", "", imaplib.Time2Internaldate(time.time()), raw)
                    if status == "OK":
                        self.appended += 1
                        return
                except (OSError, imaplib.IMAP4.error):
                    self._imap = None
                await asyncio.sleep(0.2 * (attempt + 1))
            raise RuntimeError("Dovecot refused the APPEND five times")

    def close(self) -> None:
        if self._imap is not None:
            try:
                self._imap.logout()
            except (OSError, imaplib.IMAP4.error):
                pass
            self._imap = None

    def mails_to(self, address: str) -> list[Received]:
        """What the library sent to ``address``, in the order aiosmtpd accepted it."""
        return [r for r in list(self.smtp.received)
                if address in (a.lower() for a in r.rcpt_tos)]


@dataclass
class MailPatron:
    """A patron with a mail client; ``send`` is ``Writer.send`` (delivery_rig)."""

    number: int
    mailbox: Mailbox
    own_ids: list[str] = field(default_factory=list)  # Message-IDs of the mails we wrote

    @property
    def address(self) -> str:
        return f"pembaca{self.number:03d}@example.id"

    async def send(self, cid: str, text: str) -> None:
        mail = EmailMessage()
        mail["From"] = f"Pembaca Nomor {self.number:03d} <{self.address}>"
        mail["Message-ID"] = make_msgid(domain="example.id")
        answered = self.replies_mail()
        if answered:
            last = answered[-1].message
            mail["To"] = last["Reply-To"] or LIBRARY
            mail["Subject"] = "Re: " + str(last["Subject"]).removeprefix("Re: ")
            refs = [*str(last.get("References", "")).split(), str(last["Message-ID"])]
            mail["In-Reply-To"] = str(last["Message-ID"])
            mail["References"] = " ".join(refs[-10:])
            quoted = last.get_body(("plain",))
            said = quoted.get_content().strip().splitlines() if quoted else []
            text += "\n\nOn Monday, the library wrote:\n" + "\n".join(f"> {s}" for s in said)
        elif self.own_ids:
            mail["To"] = LIBRARY
            mail["Subject"] = "Re: " + SUBJECT
            mail["In-Reply-To"] = self.own_ids[-1]
            mail["References"] = " ".join(self.own_ids[-10:])
        else:
            mail["To"] = LIBRARY
            mail["Subject"] = SUBJECT
        mail.set_content(text + "\n\n-- \nSent from my phone\n")
        self.own_ids.append(str(mail["Message-ID"]))
        await self.mailbox.append(mail.as_bytes())

    def replies_mail(self) -> list[Received]:
        """Librarians' replies (not the automatic acknowledgement: null sender)."""
        return [r for r in self.mailbox.mails_to(self.address) if r.mail_from]

    def replies(self) -> list[Reply]:
        found = []
        for received in self.replies_mail():
            mail = received.message
            body = mail.get_body(("plain",))
            text = body.get_content() if body is not None else ""
            found += [Reply(f"r{p}n{n}", str(mail["Message-ID"]))
                      for p, n in REPLY_TOKEN.findall(text)]
        return found

    def unthreaded(self) -> int:
        """Replies that cite none of our mails (In-Reply-To / References): a client would
        not file them under the patron's question."""
        mine = set(self.own_ids)
        count = 0
        for received in self.replies_mail():
            mail = received.message
            cited = set(str(mail.get("References", "")).split())
            cited.add(str(mail.get("In-Reply-To", "")))
            count += not (cited & mine)
        return count


@dataclass
class TelegramPatron:
    """A person writing to the bot from the Telegram app (the emulator's humans)."""

    number: int
    emulator: BotApiEmulator
    user_id: int = 0

    def __post_init__(self) -> None:
        if not self.user_id:
            self.user_id = self.emulator.add_user("Pembaca", last_name=f"Nomor {self.number:03d}",
                                                  language_code="id")

    async def send(self, cid: str, text: str) -> None:
        self.emulator.user_sends(self.user_id, self.user_id, text)

    def replies(self) -> list[Reply]:
        bot = self.emulator.bot_id
        return [Reply(f"r{p}n{n}")
                for m in self.emulator.messages(self.user_id) if m["from"]["id"] == bot
                for p, n in REPLY_TOKEN.findall(m.get("text", ""))]


def reply_figures(got: Iterable[tuple[Sequence[Reply], Sequence[str]]]) -> Counter[str]:
    """For (replies as got, tokens the librarians wrote) per patron: sent, reached, lost,
    doubled (extra copies a patron sees; a same-Message-ID copy is counted apart, as a
    mail client shows it once) and out of order (patrons whose replies came unordered)."""
    figures: Counter[str] = Counter()
    for replies, expected in got:
        tokens = [r.token for r in replies if r.token in set(expected)]
        distinct = list(dict.fromkeys(tokens))
        seen_copies = Counter((r.token, r.copy_of) for r in replies if r.copy_of)
        figures["sent"] += len(expected)
        figures["reached"] += len(distinct)
        figures["lost"] += len(expected) - len(distinct)
        same_id = sum(n - 1 for n in seen_copies.values())
        figures["doubled"] += len(tokens) - len(distinct) - same_id
        figures["doubled_same_id"] += same_id
        figures["out_of_order"] += distinct != [t for t in expected if t in set(distinct)]
    return figures

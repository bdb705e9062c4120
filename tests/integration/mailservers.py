"""Real mail servers for the email tests: Dovecot (IMAP) and aiosmtpd (SMTP).

``DovecotServer`` runs Debian's /usr/sbin/dovecot in the foreground with a throwaway
configuration: one static test user, a maildir under the test's directory, IMAP only on a
free loopback port, no TLS. It can be stopped and started again on the same port and
maildir (a server going away mid-IDLE). ``SmtpRecorder`` is aiosmtpd on a free port that
records every mail it accepts and can be told to answer with a failure code instead.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SmtpSession
from aiosmtpd.smtp import Envelope

__all__ = ["DOVECOT", "LIBRARY", "DovecotServer", "Received", "SmtpRecorder", "free_port",
           "server_root"]

DOVECOT = "/usr/sbin/dovecot"
HOST = "127.0.0.1"
LIBRARY = "help@library.example"  # the library's help address in the tests
USER = "help"
PASSWORD = "library-test-password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def server_root(tmp_path: Path) -> Path:
    """Where a Dovecot keeps its files: the test's directory, or under root a fresh one
    its unprivileged processes may enter (pytest's base directory is mode 0700)."""
    if os.getuid() != 0:
        return tmp_path / "dovecot"
    root = Path(tempfile.mkdtemp(prefix="pustaka-dovecot-"))
    root.chmod(0o711)
    return root


def _service_users() -> tuple[str, str, str]:
    """(internal user, its group, login user): ourselves, or Debian's unprivileged
    dovecot/dovenull when the tests run as root (Dovecot refuses root for those)."""
    me = pwd.getpwuid(os.getuid()).pw_name
    group = grp.getgrgid(os.getgid()).gr_name
    if os.getuid() != 0:
        return me, group, me
    internal = pwd.getpwnam("dovecot")
    return internal.pw_name, grp.getgrgid(internal.pw_gid).gr_name, "dovenull"


def _mail_owner() -> tuple[int, int]:
    """Whose files the maildir holds: ours, or the dovecot user's under root (Dovecot
    never serves mail as uid 0)."""
    if os.getuid() != 0:
        return os.getuid(), os.getgid()
    internal = pwd.getpwnam("dovecot")
    return internal.pw_uid, internal.pw_gid


def _config(root: Path, port: int, idle: bool) -> str:
    uid, gid = _mail_owner()
    internal, group, login = _service_users()
    caps = "" if idle else (
        "imap_capability = IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE "
        "SORT THREAD=REFERENCES MULTIAPPEND UNSELECT CHILDREN NAMESPACE UIDPLUS "
        "LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH SEARCHRES\n"
    )
    return f"""\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = {HOST}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 0
first_valid_gid = 0
mail_location = maildir:{root}/Maildir
mail_uid = {uid}
mail_gid = {gid}
default_internal_user = {internal}
default_internal_group = {group}
default_login_user = {login}
imap_idle_notify_interval = 1 secs
mailbox_idle_check_interval = 1 secs
{caps}passdb {{
  driver = static
  args = user={USER} password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home
}}
service imap-login {{
  chroot =
  user = {login}
  inet_listener imap {{
    address = {HOST}
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  chroot =
}}
service auth {{
  user = {internal}
}}
service auth-worker {{
  user = {internal}
}}
service imap {{
  process_limit = 64
}}
"""


@dataclass
class DovecotServer:
    """A Dovecot IMAP server of our own; ``start()`` / ``stop()`` may be repeated."""

    root: Path
    idle: bool = True  # False: the server does not offer IDLE (the intake must poll)
    port: int = field(default_factory=free_port)
    user: str = USER
    password: str = PASSWORD
    host: str = HOST
    _process: subprocess.Popen[bytes] | None = None

    @property
    def maildir(self) -> Path:
        return self.root / "Maildir"

    def start(self, timeout: float = 10.0) -> None:
        for sub in ("run", "state", "home", "Maildir/new", "Maildir/cur", "Maildir/tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self._own(self.root / "home", self.maildir)
        conf = self.root / "dovecot.conf"
        conf.write_text(_config(self.root, self.port, self.idle))
        self._process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(conf)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                err = self._process.stderr.read().decode() if self._process.stderr else ""
                raise RuntimeError(f"dovecot exited: {err}\n{self.log()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5) as sock:
                    if sock.recv(200).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dovecot did not listen on {self.port}\n{self.log()}")

    def stop(self) -> None:
        """Stop the server: every IMAP connection is cut, as when a server goes away."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
        if process.stderr:
            process.stderr.close()

    @staticmethod
    def _own(*paths: Path) -> None:
        if os.getuid() != 0:
            return
        uid, gid = _mail_owner()
        for top in paths:
            os.chown(top, uid, gid)
            for path in top.rglob("*"):
                os.chown(path, uid, gid)

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def deliver(self, raw: bytes) -> None:
        """Put a mail into the inbox the way a local delivery agent does (maildir new/)."""
        name = f"{time.time_ns()}.{os.getpid()}_{id(raw)}.pustaka"
        tmp = self.maildir / "tmp" / name
        tmp.write_bytes(raw)
        self._own(tmp)
        tmp.rename(self.maildir / "new" / name)

    def reset_mailbox(self) -> None:
        """Delete the mailbox and its indexes: the next UIDVALIDITY differs."""
        shutil.rmtree(self.maildir)
        for sub in ("new", "cur", "tmp"):
            (self.maildir / sub).mkdir(parents=True)
        self._own(self.maildir)


@dataclass(frozen=True)
class Received:
    """One mail aiosmtpd accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class _Handler:
    def __init__(self, recorder: SmtpRecorder) -> None:
        self._recorder = recorder

    async def handle_DATA(self, server: SmtpSession, session: Any, envelope: Envelope) -> str:
        recorder = self._recorder
        recorder.attempts += 1
        if recorder.fail_next:
            return recorder.fail_next.pop(0)
        content = envelope.original_content or b""
        recorder.received.append(Received(str(envelope.mail_from or ""),
                                          tuple(envelope.rcpt_tos), bytes(content)))
        return "250 Message accepted for delivery"


class SmtpRecorder:
    """aiosmtpd on a free loopback port, keeping what it receives.

    ``fail_next`` holds replies (e.g. "451 4.3.0 Try again later") given to the next
    DATA commands, one each, before mail is accepted again.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.host = HOST
        self.received: list[Received] = []
        self.fail_next: list[str] = []
        self.attempts = 0
        self._controller = Controller(_Handler(self), hostname=HOST, port=self.port,
                                      data_size_limit=64 * 1024 * 1024)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

"""What the email channel needs to know: its mailbox, its mail server, its addresses, limits.

The bridge's config builds one ``EmailSettings`` (passwords come from the environment,
``PUSTAKA_IMAP_PASSWORD`` and ``PUSTAKA_SMTP_PASSWORD``); the adapters never read config
files or the environment themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["EmailSettings"]

MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class EmailSettings:
    # -- intake: the library's help mailbox over IMAP ------------------------------------
    imap_host: str = ""
    imap_port: int = 993
    imap_user: str = ""
    imap_password: str = field(default="", repr=False)
    imap_mailbox: str = "INBOX"
    imap_ssl: bool = True  # implicit TLS (port 993); False only for a server on loopback
    imap_timeout: float = 60.0  # one IMAP command, seconds
    poll_interval: float = 60.0  # seconds between checks when the server has no IDLE
    idle_renew: float = 25 * 60.0  # re-issue IDLE before the 29 minutes of RFC 2177
    reconnect_min: float = 1.0  # backoff after the server goes away, doubling ...
    reconnect_max: float = 300.0  # ... up to this
    first_run: str = "unseen"  # with no stored position: "unseen", "all" or "new" mail
    fetch_batch: int = 100  # mails fetched (and handed on) per round trip
    fetch_batch_bytes: int = 8 * MB  # ... and at most about this many bytes of them

    # -- sending: replies and acknowledgements over SMTP ---------------------------------
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_starttls: bool = True  # upgrade a plain connection (port 587)
    smtp_ssl: bool = False  # implicit TLS (port 465); excludes smtp_starttls
    smtp_timeout: float = 60.0

    # -- addresses -----------------------------------------------------------------------
    from_address: str = ""  # what patrons see as the sender, e.g. help@library.example
    from_name: str = ""  # e.g. "Perpustakaan Kota Pustaka"
    help_address: str = ""  # where patrons write; reply tokens make help+<token>@...
    message_id_domain: str = ""  # right side of our Message-IDs; the from domain if empty

    # -- limits --------------------------------------------------------------------------
    max_message_bytes: int = 25 * MB  # above this a mail is never loaded whole
    max_attachment_bytes: int = 20 * MB  # a larger file is refused with a note (both ways)
    max_files: int = 10  # files passed on with one mail (the router's limit, one album)
    max_text: int = 4000  # characters of a mail's text passed on (the router's limit)
    away_minutes: float = 10.0  # a widget patron gone this long gets replies by email

    # -- senders -------------------------------------------------------------------------
    # The authserv-id our receiving mail server writes in Authentication-Results (RFC
    # 8601); "" trusts no such field, and every mail is taken as from its From address.
    trusted_authserv_id: str = ""

    @property
    def help_local_part(self) -> str:
        return self.help_address.rsplit("@", 1)[0] if "@" in self.help_address else ""

    @property
    def help_domain(self) -> str:
        return self.help_address.rsplit("@", 1)[1] if "@" in self.help_address else ""

    @property
    def id_domain(self) -> str:
        """The domain our Message-IDs end in."""
        if self.message_id_domain:
            return self.message_id_domain
        for address in (self.from_address, self.help_address):
            if "@" in address:
                return address.rsplit("@", 1)[1]
        return "pustaka.invalid"

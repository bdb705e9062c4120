"""The sections of ``pustaka.toml`` as typed, frozen records with their defaults; README's
configuration table names every one of these fields. ``bridge.config`` reads and checks them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bridge.config_widget import GreetingRule, PrechatSection

__all__ = [
    "Config",
    "DeskSection",
    "DirectorySection",
    "EmailSection",
    "FilesSection",
    "HoursSection",
    "LibrarySection",
    "LogSection",
    "OutboxSection",
    "QueueSection",
    "RemindersSection",
    "RetentionSection",
    "ServerSection",
    "StorageSection",
    "TelegramSection",
    "WidgetSection",
]


@dataclass(frozen=True)
class LibrarySection:
    name: str = "Our Library"
    timezone: str = "UTC"


@dataclass(frozen=True)
class ServerSection:
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""  # how patrons' browsers reach us; defaults to http://host:port
    trusted_proxies: list[str] = field(default_factory=list)  # whose X-Forwarded-For to believe
    # who may read /metrics without PUSTAKA_METRICS_TOKEN (networks, CIDR or one address)
    metrics_allow: list[str] = field(default_factory=lambda: ["127.0.0.0/8", "::1"])
    max_connections_per_ip: int = 100  # open connections of one client address at once
    header_timeout: float = 15.0  # seconds a connection has to send a whole request head


@dataclass(frozen=True)
class StorageSection:
    backend: str = "sqlite"
    data_dir: str = "./data"


@dataclass(frozen=True)
class WidgetSection:
    colour: str = "#0b5394"
    position: str = "right"
    logo: str = ""  # an https:// image shown in the chat's header
    size: str = "normal"  # compact | normal | large: the bubble, the panel and their type
    launcher_label: str = ""  # words beside the bubble's icon ("Ask a librarian"); empty: icon only
    offset_x: int = 20  # pixels between the bubble and the page's side edge
    offset_y: int = 20  # and its bottom edge
    greeting_en: str = "Hello! Ask us anything about the library. A librarian will answer here."
    greeting_id: str = (
        "Halo! Tanyakan apa saja tentang perpustakaan. Pustakawan kami akan menjawab di sini."
    )
    max_text: int = 4000
    allowed_origins: list[str] = field(default_factory=list)  # empty: any site may embed
    messages_per_minute: int = 30  # per visitor, against floods
    resume_ttl_days: float = 14.0  # how long the "continue this chat" link in an email works
    home_url: str = ""  # the library's page with the widget, for links to untrusted pages
    geoip_db: str = ""  # a GeoLite2-City .mmdb file: /visitors then shows an approximate city
    language: str = "en"  # the library's own: for a patron whose browser asks for none we have
    # [widget.texts.<language>] key = "text": the library's own words for any shipped text
    texts: dict[str, dict[str, str]] = field(default_factory=dict)
    new_visitors_per_ip_hour: int = 60  # new chat identities per IPv4 address / IPv6 /64
    new_conversations_per_ip_hour: int = 30  # conversations opened per address, likewise
    # [widget.prechat] and [[widget.greetings]]: bridge/config_widget.py
    prechat: PrechatSection = field(default_factory=PrechatSection)
    greetings: tuple[GreetingRule, ...] = ()


@dataclass(frozen=True)
class TelegramSection:
    group_id: int = 0
    api_url: str = "https://api.telegram.org"
    poll_timeout: int = 25
    # Telegram's published flood limits; the outbox plans every send within them.
    messages_per_second: int = 30
    group_messages_per_minute: int = 20
    private_messages_per_second: float = 1.0
    patron_greeting_en: str = (
        "Hello! Ask us anything about the library; a librarian will answer here.")
    patron_greeting_id: str = (
        "Halo! Tanyakan apa saja tentang perpustakaan; pustakawan kami akan menjawab di sini.")


@dataclass(frozen=True)
class OutboxSection:
    concurrency: int = 64
    max_attempts: int = 12
    backoff_base: float = 1.0
    backoff_cap: float = 300.0


@dataclass(frozen=True)
class DeskSection:
    reopen_days: float = 7.0  # a patron writing this soon after /close reopens the topic
    blocked_text: str = ("Sorry, we cannot take messages from you at the moment. "
                         "Please contact the library in person.")
    canned: dict[str, str] = field(default_factory=dict)  # /r key -> text
    # What "/close KIND LEVEL" may note, for the reference statistics (lower case, one word)
    question_kinds: list[str] = field(default_factory=lambda: [
        "directional", "reference", "research", "technical", "account"])


@dataclass(frozen=True)
class EmailSection:
    enabled: bool = False
    imap_host: str = ""
    imap_port: int = 993
    imap_user: str = ""
    imap_mailbox: str = "INBOX"
    imap_ssl: bool = True
    poll_interval: float = 60.0
    first_run: str = "unseen"  # with no stored position: unseen | all | new
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_starttls: bool = True
    smtp_ssl: bool = False
    from_address: str = ""
    from_name: str = ""  # defaults to library.name
    help_address: str = ""  # defaults to from_address; replies come to help+<token>@
    max_message_bytes: int = 25 * 1024 * 1024
    max_attachment_bytes: int = 20 * 1024 * 1024
    fallback_after_minutes: float = 10.0  # a widget patron away this long gets replies by email
    trusted_authserv_id: str = ""  # our mail server's Authentication-Results id; "": no check
    ack_text: str = ("Thank you for your question. The library is closed now; a librarian "
                     "will answer you by email when we open.")


@dataclass(frozen=True)
class FilesSection:
    """Photos, documents and voice notes from the widget and Telegram (email has its own
    email.max_attachment_bytes). A file refused here still reaches the topic as a note."""

    enabled: bool = True  # false: the widget shows no upload button
    max_bytes: int = 20 * 1024 * 1024  # per file; Telegram lets a bot fetch at most 20 MB
    allowed_types: list[str] = field(default_factory=lambda: [
        "image/*", "audio/*", "video/*", "application/pdf", "text/plain",
        "application/msword", "application/vnd.openxmlformats-officedocument.*",
        "application/vnd.oasis.opendocument.*", "application/zip"])
    visitor_bytes_per_day: int = 200 * 1024 * 1024  # widget uploads a visitor; 0: no quota
    ip_bytes_per_day: int = 1024 * 1024 * 1024  # widget uploads from one address; 0: none
    min_free_disk: str = "5%"  # uploads refused below: bytes ("2 GB") or a share ("5%")


@dataclass(frozen=True)
class HoursSection:
    """When the desk is staffed, in ``library.timezone``; outside these hours the widget
    shows the offline form unless a librarian said /onduty."""

    mon: str = "00:00-24:00"
    tue: str = "00:00-24:00"
    wed: str = "00:00-24:00"
    thu: str = "00:00-24:00"
    fri: str = "00:00-24:00"
    sat: str = "00:00-24:00"
    sun: str = "00:00-24:00"
    closures: list[str] = field(default_factory=list)  # "2026-12-25" or "2026-12-24..2026-12-26"
    shift_hours: float = 12.0  # an /onduty older than this stops counting; 0 = never


@dataclass(frozen=True)
class RemindersSection:
    enabled: bool = True
    first_after_minutes: float = 5.0
    cap_minutes: float = 60.0
    check_seconds: float = 30.0


@dataclass(frozen=True)
class QueueSection:
    default_wait_minutes: float = 3.0
    history: int = 50


@dataclass(frozen=True)
class DirectorySection:
    kind: str = "none"  # none | csv | http | sip2
    path: str = ""
    url: str = ""
    timeout: float = 5.0
    # kind = "sip2": the library system's SIP2 server; the password is PUSTAKA_SIP2_PASSWORD
    sip2_host: str = ""
    sip2_port: int = 6001
    sip2_tls: bool = False
    sip2_user: str = ""  # empty: no Login (93) is sent
    sip2_location: str = ""
    sip2_institution: str = ""


@dataclass(frozen=True)
class LogSection:
    format: str = "console"  # console: key-value lines for a terminal; json: one object a line


@dataclass(frozen=True)
class RetentionSection:
    """How long the bridge keeps what it holds about patrons; a daily job forgets older."""

    transcripts_days: int = 365  # messages, done deliveries, links of closed conversations
    visitors_days: int = 30  # page info and IP addresses, widget visitor ids
    files_days: int = 90  # blobs no message refers to any more
    delete_topics: bool = False  # also delete the forgotten conversations' desk topics
    run_at_hour: int = 3  # library time: the job runs once a day after this hour


@dataclass(frozen=True)
class Config:
    library: LibrarySection = field(default_factory=LibrarySection)
    server: ServerSection = field(default_factory=ServerSection)
    storage: StorageSection = field(default_factory=StorageSection)
    widget: WidgetSection = field(default_factory=WidgetSection)
    telegram: TelegramSection = field(default_factory=TelegramSection)
    outbox: OutboxSection = field(default_factory=OutboxSection)
    desk: DeskSection = field(default_factory=DeskSection)
    email: EmailSection = field(default_factory=EmailSection)
    files: FilesSection = field(default_factory=FilesSection)
    hours: HoursSection = field(default_factory=HoursSection)
    reminders: RemindersSection = field(default_factory=RemindersSection)
    queue: QueueSection = field(default_factory=QueueSection)
    directory: DirectorySection = field(default_factory=DirectorySection)
    log: LogSection = field(default_factory=LogSection)
    retention: RetentionSection = field(default_factory=RetentionSection)
    # Secrets: environment only, never in the file.
    telegram_token: str = field(default="", repr=False)
    secret: str = field(default="", repr=False)
    directory_token: str = field(default="", repr=False)
    sip2_password: str = field(default="", repr=False)
    imap_password: str = field(default="", repr=False)
    smtp_password: str = field(default="", repr=False)
    metrics_token: str = field(default="", repr=False)

    @property
    def public_url(self) -> str:
        return (self.server.public_url or f"http://{self.server.host}:{self.server.port}").rstrip(
            "/"
        )

    @property
    def data_dir(self) -> Path:
        return Path(self.storage.data_dir).expanduser()

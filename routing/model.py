"""The normalized records every layer shares.

One message record crosses every boundary; what is particular to a channel lives in a
typed field (``Contact``, ``PageInfo``), never in an untyped dict.
"""

from __future__ import annotations

import enum
import random
import time
from dataclasses import dataclass, field

from routing.frozen import quick_init
from routing.plain import storable
from routing.staff_model import Block, BlockKind, Librarian, Waiting

# Block, BlockKind, Librarian and Waiting are routing.staff_model's; named here too,
# where every layer has found them.
__all__ = [
    "Attachment",
    "AttachmentKind",
    "Block",
    "BlockKind",
    "Channel",
    "Contact",
    "Conversation",
    "Delivery",
    "DeliveryKind",
    "DeliveryState",
    "DeskReply",
    "Direction",
    "Inbound",
    "Librarian",
    "Message",
    "PageInfo",
    "Patron",
    "Status",
    "Waiting",
    "new_id",
]


class Channel(enum.StrEnum):
    """Where a patron writes from, or where a delivery goes."""

    WIDGET = "widget"
    EMAIL = "email"
    TELEGRAM = "telegram"
    DESK = "desk"  # the librarians' group; only ever a destination


class Direction(enum.StrEnum):
    PATRON = "patron"
    LIBRARIAN = "librarian"
    SYSTEM = "system"
    NOTE = "note"  # internal, never shown to the patron


class Status(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class DeliveryKind(enum.StrEnum):
    TO_DESK = "to_desk"  # a patron (or system) message forwarded into the desk topic
    TO_PATRON = "to_patron"  # a librarian or system message sent back to the patron
    DESK_NOTICE = "desk_notice"  # a line the desk should see (claims, failures)


class DeliveryState(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


_last_ms = 0
_seq = 0


def new_id() -> str:
    """A 20-character id that sorts by creation time (ms timestamp, counter, randomness).

    Sortable ids let ``history(after=...)`` be a plain range scan and keep order
    within a conversation without a separate sequence column.
    """
    global _last_ms, _seq
    now = int(time.time() * 1000)
    if now <= _last_ms:
        _seq += 1
        now = _last_ms
    else:
        _seq = 0
    _last_ms = now
    # Ids need not be secret (widget tokens are HMAC-signed): a cheap generator will do.
    if _seq <= 0xFFFF:  # the usual case, as below in one number: one format, not three
        return "%020x" % ((now << 32) | (_seq << 16) | random.getrandbits(16))
    return f"{now:012x}{_seq:04x}{random.getrandbits(16):04x}"


@quick_init
@dataclass(frozen=True, slots=True)
class Contact:
    """One way to reach a patron: a channel and the address on it."""

    channel: Channel
    address: str  # widget visitor id, email address, Telegram user id


@quick_init
@dataclass(frozen=True, slots=True)
class PageInfo:
    """What the widget knows about where and how the patron is writing from."""

    url: str = ""
    title: str = ""
    user_agent: str = ""
    language: str = ""
    timezone: str = ""
    ip: str = ""


@quick_init
@dataclass(frozen=True, slots=True)
class Patron:
    id: str
    name: str = ""
    email: str = ""
    contacts: tuple[Contact, ...] = ()
    member_number: str = ""
    created_at: float = 0.0
    # ``email`` is where this patron's own conversation may be answered; only once they
    # proved they read it (a code sent there) does it join the email channel's contact.
    email_confirmed: bool = False
    # The language the patron reads ("id", "pt"; "" unknown: the library's default), as
    # their widget last said it; system lines and mails to them are worded in it.
    language: str = ""


@quick_init
@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    patron_id: str
    origin: Channel
    status: Status = Status.OPEN
    claimed_by: str = ""  # librarian display name
    claimed_by_id: str = ""  # librarian's desk user id
    desk_thread: int | None = None  # forum topic id in the desk group
    after_hours: bool = False
    tags: tuple[str, ...] = ()
    rating: int | None = None
    page: PageInfo = field(default_factory=PageInfo)
    created_at: float = 0.0
    updated_at: float = 0.0
    subject: str = ""  # an email's subject, shown on the info card
    closed_at: float = 0.0  # when last closed; a patron writing soon after reopens it
    first_response_at: float = 0.0  # the first librarian reply (for /stats)
    rating_comment: str = ""
    rated_librarian_id: str = ""  # who served when the patron rated


class AttachmentKind(enum.StrEnum):
    """How a file is shown: Telegram's own kinds, which every channel maps onto."""

    PHOTO = "photo"
    DOCUMENT = "document"
    VOICE = "voice"
    AUDIO = "audio"
    VIDEO = "video"


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file a message carries. The bytes live in the blob store under ``digest``.

    ``digest`` is empty when the file was refused at intake (too large, a type the
    library does not take); ``note`` then says why, and every side shows the name, the
    size and the note instead of the file.
    """

    kind: AttachmentKind
    name: str  # the file name as its sender gave it: shown, never used as a path
    mime: str
    size: int
    digest: str = ""  # hex SHA-256 of the bytes: the blob's address
    note: str = ""  # why the file is not kept, when it is not

    def __post_init__(self) -> None:
        if isinstance(self.name, str):  # a file name that was not UTF-8
            object.__setattr__(self, "name", storable(self.name))

    @property
    def kept(self) -> bool:
        return bool(self.digest)


@quick_init
@dataclass(frozen=True, slots=True)
class Message:
    id: str
    conversation_id: str
    direction: Direction
    text: str
    author: str = ""
    client_id: str = ""  # the patron side's own id, for de-duplication on resend
    external_id: str = ""  # id in the world it came from (Telegram message id, Message-ID)
    event: str = ""  # for system messages: "claimed", "closed" ... so each side words it itself
    created_at: float = 0.0
    replaces: str = ""  # with event "edited": the id of the message this text replaces
    attachments: tuple[Attachment, ...] = ()  # more than one: an album, shown together


@quick_init
@dataclass(frozen=True, slots=True)
class Delivery:
    """An outbox row: a durable promise to send one message to one destination."""

    id: str
    conversation_id: str
    message_id: str
    kind: DeliveryKind
    destination: Channel
    idempotency_key: str
    attempts: int = 0
    next_attempt_at: float = 0.0
    state: DeliveryState = DeliveryState.PENDING
    last_error: str = ""
    external_id: str = ""
    created_at: float = 0.0


@quick_init
@dataclass(frozen=True, slots=True)
class Inbound:
    """A patron's message as an adapter hands it to the router."""

    channel: Channel
    address: str  # who, on that channel
    text: str
    client_id: str = ""
    name: str = ""
    email: str = ""
    page: PageInfo | None = None
    external_id: str = ""
    conversation_id: str = ""  # verified by the adapter (reply token); joins only one's own
    subject: str = ""
    attachments: tuple[Attachment, ...] = ()
    sender_unverified: bool = False  # the mail server found the From forged (email)
    topic: str = ""  # a tag the patron chose (the widget's pre-chat form): on a new conversation

    def __post_init__(self) -> None:
        """Every patron's text enters routing here: a lone surrogate (JSON's "\\ud800")
        becomes U+FFFD, or the database write of the whole message would fail."""
        for name in ("text", "name", "subject"):
            value = getattr(self, name)
            # An ASCII string (most, and every empty one) holds no surrogate to search for.
            if isinstance(value, str) and not value.isascii():
                object.__setattr__(self, name, storable(value))


# The tag on a conversation opened by a sender the mail server could not verify
SENDER_UNVERIFIED_TAG = "sender-not-verified"


@dataclass(frozen=True, slots=True)
class DeskReply:
    """A librarian's message in the desk, as the desk adapter hands it to the router."""

    conversation_id: str
    librarian_id: str
    librarian_name: str
    text: str
    external_id: str = ""
    attachments: tuple[Attachment, ...] = ()

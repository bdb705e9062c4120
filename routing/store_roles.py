"""The store's roles: small protocols, one per kind of record (kept in routing.store_records).

Each consumer asks for the roles it uses (``routing.ports`` re-exports them all); each
role has its own contract suite (tests/integration/store_contract_*.py), run over every
implementation: SQLite, the in-memory fake, and PostgreSQL next.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

from routing.model import (
    Block,
    BlockKind,
    Contact,
    Conversation,
    Delivery,
    Librarian,
    Message,
    Patron,
    Waiting,
)
from routing.report_roles import ReferenceMarks
from routing.store_records import ContactState, DeskCard, EmailProof, Link, MailThread

# The records are routing.store_records'; named here too, where every store found them.
__all__ = [
    "Blocks",
    "ContactState",
    "ContactStates",
    "ConversationLog",
    "Cursors",
    "DeskCard",
    "DeskState",
    "Directory",
    "EmailProof",
    "Link",
    "Links",
    "MailThread",
    "OutboxRows",
    "OutboxStore",
    "Reports",
    "RouterStore",
    "Store",
]


# -- the store's roles: each consumer asks for the role it uses ---------------------------
# Every role has its own contract suite, run over every implementation.


class Directory(Protocol):
    """Patrons and their contact points; librarians of the desk."""

    async def get_patron(self, patron_id: str) -> Patron | None: ...
    async def get_patrons(self, patron_ids: Collection[str]) -> dict[str, Patron]:
        """Several patrons by id in one read; missing ones are left out."""
        ...
    async def patron_by_contact(self, contact: Contact) -> Patron | None: ...
    async def save_patron(self, patron: Patron) -> None: ...
    def new_contact(self, contact: Contact) -> None:
        """``contact`` was made in this process a moment ago (a new widget visitor's id,
        96 random bits): no patron has it, so its first lookups need not read."""
        ...

    async def save_librarian(self, librarian: Librarian) -> None: ...
    async def get_librarian(self, librarian_id: str) -> Librarian | None: ...
    async def librarian_by_username(self, username: str) -> Librarian | None:
        """By Telegram username, without "@", case-insensitive."""
        ...
    async def librarians_on_duty(self) -> list[Librarian]:
        """Librarians who said /onduty and not /offduty since, longest-serving first."""
        ...


class Blocks(Protocol):
    """Who may not write, and until when."""

    async def save_block(self, block: Block) -> None: ...
    async def remove_block(self, block_id: str) -> None:
        """Forget a block; an unknown id is not an error."""
        ...
    async def find_block(
        self, keys: Sequence[tuple[BlockKind, str]], now: float
    ) -> Block | None:
        """An active block matching any of ``keys`` exactly, or None. Called on every
        patron message, so it must be cheap."""
        ...
    async def active_blocks(self, now: float) -> list[Block]:
        """Every block still in force, oldest first (``/blocks``)."""
        ...


class ConversationLog(Protocol):
    """Conversations and their messages; a message is stored with its outbox rows."""

    async def get_conversation(self, conversation_id: str) -> Conversation | None: ...
    async def get_conversations(
        self, conversation_ids: Collection[str]
    ) -> dict[str, Conversation]:
        """Several conversations by id in one read (the outbox starting many lanes at
        once); missing ones are left out."""
        ...
    async def latest_conversation(self, patron_id: str) -> Conversation | None: ...
    async def conversation_by_thread(self, desk_thread: int) -> Conversation | None: ...
    async def save_conversation(self, conversation: Conversation) -> None: ...

    async def append(
        self, message: Message, deliveries: Sequence[Delivery]
    ) -> tuple[Message, bool]:
        """Store a message and its outbox rows in one durable step.

        Returns ``(stored, created)``. When the conversation already holds a message
        with the same non-empty ``client_id`` the existing one is returned with
        ``created=False`` and no delivery is added: a resend is never doubled.
        """
        ...
    async def append_first(
        self, patron: Patron, conversation: Conversation, message: Message,
        deliveries: Sequence[Delivery],
    ) -> tuple[Message, bool]:
        """A new patron's first message: ``save_patron``, ``save_conversation`` and
        ``append`` in one durable step, all of it stored or none of it."""
        ...

    async def get_message(self, message_id: str) -> Message | None: ...
    async def get_messages(self, message_ids: Sequence[str]) -> dict[str, Message]:
        """Several messages by id in one read (the outbox's lane batch); missing ones
        are left out."""
        ...
    async def history(
        self, conversation_id: str, after: str = "", limit: int = 500
    ) -> list[Message]: ...


class Reports(Protocol):
    """Reads across conversations: the desk's /history and /stats, the reminders and the
    queue, export."""

    async def patron_conversations(self, patron_id: str, limit: int = 20) -> list[Conversation]:
        """The patron's conversations, newest first (``/history``)."""
        ...

    async def conversations_since(self, since: float, limit: int = 10_000) -> list[Conversation]:
        """Conversations created at or after ``since``, oldest first (``/stats``)."""
        ...

    async def conversations(self, limit: int = 100, offset: int = 0) -> list[Conversation]:
        """Conversations newest first, a page at a time (export, ``pustaka check``)."""
        ...

    async def waiting(self) -> list[Waiting]:
        """Open conversations whose patron waits for an answer (reminders, the queue):
        since their first message after the last librarian answer, with the reminders
        noted since, and whether none of their messages still waits to reach the topic."""
        ...


class OutboxRows(Protocol):
    """The durable outbox: rows are added by ``ConversationLog.append``, read and
    settled here."""

    async def due_deliveries(self, now: float, limit: int, skip: Collection[str] = (),
                             busy: Collection[tuple[str, str]] = ()) -> list[Delivery]:
        """Pending deliveries whose time has come, oldest first, ``limit`` of them;
        none of the destinations in ``skip`` (the outbox has no room for them now; a
        store may still count them in the page of ``limit`` it reads), and a store may
        leave out the lanes (conversation id, destination) in ``busy``: the outbox is
        sending in them and reads them itself.

        Oldest means enqueued first (append order; ids sort the same way). A delivery
        is left out while an older pending one of the same conversation and destination
        is still waiting for its retry: order within a lane is kept. When ``limit`` rows
        are due, the first due rows of lanes the batch left out follow (a store may look
        for them only now and then): a backlog in a few lanes must never hide a reply to
        a patron or a new conversation's first message.
        """
        ...

    async def lane_deliveries(
        self, lanes: Collection[tuple[str, str]], now: float, limit: int
    ) -> list[Delivery]:
        """The pending deliveries of each lane (conversation id, destination), oldest
        (first enqueued) first, up to the lane's first not yet due and at most
        ``limit`` a lane.

        The outbox reads on in a lane it is already sending in, so a busy conversation
        costs one small read per batch instead of a read of everything due; and it reads
        the lanes it starts together, so 500 conversations starting at once cost one
        read, not 500.
        """
        ...

    async def finish_delivery(
        self, delivery_id: str, external_id: str, link: Link | None = None
    ) -> None:
        """Mark a delivery done; ``link`` (how a reply to what was sent finds its
        conversation) is saved in the same commit, one write for a send's record."""
        ...

    async def retry_delivery(
        self, delivery_id: str, attempts: int, next_attempt_at: float, error: str
    ) -> None: ...
    async def fail_delivery(self, delivery_id: str, attempts: int, error: str) -> None: ...
    async def pending_deliveries(self) -> int: ...

    async def get_delivery(self, delivery_id: str) -> Delivery | None:
        """One outbox row, whatever its state (done and failed rows are the record)."""
        ...

    async def delivery_counts(self) -> dict[str, int]:
        """How many rows are in each state; every state is present, maybe with 0."""
        ...


class Links(Protocol):
    """Ids of other worlds tied to our conversations and messages."""

    async def save_link(self, link: Link) -> None: ...
    async def find_link(self, channel: str, external_id: str) -> Link | None: ...


class DeskState(Protocol):
    """What the desk and the channels keep about one conversation or one message.

    Each record belongs to its conversation or message and goes when it goes; saving one
    for a conversation or message the store does not hold raises ValueError.
    """

    async def desk_card(self, conversation_id: str) -> DeskCard | None: ...
    async def save_desk_card(self, conversation_id: str, card: DeskCard) -> None: ...

    async def mail_thread(self, conversation_id: str) -> MailThread | None: ...
    async def save_mail_thread(self, conversation_id: str, thread: MailThread) -> None: ...

    async def posted(self, message_id: str, place: str) -> str | None:
        """How far the send of one message to one place got (the sender's own words:
        the chat and the ids of what it posted, say), so a retry goes on from there."""
        ...
    async def save_posted(self, message_id: str, place: str, posted: str) -> None: ...


class ContactStates(Protocol):
    """What channels keep per contact point (``ContactState``), last save wins."""

    async def contact_state(self, contact: Contact) -> ContactState | None: ...
    async def save_contact_state(self, contact: Contact, state: ContactState) -> None: ...


class Cursors(Protocol):
    """Where a reader of an outside stream stands (IMAP UIDVALIDITY and last UID, the
    getUpdates offset and the album parts held past it) and the few process-wide notes
    that belong to no record (the duty roster, the outbox ledger, the daily mail quotas
    until coordination takes them); key-value, last write wins."""

    async def get_state(self, key: str) -> str | None: ...
    async def set_state(self, key: str, value: str) -> None: ...


class OutboxStore(ConversationLog, Directory, OutboxRows, Cursors, Protocol):
    """What the outbox reads and settles: lanes, their messages, conversations and
    patrons, and its ledger (a cursor)."""


class RouterStore(Directory, Blocks, ConversationLog, Reports, Links, Protocol):
    """What the router decides with and writes."""


class Store(
    Directory, Blocks, ConversationLog, Reports, OutboxRows, Links, DeskState,
    ContactStates, Cursors, ReferenceMarks, Protocol,
):
    """Every role, opened and closed as one. Each implementation passes every suite in
    tests/integration/store_contract_*.py; consumers ask for the roles they use, not for this."""

    async def open(self) -> None: ...
    async def close(self) -> None: ...

"""Records to SQLite rows and back, and the column lists the statements share.

Enums are stored as their string values; ``Conversation.tags`` and ``Conversation.page``
as JSON. Column order follows the dataclass field order, so a row maps straight back.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from routing.model import (
    Attachment,
    AttachmentKind,
    Block,
    BlockKind,
    Channel,
    Contact,
    Conversation,
    Delivery,
    DeliveryKind,
    DeliveryState,
    Direction,
    Librarian,
    Message,
    PageInfo,
    Patron,
    Status,
)
from routing.ports import Link

__all__ = [
    "BLOCK_COLUMNS",
    "CONVERSATION_COLUMNS",
    "DELIVERY_COLUMNS",
    "LIBRARIAN_COLUMNS",
    "MESSAGE_COLUMNS",
    "PATRON_COLUMNS",
    "Row",
    "attachments_from_json",
    "attachments_json",
    "block_from_row",
    "block_row",
    "contact_rows",
    "conversation_from_row",
    "conversation_row",
    "delivery_from_row",
    "delivery_row",
    "librarian_from_row",
    "librarian_row",
    "link_from_row",
    "link_row",
    "message_from_row",
    "message_row",
    "patron_from_rows",
    "patron_row",
]

Row = tuple[Any, ...]

PATRON_COLUMNS = "id, name, email, member_number, created_at"
CONVERSATION_COLUMNS = (
    "id, patron_id, origin, status, claimed_by, claimed_by_id, desk_thread, after_hours, "
    "tags, rating, page, created_at, updated_at, subject, closed_at, first_response_at, "
    "rating_comment, rated_librarian_id"
)
MESSAGE_COLUMNS = (
    "id, conversation_id, direction, text, author, client_id, external_id, event, created_at, "
    "replaces, attachments"
)
BLOCK_COLUMNS = "id, kind, value, until, by, conversation_id, created_at"
LIBRARIAN_COLUMNS = "id, name, username, on_duty, changed_at"
DELIVERY_COLUMNS = (
    "id, conversation_id, message_id, kind, destination, idempotency_key, attempts, "
    "next_attempt_at, state, last_error, external_id, created_at"
)

_PAGE_FIELDS = tuple(f.name for f in dataclasses.fields(PageInfo))


def patron_row(patron: Patron) -> Row:
    return (patron.id, patron.name, patron.email, patron.member_number, patron.created_at,
            int(patron.email_confirmed), patron.language)


def contact_rows(patron: Patron) -> list[Row]:
    return [
        (contact.channel.value, contact.address, patron.id, position)
        for position, contact in enumerate(patron.contacts)
    ]


def patron_from_rows(rows: Sequence[Row]) -> Patron | None:
    """Rows of the patron's columns followed by (channel, address), one per contact."""
    if not rows:
        return None
    first = rows[0]
    contacts = tuple(Contact(Channel(r[5]), r[6]) for r in rows if r[5] is not None)
    return Patron(first[0], first[1], first[2], contacts, first[3], first[4],
                  email_confirmed=bool(first[7]), language=first[8])


def _page_json(page: PageInfo) -> str:
    return json.dumps({name: getattr(page, name) for name in _PAGE_FIELDS if getattr(page, name)})


def _page_from_json(text: str) -> PageInfo:
    fields = json.loads(text)
    # A newer version may add fields; an older one ignores what it does not know.
    return PageInfo(**{k: v for k, v in fields.items() if k in _PAGE_FIELDS})


def conversation_row(c: Conversation) -> Row:
    return (
        c.id, c.patron_id, c.origin.value, c.status.value, c.claimed_by, c.claimed_by_id,
        c.desk_thread, int(c.after_hours), json.dumps(list(c.tags)), c.rating,
        _page_json(c.page), c.created_at, c.updated_at, c.subject, c.closed_at,
        c.first_response_at, c.rating_comment, c.rated_librarian_id,
    )


def conversation_from_row(r: Row) -> Conversation:
    return Conversation(
        r[0], r[1], Channel(r[2]), Status(r[3]), r[4], r[5], r[6], bool(r[7]),
        tuple(json.loads(r[8])), r[9], _page_from_json(r[10]), r[11], r[12],
        subject=r[13], closed_at=r[14], first_response_at=r[15], rating_comment=r[16],
        rated_librarian_id=r[17],
    )


def message_row(m: Message) -> Row:
    return (
        m.id, m.conversation_id, m.direction.value, m.text, m.author, m.client_id,
        m.external_id, m.event, m.created_at, m.replaces, attachments_json(m.attachments),
    )


def message_from_row(r: Row) -> Message:
    files = attachments_from_json(r[10]) if r[10] else ()
    return Message(r[0], r[1], _DIRECTIONS[r[2]], r[3], r[4], r[5], r[6], r[7], r[8], r[9], files)


def attachments_json(files: Sequence[Attachment]) -> str:
    """A message's files as JSON; "" for none, the common case, so it costs nothing."""
    if not files:
        return ""
    return json.dumps([[f.kind.value, f.name, f.mime, f.size, f.digest, f.note] for f in files])


def attachments_from_json(text: str) -> tuple[Attachment, ...]:
    return tuple(
        Attachment(AttachmentKind(k), name, mime, int(size), digest, note)
        for k, name, mime, size, digest, note in json.loads(text)
    )


def delivery_row(d: Delivery) -> Row:
    return (
        d.id, d.conversation_id, d.message_id, d.kind.value, d.destination.value,
        d.idempotency_key, d.attempts, d.next_attempt_at, d.state.value, d.last_error,
        d.external_id, d.created_at,
    )


# Enum(value) costs a few microseconds; the outbox decodes thousands of rows a second.
_KINDS = {k.value: k for k in DeliveryKind}
_CHANNELS = {c.value: c for c in Channel}
_STATES = {s.value: s for s in DeliveryState}
_DIRECTIONS = {d.value: d for d in Direction}


def delivery_from_row(r: Row) -> Delivery:
    return Delivery(
        r[0], r[1], r[2], _KINDS[r[3]], _CHANNELS[r[4]], r[5], r[6], r[7],
        _STATES[r[8]], r[9], r[10], r[11],
    )


def link_row(link: Link) -> Row:
    return (link.channel, link.external_id, link.conversation_id, link.message_id)


def link_from_row(r: Row) -> Link:
    return Link(r[0], r[1], r[2], r[3])


def block_row(b: Block) -> Row:
    return (b.id, b.kind.value, b.value, b.until, b.by, b.conversation_id, b.created_at)


def block_from_row(r: Row) -> Block:
    return Block(r[0], BlockKind(r[1]), r[2], r[3], r[4], r[5], r[6])


def librarian_row(lib: Librarian) -> Row:
    return (lib.id, lib.name, lib.username.lstrip("@").lower(), int(lib.on_duty), lib.changed_at)


def librarian_from_row(r: Row) -> Librarian:
    return Librarian(r[0], r[1], r[2], bool(r[3]), r[4])

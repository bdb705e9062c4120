"""The read queries, on the reading connection. Each is one round trip to its thread."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from typing import Any, TypeVar

import aiosqlite

from bridge.store.sqlite_rows import (
    BLOCK_COLUMNS,
    CONVERSATION_COLUMNS,
    DELIVERY_COLUMNS,
    LIBRARIAN_COLUMNS,
    MESSAGE_COLUMNS,
    Row,
    block_from_row,
    conversation_from_row,
    delivery_from_row,
    librarian_from_row,
    link_from_row,
    message_from_row,
    patron_from_rows,
)
from routing.model import (
    Block,
    Contact,
    Conversation,
    Delivery,
    DeliveryState,
    Librarian,
    Message,
    Patron,
)
from routing.ports import Link

__all__ = [
    "D_COLUMNS",
    "all_blocks",
    "conversation_by_id",
    "conversation_by_thread",
    "conversations",
    "conversations_by_id",
    "conversations_since",
    "delivery_by_id",
    "delivery_counts",
    "due_deliveries",
    "due_in_lanes",
    "find_link",
    "get_state",
    "history",
    "lane_deliveries",
    "latest_conversation",
    "librarian_by_id",
    "librarian_by_username",
    "librarians_on_duty",
    "message_by_id",
    "messages_by_id",
    "patron_by_contact",
    "patron_by_id",
    "patron_conversations",
    "patrons_by_id",
    "pending_count",
]

K = TypeVar("K")

_PATRON_WITH_CONTACTS = (
    "SELECT p.id, p.name, p.email, p.member_number, p.created_at, c.channel, c.address,"
    " p.email_confirmed"
    " FROM patrons AS p LEFT JOIN contacts AS c ON c.patron_id = p.id"
)
_CONVERSATION = f"SELECT {CONVERSATION_COLUMNS} FROM conversations"
_NEWEST_FIRST = " ORDER BY created_at DESC, id DESC"

# Pending rows that are due, oldest first, unless an older pending row of the same lane
# (conversation, destination) is not yet due: then the lane waits behind its head.
# ``blocked`` is each lane's oldest not-yet-due row, read from the index of waiting
# times (normally only retrying heads are there); the scan then walks the pending rows
# in id order and stops at ``limit``.
_SLICE = 200  # rows decoded between two turns of the event loop
_DUE = (
    "WITH blocked AS MATERIALIZED ("
    " SELECT conversation_id, destination, min(id) AS head"
    " FROM deliveries INDEXED BY deliveries_waiting"
    " WHERE state = 'pending' AND next_attempt_at > :now"
    " GROUP BY conversation_id, destination)"
    f" SELECT {DELIVERY_COLUMNS} FROM deliveries AS d INDEXED BY deliveries_pending"
    " WHERE d.state = 'pending' AND d.next_attempt_at <= :now"
    " AND NOT EXISTS (SELECT 1 FROM blocked AS b WHERE b.conversation_id = d.conversation_id"
    "  AND b.destination = d.destination AND b.head < d.id)"
    " ORDER BY d.id LIMIT :limit"
)


async def _rows(db: aiosqlite.Connection, sql: str, params: Any) -> list[Row]:
    return [tuple(row) for row in await db.execute_fetchall(sql, params)]


async def _first(db: aiosqlite.Connection, sql: str, params: Any) -> Row | None:
    rows = await _rows(db, sql, params)
    return rows[0] if rows else None


async def patron_by_id(db: aiosqlite.Connection, patron_id: str) -> Patron | None:
    sql = f"{_PATRON_WITH_CONTACTS} WHERE p.id = ? ORDER BY c.position"
    return patron_from_rows(await _rows(db, sql, (patron_id,)))


async def patron_by_contact(db: aiosqlite.Connection, contact: Contact) -> Patron | None:
    sql = (
        f"{_PATRON_WITH_CONTACTS} WHERE p.id = (SELECT patron_id FROM contacts"
        " WHERE channel = ? AND address = ?) ORDER BY c.position"
    )
    return patron_from_rows(await _rows(db, sql, (contact.channel.value, contact.address)))


def _chunks(ids: Collection[K], size: int = 500) -> list[list[K]]:
    """``ids`` without repeats, in parts within SQLite's bound-parameter limit."""
    ordered = list(dict.fromkeys(ids))
    return [ordered[start:start + size] for start in range(0, len(ordered), size)]


def _marks(part: Sequence[str]) -> str:
    return ", ".join("?" * len(part))


async def patrons_by_id(db: aiosqlite.Connection, patron_ids: Collection[str]) -> list[Patron]:
    found: list[Patron] = []
    for part in _chunks(patron_ids):
        sql = f"{_PATRON_WITH_CONTACTS} WHERE p.id IN ({_marks(part)}) ORDER BY p.id, c.position"
        rows: dict[str, list[Row]] = {}
        for row in await _rows(db, sql, part):
            rows.setdefault(row[0], []).append(row)
        found += [p for p in map(patron_from_rows, rows.values()) if p is not None]
    return found


async def conversations_by_id(
    db: aiosqlite.Connection, conversation_ids: Collection[str]
) -> list[Conversation]:
    found: list[Conversation] = []
    for part in _chunks(conversation_ids):
        sql = f"{_CONVERSATION} WHERE id IN ({_marks(part)})"
        found += map(conversation_from_row, await _rows(db, sql, part))
    return found


async def conversation_by_id(db: aiosqlite.Connection, conversation_id: str) -> Conversation | None:
    row = await _first(db, f"{_CONVERSATION} WHERE id = ?", (conversation_id,))
    return None if row is None else conversation_from_row(row)


async def latest_conversation(db: aiosqlite.Connection, patron_id: str) -> Conversation | None:
    sql = f"{_CONVERSATION} WHERE patron_id = ?{_NEWEST_FIRST} LIMIT 1"
    row = await _first(db, sql, (patron_id,))
    return None if row is None else conversation_from_row(row)


async def conversation_by_thread(
    db: aiosqlite.Connection, desk_thread: int
) -> Conversation | None:
    sql = f"{_CONVERSATION} WHERE desk_thread = ?{_NEWEST_FIRST} LIMIT 1"
    row = await _first(db, sql, (desk_thread,))
    return None if row is None else conversation_from_row(row)


async def conversations(db: aiosqlite.Connection, limit: int, offset: int) -> list[Conversation]:
    sql = f"{_CONVERSATION}{_NEWEST_FIRST} LIMIT ? OFFSET ?"
    return [conversation_from_row(r) for r in await _rows(db, sql, (limit, offset))]


async def message_by_id(db: aiosqlite.Connection, message_id: str) -> Message | None:
    sql = f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?"
    row = await _first(db, sql, (message_id,))
    return None if row is None else message_from_row(row)


async def messages_by_id(
    db: aiosqlite.Connection, message_ids: Sequence[str]
) -> dict[str, Message]:
    found: dict[str, Message] = {}
    for part in _chunks(message_ids):
        sql = f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id IN ({_marks(part)})"
        found.update((m.id, m) for m in map(message_from_row, await _rows(db, sql, part)))
    return found


async def history(
    db: aiosqlite.Connection, conversation_id: str, after: str, limit: int
) -> list[Message]:
    sql = (
        f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND id > ?"
        " ORDER BY id LIMIT ?"
    )
    return [message_from_row(r) for r in await _rows(db, sql, (conversation_id, after, limit))]


# The deliveries columns of a query that also names other tables.
D_COLUMNS = ", ".join("d." + column.strip() for column in DELIVERY_COLUMNS.split(","))

# Each lane's oldest pending rows (at most ?), one probe of the lane index per lane.
_LANES = (
    "WITH lanes(c, d) AS (VALUES {values})"
    f" SELECT {D_COLUMNS} FROM lanes JOIN deliveries AS d ON d.id IN ("
    "  SELECT id FROM deliveries INDEXED BY deliveries_lane WHERE state = 'pending'"
    "  AND conversation_id = lanes.c AND destination = lanes.d ORDER BY id LIMIT ?)"
    " ORDER BY d.conversation_id, d.destination, d.id"
)


async def lane_deliveries(db: aiosqlite.Connection, lanes: Collection[tuple[str, str]],
                          now: float, limit: int) -> list[Delivery]:
    rows: list[Row] = []
    for part in _chunks(lanes, 400):  # two parameters a lane
        sql = _LANES.format(values=", ".join(["(?, ?)"] * len(part)))
        rows += await _rows(db, sql, [*(v for lane in part for v in lane), limit])
    return due_in_lanes(rows, now)


def due_in_lanes(rows: Sequence[Row], now: float,
                 skip: Collection[tuple[str, str]] = ()) -> list[Delivery]:
    """Pending rows ordered by lane then id, as deliveries: each lane's rows up to its
    first one not yet due (the rest of that lane waits behind it); lanes in ``skip`` out."""
    due: list[Delivery] = []
    stopped: set[tuple[str, str]] = set(skip)
    for row in rows:
        lane = (row[1], row[4])  # conversation_id, destination
        if lane in stopped:
            continue
        delivery = delivery_from_row(row)
        if delivery.next_attempt_at > now:
            stopped.add(lane)
            continue
        due.append(delivery)
    return due


async def due_deliveries(db: aiosqlite.Connection, now: float, limit: int) -> list[Delivery]:
    rows = list(await db.execute_fetchall(_DUE, {"now": now, "limit": limit}))
    due: list[Delivery] = []
    for start in range(0, len(rows), _SLICE):
        if start:
            await asyncio.sleep(0)  # a thousand rows at once would hold up acks meanwhile
        due += [delivery_from_row(tuple(r)) for r in rows[start:start + _SLICE]]
    return due


async def delivery_by_id(db: aiosqlite.Connection, delivery_id: str) -> Delivery | None:
    row = await _first(db, f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = ?",
                       (delivery_id,))
    return None if row is None else delivery_from_row(row)


async def pending_count(db: aiosqlite.Connection) -> int:
    row = await _first(db, "SELECT count(*) FROM deliveries WHERE state = 'pending'", ())
    return int(row[0]) if row else 0


async def delivery_counts(db: aiosqlite.Connection) -> dict[str, int]:
    counts = {state.value: 0 for state in DeliveryState}
    for state, count in await _rows(
        db, "SELECT state, count(*) FROM deliveries GROUP BY state", ()
    ):
        counts[state] = count
    return counts


async def find_link(db: aiosqlite.Connection, channel: str, external_id: str) -> Link | None:
    sql = (
        "SELECT channel, external_id, conversation_id, message_id FROM links"
        " WHERE channel = ? AND external_id = ?"
    )
    row = await _first(db, sql, (channel, external_id))
    return None if row is None else link_from_row(row)


async def get_state(db: aiosqlite.Connection, key: str) -> str | None:
    row = await _first(db, "SELECT value FROM state WHERE key = ?", (key,))
    return None if row is None else str(row[0])


async def patron_conversations(
    db: aiosqlite.Connection, patron_id: str, limit: int
) -> list[Conversation]:
    sql = f"{_CONVERSATION} WHERE patron_id = ?{_NEWEST_FIRST} LIMIT ?"
    return [conversation_from_row(r) for r in await _rows(db, sql, (patron_id, limit))]


async def conversations_since(
    db: aiosqlite.Connection, since: float, limit: int
) -> list[Conversation]:
    sql = f"{_CONVERSATION} WHERE created_at >= ? ORDER BY created_at, id LIMIT ?"
    return [conversation_from_row(r) for r in await _rows(db, sql, (since, limit))]


async def all_blocks(db: aiosqlite.Connection) -> list[Block]:
    sql = f"SELECT {BLOCK_COLUMNS} FROM blocks ORDER BY created_at, id"
    return [block_from_row(r) for r in await _rows(db, sql, ())]


_LIBRARIAN = f"SELECT {LIBRARIAN_COLUMNS} FROM librarians"


async def librarian_by_id(db: aiosqlite.Connection, librarian_id: str) -> Librarian | None:
    row = await _first(db, f"{_LIBRARIAN} WHERE id = ?", (librarian_id,))
    return None if row is None else librarian_from_row(row)


async def librarian_by_username(db: aiosqlite.Connection, username: str) -> Librarian | None:
    sql = f"{_LIBRARIAN} WHERE username = ? AND username != '' ORDER BY changed_at DESC LIMIT 1"
    row = await _first(db, sql, (username,))
    return None if row is None else librarian_from_row(row)


async def librarians_on_duty(db: aiosqlite.Connection) -> list[Librarian]:
    sql = f"{_LIBRARIAN} WHERE on_duty = 1 ORDER BY changed_at, id"
    return [librarian_from_row(r) for r in await _rows(db, sql, ())]

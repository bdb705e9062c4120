"""The outbox role on SQLite (``routing.ports.OutboxRows``): due rows in lane order,
lanes read together, rows settled. Every statement of the role is here; rows are added
by the log's append (one commit with their message), and ``sqlite_writer`` batches the
inserts and updates."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence

from bridge.store.sqlite_lanes import (
    D_COLUMNS,
    KNOWN,
    SLICE,
    LaneScan,
    busy_lanes,
    due_in_lanes_sliced,
    not_busy,
)
from bridge.store.sqlite_role import SqliteRole, chunks, first, rows
from bridge.store.sqlite_rows import DELIVERY_COLUMNS, Row, delivery_from_row, link_row
from routing.model import Delivery, DeliveryState
from routing.ports import Link

__all__ = ["DELIVERY_UPDATES", "DUE", "INSERT_DELIVERY", "SqliteOutbox"]

INSERT_DELIVERY = (
    "INSERT INTO deliveries (id, conversation_id, message_id, kind, destination,"
    " idempotency_key, attempts, next_attempt_at, state, last_error, external_id, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
DELIVERY_UPDATES = {
    "finish_delivery": "UPDATE deliveries SET state = 'done', external_id = ? WHERE id = ?",
    "retry_delivery": (
        "UPDATE deliveries SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?"
    ),
    "fail_delivery": (
        "UPDATE deliveries SET state = 'failed', attempts = ?, last_error = ? WHERE id = ?"
    ),
}

# Pending rows that are due, oldest first, unless an older pending row of the same lane
# (conversation, destination) is not yet due: then the lane waits behind its head.
# ``blocked`` is each lane's oldest not-yet-due row, read from the index of waiting
# times (normally only retrying heads are there); the scan then walks the pending rows
# in id order and stops at ``limit``.
DUE = (
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


def due_sql(skip: Sequence[str], busy: bool = False) -> str:
    """``DUE`` less the rows of the destinations in ``skip`` (bound as :s0, :s1, ...)
    of conversations the desk does not know yet, and with ``busy`` less the rows of
    the lanes in :busy (a JSON array of ``BUSY_KEY``s): the same page of the oldest due
    rows, whose left-out rows never reach Python. (A filter inside the page would scan a
    backlog of 100,000 rows for the others.) Each row starts with the page's size, so a
    page of left-out rows still reads as full; a page with none kept is one NULL row."""
    if not skip and not busy:
        return DUE
    keep = ["1"]
    if skip:
        marks = ", ".join(f":s{n}" for n in range(len(skip)))
        keep.append(f"(p.destination NOT IN ({marks})"
                    f" OR {KNOWN.format(conversation='p.conversation_id')})")
    if busy:
        keep.append(not_busy("p.conversation_id", "p.destination"))
    return (f"WITH page AS MATERIALIZED ({DUE})"
            " SELECT n.total, p.* FROM (SELECT count(*) AS total FROM page) AS n"
            f" LEFT JOIN page AS p ON {' AND '.join(keep)} ORDER BY p.id")

# Each lane's oldest pending rows (at most ?), one probe of the lane index per lane.
_LANES = (
    "WITH lanes(c, d) AS (VALUES {values})"
    f" SELECT {D_COLUMNS} FROM lanes JOIN deliveries AS d ON d.id IN ("
    "  SELECT id FROM deliveries INDEXED BY deliveries_lane WHERE state = 'pending'"
    "  AND conversation_id = lanes.c AND destination = lanes.d ORDER BY id LIMIT ?)"
    " ORDER BY d.conversation_id, d.destination, d.id"
)


class SqliteOutbox(SqliteRole):
    _lanes: LaneScan

    async def due_deliveries(self, now: float, limit: int, skip: Collection[str] = (),
                             busy: Collection[tuple[str, str]] = ()) -> list[Delivery]:
        """The oldest due rows; a full batch also brings the lanes it left out, so a
        backlog in a few conversations never holds back a reply elsewhere. Rows of the
        destinations in ``skip`` and of the lanes in ``busy`` are left out of both,
        undecoded (a busy outbox's lanes would be all of a page)."""
        skipped = sorted(skip)
        params: dict[str, object] = {"now": now, "limit": limit}
        params.update((f"s{n}", destination) for n, destination in enumerate(skipped))
        if busy:
            params["busy"] = busy_lanes(busy)
        found = await rows(self._db(), due_sql(skipped, bool(busy)), params)
        full = len(found) >= limit
        if skipped or busy:  # each row starts with the page's size; none kept: one NULL row
            full = bool(found) and found[0][0] >= limit
            found = [r[1:] for r in found if r[1] is not None]
        due: list[Delivery] = []
        for start in range(0, len(found), SLICE):
            if start:
                await asyncio.sleep(0)  # a thousand rows at once would hold up acks meanwhile
            due += [delivery_from_row(r) for r in found[start:start + SLICE]]
        if full:
            due += await self._lanes.missed(self._db(), now, due, skipped, busy)
        return due

    async def lane_deliveries(
        self, lanes: Collection[tuple[str, str]], now: float, limit: int
    ) -> list[Delivery]:
        found: list[Row] = []
        for part in chunks(lanes, 400):  # two parameters a lane
            sql = _LANES.format(values=", ".join(["(?, ?)"] * len(part)))
            found += await rows(self._db(), sql, [*(v for lane in part for v in lane), limit])
        return await due_in_lanes_sliced(found, now)

    async def get_delivery(self, delivery_id: str) -> Delivery | None:
        """One outbox row, whatever its state (the port has no way to read a done row)."""
        row = await first(self._db(), f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = ?",
                          (delivery_id,))
        return None if row is None else delivery_from_row(row)

    async def finish_delivery(
        self, delivery_id: str, external_id: str, link: Link | None = None
    ) -> None:
        await self._write("finish_delivery", external_id, delivery_id,
                          None if link is None else link_row(link))

    async def retry_delivery(
        self, delivery_id: str, attempts: int, next_attempt_at: float, error: str
    ) -> None:
        await self._write("retry_delivery", attempts, next_attempt_at, error, delivery_id)

    async def fail_delivery(self, delivery_id: str, attempts: int, error: str) -> None:
        await self._write("fail_delivery", attempts, error, delivery_id)

    async def pending_deliveries(self) -> int:
        row = await first(self._db(), "SELECT count(*) FROM deliveries WHERE state = 'pending'",
                          ())
        return int(row[0]) if row else 0

    async def delivery_counts(self) -> dict[str, int]:
        """How many outbox rows are in each state; every state is present, maybe with 0."""
        counts = {state.value: 0 for state in DeliveryState}
        sql = "SELECT state, count(*) FROM deliveries GROUP BY state"
        for state, count in await rows(self._db(), sql, ()):
            counts[state] = count
        return counts

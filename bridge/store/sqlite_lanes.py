"""The lanes a full batch of due deliveries left out.

``due_deliveries`` reads the oldest due rows. When a few conversations have a backlog
(a busy evening against a group's 20 messages a minute), the oldest rows are all
theirs, and a librarian's reply to a widget patron, or a new patron's first message,
would wait behind them. When the batch comes back full, ``LaneScan`` walks the lanes
(conversation, destination) by the lane index, a bounded number per call and round
the table in turns, and adds the first due rows of every lane the batch missed. A walk
costs a few milliseconds per hundred lanes, so it runs at most every ``interval``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Collection, Sequence

import aiosqlite

from bridge.store.sqlite_rows import DELIVERY_COLUMNS, Row, delivery_from_row
from routing.model import Delivery

__all__ = ["D_COLUMNS", "SLICE", "LaneScan", "busy_lanes", "due_in_lanes", "due_in_lanes_sliced",
           "not_busy"]

SLICE = 200  # rows decoded between two turns of the event loop

# The deliveries columns of a query that also names other tables.
D_COLUMNS = ", ".join("d." + column.strip() for column in DELIVERY_COLUMNS.split(","))


def due_in_lanes(rows: Sequence[Row], now: float,
                 skip: Collection[tuple[str, str]] = ()) -> list[Delivery]:
    """Pending rows ordered by lane then id, as deliveries: each lane's rows up to its
    first one not yet due (the rest of that lane waits behind it); lanes in ``skip`` out."""
    return _due(rows, now, set(skip))


async def due_in_lanes_sliced(rows: Sequence[Row], now: float) -> list[Delivery]:
    """``due_in_lanes`` a slice of rows at a time, a turn of the event loop between
    slices: 500 lanes reading on at once may bring 50,000 rows."""
    due: list[Delivery] = []
    stopped: set[tuple[str, str]] = set()  # carried on: a lane may span two slices
    for start in range(0, len(rows), SLICE):
        if start:
            await asyncio.sleep(0)
        due += _due(rows[start:start + SLICE], now, stopped)
    return due


def _due(rows: Sequence[Row], now: float, stopped: set[tuple[str, str]]) -> list[Delivery]:
    """``due_in_lanes``, adding the lanes it stops to ``stopped``."""
    due: list[Delivery] = []
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

# A conversation the desk knows (its topic is open, or a librarian answered): its rows
# are never skipped, as its lane starts past the bound too (routing.outbox_bound).
KNOWN = ("EXISTS (SELECT 1 FROM conversations AS k WHERE k.id = {conversation}"
         " AND (k.desk_thread IS NOT NULL OR k.first_response_at > 0))")


def not_busy(conversation: str, destination: str) -> str:
    """SQL true when the lane of these columns is none of :busy's (``busy_lanes``): the
    JSON list is bound once, and SQLite builds its index of it once per statement."""
    return (f"{conversation} || char(31) || {destination}"
            " NOT IN (SELECT value FROM json_each(:busy))")


def busy_lanes(lanes: Collection[tuple[str, str]]) -> str:
    """Lanes bound as :busy for ``not_busy``: one parameter, however many lanes (500
    lanes as pairs of parameters would pass SQLite's older limit of 999). Ids never hold
    the unit separator, so a key names one lane."""
    return json.dumps([f"{conversation}\x1f{destination}" for conversation, destination in lanes])


# A skip-scan over the lane index: one step per lane, not per row. Each lane found
# brings its oldest pending rows (at most :per_lane) along, unless its destination is
# skipped or the lane is busy ({skip}: "lanes.d NOT IN (...)", ``not_busy`` or "1"): then
# one row of its key and NULLs.
_LANE_ROWS = (
    "WITH RECURSIVE lanes(c, d, n) AS ("
    " SELECT * FROM (SELECT conversation_id, destination, 1 FROM deliveries"
    "  INDEXED BY deliveries_lane WHERE state = 'pending'"
    "  AND (conversation_id, destination) > (:c, :d)"
    "  ORDER BY conversation_id, destination LIMIT 1)"
    " UNION ALL"
    " SELECT (SELECT conversation_id FROM deliveries INDEXED BY deliveries_lane"
    "   WHERE state = 'pending' AND (conversation_id, destination) > (lanes.c, lanes.d)"
    "   ORDER BY conversation_id, destination LIMIT 1),"
    "  (SELECT destination FROM deliveries INDEXED BY deliveries_lane"
    "   WHERE state = 'pending' AND (conversation_id, destination) > (lanes.c, lanes.d)"
    "   ORDER BY conversation_id, destination LIMIT 1),"
    "  lanes.n + 1"
    " FROM lanes WHERE lanes.c IS NOT NULL AND lanes.n < :lanes)"
    f" SELECT lanes.c, lanes.d, {D_COLUMNS}"
    " FROM lanes LEFT JOIN deliveries AS d ON {skip} AND d.id IN ("
    "  SELECT id FROM deliveries INDEXED BY deliveries_lane WHERE state = 'pending'"
    "  AND conversation_id = lanes.c AND destination = lanes.d ORDER BY id LIMIT :per_lane)"
    " WHERE lanes.c IS NOT NULL ORDER BY lanes.c, lanes.d, d.id"
)


def _lane_rows(skip: Sequence[str], busy: bool) -> str:
    keep = ["1"]
    if skip:
        marks = ", ".join(f":s{n}" for n in range(len(skip)))
        known = KNOWN.format(conversation="lanes.c")
        keep.append(f"(lanes.d NOT IN ({marks}) OR {known})")
    if busy:
        keep.append(not_busy("lanes.c", "lanes.d"))
    return _LANE_ROWS.replace("{skip}", " AND ".join(keep))


class LaneScan:
    def __init__(self, lanes: int = 200, per_lane: int = 5, interval: float = 0.5) -> None:
        self._lanes = lanes
        self._per_lane = per_lane
        self._interval = interval
        self._cursor = ("", "")  # the last lane walked: the next walk starts after it
        self._last = -interval

    async def missed(
        self, db: aiosqlite.Connection, now: float, batch: Sequence[Delivery],
        skip: Sequence[str] = (), busy: Collection[tuple[str, str]] = (),
    ) -> list[Delivery]:
        """Due rows of lanes absent from ``batch``, each lane's in order; [] between walks.
        Lanes of the destinations in ``skip``, and the lanes in ``busy``, are walked but
        their rows are not read."""
        started = time.monotonic()
        if started - self._last < self._interval:
            return []
        self._last = started
        params: dict[str, object] = {"c": self._cursor[0], "d": self._cursor[1],
                                     "lanes": self._lanes, "per_lane": self._per_lane}
        params.update((f"s{n}", destination) for n, destination in enumerate(skip))
        if busy:
            params["busy"] = busy_lanes(busy)
        found = await db.execute_fetchall(_lane_rows(skip, bool(busy)), params)
        walked = {(r[0], r[1]) for r in found}
        rows: list[Row] = [tuple(r)[2:] for r in found if r[2] is not None]
        # A short walk reached the end of the table: the next one starts from the top.
        self._cursor = max(walked) if len(walked) >= self._lanes else ("", "")
        return due_in_lanes(rows, now,
                            skip={(d.conversation_id, d.destination.value) for d in batch})

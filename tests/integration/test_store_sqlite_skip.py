"""SqliteOutbox's read of everything due with destinations skipped: what only SQLite's
lane walk (bridge/store/sqlite_lanes.py) and query plan promise."""

from __future__ import annotations

import sqlite3

import pytest

from bridge.store import sqlite_lanes
from bridge.store.sqlite import SqliteStore
from bridge.store.sqlite_lanes import LaneScan, busy_lanes
from bridge.store.sqlite_outbox import due_sql
from routing.model import Channel
from tests.integration.store_contract import NOW, conversation_for, ids, patron, queued
from tests.integration.test_store_sqlite import sqlite_store

__all__ = ["sqlite_store"]  # the fixture: an open store on a fresh file


class TestSkippedDestinations:
    async def test_the_lane_walk_moves_on_past_lanes_of_a_skipped_destination(
            self, sqlite_store: SqliteStore) -> None:
        """A walk of two lanes at a time over six desk lanes, skipped, still moves on and
        reaches the widget reply behind them (a walk that found no row must not start
        again from the top)."""
        sqlite_store._lanes = LaneScan(lanes=2, interval=0.0)
        ana = await patron(sqlite_store)
        for _ in range(6):
            await queued(sqlite_store, await conversation_for(sqlite_store, ana))
        reply = await queued(sqlite_store, await conversation_for(sqlite_store, ana),
                             Channel.WIDGET)
        found: list[str] = []
        for _ in range(4):
            found += ids(await sqlite_store.due_deliveries(NOW, 1, skip=["desk"]))
        assert found == [reply.id]

    @pytest.mark.parametrize(("skip", "busy"), [(["desk"], False), ([], True),
                                                 (["desk"], True)])
    async def test_the_skipped_read_pages_the_pending_index_once(
            self, sqlite_store: SqliteStore, skip: list[str], busy: bool) -> None:
        """The skip and the busy lanes filter the page of the oldest due rows, they do
        not scan past it (the other scans are of the page, its size and the busy list)."""
        params = {"now": NOW, "limit": 10, "s0": "desk", "busy": busy_lanes([("c", "desk")])}
        with sqlite3.connect(sqlite_store.path) as conn:
            plan = [r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {due_sql(skip, busy)}",
                                               params)]
        conn.close()
        scans = [step for step in plan if step.startswith("SCAN")]
        assert all("deliveries_pending" in s or s.split()[1] in {"page", "n", "p", "json_each"}
                   for s in scans), plan
        assert any("deliveries_pending" in s for s in scans), plan


class TestBusyLanes:
    async def test_busy_lanes_rows_are_left_out_and_the_page_still_counts_full(
            self, sqlite_store: SqliteStore) -> None:
        """A page of two rows, both of a busy lane, comes back without them; being full,
        it brings the idle lane behind them (the lane walk), and never the busy one's."""
        ana = await patron(sqlite_store)
        sending, idle = (await conversation_for(sqlite_store, ana),
                         await conversation_for(sqlite_store, ana))
        for _ in range(3):
            await queued(sqlite_store, sending)
        waiting = await queued(sqlite_store, idle)
        due = await sqlite_store.due_deliveries(NOW, 2, busy=[(sending.id, "desk")])
        assert ids(due) == [waiting.id]

    async def test_idle_lanes_keep_their_order_beside_busy_ones(
            self, sqlite_store: SqliteStore) -> None:
        """Rows of lanes not busy come back as without ``busy``, oldest first."""
        ana = await patron(sqlite_store)
        a, b = await conversation_for(sqlite_store, ana), await conversation_for(sqlite_store, ana)
        rows = [await queued(sqlite_store, talk) for talk in (a, b, a, b, b)]
        due = await sqlite_store.due_deliveries(NOW, 10, busy=[(a.id, "desk")])
        assert ids(due) == ids([rows[1], rows[3], rows[4]])
        assert ids(await sqlite_store.due_deliveries(NOW, 10)) == ids(rows)


class TestSlicedLaneReads:
    async def test_a_lane_that_spans_two_slices_still_waits_behind_its_retry(
            self, sqlite_store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> None:
        """Rows are decoded three at a time here: a lane whose retrying row ends one
        slice keeps the row behind it, in the next slice, out."""
        monkeypatch.setattr(sqlite_lanes, "SLICE", 3)
        ana = await patron(sqlite_store)
        a, b = await conversation_for(sqlite_store, ana), await conversation_for(sqlite_store, ana)
        first, second, retrying, _behind = [await queued(sqlite_store, a) for _ in range(4)]
        others = [await queued(sqlite_store, b) for _ in range(2)]
        await sqlite_store.retry_delivery(retrying.id, 1, NOW + 60, "429 Too Many Requests")
        lanes = sorted([(a.id, "desk"), (b.id, "desk")])
        found = ids(await sqlite_store.lane_deliveries(lanes, NOW, 10))
        expected = {a.id: ids([first, second]), b.id: ids(others)}
        assert found == [i for c, _ in lanes for i in expected[c]]

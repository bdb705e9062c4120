"""The reports over the real SQLite store, checked against answers counted by hand on a
small set (first response median and 90th percentile, missed, heat-map cells, READ and
kind counts, ratings), before and after the daily roll-up; and the seeded year's totals
surviving the roll-up."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bridge.admin.overview import overview_view
from bridge.admin.report_queries import DateRange, Reports, date_range
from bridge.admin.report_rollup import DailyRollUp, roll_up, settled_until
from bridge.store.sqlite import SqliteStore
from routing.model import Channel, Conversation, PageInfo, Patron, Status
from routing.report_roles import DEFAULT_KINDS, ReferenceMark
from tests.eventually import eventually
from tests.seed import seed_year

TZ = "Asia/Jakarta"
ZONE = ZoneInfo(TZ)
NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=ZONE).timestamp()
MARCH = DateRange(dt.date(2026, 3, 1), dt.date(2026, 3, 10))


def at(day: int, hour: int, minute: int = 0) -> float:
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=ZONE).timestamp()


# (origin, opened, first answer after s, closed after s, rating, mark, librarian, after hours)
HAND = [
    (Channel.WIDGET, at(2, 9), 60, 600, 5, ReferenceMark("reference", 2), "1001", False),
    (Channel.EMAIL, at(2, 9, 30), 120, 1200, 3, ReferenceMark("research", 4), "1002", False),
    (Channel.TELEGRAM, at(3, 20), None, 300, None, None, "1003", True),  # closed unanswered
    (Channel.WIDGET, at(4, 23, 30), 300, None, None, None, "1001", True),
    (Channel.WIDGET, at(5, 10, 15), None, None, None, None, "", False),  # open > 1 day
    (Channel.WIDGET, at(10, 11), None, None, None, None, "", False),  # open 1 h: waiting
]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = SqliteStore(tmp_path / "bridge.db", synchronous="NORMAL")
    await s.open()
    yield s
    await s.close()


async def hand_set(store: SqliteStore) -> None:
    await store.save_patron(Patron("p1", name="Sari"))
    for n, (origin, opened, first, closed, rating, mark, lib, after) in enumerate(HAND):
        c = Conversation(
            f"c{n}", "p1", origin, Status.CLOSED if closed else Status.OPEN,
            claimed_by_id=lib, after_hours=after, rating=rating, created_at=opened,
            updated_at=opened, closed_at=opened + closed if closed else 0.0,
            first_response_at=opened + first if first else 0.0,
            tags=("renewal",) if n == 3 else (),
            page=PageInfo(url="https://opac.example.org/") if n == 3 else PageInfo())
        await store.save_conversation(c)
        if mark is not None:
            await store.save_reference(c.id, mark, lib, c.closed_at)


class TestHandCounted:
    async def test_overview(self, store: SqliteStore) -> None:
        """Six conversations: median first response 120 s (of 60, 120, 300), 90th
        percentile 300 s; time to close median 600 s; two missed; Monday 09:00 holds two
        openings; average rating 4."""
        await hand_set(store)
        o = await Reports(store, TZ).overview(MARCH, NOW)
        t = o.total
        assert (t.conversations, t.answered, t.missed, t.after_hours) == (6, 3, 2, 2)
        assert (t.first(0.5), t.first(0.9), t.close(0.5), t.close(0.9)) == (120, 300, 600, 1200)
        assert t.average_rating == 4 and t.ratings == [0, 0, 1, 0, 1]
        cells = {(d, h): n for d, row in enumerate(o.heat) for h, n in enumerate(row) if n}
        assert cells == {(0, 9): 2, (1, 20): 1, (2, 23): 1, (3, 10): 1, (1, 11): 1}
        assert dict(o.by_channel) == {"widget": 4, "email": 1, "telegram": 1}
        assert o.tags == [("renewal", 1)] and o.pages == [("https://opac.example.org/", 1)]

    async def test_reference_and_librarians(self, store: SqliteStore) -> None:
        """One reference question at READ 2 and one research at READ 4, in March; Ayu
        (1001) served two, with a median first response of 180 s."""
        await hand_set(store)
        reports = Reports(store, TZ)
        table = await reports.reference(MARCH, list(DEFAULT_KINDS), NOW)
        head, march, total = table.csv_rows()
        assert head == ["month", *DEFAULT_KINDS, "other kind", *(f"READ {i}" for i in
                                                                range(1, 7))]
        assert march == ["2026-03", "0", "1", "1", "0", "0", "0", "0", "1", "0", "1", "0", "0"]
        assert total[1:] == march[1:]
        people = {p.id: p for p in await reports.librarians(MARCH, {}, NOW)}
        assert set(people) == {"1001", "1002", "1003"}
        assert people["1001"].tally.conversations == 2
        assert people["1001"].tally.first(0.5) == 180
        assert dict(people["1002"].reads) == {4: 1}

    async def test_roll_up_keeps_the_counts(self, store: SqliteStore) -> None:
        """After rolling up every day before today, the counts are the same, medians come
        from the histogram (within 9.1 %), and today stays live."""
        await hand_set(store)
        days = await roll_up(store, at(10, 0), timezone=TZ, now=NOW)
        assert days == 4 and await store.rolled_until() == "2026-03-06"  # after the last
        o = await Reports(store, TZ).overview(MARCH, NOW)
        t = o.total
        assert (t.conversations, t.answered, t.missed, t.after_hours) == (6, 3, 2, 2)
        assert not t.exact and t.first(0.5) == pytest.approx(120, rel=0.091)
        assert o.heat[0][9] == 2 and o.heat[1][11] == 1 and o.tags == [("renewal", 1)]
        table = await Reports(store, TZ).reference(MARCH, list(DEFAULT_KINDS), NOW)
        assert table.csv_rows()[1][8] == "1"  # READ 2
        assert await roll_up(store, at(10, 0), timezone=TZ, now=NOW) == 0  # nothing twice


async def test_a_seeded_year_survives_the_roll_up(store: SqliteStore) -> None:
    """A year of 600 seeded conversations: after the roll-up the year's totals, heat map,
    READ counts and per-librarian counts are what they were from the live rows."""
    saved = await seed_year(store, conversations=600, seed=3, now=NOW, timezone=TZ)
    reports = Reports(store, TZ)
    span = date_range({"from": "2025-03-01", "to": "2026-03-10"}, reports.today(NOW))
    before = await reports.overview(span, NOW)
    table = (await reports.reference(span, list(DEFAULT_KINDS), NOW)).csv_rows()
    people = {p.id: p.tally.conversations for p in await reports.librarians(span, {}, NOW)}
    assert before.total.conversations == len(saved)
    await roll_up(store, settled_until(NOW, TZ), timezone=TZ, now=NOW)
    after = await reports.overview(span, NOW)
    assert after.total.conversations == len(saved) and after.heat == before.heat
    assert after.total.missed == before.total.missed
    assert sorted(after.tags) == sorted(before.tags)
    assert (await reports.reference(span, list(DEFAULT_KINDS), NOW)).csv_rows() == table
    assert {p.id: p.tally.conversations
            for p in await reports.librarians(span, {}, NOW)} == people
    for days in (30, 150, 365):  # by day, by week, by month: the same total either way
        some = DateRange(span.last - dt.timedelta(days=days - 1), span.last)
        live = await Reports(store, TZ).overview(some, NOW)
        view = overview_view(live)
        assert str(view["first_line"]).count("<circle") > 0
        assert sum(t.conversations for t in live.daily.values()) == live.total.conversations
    assert sum(int(c) for c in table[-1][7:]) == sum(s.mark is not None and
                                                     s.mark.read_level is not None
                                                     for s in saved)


async def test_a_question_closed_after_its_day_was_rolled_up_still_counts(
        store: SqliteStore) -> None:
    """A conversation opened on 2 March, rolled up with its day, and closed with a mark on
    6 March is counted once in March's reference statistics, before and after 6 March is
    rolled up in turn."""
    await hand_set(store)
    await roll_up(store, at(5, 0), timezone=TZ, now=NOW)
    await store.save_reference("c4", ReferenceMark("technical", 5), "1001", at(6, 10))
    reports = Reports(store, TZ)

    async def technical_and_read_5() -> tuple[str, str]:
        march = (await reports.reference(MARCH, list(DEFAULT_KINDS), NOW)).csv_rows()[1]
        return march[4], march[11]

    assert await technical_and_read_5() == ("1", "1")
    await roll_up(store, at(10, 0), timezone=TZ, now=NOW)
    assert await technical_and_read_5() == ("1", "1")
    people = {p.id: p for p in await reports.librarians(MARCH, {}, NOW)}
    assert people["1001"].reads == {2: 1, 5: 1}


async def test_the_bridge_rolls_up_settled_days_by_itself(store: SqliteStore) -> None:
    """The background loop rolls up the days up to two days before today at start."""
    await hand_set(store)

    class Clock:
        def now(self) -> float:
            return NOW

    loop = asyncio.create_task(DailyRollUp(store, Clock(), TZ).run())
    try:
        await eventually(lambda: store.rolled_until(), within=10)
    finally:
        loop.cancel()
    assert await store.rolled_until() == "2026-03-06"  # the day after the last rolled up

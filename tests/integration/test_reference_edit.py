"""A question's kind and READ level edited from the dashboard (``bridge.admin.reference_edit``)
over the real SQLite store: the reference report counts the same whether the mark's day
was rolled up before the edit or after it, a mark added afterwards counts on its
conversation's close day for the librarian who served, and bad form values are refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bridge.admin.reference_edit import edit_reference, mark_from_form
from bridge.admin.report_queries import Reports
from bridge.admin.report_rollup import roll_up
from bridge.store.sqlite import SqliteStore
from routing.report_roles import DEFAULT_KINDS, ReferenceMark
from tests.integration.test_report_figures import MARCH, NOW, TZ, at, hand_set

KINDS = list(DEFAULT_KINDS)


async def _opened(path: Path) -> SqliteStore:
    store = SqliteStore(path, synchronous="NORMAL")
    await store.open()
    await hand_set(store)
    return store


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[tuple[SqliteStore, SqliteStore]]:
    """Two stores holding the same hand-counted March: the first rolled up to the 10th."""
    rolled, live = await _opened(tmp_path / "a.db"), await _opened(tmp_path / "b.db")
    await roll_up(rolled, at(10, 0), timezone=TZ, now=NOW)
    assert await rolled.rolled_until() == "2026-03-06"
    yield rolled, live
    await rolled.close()
    await live.close()


async def _table(store: SqliteStore) -> list[list[str]]:
    return (await Reports(store, TZ).reference(MARCH, KINDS, NOW)).csv_rows()


async def _edit(store: SqliteStore, conversation_id: str, mark: ReferenceMark) -> None:
    conversation = await store.get_conversation(conversation_id)
    assert conversation is not None
    await edit_reference(store, conversation, mark, timezone=TZ, now=NOW)


class TestEditedMarks:
    async def test_an_edit_counts_the_same_rolled_up_or_live(
            self, stores: tuple[SqliteStore, SqliteStore]) -> None:
        """c0's "reference 2" becomes "research 6": the month's counts move from the old
        kind and level to the new ones, equally on the rolled-up store and the live one,
        and rolling the live one up afterwards changes nothing."""
        rolled, live = stores
        for store in stores:
            await _edit(store, "c0", ReferenceMark("research", 6))
        table = await _table(rolled)
        assert table == await _table(live)
        head, march = table[0], table[1]
        assert march[head.index("reference")] == "0" and march[head.index("research")] == "2"
        assert march[head.index("READ 2")] == "0" and march[head.index("READ 6")] == "1"
        await roll_up(live, at(10, 0), timezone=TZ, now=NOW)
        assert await _table(live) == table
        assert await rolled.rolled_reference("2026-03-02", "2026-03-02") == \
            await live.rolled_reference("2026-03-02", "2026-03-02")

    async def test_a_mark_added_later_counts_on_the_close_day_for_who_served(
            self, stores: tuple[SqliteStore, SqliteStore]) -> None:
        """c2 was closed on 3 March by librarian 1003 with no mark: the mark added from
        the dashboard a week later counts on 3 March, for 1003."""
        rolled, _live = stores
        await _edit(rolled, "c2", ReferenceMark("technical", 3))
        noted = await rolled.reference_noted("c2")
        assert noted is not None and noted.librarian_id == "1003"
        assert noted.marked_at == (await rolled.get_conversation("c2")).closed_at  # type: ignore[union-attr]
        assert await rolled.rolled_reference("2026-03-03", "2026-03-03") == [
            ("2026-03", "1003", "technical", 3, 1)]
        people = {p.id: p.reads for p in await Reports(rolled, TZ).librarians(MARCH, {}, NOW)}
        assert dict(people["1003"]) == {3: 1}


    async def test_two_edits_at_once_count_the_question_once(
            self, stores: tuple[SqliteStore, SqliteStore]) -> None:
        """A double click, or two librarians saving c2 at the same moment: its rolled day
        counts the last mark saved, once, not both."""
        rolled, _live = stores
        conversation = await rolled.get_conversation("c2")
        assert conversation is not None
        await asyncio.gather(*(edit_reference(rolled, conversation, mark, timezone=TZ, now=NOW)
                               for mark in (ReferenceMark("technical", 3),
                                            ReferenceMark("research", 5))))
        assert await rolled.rolled_reference("2026-03-03", "2026-03-03") == [
            ("2026-03", "1003", "research", 5, 1)]


class TestTheForm:
    def test_a_kind_or_a_level_or_both(self) -> None:
        """Either may be left out, not both; "" means not said."""
        assert mark_from_form({"kind": "research", "level": ""}, KINDS) == \
            ReferenceMark("research")
        assert mark_from_form({"kind": "", "level": "4"}, KINDS) == ReferenceMark("", 4)
        with pytest.raises(ValueError, match="choose a question kind"):
            mark_from_form({"kind": "", "level": ""}, KINDS)

    @pytest.mark.parametrize("form", [{"kind": "gossip"}, {"level": "7"}, {"level": "0"},
                                      {"level": "²"}, {"level": "-1"}])
    def test_what_is_not_on_the_lists_is_refused(self, form: dict[str, str]) -> None:
        """A kind the library did not configure, or a level off the READ scale."""
        with pytest.raises(ValueError):
            mark_from_form(form, KINDS)

"""SqliteStore: reports and transcript searches run on a read-only connection of their
own, so a long one never stands between a patron's message and its ack (issue 14)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bridge.admin.report_queries import DateRange, Reports
from bridge.store.sqlite import SqliteStore
from bridge.store.sqlite_report_conn import thread_of
from routing.model import Channel, Inbound
from routing.ports import SystemClock
from routing.router import Router
from routing.transcript_roles import TranscriptQuery
from tests.integration.store_contract import NOW
from tests.integration.store_contract_transcripts import talk

GUARD = 10.0  # seconds a gate holds at most: a regression fails the ordering, never hangs


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "pustaka.db")
    await opened.open()
    yield opened
    await opened.close()


class Gate:
    """A progress handler that holds the report's statement, on the report's own
    thread, until ``release``; ``entered`` says a statement is held."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.released = threading.Event()

    def __call__(self) -> int:
        self.entered.set()
        if not self.released.wait(GUARD):
            self.released.set()
        return 0  # go on: the statement is not interrupted

    async def held(self) -> bool:
        return await asyncio.to_thread(self.entered.wait, GUARD)


def year_overview(store: SqliteStore) -> Awaitable[Any]:
    reports = Reports(store, "UTC")
    return reports.overview(DateRange(reports.today(NOW - 364 * 86_400),
                                      reports.today(NOW)), NOW)


def renew_search(store: SqliteStore) -> Awaitable[Any]:
    return store.search_transcripts(TranscriptQuery(words="renew"))


class TestReportConnection:
    async def test_it_cannot_write(self, store: SqliteStore) -> None:
        """A write on the report connection raises, even with query_only turned off:
        it is opened read-only."""
        db = store.report_connection
        with pytest.raises(sqlite3.OperationalError, match=r"readonly|query_only"):
            await db.execute("INSERT INTO state (key, value) VALUES ('x', 'y')")
        await db.execute("PRAGMA query_only = OFF")
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            await db.execute("INSERT INTO state (key, value) VALUES ('x', 'y')")

    @pytest.mark.skipif(not sys.platform.startswith("linux"),
                        reason="a thread's own niceness is Linux's")
    async def test_its_thread_yields_the_cpu_to_the_intake(self, store: SqliteStore) -> None:
        """The reports' thread runs at the lowest priority; the intake's reader, a thread
        of the same process, keeps the process's own."""
        reports = await thread_of(store.report_connection)
        intake = await thread_of(store._db())
        assert reports not in (intake, threading.get_native_id())
        assert os.getpriority(os.PRIO_PROCESS, reports) == 19  # Linux's lowest
        assert os.getpriority(os.PRIO_PROCESS, intake) == os.getpriority(os.PRIO_PROCESS, 0)

    async def test_it_sees_each_write_once_acknowledged(self, store: SqliteStore) -> None:
        """A search on its own connection finds a message as soon as its write returned."""
        said = await talk(store, "Can I renew my thesis loan?")
        assert [hit.conversation.id for hit in await renew_search(store)] == [said.id]

    async def test_it_closes_with_the_store(self, tmp_path: Path) -> None:
        """After close the report connection is gone, and asking for it says so."""
        store = SqliteStore(tmp_path / "pustaka.db")
        await store.open()
        db = store.report_connection
        await store.close()
        with pytest.raises(RuntimeError, match="closed"):
            store.report_connection  # noqa: B018  # the property raises
        with pytest.raises(ValueError):  # aiosqlite: no active connection
            await db.execute("SELECT 1")

    @pytest.mark.parametrize("report", [year_overview, renew_search],
                             ids=["year-overview", "transcript-search"])
    async def test_intake_is_acked_while_a_report_is_held(
        self, store: SqliteStore, report: Callable[[SqliteStore], Awaitable[Any]]
    ) -> None:
        """A patron's first message (reads of who they are, a conversation opened, the
        message and its delivery committed) is acked and readable while a report's
        statement is held mid-query; the report answers after it is let go."""
        await talk(store, "Can I renew my books?")
        events: list[str] = []
        gate = Gate()
        await store.report_connection.set_progress_handler(gate, 1)

        async def run_report() -> None:
            await report(store)
            events.append("report answered")

        reporting = asyncio.create_task(run_report())
        assert await gate.held()
        router = Router(store, SystemClock())
        accepted = await router.intake.accept(
            Inbound(Channel.WIDGET, "visitor-new", "Is the library open today?", client_id="c1"))
        events.append("intake acked")
        history = await store.history(accepted.conversation.id)
        events.append("intake read back")
        assert [m.text for m in history] == ["Is the library open today?"]
        assert not reporting.done()
        gate.released.set()
        await reporting
        assert events == ["intake acked", "intake read back", "report answered"]

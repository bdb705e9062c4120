"""A contact's patron read once for every caller that misses while it runs, and never
handed to a caller it could be stale for."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bridge.store import sqlite_directory as directory
from bridge.store.sqlite import SqliteStore
from routing.model import Channel, Contact, Patron
from tests.integration.test_store_sqlite import sqlite_store

__all__ = ["sqlite_store"]  # the fixture: an open store on a fresh file

VISITOR = Contact(Channel.WIDGET, "v-new")


@pytest.fixture
def store(sqlite_store: SqliteStore) -> SqliteStore:
    return sqlite_store


async def patron_reads(store: SqliteStore) -> list[str]:
    """The reader's statements that look a patron up by contact, recorded from now on."""
    seen: list[str] = []
    await store._db().set_trace_callback(seen.append)
    return seen


def by_contact(statements: list[str]) -> int:
    return sum("FROM contacts WHERE channel" in s for s in statements)


async def test_five_callers_missing_at_once_share_one_read(store: SqliteStore) -> None:
    """A new visitor's five messages ask together: one SQL read, five equal answers."""
    seen = await patron_reads(store)
    answers = await asyncio.gather(*(store.patron_by_contact(VISITOR) for _ in range(5)))
    assert answers == [None] * 5
    assert by_contact(seen) == 1
    assert await store.patron_by_contact(VISITOR) is None  # then the cache answers
    assert by_contact(seen) == 1


async def test_a_caller_after_a_save_does_not_take_the_read_begun_before_it(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read that found no patron, still returning while the patron is saved, is not
    the answer of a caller that asks after the save: that caller reads again."""
    read_done, release = asyncio.Event(), asyncio.Event()
    real = store._read_patron

    async def slow_read(contact: Contact, generation: int) -> Any:
        found = await real(contact, generation)
        read_done.set()
        await release.wait()
        return found

    monkeypatch.setattr(store, "_read_patron", slow_read)
    early = asyncio.ensure_future(store.patron_by_contact(VISITOR))
    await read_done.wait()  # its SQL ran: no patron yet
    patron = Patron("p1", name="Dewi", contacts=(VISITOR,))
    await store.save_patron(patron)
    monkeypatch.setattr(store, "_read_patron", real)
    late = await store.patron_by_contact(VISITOR)
    release.set()
    assert await early is None
    assert late is not None and late.id == "p1"


async def test_a_cancelled_caller_leaves_the_shared_read_to_the_others(
    store: SqliteStore,
) -> None:
    """The first caller going away does not cancel the read the others wait for."""
    first = asyncio.ensure_future(store.patron_by_contact(VISITOR))
    second = asyncio.ensure_future(store.patron_by_contact(VISITOR))
    await asyncio.sleep(0)
    first.cancel()
    assert await second is None


async def test_a_contact_made_here_is_answered_without_a_read(store: SqliteStore) -> None:
    """A visitor id minted in this process a moment ago: its first lookups (five
    messages at once) read nothing, and its first message then finds its patron."""
    seen = await patron_reads(store)
    store.new_contact(VISITOR)
    answers = await asyncio.gather(*(store.patron_by_contact(VISITOR) for _ in range(5)))
    assert answers == [None] * 5
    patron = Patron("p1", name="Dewi", contacts=(VISITOR,))
    await store.save_patron(patron)
    assert await store.patron_by_contact(VISITOR) == patron
    assert by_contact(seen) == 0


async def test_a_caller_that_joined_a_read_finding_nobody_reads_again_after_a_save(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A caller joins a read whose SQL found nobody; the contact gets its patron before
    that answer is back: the joined caller does not take "nobody", it reads again."""
    read_done, release = asyncio.Event(), asyncio.Event()
    real_rows = directory.rows

    async def slow_rows(*args: Any) -> Any:
        found = await real_rows(*args)
        if not release.is_set():
            read_done.set()
            await release.wait()
        return found

    monkeypatch.setattr(directory, "rows", slow_rows)
    early = asyncio.ensure_future(store.patron_by_contact(VISITOR))
    await read_done.wait()  # its SQL ran, before the save: nobody
    joined = asyncio.ensure_future(store.patron_by_contact(VISITOR))
    await asyncio.sleep(0)
    await store.save_patron(Patron("p1", name="Dewi", contacts=(VISITOR,)))
    release.set()
    assert await early is None  # it asked first: as a read of its own would have said
    found = await joined
    assert found is not None and found.id == "p1"

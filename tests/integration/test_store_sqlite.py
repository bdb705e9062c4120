"""SqliteStore: the store contract, plus what only the SQLite file promises."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bridge.store.sqlite import SqliteStore
from bridge.store.sqlite_cache import RecordCache
from bridge.store.sqlite_outbox import DUE as _DUE
from bridge.store.sqlite_schema import Migration, bundled_migrations, migrate
from routing.model import Block, BlockKind, Channel, Contact, DeliveryState, Patron, new_id
from routing.ports import Link
from tests.integration.store_contract import (
    NOW,
    conversation_for,
    delivery_for,
    message_in,
    patron,
    queued,
)
from tests.integration.store_contract_contacts import ContactStatesContract
from tests.integration.store_contract_desk import DeskStateContract
from tests.integration.store_contract_directory import BlocksContract, DirectoryContract
from tests.integration.store_contract_first import FirstMessageContract
from tests.integration.store_contract_links import CursorsContract, LinksContract
from tests.integration.store_contract_log import ConversationLogContract, ReportsContract
from tests.integration.store_contract_outbox import OutboxContract


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = SqliteStore(tmp_path / "pustaka.db")
    await store.open()
    yield store
    await store.close()


class SqliteFixture:
    @pytest.fixture
    async def store(self, sqlite_store: SqliteStore) -> SqliteStore:
        return sqlite_store


class TestSqliteDirectory(SqliteFixture, DirectoryContract):
    pass


class TestSqliteConversationLog(SqliteFixture, ConversationLogContract):
    pass


class TestSqliteFirstMessage(SqliteFixture, FirstMessageContract):
    pass


class TestSqliteReports(SqliteFixture, ReportsContract):
    pass


class TestSqliteOutbox(SqliteFixture, OutboxContract):
    pass


class TestSqliteLinks(SqliteFixture, LinksContract):
    pass


class TestSqliteDeskState(SqliteFixture, DeskStateContract):
    pass


class TestSqliteContactStates(SqliteFixture, ContactStatesContract):
    pass


class TestSqliteCursors(SqliteFixture, CursorsContract):
    pass


class TestSqliteBlocks(SqliteFixture, BlocksContract):
    async def test_blocks_survive_reopen(self, tmp_path: Path) -> None:
        """A block saved before close() still refuses after a new store opens the file."""
        path = tmp_path / "blocks.db"
        first = SqliteStore(path)
        await first.open()
        block = Block(new_id(), BlockKind.EMAIL, "eve@example.org", None, "Ana", "", NOW)
        await first.active_blocks(NOW)  # loads the in-memory copy before the write
        await first.save_block(block)
        assert await first.find_block([(BlockKind.EMAIL, "eve@example.org")], NOW) == block
        await first.close()
        again = SqliteStore(path)
        await again.open()
        try:
            assert await again.active_blocks(NOW) == [block]
        finally:
            await again.close()


    async def test_a_restarts_first_messages_share_one_load_of_the_blocks(
            self, tmp_path: Path) -> None:
        """After a start, hundreds of first messages check blocks at once: one read of
        the blocks table serves them all, and every one sees the saved block."""
        store = SqliteStore(tmp_path / "herd.db")
        await store.open()
        try:
            block = Block(new_id(), BlockKind.EMAIL, "eve@example.org", None, "Ana", "", NOW)
            await store.save_block(block)
            store._blocks = None  # as just opened: nothing loaded yet
            statements: list[str] = []
            await store._db().set_trace_callback(statements.append)
            keys = [(BlockKind.EMAIL, "eve@example.org")]
            found = await asyncio.gather(*(store.find_block(keys, NOW) for _ in range(256)))
            await store._db().set_trace_callback(None)
            assert found == [block] * 256
            assert len([s for s in statements if "FROM blocks" in s]) == 1, statements
        finally:
            await store.close()


    async def test_a_block_saved_while_the_blocks_load_is_kept(
            self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A block committed after the first load read the table, before that load
        finished, refuses from the next check (the load reads again), not after a restart."""
        import bridge.store.sqlite_directory as directory
        store = SqliteStore(tmp_path / "race.db")
        await store.open()
        real, block = directory.rows, Block(new_id(), BlockKind.VISITOR, "v-flood", None,
                                             "Ana", "", NOW)

        saved: list[bool] = []

        async def block_after_the_read(db: Any, sql: str, params: Any) -> Any:
            found = await real(db, sql, params)
            if "FROM blocks" in sql and not saved:
                saved.append(True)
                await store.save_block(block)  # commits after the read's snapshot
            return found

        monkeypatch.setattr(directory, "rows", block_after_the_read)
        try:
            await store.find_block([(BlockKind.VISITOR, "v-flood")], NOW)
            assert await store.find_block([(BlockKind.VISITOR, "v-flood")], NOW) == block
        finally:
            await store.close()


class TestDurability:
    async def test_everything_survives_close_and_reopen(self, tmp_path: Path) -> None:
        """Every kind of record written before close() is read back by a new store."""
        path = tmp_path / "pustaka.db"
        store = SqliteStore(path)
        await store.open()
        ana = await patron(store, "v-1", name="Ana")
        conversation = await conversation_for(store, ana, desk_thread=9)
        message = message_in(conversation, client_id="c-1")
        delivery = delivery_for(message)
        await store.append(message, [delivery])
        await store.finish_delivery(delivery.id, "tg-1")
        await store.save_link(Link("desk", "tg-1", conversation.id, message.id))
        await store.set_state("telegram.offset", "77")
        await store.close()

        again = SqliteStore(path)
        await again.open()
        try:
            assert await again.patron_by_contact(Contact(Channel.WIDGET, "v-1")) == ana
            assert await again.conversation_by_thread(9) == conversation
            assert await again.latest_conversation(ana.id) == conversation
            assert await again.history(conversation.id) == [message]
            assert await again.get_delivery(delivery.id) == replace(
                delivery, state=DeliveryState.DONE, external_id="tg-1")
            assert await again.find_link("desk", "tg-1") is not None
            assert await again.get_state("telegram.offset") == "77"
            resend = message_in(conversation, client_id="c-1")
            assert await again.append(resend, []) == (message, False)
        finally:
            await again.close()

    async def test_close_writes_what_is_still_queued(self, tmp_path: Path) -> None:
        """Writes queued but not yet committed when close() starts are committed by it."""
        path = tmp_path / "pustaka.db"
        store = SqliteStore(path)
        await store.open()
        keys = [f"k{n}" for n in range(500)]
        writes = [asyncio.create_task(store.set_state(k, "v")) for k in keys]
        await asyncio.sleep(0)  # queued, most not yet written
        await store.close()
        await asyncio.gather(*writes)
        again = SqliteStore(path)
        await again.open()
        try:
            assert [await again.get_state(k) for k in keys] == ["v"] * len(keys)
        finally:
            await again.close()

    async def test_calls_outside_open_and_close_raise(self, tmp_path: Path) -> None:
        """Reads and writes before open() or after close() raise RuntimeError."""
        store = SqliteStore(tmp_path / "pustaka.db")
        with pytest.raises(RuntimeError, match="not open"):
            await store.get_state("k")
        await store.open()
        await store.close()
        with pytest.raises(RuntimeError, match="closed"):
            await store.set_state("k", "v")
        with pytest.raises(RuntimeError, match="closed"):
            await store.get_patron("p")
        await store.close()  # a second close is harmless


class TestMigrations:
    def test_bundled_migrations_are_numbered_and_described(self) -> None:
        """Every shipped migration has a unique number and a one-line description."""
        migrations = bundled_migrations()
        assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
        assert all(m.description and "\n" not in m.description for m in migrations)

    async def test_reopening_applies_nothing_twice(self, tmp_path: Path) -> None:
        """A second open() finds every migration recorded once and applies none again."""
        path = tmp_path / "pustaka.db"
        for _ in range(2):
            store = SqliteStore(path)
            await store.open()
            await store.close()
        with sqlite3.connect(path) as conn:
            versions = [r[0] for r in conn.execute("SELECT version FROM schema_version")]
            assert versions == [m.version for m in bundled_migrations()]
            assert migrate(conn, bundled_migrations()) == []
        conn.close()

    def test_a_failing_migration_leaves_no_trace(self, tmp_path: Path) -> None:
        """A migration that fails half-way is rolled back whole and not recorded."""
        conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
        good = Migration(1, "0001_a.sql", "a", "CREATE TABLE a (x);")
        broken = "CREATE TABLE b (x);\nINSERT INTO nowhere VALUES (1);"
        bad = Migration(2, "0002_b.sql", "b", broken)
        with pytest.raises(RuntimeError, match=r"0002_b\.sql"):
            migrate(conn, [good, bad])
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "a" in tables and "b" not in tables
        assert [r[0] for r in conn.execute("SELECT version FROM schema_version")] == [1]
        conn.close()

    def test_0005_confirms_mailed_addresses_and_frees_typed_ones(self, tmp_path: Path) -> None:
        """Upgrading to 0005 confirms a mail sender's own address and lets go of an
        address a widget visitor only typed, so its owner's mail opens their own chat."""
        conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
        migrate(conn, [m for m in bundled_migrations() if m.version < 5])
        conn.executescript(
            "INSERT INTO patrons (id, name, email) VALUES"
            " ('mailer', 'Ana', 'Ana@Example.org'), ('typist', 'Bo', 'victim@example.org');"
            "INSERT INTO contacts VALUES ('email', 'ana@example.org', 'mailer', 0),"
            " ('widget', 'v1', 'typist', 0), ('email', 'victim@example.org', 'typist', 1);")
        migrate(conn, [m for m in bundled_migrations() if m.version == 5])
        confirmed = dict(conn.execute("SELECT id, email_confirmed FROM patrons").fetchall())
        assert confirmed == {"mailer": 1, "typist": 0}
        contacts = sorted(conn.execute("SELECT channel, address, patron_id FROM contacts"))
        assert contacts == [("email", "ana@example.org", "mailer"), ("widget", "v1", "typist")]
        conn.close()

    def test_a_newer_database_is_refused(self, tmp_path: Path) -> None:
        """A database migrated by a newer program is not opened by an older one."""
        conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
        migrate(conn, [Migration(1, "0001_a.sql", "a", "CREATE TABLE a (x);"),
                       Migration(2, "0002_b.sql", "b", "CREATE TABLE b (x);")])
        with pytest.raises(RuntimeError, match="newer"):
            migrate(conn, [Migration(1, "0001_a.sql", "a", "CREATE TABLE a (x);")])
        conn.close()


class TestGroupCommit:
    async def test_concurrent_appends_share_commits(self, sqlite_store: SqliteStore) -> None:
        """2,000 concurrent appends all complete in far fewer commits than appends."""
        conversation = await conversation_for(sqlite_store, await patron(sqlite_store))
        messages = [message_in(conversation, client_id=new_id()) for _ in range(2000)]
        before = sqlite_store.commits
        results = await asyncio.gather(
            *(sqlite_store.append(m, [delivery_for(m)]) for m in messages))
        assert all(created for _, created in results)
        assert sqlite_store.commits - before <= 20
        assert await sqlite_store.pending_deliveries() == 2000

    async def test_a_bad_op_fails_alone(self, sqlite_store: SqliteStore) -> None:
        """In one batch, an append to a missing conversation fails; the others commit."""
        conversation = await conversation_for(sqlite_store, await patron(sqlite_store))
        good = [message_in(conversation, client_id=f"c-{n}") for n in range(50)]
        orphan = replace(message_in(conversation), conversation_id="no-such-conversation")
        before = sqlite_store.commits
        results = await asyncio.gather(
            *(sqlite_store.append(m, [delivery_for(m)]) for m in [*good[:25], orphan, *good[25:]]),
            sqlite_store.set_state("k", "v"),
            return_exceptions=True,
        )
        assert isinstance(results[25], ValueError)
        assert all(not isinstance(r, BaseException) for i, r in enumerate(results) if i != 25)
        assert sqlite_store.commits - before == 1
        assert await sqlite_store.history(conversation.id) == good
        assert await sqlite_store.get_state("k") == "v"

    async def test_resends_in_a_failing_batch_still_store_one(
        self, sqlite_store: SqliteStore
    ) -> None:
        """When a batch is replayed op by op, duplicate client ids in it still store one row."""
        conversation = await conversation_for(sqlite_store, await patron(sqlite_store))
        tries = [message_in(conversation, client_id="c-1") for _ in range(5)]
        orphan = replace(message_in(conversation), conversation_id="no-such-conversation")
        results = await asyncio.gather(
            sqlite_store.append(orphan, []),
            *(sqlite_store.append(m, [delivery_for(m)]) for m in tries),
            return_exceptions=True,
        )
        assert isinstance(results[0], ValueError)
        flags = [r[1] for r in results[1:] if isinstance(r, tuple)]
        assert flags == [True, False, False, False, False]
        assert await sqlite_store.pending_deliveries() == 1

    async def test_a_contact_belongs_to_one_patron(self, sqlite_store: SqliteStore) -> None:
        """Saving a second patron with a contact another patron holds raises ValueError."""
        ana = await patron(sqlite_store, "v-1")
        with pytest.raises(ValueError):
            await patron(sqlite_store, "v-1")
        assert await sqlite_store.patron_by_contact(Contact(Channel.WIDGET, "v-1")) == ana

    async def test_a_cancelled_caller_does_not_stop_the_writer(
        self, sqlite_store: SqliteStore
    ) -> None:
        """A write whose caller gave up still commits, and later writes still work."""
        task = asyncio.create_task(sqlite_store.set_state("k", "1"))
        await asyncio.sleep(0)
        task.cancel()
        await sqlite_store.set_state("j", "2")
        assert await sqlite_store.get_state("k") == "1"
        assert await sqlite_store.get_state("j") == "2"


class TestReads:
    async def test_a_patron_waits_in_the_topic_only_once_posted_there(
        self, sqlite_store: SqliteStore
    ) -> None:
        """waiting() lists an unanswered patron at once, but in_topic only when none of
        their messages still waits in the desk's queue (no reminder before that)."""
        conversation = await conversation_for(sqlite_store, await patron(sqlite_store))
        first, second = [await queued(sqlite_store, conversation) for _ in range(2)]
        [waiting] = await sqlite_store.waiting()
        assert (waiting.conversation_id, waiting.in_topic) == (conversation.id, False)
        await sqlite_store.finish_delivery(first.id, "tg-1")
        assert [w.in_topic for w in await sqlite_store.waiting()] == [False]
        await sqlite_store.finish_delivery(second.id, "tg-2")
        assert [w.in_topic for w in await sqlite_store.waiting()] == [True]

    async def test_due_deliveries_reads_only_the_pending_indexes(
        self, sqlite_store: SqliteStore
    ) -> None:
        """The outbox query never scans the whole deliveries table."""
        with sqlite3.connect(sqlite_store.path) as conn:
            plan = [r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {_DUE}", (NOW, 10))]
        conn.close()
        scans = [step for step in plan if step.startswith("SCAN")]
        assert scans and all("deliveries_pending" in s for s in scans), plan

    async def test_a_small_cache_still_answers_everything(self, tmp_path: Path) -> None:
        """With a cache of 5 entries, 40 patrons and conversations all read back right."""
        store = SqliteStore(tmp_path / "pustaka.db", cache_size=5)
        await store.open()
        try:
            people = [await patron(store, f"v-{n}") for n in range(40)]
            talks = [await conversation_for(store, p) for p in people]
            for n, (person, talk) in enumerate(zip(people, talks, strict=True)):
                assert await store.patron_by_contact(Contact(Channel.WIDGET, f"v-{n}")) == person
                assert await store.latest_conversation(person.id) == talk
        finally:
            await store.close()


class TestRecordCache:
    def test_a_read_that_raced_a_commit_is_not_cached(self) -> None:
        """A row read before a commit but returned after it never overwrites the fresh one."""
        cache = RecordCache(10)
        old = Patron("p1", name="old", contacts=(Contact(Channel.WIDGET, "v"),))
        generation = cache.patron_generation
        cache.patron_saved(replace(old, name="new"))  # the commit lands mid-read
        cache.patron_read(generation, Contact(Channel.WIDGET, "v"), old)
        assert cache.patrons.get("p1") == replace(old, name="new")

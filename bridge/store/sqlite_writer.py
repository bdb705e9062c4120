"""The group commit: a batch of queued writes applied in one SQLite transaction.

Runs on the writer thread, never on the event loop. Ops are applied by stage (patrons,
conversations, appends, delivery updates, links, state) so that a conversation saved
in the same batch exists before a message refers to it; within a stage the callers'
order is kept, and consecutive ops of one kind share their statements (the inserts as
many-row INSERTs: sqlite_bulk.py says why). Nothing of a
batch is visible before its single COMMIT, so the staging cannot be observed.

If the batch fails, it is rolled back and applied again op by op, each inside its own
SAVEPOINT and still under one COMMIT, so a bad op fails only its own caller.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bridge.store.sqlite_accounts import WRITES as ACCOUNT_WRITES
from bridge.store.sqlite_bulk import insert_rows
from bridge.store.sqlite_contacts import WRITES as CONTACT_WRITES
from bridge.store.sqlite_desk import WRITES as DESK_WRITES
from bridge.store.sqlite_directory import DELETE_CONTACTS, INSERT_CONTACT, UPSERT_PATRON
from bridge.store.sqlite_directory import WRITES as DIRECTORY_WRITES
from bridge.store.sqlite_links import UPSERT_LINK
from bridge.store.sqlite_links import WRITES as LINK_WRITES
from bridge.store.sqlite_log import (
    FIND_BY_CLIENT_ID,
    INDEX_MESSAGES_AFTER,
    INSERT_MESSAGE,
    LAST_MESSAGE_ROWID,
    UPSERT_CONVERSATION,
)
from bridge.store.sqlite_outbox import DELIVERY_UPDATES, INSERT_DELIVERY
from bridge.store.sqlite_patron_data import WRITES as PATRON_DATA_WRITES
from bridge.store.sqlite_reports import WRITES as REPORT_WRITES
from bridge.store.sqlite_reports import apply_rolled_days
from bridge.store.sqlite_role import chunks, marks
from bridge.store.sqlite_rows import (
    Row,
    message_from_row,
)
from bridge.store.sqlite_transcripts import WRITES as TRANSCRIPT_WRITES
from routing.model import Message

__all__ = ["STAGES", "BatchWriter", "Failed", "Outcome", "WriteOp"]

# op kind -> stage; a lower stage is applied first.
STAGES = {
    "save_patron": 0,
    "save_conversation": 1,
    # A patron, conversation and message nothing else can name before it commits: its
    # appends come before the other appends of the batch, as three commits would put them.
    "append_first": 1,
    "append": 2,
    "finish_delivery": 3,
    "retry_delivery": 3,
    "fail_delivery": 3,
    "save_link": 4,
    "set_state": 5,
    "save_block": 6,
    "remove_block": 6,
    "save_librarian": 6,
    **dict.fromkeys(DESK_WRITES, 5),  # after appends: a message saved with them exists
    **dict.fromkeys(CONTACT_WRITES, 5),
    **dict.fromkeys([*REPORT_WRITES, "save_rolled_day"], 6),
    **dict.fromkeys(ACCOUNT_WRITES, 7),
    **dict.fromkeys(PATRON_DATA_WRITES, 8),  # after everything a patron's rows may gain
    **dict.fromkeys(TRANSCRIPT_WRITES, 8),  # retention deletes: likewise
}



@dataclass(frozen=True, slots=True)
class Failed:
    """The outcome of an op that failed: its caller gets ``error`` raised."""

    error: Exception


Outcome = Any  # the op's result, or a Failed


@dataclass(frozen=True, slots=True)
class WriteOp:
    """One queued write, its parameters already turned into rows."""

    kind: str
    args: tuple[Any, ...]


# Each role's statements live in its own module (sqlite_<role>.py); this module only
# batches them. The plain upserts and deletes run as they are:
_SIMPLE = {**LINK_WRITES, **DIRECTORY_WRITES, **DESK_WRITES, **CONTACT_WRITES, **ACCOUNT_WRITES,
           **REPORT_WRITES}


class BatchWriter:
    """Owns the writing connection; every method runs on the writer thread."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._mark_done = self._update_deliveries("finish_delivery")
        self._runs: dict[str, Callable[[Sequence[tuple[Any, ...]]], list[Outcome]]] = {
            "save_patron": self._save_patrons,
            "save_conversation": self._save_conversations,
            "append": self._append,
            "append_first": self._append_first,
            "finish_delivery": self._finish_deliveries,
            "retry_delivery": self._update_deliveries("retry_delivery"),
            "fail_delivery": self._update_deliveries("fail_delivery"),
            **{kind: self._simple(sql) for kind, sql in _SIMPLE.items()},
            "save_rolled_day": lambda runs: apply_rolled_days(self._conn, runs),
            **{kind: self._script(run) for kind, run in PATRON_DATA_WRITES.items()},
            **{kind: self._script(run) for kind, run in TRANSCRIPT_WRITES.items()},
        }

    def apply(self, ops: Sequence[WriteOp]) -> tuple[list[Outcome], bool]:
        """Apply a batch; return each op's outcome and whether a COMMIT happened."""
        order = sorted(range(len(ops)), key=lambda i: STAGES[ops[i].kind])
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            outcomes = self._apply_runs(ops, order)
            self._conn.execute("COMMIT")
            return outcomes, True
        except Exception:
            self._rollback()
        return self._apply_one_by_one(ops, order)

    def close(self) -> None:
        try:
            self._conn.execute("PRAGMA optimize")
        finally:
            self._conn.close()

    # -- the two ways through a batch ---------------------------------------------------

    def _apply_runs(self, ops: Sequence[WriteOp], order: list[int]) -> list[Outcome]:
        outcomes: list[Outcome] = [None] * len(ops)
        start = 0
        while start < len(order):
            kind = ops[order[start]].kind
            end = start
            while end < len(order) and ops[order[end]].kind == kind:
                end += 1
            run = order[start:end]
            for index, outcome in zip(run, self._runs[kind]([ops[i].args for i in run]),
                                      strict=True):
                outcomes[index] = outcome
            start = end
        return outcomes

    def _apply_one_by_one(
        self, ops: Sequence[WriteOp], order: list[int]
    ) -> tuple[list[Outcome], bool]:
        outcomes: list[Outcome] = [None] * len(ops)
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            for index in order:
                op = ops[index]
                self._conn.execute("SAVEPOINT op")
                try:
                    outcomes[index] = self._runs[op.kind]([op.args])[0]
                except Exception as exc:
                    self._conn.execute("ROLLBACK TO op")
                    outcomes[index] = Failed(_caller_error(exc))
                self._conn.execute("RELEASE op")
            self._conn.execute("COMMIT")
        except Exception as exc:  # the database itself failed (disk full, I/O): all fail
            self._rollback()
            return [Failed(exc)] * len(ops), False
        return outcomes, True

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    # -- one run of ops of one kind -----------------------------------------------------

    def _save_patrons(self, runs: Sequence[tuple[Any, ...]]) -> list[Outcome]:
        # A save replaces the whole patron, so only the last save of each id is written.
        last: dict[str, tuple[Row, list[Row]]] = {}
        for patron_row, contact_rows, _patron in runs:
            last[patron_row[0]] = (patron_row, contact_rows)
        cur = self._conn.cursor()
        known = {row[0] for part in chunks(last)
                 for row in cur.execute(f"SELECT id FROM patrons WHERE id IN ({marks(part)})",
                                        part)}
        insert_rows(cur, UPSERT_PATRON, [row for row, _ in last.values()])
        cur.executemany(DELETE_CONTACTS, [(patron_id,) for patron_id in last if patron_id in known])
        insert_rows(cur, INSERT_CONTACT, [c for _, contacts in last.values() for c in contacts])
        # True for a patron this commit created: no conversation can name it yet (the
        # foreign key), which the cache records so that no read asks (SqliteStore._committed).
        return [patron_row[0] not in known for patron_row, _contacts, _patron in runs]

    def _save_conversations(self, runs: Sequence[tuple[Any, ...]]) -> list[Outcome]:
        insert_rows(self._conn.cursor(), UPSERT_CONVERSATION,
                    [row for row, _conversation in runs])
        return [None] * len(runs)

    def _append(self, runs: Sequence[tuple[Any, ...]]) -> list[Outcome]:
        """Insert new messages, their words and their deliveries; a known client_id
        returns the original.

        The insert skips resends itself, so the common batch (no resend) costs no read:
        only when fewer rows went in than were given is each client_id looked up.
        """
        cur = self._conn.cursor()
        before = cur.execute(LAST_MESSAGE_ROWID).fetchone()[0]
        resent = insert_rows(cur, INSERT_MESSAGE,
                             [row for _message, row, _deliveries in runs]) != len(runs)
        outcomes: list[Outcome] = []
        deliveries: list[Row] = []
        taken: set[str] = set()  # ids this run inserted, when a resend is among them
        for message, _row, delivery_rows in runs:
            if resent and message.client_id:
                existing = self._original(message, before, taken)
                if existing is not None:
                    outcomes.append((existing, False))
                    continue
            deliveries.extend(delivery_rows)
            outcomes.append((message, True))
        insert_rows(cur, INSERT_DELIVERY, deliveries)
        cur.execute(INDEX_MESSAGES_AFTER, (before,))
        return outcomes

    def _append_first(self, runs: Sequence[tuple[Any, ...]]) -> list[Outcome]:
        """New patrons, their conversations and first messages, each kind in one go:
        ``(stored, created, patron created)`` for each."""
        created = self._save_patrons([patron for patron, _c, _m in runs])
        self._save_conversations([conversation for _p, conversation, _m in runs])
        appended = self._append([message for _p, _c, message in runs])
        return [(*stored, new) for stored, new in zip(appended, created, strict=True)]

    def _original(self, message: Message, before: int, taken: set[str]) -> Message | None:
        """The message stored under ``message``'s client_id, unless it is ``message``
        itself, inserted by this run (a rowid above ``before``, its id not yet taken)."""
        row = self._conn.execute(FIND_BY_CLIENT_ID,
                                 (message.conversation_id, message.client_id)).fetchone()
        if row is None:  # not reached: the insert skipped or stored it
            return None
        if row[0] > before and row[1] == message.id and message.id not in taken:
            taken.add(message.id)
            return None
        return message_from_row(row[1:])

    def _update_deliveries(
        self, kind: str
    ) -> Callable[[Sequence[tuple[Any, ...]]], list[Outcome]]:
        sql = DELIVERY_UPDATES[kind]

        def run(runs: Sequence[tuple[Any, ...]]) -> list[Outcome]:
            cur = self._conn.executemany(sql, runs)
            if cur.rowcount != len(runs):  # one-by-one then tells whose id was unknown
                raise KeyError(f"no delivery with id {runs[0][-1]!r}" if len(runs) == 1
                               else "a delivery id is unknown")
            return [None] * len(runs)

        return run

    def _finish_deliveries(self, runs: Sequence[tuple[Any, ...]]) -> list[Outcome]:
        """Rows done, and the links of the sends that carry one (same transaction)."""
        outcomes = self._mark_done([run[:2] for run in runs])
        links = [run[2] for run in runs if run[2] is not None]
        if links:
            insert_rows(self._conn.cursor(), UPSERT_LINK, links)
        return outcomes

    def _simple(self, sql: str) -> Callable[[Sequence[tuple[Any, ...]]], list[Outcome]]:
        def run(runs: Sequence[tuple[Any, ...]]) -> list[Outcome]:
            self._conn.executemany(sql, runs)
            return [None] * len(runs)

        return run

    def _script(self, script: Callable[[sqlite3.Connection, tuple[Any, ...]], Outcome]
                ) -> Callable[[Sequence[tuple[Any, ...]]], list[Outcome]]:
        """An op of several statements (``sqlite_patron_data``), one call per op."""
        def run(runs: Sequence[tuple[Any, ...]]) -> list[Outcome]:
            return [script(self._conn, args) for args in runs]

        return run


def _caller_error(exc: Exception) -> Exception:
    """What the caller of one failed op sees: constraint violations become ValueError."""
    if isinstance(exc, sqlite3.IntegrityError):
        error = ValueError(f"refused by the store: {exc}")
        error.__cause__ = exc
        return error
    return exc

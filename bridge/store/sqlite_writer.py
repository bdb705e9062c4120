"""The group commit: a batch of queued writes applied in one SQLite transaction.

Runs on the writer thread, never on the event loop. Ops are applied by stage (patrons,
conversations, appends, delivery updates, links, state) so that a conversation saved
in the same batch exists before a message refers to it; within a stage the callers'
order is kept, and consecutive ops of one kind share an ``executemany``. Nothing of a
batch is visible before its single COMMIT, so the staging cannot be observed.

If the batch fails, it is rolled back and applied again op by op, each inside its own
SAVEPOINT and still under one COMMIT, so a bad op fails only its own caller.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bridge.store.sqlite_rows import (
    BLOCK_COLUMNS,
    CONVERSATION_COLUMNS,
    LIBRARIAN_COLUMNS,
    MESSAGE_COLUMNS,
    Row,
    message_from_row,
)
from routing.model import Message

__all__ = ["STAGES", "BatchWriter", "Failed", "Outcome", "WriteOp"]

# op kind -> stage; a lower stage is applied first.
STAGES = {
    "save_patron": 0,
    "save_conversation": 1,
    "append": 2,
    "finish_delivery": 3,
    "retry_delivery": 3,
    "fail_delivery": 3,
    "save_link": 4,
    "set_state": 5,
    "save_block": 6,
    "remove_block": 6,
    "save_librarian": 6,
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


_UPSERT_PATRON = (
    "INSERT INTO patrons (id, name, email, member_number, created_at, email_confirmed, language)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email,"
    " email_confirmed = excluded.email_confirmed, language = excluded.language,"
    " member_number = excluded.member_number, created_at = excluded.created_at"
)
_DELETE_CONTACTS = "DELETE FROM contacts WHERE patron_id = ?"
_INSERT_CONTACT = "INSERT INTO contacts (channel, address, patron_id, position) VALUES (?, ?, ?, ?)"
_UPSERT_CONVERSATION = (
    f"INSERT INTO conversations ({CONVERSATION_COLUMNS})"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (id) DO UPDATE SET patron_id = excluded.patron_id, origin = excluded.origin,"
    " status = excluded.status, claimed_by = excluded.claimed_by,"
    " claimed_by_id = excluded.claimed_by_id, desk_thread = excluded.desk_thread,"
    " after_hours = excluded.after_hours, tags = excluded.tags, rating = excluded.rating,"
    " page = excluded.page, created_at = excluded.created_at, updated_at = excluded.updated_at,"
    " subject = excluded.subject, closed_at = excluded.closed_at,"
    " first_response_at = excluded.first_response_at,"
    " rating_comment = excluded.rating_comment,"
    " rated_librarian_id = excluded.rated_librarian_id"
)
_FIND_BY_CLIENT_ID = (
    f"SELECT {MESSAGE_COLUMNS} FROM messages"
    " WHERE conversation_id = ? AND client_id = ? AND client_id != ''"  # the partial index
)
_INSERT_MESSAGE = (
    f"INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_DELIVERY = (
    "INSERT INTO deliveries (id, conversation_id, message_id, kind, destination,"
    " idempotency_key, attempts, next_attempt_at, state, last_error, external_id, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_DELIVERY_UPDATES = {
    "finish_delivery": "UPDATE deliveries SET state = 'done', external_id = ? WHERE id = ?",
    "retry_delivery": (
        "UPDATE deliveries SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?"
    ),
    "fail_delivery": (
        "UPDATE deliveries SET state = 'failed', attempts = ?, last_error = ? WHERE id = ?"
    ),
}
_UPSERT_LINK = (
    "INSERT INTO links (channel, external_id, conversation_id, message_id) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (channel, external_id) DO UPDATE SET"
    " conversation_id = excluded.conversation_id, message_id = excluded.message_id"
)
_UPSERT_BLOCK = (
    f"INSERT INTO blocks ({BLOCK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (id) DO UPDATE SET until = excluded.until"
)
_DELETE_BLOCK = "DELETE FROM blocks WHERE id = ?"
_UPSERT_LIBRARIAN = (
    f"INSERT INTO librarians ({LIBRARIAN_COLUMNS}) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (id) DO UPDATE SET name = excluded.name, username = excluded.username,"
    " on_duty = excluded.on_duty, changed_at = excluded.changed_at"
)
_UPSERT_STATE = (
    "INSERT INTO state (key, value) VALUES (?, ?)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


class BatchWriter:
    """Owns the writing connection; every method runs on the writer thread."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._mark_done = self._update_deliveries("finish_delivery")
        self._runs: dict[str, Callable[[Sequence[tuple[Any, ...]]], list[Outcome]]] = {
            "save_patron": self._save_patrons,
            "save_conversation": self._save_conversations,
            "append": self._append,
            "finish_delivery": self._finish_deliveries,
            "retry_delivery": self._update_deliveries("retry_delivery"),
            "fail_delivery": self._update_deliveries("fail_delivery"),
            "save_link": self._simple(_UPSERT_LINK),
            "set_state": self._simple(_UPSERT_STATE),
            "save_block": self._simple(_UPSERT_BLOCK),
            "remove_block": self._simple(_DELETE_BLOCK),
            "save_librarian": self._simple(_UPSERT_LIBRARIAN),
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
        cur.executemany(_UPSERT_PATRON, [row for row, _ in last.values()])
        cur.executemany(_DELETE_CONTACTS, [(patron_id,) for patron_id in last])
        cur.executemany(_INSERT_CONTACT, [c for _, contacts in last.values() for c in contacts])
        return [None] * len(runs)

    def _save_conversations(self, runs: Sequence[tuple[Any, ...]]) -> list[Outcome]:
        self._conn.executemany(_UPSERT_CONVERSATION, [row for row, _conversation in runs])
        return [None] * len(runs)

    def _append(self, runs: Sequence[tuple[Any, ...]]) -> list[Outcome]:
        """Insert new messages and their deliveries; a known client_id returns the original."""
        outcomes: list[Outcome] = []
        fresh: dict[tuple[str, str], Message] = {}  # client ids first seen in this run
        messages: list[Row] = []
        deliveries: list[Row] = []
        for message, row, delivery_rows in runs:
            if message.client_id:
                key = (message.conversation_id, message.client_id)
                existing = fresh.get(key) or self._by_client_id(key)
                if existing is not None:
                    outcomes.append((existing, False))
                    continue
                fresh[key] = message
            messages.append(row)
            deliveries.extend(delivery_rows)
            outcomes.append((message, True))
        cur = self._conn.cursor()
        cur.executemany(_INSERT_MESSAGE, messages)
        cur.executemany(_INSERT_DELIVERY, deliveries)
        return outcomes

    def _by_client_id(self, key: tuple[str, str]) -> Message | None:
        row = self._conn.execute(_FIND_BY_CLIENT_ID, key).fetchone()
        return None if row is None else message_from_row(row)

    def _update_deliveries(
        self, kind: str
    ) -> Callable[[Sequence[tuple[Any, ...]]], list[Outcome]]:
        sql = _DELIVERY_UPDATES[kind]

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
            self._conn.executemany(_UPSERT_LINK, links)
        return outcomes

    def _simple(self, sql: str) -> Callable[[Sequence[tuple[Any, ...]]], list[Outcome]]:
        def run(runs: Sequence[tuple[Any, ...]]) -> list[Outcome]:
            self._conn.executemany(sql, runs)
            return [None] * len(runs)

        return run


def _caller_error(exc: Exception) -> Exception:
    """What the caller of one failed op sees: constraint violations become ValueError."""
    if isinstance(exc, sqlite3.IntegrityError):
        error = ValueError(f"refused by the store: {exc}")
        error.__cause__ = exc
        return error
    return exc

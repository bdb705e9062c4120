"""The writer's many-row INSERT: the same rows, order, conflicts and count as
executemany, in few statements."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.store.sqlite_bulk import SIZES, insert_rows

INSERT = ("INSERT INTO m (conversation, cid, text) VALUES (?, ?, ?)"
          " ON CONFLICT (conversation, cid) WHERE cid != '' DO NOTHING")


def table() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE m (conversation TEXT, cid TEXT, text TEXT)")
    conn.execute("CREATE UNIQUE INDEX m_cid ON m (conversation, cid) WHERE cid != ''")
    return conn


rows = st.lists(st.tuples(st.sampled_from("ab"), st.sampled_from(["", "c1", "c2", "c3"]),
                          st.text(max_size=5)), max_size=700)


@given(rows)
def test_the_same_rows_in_the_same_order_as_executemany(
    given_rows: list[tuple[str, ...]],
) -> None:
    """Whatever the rows and their conflicts, the table and the count match executemany's."""
    ours, theirs = table(), table()
    changed = insert_rows(ours.cursor(), INSERT, given_rows)
    cur = theirs.executemany(INSERT, given_rows)
    read = "SELECT rowid, conversation, cid, text FROM m ORDER BY rowid"
    assert ours.execute(read).fetchall() == theirs.execute(read).fetchall()
    assert changed == cur.rowcount


@given(st.lists(st.tuples(st.sampled_from("abcd"), st.text(max_size=3)), max_size=300))
def test_an_upsert_of_one_id_twice_keeps_the_last_as_executemany_does(
    given_rows: list[tuple[str, str]],
) -> None:
    """Rows naming one key several times in one statement update it in turn, the last wins."""
    upsert = "INSERT INTO u (id, v) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET v = excluded.v"
    ours, theirs = sqlite3.connect(":memory:"), sqlite3.connect(":memory:")
    for conn in (ours, theirs):
        conn.execute("CREATE TABLE u (id TEXT PRIMARY KEY, v TEXT)")
    insert_rows(ours.cursor(), upsert, given_rows)
    theirs.executemany(upsert, given_rows)
    read = "SELECT rowid, id, v FROM u ORDER BY rowid"
    assert ours.execute(read).fetchall() == theirs.execute(read).fetchall()


def test_a_thousand_rows_take_a_handful_of_statements() -> None:
    """1,000 rows are 3 x 256 + 3 x 64 + 2 x 16 + 2 x 4 statements, not 1,000."""
    conn = table()
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    insert_rows(conn.cursor(), INSERT, [("a", f"c{n}", "x") for n in range(1000)])
    assert len([s for s in statements if s.startswith("INSERT")]) == 10
    assert max(SIZES) == 256


def test_a_statement_without_values_is_refused() -> None:
    """Only INSERT ... VALUES (?, ...) can be widened: anything else is a clear error."""
    with pytest.raises(ValueError, match="not an INSERT"):
        insert_rows(table().cursor(), "DELETE FROM m WHERE cid = ?", [("c1",)])


def test_a_build_with_few_variables_gets_statements_that_fit() -> None:
    """Under an old SQLite's 999 variables, 300 rows of 18 columns still go in, in order."""
    conn = sqlite3.connect(":memory:")
    conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
    columns = [f"c{n}" for n in range(18)]
    conn.execute(f"CREATE TABLE wide ({', '.join(columns)})")
    sql = f"INSERT INTO wide VALUES ({', '.join(['?'] * 18)})"
    rows = [tuple(range(n, n + 18)) for n in range(300)]
    assert insert_rows(conn.cursor(), sql, rows) == 300
    assert conn.execute("SELECT * FROM wide ORDER BY rowid").fetchall() == rows

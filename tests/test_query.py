"""run_query: one statement, read-only on both backends, amounts as ints, rows bounded."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

import chaindb
from chaindb import InvalidInput, core, ledger
from chaindb.query import QUERY_LIMIT_MAX, WriteRefused, run_query
from chaindb.types import UINT256_MAX

WRITES = [
    "INSERT INTO users (id, username) VALUES ('mallory', 'mallory')",
    "UPDATE users SET username = 'eve' WHERE id = 'alice'",
    "DELETE FROM users WHERE id = 'bob'",
    "DELETE FROM ledger_transfers",
    "CREATE TABLE intruder (id INTEGER)",
    "DROP TABLE ledger_holds",
    "ALTER TABLE users ADD COLUMN intruder TEXT",
    "UPDATE users SET username = 'eve' RETURNING id",
]


def state(db):
    """What a write would change: the users, the transfers, and the tables that exist."""
    with db.read() as conn:
        users = conn.execute(sa.text("SELECT id, username FROM users ORDER BY id")).all()
        transfers = conn.execute(sa.text("SELECT count(*) FROM ledger_transfers")).scalar_one()
    return users, transfers, sorted(sa.inspect(db.engine).get_table_names())


@pytest.fixture
def funded_db(ledger_db):
    ledger.transfer(
        ledger_db, debit="system:issuance", credit="user:alice", amount=UINT256_MAX, kind="deposit"
    )
    ledger.transfer(
        ledger_db, debit="user:alice", credit="user:bob", amount=2**63 + 1, kind="transfer"
    )
    return ledger_db


def test_amounts_come_back_as_exact_ints(funded_db):
    result = run_query(funded_db, "SELECT id, amount, kind FROM ledger_transfers ORDER BY id")
    assert result.columns == ["id", "amount", "kind"]
    assert result.rows == [(1, UINT256_MAX, "deposit"), (2, 2**63 + 1, "transfer")]
    assert result.more is False


def test_amounts_stay_ints_through_aliases_views_and_aggregates(funded_db):
    top = run_query(
        funded_db, "SELECT max(amount) AS top, min(amount) AS low FROM ledger_transfers"
    )
    assert top.rows == [(UINT256_MAX, 2**63 + 1)]
    summary = run_query(
        funded_db,
        "SELECT user_id, current_points FROM v_user_points_summary"
        " WHERE user_id IN ('alice', 'bob') ORDER BY user_id",
    )
    assert summary.rows == [("alice", UINT256_MAX - 2**63 - 1), ("bob", 2**63 + 1)]


def test_text_that_is_not_an_amount_stays_text(ledger_db):
    core.create_user(ledger_db, "7" * 64, "digits")
    digits = run_query(ledger_db, "SELECT id FROM users WHERE username = 'digits'").rows
    assert digits == [("7" * 64,)]  # digits, but not an amount's 78
    assert run_query(ledger_db, "SELECT '007' AS code, 'a%' AS pattern").rows == [("007", "a%")]


@pytest.mark.parametrize("sql", WRITES)
def test_a_write_is_refused_and_changes_nothing(funded_db, sql):
    before = state(funded_db)
    with pytest.raises(WriteRefused, match=r"^sql: .* a query may only read"):
        run_query(funded_db, sql)
    assert state(funded_db) == before


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1; DELETE FROM users",
        "COMMIT; DELETE FROM users",
        "DELETE FROM users; SELECT 1",
    ],
)
def test_a_second_statement_is_refused_before_anything_runs(funded_db, sql):
    before = state(funded_db)
    with pytest.raises(InvalidInput, match=r"must be one statement|a query may only read"):
        run_query(funded_db, sql)
    assert state(funded_db) == before


@pytest.mark.parametrize(
    "sql",
    [
        "COPY (SELECT * FROM users) TO '/tmp/chaindb-query-copy.txt'",  # a superuser's file
        "COPY users TO STDOUT",
        "SET statement_timeout = 0",
        "DO $$ BEGIN PERFORM 1; END $$",
    ],
)
def test_only_a_statement_that_reads_may_run(funded_db, sql):
    """A read-only transaction lets COPY ... TO write a file on the server (for a superuser,
    as the tests connect): the statement must start as a read."""
    with pytest.raises(WriteRefused, match="a query may only read: it must start with"):
        run_query(funded_db, sql)
    assert not Path("/tmp/chaindb-query-copy.txt").exists()


def test_comments_before_a_read_are_fine(funded_db):
    counted = run_query(funded_db, "-- the count\n/* of users */ SELECT count(*) FROM users")
    assert counted.rows == [(4,)]


def test_a_read_only_query_leaves_the_next_write_free(funded_db):
    with pytest.raises(WriteRefused):
        run_query(funded_db, "DELETE FROM users")
    assert run_query(funded_db, "SELECT count(*) FROM users").rows == [(4,)]
    core.create_user(funded_db, "erin", "erin")  # the pool's connections still write
    assert run_query(funded_db, "SELECT count(*) FROM users").rows == [(5,)]


def test_what_a_statement_changes_in_its_session_ends_with_it(funded_db):
    if funded_db.backend == "sqlite":
        setting, change = "PRAGMA cache_size", "PRAGMA cache_size = 7"
    else:  # a session's advisory lock outlives a rollback (this one's alone: pg_locks shows
        # the other tests' too, whatever their database)
        setting = (
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        change = "SELECT pg_advisory_lock(4242)"
    default = run_query(funded_db, setting).rows
    run_query(funded_db, change)
    for _ in range(3):  # whichever pooled connection comes next
        assert run_query(funded_db, setting).rows == default


def test_rows_are_bounded_by_the_limit_and_more_is_said(ledger_db):
    counting = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)"
        " SELECT i FROM n"
    )
    first = run_query(ledger_db, counting, limit=10)
    assert (first.rows, first.more) == ([(i,) for i in range(1, 11)], True)
    whole = run_query(ledger_db, counting, limit=5000)
    assert (len(whole.rows), whole.more) == (5000, False)


def test_an_endless_statement_stops_at_the_limit(ledger_db):
    endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT i FROM n"
    result = run_query(ledger_db, endless, limit=3)
    assert (result.rows, result.more) == ([(1,), (2,), (3,)], True)


def test_an_empty_result_keeps_its_columns(ledger_db):
    result = run_query(ledger_db, "SELECT id, amount FROM ledger_transfers WHERE id < 0")
    assert (result.columns, result.rows, result.more) == (["id", "amount"], [], False)


@pytest.mark.parametrize(
    ("sql", "limit", "field"),
    [
        ("SELEC 1", 10, "sql"),
        ("SELECT * FROM no_such_table", 10, "sql"),
        ("   ", 10, "sql"),
        ("SELECT 1", 0, "limit"),
        ("SELECT 1", QUERY_LIMIT_MAX + 1, "limit"),
    ],
)
def test_a_bad_statement_or_limit_names_the_field(ledger_db, sql, limit, field):
    with pytest.raises(InvalidInput, match=rf"^{field}: ") as raised:
        run_query(ledger_db, sql, limit=limit)
    assert "\n" not in str(raised.value)


def test_sqlite_refuses_to_attach_a_file(tmp_path):
    """SQLite's alone (PostgreSQL has no ATTACH): it would create the file, even read-only."""
    target = tmp_path / "attached.sqlite3"
    with chaindb.connect(f"sqlite:///{tmp_path / 'chaindb.sqlite3'}") as db:
        with pytest.raises(WriteRefused):
            run_query(db, f"ATTACH DATABASE '{target}' AS other")
        assert run_query(db, "SELECT 1").rows == [(1,)]
    assert not target.exists()

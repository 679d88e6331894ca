"""`chaindb query "SQL"`, run as a user runs it: read-only, amounts exact, rows bounded."""

from __future__ import annotations

import csv
import io
import json

import sqlalchemy as sa

from chaindb import ledger
from chaindb.types import UINT256_MAX
from tests.conftest import run_cli

PAST_2_63 = 2**63 + 1
TRANSFERS = "SELECT id, amount, kind FROM ledger_transfers ORDER BY id"


def query(db_url, sql, *options):
    return run_cli("query", sql, *options, env={"CHAINDB_URL": db_url})


def funded(db):
    ledger.transfer(
        db, debit="system:issuance", credit="user:alice", amount=UINT256_MAX, kind="deposit"
    )
    ledger.transfer(db, debit="user:alice", credit="user:bob", amount=PAST_2_63, kind="transfer")


def test_amounts_print_as_exact_integers_as_table_json_and_csv(ledger_db, db_url):
    funded(ledger_db)
    as_json = query(db_url, TRANSFERS, "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == [
        {"id": 1, "amount": UINT256_MAX, "kind": "deposit"},
        {"id": 2, "amount": PAST_2_63, "kind": "transfer"},
    ]
    as_csv = query(db_url, TRANSFERS, "--csv").stdout
    assert list(csv.reader(io.StringIO(as_csv))) == [
        ["id", "amount", "kind"],
        ["1", str(UINT256_MAX), "deposit"],
        ["2", str(PAST_2_63), "transfer"],
    ]
    table = query(db_url, TRANSFERS).stdout
    assert str(UINT256_MAX) in table and str(PAST_2_63) in table
    assert "0" * 60 not in table and "…" not in table  # no padded text, nothing cut off


def test_a_write_is_refused_in_one_line_and_changes_nothing(ledger_db, db_url):
    funded(ledger_db)
    for sql in (
        "DELETE FROM ledger_transfers",
        "UPDATE ledger_accounts SET balance = credits_posted",
        "DROP TABLE users",
        "COMMIT; DELETE FROM users",
    ):
        refused = query(db_url, sql)
        assert refused.returncode == 1, sql
        (line,) = refused.stderr.splitlines()
        assert line.startswith("error: sql: "), line
        assert "a query may only read" in line or "must be one statement" in line, line
    with ledger_db.read() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM ledger_transfers")).scalar_one() == 2
        assert conn.execute(sa.text("SELECT count(*) FROM users")).scalar_one() == 4
    assert ledger.check_ledger(ledger_db).ok


def test_rows_beyond_the_limit_are_counted_on_stderr(ledger_db, db_url):
    counting = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)"
        " SELECT i FROM n"
    )
    bounded = query(db_url, counting, "--limit", "3", "--json")
    assert json.loads(bounded.stdout) == [{"i": 1}, {"i": 2}, {"i": 3}]
    assert "more rows: showing the first 3" in bounded.stderr
    whole = query(db_url, counting, "--csv")
    assert len(list(csv.reader(io.StringIO(whole.stdout)))) == 1 + 1000  # the default limit
    assert "more rows: showing the first 1000" in whole.stderr


def test_an_empty_result_still_has_its_header(ledger_db, db_url):
    empty = query(db_url, "SELECT id, amount FROM ledger_transfers", "--csv")
    assert (empty.returncode, empty.stdout) == (0, "id,amount\n")


def test_a_bad_statement_is_a_one_line_error(ledger_db, db_url):
    failed = query(db_url, "SELECT missing FROM nowhere")
    assert failed.returncode == 1
    (line,) = failed.stderr.splitlines()
    assert line.startswith("error: sql: 'SELECT missing FROM nowhere' is invalid: ")
    assert "nowhere" in line.split(" is invalid: ")[1]

"""Every view chaindb creates is read-only on both backends, with a message naming the API.

PostgreSQL would let `UPDATE user_points_ledgers SET total_earned = 999` through by itself
(a simple view is updatable) and change the ledger's counters behind its back.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from chaindb import assets, challenges, core, games, ledger
from tests.assets.conftest import BOB, mint, register


@pytest.fixture
def every_view_has_a_row(ledger_db):
    ledger.record_points_transaction(
        ledger_db, user_id="alice", transaction_type="earned_challenge", amount=2**63 + 1
    )
    challenge = challenges.create_challenge(ledger_db, title="t", challenger="alice")
    challenges.activate_challenge(ledger_db, challenge.id)
    core.log_blockchain_transaction(
        ledger_db, chain_id=1, transaction_hash="0x" + "ab" * 32, transaction_type="payment"
    )
    register(ledger_db)
    memory = mint(ledger_db, "view row")
    assets.grant_access(
        ledger_db, asset_id=memory.asset_id, owner_address=memory.owner_address, grantee_address=BOB
    )
    games.deposit(ledger_db, user_id="alice", amount=2**63 + 1)
    return ledger_db


# Views that sum amounts with chaindb's own aggregate on SQLite: no trigger there (core_0004).
SQLITE_SUMS_EXACTLY = {
    "v_blockchain_tx_summary",
    "batch_statistics",
    "user_statistics",
    "token_balances",
}


def view_names(db) -> list[str]:
    with db.connection() as conn:
        return sorted(sa.inspect(conn).get_view_names())


def test_the_seeds_update_of_a_points_view_is_refused_and_changes_nothing(every_view_has_a_row):
    db = every_view_has_a_row
    refused = "user_points_ledgers is a read-only view: write through"
    with pytest.raises(DBAPIError, match=refused), db.transaction() as conn:
        conn.exec_driver_sql("UPDATE user_points_ledgers SET total_earned = 999")
    assert ledger.get_user_points_balance(db, "alice") == 2**63 + 1
    assert ledger.check_ledger(db).ok


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO {view} SELECT * FROM {view}",
        "UPDATE {view} SET {column} = {column}",
        "DELETE FROM {view}",
    ],
)
def test_every_view_refuses_every_write_naming_the_api(every_view_has_a_row, statement):
    db = every_view_has_a_row
    views = view_names(db)
    assert len(views) >= 5
    for view in views:
        with db.read() as conn:
            rows = conn.execute(sa.text(f"SELECT * FROM {view}")).mappings().all()
        assert rows, f"{view} has no row: the write below would prove nothing"
        sql = statement.format(view=view, column=next(iter(rows[0])))
        with pytest.raises(DBAPIError) as refused, db.transaction() as conn:
            conn.exec_driver_sql(sql)
        if db.backend == "sqlite" and view in SQLITE_SUMS_EXACTLY:  # see core_0004
            assert f"cannot modify {view} because it is a view" in str(refused.value)
        else:
            assert f"{view} is a read-only view: write through chaindb." in str(refused.value)
        with db.read() as conn:
            assert conn.execute(sa.text(f"SELECT * FROM {view}")).mappings().all() == rows


def test_other_sqlite_tools_can_still_alter_tables(tmp_path):
    """SQLite only: a trigger on a view that calls chaindb's own SQL functions (registered on
    chaindb's connections alone) would break every ALTER TABLE made by another tool."""
    from chaindb import connect, migrations
    from tests.conftest import open_sqlite

    path = tmp_path / "altered.sqlite3"
    database = connect(f"sqlite:///{path}")
    migrations.migrate(database)
    database.close()
    other_tool = open_sqlite(path)  # no chaindb functions on this connection
    other_tool.execute("ALTER TABLE settings RENAME COLUMN description TO description_text")
    other_tool.close()

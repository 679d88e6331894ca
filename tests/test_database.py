"""Engines, pragmas, transactions and health on each backend."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

import chaindb
from chaindb import core, ledger, migrations
from chaindb.core.schema import users
from chaindb.database import writing


def test_sqlite_pragmas_are_those_of_seed_002(tmp_path):
    """SQLite only: these pragmas do not exist on PostgreSQL."""
    db = chaindb.connect(f"sqlite:///{tmp_path}/p.sqlite3")
    with db.connection() as conn:
        pragma = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in (
                "journal_mode",
                "synchronous",
                "cache_size",
                "mmap_size",
                "temp_store",
                "busy_timeout",
                "foreign_keys",
            )
        }
    db.close()
    assert pragma == {
        "journal_mode": "wal",
        "synchronous": 2,  # FULL: WAL with NORMAL may lose the last commits on a power cut
        "cache_size": -64000,  # 64 MB
        "mmap_size": 268435456,  # 256 MB
        "temp_store": 2,  # MEMORY
        "busy_timeout": 30000,
        "foreign_keys": 1,
    }


def test_sqlite_synchronous_normal_is_an_opt_in(tmp_path, monkeypatch):
    """SQLite only: NORMAL trades the last commits on a power cut for speed, when asked."""
    monkeypatch.setenv("CHAINDB_SQLITE_SYNCHRONOUS", "NORMAL")
    db = chaindb.connect(f"sqlite:///{tmp_path}/f.sqlite3")
    with db.connection() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1
    db.close()


def test_postgres_statement_timeout_is_configurable(pg_url, monkeypatch):
    """PostgreSQL only: SQLite has no statement timeout."""
    db = chaindb.connect(pg_url)
    with db.read() as conn:
        assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "30s"
    db.close()
    monkeypatch.setenv("CHAINDB_STATEMENT_TIMEOUT_S", "0.2")
    db = chaindb.connect(pg_url)
    with pytest.raises(sa.exc.OperationalError, match="statement timeout"), db.read() as conn:
        conn.exec_driver_sql("SELECT pg_sleep(2)")
    assert not db.engine.pool._pre_ping  # liveness without a round trip: tests/test_pool.py
    db.close()


def test_a_failed_transaction_writes_nothing(core_db):
    with pytest.raises(RuntimeError), core_db.transaction() as conn:
        core.create_user(conn, "alice")
        raise RuntimeError("crash before commit")
    assert core.get_user(core_db, "alice") is None


def test_operations_given_a_connection_share_its_transaction(core_db):
    with core_db.transaction() as conn:
        core.create_user(conn, "bob")
        core.add_user_wallet(conn, user_id="bob", wallet_address="0x" + "1" * 40, chain_id=1)
    assert len(core.get_user_wallets(core_db, "bob")) == 1
    with pytest.raises(chaindb.Conflict), core_db.transaction() as conn:
        core.create_user(conn, "carol")
        core.add_user_wallet(conn, user_id="carol", wallet_address="0x" + "1" * 40, chain_id=1)
    assert core.get_user(core_db, "carol") is None, "the whole transaction rolled back"


def test_a_read_without_a_snapshot_runs_in_autocommit_and_the_pool_stays_transactional(core_db):
    core.create_user(core_db, "erin")
    with core_db.read(snapshot=False) as conn:
        assert conn.execute(users.select().where(users.c.id == "erin")).one().id == "erin"
        if core_db.backend == "postgresql":  # autocommit: no BEGIN before the statement
            assert conn.execute(sa.text("SELECT now() = statement_timestamp()")).scalar_one()
    for _ in range(2):  # the pooled connections are back in transactions of their own
        with pytest.raises(RuntimeError), core_db.transaction() as conn:
            core.create_user(conn, "frank")
            raise RuntimeError("crash before commit")
        assert core.get_user(core_db, "frank") is None


def test_a_failed_operation_inside_a_transaction_leaves_the_rest(core_db):
    """writing() on a connection uses a savepoint: the caller may carry on after an error."""
    with core_db.transaction() as conn:
        core.create_user(conn, "dave")
        with pytest.raises(chaindb.Conflict):
            core.create_user(conn, "dave")
        with writing(conn) as inner:
            inner.execute(users.update().where(users.c.id == "dave").values(username="d"))
    assert core.get_user(core_db, "dave").username == "d"


def test_driver_statements_store_and_read_what_sqlalchemy_does(core_db):
    # DriverStatement is the ledger's shortcut past SQLAlchemy, to sqlite3 and to psycopg.
    from datetime import UTC, datetime

    from chaindb.driver import DriverStatement
    from chaindb.ledger.schema import ledger_accounts, ledger_assets

    created = datetime(2026, 11, 23, 1, 2, 3, 456789, tzinfo=UTC)
    row = {"code": "X", "kind": "points", "symbol": "X", "decimals": 0, "created_at": created}
    dialect = core_db.engine.dialect
    driver = DriverStatement(
        sa.insert(ledger_assets).values(
            {name: sa.bindparam(name, type_=ledger_assets.c[name].type) for name in row}
        ),
        dialect,
        [],
    )
    core.create_user(core_db, "alice")
    with core_db.transaction() as conn:
        driver.execute(conn, row)
        conn.execute(sa.insert(ledger_assets), {**row, "code": "Y"})
        asset_ids = dict(
            conn.execute(
                sa.select(ledger_assets.c.code, ledger_assets.c.id).where(
                    ledger_assets.c.code.in_(["X", "Y"])
                )
            ).all()
        )
        stored = conn.execute(
            sa.select(ledger_assets.c.code, ledger_assets.c.created_at)
            .where(ledger_assets.c.code.in_(["X", "Y"]))
            .order_by(ledger_assets.c.code)
        ).all()
        conn.execute(
            sa.insert(ledger_accounts),
            [
                {
                    "asset_id": asset,
                    "owner_type": "user",
                    "owner_id": "alice",
                    "user_id": "alice",
                    "balance": 2**255 + asset,
                    "credits_posted": 2**255 + asset,
                }
                for asset in asset_ids.values()
            ],
        )
        read = DriverStatement(
            sa.select(ledger_assets.c.created_at, ledger_accounts.c.balance)
            .join(ledger_accounts, ledger_accounts.c.asset_id == ledger_assets.c.id)
            .where(ledger_assets.c.code == sa.bindparam("c")),
            dialect,
            [ledger_assets.c.created_at, ledger_accounts.c.balance],
        )
        read_x = read.mappings(conn, {"c": "X"})
        read_y = read.mappings(conn, {"c": "Y"})
    assert stored[0].created_at == stored[1].created_at == created
    assert read_x[0]["created_at"] == created and read_x[0]["created_at"].tzinfo is UTC
    assert read_x[0]["balance"] == 2**255 + asset_ids["X"]  # exact, far past 2**64
    assert read_y[0]["balance"] == 2**255 + asset_ids["Y"]
    assert type(read_x[0]["balance"]) is int
    with pytest.raises(sa.exc.IntegrityError), core_db.transaction() as conn:
        driver.execute(conn, row)  # the code is taken: SQLAlchemy's exception, not the driver's


def test_copy_statements_store_what_sqlalchemy_does_and_raise_its_errors(pg_url):
    # PostgreSQL's alone: COPY is how the ledger's batches insert there (binary, encoded in C).
    from datetime import UTC, datetime

    from chaindb.driver import CopyStatement
    from chaindb.ledger.schema import ledger_transfers

    db = chaindb.connect(pg_url)
    migrations.migrate(db)
    core.create_user(db, "alice")
    ledger.transfer(db, debit="system:issuance", credit="user:alice", amount=1, kind="deposit")
    first = ledger.get_transfer(db, 1)
    when = datetime(2026, 11, 23, 1, 2, 3, 456789, tzinfo=UTC)
    row = first._asdict() | {"amount": 2**255 + 7, "idempotency_key": "k", "created_at": when}
    columns = tuple(name for name in row if name != "pending_id")
    copy = CopyStatement(ledger_transfers, columns, db.engine.dialect)
    with db.transaction() as conn:
        copy.copy(conn, [row | {"id": 2}])
        conn.execute(sa.insert(ledger_transfers), row | {"id": 3, "idempotency_key": "k3"})
    copied, inserted = ledger.get_transfer(db, 2), ledger.get_transfer(db, 3)
    assert copied._replace(id=3, idempotency_key="k3") == inserted
    assert copied.amount == 2**255 + 7 and copied.created_at == when
    with pytest.raises(sa.exc.IntegrityError, match="idempotency_key"), db.transaction() as conn:
        copy.copy(conn, [row | {"id": 4}])  # the key is taken: SQLAlchemy's exception
    assert ledger.get_transfer(db, 4) is None
    db.close()


def test_insert_rows_stores_each_row_as_sqlalchemy_would_and_all_or_none(tmp_path):
    # SQLite's alone: multi-row INSERTs are how the ledger's batches insert there (PostgreSQL's
    # take one COPY, tested above).
    from datetime import UTC, datetime

    from chaindb.driver import SQLITE_PARAMETERS_MAX, DriverStatement
    from chaindb.ledger.requests import Transfer
    from chaindb.ledger.schema import ledger_transfers

    db = chaindb.connect(f"sqlite:///{tmp_path / 'rows.sqlite3'}")
    migrations.migrate(db)
    core.create_user(db, "alice")
    first = ledger.transfer(
        db, debit="system:issuance", credit="user:alice", amount=1, kind="deposit"
    )
    when = datetime(2026, 11, 23, 1, 2, 3, 456789, tzinfo=UTC)
    insert = DriverStatement(
        sa.insert(ledger_transfers).values(
            {
                name: sa.bindparam(name, type_=ledger_transfers.c[name].type)
                for name in Transfer._fields
            }
        ),
        db.engine.dialect,
        [],
        fields=Transfer._fields,
    )
    per_statement = SQLITE_PARAMETERS_MAX // len(Transfer._fields)
    rows = [
        first._replace(
            id=first.id + n,
            amount=2**256 - n,  # exact at 2**256 - 1 and just below
            idempotency_key=f"k{n}",
            reason=None if n % 2 else f"row {n}",
            created_at=when,
        )
        for n in range(1, 2 * per_statement + 6)  # two full statements and a short one
    ]
    with db.transaction() as conn:
        insert.insert_rows(conn, rows)
    assert [ledger.get_transfer(db, row.id) for row in rows] == rows

    # A row of the last statement breaks a rule: SQLAlchemy's error, and nothing is stored.
    more = [row._replace(id=row.id + len(rows), idempotency_key=f"m{row.id}") for row in rows]
    more[-1] = more[-1]._replace(idempotency_key="k1")
    with pytest.raises(sa.exc.IntegrityError, match="idempotency_key"), db.transaction() as conn:
        insert.insert_rows(conn, more)
    assert ledger.get_transfer(db, more[0].id) is None
    db.close()

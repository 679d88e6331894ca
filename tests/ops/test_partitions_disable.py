"""The way back from partitioned tables (ops/partitions.py `disable`), and what a partitioned
table changes for the migrations' rollback and for `import --on-conflict skip`. PostgreSQL
only: partitioning is PostgreSQL's."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

import chaindb
from chaindb import Conflict, InvalidInput, MigrationError, core, creators, ledger, migrations
from chaindb.migrations.schema_shape import differences, reflect_shape
from chaindb.ops import partitions
from chaindb.ops.export import export_rows
from chaindb.ops.importing import ImportRefused, import_rows
from chaindb.ops.maintenance import run_maintenance
from tests.conftest import run_cli

on_postgres = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
OLD_DAYS = 130


@pytest.fixture
def plain_db(core_db: chaindb.Database) -> chaindb.Database:
    """A migrated PostgreSQL database, every table plain (the partitioned template's too),
    with users alice and bob and a track to play."""
    for report in partitions.status(core_db):
        if report.partitioned:
            partitions.disable(core_db, table=report.table)
    for user in ("alice", "bob", "mira"):
        core.create_user(core_db, user, user)
    creator = creators.create_creator(core_db, user_id="mira", stage_name="Mira")
    creators.create_track(
        core_db,
        creator_id=creator.id,
        title="Song",
        duration_s=120,
        file_cid="bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
    )
    return core_db


def issue(db, user, amount, **extra):
    return ledger.transfer(
        db, debit="system:issuance", credit=f"user:{user}", amount=amount,
        kind="earned_challenge", **extra,
    )  # fmt: skip


def track_id(db) -> int:
    with db.read() as conn:
        return conn.exec_driver_sql("SELECT min(id) FROM tracks").scalar_one()


def count(db, sql: str) -> int:
    with db.read() as conn:
        return conn.execute(sa.text(sql)).scalar_one()


def never_partitioned_shape(pg_url: str):
    """The schema the migrations build, read from a database of its own."""
    name = f"chaindb_test_plain_{uuid.uuid4().hex[:12]}"
    server = sa.create_engine(
        sa.make_url(pg_url).set(drivername="postgresql+psycopg", database="postgres"),
        isolation_level="AUTOCOMMIT",
    )
    with server.connect() as admin:
        admin.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        url = sa.make_url(pg_url).set(database=name).render_as_string(hide_password=False)
        with chaindb.connect(url) as fresh:
            migrations.migrate(fresh)
            with fresh.read() as conn:
                return reflect_shape(conn)
    finally:
        with server.connect() as admin:
            admin.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
        server.dispose()


@on_postgres
def test_disable_brings_back_the_tables_the_migrations_built(plain_db, pg_url):
    db, track = plain_db, track_id(plain_db)
    granted = issue(db, "alice", 100, idempotency_key="grant-1")
    for table in partitions.partitionable_tables(db):
        partitions.enable(db, table=table, interval="week")
    hold = ledger.transfer(
        db, debit="user:alice", credit="user:bob", amount=40, kind="locked_escrow", pending=True
    )
    ledger.post_pending(db, hold.id, amount=25)
    creators.record_plays(db, [{"track_id": track, "client_id": f"p{n}", "listened_s": 3}
                               for n in range(5)])  # fmt: skip

    for table in partitions.partitionable_tables(db):
        assert partitions.disable(db, table=table).partitioned is False

    assert not any(t.partitioned for t in partitions.status(db))
    # The key tables and their trigger functions are gone.
    assert count(db, "SELECT count(*) FROM pg_class WHERE relname ~ '_keys$'") == 0
    assert (
        count(db, "SELECT count(*) FROM pg_proc WHERE proname ~ '_keys_(insert|delete|update)$'")
        == 0
    )
    assert count(db, "SELECT count(*) FROM ledger_transfers") == 3
    assert run_maintenance(db, check=True).problems == []
    # Every guarantee holds on the plain table again, by its own constraints.
    assert issue(db, "alice", 100, idempotency_key="grant-1").id == granted.id
    with pytest.raises(Conflict, match="grant-1"):
        issue(db, "alice", 7, idempotency_key="grant-1")
    with pytest.raises(Conflict):
        ledger.void_pending(db, hold.id)
    with pytest.raises(IntegrityError, match="uq_plays_client_id"), db.transaction() as conn:
        conn.exec_driver_sql(
            "INSERT INTO plays (track_id, played_at, listened_s, source, client_id)"
            " SELECT track_id, now(), 1, source, client_id FROM plays LIMIT 1"
        )
    sent = [{"track_id": track, "client_id": c, "listened_s": 3} for c in ("p1", "p9")]
    again = creators.record_plays(db, sent)
    assert (again.recorded, again.duplicates) == (1, 1)
    assert ledger.get_balance(db, "user:bob", "points").available == 25
    with db.read() as conn:
        assert differences(never_partitioned_shape(pg_url), reflect_shape(conn)) == []


@on_postgres
def test_disable_refuses_a_plain_table_an_unknown_one_and_sqlite(plain_db, tmp_path):
    with pytest.raises(Conflict, match="not partitioned"):
        partitions.disable(plain_db, table="ledger_transfers")
    with pytest.raises(InvalidInput, match="cannot be partitioned"):
        partitions.disable(plain_db, table="users")
    lite = chaindb.connect(f"sqlite:///{tmp_path / 'c.sqlite3'}")
    with lite, pytest.raises(InvalidInput, match="PostgreSQL's"):
        partitions.disable(lite, table="ledger_transfers")


@on_postgres
def test_disable_refuses_while_a_row_names_a_dropped_one(plain_db):
    db = plain_db
    issue(db, "alice", 100)
    hold = ledger.transfer(
        db, debit="user:alice", credit="user:bob", amount=40, kind="locked_escrow", pending=True
    )
    with db.transaction() as conn:
        conn.execute(
            sa.text("UPDATE ledger_transfers SET created_at = now() - make_interval(days => :d)"
                    " WHERE id = :id"),
            {"d": OLD_DAYS, "id": hold.id},
        )  # fmt: skip
    partitions.enable(db, table="ledger_transfers")
    ledger.post_pending(db, hold.id)  # today's post names the old hold
    partitions.drop_older(db, older_than=timedelta(days=90))

    with pytest.raises(Conflict, match="dropped by retention"):
        partitions.disable(db, table="ledger_transfers")
    assert next(t for t in partitions.status(db) if t.table == "ledger_transfers").partitioned
    assert ledger.check_ledger(db).problems() == []


@on_postgres
def test_the_command_disables(plain_db):
    env = {"CHAINDB_URL": plain_db.url.render_as_string(hide_password=False)}
    partitions.enable(plain_db, table="performance_metrics")
    done = run_cli("partitions", "disable", "performance_metrics", env=env)
    assert done.returncode == 0, done.stderr
    again = run_cli("partitions", "disable", "performance_metrics", env=env)
    assert again.returncode != 0 and "not partitioned" in again.stderr


@on_postgres
def test_rolling_back_a_migration_of_a_partitioned_table_is_refused_saying_what_to_run(plain_db):
    db = plain_db
    issue(db, "alice", 5)
    partitions.enable(db, table="ledger_transfers")
    # assets_0007's downgrade names no partitioned table: it runs as always.
    assert [s.revision for s in migrations.rollback(db, module="assets", steps=1).steps] == [
        "assets_0007"
    ]
    migrations.migrate(db)
    with pytest.raises(MigrationError, match="partitions disable ledger_transfers"):
        migrations.rollback(db, module="ledger", steps=2)  # ledger_0005 alters it
    with pytest.raises(MigrationError, match="partitions disable ledger_transfers"):
        migrations.rollback(db, "base", module="ledger", allow_data_loss=True)
    assert ledger.check_ledger(db).problems() == []  # nothing was rolled back
    partitions.disable(db, table="ledger_transfers")
    migrations.rollback(db, "base", module="ledger", allow_data_loss=True)
    migrations.migrate(db)
    assert count(db, "SELECT count(*) FROM ledger_transfers") == 0
    assert ledger.check_ledger(db).problems() == []


@on_postgres
def test_import_skip_skips_rows_whose_keys_the_key_table_holds(plain_db, tmp_path):
    """A row whose idempotency key (or client id) another row holds is skipped by ON
    CONFLICT DO NOTHING on a plain table; on a partitioned one the key table holds it."""
    db, track = plain_db, track_id(plain_db)
    for n in range(3):
        issue(db, "alice", 10, idempotency_key=f"k{n}")
    creators.record_plays(db, [{"track_id": track, "client_id": f"c{n}", "listened_s": 1}
                               for n in range(3)])  # fmt: skip
    dump = tmp_path / "rows.jsonl"
    export_rows(db, output=dump, tables=["ledger_transfers", "plays"])
    partitions.enable(db, table="ledger_transfers")
    partitions.enable(db, table="plays")
    lines = dump.read_text().splitlines()
    moved = [json.loads(line) for line in lines[1:]]
    for record in moved:  # the same keys under new ids and times: not the same rows
        record["row"]["id"] += 1_000_000
    dump.write_text("\n".join([lines[0], *(json.dumps(r) for r in moved)]) + "\n")

    report = import_rows(db, [dump], on_conflict="skip")

    assert report.rows == {"ledger_transfers": 3, "plays": 3}  # read, and kept as they were
    assert count(db, "SELECT count(*) FROM ledger_transfers") == 3
    assert count(db, "SELECT count(*) FROM plays") == 3
    assert count(db, "SELECT max(id) FROM ledger_transfers_keys") < 1_000_000
    assert run_maintenance(db, check=True).problems == []
    with pytest.raises(ImportRefused, match="uq_ledger_transfers_idempotency_key"):
        import_rows(db, [dump], on_conflict="error")
    # A key the key table does not hold yet goes in.
    moved[0]["row"]["idempotency_key"] = "k-new"
    dump.write_text("\n".join([lines[0], json.dumps(moved[0])]) + "\n")
    assert import_rows(db, [dump], on_conflict="skip").rows == {"ledger_transfers": 1}
    with db.read() as conn:
        added = conn.exec_driver_sql(
            "SELECT count(*) FROM ledger_transfers_keys WHERE idempotency_key = 'k-new'"
        ).scalar_one()
    assert added == 1

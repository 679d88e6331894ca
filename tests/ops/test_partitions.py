"""Partitioned append-only tables (ops/partitions.py). Partitioning is PostgreSQL's, so these
tests run on PostgreSQL only, except the ones that check SQLite's clear refusal.

Rows are made old by moving their time back before a table is partitioned (the ledger stamps
a transfer with the time it is written): the ledger check does not look at times, so it must
stay clean through conversion, replays and retention."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

import chaindb
from chaindb import Conflict, InvalidInput, ledger
from chaindb.ops import partitions
from chaindb.ops.maintenance import run_maintenance
from tests.conftest import run_cli, statistics_targets

OLD_DAYS = 120


# The backend-parametrized fixtures (core_db, ledger_db), on PostgreSQL alone.
on_postgres = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


@pytest.fixture
def pg_db(ledger_db: chaindb.Database) -> chaindb.Database:
    """ledger_db (users alice, bob, carol and dave) with every table plain (the partitioned
    template's made so: CHAINDB_TEST_PARTITIONED)."""
    for report in partitions.status(ledger_db):
        if report.partitioned:
            partitions.disable(ledger_db, table=report.table)
    return ledger_db


def issue(db, user, amount, **extra):
    return ledger.transfer(
        db,
        debit="system:issuance",
        credit=f"user:{user}",
        amount=amount,
        kind="earned_challenge",
        **extra,
    )


def make_old(db, ids: list[int], days: int = OLD_DAYS) -> None:
    with db.transaction() as conn:
        conn.execute(
            sa.text(
                "UPDATE ledger_transfers SET created_at = created_at - make_interval(days => :d)"
                " WHERE id = ANY(:ids)"
            ),
            {"d": days, "ids": ids},
        )


def count(db, sql: str) -> int:
    with db.read() as conn:
        return conn.execute(sa.text(sql)).scalar_one()


def ledger_problems(db) -> list[str]:
    return ledger.check_ledger(db).problems()


@on_postgres
def test_enable_moves_every_transfer_and_keeps_the_ledger_whole(pg_db):
    old = [issue(pg_db, "alice", 100, idempotency_key=f"old-{i}").id for i in range(3)]
    make_old(pg_db, old)
    ledger.transfer(pg_db, debit="user:alice", credit="user:bob", amount=30, kind="transfer")

    enabled = partitions.enable(pg_db, table="ledger_transfers", interval="month")

    assert enabled.partitioned and enabled.interval == "month"
    assert enabled.key_table == "ledger_transfers_keys"
    assert len(enabled.partitions) >= 5 + 1  # 120 days back, 3 ahead, and the DEFAULT
    assert count(pg_db, "SELECT count(*) FROM ledger_transfers") == 4
    assert count(pg_db, "SELECT count(*) FROM ledger_transfers_keys") == 4
    assert count(pg_db, "SELECT count(*) FROM ledger_transfers_default") == 0
    assert ledger_problems(pg_db) == []
    # The seed's views were built again over the partitioned table, still read-only.
    assert count(pg_db, "SELECT count(*) FROM points_transactions") >= 4
    with pytest.raises(sa.exc.DBAPIError, match="read-only view"), pg_db.transaction() as conn:
        conn.exec_driver_sql("DELETE FROM points_transactions")
    assert ledger.get_balance(pg_db, "user:alice", "points").available == 270


@on_postgres
def test_the_transfers_short_statistics_sample_follows_every_partition(pg_db):
    """ledger_0005's statistics target (autoanalyze's snapshot held briefly) is kept by the
    partitioned table, each partition (autoanalyze samples those), the ones created later,
    and the plain table `partitions disable` makes again."""
    partitions.enable(pg_db, table="ledger_transfers", interval="month")
    assert partitions.create_ahead(pg_db, count=8) != []
    assert statistics_targets(pg_db, "ledger_transfers") == {10}
    assert statistics_targets(pg_db, "ledger_transfers_keys") == {10}  # a row per transfer
    partitions.disable(pg_db, table="ledger_transfers")
    assert statistics_targets(pg_db, "ledger_transfers") == {10}


@on_postgres
def test_an_idempotency_key_stays_unique_across_partitions(pg_db):
    first = issue(pg_db, "alice", 100, idempotency_key="grant-1")
    make_old(pg_db, [first.id])
    partitions.enable(pg_db, table="ledger_transfers")

    replayed = issue(pg_db, "alice", 100, idempotency_key="grant-1")  # the old partition's
    # The one-statement path of a plain transfer replays through the engine too.
    paid = [
        ledger.transfer(
            pg_db,
            debit="user:alice",
            credit="user:bob",
            amount=5,
            kind="transfer",
            idempotency_key="pay-1",
        ).id
        for _ in range(2)
    ]

    assert replayed.id == first.id and paid[0] == paid[1]
    with pytest.raises(Conflict, match="grant-1"):
        issue(pg_db, "alice", 999, idempotency_key="grant-1")
    # Written directly, a taken key is refused by the key table, under the constraint's name.
    taken = pytest.raises(IntegrityError, match="uq_ledger_transfers_idempotency_key")
    with taken, pg_db.transaction() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO ledger_transfers (asset_id, debit_account_id, credit_account_id,"
                " amount, kind, idempotency_key) SELECT asset_id, debit_account_id,"
                " credit_account_id, 1, kind, idempotency_key FROM ledger_transfers"
                " WHERE id = :id"
            ),
            {"id": first.id},
        )
    assert ledger.get_balance(pg_db, "user:alice", "points").available == 95
    assert ledger_problems(pg_db) == []


@on_postgres
def test_two_writers_of_one_key_write_one_transfer(pg_db):
    partitions.enable(pg_db, table="ledger_transfers")
    results, errors = [], []
    start = threading.Barrier(4)

    def write() -> None:
        start.wait()
        try:
            results.append(issue(pg_db, "bob", 7, idempotency_key="race").id)
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == [] and len(set(results)) == 1
    assert ledger.get_balance(pg_db, "user:bob", "points").available == 7
    assert ledger_problems(pg_db) == []


@on_postgres
def test_holds_and_foreign_keys_work_on_the_partitioned_ledger(pg_db):
    issue(pg_db, "alice", 100)
    partitions.enable(pg_db, table="ledger_transfers", interval="week")
    hold = ledger.transfer(
        pg_db,
        debit="user:alice",
        credit="user:bob",
        amount=40,
        kind="locked_escrow",
        pending=True,
    )
    ledger.post_pending(pg_db, hold.id, amount=25)
    with pytest.raises(Conflict):
        ledger.void_pending(pg_db, hold.id)  # resolved once, across partitions too
    with pytest.raises(IntegrityError), pg_db.transaction() as conn:
        conn.exec_driver_sql(
            "INSERT INTO ledger_holds (transfer_id, debit_account_id, credit_account_id, amount)"
            " SELECT 999999, debit_account_id, credit_account_id, 1 FROM ledger_transfers LIMIT 1"
        )
    assert ledger.get_balance(pg_db, "user:bob", "points").available == 25
    assert ledger_problems(pg_db) == []


@on_postgres
def test_retention_drops_old_partitions_and_the_check_stays_clean(pg_db):
    old = [issue(pg_db, "alice", 50, idempotency_key=f"o{i}").id for i in range(4)]
    spent = ledger.transfer(
        pg_db, debit="user:alice", credit="user:bob", amount=20, kind="transfer"
    )
    make_old(pg_db, [*old, spent.id])
    kept = issue(pg_db, "bob", 5, idempotency_key="new")
    partitions.enable(pg_db, table="ledger_transfers")

    planned = partitions.drop_older(pg_db, older_than=timedelta(days=90), dry_run=True)
    dropped = partitions.drop_older(pg_db, older_than=timedelta(days=90))

    assert sum(d.rows for d in dropped) == 5 == sum(p.rows for p in planned)
    assert all(d.partition.startswith("ledger_transfers_p") for d in dropped)
    assert count(pg_db, "SELECT count(*) FROM ledger_transfers") == 1
    assert ledger.get_transfer(pg_db, kept.id) is not None
    assert count(pg_db, "SELECT count(*) FROM ledger_transfers_keys") == 1
    assert ledger_problems(pg_db) == []
    assert ledger.get_balance(pg_db, "user:alice", "points").available == 180
    # The ledger goes on as before; a dropped transfer's key may be used again.
    issue(pg_db, "alice", 1, idempotency_key="o0")
    assert ledger_problems(pg_db) == []
    assert partitions.drop_older(pg_db, older_than=timedelta(days=90)) == []


@on_postgres
def test_a_partition_with_an_open_hold_is_not_dropped(pg_db):
    issue(pg_db, "alice", 100)
    hold = ledger.transfer(
        pg_db,
        debit="user:alice",
        credit="user:bob",
        amount=40,
        kind="locked_escrow",
        pending=True,
    )
    make_old(pg_db, [hold.id])
    partitions.enable(pg_db, table="ledger_transfers")
    with pytest.raises(Conflict, match="open holds"):
        partitions.drop_older(pg_db, older_than=timedelta(days=90))
    assert ledger.get_transfer(pg_db, hold.id) is not None
    assert ledger_problems(pg_db) == []


@on_postgres
def test_a_dropped_transfer_still_named_keeps_its_identity(pg_db):
    issue(pg_db, "alice", 100)
    hold = ledger.transfer(
        pg_db,
        debit="user:alice",
        credit="user:bob",
        amount=40,
        kind="locked_escrow",
        pending=True,
        idempotency_key="hold-1",
    )
    make_old(pg_db, [hold.id])
    partitions.enable(pg_db, table="ledger_transfers")
    posted = ledger.post_pending(pg_db, hold.id)  # now: it names the old hold

    dropped = partitions.drop_older(pg_db, older_than=timedelta(days=90))

    assert sum(d.rows for d in dropped) == 1
    assert ledger.get_transfer(pg_db, hold.id) is None
    with pg_db.read() as conn:  # the hold's identity stays for the post's foreign key
        kept = conn.execute(
            sa.text("SELECT idempotency_key FROM ledger_transfers_keys WHERE id = :id"),
            {"id": hold.id},
        ).all()
    assert kept == [(None,)]  # its key released, as every dropped transfer's is
    assert ledger.get_transfer(pg_db, posted.id).pending_id == hold.id
    assert ledger_problems(pg_db) == []
    assert ledger.get_balance(pg_db, "user:bob", "points").available == 40


@on_postgres
def test_partitions_are_created_ahead_and_rows_beyond_them_are_kept(pg_db):
    partitions.enable(pg_db, table="games_audit_log", interval="day", ahead=1)
    with pg_db.transaction() as conn:  # far ahead: the DEFAULT partition takes it
        conn.exec_driver_sql(
            "INSERT INTO games_audit_log (occurred_at, actor, entity_type, entity_id, action)"
            " VALUES (now() + interval '5 days', 'system', 'game', '1', 'created')"
        )
    created = partitions.create_ahead(pg_db, count=7)

    assert len(created) == 6  # day +2 .. day +7
    assert partitions.create_ahead(pg_db, count=7) == []
    assert count(pg_db, "SELECT count(*) FROM games_audit_log_default") == 0
    assert count(pg_db, "SELECT count(*) FROM games_audit_log") == 1
    report = run_maintenance(pg_db, cleanup=True)
    assert not any("partitions" in line for line in report.done)  # nothing left to create


@on_postgres
def test_two_maintenance_runs_at_once_create_each_partition_once(pg_db):
    partitions.enable(pg_db, table="performance_metrics", interval="day", ahead=0)
    created, errors = [], []
    start = threading.Barrier(2)

    def ahead() -> None:
        start.wait()
        try:
            created.extend(partitions.create_ahead(pg_db, count=10))
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=ahead) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(created) == len(set(created)) == 10


@on_postgres
def test_tools_see_a_partitioned_table_as_one_table(pg_db):
    issue(pg_db, "alice", 10)
    partitions.enable(pg_db, table="ledger_transfers")
    from chaindb.catalog import table_names
    from chaindb.ops.backup import count_rows

    with pg_db.read() as conn:
        names = table_names(conn)
        rows = count_rows(conn)
    assert "ledger_transfers" in names
    assert not [n for n in names if n.startswith("ledger_transfers_")]
    assert rows["ledger_transfers"] == 1


@on_postgres
def test_enable_refuses_an_unknown_table_and_a_second_time(pg_db):
    with pytest.raises(InvalidInput, match=r"cannot be partitioned.*ledger_transfers"):
        partitions.enable(pg_db, table="users")
    with pytest.raises(InvalidInput, match="interval"):
        partitions.enable(pg_db, table="ledger_transfers", interval="year")
    partitions.enable(pg_db, table="oracle_sync_logs")
    with pytest.raises(Conflict, match="already partitioned"):
        partitions.enable(pg_db, table="oracle_sync_logs")


def test_sqlite_says_partitioning_is_postgresql_s(tmp_path):
    with chaindb.connect(f"sqlite:///{tmp_path / 'c.sqlite3'}") as db:
        with pytest.raises(InvalidInput, match="partitioned tables are PostgreSQL's"):
            partitions.enable(db, table="ledger_transfers")
        with pytest.raises(InvalidInput, match="PostgreSQL's"):
            partitions.status(db)
        with pytest.raises(InvalidInput, match="PostgreSQL's"):
            partitions.create_ahead(db)
        assert partitions.maintenance_step(db) == []


@pytest.mark.parametrize("text", ["90", "-5d", "0d", "ninety days", "3y", "999999d"])
def test_a_bad_age_is_refused_with_its_form(text):
    with pytest.raises(InvalidInput, match="older-than"):
        partitions.parse_age(text)


def test_ages_read_in_days_weeks_and_hours():
    assert partitions.parse_age("90d") == timedelta(days=90)
    assert partitions.parse_age("2w") == timedelta(days=14)
    assert partitions.parse_age("36h") == timedelta(hours=36)


@on_postgres
def test_the_command_enables_and_reports(pg_db):
    env = {"CHAINDB_URL": pg_db.url.render_as_string(hide_password=False)}
    enabled = run_cli("partitions", "enable", "performance_metrics", "--interval", "week", env=env)
    assert enabled.returncode == 0, enabled.stderr
    shown = run_cli("partitions", "status", "--json", env=env)
    assert '"performance_metrics"' in shown.stdout and '"week"' in shown.stdout
    bad = run_cli("partitions", "drop-older", "--older-than", "soon", env=env)
    assert bad.returncode != 0 and "older-than" in bad.stderr


@on_postgres
def test_the_demos_database_partitioned_checks_exports_and_restores_whole(demo_db, tmp_path):
    """Every table that can be partitioned, partitioned on the demo's data: the checks stay
    clean, export and import move it row for row, and a backup restores it."""
    from chaindb import migrations
    from chaindb.ops.backup import backup
    from chaindb.ops.export import export_rows
    from chaindb.ops.importing import import_rows
    from chaindb.ops.restore import restore

    pg_url = demo_db.url.render_as_string(hide_password=False)
    env = {"CHAINDB_URL": pg_url}
    with demo_db as db:
        for report in partitions.status(db):  # (CHAINDB_TEST_PARTITIONED: some are already)
            if not report.partitioned:
                partitions.enable(db, table=report.table, interval="week")
        assert all(t.partitioned for t in partitions.status(db))
        assert run_maintenance(db, check=True).problems == []
        export_rows(db, output=tmp_path / "rows.jsonl")
        made = backup(db, directory=tmp_path)
        # push sees the application's own table to create, and nothing of the partitions.
        app = sa.MetaData()
        sa.Table("app_notes", app, sa.Column("id", sa.Integer, primary_key=True))
        planned = migrations.push(db, metadata=app, dry_run=True)
        assert len(planned.changes) == 1 and "app_notes" in str(planned.changes[0])
    for command in (("validate",), ("maintenance", "--check"), ("diagnose",)):
        done = run_cli(*command, env=env)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
    exported = (tmp_path / "rows.jsonl").read_text().splitlines()
    assert not any('"table": "ledger_transfers_' in line for line in exported)
    # Into a fresh database with ledger_transfers partitioned, twice.
    name = f"chaindb_test_copy_{uuid.uuid4().hex[:12]}"
    server = sa.create_engine(
        sa.make_url(pg_url).set(drivername="postgresql+psycopg", database="postgres"),
        isolation_level="AUTOCOMMIT",
    )
    with server.connect() as admin:
        admin.exec_driver_sql(f'CREATE DATABASE "{name}"')
    copy_url = sa.make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    with chaindb.connect(copy_url) as copy:
        migrations.migrate(copy)
        partitions.enable(copy, table="ledger_transfers")
        for _ in range(2):  # the second time, every row is there already: updated in place
            import_rows(copy, [tmp_path / "rows.jsonl"], on_conflict="update")
        assert run_maintenance(copy, check=True).problems == []
        # --clean over its partitioned ledger: replaced by the backup, every table as it was.
        replaced = restore(made.path, to=copy, clean=True)
        assert replaced.ok, replaced
        assert all(t.partitioned for t in partitions.status(copy))
    # The backup into an empty database: every table partitioned as it was, the checks clean.
    with server.connect() as admin:
        admin.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.exec_driver_sql(f'CREATE DATABASE "{name}"')
    with chaindb.connect(copy_url) as copy:
        restored = restore(made.path, to=copy)
        assert restored.ok, restored
        assert run_maintenance(copy, check=True).problems == []
        assert all(t.partitioned for t in partitions.status(copy))
    with server.connect() as admin:
        admin.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    server.dispose()

"""chaindb diagnose: findings a user can act on, ranked, with an exit code for the critical."""

from __future__ import annotations

import json
import threading

import pytest
import sqlalchemy as sa

import chaindb
from chaindb import migrations
from chaindb.ops.diagnose import diagnose
from tests.conftest import open_sqlite, run_cli

STATISTICS_POLLS_MAX = 100


def codes(report) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for finding in report.findings:
        found.setdefault(finding.code, []).append(finding.subject)
    return found


def _has_dbstat(db) -> bool:
    if db.backend != "sqlite":
        return True
    with db.connection() as conn:
        try:
            conn.exec_driver_sql("SELECT 1 FROM dbstat LIMIT 1")
        except sa.exc.OperationalError:
            return False
    return True


def test_a_healthy_database_reports_its_tables_and_no_critical_finding(core_db, db_url):
    report = diagnose(core_db)
    assert not report.critical
    if report.tables or _has_dbstat(core_db):  # SQLCipher's build has no dbstat: no sizes
        assert {"ledger_transfers", "users"} <= {table.name for table in report.tables}
    shown = json.loads(run_cli("diagnose", "--json", "--url", db_url).stdout)
    assert shown["backend"] == core_db.backend and shown["critical"] is False


def test_sqlite_free_pages_are_reported_with_the_way_to_reclaim_them(tmp_path):
    """SQLite only: its free list."""
    db = chaindb.connect(f"sqlite:///{tmp_path / 'holes.sqlite3'}")
    migrations.migrate(db)
    with db.transaction() as conn:
        conn.exec_driver_sql("CREATE TABLE scratch (body BLOB)")
        conn.exec_driver_sql(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) "
            "INSERT INTO scratch SELECT randomblob(4000) FROM n"
        )
    with db.transaction() as conn:
        conn.exec_driver_sql("DELETE FROM scratch")
    (free,) = [f for f in diagnose(db).findings if f.code == "free-pages"]
    assert free.severity == "warning" and "maintenance --vacuum" in free.advice
    db.close()


def test_a_damaged_sqlite_file_is_critical_and_exits_1(tmp_path):
    """SQLite only: quick_check."""
    path = tmp_path / "damaged.sqlite3"
    db = chaindb.connect(f"sqlite:///{path}")
    migrations.migrate(db)
    db.close()
    driver = open_sqlite(path)
    driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = int(driver.execute("PRAGMA page_size").fetchone()[0])  # SQLCipher: text
    (root,) = driver.execute("SELECT rootpage FROM sqlite_master WHERE name = 'users'").fetchone()
    driver.close()
    with open(path, "r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(b"\x0d" + b"\xff" * 40)
    shown = run_cli("diagnose", "--json", "--url", f"sqlite:///{path}")
    assert shown.returncode == 1
    report = json.loads(shown.stdout)
    assert report["critical"] is True and report["findings"][0]["code"] == "integrity"


@pytest.fixture
def pg(pg_url):
    db = chaindb.connect(pg_url)
    migrations.migrate(db)
    yield db
    db.close()


def test_postgresql_names_dead_rows_sequential_scans_and_unused_indexes(pg):
    """PostgreSQL only: its statistics views."""
    with pg.connection() as plain:
        conn = plain.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql(
            "CREATE TABLE app_events (id bigint, kind text) WITH (autovacuum_enabled = false)"
        )
        conn.exec_driver_sql(
            "INSERT INTO app_events SELECT i, 'k' || (i %% 7) FROM generate_series(1, 60000) i"
        )
        conn.exec_driver_sql("CREATE INDEX ix_app_events_id ON app_events (id)")  # never used
        conn.exec_driver_sql("DELETE FROM app_events WHERE kind IN ('k0', 'k1', 'k2')")
        for _ in range(3):
            conn.exec_driver_sql("SELECT count(*) FROM app_events WHERE kind = 'k3'").scalar()
        conn.exec_driver_sql("SELECT pg_stat_force_next_flush()")
    wait_for_statistics(pg, "app_events", seq_scans=4)
    found = codes(diagnose(pg))
    assert "app_events" in found["dead-rows"]
    assert "app_events" in found["sequential-scans"]
    assert "app_events.ix_app_events_id" in found["unused-index"]


def wait_for_statistics(db, table: str, *, seq_scans: int) -> None:
    """A backend sends its statistics when it next goes idle: wait (bounded) until they are in."""
    for _ in range(STATISTICS_POLLS_MAX):
        with db.read() as conn:
            seen = conn.execute(
                sa.text("SELECT seq_scan FROM pg_stat_user_tables WHERE relname = :t"), {"t": table}
            ).scalar()
        if seen is not None and seen >= seq_scans:
            return
        threading.Event().wait(0.1)
    raise AssertionError(f"the statistics of {table} never arrived")


def test_postgresql_names_an_old_open_transaction(pg):
    """PostgreSQL only: pg_stat_activity (with a short threshold: the default is a minute)."""
    opened, release = threading.Event(), threading.Event()

    def hold_open() -> None:
        with pg.transaction() as conn:
            conn.execute(sa.text("SELECT count(*) FROM users")).scalar()
            opened.set()
            release.wait(30)

    holder = threading.Thread(target=hold_open)
    holder.start()
    try:
        opened.wait(30)
        release.wait(0.3)
        report = diagnose(pg, long_query_s=0.2)
    finally:
        release.set()
        holder.join()
    (finding,) = [f for f in report.findings if f.code == "open-transaction"]
    assert "idle in transaction" in finding.message and "pg_terminate_backend" in finding.advice


def test_postgresql_settings_are_compared_with_seed_001(pg):
    """PostgreSQL only. The test cluster keeps PostgreSQL's defaults (shared_buffers 128MB,
    random_page_cost 4): below and above seed 001's recommendations respectively."""
    settings = {f.subject: f for f in diagnose(pg).findings if f.code == "setting"}
    assert "seed 001 recommends 256MB" in settings["shared_buffers"].message
    assert "seed 001 recommends 1.1" in settings["random_page_cost"].message
    assert "effective_cache_size" not in settings  # 4GB by default: more than recommended

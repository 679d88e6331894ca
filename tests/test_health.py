"""chaindb health: healthy, degraded (migrations pending) or unhealthy (unreachable,
read-only, damaged, an applied migration's file changed), with documented exit codes."""

from __future__ import annotations

import json

import sqlalchemy as sa
from sqlalchemy.engine import make_url

import chaindb
from chaindb import migrations
from chaindb.health import check_health
from tests.conftest import CORE, CORE_HEAD, open_sqlite, run_cli


def health(db_url):
    result = run_cli("health", "--json", env={"CHAINDB_URL": db_url})
    return result.returncode, json.loads(result.stdout)


def test_a_migrated_database_is_healthy(core_db):
    report = check_health(core_db)
    assert (report.status, report.reachable, report.writable) == ("healthy", True, True)
    assert report.backend == core_db.backend and report.server_version
    assert report.migrations["core"]["current"] == CORE_HEAD
    assert report.integrity == ("ok" if core_db.backend == "sqlite" else None)


def test_pending_migrations_make_it_degraded_exit_2(db, db_url):
    migrations.migrate(db, to=CORE[0])
    code, report = health(db_url)
    assert (code, report["status"], report["healthy"]) == (2, "degraded", False)
    assert report["pending"] > 0 and report["migrations"]["core"]["pending"] == len(CORE) - 1
    text = run_cli("health", env={"CHAINDB_URL": db_url}).stdout
    assert text.startswith("degraded: ") and "pending" in text


def test_a_damaged_sqlite_file_is_unhealthy(tmp_path):
    """SQLite only: quick_check is SQLite's."""
    url = f"sqlite:///{tmp_path}/damaged.sqlite3"
    db = chaindb.connect(url)
    migrations.migrate(db)
    db.close()
    path = tmp_path / "damaged.sqlite3"
    driver = open_sqlite(path)
    driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = int(driver.execute("PRAGMA page_size").fetchone()[0])  # SQLCipher: text
    (root,) = driver.execute("SELECT rootpage FROM sqlite_master WHERE name = 'users'").fetchone()
    driver.close()
    with open(path, "r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(b"\x0d" + b"\xff" * 40)  # a leaf page header with nonsense cell counts
    code, report = health(url)
    assert (code, report["status"]) == (1, "unhealthy")
    assert "malformed" in (report["integrity"] or "") + (report["error"] or "")


def test_a_read_only_sqlite_file_is_unhealthy(tmp_path):
    """SQLite only. SQLite opens a file it may not write read-only; `mode=ro` asks for the
    same (a permissions test would not hold as root, who writes anything)."""
    path = tmp_path / "ro.sqlite3"
    db = chaindb.connect(f"sqlite:///{path}")
    migrations.migrate(db)
    db.close()
    code, report = health(f"sqlite:///file:{path}?mode=ro&uri=true")
    assert (code, report["status"], report["writable"]) == (1, "unhealthy", False)
    assert report["reachable"] is True
    assert "read-only" in " ".join(report["problems"])


def test_a_read_only_postgresql_database_is_unhealthy(pg_url):
    """PostgreSQL only: default_transaction_read_only (as on a standby)."""
    db = chaindb.connect(pg_url)
    migrations.migrate(db)
    name = make_url(pg_url).database
    with db.connection() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
            f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'
        )
    db.close()
    code, report = health(pg_url)
    assert (code, report["status"], report["writable"]) == (1, "unhealthy", False)


def test_an_edited_applied_migration_is_unhealthy(db, db_url, module_folder):
    path = module_folder.write(
        1, "op.create_table('app_h', sa.Column('id', sa.Integer, primary_key=True))"
    )
    migrations.migrate(db)
    path.write_text(path.read_text() + "\n# edited\n")
    code, report = health(db_url)
    assert (code, report["status"]) == (1, "unhealthy")
    assert any("app_0001" in problem for problem in report["problems"])


def test_health_of_an_unreachable_server_is_unhealthy_exit_1(pg_url):
    wrong = make_url(pg_url).set(port=1).render_as_string(hide_password=False)
    code, report = health(wrong)
    assert (code, report["reachable"], report["status"]) == (1, False, "unhealthy")
    assert report["error"]


def test_health_does_not_wait_for_a_writer(db_url, core_db):
    """A long writer holding SQLite's lock is no sign of a read-only database."""
    with core_db.transaction() as conn:
        conn.execute(sa.text("SELECT 1"))
        assert check_health(core_db).writable is True

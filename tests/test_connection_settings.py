"""Seed 002's connection settings (max_connections, connection_timeout, idle_timeout,
checkpoint_interval) on both backends, and `maintenance --checkpoint`."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from contextlib import ExitStack

import pytest
import sqlalchemy as sa

import chaindb
from chaindb import ConfigError, ConnectionFailed, Settings, migrations
from chaindb.ops.checkpoint import CheckpointRefused, checkpoint
from chaindb.ops.maintenance import run_maintenance
from tests.conftest import run_cli


def _open(db_url: str, **settings: object) -> chaindb.Database:
    """The database with these settings, the others from the environment."""
    return chaindb.connect(db_url, settings=dataclasses.replace(Settings.from_env(), **settings))


def _write_rows(db: chaindb.Database, count: int) -> None:
    with db.transaction() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS scratch (id INTEGER, body TEXT)")
        conn.execute(
            sa.text("INSERT INTO scratch VALUES (:id, :body)"),
            [{"id": n, "body": "x" * 200} for n in range(count)],
        )


def _wal_bytes(db: chaindb.Database) -> int:
    wal = db.url.database + "-wal"
    try:
        with open(wal, "rb") as file:
            return len(file.read())
    except FileNotFoundError:
        return 0


def test_the_settings_reach_the_engine(db_url):
    db = _open(db_url, pool_size=2, max_connections=3, connection_timeout_s=7.5)
    pool = db.engine.pool
    assert (pool.size(), pool._max_overflow, pool._timeout) == (2, 1, 7.5)
    with db.connection() as conn:
        driver = conn.connection.driver_connection
        if db.backend == "sqlite":
            assert driver.execute("PRAGMA busy_timeout").fetchone()[0] == 7500
        else:
            assert driver.info.get_parameters()["connect_timeout"] == "8"  # whole seconds, up
    db.close()


def test_max_connections_caps_a_process_and_the_wait_is_a_clear_error(db_url):
    db = _open(db_url, pool_size=1, max_connections=2, connection_timeout_s=0.2)
    with ExitStack() as held:
        for _ in range(2):
            held.enter_context(db.connection())
        started = time.monotonic()
        with pytest.raises(ConnectionFailed, match=r"all 2 connections .*CHAINDB_MAX_"):
            held.enter_context(db.connection())
        assert time.monotonic() - started >= 0.2
    with db.connection() as conn:  # returned: usable again
        assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1
    db.close()


@pytest.mark.parametrize(("idle_timeout_s", "replaced"), [(0.2, True), (0, False)])
def test_a_connection_idle_past_the_idle_timeout_is_replaced(db_url, idle_timeout_s, replaced):
    db = _open(db_url, pool_size=1, max_connections=1, idle_timeout_s=idle_timeout_s)
    with db.connection() as conn:
        first = conn.connection.driver_connection
    time.sleep(0.4)
    with db.connection() as conn:
        assert (conn.connection.driver_connection is not first) is replaced
        assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1
    db.close()


def test_bad_setting_values_are_refused_naming_the_setting_and_the_rule():
    for settings, rule in [
        ({"max_connections": 0}, "max_connections .*CHAINDB_MAX_CONNECTIONS.*whole number from 1"),
        ({"pool_size": 2.5}, "pool_size .*whole number"),
        ({"connection_timeout_s": 0}, "connection_timeout_s .*more than 0"),
        ({"idle_timeout_s": -1}, r"idle_timeout_s .*from 0 .*\(0: never\)"),
        ({"checkpoint_interval_s": float("nan")}, r"checkpoint_interval_s .*\(0: off\)"),
    ]:
        with pytest.raises(ConfigError, match=rule):
            Settings(**settings)
    for env, rule in [
        ({"CHAINDB_MAX_CONNECTIONS": "0"}, "CHAINDB_MAX_CONNECTIONS"),
        ({"CHAINDB_MAX_CONNECTIONS": "2.5"}, "CHAINDB_MAX_CONNECTIONS: '2.5' .*whole number"),
        ({"CHAINDB_CONNECTION_TIMEOUT_S": "soon"}, "CHAINDB_CONNECTION_TIMEOUT_S: 'soon'"),
        ({"CHAINDB_IDLE_TIMEOUT_S": "-5"}, "CHAINDB_IDLE_TIMEOUT_S: '-5' is invalid"),
        ({"CHAINDB_MAX_CONNECTIONS": "4", "CHAINDB_POOL_MAX_OVERFLOW": "1"}, "set one of them"),
    ]:
        with pytest.raises(ConfigError, match=rule):
            Settings.from_env(env)
    assert Settings.from_env({"CHAINDB_POOL_MAX_OVERFLOW": "3"}).max_connections == 8


def test_a_bad_setting_stops_the_command_with_its_rule(tmp_path):
    shown = run_cli(
        "status",
        "--url",
        f"sqlite:///{tmp_path / 'db.sqlite3'}",
        env={"CHAINDB_CHECKPOINT_INTERVAL_S": "-1"},
    )
    assert (
        shown.returncode == 1 and "CHAINDB_CHECKPOINT_INTERVAL_S: '-1' is invalid" in shown.stderr
    )


# --- checkpoints -----------------------------------------------------------------------------


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'wal.sqlite3'}"


@pytest.mark.parametrize(("interval_s", "emptied"), [(0.2, True), (0, False)])
def test_the_wal_is_checkpointed_at_the_configured_interval(sqlite_url, interval_s, emptied):
    db = _open(sqlite_url, checkpoint_interval_s=interval_s)
    _write_rows(db, 2_000)
    assert _wal_bytes(db) > 100_000
    time.sleep(0.3)
    with db.connection() as conn:  # a connection back in the pool after the interval
        conn.exec_driver_sql("SELECT 1")
    assert (_wal_bytes(db) == 0) is emptied
    db.close()


def test_maintenance_checkpoint_empties_the_sqlite_wal_and_reports_its_size(sqlite_url):
    db = _open(sqlite_url, checkpoint_interval_s=0)
    _write_rows(db, 2_000)
    before = _wal_bytes(db)
    report = checkpoint(db)
    assert report.complete and report.wal_bytes_before == before > 0
    assert report.wal_bytes_after == _wal_bytes(db) == 0
    assert report.summary().startswith("checkpoint: WAL ") and report.summary().endswith("-> 0 B")
    _write_rows(db, 500)  # the command, in a process of its own, while this one stays open
    shown = run_cli("maintenance", "--checkpoint", "--json", "--url", sqlite_url)
    assert shown.returncode == 0, shown.stderr
    reported = json.loads(shown.stdout)["checkpoint"]
    assert reported["wal_bytes_before"] > 0 and reported["wal_bytes_after"] == 0
    db.close()


def test_a_sqlite_checkpoint_a_reader_holds_up_says_so(sqlite_url):
    db = _open(sqlite_url, checkpoint_interval_s=0, connection_timeout_s=0.2)
    _write_rows(db, 100)
    with db.read() as reader:
        reader.exec_driver_sql("SELECT count(*) FROM scratch").scalar_one()
        _write_rows(db, 100)  # after the reader's snapshot: must stay in the WAL for it
        report = checkpoint(db)
    assert not report.complete and "busy timeout" in report.note
    assert report.wal_bytes_after > 0
    db.close()


def test_postgres_checkpoint_reports_the_wal_position_and_size(pg_url):
    db = chaindb.connect(pg_url)
    migrations.migrate(db)
    report = run_maintenance(db, checkpoint=True).checkpoint
    assert report is not None and report["complete"]
    assert report["wal_lsn_before"] and report["wal_lsn_after"]
    assert report["wal_bytes_before"] > 0 and report["wal_bytes_after"] > 0  # a superuser here
    assert report["checkpoint_timeout"]
    db.close()


def test_postgres_checkpoint_without_the_right_is_refused_clearly(pg_url):
    db = chaindb.connect(pg_url)
    role = f"chaindb_plain_{uuid.uuid4().hex[:8]}"  # roles are the cluster's: one per test
    with db.connection() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
            f"CREATE ROLE {role} LOGIN PASSWORD 'plain-pw'"
        )
    url = sa.engine.make_url(pg_url).set(username=role, password="plain-pw")
    weak = chaindb.connect(url.render_as_string(hide_password=False))
    with pytest.raises(CheckpointRefused, match="pg_checkpoint"):
        checkpoint(weak)
    weak.close()
    with db.connection() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(f"DROP ROLE {role}")
    db.close()

"""A large table's export read in key ranges by several connections (export_split).

The split is PostgreSQL's alone (SQLite has one writer and reads in-process: nothing to gain);
each test runs on both backends, and on SQLite checks that the export is the same unsplit."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

import chaindb
from chaindb.ops import export_split
from chaindb.ops.export import export_rows
from chaindb.ops.export_json import ROWS_PER_FETCH

ROWS = ROWS_PER_FETCH * 3 + 7  # several chunks in each range
STEP = 3  # keys with gaps: the ranges split the key's span, not the rows


@pytest.fixture
def app_rows(core_db: chaindb.Database) -> chaindb.Database:
    """An application's table of ROWS rows, text JSON escapes among them."""
    with core_db.transaction() as conn:
        conn.exec_driver_sql("CREATE TABLE app_rows (id BIGINT PRIMARY KEY, body TEXT)")
        conn.execute(
            sa.text("INSERT INTO app_rows VALUES (:id, :body)"),
            [{"id": n * STEP, "body": f'row {n} "q" \\ é\n'} for n in range(1, ROWS + 1)],
        )
    return core_db


def spy_on_helpers(monkeypatch: pytest.MonkeyPatch, before=None) -> list[str]:
    """The ranges the helpers read (`before`: run in a helper's thread before it reads)."""
    read: list[str] = []
    as_built = export_split._spool_part

    def spooling(part, table, stop) -> None:
        read.append(part.where)
        if before is not None:
            before(part)
        as_built(part, table, stop)

    monkeypatch.setattr(export_split, "_spool_part", spooling)
    return read


def exported(db: chaindb.Database, path: Path, **kw) -> list[str]:
    report = export_rows(db, output=path, tables=["app_rows"], **kw)
    lines = path.read_text(encoding="utf-8").splitlines()[1:]  # the header has the time
    assert report.rows == {"app_rows": len(lines)}
    return lines


@pytest.mark.parametrize("parts", [2, 3])
def test_a_split_table_is_exported_as_unsplit_row_for_row_in_key_order(
    app_rows, tmp_path, monkeypatch, parts
):
    monkeypatch.setattr(export_split, "SPLIT_ROWS_MIN", 10**9)
    whole = exported(app_rows, tmp_path / "whole.jsonl")
    monkeypatch.setattr(export_split, "SPLIT_ROWS_MIN", 1)
    monkeypatch.setattr(export_split, "PARTS", parts)
    read = spy_on_helpers(monkeypatch)
    split = exported(app_rows, tmp_path / "split.jsonl")
    assert split == whole
    keys = [json.loads(line)["row"]["id"] for line in whole]
    assert keys == [n * STEP for n in range(1, ROWS + 1)]
    assert len(read) == (parts - 1 if app_rows.backend == "postgresql" else 0)


def test_rows_written_while_a_split_export_runs_are_in_no_range(app_rows, tmp_path, monkeypatch):
    """A writer commits after the export's first chunk is out, before any helper reads: an
    insert past the last key, an update and a delete in the last range. The export says what
    the database held when it began, in every range (PostgreSQL: the helpers import the
    export's snapshot; SQLite: one read transaction)."""
    monkeypatch.setattr(export_split, "SPLIT_ROWS_MIN", 10**9)
    before = exported(app_rows, tmp_path / "before.jsonl")
    monkeypatch.setattr(export_split, "SPLIT_ROWS_MIN", 1)
    written = threading.Event()
    read = spy_on_helpers(monkeypatch, before=lambda _part: written.wait(30))
    last = ROWS * STEP

    def write_once(table: str, rows: int) -> None:
        if written.is_set():
            return
        with app_rows.transaction() as conn:
            conn.exec_driver_sql(f"INSERT INTO app_rows VALUES ({last + 1}, 'new')")
            conn.exec_driver_sql(f"UPDATE app_rows SET body = 'changed' WHERE id = {last}")
            conn.exec_driver_sql(f"DELETE FROM app_rows WHERE id = {last - STEP}")
        written.set()

    during = exported(app_rows, tmp_path / "during.jsonl", on_rows=write_once)
    assert written.is_set()
    assert during == before
    assert len(read) == (1 if app_rows.backend == "postgresql" else 0)
    with app_rows.read() as conn:  # the writes did land
        assert conn.exec_driver_sql("SELECT count(*) FROM app_rows").scalar_one() == ROWS


def _spool_fills(part) -> None:
    class FullDisk:
        def write(self, data: bytes) -> int:
            raise OSError(28, "No space left on device")

    part.spool = FullDisk()


def _helper_lost(part) -> None:
    """Its server process ends (pg_terminate_backend, from another connection)."""
    import psycopg  # PostgreSQL's alone: the driver is an optional extra

    pid = part.driver.info.backend_pid
    with psycopg.connect(part.driver.info.dsn, password=part.driver.info.password) as other:
        other.execute("SELECT pg_terminate_backend(%s, 10000)", [pid])


@pytest.mark.parametrize("failure", ["spool_fills", "helper_lost", "write_fails"])
def test_an_error_in_any_range_surfaces_and_hangs_nothing(app_rows, tmp_path, monkeypatch, failure):
    """A helper's spool that cannot be written, a helper's connection lost, the export's own
    write failing while helpers read: the export raises that error, nothing hangs, no
    connection is left in a transaction and the database serves on."""
    monkeypatch.setattr(export_split, "SPLIT_ROWS_MIN", 1)
    fails = [{"spool_fills": _spool_fills, "helper_lost": _helper_lost}.get(failure)]
    read = spy_on_helpers(monkeypatch, before=lambda part: fails[0] and fails[0](part))

    def say(table: str, rows: int) -> None:
        if failure == "write_fails" and rows:
            raise OSError(5, "Input/output error")

    outcome: list[BaseException | None] = []

    def export() -> None:
        try:
            exported(app_rows, tmp_path / "x.jsonl", on_rows=say)
            outcome.append(None)
        except BaseException as error:
            outcome.append(error)

    exporting = threading.Thread(target=export, daemon=True)
    exporting.start()
    exporting.join(timeout=60)
    assert not exporting.is_alive(), "the export hung"
    assert not [t for t in threading.enumerate() if t.name == "chaindb-export"]
    if app_rows.backend != "postgresql":  # nothing split: only the export's own write fails
        assert read == []
        assert (outcome[0] is None) == (failure != "write_fails")
        return
    assert read and outcome[0] is not None
    expected = {
        "spool_fills": ["No space left"],
        "helper_lost": ["terminating connection", "server closed the connection"],
        "write_fails": ["Input/output error"],
    }
    assert any(text in str(outcome[0]) for text in expected[failure]), outcome[0]
    with app_rows.read(snapshot=False) as conn:
        stuck = conn.exec_driver_sql(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND state LIKE 'idle in transaction%%'"
        ).scalar_one()
        assert stuck == 0
    fails[0] = None
    assert len(exported(app_rows, tmp_path / "again.jsonl")) == ROWS


def test_a_table_a_ddl_waits_for_is_exported_unsplit(app_rows, tmp_path, monkeypatch, db_url):
    """PostgreSQL: an ALTER TABLE queued behind the export's lock would make a helper that
    waited for its own lock wait for ever (the export waits for its helpers, the ALTER for
    the export): the helper's lock is taken NOWAIT, and the table is read unsplit."""
    if app_rows.backend != "postgresql":
        pytest.skip("PostgreSQL's helpers and their locks")
    monkeypatch.setattr(export_split, "SPLIT_ROWS_MIN", 1)
    read = spy_on_helpers(monkeypatch)
    other = chaindb.connect(db_url)
    altered = threading.Event()
    as_built = export_split._helper

    def alter() -> None:
        with other.transaction() as conn:
            conn.exec_driver_sql("SET LOCAL lock_timeout = '30s'")
            conn.exec_driver_sql("ALTER TABLE app_rows ADD COLUMN note TEXT")
        altered.set()

    def queued_behind_the_export(engine, snapshot, table):
        threading.Thread(target=alter, daemon=True).start()
        with app_rows.read(snapshot=False) as conn:
            for _ in range(300):
                if conn.exec_driver_sql(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted"
                    " AND relation = 'app_rows'::regclass AND mode = 'AccessExclusiveLock'"
                ).scalar_one():
                    break
                threading.Event().wait(0.1)
        return as_built(engine, snapshot, table)

    monkeypatch.setattr(export_split, "_helper", queued_behind_the_export)
    lines = exported(app_rows, tmp_path / "x.jsonl")
    assert len(lines) == ROWS and read == []
    assert altered.wait(30)  # and the ALTER went through once the export was done
    other.close()


def test_the_helpers_spool_beside_the_output(app_rows, tmp_path, monkeypatch):
    """A helper's spool is as large as its range: beside the export's file (its disk), not
    in the system's temporary directory, which may be memory (tmpfs)."""
    monkeypatch.setattr(export_split, "SPLIT_ROWS_MIN", 1)
    spools: list[Path] = []  # an unnamed temporary file: its descriptor's link names its place
    read = spy_on_helpers(
        monkeypatch,
        before=lambda part: spools.append(Path(f"/proc/self/fd/{part.spool.fileno()}").readlink()),
    )
    out = tmp_path / "beside" / "rows.jsonl"
    out.parent.mkdir()
    lines = exported(app_rows, out)
    assert len(lines) == ROWS
    if app_rows.backend == "postgresql":
        assert len(read) == 1
        assert [spool.parent for spool in spools] == [out.parent]
    else:
        assert read == []


def test_no_helper_connection_to_be_had_in_time_means_an_unsplit_export(
    app_rows, tmp_path, monkeypatch
):
    """A pool counted with a spare connection that another thread takes first: the helper's
    checkout times out, and the table is read unsplit, not failed."""
    monkeypatch.setattr(export_split, "SPLIT_ROWS_MIN", 1)
    monkeypatch.setattr(export_split, "_spare_connections", lambda _engine, _wanted: True)
    read = spy_on_helpers(monkeypatch)
    whole = [json.loads(line)["row"]["id"] for line in exported(app_rows, tmp_path / "a")]

    class ExhaustedPool:
        def connect(self):
            raise sa.exc.TimeoutError("QueuePool limit of size 1 overflow 0 reached")

    as_built = export_split._helper
    monkeypatch.setattr(
        export_split, "_helper", lambda _engine, *args: as_built(ExhaustedPool(), *args)
    )
    split = [json.loads(line)["row"]["id"] for line in exported(app_rows, tmp_path / "b")]
    assert split == whole == [n * STEP for n in range(1, ROWS + 1)]
    assert len(read) == (1 if app_rows.backend == "postgresql" else 0)  # before the pool ran dry

"""chaindb backup / restore: consistent while writers run, refused when damaged, checked after."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

import chaindb
from chaindb import ConfigError, core, ledger
from chaindb.ops.backup import Manifest, backup, manifest_path, sha256_of
from chaindb.ops.postgres_tools import postgres_tool
from chaindb.ops.restore import RestoreRefused, restore, verify_backup
from chaindb.types import utc_now
from tests.conftest import run_cli

WRITERS = 4
BIG = 2**200


@pytest.fixture
def empty_target(db_url, tmp_path, request):
    """A second, empty database of the same backend."""
    if db_url.startswith("sqlite"):
        target = chaindb.connect(f"sqlite:///{tmp_path / 'restored.sqlite3'}")
    else:
        admin = request.getfixturevalue("pg_admin_url")
        name = f"chaindb_restore_{uuid.uuid4().hex[:12]}"
        engine = sa.create_engine(
            make_url(admin).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
        )
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        engine.dispose()
        target = chaindb.connect(make_url(admin).set(database=name).render_as_string(False))
    yield target
    target.close()


def transfers(db) -> int:
    with db.read() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM ledger_transfers")).scalar_one()


def test_a_backup_taken_while_four_writers_run_restores_whole(ledger_db, empty_target, tmp_path):
    ledger.transfer(
        ledger_db, debit="system:issuance", credit="user:alice", amount=BIG, kind="deposit"
    )
    stop = threading.Event()
    written = [0] * WRITERS

    def write(n: int) -> None:
        while not stop.is_set():
            ledger.transfer(
                ledger_db,
                debit="user:alice",
                credit=f"user:{('bob', 'carol', 'dave')[n % 3]}",
                amount=2**63 + n,
                kind="transfer",
            )
            written[n] += 1

    threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    try:
        while sum(written) < 20:
            stop.wait(0.05)
        made = backup(ledger_db, directory=tmp_path / "backups")
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert transfers(ledger_db) > made.manifest.row_counts["ledger_transfers"] > 1  # mid-write
    report = restore(made.path, to=empty_target)
    assert report.ok, report.problems
    assert transfers(empty_target) == made.manifest.row_counts["ledger_transfers"]
    assert ledger.check_ledger(empty_target).ok  # a snapshot: every balance its transfers'


def test_a_damaged_or_truncated_backup_is_refused_and_the_target_untouched(ledger_db, tmp_path):
    made = backup(ledger_db, directory=tmp_path)
    core.create_user(ledger_db, "erin", "erin")  # after the backup: what a restore would undo
    original = made.path.read_bytes()
    for damaged in (original[: len(original) // 2], original[:100] + b"\0" + original[101:]):
        made.path.write_bytes(damaged)
        with pytest.raises(RestoreRefused, match="damaged or truncated"):
            restore(made.path, to=ledger_db, clean=True)
        assert core.get_user(ledger_db, "erin") is not None  # the target as it was


def test_a_backup_that_was_bad_when_made_is_refused_too(ledger_db, empty_target, tmp_path):
    """Its manifest matches (it was written for the bad file): the archive itself is checked
    before the target is touched."""
    made = backup(ledger_db, directory=tmp_path)
    made.path.write_bytes(made.path.read_bytes()[:-64])
    manifest = made.manifest.as_dict()
    manifest.update(sha256=sha256_of(made.path), size_bytes=made.path.stat().st_size)
    manifest_path(made.path).write_text(json.dumps(manifest))
    with pytest.raises(RestoreRefused, match=r"cannot be unpacked|not a readable archive|failed"):
        restore(made.path, to=empty_target)
    assert not empty_target.exists() or sa.inspect(empty_target.engine).get_table_names() == []


def test_a_target_that_holds_tables_needs_clean(ledger_db, tmp_path):
    made = backup(ledger_db, directory=tmp_path)
    core.create_user(ledger_db, "erin", "erin")  # after the backup
    with pytest.raises(RestoreRefused, match="is not empty"):
        restore(made.path, to=ledger_db)
    assert core.get_user(ledger_db, "erin") is not None
    report = restore(made.path, to=ledger_db, clean=True)
    assert report.ok, report.problems
    assert core.get_user(ledger_db, "erin") is None  # the backup's state, whole


def test_a_schema_only_backup_restores_the_tables_without_rows(ledger_db, empty_target, tmp_path):
    made = backup(ledger_db, directory=tmp_path, schema_only=True)
    assert made.manifest.contents == "schema" and made.manifest.row_counts == {}
    assert restore(made.path, to=empty_target).ok
    assert core.get_user(empty_target, "alice") is None
    assert "ledger_transfers" in sa.inspect(empty_target.engine).get_table_names()


def test_keep_days_prunes_this_databases_old_backups_only(core_db, tmp_path):
    made = backup(core_db, directory=tmp_path)
    stem = made.path.name.split("-")[0]
    old = tmp_path / f"{stem}-20200101T000000000000Z.dump"
    other = tmp_path / "another-20200101T000000000000Z.dump"
    for path in (old, other):
        path.write_bytes(b"old")
        manifest = {**made.manifest.as_dict(), "file": path.name}
        manifest["created_at"] = (utc_now() - timedelta(days=40)).isoformat()
        manifest_path(path).write_text(json.dumps(manifest))
    again = backup(core_db, directory=tmp_path, keep_days=30)
    assert again.pruned == [old.name]
    assert not old.exists() and not manifest_path(old).exists()
    assert other.exists() and made.path.exists() and again.path.exists()


def test_the_manifest_records_revisions_row_counts_and_the_files_hash(ledger_db, tmp_path):
    ledger.transfer(
        ledger_db, debit="system:issuance", credit="user:alice", amount=2**256 - 1, kind="deposit"
    )
    manifest = Manifest.read(backup(ledger_db, directory=tmp_path).path)
    assert manifest.backend == ledger_db.backend
    assert set(manifest.modules) >= {"core", "ledger", "challenges", "chain"}
    assert manifest.row_counts["users"] == 4 and manifest.row_counts["ledger_transfers"] == 1
    assert len(manifest.sha256) == 64


def test_backup_verify_from_the_command(ledger_db, db_url, tmp_path):
    done = run_cli("backup", "--dir", str(tmp_path), "--verify", "--json", "--url", db_url)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["verify"]["ok"] is True and report["verify"]["tables_restored"] >= 20
    assert verify_backup(Path(report["path"]), like=ledger_db).ok  # the Python API too


def test_a_backup_of_the_other_backend_is_refused(ledger_db, tmp_path, pg_url):
    made = backup(ledger_db, directory=tmp_path)
    other = chaindb.connect(
        f"sqlite:///{tmp_path / 'x.sqlite3'}" if ledger_db.backend == "postgresql" else pg_url
    )
    with pytest.raises(RestoreRefused, match="chaindb export"):
        restore(made.path, to=other)
    other.close()


def test_pg_dump_must_be_of_the_servers_major_version():
    """No database: which program chaindb would run for a server it has no client for."""
    with pytest.raises(ConfigError, match="pg_dump 99 is needed"):
        postgres_tool("pg_dump", "99.1 (Debian 99.1-1)")


def test_a_change_that_loses_data_takes_a_backup_first(db_url, module_folder, tmp_path):
    """migrate of a destructive migration, rollback and reset: a backup first, named with the
    way back; --no-backup skips it."""
    module_folder.write(
        1,
        "op.create_table('app_notes', sa.Column('id', sa.Integer, primary_key=True),"
        " sa.Column('body', sa.Text)); "
        "op.execute(\"INSERT INTO app_notes (body) VALUES ('kept')\")",
    )
    env = {"CHAINDB_URL": db_url}
    assert run_cli("migrate", env=env).returncode == 0
    module_folder.write(2, "op.drop_column('app_notes', 'body')")
    backups = tmp_path / "backups"  # CHAINDB_BACKUP_DIR (tests/conftest.py)
    dropped = run_cli("migrate", "--allow-data-loss", env=env)
    assert dropped.returncode == 0, dropped.stderr
    (taken,) = sorted(backups.glob("*[!n]"))  # the backup, not its manifest (.json)
    assert f"backup before destructive migrations: {taken}" in dropped.stderr
    assert "chaindb restore" in dropped.stderr and "--clean" in dropped.stderr
    restored = run_cli("restore", str(taken), "--clean", "--force", env=env)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    with chaindb.connect(db_url).read() as conn:
        assert conn.execute(sa.text("SELECT body FROM app_notes")).scalars().all() == ["kept"]
    assert "backup before the rollback" in run_cli("rollback", "-1", "--force", env=env).stderr
    skipped = run_cli("rollback", "-1", "--force", "--no-backup", env=env)
    assert skipped.returncode == 0 and "backup before" not in skipped.stderr

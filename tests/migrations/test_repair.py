"""Validate-on-migrate and repair: an edited applied migration stops migrate until a person
accepts it, and the history keeps who accepted it and why."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from chaindb import InvalidInput, MigrationError, migrations
from chaindb.migrations import MigrationsInvalid
from chaindb.migrations.bookkeeping import HISTORY_TABLE
from chaindb.types import UtcDateTime
from tests.conftest import run_cli


def applied_then_edited(db, module_folder):
    """app_0001 applied, then edited; app_0002 written after, still pending."""
    first = module_folder.write(
        1, "op.create_table('app_r1', sa.Column('id', sa.Integer, primary_key=True))"
    )
    migrations.migrate(db)
    first.write_text(first.read_text() + "\n# reviewed edit\n")
    module_folder.write(
        2, "op.create_table('app_r2', sa.Column('id', sa.Integer, primary_key=True))"
    )
    return first


def app_pending(db) -> list[str]:
    return next(m for m in migrations.status(db).modules if m.name == "app").pending


def test_migrate_refuses_an_edited_applied_migration_and_names_its_file(db, module_folder):
    first = applied_then_edited(db, module_folder)
    for dry_run in (True, False):
        with pytest.raises(MigrationsInvalid) as refused:
            migrations.migrate(db, dry_run=dry_run)
        message = str(refused.value)
        assert f"app_0001 ({first}): file changed since it was applied" in message
        assert "chaindb repair app_0001 --reason" in message
    assert app_pending(db) == ["app_0002"], "nothing may run while a file does not match"


def test_repair_accepts_the_change_and_the_history_says_who_and_why(db, module_folder):
    first = applied_then_edited(db, module_folder)
    result = migrations.repair(db, "app_0001", reason="reviewed by bob: comment only")
    assert (result.repaired, result.path) == (True, str(first))
    assert result.old_checksum != result.new_checksum
    assert migrations.validate(db).ok
    assert [s.revision for s in migrations.migrate(db).steps] == ["app_0002"]
    repairs = [e for e in migrations.history(db).entries if e.action == "repair"]
    assert [(e.revision, e.reason, e.checksum) for e in repairs] == [
        ("app_0001", "reviewed by bob: comment only", result.new_checksum)
    ]
    assert "pid=" in repairs[0].applied_by


def test_repair_of_a_matching_file_changes_nothing(db, module_folder):
    applied_then_edited(db, module_folder)
    migrations.repair(db, "app_0001", reason="reviewed")
    again = migrations.repair(db, "app_0001", reason="reviewed")
    assert again.repaired is False
    assert [e.action for e in migrations.history(db).entries].count("repair") == 1


def test_repair_refuses_what_it_cannot_accept(db, module_folder):
    applied_then_edited(db, module_folder)
    with pytest.raises(InvalidInput, match="reason"):
        migrations.repair(db, "app_0001", reason="  ")
    with pytest.raises(MigrationError, match="app_0002 is not applied"):
        migrations.repair(db, "app_0002", reason="reviewed")
    with pytest.raises(MigrationError, match=r"'app_0009' has no file in .*app_migrations"):
        migrations.repair(db, "app_0009", reason="reviewed")
    assert not migrations.validate(db).ok, "a refused repair accepts nothing"


OLD_HISTORY = sa.MetaData()
sa.Table(  # chaindb_migration_history as chaindb created it before baseline and repair
    HISTORY_TABLE,
    OLD_HISTORY,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("revision", sa.String(64), nullable=False, index=True),
    sa.Column("module", sa.String(64), nullable=False),
    sa.Column("action", sa.String(10), nullable=False),
    sa.Column("checksum", sa.String(64), nullable=False),
    sa.Column("applied_at", UtcDateTime, nullable=False),
    sa.Column("duration_ms", sa.Float, nullable=False),
    sa.Column("applied_by", sa.Text, nullable=False),
    sa.CheckConstraint("action IN ('upgrade', 'downgrade')", name="ck_history_action"),
)


def test_an_older_history_table_is_brought_up_to_date(db, module_folder):
    """A database migrated by a chaindb from before baseline and repair: its history table
    has no `reason` and allows only upgrade and downgrade."""
    module_folder.write(1, "pass")
    with db.transaction() as conn:
        OLD_HISTORY.create_all(conn)
        conn.execute(
            OLD_HISTORY.tables[HISTORY_TABLE].insert(),
            {
                "revision": "old_0001",
                "module": "old",
                "action": "upgrade",
                "checksum": "x",
                "applied_at": datetime(2024, 1, 1, tzinfo=UTC),
                "duration_ms": 1.0,
                "applied_by": "someone",
            },
        )
    assert migrations.history(db).entries[0].reason is None, "readable before the upgrade"
    migrations.migrate(db)
    path = module_folder.path / "app_0001_step.py"
    path.write_text(path.read_text() + "# edited\n")
    migrations.repair(db, "app_0001", reason="accepted")
    entries = migrations.history(db).entries
    assert (entries[0].revision, entries[0].reason) == ("old_0001", None)
    assert (entries[-1].action, entries[-1].reason) == ("repair", "accepted")


def test_the_commands_refuse_then_repair_on_the_record(db_url, module_folder):
    env = {"CHAINDB_URL": db_url}
    first = module_folder.write(1, "pass")
    assert run_cli("migrate", env=env).returncode == 0
    first.write_text(first.read_text() + "# edited\n")
    refused = run_cli("migrate", env=env)
    assert refused.returncode == 1
    assert refused.stderr.splitlines()[-1].startswith(
        f"error: refusing to migrate: app_0001 ({first})"
    )
    assert len(refused.stderr.splitlines()) == 2  # "database: ..." then the error
    repaired = run_cli("repair", "app_0001", "--reason", "reviewed by [bob]", env=env)
    assert repaired.returncode == 0, repaired.stderr
    assert "repaired app_0001" in repaired.stdout
    assert run_cli("migrate", env=env).returncode == 0
    history = json.loads(run_cli("history", "--json", env=env).stdout)
    assert history["entries"][-1]["action"] == "repair"
    assert history["entries"][-1]["reason"] == "reviewed by [bob]"
    shown = run_cli("history", "--module", "app", env=env).stdout
    assert "reviewed by [bob]" in shown

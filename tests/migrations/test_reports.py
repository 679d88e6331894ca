"""history and check: what was done when, and the deploy gate."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from chaindb import InvalidInput, MigrationError, migrations
from chaindb.cli import migrate_output
from tests.conftest import CORE, run_cli


def test_history_lists_every_apply_and_rollback_oldest_first(db):
    migrations.migrate(db, modules=["core"])
    migrations.rollback(db, CORE[0])
    entries = migrations.history(db).entries
    assert [(e.revision, e.action) for e in entries] == (
        [(rev, "upgrade") for rev in CORE] + [(rev, "downgrade") for rev in reversed(CORE[1:])]
    )
    assert [e.id for e in entries] == sorted(e.id for e in entries)
    assert all("pid=" in e.applied_by and e.applied_at.tzinfo for e in entries)
    last_two = migrations.history(db, limit=2).entries
    assert [(e.revision, e.action) for e in last_two] == [
        (rev, "downgrade") for rev in reversed(CORE[1:])
    ][-2:]


def test_history_of_one_module_and_bad_arguments(db, module_folder):
    module_folder.write(1, "pass")
    migrations.migrate(db)
    assert [e.revision for e in migrations.history(db, module="app").entries] == ["app_0001"]
    with pytest.raises(MigrationError, match="module 'nope' is unknown"):
        migrations.history(db, module="nope")
    with pytest.raises(InvalidInput, match="limit"):
        migrations.history(db, limit=0)


def test_check_passes_only_when_nothing_is_pending_and_every_file_matches(db, module_folder):
    first = module_folder.write(1, "pass")
    assert migrations.check(db).pending == [*CORE, "app_0001"]
    migrations.migrate(db)
    assert migrations.check(db).ok
    module_folder.write(2, "pass")
    report = migrations.check(db)
    assert (report.ok, report.pending, report.problems) == (False, ["app_0002"], [])
    migrations.migrate(db)
    first.write_text(first.read_text() + "# edited\n")
    report = migrations.check(db)
    assert (report.ok, report.pending) == (False, [])
    assert [(p.revision, p.kind) for p in report.problems] == [("app_0001", "changed")]


def test_check_command_is_a_deploy_gate(db_url, module_folder):
    env = {"CHAINDB_URL": db_url}
    module_folder.write(1, "pass")
    assert run_cli("migrate", "--to", CORE[-1], env=env).returncode == 0
    pending = run_cli("check", env=env)
    assert pending.returncode == 1
    assert "pending app_0001" in pending.stdout
    assert json.loads(run_cli("check", "--json", env=env).stdout)["pending"] == ["app_0001"]
    assert run_cli("migrate", env=env).returncode == 0
    passed = run_cli("check", "--json", env=env)
    assert passed.returncode == 0
    assert json.loads(passed.stdout) == {
        "database": json.loads(passed.stdout)["database"],
        "pending": [],
        "problems": [],
        "ok": True,
    }


LONG_MODULE = "my_application_payments"


def test_revision_ids_are_never_cut_in_narrow_terminals(db, tmp_path, monkeypatch):
    folder = tmp_path / "long"
    folder.mkdir()
    monkeypatch.setenv("CHAINDB_MODULE_PATHS", f"{LONG_MODULE}={folder}")
    monkeypatch.setenv("CHAINDB_MODULES", LONG_MODULE)
    migrations.create("first", LONG_MODULE)
    migrations.migrate(db)
    narrow = Console(width=50, record=True, soft_wrap=True)
    monkeypatch.setattr(migrate_output, "console", narrow)
    migrate_output.render_status(migrations.status(db))
    migrate_output.render_history(migrations.history(db))
    shown = narrow.export_text()
    revision = f"{LONG_MODULE}_0001"
    assert shown.count(revision) == 4  # current and head, applied, history
    for line in shown.splitlines():
        assert "…" not in line, line

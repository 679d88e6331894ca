"""validate: an applied migration whose file changed, vanished or was skipped is named."""

from __future__ import annotations

import pytest

from chaindb import MigrationError, migrations
from chaindb.migrations.modules import RevisionGraph
from tests.conftest import CORE, run_cli


def write_two(module_folder):
    paths = [
        module_folder.write(
            number,
            f"op.create_table('app_v{number}', sa.Column('id', sa.Integer, primary_key=True))",
        )
        for number in (1, 2)
    ]
    return paths


def test_untouched_migrations_validate(db, module_folder):
    write_two(module_folder)
    migrations.migrate(db)
    report = migrations.validate(db)
    assert report.ok
    assert report.checked == len(CORE) + 2


def test_an_edited_applied_migration_fails_validate(db, module_folder):
    first, _second = write_two(module_folder)
    migrations.migrate(db)
    first.write_text(first.read_text() + "\n# edited after it was applied\n")
    report = migrations.validate(db)
    assert not report.ok
    assert [(p.revision, p.kind) for p in report.problems] == [("app_0001", "changed")]
    assert migrations.status(db).modules[-1].checksums == "changed"


def test_line_endings_do_not_change_the_checksum(db, module_folder):
    first, _second = write_two(module_folder)
    migrations.migrate(db)
    first.write_bytes(first.read_bytes().replace(b"\n", b"\r\n"))
    assert migrations.validate(db).ok


def test_a_missing_migration_file_fails_validate(db, module_folder):
    _first, second = write_two(module_folder)
    migrations.migrate(db)
    second.unlink()
    report = migrations.validate(db)
    assert [(p.revision, p.kind) for p in report.problems] == [("app_0002", "missing")]


def test_a_migration_unknown_to_the_history_fails_validate(db, module_folder):
    """A file slipped in below an applied migration would never be applied: say so."""
    write_two(module_folder)
    migrations.migrate(db)
    with db.transaction() as conn:
        conn.exec_driver_sql("DELETE FROM chaindb_migrations WHERE revision = 'app_0001'")
    report = migrations.validate(db)
    assert [(p.revision, p.kind) for p in report.problems] == [("app_0001", "unknown")]


def test_validate_names_the_file_of_an_edited_migration(db, module_folder):
    first, _second = write_two(module_folder)
    migrations.migrate(db)
    first.write_text(first.read_text() + "\n# edited\n")
    (problem,) = migrations.validate(db).problems
    assert problem.path == str(first)
    assert (
        str(problem) == f"app_0001 ({first}): file changed since it was applied (checksum differs)"
    )


def test_a_file_missing_from_the_middle_of_a_chain_is_named_by_validate(db, module_folder):
    _first, second = write_two(module_folder)
    third = module_folder.write(3, "pass")
    migrations.migrate(db)
    second.unlink()
    (problem,) = migrations.validate(db).problems
    assert (problem.revision, problem.kind) == ("app_0002", "missing")
    assert f"app_0003 ({third}) revises it" in problem.detail
    assert f"no file in {module_folder.path} (module app) defines it" in problem.detail


@pytest.mark.parametrize("command", ["validate", "status", "migrate"])
def test_a_file_missing_from_a_chain_is_one_line_not_a_traceback(db_url, module_folder, command):
    """Every command that reads the files says which revision is missing and where it belongs."""
    _first, second = write_two(module_folder)
    module_folder.write(3, "pass")
    assert run_cli("migrate", env={"CHAINDB_URL": db_url}).returncode == 0
    second.unlink()
    result = run_cli(command, env={"CHAINDB_URL": db_url})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "Warning" not in result.stderr
    output = [line for line in (result.stdout + result.stderr).splitlines() if line]
    message = next(line for line in output if "app_0002" in line)
    assert len([line for line in output if not line.startswith("database:")]) == 1, output
    assert "app_0003" in message and str(module_folder.path) in message


def test_a_missing_dependency_of_another_module_is_named(module_folder):
    module_folder.write(1, "pass", depends_on="core_0999")
    with pytest.raises(MigrationError) as raised:
        RevisionGraph.load()
    assert str(raised.value).startswith("migration core_0999 is missing: app_0001 (")
    assert "depends on it" in str(raised.value)
    assert "chaindb/core/migrations (module core)" in str(raised.value)


def test_a_migration_file_python_cannot_read_is_one_line(module_folder):
    """No database: every command loads the files first (lint reads nothing else)."""
    path = module_folder.write(1, "pass")
    path.write_text(path.read_text().replace("    pass", "    pass\n      pass", 1))
    result = run_cli("lint")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: migration file {path} cannot be loaded: IndentationError: unexpected indent "
        f"(line {path.read_text().splitlines().index('      pass') + 1})"
    )

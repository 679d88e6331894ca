"""validate: an applied migration whose file changed, vanished or was skipped is named."""

from __future__ import annotations

from chaindb import migrations
from tests.conftest import CORE


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

"""create writes the next version of a module, ready to edit and apply."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaindb import InvalidInput, MigrationError, migrations
from chaindb.migrations.modules import RevisionGraph
from tests.conftest import CORE, run_cli


def test_create_writes_the_next_number_with_upgrade_and_downgrade(module_folder):
    module_folder.write(1, "pass")
    path = Path(migrations.create("add notes table", "app").path)
    assert path.name == "app_0002_add_notes_table.py"
    source = path.read_text()
    assert "revision = 'app_0002'" in source
    assert "down_revision = 'app_0001'" in source
    assert "def upgrade()" in source and "def downgrade()" in source


def test_created_migration_is_applied_by_migrate(db, module_folder):
    module_folder.write(1, "pass")
    path = Path(migrations.create("add notes", "app").path)
    path.write_text(
        path.read_text().replace(
            "def upgrade() -> None:\n    pass",
            "def upgrade() -> None:\n"
            "    op.create_table('app_notes', sa.Column('id', sa.Integer, primary_key=True))",
        )
    )
    run = migrations.migrate(db)
    assert [s.revision for s in run.steps] == [*CORE, "app_0001", "app_0002"]


def test_create_in_an_empty_module_starts_at_0001(module_folder):
    path = Path(migrations.create("first", "app").path)
    assert path.name == "app_0001_first.py"
    assert "branch_labels = ('app',)" in path.read_text()


def test_create_refuses_unknown_module_and_bad_name(module_folder):
    with pytest.raises(MigrationError, match="module 'nope' is unknown"):
        migrations.create("x", "nope")
    with pytest.raises(InvalidInput, match="name"):
        migrations.create("../escape", "app")


@pytest.mark.parametrize("module", ["core", "ledger", "challenges", "chain"])
def test_create_in_one_of_chaindbs_own_modules_is_refused(module, module_folder):
    folder = RevisionGraph.load().modules[module].versions_dir
    before = sorted(folder.iterdir())
    with pytest.raises(MigrationError, match=f"module '{module}' is chaindb's own") as refused:
        migrations.create("add thing", module)
    assert "CHAINDB_MODULE_PATHS" in str(refused.value)
    assert sorted(folder.iterdir()) == before, "nothing is written"


def test_a_modules_first_migration_depends_on_cores_head(module_folder):
    created = migrations.create("first", "app")
    assert created.depends_on == [CORE[-1]]
    assert f"depends_on = '{CORE[-1]}'" in Path(created.path).read_text()
    second = migrations.create("second", "app")
    assert (second.down_revision, second.depends_on) == ("app_0001", [])
    assert "depends_on = None" in Path(second.path).read_text()


def test_create_with_chosen_dependencies(module_folder):
    ledger_head = RevisionGraph.load().head("ledger")
    created = migrations.create("first", "app", depends_on=[CORE[0], ledger_head])
    assert f"depends_on = ['{CORE[0]}', '{ledger_head}']" in Path(created.path).read_text()
    assert RevisionGraph.load().parents("app_0001") == {CORE[0], ledger_head}
    with pytest.raises(InvalidInput, match="depends_on"):
        migrations.create("second", "app", depends_on=["app_0001"])
    with pytest.raises(MigrationError, match="'core_9999' is unknown"):
        migrations.create("second", "app", depends_on=["core_9999"])


def test_create_prints_json(module_folder):
    result = run_cli("create", "add notes", "--module", "app", "--json")
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert created == {
        "revision": "app_0001",
        "module": "app",
        "path": str(module_folder.path / "app_0001_add_notes.py"),
        "down_revision": None,
        "depends_on": [CORE[-1]],
    }
    refused = run_cli("create", "x", "--module", "core")
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: module 'core' is chaindb's own")
    assert len(refused.stderr.splitlines()) == 1

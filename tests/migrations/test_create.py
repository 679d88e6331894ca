"""create writes the next version of a module, ready to edit and apply."""

from __future__ import annotations

import pytest

from chaindb import InvalidInput, MigrationError, migrations
from tests.conftest import CORE


def test_create_writes_the_next_number_with_upgrade_and_downgrade(module_folder):
    module_folder.write(1, "pass")
    path = migrations.create("add notes table", "app")
    assert path.name == "app_0002_add_notes_table.py"
    source = path.read_text()
    assert "revision = 'app_0002'" in source
    assert "down_revision = 'app_0001'" in source
    assert "def upgrade()" in source and "def downgrade()" in source


def test_created_migration_is_applied_by_migrate(db, module_folder):
    module_folder.write(1, "pass")
    path = migrations.create("add notes", "app")
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
    path = migrations.create("first", "app")
    assert path.name == "app_0001_first.py"
    assert "branch_labels = ('app',)" in path.read_text()


def test_create_refuses_unknown_module_and_bad_name(module_folder):
    with pytest.raises(MigrationError, match="module 'nope' is unknown"):
        migrations.create("x", "nope")
    with pytest.raises(InvalidInput, match="name"):
        migrations.create("../escape", "app")

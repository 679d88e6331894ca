"""migrate, rollback, dry-run, failure, reset: what a user of the engine relies on."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from chaindb import DestructiveMigration, MigrationError, migrations
from chaindb.assets.schema import metadata as assets_metadata
from chaindb.chain.schema import metadata as chain_metadata
from chaindb.challenges.schema import metadata as challenges_metadata
from chaindb.core.schema import metadata as core_metadata
from chaindb.creators.schema import metadata as creators_metadata
from chaindb.games.schema import metadata as games_metadata
from chaindb.ledger.schema import metadata as ledger_metadata
from chaindb.migrations.bookkeeping import APPLIED_TABLE, HISTORY_TABLE
from chaindb.migrations.bookkeeping import metadata as own_tables
from chaindb.migrations.modules import RevisionGraph
from chaindb.tokens.schema import metadata as tokens_metadata
from tests.conftest import CORE, CORE_HEAD

CORE_TABLES = set(core_metadata.tables)


def every_builtin_revision() -> list[str]:
    graph = RevisionGraph.load()
    return graph.ordered(graph.revisions)


def reflected_schema(db) -> dict[str, object]:
    """Tables, columns, types, nullability, indexes, uniques, FKs and checks, as reflected."""
    with db.connection() as conn:
        inspector = sa.inspect(conn)
        schema = {}
        for table in sorted(inspector.get_table_names()):
            schema[table] = {
                "columns": [
                    (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                    for c in inspector.get_columns(table)
                ],
                "indexes": sorted(
                    (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                    for i in inspector.get_indexes(table)
                ),
                "uniques": sorted(
                    (u["name"] or "", tuple(u["column_names"]))
                    for u in inspector.get_unique_constraints(table)
                ),
                "foreign_keys": sorted(
                    (tuple(f["constrained_columns"]), f["referred_table"])
                    for f in inspector.get_foreign_keys(table)
                ),
                "checks": sorted(
                    (c["name"] or "", c["sqltext"]) for c in inspector.get_check_constraints(table)
                ),
            }
    return schema


def user_tables(db) -> set[str]:
    with db.connection() as conn:
        return set(sa.inspect(conn).get_table_names()) - set(own_tables.tables)


def test_migrate_applies_every_module_in_dependency_order(db):
    run = migrations.migrate(db)
    applied = [step.revision for step in run.steps]
    assert applied == every_builtin_revision()
    assert applied[0] == "core_0001"
    assert user_tables(db) >= CORE_TABLES
    assert migrations.migrate(db).steps == []


def test_migrating_only_core_creates_only_the_core_tables(db):
    run = migrations.migrate(db, modules=["core"])
    assert [step.revision for step in run.steps] == RevisionGraph.load().module_revisions("core")
    assert user_tables(db) == CORE_TABLES


@pytest.mark.parametrize(
    "metadata",
    [
        core_metadata,
        ledger_metadata,
        challenges_metadata,
        chain_metadata,
        assets_metadata,
        games_metadata,
        tokens_metadata,
        creators_metadata,
    ],
    ids=["core", "ledger", "challenges", "chain", "assets", "games", "tokens", "creators"],
)
def test_schema_module_matches_what_the_migrations_build(core_db, metadata):
    """Each module's schema.py (used by queries) and its migrations (used to build) agree."""
    with core_db.connection() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "include_object": lambda obj, name, kind, reflected, other: (
                    kind != "table" or name in metadata.tables
                ),
            },
        )
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_migrate_rollback_to_base_and_migrate_again_gives_the_same_schema(db):
    migrations.migrate(db)
    first = reflected_schema(db)
    run = migrations.rollback(db, "base", allow_data_loss=True)  # ledger_assets has its seed rows
    assert [step.revision for step in run.steps] == list(reversed(every_builtin_revision()))
    assert user_tables(db) == set()
    migrations.migrate(db)
    assert reflected_schema(db) == first


def test_dry_run_prints_sql_and_leaves_the_database_untouched(db):
    run = migrations.migrate(db, dry_run=True)
    assert run.dry_run
    sql = "\n".join(run.steps[0].sql)
    assert "CREATE TABLE users" in sql
    assert "CREATE TABLE blockchain_transactions" in sql
    if db.backend == "sqlite":
        assert not db.exists(), "a dry run must not even create the SQLite file"
    else:
        assert user_tables(db) == set()
        with db.connection() as conn:
            assert not sa.inspect(conn).has_table(APPLIED_TABLE)


def test_dry_run_of_a_pending_migration_changes_nothing(db, module_folder):
    migrations.migrate(db, modules=["core"])
    module_folder.write(
        1, "op.create_table('app_notes', sa.Column('id', sa.Integer, primary_key=True))"
    )
    before = reflected_schema(db)
    run = migrations.migrate(db, dry_run=True)
    assert [step.revision for step in run.steps] == ["app_0001"]
    assert any("CREATE TABLE app_notes" in statement for statement in run.steps[0].sql)
    assert reflected_schema(db) == before
    assert migrations.status(db).modules[-1].pending == ["app_0001"]


def test_a_migration_that_fails_halfway_leaves_the_previous_version(db, module_folder):
    module_folder.write(
        1, "op.create_table('app_a', sa.Column('id', sa.Integer, primary_key=True))"
    )
    module_folder.write(
        2,
        """
        op.create_table('app_b', sa.Column('id', sa.Integer, primary_key=True))
        op.execute("INSERT INTO app_b (id) VALUES (1)")
        raise RuntimeError('boom halfway')
        """,
    )
    with pytest.raises(MigrationError, match="app_0002 upgrade failed and was rolled back: boom"):
        migrations.migrate(db)
    tables = user_tables(db)
    assert "app_a" in tables
    assert "app_b" not in tables, "the failed migration's DDL must be rolled back"
    app = next(m for m in migrations.status(db).modules if m.name == "app")
    assert app.current == "app_0001"
    assert app.pending == ["app_0002"]


def test_rollback_to_a_revision_keeps_it_and_undoes_what_came_after(db, module_folder):
    for number in (1, 2, 3):
        module_folder.write(
            number,
            f"op.create_table('app_t{number}', sa.Column('id', sa.Integer, primary_key=True))",
            f"op.drop_table('app_t{number}')",
        )
    migrations.migrate(db)
    run = migrations.rollback(db, "app_0001")
    assert [step.revision for step in run.steps] == ["app_0003", "app_0002"]
    assert {"app_t1"} == {t for t in user_tables(db) if t.startswith("app_")}
    assert migrations.rollback(db, "app_0001").steps == []


def test_rolling_back_core_takes_the_modules_that_need_it_first(db, module_folder):
    module_folder.write(
        1,
        "op.create_table('app_x', sa.Column('id', sa.Integer, primary_key=True))",
        "op.drop_table('app_x')",
    )
    migrations.migrate(db)
    run = migrations.rollback(db, "base", module="core")
    assert [step.revision for step in run.steps] == ["app_0001", *reversed(CORE)]
    assert user_tables(db) == set()


def test_chosen_modules_bring_their_dependencies(db, module_folder, monkeypatch):
    module_folder.write(
        1, "op.create_table('app_y', sa.Column('id', sa.Integer, primary_key=True))"
    )
    monkeypatch.setenv("CHAINDB_MODULES", "app")
    run = migrations.migrate(db)
    assert [step.revision for step in run.steps] == [*CORE, "app_0001"]


def test_module_selection_leaves_other_modules_alone(db, module_folder):
    module_folder.write(
        1, "op.create_table('app_z', sa.Column('id', sa.Integer, primary_key=True))"
    )
    run = migrations.migrate(db, modules=["core"])
    assert [step.revision for step in run.steps] == CORE
    assert "app_z" not in user_tables(db)


def test_migrate_to_a_revision_stops_there(db, module_folder):
    for number in (1, 2):
        module_folder.write(
            number,
            f"op.create_table('app_s{number}', sa.Column('id', sa.Integer, primary_key=True))",
        )
    run = migrations.migrate(db, to="app_0001")
    assert [step.revision for step in run.steps] == [
        "core_0001",
        "app_0001",
    ]  # app_0001 needs core_0001 only
    assert "app_s2" not in user_tables(db)


def test_unknown_revision_is_a_clear_error(db):
    with pytest.raises(MigrationError, match="revision 'core_9999' is unknown"):
        migrations.migrate(db, to="core_9999")
    with pytest.raises(MigrationError, match="module 'nope' is unknown"):
        migrations.migrate(db, modules=["nope"])


def test_destructive_migration_is_refused_unless_data_loss_is_allowed(db, module_folder):
    module_folder.write(
        1,
        "op.create_table('app_keep', sa.Column('id', sa.Integer, primary_key=True),"
        " sa.Column('note', sa.Text))",
    )
    migrations.migrate(db)
    module_folder.write(2, "op.drop_column('app_keep', 'note')")
    with pytest.raises(DestructiveMigration, match="app_0002 drop-column"):
        migrations.migrate(db)
    assert next(m for m in migrations.status(db).modules if m.name == "app").pending == ["app_0002"]
    run = migrations.migrate(db, allow_data_loss=True)
    assert [step.revision for step in run.steps] == ["app_0002"]


def test_reset_drops_everything_chaindb_created(db):
    migrations.migrate(db)
    migrations.reset(db)
    with db.connection() as conn:
        assert sa.inspect(conn).get_table_names() == []


def test_history_keeps_every_apply_and_rollback(db):
    migrations.migrate(db, modules=["core"])
    migrations.rollback(db, "base")
    migrations.migrate(db, modules=["core"])
    with db.read() as conn:
        actions = conn.execute(
            sa.text(f"SELECT revision, action FROM {HISTORY_TABLE} ORDER BY id")
        ).all()
    core = RevisionGraph.load().module_revisions("core")
    assert [tuple(row) for row in actions] == (
        [(rev, "upgrade") for rev in core]
        + [(rev, "downgrade") for rev in reversed(core)]
        + [(rev, "upgrade") for rev in core]
    )


def test_status_reports_when_how_long_and_by_whom(core_db):
    report = migrations.status(core_db)
    core = report.modules[0]
    assert (core.name, core.current, core.head, core.pending) == ("core", CORE_HEAD, CORE_HEAD, [])
    applied = core.applied[0]
    assert applied.duration_ms > 0
    assert applied.applied_at.tzinfo is not None
    assert "pid=" in applied.applied_by
    assert report.up_to_date
    assert report.as_dict()["up_to_date"] is True

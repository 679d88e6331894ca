"""baseline (stamp): adopt a database built without chaindb's history, once its schema is
shown to be what the migrations build; a schema that differs is named and nothing is marked."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

import chaindb
from chaindb import migrations
from chaindb.migrations import SchemaMismatch
from chaindb.migrations.bookkeeping import metadata as own_tables
from tests.conftest import CORE, run_cli


def forget_history(db) -> None:
    """As if the schema had been built by hand, a dump, or another tool."""
    with db.transaction() as conn:
        own_tables.drop_all(conn)


def applied(db) -> list[str]:
    return [s.revision for m in migrations.status(db).modules for s in m.applied]


def build_from_dry_run_sql(db, **target) -> None:
    """The schema a DBA would get by running `chaindb migrate --dry-run`'s SQL themselves."""
    with db.connection():  # a SQLite file to render against
        pass
    run = migrations.migrate(db, dry_run=True, **target)
    with db.transaction() as conn:
        for statement in (s for step in run.steps for s in step.sql):
            conn.execute(sa.text(statement.rstrip(";")))


def test_a_database_built_from_the_sql_is_adopted(db, module_folder):
    module_folder.write(
        1, "op.create_table('app_a', sa.Column('id', sa.Integer, primary_key=True))"
    )
    build_from_dry_run_sql(db, modules=["core"])
    result = migrations.baseline(db, modules=["core"], reason="adopting the hand-built schema")
    assert (result.ok, result.revisions) == (True, CORE)
    assert applied(db) == CORE
    entries = migrations.history(db).entries
    assert {(e.action, e.reason) for e in entries} == {
        ("baseline", "adopting the hand-built schema")
    }
    assert [s.revision for s in migrations.migrate(db).steps] == ["app_0001"]
    assert migrations.check(db).ok


def test_every_module_at_head_is_adopted(db):
    migrations.migrate(db)
    forget_history(db)
    result = migrations.baseline(db)
    assert result.ok
    assert migrations.check(db).ok
    assert migrations.baseline(db).revisions == [], "a second baseline has nothing to do"


def test_an_intermediate_revision_is_checked_against_that_revision(db):
    migrations.migrate(db, to=CORE[1])
    forget_history(db)
    assert not migrations.baseline(db, to=CORE[2], dry_run=True).ok
    result = migrations.baseline(db, to=CORE[1])
    assert (result.ok, applied(db)) == (True, CORE[:2])
    assert [s.revision for s in migrations.migrate(db, modules=["core"]).steps] == CORE[2:]


def test_a_schema_that_differs_is_named_and_nothing_is_marked(db, db_url, module_folder):
    module_folder.write(
        1,
        """
        op.create_table(
            'app_notes',
            sa.Column('id', sa.Integer, primary_key=True),
            sa.Column('body', sa.String(40), nullable=False),
        )
        op.create_index('ix_app_notes_body', 'app_notes', ['body'])
        """,
    )
    migrations.migrate(db)
    forget_history(db)
    with db.transaction() as conn:
        conn.execute(sa.text("DROP INDEX ix_app_notes_body"))
        conn.execute(sa.text("ALTER TABLE app_notes ADD COLUMN extra INTEGER"))
        conn.execute(sa.text("DROP VIEW v_blockchain_tx_summary"))
    found = migrations.baseline(db, dry_run=True).differences
    assert "column app_notes.extra is not in the migrations" in found
    assert "app_notes: index ix_app_notes_body (body) is missing" in found
    assert "view v_blockchain_tx_summary is missing" in found
    assert len(found) == 3, found
    with pytest.raises(SchemaMismatch, match="differs from what they build in 3 places"):
        migrations.baseline(db)
    refused = run_cli("baseline", env={"CHAINDB_URL": db_url})
    assert refused.returncode == 1
    error = refused.stderr.splitlines()[-1]
    assert error.startswith("error: not marking core_0001, ")
    assert "column app_notes.extra is not in the migrations" in error
    assert len(refused.stderr.splitlines()) == 2  # "database: ...", then the error
    assert applied(db) == []
    assert migrations.history(db).entries == []


def test_a_changed_column_type_is_named(db):
    migrations.migrate(db, modules=["core"])
    forget_history(db)
    with db.transaction() as conn:
        conn.execute(sa.text("DROP VIEW v_blockchain_tx_summary"))
        if db.backend == "postgresql":
            conn.execute(sa.text("ALTER TABLE users ALTER COLUMN username TYPE TEXT"))
        else:
            conn.execute(sa.text("ALTER TABLE users RENAME COLUMN username TO username_old"))
    found = migrations.baseline(db, modules=["core"], dry_run=True).differences
    if db.backend == "postgresql":
        assert "column users.username is TEXT NULL, the migrations give VARCHAR(64) NULL" in found
    else:
        assert "column users.username is missing" in found


def test_the_scratch_schema_is_dropped(pg_url):
    """PostgreSQL alone: the expected schema is built in a temporary schema of the database
    (SQLite builds it in a temporary file)."""
    db = chaindb.connect(pg_url)
    migrations.migrate(db, modules=["core"])
    forget_history(db)
    migrations.baseline(db, modules=["core"], dry_run=True)
    with db.read() as conn:
        schemas = set(sa.inspect(conn).get_schema_names())
    assert not [name for name in schemas if name.startswith("chaindb_baseline_")]


def test_baseline_and_stamp_commands(db_url, module_folder):
    env = {"CHAINDB_URL": db_url}
    module_folder.write(
        1, "op.create_table('app_s', sa.Column('id', sa.Integer, primary_key=True))"
    )
    assert run_cli("migrate", "--to", CORE[-1], env=env).returncode == 0
    with chaindb.connect(db_url) as db, db.transaction() as conn:  # the app's table, by hand
        key = "SERIAL" if db.backend == "postgresql" else "INTEGER"  # as sa.Integer keys are
        conn.execute(sa.text(f"CREATE TABLE app_s (id {key} NOT NULL, PRIMARY KEY (id))"))
    dry = run_cli("stamp", "app_0001", "--dry-run", "--json", env=env)
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["revisions"] == ["app_0001"]
    done = run_cli("baseline", "app_0001", "--reason", "made by hand", env=env)
    assert done.returncode == 0, done.stderr
    assert "marked applied: app_0001" in done.stdout
    assert run_cli("check", env=env).returncode == 0

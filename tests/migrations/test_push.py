"""push: an application's declared tables brought in line with the database, on both backends,
with every change that loses data counted and refused unless accepted."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from chaindb import DataLossRefused, InvalidInput, migrations
from chaindb.migrations.push_declaration import chaindb_tables
from chaindb.migrations.schema_shape import reflect_shape
from chaindb.types import AmountType, UtcDateTime

NOTES = "app_notes"


def declaration(*columns: sa.Column, extra: tuple[sa.Table, ...] = (), **table_kw) -> sa.MetaData:
    """app_notes with `columns` (after id and user_id), and core's users only as the target
    of a foreign key, as an application declares it."""
    metadata = sa.MetaData()
    sa.Table("users", metadata, sa.Column("id", sa.String(64), primary_key=True))
    sa.Table(
        NOTES,
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.String(64), sa.ForeignKey("users.id")),
        *columns,
        **table_kw,
    )
    for table in extra:
        table.to_metadata(metadata)
    return metadata


def note_columns() -> list[sa.Column]:
    return [
        sa.Column("body", sa.Text),
        sa.Column("title", sa.String(50)),
        sa.Column("status", sa.String(20), server_default="draft"),
        sa.Column("tip", AmountType, nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False, server_default=sa.func.now()),
    ]


def first_version() -> sa.MetaData:
    return declaration(*note_columns(), sa.Index("ix_app_notes_user_id", "user_id"))


def columns(db, table: str = NOTES) -> dict[str, dict]:
    with db.read() as conn:
        return {column["name"]: column for column in sa.inspect(conn).get_columns(table)}


def rows(db, sql: str) -> list[tuple]:
    with db.read() as conn:
        return [tuple(row) for row in conn.exec_driver_sql(sql)]


def insert_notes(db, *values: tuple) -> None:
    with db.transaction() as conn:
        for body, title in values:
            conn.execute(
                sa.text(f"INSERT INTO {NOTES} (body, title) VALUES (:body, :title)"),
                {"body": body, "title": title},
            )


def pushes(db) -> list:
    return migrations.history(db, module="push").entries


@pytest.fixture
def pushed(core_db):
    """A migrated database with the first version of app_notes pushed, and three notes."""
    migrations.push(core_db, metadata=first_version())
    insert_notes(core_db, ("first", "a"), ("second", None), (None, "c"))
    return core_db


def test_push_creates_tables_columns_and_indexes_and_a_second_push_does_nothing(core_db):
    plan = migrations.push(core_db, metadata=first_version())
    assert plan.applied and [c.code for c in plan.changes] == ["add-table", "create-index"]
    assert any(statement.startswith(f"CREATE TABLE {NOTES}") for statement in plan.sql)
    added = declaration(
        *note_columns(),
        sa.Column("pinned", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Index("ix_app_notes_user_id", "user_id"),
        sa.Index("ix_app_notes_title", "title", unique=True),
    )
    plan = migrations.push(core_db, metadata=added)
    assert sorted(c.code for c in plan.changes) == ["add-column", "create-index"]
    assert "pinned" in columns(core_db)
    with core_db.read() as conn:
        indexes = {index["name"] for index in sa.inspect(conn).get_indexes(NOTES)}
    assert {"ix_app_notes_user_id", "ix_app_notes_title"} <= indexes
    again = migrations.push(core_db, metadata=added)
    assert again.changes == [] and again.sql == [] and not again.applied
    assert len(pushes(core_db)) == 2, "a push with nothing to do records nothing"


def test_dropping_a_column_with_data_is_refused_with_its_count_and_changes_nothing(pushed):
    without_body = declaration(
        *_first_columns(but="body"), sa.Index("ix_app_notes_user_id", "user_id")
    )
    with pytest.raises(DataLossRefused, match=r"drop column app_notes\.body \(2 non-null values\)"):
        migrations.push(pushed, metadata=without_body)
    assert "body" in columns(pushed)
    assert rows(pushed, f"SELECT body FROM {NOTES} ORDER BY id") == [
        ("first",),
        ("second",),
        (None,),
    ]
    assert len(pushes(pushed)) == 1

    plan = migrations.push(pushed, metadata=without_body, accept_data_loss=True)
    (dropped,) = plan.data_loss
    assert (dropped.code, dropped.column, dropped.rows) == ("drop-column", "body", 2)
    assert "body" not in columns(pushed)
    assert rows(pushed, f"SELECT title FROM {NOTES} ORDER BY id") == [("a",), (None,), ("c",)]


def test_a_type_change_counts_the_values_that_would_not_fit(pushed):
    insert_notes(pushed, ("x", "a title longer than ten"))
    shorter = _with_column(sa.Column("title", sa.String(10)))
    with pytest.raises(DataLossRefused, match="1 value would not fit") as refused:
        migrations.push(pushed, metadata=shorter, accept_data_loss=True)
    assert refused.value.blocked, "not even accepted data loss may cut a value"
    assert columns(pushed)["title"]["type"].length == 50

    with pushed.transaction() as conn:
        conn.exec_driver_sql(f"UPDATE {NOTES} SET title = 'short' WHERE length(title) > 10")
    with pytest.raises(DataLossRefused, match=r"VARCHAR\(50\) to VARCHAR\(10\) \(0 values"):
        migrations.push(pushed, metadata=shorter)
    migrations.push(pushed, metadata=shorter, accept_data_loss=True)
    assert columns(pushed)["title"]["type"].length == 10


def test_text_becomes_integer_when_every_value_casts(pushed):
    with pushed.transaction() as conn:
        conn.exec_driver_sql(f"UPDATE {NOTES} SET body = 'seven' WHERE id = 1")
    as_number = _with_column(sa.Column("body", sa.Integer))
    with pytest.raises(DataLossRefused, match="2 values would not fit"):
        migrations.push(pushed, metadata=as_number, accept_data_loss=True)
    with pushed.transaction() as conn:
        conn.exec_driver_sql(
            f"UPDATE {NOTES} SET body = CASE id WHEN 1 THEN '7' ELSE '12' END "
            "WHERE body IS NOT NULL"
        )
    migrations.push(pushed, metadata=as_number, accept_data_loss=True)
    assert rows(pushed, f"SELECT body FROM {NOTES} WHERE body IS NOT NULL ORDER BY id") == [
        (7,),
        (12,),
    ]
    assert migrations.push(pushed, metadata=as_number).changes == []


def test_not_null_with_nulls_present_is_refused_with_the_count_even_if_accepted(pushed):
    required = _with_column(sa.Column("title", sa.String(50), nullable=False))
    with pytest.raises(DataLossRefused, match=r"NOT NULL \(1 row with NULL\)") as refused:
        migrations.push(pushed, metadata=required, accept_data_loss=True)
    (change,) = refused.value.changes
    assert (change.code, change.rows) == ("set-not-null", 1)
    assert columns(pushed)["title"]["nullable"]

    with pushed.transaction() as conn:
        conn.exec_driver_sql(f"UPDATE {NOTES} SET title = 'untitled' WHERE title IS NULL")
    with pytest.raises(DataLossRefused, match=r"\(0 rows with NULL\)"):
        migrations.push(pushed, metadata=required)
    migrations.push(pushed, metadata=required, accept_data_loss=True)
    assert not columns(pushed)["title"]["nullable"]


def test_dropping_a_default_names_the_rows_holding_it(pushed):
    no_default = _with_column(sa.Column("status", sa.String(20)))
    with pytest.raises(DataLossRefused, match=r"drop the default .*draft.* \(3 rows with it"):
        migrations.push(pushed, metadata=no_default)
    assert columns(pushed)["status"]["default"] is not None
    migrations.push(pushed, metadata=no_default, accept_data_loss=True)
    assert columns(pushed)["status"]["default"] is None
    insert_notes(pushed, ("after", "d"))
    assert rows(pushed, f"SELECT status FROM {NOTES} WHERE body = 'after'") == [(None,)]


def test_a_table_push_created_is_dropped_only_with_its_rows_accepted(pushed):
    tags = sa.Table("app_tags", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True))
    migrations.push(pushed, metadata=_with_tables(tags))
    with pushed.transaction() as conn:
        conn.exec_driver_sql("INSERT INTO app_tags (id) VALUES (1), (2)")
    with pytest.raises(DataLossRefused, match=r"drop table app_tags \(2 rows\)"):
        migrations.push(pushed, metadata=first_version())
    assert rows(pushed, "SELECT count(*) FROM app_tags") == [(2,)]
    migrations.push(pushed, metadata=first_version(), accept_data_loss=True)
    with pushed.read() as conn:
        assert not sa.inspect(conn).has_table("app_tags")
    assert migrations.status(pushed).pushed_tables == [NOTES]


def test_dry_run_prints_the_plan_and_changes_nothing(pushed):
    before = _shape(pushed)
    changed = declaration(sa.Column("title", sa.String(80)), sa.Column("extra", sa.Integer))
    plan = migrations.push(pushed, metadata=changed, dry_run=True)
    assert plan.dry_run and not plan.applied
    assert {c.code for c in plan.changes} >= {"add-column", "drop-column", "type-change"}
    assert any("extra" in statement for statement in plan.sql)
    assert [c.rows for c in plan.data_loss if c.column == "body"] == [2]
    assert _shape(pushed) == before
    assert len(pushes(pushed)) == 1


def test_chaindbs_own_tables_are_never_touched(core_db):
    before = _shape(core_db, exclude=(NOTES,))
    # A declaration that also copies users (its own, smaller version) and names a ledger table:
    # both are chaindb's, left out of the comparison.
    ledger = sa.Table(
        "ledger_accounts", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True)
    )
    plan = migrations.push(core_db, metadata=_with_tables(ledger), accept_data_loss=True)
    assert [c.table for c in plan.changes] == [NOTES, NOTES]
    assert {name.split(" ")[0] for name in plan.ignored} == {"users", "ledger_accounts"}
    assert not any(t in chaindb_tables() for t in migrations.status(core_db).pushed_tables)
    assert _shape(core_db, exclude=(NOTES,)) == before
    assert migrations.push(core_db, metadata=first_version()).changes == []


def test_history_status_and_validate_know_the_push(pushed):
    (entry,) = pushes(pushed)
    assert entry.action == "push" and entry.revision.startswith("push_")
    assert "create table app_notes" in entry.reason
    status = migrations.status(pushed)
    assert status.pushed_tables == [NOTES] and status.last_push == entry
    assert status.up_to_date
    assert migrations.validate(pushed).ok and migrations.check(pushed).ok
    assert all(
        entry.action != "push" for entry in migrations.history(pushed, module="core").entries
    )


def test_a_declaration_that_does_not_import_or_is_no_metadata_writes_nothing(core_db):
    with pytest.raises(
        InvalidInput, match=r"schema: 'no_such_app\.schema:metadata' is invalid: module"
    ):
        migrations.push(core_db, metadata="no_such_app.schema:metadata")
    with pytest.raises(InvalidInput, match="must name a SQLAlchemy MetaData"):
        migrations.push(core_db, metadata="chaindb.types:AmountType")
    with pytest.raises(InvalidInput, match=r"package\.module:attribute"):
        migrations.push(core_db, metadata="chaindb.types")
    with pytest.raises(InvalidInput, match="declares no tables"):
        migrations.push(core_db, metadata=sa.MetaData())
    with pytest.raises(InvalidInput, match="CHAINDB_PUSH_SCHEMA"):
        migrations.push(core_db)
    assert pushes(core_db) == [] and migrations.status(core_db).pushed_tables == []


def test_to_migration_writes_a_file_that_migrate_applies_to_the_same_schema(db, module_folder):
    migrations.migrate(db, modules=["core"])
    plan = migrations.push_to_migration(db, name="notes", metadata=first_version())
    path = Path(plan.migration)
    assert path.name == "app_0001_notes.py" and "import chaindb.types" in path.read_text()
    with db.read() as conn:
        assert not sa.inspect(conn).has_table(NOTES), "the database is not changed"
    assert [step.revision for step in migrations.migrate(db).steps] == ["app_0001"]
    assert migrations.push(db, metadata=first_version()).changes == []

    insert_notes(db, ("7", "a"))
    second = _with_column(sa.Column("body", sa.Integer))
    migrations.push_to_migration(db, name="numbers", metadata=second)
    assert [step.revision for step in migrations.migrate(db, allow_data_loss=True).steps] == [
        "app_0002"
    ]
    assert migrations.push(db, metadata=second).changes == []
    assert rows(db, f"SELECT body FROM {NOTES}") == [(7,)]
    migrations.rollback(db, "app_0001", allow_data_loss=True)  # a type change back
    assert migrations.push(db, metadata=first_version()).changes == []


def _first_columns(but: str = "") -> list[sa.Column]:
    return [column for column in note_columns() if column.name != but]


def _with_column(replacement: sa.Column) -> sa.MetaData:
    others = [c if c.name != replacement.name else replacement for c in _first_columns()]
    return declaration(*others, sa.Index("ix_app_notes_user_id", "user_id"))


def _with_tables(*tables: sa.Table) -> sa.MetaData:
    return declaration(*_first_columns(), sa.Index("ix_app_notes_user_id", "user_id"), extra=tables)


def _shape(db, exclude: tuple[str, ...] = ()):
    with db.read() as conn:
        return reflect_shape(conn, exclude=exclude)


def test_a_history_table_from_before_push_learns_the_push_action(db):
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    from chaindb.migrations import bookkeeping

    with db.transaction() as conn:
        bookkeeping.ensure_tables(conn)
        with Operations(MigrationContext.configure(conn)).batch_alter_table(
            bookkeeping.HISTORY_TABLE
        ) as batch:  # the CHECK an older chaindb wrote
            batch.drop_constraint("ck_history_action", type_="check")
            batch.create_check_constraint(
                "ck_history_action", "action IN ('upgrade', 'downgrade', 'baseline', 'repair')"
            )
    migrations.migrate(db, modules=["core"])
    migrations.push(db, metadata=first_version())
    assert [entry.action for entry in pushes(db)] == ["push"]

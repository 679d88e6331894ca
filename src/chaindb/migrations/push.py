"""`chaindb push`: bring an application's own tables in line with its declaration (a SQLAlchemy
MetaData), as drizzle-kit push and prisma db push do, with what each change would lose counted
in the database first.

- Compared (Alembic's autogenerate comparison, types and server defaults included): only the
  application's tables, those it declares and those an earlier push created and it no longer
  declares (`chaindb_pushed_tables`). chaindb's own tables, its bookkeeping and every view are
  never compared, whatever the declaration holds: it may copy `users` only to point a foreign
  key at it. So a push never drops a table it did not create.
- Refused: a change that loses data (push_losses) without `accept_data_loss`; a change that
  cannot run without losing or changing rows (NULLs under a new NOT NULL, values that do not
  fit a new type) always.
- Applied in one transaction under the migration lock: PostgreSQL's DDL is transactional;
  SQLite's through chaindb's BEGIN, with Alembic's batch mode rebuilding a table it cannot
  ALTER. Recorded in the history (action `push`, module `push`); the applied set is untouched,
  so `validate` and `check` see no revision they do not know.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import produce_migrations
from alembic.operations import Operations, ops
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from chaindb.database import Database, elapsed_ms
from chaindb.errors import DataLossRefused, MigrationError
from chaindb.migrations import bookkeeping
from chaindb.migrations.apply import _limit_ddl_waits as limit_ddl_waits
from chaindb.migrations.lock import migration_lock
from chaindb.migrations.push_declaration import chaindb_tables, declaration
from chaindb.migrations.push_losses import Change, describe
from chaindb.migrations.render import StatementBuffer
from chaindb.types import utc_now

HISTORY_REASON_CHARS_MAX = 2_000


@dataclass
class PushPlan:
    """What a push changes (or, dry, would change): each change with the rows it loses, the
    SQL for this database, and the declared tables left alone because they are chaindb's."""

    database: str
    declaration: str
    dry_run: bool
    changes: list[Change] = field(default_factory=list)
    sql: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    applied: bool = False
    duration_ms: float | None = None
    migration: str | None = None  # the file push --to-migration wrote instead

    @property
    def data_loss(self) -> list[Change]:
        return [change for change in self.changes if change.loses_data]

    @property
    def blocked(self) -> list[Change]:
        return [change for change in self.changes if change.blocked]

    def as_dict(self) -> dict[str, Any]:
        plan = asdict(self)
        plan["data_loss"] = [change.as_dict() for change in self.data_loss]
        plan["blocked"] = [change.as_dict() for change in self.blocked]
        return plan


@dataclass
class _Comparison:
    """The plan and the Alembic operations behind it, before they run."""

    plan: PushPlan
    script: ops.MigrationScript
    tables: list[str]  # the application's tables as the declaration has them
    reflected: dict[str, sa.Table]


def push(
    db: Database,
    *,
    metadata: sa.MetaData | str | None = None,
    dry_run: bool = False,
    accept_data_loss: bool = False,
) -> PushPlan:
    """Bring the application's tables in line with `metadata` (a MetaData, or where to import
    one: 'package.module:metadata'; default: the CHAINDB_PUSH_SCHEMA setting). Raises
    DataLossRefused, changing nothing, for a change that loses data unless `accept_data_loss`,
    and for one that cannot run without losing rows whatever is accepted."""
    declared, name = declaration(metadata, db.settings.push_schema)
    if dry_run:
        db.require_exists()
        with _rolled_back(db) as conn:
            return _compare(db, conn, declared, name).plan
    with migration_lock(db), _push_transaction(db) as conn:
        bookkeeping.ensure_tables(conn)
        compared = _compare(db, conn, declared, name)
        compared.plan.dry_run = False
        _refuse(compared.plan, accept_data_loss)
        if compared.plan.changes:
            _apply(db, conn, compared)
        return compared.plan


def plan_operations(db: Database, metadata: sa.MetaData | str | None) -> tuple[PushPlan, Any]:
    """The plan and Alembic's MigrationScript behind it, nothing changed (for --to-migration)."""
    declared, name = declaration(metadata, db.settings.push_schema)
    db.require_exists()
    with _rolled_back(db) as conn:
        compared = _compare(db, conn, declared, name)
    return compared.plan, compared.script


def _compare(db: Database, conn: Connection, declared: sa.MetaData, name: str) -> _Comparison:
    """The plan, measured on `conn` (as a dry run until the caller applies it)."""
    inspector = sa.inspect(conn)
    owners = {**chaindb_tables(), **dict.fromkeys(inspector.get_view_names(), "a view")}
    tables = [table for table in declared.tables if table not in owners]
    managed = set(tables) | (set(bookkeeping.read_pushed_tables(conn)) - owners.keys())
    script = produce_migrations(_context(conn, managed), declared)
    _cast_on_postgres(conn, script.upgrade_ops)
    ignored = [f"{table} ({owners[table]})" for table in declared.tables if table in owners]
    plan = PushPlan(db.display_url, name, dry_run=True, ignored=ignored)
    existing = set(inspector.get_table_names())
    reflected = {t: _reflect(conn, t) for t in _altered_tables(script.upgrade_ops) if t in existing}
    for op, table in _flat(script.upgrade_ops):
        plan.changes.extend(describe(conn, op, table))
    plan.sql = _render(conn.dialect.name, script.upgrade_ops, reflected)
    return _Comparison(plan, script, tables, reflected)


def _context(conn: Connection, managed: set[str]) -> MigrationContext:
    def include_name(name: str | None, type_: str, _parents: object) -> bool:
        return type_ != "table" or name in managed

    def include_object(_obj: object, name: str | None, type_: str, *_: object) -> bool:
        return type_ != "table" or name in managed

    return MigrationContext.configure(
        conn,
        opts={
            "compare_type": True,
            "compare_server_default": True,
            "include_name": include_name,
            "include_object": include_object,
        },
    )


def _cast_on_postgres(conn: Connection, upgrade: ops.UpgradeOps) -> None:
    """PostgreSQL changes a type only by an assignment cast unless told `USING col::type`
    (text to integer needs it); the values that would fail it were counted (push_losses)."""
    if conn.dialect.name != "postgresql":
        return
    for op, _table in _flat(upgrade):
        if isinstance(op, ops.AlterColumnOp) and op.modify_type is not None:
            column = conn.dialect.identifier_preparer.quote(op.column_name)
            op.kw["postgresql_using"] = f"{column}::{op.modify_type.compile(dialect=conn.dialect)}"


def _flat(upgrade: ops.UpgradeOps) -> Iterator[tuple[ops.MigrateOperation, str]]:
    for op in upgrade.ops:
        if isinstance(op, ops.ModifyTableOps):
            yield from ((sub, op.table_name) for sub in op.ops)
        else:
            yield op, str(getattr(op, "table_name", ""))


def _altered_tables(upgrade: ops.UpgradeOps) -> list[str]:
    return [op.table_name for op in upgrade.ops if isinstance(op, ops.ModifyTableOps)]


def _unnamed_keys(operations: Operations, table_ops: ops.ModifyTableOps) -> list[Any]:
    """Foreign keys to drop that have no name: SQLite's (Alembic drops a constraint by name)."""
    if operations.migration_context.dialect.name != "sqlite":
        return []
    return [
        op
        for op in table_ops.ops
        if isinstance(op, ops.DropConstraintOp)
        and op.constraint_name is None
        and isinstance(op.to_constraint(), sa.ForeignKeyConstraint)
    ]


def _without_keys(table: sa.Table, dropped: list[Any]) -> sa.Table:
    """A copy of `table` to rebuild it from, without the foreign keys on those columns."""
    gone = [set(op.to_constraint().column_keys) for op in dropped]
    copy = table.to_metadata(sa.MetaData())
    for key in list(copy.foreign_key_constraints):
        if set(key.column_keys) in gone:
            copy.constraints.discard(key)
            for element in key.elements:
                element.parent.foreign_keys.discard(element)
    return copy


def _reflect(conn: Connection, table: str) -> sa.Table:
    """The table as it is: what Alembic's batch mode copies when SQLite must rebuild it."""
    return sa.Table(table, sa.MetaData(), autoload_with=conn)


def _run(operations: Operations, upgrade: ops.UpgradeOps, reflected: dict[str, sa.Table]) -> None:
    """Each operation in order; a table's alterations as one batch (on SQLite, one rebuild;
    on PostgreSQL, ALTERs as they come)."""
    for op in upgrade.ops:
        if not isinstance(op, ops.ModifyTableOps):
            operations.invoke(op)
            continue
        copy = reflected.get(op.table_name)
        if unnamed := _unnamed_keys(operations, op):  # the rebuild from a copy drops them
            copy = _without_keys(reflected[op.table_name], unnamed)
        rebuild = "always" if unnamed else "auto"
        with operations.batch_alter_table(op.table_name, copy_from=copy, recreate=rebuild) as batch:
            for sub in op.ops:
                if sub not in unnamed:
                    batch.invoke(_batch_ready(sub))


def _batch_ready(op: ops.MigrateOperation) -> ops.MigrateOperation:
    """Autogenerate gives a new default as a DefaultClause, which batch mode wraps again (and
    fails on): give it what the clause holds."""
    if isinstance(op, ops.AlterColumnOp) and isinstance(op.modify_server_default, sa.DefaultClause):
        op.modify_server_default = op.modify_server_default.arg
    return op


def _render(dialect: str, upgrade: ops.UpgradeOps, reflected: dict[str, sa.Table]) -> list[str]:
    buffer = StatementBuffer()
    context = MigrationContext.configure(
        dialect_name=dialect,
        opts={"as_sql": True, "output_buffer": buffer, "literal_binds": True},
    )
    _run(Operations(context), upgrade, reflected)
    # Alembic's offline SQLite rebuild ends each statement with ';' as on PostgreSQL.
    return buffer.statements


def _refuse(plan: PushPlan, accept_data_loss: bool) -> None:
    if plan.blocked:
        raise DataLossRefused(plan.blocked, blocked=True)
    if plan.data_loss and not accept_data_loss:
        raise DataLossRefused(plan.data_loss, blocked=False)


def _apply(db: Database, conn: Connection, compared: _Comparison) -> None:
    plan = compared.plan
    limit_ddl_waits(db, conn)
    started = time.perf_counter()
    try:
        _run(
            Operations(MigrationContext.configure(conn)),
            compared.script.upgrade_ops,
            compared.reflected,
        )
        _check_foreign_keys(conn)
    except MigrationError:
        raise
    except Exception as error:
        raise MigrationError(
            f"push failed and was rolled back, nothing changed: {error}"
        ) from error
    plan.duration_ms = elapsed_ms(started)
    checksum = hashlib.sha256("\n".join(plan.sql).encode()).hexdigest()
    _record_tables(conn, compared.tables, plan, checksum)
    bookkeeping.record(
        conn,
        revision=f"{bookkeeping.PUSH}_{checksum[:12]}",
        module=bookkeeping.PUSH,
        description=f"push of {plan.declaration}",
        action=bookkeeping.PUSH,
        checksum=checksum,
        duration_ms=plan.duration_ms,
        reason=_summary(plan)[:HISTORY_REASON_CHARS_MAX],
    )
    plan.applied = True


def _summary(plan: PushPlan) -> str:
    return f"{plan.declaration}: " + "; ".join(change.detail for change in plan.changes)


def _record_tables(conn: Connection, tables: list[str], plan: PushPlan, checksum: str) -> None:
    """The declared tables are push's from now on; a dropped one is no longer."""
    pushed = bookkeeping.pushed_tables
    dropped = [change.table for change in plan.changes if change.code == "drop-table"]
    conn.execute(pushed.delete().where(pushed.c.table_name.in_([*tables, *dropped])))
    if tables:
        now = utc_now()
        rows = [{"table_name": t, "checksum": checksum, "pushed_at": now} for t in tables]
        conn.execute(pushed.insert(), rows)


def _check_foreign_keys(conn: Connection) -> None:
    """SQLite checks no foreign key while push rebuilds tables (see _push_transaction): check
    them all once, before the commit."""
    if conn.dialect.name != "sqlite":
        return
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        tables = sorted({row[0] for row in broken})
        raise MigrationError(
            f"push would break foreign keys of {', '.join(tables)} ({len(broken)} rows): "
            "rolled back, nothing changed"
        )


@contextmanager
def _push_transaction(db: Database) -> Iterator[Connection]:
    """db.transaction(); on SQLite with foreign keys off for its length (SQLite's own recipe
    for rebuilding a table: with them on, dropping the old copy would delete, or cascade to,
    the rows that reference it). The pragma works only outside a transaction, so it goes to
    the driver before BEGIN, and back on before the connection returns to the pool."""
    if db.backend != "sqlite":
        with db.transaction() as conn:
            yield conn
        return
    with db.connection() as conn:
        driver = conn.connection.dbapi_connection
        assert driver is not None
        driver.execute("PRAGMA foreign_keys = OFF")
        try:
            with conn.begin():
                yield conn
        finally:
            driver.execute("PRAGMA foreign_keys = ON")


@contextmanager
def _rolled_back(db: Database) -> Iterator[Connection]:
    """A transaction that is always rolled back: what a dry run measures leaves no trace (on
    PostgreSQL the cast probe is a temporary function). SQLite: a deferred one, no write lock."""
    with db.connection() as conn:
        if db.backend == "sqlite":
            conn = conn.execution_options(sqlite_begin="DEFERRED")
        transaction = conn.begin()
        try:
            yield conn
        finally:
            transaction.rollback()

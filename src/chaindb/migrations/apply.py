"""Apply and roll back migrations: one transaction per migration, under the migration lock.

Each step takes the lock (its transaction on SQLite, the advisory lock on PostgreSQL), re-reads
what is applied, applies the next pending revision and records it in the same transaction. A
process that finds its work already done by another simply finds nothing pending.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from chaindb.database import Database, elapsed_ms
from chaindb.errors import DestructiveMigration, MigrationError
from chaindb.migrations import bookkeeping
from chaindb.migrations.lint import destructive, lint
from chaindb.migrations.lock import migration_lock
from chaindb.migrations.losses import (
    DroppedTable,
    bookkeeping_tables,
    data_lost,
    dropped_tables,
)
from chaindb.migrations.modules import RevisionGraph
from chaindb.migrations.partitioned import refuse_partitioned
from chaindb.migrations.plan import BASE, removal_order, rollback_removals, upgrade_targets
from chaindb.migrations.problems import refuse_invalid
from chaindb.migrations.render import render_statements

DDL_LOCK_RETRIES_MAX = 5
NextStep = Callable[[dict[str, bookkeeping.AppliedMigration]], str | None]
_PG_LOCK_NOT_AVAILABLE = "55P03"


@dataclass
class Step:
    revision: str
    module: str
    action: str
    description: str
    duration_ms: float | None = None
    sql: list[str] = field(default_factory=list)


@dataclass
class MigrationRun:
    """What migrate, rollback or reset did (or, with dry_run, would do). A dry run that
    removes migrations also says which tables go, with their rows (`dropped_tables`), and
    which steps could not be rendered offline to tell (`unrendered`)."""

    action: str
    dry_run: bool
    steps: list[Step]
    dropped_tables: list[DroppedTable] = field(default_factory=list)
    unrendered: list[str] = field(default_factory=list)
    # A dry run's destructive findings: the real run refuses them without allow_data_loss.
    destructive: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def migrate(
    db: Database,
    *,
    modules: Iterable[str] | None = None,
    to: str | None = None,
    steps: int | None = None,
    dry_run: bool = False,
    allow_data_loss: bool = False,
) -> MigrationRun:
    """Apply pending migrations of the chosen modules (default: CHAINDB_MODULES), up to `to`
    (a revision, or `+N`: the next N), or the next `steps`. Refused while an applied
    migration's file does not match (see `validate`)."""
    graph = RevisionGraph.load()
    applied = applied_revisions(db)
    refuse_invalid(graph, applied)
    targets = upgrade_targets(graph, applied, modules=modules, to=to, steps=steps)
    pending = graph.ordered(targets - set(applied))
    refused = [] if allow_data_loss else destructive(lint(graph, pending))
    if dry_run:  # shows the SQL all the same: that is how the loss is reviewed
        run = _dry_run(db, graph, "upgrade", pending)
        run.destructive = [str(finding) for finding in refused]
        return run
    if refused:
        raise DestructiveMigration(refused)

    return MigrationRun("upgrade", False, apply_revisions(db, graph, targets))


def rollback(
    db: Database,
    target: str | None = None,
    *,
    module: str | None = None,
    steps: int | None = None,
    dry_run: bool = False,
    allow_data_loss: bool = False,
) -> MigrationRun:
    """Roll back to `target`: that revision stays, what came after it (and needs it) goes.

    `base` removes every migration (of `module` only, when given, and what depends on it).
    `-N` or `steps=N` undoes the N most recently applied migrations (of `module`, when given).
    A downgrade that lint calls destructive, on a table that has rows, is refused unless
    `allow_data_loss`.
    """
    graph = RevisionGraph.load()
    applied = applied_revisions(db)
    removable = rollback_removals(graph, applied, target=target, module=module, steps=steps)
    _refuse_missing_files(graph, set(applied) & removable | (set(applied) - set(graph.revisions)))
    order = removal_order(graph, applied, removable)
    refuse_partitioned(db, graph, order)
    refused = [] if allow_data_loss else data_lost(db, lint(graph, order, "downgrade"))
    if dry_run:
        run = _dry_run(db, graph, "downgrade", order)
        run.destructive = [str(finding) for finding in refused]
        return run
    if refused:
        raise DestructiveMigration(refused, verb="roll back")

    def next_step(applied_now: dict[str, bookkeeping.AppliedMigration]) -> str | None:
        first = removal_order(graph, applied_now, removable, limit=1)
        return first[0] if first else None

    return MigrationRun("downgrade", False, _run_steps(db, graph, "downgrade", next_step))


def reset(db: Database, *, dry_run: bool = False) -> MigrationRun:
    """Roll back every migration, then drop chaindb's own bookkeeping tables."""
    run = rollback(db, BASE, dry_run=dry_run, allow_data_loss=True)  # its point, confirmed
    if dry_run:
        run.dropped_tables += bookkeeping_tables(db)
    else:
        with db.transaction() as conn:
            bookkeeping.drop_tables(conn)
    run.action = "reset"
    return run


def applied_revisions(db: Database) -> dict[str, bookkeeping.AppliedMigration]:
    """What is applied, read without writing anything (a missing SQLite file is empty)."""
    if not db.exists():
        return {}
    with db.read() as conn:
        return bookkeeping.read_applied(conn)


def _refuse_missing_files(graph: RevisionGraph, revisions: set[str]) -> None:
    missing = sorted(rev for rev in revisions if rev not in graph.revisions)
    if missing:
        raise MigrationError(
            f"cannot roll back: the files of applied migrations {', '.join(missing)} are "
            f"missing (expected in {graph.expected_folder(missing[0])})"
        )


def _dry_run(db: Database, graph: RevisionGraph, action: str, plan: list[str]) -> MigrationRun:
    run = MigrationRun(action, True, [])
    for revision in plan:
        step = Step(revision, graph.module_of(revision), action, graph.description(revision))
        try:
            step.sql = render_statements(graph.revisions[revision], db.backend, action)
        except MigrationError as error:
            # Code that reads the database (op.get_bind()) cannot run offline: say so, go on.
            step.sql = [f"-- not shown: {error}"]
            run.unrendered.append(revision)
        run.steps.append(step)
    if action == "downgrade":
        run.dropped_tables = dropped_tables(db, [s for step in run.steps for s in step.sql])
    return run


def apply_revisions(db: Database, graph: RevisionGraph, targets: set[str]) -> list[Step]:
    """Apply whatever of `targets` is not applied yet, parents first, step by step."""

    def next_step(applied: dict[str, bookkeeping.AppliedMigration]) -> str | None:
        remaining = graph.ordered(targets - set(applied))
        return remaining[0] if remaining else None

    return _run_steps(db, graph, "upgrade", next_step)


def _run_steps(db: Database, graph: RevisionGraph, action: str, next_step: NextStep) -> list[Step]:
    steps: list[Step] = []
    with migration_lock(db):
        while (step := _apply_next(db, graph, action, next_step)) is not None:
            steps.append(step)
    return steps


def _apply_next(
    db: Database, graph: RevisionGraph, action: str, next_step: NextStep
) -> Step | None:
    retrying = Retrying(
        retry=retry_if_exception(_is_lock_timeout),
        stop=stop_after_attempt(DDL_LOCK_RETRIES_MAX),
        wait=wait_random_exponential(multiplier=0.5, max=8),
        reraise=True,
    )
    return retrying(_apply_one, db, graph, action, next_step)


def _apply_one(db: Database, graph: RevisionGraph, action: str, next_step: NextStep) -> Step | None:
    with db.transaction() as conn:
        bookkeeping.ensure_tables(conn)
        revision = next_step(bookkeeping.read_applied(conn))
        if revision is None:
            return None
        script = graph.revisions[revision]
        _limit_ddl_waits(db, conn)
        started = time.perf_counter()
        _run_script(conn, script.module, action, revision)
        duration = elapsed_ms(started)
        bookkeeping.record(
            conn,
            revision=revision,
            module=graph.module_of(revision),
            description=graph.description(revision),
            action=action,
            checksum=bookkeeping.file_checksum(script.path),
            duration_ms=duration,
        )
        return Step(
            revision, graph.module_of(revision), action, graph.description(revision), duration
        )


def _run_script(conn: Connection, module: object, action: str, revision: str) -> None:
    context = MigrationContext.configure(connection=conn)
    try:
        with Operations.context(context):
            getattr(module, action)()
    except Exception as error:
        raise MigrationError(f"{revision} {action} failed and was rolled back: {error}") from error


def _limit_ddl_waits(db: Database, conn: Connection) -> None:
    """An ALTER must not queue behind a long read and stall every user behind it."""
    if db.backend == "postgresql":
        timeout_ms = int(db.settings.ddl_lock_timeout_s * 1000)
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = {timeout_ms}")


def _is_lock_timeout(error: BaseException) -> bool:
    cause = error.__cause__ if isinstance(error, MigrationError) else error
    return isinstance(cause, OperationalError) and (
        getattr(cause.orig, "sqlstate", None) == _PG_LOCK_NOT_AVAILABLE
    )

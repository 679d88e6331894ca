"""Adopt an existing database: mark revisions applied without running them (Flyway's
baseline, Alembic's stamp), once its schema is shown to be what they would build.

The check builds the expected schema for real: a scratch database (SQLite: a temporary file;
PostgreSQL: a temporary schema in the same database, dropped afterwards) is migrated to exactly
the revisions the database will then have applied, and both are compared as the inspector
reports them (see schema_shape). That holds for any revision, not only the heads, and for an
application's own modules, which have no schema.py.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from chaindb.database import Database
from chaindb.errors import MigrationError
from chaindb.migrations import bookkeeping
from chaindb.migrations.apply import applied_revisions, apply_revisions
from chaindb.migrations.lock import migration_lock
from chaindb.migrations.modules import RevisionGraph
from chaindb.migrations.plan import upgrade_targets
from chaindb.migrations.problems import refuse_invalid
from chaindb.migrations.schema_shape import differences, reflect_shape, summarise

OWN_TABLES = tuple(bookkeeping.metadata.tables)


class SchemaMismatch(MigrationError):
    """The database's schema is not what the revisions to baseline would build."""

    def __init__(self, revisions: list[str], found: list[str]) -> None:
        self.differences = found
        super().__init__(
            f"not marking {', '.join(revisions)} applied: the schema differs from what they "
            f"build in {len(found)} {'place' if len(found) == 1 else 'places'}: {summarise(found)}"
        )


@dataclass
class BaselineResult:
    database: str
    revisions: list[str]
    dry_run: bool
    differences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    def as_dict(self) -> dict[str, object]:
        report = asdict(self)
        report["ok"] = self.ok
        return report


def baseline(
    db: Database,
    *,
    to: str | None = None,
    modules: Iterable[str] | None = None,
    reason: str | None = None,
    dry_run: bool = False,
) -> BaselineResult:
    """Mark `to` and what it needs (default: the heads of the chosen modules) applied, without
    running them, if the schema matches what they build; raise SchemaMismatch, naming each
    difference, if not. With dry_run, compare only: the differences are in the result."""
    graph = RevisionGraph.load()
    applied = applied_revisions(db)
    refuse_invalid(graph, applied)
    targets = upgrade_targets(graph, applied, modules=modules, to=to)
    revisions = graph.ordered(targets - set(applied))
    result = BaselineResult(db.display_url, revisions, dry_run)
    if not revisions:
        return result
    with migration_lock(db):
        result.differences = _compare(db, graph, set(applied) | targets)
        if result.differences and not dry_run:
            raise SchemaMismatch(revisions, result.differences)
        if not dry_run:
            _mark_applied(db, graph, revisions, set(applied), reason)
    return result


def _compare(db: Database, graph: RevisionGraph, state: set[str]) -> list[str]:
    with scratch_database(db) as scratch:
        apply_revisions(scratch, graph, state)
        with scratch.read() as conn:
            expected = reflect_shape(conn, exclude=OWN_TABLES)
    wanted = [*expected.tables, *expected.views]
    with db.read() as conn:
        actual = reflect_shape(conn, tables=wanted)
    return differences(expected, actual)


def _mark_applied(
    db: Database, graph: RevisionGraph, revisions: list[str], applied: set[str], reason: str | None
) -> None:
    with db.transaction() as conn:
        bookkeeping.ensure_tables(conn)
        if set(bookkeeping.read_applied(conn)) != applied:
            raise MigrationError("migrations were applied while the schema was compared: run again")
        for revision in revisions:
            bookkeeping.record(
                conn,
                revision=revision,
                module=graph.module_of(revision),
                description=graph.description(revision),
                action=bookkeeping.BASELINE,
                checksum=bookkeeping.file_checksum(graph.revisions[revision].path),
                duration_ms=0.0,
                reason=reason,
            )


@contextmanager
def scratch_database(db: Database) -> Iterator[Database]:
    """An empty database of the same backend, gone afterwards."""
    if db.backend == "postgresql":
        with _scratch_schema(db) as scratch:
            yield scratch
        return
    with tempfile.TemporaryDirectory(prefix="chaindb-baseline-") as directory:
        scratch = Database(make_url(f"sqlite:///{Path(directory) / 'expected.sqlite3'}"))
        try:
            yield scratch
        finally:
            scratch.close()


@contextmanager
def _scratch_schema(db: Database) -> Iterator[Database]:
    """PostgreSQL: a schema of its own in the same database (CREATE on the database is a
    privilege an application's role is likelier to have than CREATEDB), first and only on the
    scratch connections' search_path, so that the migrations build there what they would build
    in the database's own schema."""
    schema = f"chaindb_baseline_{secrets.token_hex(6)}"
    _run_autocommit(db, f'CREATE SCHEMA "{schema}"')
    options = db.url.query.get("options")
    given = " ".join(options) if isinstance(options, tuple) else options or ""
    url = db.url.update_query_dict({"options": f"{given} -c search_path={schema}".strip()})
    scratch = Database(url, db.settings)
    try:
        yield scratch
    finally:
        scratch.close()
        _run_autocommit(db, f'DROP SCHEMA "{schema}" CASCADE')


def _run_autocommit(db: Database, statement: str) -> None:
    with db.connection() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(statement)

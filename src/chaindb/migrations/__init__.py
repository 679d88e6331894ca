"""The migration engine: per-module versions on Alembic, with history, checksums, lock and lint.

from chaindb import connect, migrations
db = connect()
migrations.migrate(db)            # chaindb migrate
migrations.status(db)             # chaindb status
migrations.check(db).ok           # chaindb check: the deploy gate
"""

from chaindb.migrations.apply import (
    MigrationRun,
    Step,
    migrate,
    reset,
    rollback,
)
from chaindb.migrations.apply import (
    applied_revisions as applied_migrations,
)
from chaindb.migrations.baseline import BaselineResult, SchemaMismatch, baseline
from chaindb.migrations.bookkeeping import chaindb_version
from chaindb.migrations.create import CreatedMigration, create
from chaindb.migrations.lint import Finding, LintReport
from chaindb.migrations.lint import lint as _lint_revisions
from chaindb.migrations.modules import BUILTIN_MODULES, RevisionGraph
from chaindb.migrations.problems import MigrationsInvalid, Problem
from chaindb.migrations.repair import RepairResult, repair
from chaindb.migrations.status import (
    CheckReport,
    HistoryReport,
    StatusReport,
    ValidationReport,
    check,
    history,
    status,
    validate,
)


def lint(revisions: list[str] | None = None, *, downgrades: bool = False) -> list[Finding]:
    """Findings for the given revisions (default: every revision of every module): their
    upgrades, or with `downgrades` what rolling them back would do."""
    graph = RevisionGraph.load()
    chosen = [graph.resolve(rev) for rev in revisions] if revisions else list(graph.revisions)
    return _lint_revisions(graph, chosen, "downgrade" if downgrades else "upgrade")


def lint_report(revisions: list[str] | None = None, *, downgrades: bool = False) -> LintReport:
    """`lint` as chaindb lint reports it: the findings, and ok unless one is destructive."""
    return LintReport(lint(revisions, downgrades=downgrades))


__all__ = [
    "BUILTIN_MODULES",
    "BaselineResult",
    "CheckReport",
    "CreatedMigration",
    "Finding",
    "HistoryReport",
    "LintReport",
    "MigrationRun",
    "MigrationsInvalid",
    "Problem",
    "RepairResult",
    "SchemaMismatch",
    "StatusReport",
    "Step",
    "ValidationReport",
    "applied_migrations",
    "baseline",
    "chaindb_version",
    "check",
    "create",
    "history",
    "lint",
    "lint_report",
    "migrate",
    "repair",
    "reset",
    "rollback",
    "status",
    "validate",
]

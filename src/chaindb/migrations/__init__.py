"""The migration engine: per-module versions on Alembic, with history, checksums, lock and lint.

from chaindb import connect, migrations
db = connect()
migrations.migrate(db)            # chaindb migrate
migrations.status(db)             # chaindb status
"""

from chaindb.migrations.apply import MigrationRun, Step, migrate, reset, rollback
from chaindb.migrations.create import create
from chaindb.migrations.lint import Finding
from chaindb.migrations.lint import lint as _lint_revisions
from chaindb.migrations.modules import BUILTIN_MODULES, RevisionGraph
from chaindb.migrations.status import StatusReport, ValidationReport, status, validate


def lint(revisions: list[str] | None = None) -> list[Finding]:
    """Findings for the given revisions (default: every revision of every module)."""
    graph = RevisionGraph.load()
    chosen = [graph.resolve(rev) for rev in revisions] if revisions else list(graph.revisions)
    return _lint_revisions(graph, chosen)


__all__ = [
    "BUILTIN_MODULES",
    "Finding",
    "MigrationRun",
    "StatusReport",
    "Step",
    "ValidationReport",
    "create",
    "lint",
    "migrate",
    "reset",
    "rollback",
    "status",
    "validate",
]

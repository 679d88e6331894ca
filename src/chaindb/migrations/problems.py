"""Whether the migration files still match what was applied (Flyway's validate).

`validate`, `status`, `check` report these problems; `migrate` refuses to run while any is
there, naming the file and the way out, so that an edited migration is never silently skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

from chaindb.errors import MigrationError
from chaindb.migrations import bookkeeping
from chaindb.migrations.modules import RevisionGraph

CHANGED = "changed"
MISSING = "missing"
UNKNOWN = "unknown"
_PROBLEM_TEXT = {
    CHANGED: "file changed since it was applied (checksum differs)",
    MISSING: "applied, but its file is missing",
    UNKNOWN: "file is unknown to the history: not applied, yet later migrations that need it are",
}
_WAY_OUT = {
    CHANGED: "restore the file, or accept the change: chaindb repair {revision} --reason '...'",
    MISSING: "restore the file",
    UNKNOWN: "if the schema already has its changes: chaindb baseline {revision}",
}


@dataclass(frozen=True)
class Problem:
    revision: str
    kind: str
    detail: str
    path: str | None = None

    def __str__(self) -> str:
        where = f" ({self.path})" if self.path else ""
        return f"{self.revision}{where}: {self.detail}"

    @property
    def way_out(self) -> str:
        return _WAY_OUT[self.kind].format(revision=self.revision)


class MigrationsInvalid(MigrationError):
    """migrate found applied migrations that no longer match their files."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        named = "; ".join(f"{problem} ({problem.way_out})" for problem in problems)
        super().__init__(f"refusing to migrate: {named}")


def find_problems(
    graph: RevisionGraph, applied: dict[str, bookkeeping.AppliedMigration]
) -> list[Problem]:
    """Applied migrations whose file changed or is missing; files skipped by the history."""
    problems = []
    for revision, row in sorted(applied.items()):
        script = graph.revisions.get(revision)
        if script is None:
            folder = graph.expected_folder(revision)
            problems.append(Problem(revision, MISSING, f"{_PROBLEM_TEXT[MISSING]} from {folder}"))
        elif bookkeeping.file_checksum(script.path) != row.checksum:
            problems.append(Problem(revision, CHANGED, _PROBLEM_TEXT[CHANGED], script.path))
    needed = graph.ancestors(rev for rev in applied if rev in graph.revisions)
    for revision in graph.ordered(needed - set(applied)):
        path = graph.revisions[revision].path
        problems.append(Problem(revision, UNKNOWN, _PROBLEM_TEXT[UNKNOWN], path))
    return problems


def refuse_invalid(graph: RevisionGraph, applied: dict[str, bookkeeping.AppliedMigration]) -> None:
    """Flyway's validate-on-migrate: nothing runs while an applied migration does not match."""
    if problems := find_problems(graph, applied):
        raise MigrationsInvalid(problems)

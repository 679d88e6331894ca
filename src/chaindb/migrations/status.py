"""Where each module stands, and whether the migration files still match what was applied."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

from chaindb.database import Database
from chaindb.migrations import history
from chaindb.migrations.apply import applied_revisions, configured_modules
from chaindb.migrations.modules import MissingRevision, RevisionGraph

CHANGED = "changed"
MISSING = "missing"
UNKNOWN = "unknown"
_PROBLEM_TEXT = {
    CHANGED: "file changed since it was applied (checksum differs)",
    MISSING: "applied, but its file is missing",
    UNKNOWN: "file is unknown to the history: not applied, yet later migrations that need it are",
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


@dataclass
class AppliedState:
    revision: str
    description: str
    applied_at: datetime
    duration_ms: float
    applied_by: str
    checksum: str


@dataclass
class ModuleStatus:
    name: str
    current: str | None
    head: str | None
    applied: list[AppliedState] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    checksums: str = "ok"


@dataclass
class StatusReport:
    database: str
    backend: str
    modules: list[ModuleStatus]
    problems: list[Problem]

    @property
    def up_to_date(self) -> bool:
        return not self.problems and all(not module.pending for module in self.modules)

    def as_dict(self) -> dict[str, object]:
        report = asdict(self)
        report["up_to_date"] = self.up_to_date
        return report


@dataclass
class ValidationReport:
    database: str
    checked: int
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, object]:
        report = asdict(self)
        report["ok"] = self.ok
        return report


def find_problems(
    graph: RevisionGraph, applied: dict[str, history.AppliedMigration]
) -> list[Problem]:
    """Applied migrations whose file changed or is missing; files skipped by the history."""
    problems = []
    for revision, row in sorted(applied.items()):
        script = graph.revisions.get(revision)
        if script is None:
            folder = graph.expected_folder(revision)
            problems.append(Problem(revision, MISSING, f"{_PROBLEM_TEXT[MISSING]} from {folder}"))
        elif history.file_checksum(script.path) != row.checksum:
            problems.append(Problem(revision, CHANGED, _PROBLEM_TEXT[CHANGED], script.path))
    needed = graph.ancestors(rev for rev in applied if rev in graph.revisions)
    for revision in graph.ordered(needed - set(applied)):
        path = graph.revisions[revision].path
        problems.append(Problem(revision, UNKNOWN, _PROBLEM_TEXT[UNKNOWN], path))
    return problems


def status(db: Database) -> StatusReport:
    graph = RevisionGraph.load()
    applied = applied_revisions(db)
    problems = find_problems(graph, applied)
    shown = configured_modules(graph)
    shown += [
        m
        for m in graph.modules
        if m not in shown and any(graph.module_of(rev) == m for rev in applied)
    ]
    modules = [_module_status(graph, name, applied, problems) for name in shown]
    return StatusReport(db.display_url, db.backend, modules, problems)


def _module_status(
    graph: RevisionGraph,
    name: str,
    applied: dict[str, history.AppliedMigration],
    problems: list[Problem],
) -> ModuleStatus:
    revisions = graph.module_revisions(name)
    done = [rev for rev in revisions if rev in applied]
    states = [
        AppliedState(
            rev,
            applied[rev].description,
            applied[rev].applied_at,
            applied[rev].duration_ms,
            applied[rev].applied_by,
            next((p.kind for p in problems if p.revision == rev), "ok"),
        )
        for rev in done
    ]
    kinds = {p.kind for p in problems if graph.module_of(p.revision) == name}
    return ModuleStatus(
        name=name,
        current=done[-1] if done else None,
        head=graph.head(name),
        applied=states,
        pending=[rev for rev in revisions if rev not in applied],
        checksums=", ".join(sorted(kinds)) if kinds else "ok",
    )


def validate(db: Database) -> ValidationReport:
    """Every applied migration against its file; a file missing from a chain is a problem too."""
    applied = applied_revisions(db)
    try:
        graph = RevisionGraph.load()
    except MissingRevision as missing:
        problem = Problem(missing.revision, MISSING, f"missing: {missing.detail}")
        return ValidationReport(db.display_url, len(applied), [problem])
    return ValidationReport(db.display_url, len(applied), find_problems(graph, applied))

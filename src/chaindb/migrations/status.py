"""Reports: where each module stands, whether the files match what was applied (validate,
check), and what was done when (history)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

from chaindb.database import Database
from chaindb.errors import InvalidInput, MigrationError
from chaindb.migrations import bookkeeping
from chaindb.migrations.apply import applied_revisions
from chaindb.migrations.modules import MissingRevision, RevisionGraph, registered_modules
from chaindb.migrations.plan import configured_modules
from chaindb.migrations.problems import MISSING, Problem, find_problems


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
    # The application's tables `chaindb push` manages, and its last push (outside the modules:
    # a push applies no revision).
    pushed_tables: list[str] = field(default_factory=list)
    last_push: bookkeeping.HistoryEntry | None = None

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
    report = StatusReport(db.display_url, db.backend, modules, problems)
    if db.exists():
        with db.read() as conn:
            report.pushed_tables = bookkeeping.read_pushed_tables(conn)
            pushes = bookkeeping.read_history(conn, modules=[bookkeeping.PUSH], limit=1)
            report.last_push = pushes[0] if pushes else None
    return report


def _module_status(
    graph: RevisionGraph,
    name: str,
    applied: dict[str, bookkeeping.AppliedMigration],
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


@dataclass
class CheckReport:
    """The deploy gate: ok only when nothing is pending and every file matches its history."""

    database: str
    pending: list[str]
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.pending and not self.problems

    def as_dict(self) -> dict[str, object]:
        report = asdict(self)
        report["ok"] = self.ok
        return report


def check(db: Database) -> CheckReport:
    """Pending migrations of the configured modules, and every validate problem."""
    report = status(db)
    pending = [revision for module in report.modules for revision in module.pending]
    return CheckReport(db.display_url, pending, report.problems)


@dataclass
class HistoryReport:
    database: str
    entries: list[bookkeeping.HistoryEntry]

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def history(db: Database, *, module: str | None = None, limit: int | None = None) -> HistoryReport:
    """Every apply, rollback, baseline, repair and push, oldest first (with `limit`: the last
    ones). `module='push'`: the pushes alone."""
    if limit is not None and limit < 1:
        raise InvalidInput("limit", limit, "must be at least 1")
    known = [registered.name for registered in registered_modules()] + [bookkeeping.PUSH]
    if module is not None and module not in known:
        raise MigrationError(f"module {module!r} is unknown: known modules are {', '.join(known)}")
    if not db.exists():
        return HistoryReport(db.display_url, [])
    with db.read() as conn:
        entries = bookkeeping.read_history(conn, modules=[module] if module else None, limit=limit)
    return HistoryReport(db.display_url, entries)

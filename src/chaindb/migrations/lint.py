"""Name destructive and long-locking changes before they run.

Each upgrade is rendered as PostgreSQL SQL offline (no database needed) and its statements are
matched against the rules below. Destructive rules are the data-loss warnings of seed 003 plus
renames, dropped constraints and deleted rows; locking rules are squawk's and Atlas's advice for
PostgreSQL, applied to tables that existed before the migration (a table the migration creates
itself is empty and nobody waits on it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace

from chaindb.errors import MigrationError
from chaindb.migrations.modules import RevisionGraph
from chaindb.migrations.render import render_statements

DESTRUCTIVE = "destructive"
LOCKING = "locking"
UNCHECKED = "unchecked"
REVIEWED = "reviewed"  # a finding its migration explains away (LINT_REVIEWED): shown, not refused
STATEMENT_SHOWN_CHARS_MAX = 120

_NAME = r'"?([\w.]+)"?'


@dataclass(frozen=True)
class Finding:
    revision: str
    code: str
    kind: str
    message: str
    statement: str
    direction: str = "upgrade"
    table: str = ""

    def __str__(self) -> str:
        where = self.revision if self.direction == "upgrade" else f"{self.revision} (downgrade)"
        return f"{where} {self.code} [{self.kind}] {self.message}"

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class _Rule:
    code: str
    kind: str
    pattern: re.Pattern[str]
    message: str
    existing_table_only: bool = False
    unless: re.Pattern[str] | None = None


def _rule(
    code: str,
    kind: str,
    pattern: str,
    message: str,
    *,
    existing_table_only: bool = False,
    unless: str | None = None,
) -> _Rule:
    return _Rule(
        code,
        kind,
        re.compile(pattern, re.IGNORECASE),
        message,
        existing_table_only,
        re.compile(unless, re.IGNORECASE) if unless else None,
    )


RULES = (
    _rule(
        "drop-table",
        DESTRUCTIVE,
        rf"^DROP TABLE (?:IF EXISTS )?{_NAME}",
        "drops table {table} and every row in it",
        existing_table_only=True,
    ),
    _rule(
        "drop-column",
        DESTRUCTIVE,
        rf"^ALTER TABLE {_NAME} .*DROP COLUMN",
        "drops a column of {table} and its data",
    ),
    _rule(
        "rename-table",
        DESTRUCTIVE,
        rf"^ALTER TABLE {_NAME} RENAME TO",
        "renames table {table}: running code that uses the old name breaks",
    ),
    _rule(
        "rename-column",
        DESTRUCTIVE,
        rf"^ALTER TABLE {_NAME} RENAME (?:COLUMN )?\S+ TO",
        "renames a column of {table}: running code that uses the old name breaks",
    ),
    _rule(
        "type-change",
        DESTRUCTIVE,
        rf"^ALTER TABLE {_NAME} .*ALTER COLUMN \S+ (?:SET DATA )?TYPE",
        "changes a column type on {table}: values may not convert, and PostgreSQL rewrites "
        "the table under an exclusive lock",
    ),
    _rule(
        "set-not-null",
        DESTRUCTIVE,
        rf"^ALTER TABLE {_NAME} .*ALTER COLUMN \S+ SET NOT NULL",
        "makes a nullable column of {table} NOT NULL: fails on existing NULLs and scans the "
        "table under an exclusive lock",
    ),
    _rule(
        "drop-default",
        DESTRUCTIVE,
        rf"^ALTER TABLE {_NAME} .*ALTER COLUMN \S+ DROP DEFAULT",
        "removes a column default on {table}: inserts that relied on it fail or store NULL",
    ),
    _rule(
        "drop-constraint",
        DESTRUCTIVE,
        rf"^ALTER TABLE {_NAME} .*DROP CONSTRAINT",
        "drops a constraint of {table}: the rule it enforced no longer holds",
    ),
    _rule(
        "delete-rows",
        DESTRUCTIVE,
        rf"^(?:DELETE FROM|TRUNCATE(?: TABLE)?) {_NAME}",
        "deletes rows of {table}",
    ),
    _rule(
        "index-not-concurrent",
        LOCKING,
        rf"^CREATE (?:UNIQUE )?INDEX (?!CONCURRENTLY).*? ON {_NAME}",
        "builds an index on {table} without CONCURRENTLY: writes to it block until done",
        existing_table_only=True,
    ),
    _rule(
        "add-not-null-column",
        LOCKING,
        rf"^ALTER TABLE {_NAME} ADD (?:COLUMN )?.*NOT NULL",
        "adds a NOT NULL column without a default to {table}: fails if the table has rows",
        existing_table_only=True,
        unless=r"\bDEFAULT\b",
    ),
    _rule(
        "constraint-not-valid",
        LOCKING,
        rf"^ALTER TABLE {_NAME} ADD CONSTRAINT \S+ (?:FOREIGN KEY|CHECK)",
        "adds a constraint to {table} without NOT VALID: scans the table under lock",
        existing_table_only=True,
        unless=r"\bNOT VALID\b",
    ),
    _rule(
        "add-unique-constraint",
        LOCKING,
        rf"^ALTER TABLE {_NAME} ADD (?:CONSTRAINT \S+ )?(?:UNIQUE|PRIMARY KEY)",
        "adds a unique constraint to {table}: builds its index under an exclusive lock "
        "(build it CONCURRENTLY first, then ADD CONSTRAINT ... USING INDEX)",
        existing_table_only=True,
    ),
)

_CREATE_TABLE = re.compile(rf"^CREATE TABLE (?:IF NOT EXISTS )?{_NAME}", re.IGNORECASE)


def lint_statements(
    revision: str, statements: Iterable[str], direction: str = "upgrade"
) -> list[Finding]:
    findings: list[Finding] = []
    created: set[str] = set()
    for statement in statements:
        flat = " ".join(statement.split())
        if created_match := _CREATE_TABLE.match(flat):
            created.add(created_match[1].lower())
            continue
        for rule in RULES:
            match = rule.pattern.search(flat)
            if not match or (rule.unless and rule.unless.search(flat)):
                continue
            table = match[1].lower()
            if rule.existing_table_only and table in created:
                continue
            findings.append(
                Finding(
                    revision,
                    rule.code,
                    rule.kind,
                    rule.message.format(table=table),
                    flat[:STATEMENT_SHOWN_CHARS_MAX],
                    direction,
                    table,
                )
            )
    return findings


def lint(
    graph: RevisionGraph, revisions: Iterable[str], direction: str = "upgrade"
) -> list[Finding]:
    """Findings for the upgrades (or downgrades) of `revisions`, rendered as PostgreSQL."""
    findings: list[Finding] = []
    for revision in graph.ordered(revisions):
        try:
            statements = render_statements(graph.revisions[revision], "postgresql", direction)
        except MigrationError as error:
            # Code that reads the database (op.get_bind()) cannot run offline; say so, go on.
            findings.append(Finding(revision, "not-rendered", UNCHECKED, str(error), "", direction))
            continue
        # an upgrade's review (say, a VARCHAR widened) says nothing of its downgrade (narrowed)
        reviewed_name = "LINT_REVIEWED" if direction == "upgrade" else "LINT_REVIEWED_DOWNGRADE"
        reviewed = getattr(graph.revisions[revision].module, reviewed_name, {})
        findings.extend(
            _explained(finding, reviewed)
            for finding in lint_statements(revision, statements, direction)
        )
    return findings


def _explained(finding: Finding, reviewed: dict[str, str]) -> Finding:
    """A finding whose code the migration lists in LINT_REVIEWED (code -> why it is safe, e.g.
    a VARCHAR only widened) is kept, as 'reviewed', with the reason: it refuses nothing."""
    reason = reviewed.get(finding.code)
    if reason is None:
        return finding
    message = f"{finding.message} (reviewed: {reason})"
    return replace(finding, kind=REVIEWED, message=message)


@dataclass
class LintReport:
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        """No destructive change (locking ones are advice)."""
        return not destructive(self.findings)

    def as_dict(self) -> dict[str, object]:
        kinds = [finding.kind for finding in self.findings]
        return {
            "findings": [finding.as_dict() for finding in self.findings],
            "ok": self.ok,
            "counts": {
                kind: kinds.count(kind) for kind in (DESTRUCTIVE, LOCKING, UNCHECKED, REVIEWED)
            },
        }


def destructive(findings: Iterable[Finding]) -> list[Finding]:
    return [finding for finding in findings if finding.kind == DESTRUCTIVE]

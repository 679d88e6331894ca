"""Accept a reviewed change to an applied migration (Flyway's repair), on the record.

The applied set takes the file's new checksum; the history keeps who accepted it and why,
beside the checksum the migration was applied with.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from chaindb.database import Database
from chaindb.errors import InvalidInput, MigrationError
from chaindb.migrations import bookkeeping
from chaindb.migrations.lock import migration_lock
from chaindb.migrations.modules import RevisionGraph

REASON_CHARS_MAX = 500


@dataclass
class RepairResult:
    revision: str
    path: str
    repaired: bool
    old_checksum: str
    new_checksum: str
    reason: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def repair(db: Database, revision: str, *, reason: str) -> RepairResult:
    """Record the current file of applied `revision` as accepted. A file that already matches
    is left alone (`repaired` is False), so running it twice changes nothing."""
    reason = reason.strip()
    if not reason or len(reason) > REASON_CHARS_MAX:
        raise InvalidInput(
            "reason", reason, f"say why the change is accepted (1 to {REASON_CHARS_MAX} characters)"
        )
    graph = RevisionGraph.load()
    if revision not in graph.revisions:
        raise MigrationError(
            f"revision {revision!r} has no file in {graph.expected_folder(revision)}: "
            "repair accepts a changed file, not a missing one (restore it)"
        )
    path = graph.revisions[revision].path
    checksum = bookkeeping.file_checksum(path)
    with migration_lock(db), db.transaction() as conn:
        bookkeeping.ensure_tables(conn)
        applied = bookkeeping.read_applied(conn).get(revision)
        if applied is None:
            raise MigrationError(
                f"{revision} is not applied: only an applied migration's file can be accepted"
            )
        repaired = applied.checksum != checksum
        if repaired:
            bookkeeping.record(
                conn,
                revision=revision,
                module=graph.module_of(revision),
                description=graph.description(revision),
                action=bookkeeping.REPAIR,
                checksum=checksum,
                duration_ms=0.0,
                reason=reason,
            )
    return RepairResult(revision, path, repaired, applied.checksum, checksum, reason)

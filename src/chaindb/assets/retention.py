"""Retention (the seed's "Cleanup Old Records"): completed queue jobs older than 7 days are
deleted; audit rows older than 90 days move to blockchain_audit_logs_archive (the seed
suggests archiving rather than deleting). Both in bounded batches, each its own transaction,
so that a run never holds locks long and an interrupted run resumes where it stopped.

The ages come from the call, else CHAINDB_ASSETS_QUEUE_RETENTION_DAYS and
CHAINDB_ASSETS_AUDIT_RETENTION_DAYS, else 7 and 90.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from datetime import timedelta

import sqlalchemy as sa

from chaindb.assets.schema import (
    blockchain_audit_logs,
    blockchain_audit_logs_archive,
    minting_queue,
)
from chaindb.database import Database
from chaindb.errors import ConfigError, InvalidInput
from chaindb.types import UtcDateTime, utc_now

QUEUE_DAYS_DEFAULT = 7
AUDIT_DAYS_DEFAULT = 90
RETENTION_DAYS_MAX = 36_500
CLEANUP_BATCH_ROWS = 1_000
CLEANUP_BATCHES_MAX = 10_000  # per run and table: 10M rows; the next run goes on
QUEUE_DAYS_ENV = "CHAINDB_ASSETS_QUEUE_RETENTION_DAYS"
AUDIT_DAYS_ENV = "CHAINDB_ASSETS_AUDIT_RETENTION_DAYS"


@dataclass
class CleanupReport:
    queue_days: int
    audit_days: int
    dry_run: bool
    queue_jobs_deleted: int = 0
    audit_rows_archived: int = 0
    finished: bool = True  # False: the batch bound was reached, run again for the rest

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def lines(self) -> list[str]:
        verb = ("would delete", "would archive") if self.dry_run else ("deleted", "archived")
        return [
            f"assets: {verb[0]} {self.queue_jobs_deleted} completed minting jobs older than "
            f"{self.queue_days} days",
            f"assets: {verb[1]} {self.audit_rows_archived} audit rows older than "
            f"{self.audit_days} days",
        ]


def run_cleanup(
    db: Database,
    *,
    queue_days: int | None = None,
    audit_days: int | None = None,
    dry_run: bool = False,
    batch_rows: int = CLEANUP_BATCH_ROWS,
) -> CleanupReport:
    """Delete old completed jobs and archive old audit rows (with dry_run: count them)."""
    report = CleanupReport(
        queue_days=_days(queue_days, QUEUE_DAYS_ENV, QUEUE_DAYS_DEFAULT, "queue_days"),
        audit_days=_days(audit_days, AUDIT_DAYS_ENV, AUDIT_DAYS_DEFAULT, "audit_days"),
        dry_run=dry_run,
    )
    if isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1:
        raise InvalidInput("batch_rows", batch_rows, "must be a positive integer")
    now = utc_now()
    old_jobs = sa.and_(
        minting_queue.c.status == "completed",
        minting_queue.c.completed_at < now - timedelta(days=report.queue_days),
    )
    old_audit = blockchain_audit_logs.c.timestamp < now - timedelta(days=report.audit_days)
    if dry_run:
        with db.read() as conn:
            report.queue_jobs_deleted = _count(conn, minting_queue, old_jobs)
            report.audit_rows_archived = _count(conn, blockchain_audit_logs, old_audit)
        return report
    for _batch in range(CLEANUP_BATCHES_MAX):
        moved = _delete_jobs(db, old_jobs, batch_rows)
        report.queue_jobs_deleted += moved
        if moved < batch_rows:
            break
    else:
        report.finished = False
    for _batch in range(CLEANUP_BATCHES_MAX):
        moved = _archive_audit(db, old_audit, batch_rows)
        report.audit_rows_archived += moved
        if moved < batch_rows:
            break
    else:
        report.finished = False
    return report


def cleanup(db: Database) -> list[str]:
    """`chaindb maintenance --cleanup`'s hook: the retention work with the configured ages."""
    return run_cleanup(db).lines()


def _delete_jobs(db: Database, old: sa.ColumnElement[bool], batch_rows: int) -> int:
    """One batch of old completed jobs, oldest first (index ix_minting_queue_completed)."""
    with db.transaction() as conn:
        ids = sa.select(minting_queue.c.id).where(old).order_by(minting_queue.c.completed_at)
        ids = [row.id for row in conn.execute(ids.limit(batch_rows))]
        if ids:
            conn.execute(minting_queue.delete().where(minting_queue.c.id.in_(ids)))
    return len(ids)


def _archive_audit(db: Database, old: sa.ColumnElement[bool], batch_rows: int) -> int:
    """One batch of old audit rows copied to the archive and deleted, in one transaction
    (index idx_audit_logs_timestamp)."""
    columns = [column.name for column in blockchain_audit_logs.columns]
    with db.transaction() as conn:
        ids = (
            sa.select(blockchain_audit_logs.c.id)
            .where(old)
            .order_by(blockchain_audit_logs.c.timestamp, blockchain_audit_logs.c.id)
            .limit(batch_rows)
        )
        ids = [row.id for row in conn.execute(ids)]
        if not ids:
            return 0
        chosen = blockchain_audit_logs.c.id.in_(ids)
        conn.execute(
            blockchain_audit_logs_archive.insert().from_select(
                [*columns, "archived_at"],
                sa.select(*blockchain_audit_logs.columns, sa.literal(utc_now(), UtcDateTime)).where(
                    chosen
                ),
            )
        )
        conn.execute(blockchain_audit_logs.delete().where(chosen))
    return len(ids)


def _count(conn: sa.Connection, table: sa.Table, where: sa.ColumnElement[bool]) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(table).where(where)).scalar_one()


def _days(value: int | None, env: str, default: int, field: str) -> int:
    if value is None:
        text = os.environ.get(env)
        if text is None:
            return default
        if not text.strip().isdigit() or not 1 <= int(text) <= RETENTION_DAYS_MAX:
            raise ConfigError(
                f"{env}: {text!r} must be a number of days from 1 to {RETENTION_DAYS_MAX}"
            )
        return int(text)
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 1 <= value <= RETENTION_DAYS_MAX
    ):
        raise InvalidInput(field, value, f"must be a number of days from 1 to {RETENTION_DAYS_MAX}")
    return value

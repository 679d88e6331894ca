"""Claiming: a worker takes up to N jobs of the minting queue into one memory_batches row,
under a lease.

On PostgreSQL `SELECT … FOR UPDATE SKIP LOCKED` (workers never wait for each other's rows); on
SQLite the whole claim is one `BEGIN IMMEDIATE` transaction. A claim first takes back jobs
whose lease ran out (a worker that died), then ready jobs by priority (1 first), scheduled
time, id. Each job gets its merkle tree leaf when first claimed and keeps it: a retried job
mints the same asset id, and no leaf is given twice.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.engine import Connection

from chaindb.assets.claim_leaves import take_with_leaves
from chaindb.assets.deadlocks import written
from chaindb.assets.queue import (
    BATCH_SIZE_MAX,
    LEASE_S_DEFAULT,
    LEASE_S_MAX,
    ClaimedBatch,
    MintJob,
    WorkerId,
    leaf_asset_id,
)
from chaindb.assets.records import audit, audit_many
from chaindb.assets.schema import blockchain_audit_logs, memory_batches, minting_queue
from chaindb.assets.trees import allocate_leaves
from chaindb.database import Database, writing
from chaindb.types import UtcDateTime, utc_now
from chaindb.validation import Input, rows_as, validated


def claim_batch(
    target: Database | Connection,
    *,
    worker_id: str,
    batch_size_max: int = 10,
    lease_s: float = LEASE_S_DEFAULT,
) -> ClaimedBatch | None:
    """Take up to batch_size_max jobs into a new batch held until now + lease_s; None when no
    job is ready (or no tree has a leaf for the ready ones). Given a Database (a transaction
    of its own), a claim that PostgreSQL ends as a deadlock's victim (rare: claim_leaves.py)
    is made again; given a Connection, the error is the caller's to retry."""
    return written(
        target,
        lambda conn: claim_into(
            conn, worker_id=worker_id, batch_size_max=batch_size_max, lease_s=lease_s
        ),
    )


def claim_into(
    conn: Connection, *, worker_id: str, batch_size_max: int, lease_s: float
) -> ClaimedBatch | None:
    """claim_batch's writes, in the caller's transaction (the worker's, which completes its
    last batch in it first)."""
    worker = validated(_Claim, worker_id=worker_id, batch_size_max=batch_size_max, lease_s=lease_s)
    now = utc_now()
    until = now + timedelta(seconds=worker.lease_s)
    expired, ready = _lock_candidates(conn, now, worker.batch_size_max)
    spent = [job for job in expired if job.attempts >= job.max_attempts]
    _bury(conn, spent, "its lease ran out on every attempt (the worker died or hung)")
    candidates = [job for job in expired if job not in spent]
    candidates += ready[: worker.batch_size_max - len(candidates)]
    if not candidates:
        return None
    # Every write of the claim comes before its leaves: a claim needing leaves locks the
    # tree's row, which every other such claim waits for, until it commits.
    # Its audit row's list of jobs is amended below, in this transaction, when the trees run
    # short.
    batch_id = _open_batch(conn, worker.worker_id, candidates, until, now)
    _expire_batches(conn, {job.batch_id for job in candidates if job.batch_id}, now)
    lease = {"batch_id": batch_id, "worker_id": worker.worker_id, "until": until, "now": now}
    claimed = _take_with_leaves(conn, candidates, lease)
    if len(claimed) < len(candidates):  # the trees are full: the rest stay queued
        _shrink_batch(conn, batch_id, worker.worker_id, claimed)
        if not claimed:
            return None
    return ClaimedBatch(
        batch_id=batch_id,
        worker_id=worker.worker_id,
        lease_expires_at=until,
        jobs=sorted(claimed, key=lambda job: (job.priority, job.id)),
    )


def extend_lease(
    target: Database | Connection, batch: ClaimedBatch, *, lease_s: float = LEASE_S_DEFAULT
) -> bool:
    """Hold the batch's jobs lease_s longer (a heartbeat); False if they were taken back."""
    until = utc_now() + timedelta(seconds=validated(_Claim, worker_id="x", lease_s=lease_s).lease_s)
    with writing(target) as conn:
        moved = conn.execute(
            minting_queue.update()
            .where(
                minting_queue.c.batch_id == batch.batch_id,
                minting_queue.c.status == "processing",
            )
            .values(lease_expires_at=until, updated_at=utc_now())
        ).rowcount
        conn.execute(
            memory_batches.update()
            .where(memory_batches.c.batch_id == batch.batch_id)
            .values(lease_expires_at=until, updated_at=utc_now())
        )
    return moved > 0


class _Claim(Input):
    worker_id: WorkerId
    batch_size_max: Annotated[int, Field(strict=True, ge=1, le=BATCH_SIZE_MAX)] = 1
    lease_s: Annotated[float, Field(gt=0, le=LEASE_S_MAX, allow_inf_nan=False)] = LEASE_S_DEFAULT


def _literal(status: str) -> sa.ColumnElement[str]:
    """A status written in the statement: the partial indexes' predicates are literals, and a
    plan for any value of a bound status cannot use them."""
    return sa.literal_column(f"'{status}'")


@functools.lru_cache(maxsize=BATCH_SIZE_MAX)
def _candidates(batch_size: int) -> sa.CompoundSelect:
    """SQLite's claim (PostgreSQL's is assets_0005's function, the same query), built once
    per batch size (a CTE makes a copy of each of the table's columns: per claim, that was a
    tenth of a worker's CPU time); `now` is bound per claim. The statuses and the limit are
    written in the statement, not bound. In the function the statuses are literals too (a
    generic plan cannot use a partial index for a bound status); its limit is a parameter,
    and with sorting disabled the indexes' order is its one plan whatever the limit."""
    now = sa.bindparam("now", type_=UtcDateTime())
    limit = sa.literal_column(str(int(batch_size)))
    expired = (
        sa.select(minting_queue)
        .where(
            minting_queue.c.status == _literal("processing"),
            minting_queue.c.lease_expires_at <= now,
        )
        .order_by(minting_queue.c.lease_expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("expired")
    )
    ready = (
        sa.select(minting_queue)
        .where(minting_queue.c.status == _literal("pending"), minting_queue.c.scheduled_at <= now)
        .order_by(minting_queue.c.priority, minting_queue.c.scheduled_at, minting_queue.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("ready")
    )
    return sa.union_all(sa.select(expired), sa.select(ready))


# PostgreSQL: the same, by assets_0005's function (its columns typed as the table's).
_CANDIDATES_POSTGRESQL = sa.select(
    sa.func.minting_queue_candidates(
        sa.bindparam("now", type_=UtcDateTime()), sa.bindparam("limit", type_=sa.Integer())
    ).table_valued(*(sa.column(column.name, column.type) for column in minting_queue.c))
)


def _lock_candidates(
    conn: Connection, now: datetime, limit: int
) -> tuple[list[MintJob], list[MintJob]]:
    """Locked for us, in one statement: up to `limit` jobs whose worker's lease ran out (index
    ix_minting_queue_lease), and up to `limit` ready jobs by priority, schedule and id (index
    ix_minting_queue_ready). The ready jobs beyond what the batch takes stay locked only until
    this claim commits (others skip them meanwhile)."""
    if conn.dialect.name == "postgresql":  # in the indexes' order, always (assets_0005)
        found = conn.execute(_CANDIDATES_POSTGRESQL, {"now": now, "limit": limit})
    else:
        found = conn.execute(_candidates(limit), {"now": now})
    jobs = rows_as(MintJob, found)
    expired_jobs = sorted(
        (job for job in jobs if job.status == "processing"), key=lambda j: j.lease_expires_at
    )
    ready_jobs = sorted(
        (job for job in jobs if job.status == "pending"),
        key=lambda j: (j.priority, j.scheduled_at, j.id),
    )
    return expired_jobs, ready_jobs


# PostgreSQL: the batch and its claim's audit row by one statement (a round trip less).
_OPEN_BATCH = sa.text(
    """WITH batch AS (
    INSERT INTO memory_batches (worker_id, item_count, lease_expires_at, created_at, updated_at)
    VALUES (:worker_id, :item_count, :until, :now, :now)
    RETURNING batch_id
), claim AS (
    INSERT INTO blockchain_audit_logs (operation, batch_id, status, details, timestamp)
    SELECT 'claim_batch', batch_id, 'success', :details, :now FROM batch
)
SELECT batch_id FROM batch"""
).bindparams(
    sa.bindparam("until", type_=UtcDateTime()),
    sa.bindparam("now", type_=UtcDateTime()),
    sa.bindparam("details", type_=blockchain_audit_logs.c.details.type),
)


def _open_batch(
    conn: Connection, worker_id: str, jobs: list[MintJob], until: datetime, now: datetime
) -> int:
    """The batch, and the audit row of its claim."""
    if conn.dialect.name == "postgresql":
        values = {"worker_id": worker_id, "item_count": len(jobs), "until": until, "now": now}
        details = _claim_details(worker_id, jobs)
        return int(conn.execute(_OPEN_BATCH, {**values, "details": details}).scalar_one())
    batch_id = int(
        conn.execute(
            memory_batches.insert()
            .values(
                worker_id=worker_id,
                item_count=len(jobs),
                lease_expires_at=until,
                created_at=now,
                updated_at=now,
            )
            .returning(memory_batches.c.batch_id)
        ).scalar_one()
    )
    _audit_claim(conn, batch_id, worker_id, jobs)
    return batch_id


def _claim_details(worker_id: str, jobs: list[MintJob]) -> dict[str, Any]:
    return {"worker": worker_id, "jobs": [job.id for job in jobs]}


def _audit_claim(conn: Connection, batch_id: int, worker_id: str, jobs: list[MintJob]) -> None:
    audit(conn, "claim_batch", batch_id=batch_id, details=_claim_details(worker_id, jobs))


def _shrink_batch(conn: Connection, batch_id: int, worker_id: str, jobs: list[MintJob]) -> None:
    """Fewer jobs than the batch was opened for got a leaf: its row and its audit row (both
    written in this transaction, seen by no one yet) say so; none: no batch at all."""
    batch = memory_batches.c.batch_id == batch_id
    claim = sa.and_(
        blockchain_audit_logs.c.batch_id == batch_id,
        blockchain_audit_logs.c.operation == "claim_batch",
    )
    conn.execute(blockchain_audit_logs.delete().where(claim))
    if not jobs:
        conn.execute(memory_batches.delete().where(batch))
        return
    conn.execute(memory_batches.update().where(batch).values(item_count=len(jobs)))
    _audit_claim(conn, batch_id, worker_id, jobs)


def _take_with_leaves(
    conn: Connection, jobs: list[MintJob], lease: dict[str, Any]
) -> list[MintJob]:
    """The jobs into the lease's batch, each with its leaf (a job that had one keeps it); the
    jobs no tree has a leaf for stay queued. PostgreSQL: the jobs needing a leaf go last, by
    one statement per tree (claim_leaves.py). SQLite writes one transaction at a time: the
    leaves are allocated, then every job is taken by one UPDATE."""
    if conn.dialect.name == "postgresql":
        needing = [job for job in jobs if job.leaf_index is None]
        having = [job for job in jobs if job.leaf_index is not None]
        return _take(conn, having, lease) + take_with_leaves(conn, needing, lease)
    return _take(conn, _with_leaves(conn, jobs), lease)


def _with_leaves(conn: Connection, jobs: list[MintJob]) -> list[MintJob]:
    """The jobs that have a leaf, or get one now; the rest stay queued (no tree has room)."""
    needing = [job for job in jobs if job.leaf_index is None]
    leaves = iter(allocate_leaves(conn, len(needing)) if needing else [])
    ready = []
    for job in jobs:
        if job.leaf_index is None:
            leaf = next(leaves, None)
            if leaf is None:
                continue
            tree, index = leaf
            job = job.model_copy(
                update={
                    "merkle_tree": tree,
                    "leaf_index": index,
                    "asset_id": leaf_asset_id(tree, index),  # stored when it completes
                }
            )
        ready.append(job)
    return ready


def _take(conn: Connection, jobs: list[MintJob], lease: dict[str, Any]) -> list[MintJob]:
    """The jobs into the batch, each with its leaf: one UPDATE (the leaves by CASE on the id,
    which both backends take) RETURNING the jobs, one round trip for the batch."""
    if not jobs:
        return []

    def each(field: str) -> sa.Case[Any]:
        return sa.case({job.id: getattr(job, field) for job in jobs}, value=minting_queue.c.id)

    rows = conn.execute(
        minting_queue.update()
        .where(minting_queue.c.id.in_([job.id for job in jobs]))
        .values(
            status="processing",
            batch_id=lease["batch_id"],
            worker_id=lease["worker_id"],
            attempts=minting_queue.c.attempts + 1,
            lease_expires_at=lease["until"],
            merkle_tree=each("merkle_tree"),
            leaf_index=each("leaf_index"),
            updated_at=lease["now"],
        )
        .returning(*minting_queue.c)
    )
    return rows_as(MintJob, rows)


def _bury(conn: Connection, jobs: list[MintJob], reason: str) -> None:
    if not jobs:
        return
    conn.execute(
        minting_queue.update()
        .where(minting_queue.c.id.in_([job.id for job in jobs]))
        .values(status="dead", last_error=reason, lease_expires_at=None, updated_at=utc_now())
    )
    audit_many(
        conn,
        [
            {
                "operation": "mint_dead",
                "queue_id": job.id,
                "wallet_address": job.owner_address,
                "status": "failure",
                "details": {"error": reason},
            }
            for job in jobs
        ],
    )


def _expire_batches(conn: Connection, batch_ids: set[int], now: datetime) -> None:
    """Batches whose jobs were taken back: their worker's lease ran out."""
    if batch_ids:
        conn.execute(
            memory_batches.update()
            .where(
                memory_batches.c.batch_id.in_(sorted(batch_ids)),
                memory_batches.c.status == "processing",
            )
            .values(status="expired", updated_at=now)
        )

"""The minting queue: a work queue in the database, after procrastinate, pgmq and River.

- enqueue_mint: one job per client key (the same key again returns the first job).
- claim_batch: a worker takes up to N jobs into one memory_batches row, under a lease. On
  PostgreSQL `SELECT … FOR UPDATE SKIP LOCKED` (workers never wait for each other's rows); on
  SQLite the whole claim is one `BEGIN IMMEDIATE` transaction. It first takes back jobs whose
  lease ran out (a worker that died), then ready jobs by priority (1 first), scheduled time, id.
  Each job gets its merkle tree leaf when first claimed and keeps it: a retried job mints
  the same asset id, and no leaf is given twice.
- complete_batch: the assets, their first version, costs, audit rows, the batch and the jobs,
  in one transaction, for the jobs the batch still holds (compare-and-set on the job's
  batch_id and status: a worker whose lease ran out and whose jobs another worker took back
  completes nothing, so each job is completed exactly once).
- fail_batch: each job retried with exponential backoff, or `dead` with its error kept once
  its attempts are spent.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.engine import Connection

from chaindb.assets import bubblegum
from chaindb.assets.ownership import AssetMetadata
from chaindb.assets.records import NewCost, audit, audit_many, insert_costs, insert_rows
from chaindb.assets.schema import (
    PRIORITY_MAX,
    PRIORITY_MIN,
    blockchain_audit_logs,
    memory_assets,
    memory_batches,
    minting_queue,
    version_history,
)
from chaindb.assets.trees import allocate_leaves
from chaindb.database import Database, dialect_insert, reading, set_current_wallet, writing
from chaindb.errors import Conflict, InvalidInput
from chaindb.text import identifier
from chaindb.types import (
    ArweaveTxId,
    Hash32,
    Lamports,
    RowId,
    SolanaAddress,
    SolanaSignature,
    Winston,
    utc_now,
)
from chaindb.validation import Input, Row, validated

BATCH_SIZE_MAX = 100  # jobs one worker claims at once
LEASE_S_DEFAULT = 60.0
LEASE_S_MAX = 3_600.0
ATTEMPTS_DEFAULT = 5
ATTEMPTS_MAX = 25  # River's default
BACKOFF_BASE_S = 2.0  # the first retry waits about this long, doubling each time...
BACKOFF_MAX_S = 3_600.0  # ...up to an hour
BACKOFF_JITTER = 0.1  # ±10 %, so that jobs failed together do not retry together
ERROR_CHARS_MAX = 10_000
ClientKey = identifier(200)
WorkerId = identifier(128)
Priority = Annotated[int, Field(strict=True, ge=PRIORITY_MIN, le=PRIORITY_MAX)]


class NewJob(Input):
    client_key: ClientKey
    owner_address: SolanaAddress
    metadata: AssetMetadata
    content_arweave_tx_id: ArweaveTxId
    content_hash: Hash32
    metadata_arweave_tx_id: ArweaveTxId | None = None
    priority: Priority = 2
    max_attempts: Annotated[int, Field(strict=True, ge=1, le=ATTEMPTS_MAX)] = ATTEMPTS_DEFAULT


class MintJob(Row):
    id: int
    client_key: str
    owner_address: str
    metadata: dict[str, Any]
    content_arweave_tx_id: str
    metadata_arweave_tx_id: str | None
    content_hash: str
    priority: int
    status: str
    attempts: int
    max_attempts: int
    scheduled_at: datetime
    lease_expires_at: datetime | None
    worker_id: str | None
    batch_id: int | None
    merkle_tree: str | None
    leaf_index: int | None
    asset_id: str | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


class ClaimedBatch(Row):
    """What a worker holds until lease_expires_at: the batch and its jobs, each with its
    tree, leaf index and the asset id that leaf gives."""

    batch_id: int
    worker_id: str
    lease_expires_at: datetime
    jobs: list[MintJob]


class MintedItem(Input):
    """What minting one job cost, and its transaction (from the application's mint function)."""

    job_id: RowId
    mint_signature: SolanaSignature | None = None
    transaction_fee_lamports: Lamports = 0
    priority_fee_lamports: Lamports = 0
    rent_lamports: Lamports = 0
    storage_cost_lamports: Lamports = 0
    storage_cost_winston: Winston = 0


class MintReceipt(Input):
    """A mint function's answer for a whole batch: one item per job."""

    items: list[MintedItem]


class BatchOutcome(Row):
    batch_id: int
    status: str
    completed_job_ids: list[int]
    retried_job_ids: tuple[int, ...] = ()
    dead_job_ids: tuple[int, ...] = ()
    lost_job_ids: tuple[int, ...] = ()  # taken back by another worker after this lease ran out


def enqueue_mint(
    target: Database | Connection,
    *,
    client_key: str,
    owner_address: str,
    metadata: dict[str, Any],
    content_arweave_tx_id: str,
    content_hash: str,
    metadata_arweave_tx_id: str | None = None,
    priority: int = 2,
    max_attempts: int = ATTEMPTS_DEFAULT,
) -> MintJob:
    """Queue an asset to mint. The same client_key returns the job already queued under it
    and writes nothing (a different payload under it is a Conflict)."""
    new = validated(
        NewJob,
        client_key=client_key,
        owner_address=owner_address,
        metadata=metadata,
        content_arweave_tx_id=content_arweave_tx_id,
        content_hash=content_hash,
        metadata_arweave_tx_id=metadata_arweave_tx_id,
        priority=priority,
        max_attempts=max_attempts,
    )
    now = utc_now()
    with writing(target) as conn:
        inserted = conn.execute(
            dialect_insert(conn, minting_queue)
            .values(**new.model_dump(), scheduled_at=now, created_at=now, updated_at=now)
            .on_conflict_do_nothing(index_elements=["client_key"])
            .returning(minting_queue)
        ).first()
        if inserted is not None:
            audit(
                conn,
                "enqueue",
                wallet_address=new.owner_address,
                queue_id=inserted.id,
                details={"client_key": new.client_key},
            )
            return MintJob.model_validate(inserted)
        existing = MintJob.model_validate(
            conn.execute(
                sa.select(minting_queue).where(minting_queue.c.client_key == new.client_key)
            ).one()
        )
    if _payload(existing) != new.model_dump(exclude={"priority", "max_attempts"}):
        raise Conflict(
            f"client_key: {new.client_key!r} already names another mint (job {existing.id})"
        )
    return existing


def get_job(target: Database | Connection, job_id: int) -> MintJob | None:
    with reading(target) as conn:
        row = conn.execute(sa.select(minting_queue).where(minting_queue.c.id == job_id)).first()
    return None if row is None else MintJob.model_validate(row)


def queue_counts(target: Database | Connection) -> dict[str, int]:
    """Jobs per status (index ix_minting_queue_status_completed)."""
    with reading(target) as conn:
        rows = conn.execute(
            sa.select(minting_queue.c.status, sa.func.count()).group_by(minting_queue.c.status)
        ).all()
    return {status: count for status, count in rows}


def claim_batch(
    target: Database | Connection,
    *,
    worker_id: str,
    batch_size_max: int = 10,
    lease_s: float = LEASE_S_DEFAULT,
) -> ClaimedBatch | None:
    """Take up to batch_size_max jobs into a new batch held until now + lease_s; None when no
    job is ready (or no tree has a leaf for the ready ones)."""
    worker = validated(_Claim, worker_id=worker_id, batch_size_max=batch_size_max, lease_s=lease_s)
    now = utc_now()
    until = now + timedelta(seconds=worker.lease_s)
    with writing(target) as conn:
        expired, ready = _lock_candidates(conn, now, worker.batch_size_max)
        spent = [job for job in expired if job.attempts >= job.max_attempts]
        _bury(conn, spent, "its lease ran out on every attempt (the worker died or hung)")
        candidates = [job for job in expired if job not in spent]
        candidates += ready[: worker.batch_size_max - len(candidates)]
        if not candidates:
            return None
        # The tree's row stays locked from the leaves' allocation to the commit, and every
        # claim needing leaves waits for it: the batch row is written before, to hold it less.
        batch_id = _open_batch(conn, worker.worker_id, len(candidates), until, now)
        _expire_batches(conn, {job.batch_id for job in candidates if job.batch_id}, now)
        # Written before the leaves, as the batch row is (what it says is amended below, in
        # this transaction, when the trees run short).
        _audit_claim(conn, batch_id, worker.worker_id, candidates)
        jobs = _with_leaves(conn, candidates)
        if len(jobs) < len(candidates):  # the trees are full: the rest stay queued
            _shrink_batch(conn, batch_id, worker.worker_id, jobs)
            if not jobs:
                return None
        claimed = _take(conn, jobs, batch_id, worker.worker_id, until, now)
    return ClaimedBatch(
        batch_id=batch_id, worker_id=worker.worker_id, lease_expires_at=until, jobs=claimed
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


def complete_batch(
    target: Database | Connection, batch: ClaimedBatch, receipt: MintReceipt
) -> BatchOutcome:
    """Record what the mint function did, in one transaction: for each job this batch still
    holds, its asset (owner, metadata, tree, leaf, signature), version 1, its cost and audit
    rows, and the job completed; then the batch's counts, costs and signatures."""
    receipt = validated(MintReceipt, **receipt.model_dump())
    items = {item.job_id: item for item in receipt.items}
    if set(items) != {job.id for job in batch.jobs}:
        raise InvalidInput("receipt.items", sorted(items), "must name each job of the batch once")
    now = utc_now()
    with writing(target) as conn:
        held = _complete_jobs(conn, batch, now)
        jobs = [job for job in batch.jobs if job.id in held]
        _write_assets(conn, batch, jobs, items, now)
        minted = [items[job.id] for job in jobs]
        insert_costs(conn, [_cost(job, items[job.id], batch.batch_id) for job in jobs])
        audit_many(conn, [_mint_audit(batch, job, items[job.id]) for job in jobs])
        status = "completed" if jobs else "expired"
        conn.execute(
            memory_batches.update()
            .where(memory_batches.c.batch_id == batch.batch_id)
            .values(
                status=status,
                minted_count=len(jobs),
                total_cost_lamports=sum(
                    _cost(j, items[j.id], None).total_cost_lamports for j in jobs
                ),
                storage_cost_winston=sum(item.storage_cost_winston for item in minted),
                transaction_signatures=[i.mint_signature for i in minted if i.mint_signature],
                completed_at=now,
                updated_at=now,
            )
        )
    return BatchOutcome(
        batch_id=batch.batch_id,
        status=status,
        completed_job_ids=[job.id for job in jobs],
        lost_job_ids=[job.id for job in batch.jobs if job.id not in held],
    )


def fail_batch(target: Database | Connection, batch: ClaimedBatch, *, error: str) -> BatchOutcome:
    """The mint function failed: each job this batch still holds waits for a retry (backoff
    BACKOFF_BASE_S * 2**(attempt-1), capped at BACKOFF_MAX_S, ±10 %) or, with its attempts
    spent, is dead with the error kept."""
    message = error[:ERROR_CHARS_MAX].replace("\x00", "")
    now = utc_now()
    retried, dead = [], []
    with writing(target) as conn:
        for job in batch.jobs:
            if job.attempts >= job.max_attempts:
                values: dict[str, Any] = {"status": "dead"}
            else:
                values = {"status": "pending", "scheduled_at": now + _backoff(job.attempts)}
            moved = conn.execute(
                minting_queue.update()
                .where(
                    minting_queue.c.id == job.id,
                    minting_queue.c.batch_id == batch.batch_id,
                    minting_queue.c.status == "processing",
                )
                .values(**values, last_error=message, lease_expires_at=None, updated_at=now)
            ).rowcount
            if moved:
                (dead if values["status"] == "dead" else retried).append(job.id)
        conn.execute(
            memory_batches.update()
            .where(memory_batches.c.batch_id == batch.batch_id)
            .values(status="failed", error_message=message, completed_at=now, updated_at=now)
        )
        audit_many(
            conn,
            [
                {
                    "operation": "mint_dead" if job.id in dead else "mint_failed",
                    "queue_id": job.id,
                    "batch_id": batch.batch_id,
                    "wallet_address": job.owner_address,
                    "asset_id": job.asset_id,
                    "status": "failure",
                    "details": {"error": message[:1_000], "attempt": job.attempts},
                }
                for job in batch.jobs
                if job.id in retried or job.id in dead
            ],
        )
    return BatchOutcome(
        batch_id=batch.batch_id,
        status="failed",
        completed_job_ids=[],
        retried_job_ids=retried,
        dead_job_ids=dead,
        lost_job_ids=[j.id for j in batch.jobs if j.id not in retried and j.id not in dead],
    )


# --- the claim's steps ------------------------------------------------------------------------


class _Claim(Input):
    worker_id: WorkerId
    batch_size_max: Annotated[int, Field(strict=True, ge=1, le=BATCH_SIZE_MAX)] = 1
    lease_s: Annotated[float, Field(gt=0, le=LEASE_S_MAX, allow_inf_nan=False)] = LEASE_S_DEFAULT


def _lock_candidates(
    conn: Connection, now: datetime, limit: int
) -> tuple[list[MintJob], list[MintJob]]:
    """Locked for us, in one statement: up to `limit` jobs whose worker's lease ran out (index
    ix_minting_queue_lease), and up to `limit` ready jobs by priority, schedule and id (index
    ix_minting_queue_ready). The ready jobs beyond what the batch takes stay locked only until
    this claim commits (others skip them meanwhile)."""
    expired = (
        sa.select(minting_queue)
        .where(minting_queue.c.status == "processing", minting_queue.c.lease_expires_at <= now)
        .order_by(minting_queue.c.lease_expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("expired")
    )
    ready = (
        sa.select(minting_queue)
        .where(minting_queue.c.status == "pending", minting_queue.c.scheduled_at <= now)
        .order_by(minting_queue.c.priority, minting_queue.c.scheduled_at, minting_queue.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("ready")
    )
    rows = conn.execute(sa.union_all(sa.select(expired), sa.select(ready)))
    jobs = [MintJob.model_validate(row) for row in rows]
    expired_jobs = sorted(
        (job for job in jobs if job.status == "processing"), key=lambda j: j.lease_expires_at
    )
    ready_jobs = sorted(
        (job for job in jobs if job.status == "pending"),
        key=lambda j: (j.priority, j.scheduled_at, j.id),
    )
    return expired_jobs, ready_jobs


def _open_batch(
    conn: Connection, worker_id: str, item_count: int, until: datetime, now: datetime
) -> int:
    return int(
        conn.execute(
            memory_batches.insert()
            .values(
                worker_id=worker_id,
                item_count=item_count,
                lease_expires_at=until,
                created_at=now,
                updated_at=now,
            )
            .returning(memory_batches.c.batch_id)
        ).scalar_one()
    )


def _audit_claim(conn: Connection, batch_id: int, worker_id: str, jobs: list[MintJob]) -> None:
    details = {"worker": worker_id, "jobs": [job.id for job in jobs]}
    audit(conn, "claim_batch", batch_id=batch_id, details=details)


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
                    "asset_id": bubblegum.asset_id(tree, index),
                }
            )
        ready.append(job)
    return ready


def _take(
    conn: Connection,
    jobs: list[MintJob],
    batch_id: int,
    worker_id: str,
    until: datetime,
    now: datetime,
) -> list[MintJob]:
    """The jobs into the batch, each with its leaf: one UPDATE (the leaves by CASE on the id,
    which both backends take) RETURNING the jobs, one round trip for the batch."""

    def each(field: str) -> sa.Case[Any]:
        return sa.case({job.id: getattr(job, field) for job in jobs}, value=minting_queue.c.id)

    rows = conn.execute(
        minting_queue.update()
        .where(minting_queue.c.id.in_([job.id for job in jobs]))
        .values(
            status="processing",
            batch_id=batch_id,
            worker_id=worker_id,
            attempts=minting_queue.c.attempts + 1,
            lease_expires_at=until,
            merkle_tree=each("merkle_tree"),
            leaf_index=each("leaf_index"),
            asset_id=each("asset_id"),
            updated_at=now,
        )
        .returning(*minting_queue.c)
    )
    taken = [MintJob.model_validate(row) for row in rows]
    return sorted(taken, key=lambda job: (job.priority, job.id))


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


# --- completion ---------------------------------------------------------------------------------


def _complete_jobs(conn: Connection, batch: ClaimedBatch, now: datetime) -> set[int]:
    """Compare-and-set: the jobs still held by this batch become completed; their ids."""
    rows = conn.execute(
        minting_queue.update()
        .where(
            minting_queue.c.id.in_([job.id for job in batch.jobs]),
            minting_queue.c.batch_id == batch.batch_id,
            minting_queue.c.status == "processing",
        )
        .values(status="completed", completed_at=now, lease_expires_at=None, updated_at=now)
        .returning(minting_queue.c.id)
    )
    return {row.id for row in rows}


def _write_assets(
    conn: Connection,
    batch: ClaimedBatch,
    jobs: list[MintJob],
    items: dict[int, MintedItem],
    now: datetime,
) -> None:
    """The jobs' assets and their versions 1, by multi-row INSERTs. The assets go one owner
    at a time: row-level security (PostgreSQL) checks each new row against the wallet the
    transaction acts for, and the search row its trigger writes sees that owner's assets."""
    for owner in sorted({job.owner_address for job in jobs}):
        set_current_wallet(conn, owner)
        insert_rows(
            conn,
            memory_assets,
            [
                {
                    **_content(job),
                    "asset_id": job.asset_id,
                    "owner_address": owner,
                    "batch_id": batch.batch_id,
                    "merkle_tree": job.merkle_tree,
                    "leaf_index": job.leaf_index,
                    "mint_signature": items[job.id].mint_signature,
                    "queue_id": job.id,
                    "created_at": now,
                    "updated_at": now,
                }
                for job in jobs
                if job.owner_address == owner
            ],
        )
    insert_rows(
        conn,
        version_history,
        [
            {
                **_content(job),
                "asset_id": job.asset_id,
                "version": 1,
                "changed_by": job.owner_address,
                "change_note": "minted",
                "created_at": now,
            }
            for job in jobs
        ],
    )


def _content(job: MintJob) -> dict[str, Any]:
    return {
        "metadata": job.metadata,
        "content_arweave_tx_id": job.content_arweave_tx_id,
        "metadata_arweave_tx_id": job.metadata_arweave_tx_id,
        "content_hash": job.content_hash,
    }


def _cost(job: MintJob, item: MintedItem, batch_id: int | None) -> NewCost:
    return NewCost(
        wallet_address=job.owner_address,
        operation="mint",
        asset_id=job.asset_id,
        batch_id=batch_id,
        **item.model_dump(exclude={"job_id", "mint_signature"}),
    )


def _mint_audit(batch: ClaimedBatch, job: MintJob, item: MintedItem) -> dict[str, Any]:
    return {
        "operation": "mint",
        "asset_id": job.asset_id,
        "wallet_address": job.owner_address,
        "transaction_signature": item.mint_signature,
        "batch_id": batch.batch_id,
        "queue_id": job.id,
        "details": {"tree": job.merkle_tree, "leaf_index": job.leaf_index},
    }


def _backoff(attempt: int) -> timedelta:
    base = min(BACKOFF_BASE_S * 2 ** max(attempt - 1, 0), BACKOFF_MAX_S)
    return timedelta(seconds=base * random.uniform(1 - BACKOFF_JITTER, 1 + BACKOFF_JITTER))


def _payload(job: MintJob) -> dict[str, Any]:
    return {
        "client_key": job.client_key,
        "owner_address": job.owner_address,
        "metadata": job.metadata,
        "content_arweave_tx_id": job.content_arweave_tx_id,
        "content_hash": job.content_hash,
        "metadata_arweave_tx_id": job.metadata_arweave_tx_id,
    }

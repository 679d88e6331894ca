"""Completing: what a worker records once the application's mint function has run its batch.

- complete_batch: the assets, their first version, costs, audit rows, the batch and the jobs,
  in one transaction, for the jobs the batch still holds (compare-and-set on the job's
  batch_id and status: a worker whose lease ran out and whose jobs another worker took back
  completes nothing, so each job is completed exactly once). On PostgreSQL by one statement
  per owner (completing_pg.py); on SQLite, one transaction at a time, by a statement per table.
- fail_batch: each job retried with exponential backoff, or `dead` with its error kept once
  its attempts are spent.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb.assets.completing_pg import complete_held
from chaindb.assets.deadlocks import written
from chaindb.assets.queue import (
    BACKOFF_BASE_S,
    BACKOFF_JITTER,
    BACKOFF_MAX_S,
    ERROR_CHARS_MAX,
    BatchOutcome,
    ClaimedBatch,
    MintedItem,
    MintJob,
    MintReceipt,
)
from chaindb.assets.records import NewCost, audit_many, insert_costs, insert_rows
from chaindb.assets.schema import memory_assets, memory_batches, minting_queue, version_history
from chaindb.database import Database, set_current_wallet, writing
from chaindb.errors import InvalidInput
from chaindb.types import utc_now
from chaindb.validation import validated


def complete_batch(
    target: Database | Connection, batch: ClaimedBatch, receipt: MintReceipt
) -> BatchOutcome:
    """Record what the mint function did, in one transaction: for each job this batch still
    holds, its asset (owner, metadata, tree, leaf, signature), version 1, its cost and audit
    rows, and the job completed; then the batch's counts, costs and signatures. Given a
    Database, run again if PostgreSQL ends it as a deadlock's victim (assets/deadlocks.py)."""
    return written(target, lambda conn: record_completion(conn, batch, receipt))


def record_completion(conn: Connection, batch: ClaimedBatch, receipt: MintReceipt) -> BatchOutcome:
    """complete_batch's writes, in the caller's transaction (the worker's, which claims its
    next batch in it too)."""
    receipt = validated(MintReceipt, **receipt.model_dump())
    items = {item.job_id: item for item in receipt.items}
    if set(items) != {job.id for job in batch.jobs}:
        raise InvalidInput("receipt.items", sorted(items), "must name each job of the batch once")
    now = utc_now()
    if conn.dialect.name == "postgresql":
        held = complete_held(conn, batch, batch.jobs, items, now)
        return _outcome(batch, held)
    held = _complete_jobs(conn, batch, now)
    # The batch's figures count every job it completed, in this call or an earlier one (a
    # completion run again after a lost acknowledgement leaves them as they were), as
    # PostgreSQL's statement counts them; rows are written for the jobs completed now.
    recorded = _completed_by(conn, batch)
    costs = {
        job.id: _cost(job, items[job.id], batch.batch_id)
        for job in batch.jobs
        if job.id in recorded
    }
    jobs = [job for job in batch.jobs if job.id in held]
    _write_assets(conn, batch, jobs, items, now)
    insert_costs(conn, [costs[job.id] for job in jobs])
    audit_many(conn, [_mint_audit(batch, job, items[job.id]) for job in jobs])
    minted = [items[job_id] for job_id in costs]
    conn.execute(
        memory_batches.update()
        .where(memory_batches.c.batch_id == batch.batch_id)
        .values(
            status="completed" if minted else "expired",
            minted_count=len(minted),
            total_cost_lamports=sum(cost.total_cost_lamports for cost in costs.values()),
            storage_cost_winston=sum(item.storage_cost_winston for item in minted),
            transaction_signatures=[i.mint_signature for i in minted if i.mint_signature],
            completed_at=now,
            updated_at=now,
        )
    )
    return _outcome(batch, held)


def _completed_by(conn: Connection, batch: ClaimedBatch) -> set[int]:
    q = minting_queue.c
    return set(
        conn.execute(
            sa.select(q.id).where(
                q.batch_id == batch.batch_id,
                q.status == "completed",
                q.id.in_([job.id for job in batch.jobs]),
            )
        ).scalars()
    )


def _outcome(batch: ClaimedBatch, held: set[int]) -> BatchOutcome:
    return BatchOutcome(
        batch_id=batch.batch_id,
        status="completed" if held else "expired",
        completed_job_ids=[job.id for job in batch.jobs if job.id in held],
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


def _complete_jobs(conn: Connection, batch: ClaimedBatch, now: datetime) -> set[int]:
    """Compare-and-set: the jobs still held by this batch become completed, their asset ids
    stored (assets_0006); their ids."""
    if not batch.jobs:
        return set()
    asset_ids = sa.case({job.id: job.asset_id for job in batch.jobs}, value=minting_queue.c.id)
    rows = conn.execute(
        minting_queue.update()
        .where(
            minting_queue.c.id.in_([job.id for job in batch.jobs]),
            minting_queue.c.batch_id == batch.batch_id,
            minting_queue.c.status == "processing",
        )
        .values(
            status="completed",
            completed_at=now,
            lease_expires_at=None,
            asset_id=asset_ids,
            updated_at=now,
        )
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

"""The minting queue: a work queue in the database, after procrastinate, pgmq and River.

This module holds the jobs and what a worker hands back; the queue's two other halves are
claiming.py (a worker takes a batch of jobs under a lease) and completing.py (it records what
minting them did, or schedules their retries).

- enqueue_mint: one job per client key (the same key again returns the first job).
- get_job, queue_counts: what the queue holds.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import Field, model_validator
from sqlalchemy.engine import Connection

from chaindb.assets import bubblegum
from chaindb.assets.ownership import AssetMetadata
from chaindb.assets.records import audit
from chaindb.assets.schema import PRIORITY_MAX, PRIORITY_MIN, minting_queue
from chaindb.database import Database, dialect_insert, reading, writing
from chaindb.errors import Conflict
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
LEAF_ASSET_IDS_CACHED_MAX = BATCH_SIZE_MAX * 64  # a few claims' worth per worker
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
    asset_id: str | None  # the leaf's: stored when the job completes, derived before
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None

    @model_validator(mode="after")
    def _leaf_gives_asset_id(self) -> MintJob:
        """A job with a leaf has its asset id, stored or not yet (see claim_leaves)."""
        if self.asset_id is None and self.merkle_tree is not None and self.leaf_index is not None:
            object.__setattr__(self, "asset_id", leaf_asset_id(self.merkle_tree, self.leaf_index))
        return self


@functools.lru_cache(maxsize=LEAF_ASSET_IDS_CACHED_MAX)
def leaf_asset_id(tree: str, leaf_index: int) -> str:
    """bubblegum.asset_id, cached: a job's id is derived again on each read until stored."""
    return bubblegum.asset_id(tree, leaf_index)


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
    """Jobs per status (a read of the whole table)."""
    with reading(target) as conn:
        rows = conn.execute(
            sa.select(minting_queue.c.status, sa.func.count()).group_by(minting_queue.c.status)
        ).all()
    return {status: count for status, count in rows}


def _payload(job: MintJob) -> dict[str, Any]:
    return {
        "client_key": job.client_key,
        "owner_address": job.owner_address,
        "metadata": job.metadata,
        "content_arweave_tx_id": job.content_arweave_tx_id,
        "content_hash": job.content_hash,
        "metadata_arweave_tx_id": job.metadata_arweave_tx_id,
    }

"""PostgreSQL: a batch's completion by one statement per owner, not seven round trips.

One data-modifying CTE takes the owner's jobs the batch still holds (compare-and-set, as on
SQLite), and writes their assets, versions 1, cost and audit rows, and the batch's row. Each
round trip cost a worker its SQLAlchemy bookkeeping and the server a statement; on 2 shared
cores both come out of the same CPU.

Row-level security checks each new asset against the wallet the transaction acts for, so the
owners go one statement each, after `set_config`. The batch's row is written by each of them
from the batch's whole item list: a job completed by an earlier statement of this transaction
is seen in minting_queue (the statement's snapshot), this statement's own through its CTE.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from chaindb.assets.queue import ClaimedBatch, MintedItem, MintJob
from chaindb.assets.records import lamports_total
from chaindb.database import set_current_wallet
from chaindb.types import UtcDateTime, amount_rule

# Each job's values: one JSON document of them all (one parameter, encoded by json in C: as
# arrays, one per column, psycopg encoded each element in Python, measured at 90 us a job).
_ITEM_TYPES = {
    "n": "int",
    "job_id": "bigint",
    "asset_id": "text",
    "owner_address": "text",
    "metadata": "jsonb",
    "content_arweave_tx_id": "text",
    "metadata_arweave_tx_id": "text",
    "content_hash": "text",
    "merkle_tree": "text",
    "leaf_index": "bigint",
    "mint_signature": "text",
    "total_cost_lamports": "numeric",  # JSON numbers are read exactly
    "transaction_fee_lamports": "numeric",
    "priority_fee_lamports": "numeric",
    "rent_lamports": "numeric",
    "storage_cost_lamports": "numeric",
    "storage_cost_winston": "numeric",
}
_CONTENT = "metadata, content_arweave_tx_id, metadata_arweave_tx_id, content_hash"
_FEES = (
    "total_cost_lamports, transaction_fee_lamports, priority_fee_lamports, rent_lamports, "
    "storage_cost_lamports, storage_cost_winston"
)
_STATEMENT = """WITH item AS MATERIALIZED (
    SELECT * FROM jsonb_to_recordset(CAST(%(items)s AS jsonb)) AS i({columns})
), done AS (
    UPDATE minting_queue q
    SET status = 'completed', completed_at = %(now)s, lease_expires_at = NULL,
        asset_id = item.asset_id, updated_at = %(now)s
    FROM item
    WHERE q.id = item.job_id AND item.owner_address = %(owner)s
      AND q.batch_id = %(batch_id)s AND q.status = 'processing'
    RETURNING q.id
), held AS MATERIALIZED (
    SELECT item.* FROM item JOIN done ON done.id = item.job_id
), assets AS (
    INSERT INTO memory_assets (asset_id, owner_address, {content}, batch_id, merkle_tree,
                               leaf_index, mint_signature, queue_id, created_at, updated_at)
    SELECT asset_id, owner_address, {content}, %(batch_id)s, merkle_tree,
           leaf_index, mint_signature, job_id, %(now)s, %(now)s
    FROM held
), versions AS (
    INSERT INTO version_history (asset_id, version, {content}, changed_by, change_note,
                                 created_at)
    SELECT asset_id, 1, {content}, owner_address, 'minted', %(now)s FROM held
), costs AS (
    INSERT INTO cost_tracking (wallet_address, operation, asset_id, batch_id, {fees}, timestamp)
    SELECT owner_address, 'mint', asset_id, %(batch_id)s, {fees}, %(now)s FROM held
), audits AS (
    INSERT INTO blockchain_audit_logs (operation, asset_id, wallet_address,
        transaction_signature, batch_id, queue_id, status, details, timestamp)
    SELECT 'mint', asset_id, owner_address, mint_signature, %(batch_id)s, job_id, 'success',
           jsonb_build_object('tree', merkle_tree, 'leaf_index', leaf_index), %(now)s
    FROM held
), minted AS (
    SELECT * FROM item
    WHERE job_id IN (SELECT id FROM done) OR EXISTS (
        SELECT 1 FROM minting_queue q
        WHERE q.id = item.job_id AND q.batch_id = %(batch_id)s AND q.status = 'completed')
), batch AS (
    UPDATE memory_batches
    SET status = CASE WHEN m.count > 0 THEN 'completed' ELSE 'expired' END,
        minted_count = m.count, total_cost_lamports = m.lamports,
        storage_cost_winston = m.winston, transaction_signatures = m.signatures,
        completed_at = %(now)s, updated_at = %(now)s
    FROM (SELECT count(*) AS count,
                 coalesce(sum(total_cost_lamports), 0) AS lamports,
                 coalesce(sum(storage_cost_winston), 0) AS winston,
                 coalesce(jsonb_agg(mint_signature ORDER BY n)
                          FILTER (WHERE mint_signature IS NOT NULL), '[]') AS signatures
          FROM minted) m
    WHERE batch_id = %(batch_id)s
)
SELECT id FROM done"""


def complete_held(
    conn: Connection,
    batch: ClaimedBatch,
    jobs: list[MintJob],
    items: dict[int, MintedItem],
    now: datetime,
) -> set[int]:
    """The jobs (the batch's, in its order) this batch still holds, completed with their rows
    and the batch's row; their ids."""
    statement = _Completion.for_dialect(conn.dialect)
    rows = [_item(n, job, items[job.id]) for n, job in enumerate(jobs)]
    document = json.dumps(rows, allow_nan=False, separators=(",", ":"))
    held: set[int] = set()
    driver = conn.connection.driver_connection
    for owner in sorted({job.owner_address for job in jobs}):
        set_current_wallet(conn, owner)  # row-level security: acting for the owner
        params = {"items": document, "owner": owner, "batch_id": batch.batch_id, "now": now}
        held |= statement.run(driver, params)
    return held


def _item(n: int, job: MintJob, item: MintedItem) -> dict[str, Any]:
    return {
        "n": n,
        "job_id": job.id,
        "asset_id": job.asset_id,
        "owner_address": job.owner_address,
        "metadata": job.metadata,
        "content_arweave_tx_id": job.content_arweave_tx_id,
        "metadata_arweave_tx_id": job.metadata_arweave_tx_id,
        "content_hash": job.content_hash,
        "merkle_tree": job.merkle_tree,
        "leaf_index": job.leaf_index,
        "mint_signature": item.mint_signature,
        # the parts' sum may pass the maximum
        "total_cost_lamports": amount_rule(lamports_total(item)),
        "transaction_fee_lamports": item.transaction_fee_lamports,
        "priority_fee_lamports": item.priority_fee_lamports,
        "rent_lamports": item.rent_lamports,
        "storage_cost_lamports": item.storage_cost_lamports,
        "storage_cost_winston": item.storage_cost_winston,
    }


class _Completion:
    """The statement's text, built once per dialect."""

    def __init__(self, dialect: sa.Dialect) -> None:
        columns = ", ".join(f"{name} {kind}" for name, kind in _ITEM_TYPES.items())
        self.sql = _STATEMENT.format(columns=columns, content=_CONTENT, fees=_FEES)
        self._now = UtcDateTime().bind_processor(dialect)
        self._driver_error = dialect.loaded_dbapi.Error

    @staticmethod
    @functools.cache
    def for_dialect(dialect: sa.Dialect) -> _Completion:
        return _Completion(dialect)

    def run(self, driver: Any, params: dict[str, Any]) -> set[int]:
        """The owner's jobs completed (the transaction acting for it); their ids."""
        if self._now is not None:
            params = {**params, "now": self._now(params["now"])}
        try:
            with driver.cursor() as cursor:
                cursor.execute(self.sql, params)
                return {row[0] for row in cursor.fetchall()}
        except self._driver_error as error:  # the same exceptions as through SQLAlchemy
            raise DBAPIError.instance(self.sql, None, error, self._driver_error) from error

"""PostgreSQL: a claim's jobs that have no leaf yet are taken with their leaves in one
statement per tree, the claim's last before its commit.

Every claim needing leaves waits for the lock on the tree's row, which is held until the claim
commits. Held across round trips to a worker (allocate, take, commit), it made 4 workers on 2
cores slower than 1: the holder often waited for its own process to be scheduled (measured:
pg_stat_activity showed most backends waiting on that row). Here the lock is taken by the one
statement that moves the tree's next_leaf_index and takes the jobs, and only the commit follows.

The statement gives the jobs the next leaves of the first active tree with room that no other
claim is filling (`SKIP LOCKED`); when every tree with room is being filled, it waits for the
first of them, but only in a transaction that holds no tree's row yet (a transaction-local
setting says so): one that does takes what is free or nothing, and the rest of its jobs stay
queued. Two claims that each held one tree and waited for the other's deadlocked (4 claimers
over trees of 8 leaves: 1-3 times in 160 rounds). One case is left: a locking scan keeps the
lock of a row it reached (waiting, or skipping to it) that a concurrent commit had just filled,
so two claims' first statements can still each hold a full tree the other waits for (a review
measured 11 in 14,253 transactions of this statement under stress, none in 25,589 claims).
PostgreSQL ends one as the deadlock's victim after deadlock_timeout, and claim_batch (in its
own transaction) and run_worker claim again. So with several trees registered, concurrent
claims fill several at once instead of queueing on one row (measured, 4 workers, medians of 3
runs: 3,544-3,615 jobs/s with 4 trees, 3,198-3,330 with one); one claim at a time still fills
the oldest tree with room first. When a tree has fewer leaves than the claim wants, the next
statement takes the next tree's. A leaf's asset id (a PDA, computed in Python) is not written
here: the claimed job carries it (MintJob derives it from its tree and leaf) and its completion
writes it (assets_0006). Written here, the ids of every leaf the statement might give had to be
computed before it: with 4 workers, each computed every leaf's, a fifth of a worker's CPU.

The tree's row is moved by its address alone, not also by the next free leaf the lock read:
a claim that waited for the lock reads the row as the other claim committed it, but the
UPDATE's own scan sees the row as of the statement's start, and a test of the old next free
leaf there matched nothing (measured: with 4 workers, 40 % of the claims took no leaf).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb.assets.queue import MintJob, leaf_asset_id
from chaindb.assets.schema import minting_queue
from chaindb.assets.trees import TREES_PER_ALLOCATION_MAX
from chaindb.types import UtcDateTime

# What the statement changes in a job (the rest, its metadata among them, the claim has read).
_TAKEN = (
    "status",
    "batch_id",
    "worker_id",
    "attempts",
    "lease_expires_at",
    "merkle_tree",
    "leaf_index",
    "updated_at",
)
_TAKEN_COLUMNS = ", ".join(f"q.{name}" for name in _TAKEN)
_ROOM = """
    SELECT tree_address, next_leaf_index AS first_leaf,
           LEAST(capacity, next_leaf_index + :wanted) AS end_leaf
    FROM merkle_trees
    WHERE status = 'active' AND next_leaf_index < capacity
    ORDER BY created_at, tree_address
    LIMIT 1
    FOR NO KEY UPDATE"""
# Set (for the rest of the transaction) once it has locked a tree's row.
_HOLDS_TREE = "'chaindb.claim_holds_tree'"
_TAKE_WITH_LEAVES = f"""WITH free AS ({_ROOM} SKIP LOCKED
), waited AS ({_ROOM}
), tree AS (
    SELECT * FROM free
    UNION ALL
    SELECT * FROM waited
    WHERE NOT EXISTS (SELECT FROM free)
      AND current_setting({_HOLDS_TREE}, true) IS DISTINCT FROM 'yes'
), moved AS (
    UPDATE merkle_trees m SET next_leaf_index = tree.end_leaf, updated_at = :now
    FROM tree
    WHERE m.tree_address = tree.tree_address
    RETURNING tree.tree_address, tree.first_leaf, tree.end_leaf,
              set_config({_HOLDS_TREE}, 'yes', true) AS holds_tree
), leaves AS (
    SELECT j.id, moved.tree_address, moved.first_leaf + j.n - 1 AS leaf_index
    FROM moved, unnest(CAST(string_to_array(:job_ids, ',') AS bigint[])) WITH ORDINALITY
         AS j(id, n)
    WHERE moved.first_leaf + j.n - 1 < moved.end_leaf AND moved.holds_tree = 'yes'
)
UPDATE minting_queue q
SET status = 'processing', batch_id = :batch_id, worker_id = :worker_id,
    attempts = q.attempts + 1, lease_expires_at = :until,
    merkle_tree = leaves.tree_address, leaf_index = leaves.leaf_index, updated_at = :now
FROM leaves
WHERE q.id = leaves.id
RETURNING q.id, {_TAKEN_COLUMNS}"""
_TAKE = (
    sa.text(_TAKE_WITH_LEAVES)
    .bindparams(
        sa.bindparam("until", type_=UtcDateTime()),
        sa.bindparam("now", type_=UtcDateTime()),
    )
    .columns(*(sa.column(name, minting_queue.c[name].type) for name in ("id", *_TAKEN)))
)


def take_with_leaves(conn: Connection, jobs: list[MintJob], lease: dict[str, Any]) -> list[MintJob]:
    """The jobs (none has a leaf) taken into the lease's batch, in order, each with the next
    free leaf and its asset id; those left when every tree is full (or after
    TREES_PER_ALLOCATION_MAX trees) stay queued. `lease`: batch_id, worker_id, until, now."""
    taken: list[MintJob] = []
    waiting = list(jobs)
    for _tree in range(TREES_PER_ALLOCATION_MAX):
        if not waiting:
            break
        params = {
            **lease,
            "wanted": len(waiting),
            # One text, split on the server: psycopg encodes an array element by element
            # in Python.
            "job_ids": ",".join(str(job.id) for job in waiting),
        }
        rows = conn.execute(_TAKE, params).all()
        if not rows:
            break  # every tree is full
        given = {row.id: row._mapping for row in rows}
        taken += [_with_leaf(job, given[job.id]) for job in waiting if job.id in given]
        waiting = [job for job in waiting if job.id not in given]
    return taken


def _with_leaf(job: MintJob, taken: Any) -> MintJob:
    """The job as the statement left it, with the asset id its leaf gives."""
    asset_id = leaf_asset_id(taken["merkle_tree"], taken["leaf_index"])
    return job.model_copy(update={**{name: taken[name] for name in _TAKEN}, "asset_id": asset_id})

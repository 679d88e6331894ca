"""PostgreSQL: a claim's jobs that have no leaf yet are taken with their leaves in one
statement, the claim's last before its commit.

Every claim needing leaves waits for the lock on the tree's row, which is held until the claim
commits. Held across round trips to a worker (allocate, take, commit), it made 4 workers on 2
cores slower than 1: the holder often waited for its own process to be scheduled (measured:
pg_stat_activity showed most backends waiting on that row). Here the lock is taken by the one
statement that moves the tree's next_leaf_index and takes the jobs, and only the commit follows.

A leaf's asset id is a PDA, computed in Python, and must be written with the leaf (a CHECK
says so): the ids of a window of leaves from the tree's next free one are computed before the
statement, and the statement gives leaves only inside that window. When other claims moved
the tree past the window meanwhile, it gives none and the claim reads the tree again (bounded).
The ids are cached: the next claims' windows overlap this one.

The tree's row is moved by its address alone, not also by the next free leaf the lock read:
a claim that waited for the lock reads the row as the other claim committed it, but the
UPDATE's own scan sees the row as of the statement's start, and a test of the old next free
leaf there matched nothing (measured: with 4 workers, 40 % of the claims took no leaf and
read the tree again, holding its lock through two more round trips).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb.assets import bubblegum
from chaindb.assets.queue import BATCH_SIZE_MAX, MintJob
from chaindb.assets.schema import merkle_trees, minting_queue
from chaindb.assets.trees import TREES_PER_ALLOCATION_MAX
from chaindb.types import UtcDateTime

# A window spans this many claims' leaves: as many claims may allocate between the tree's read
# and this claim's statement before it must read again.
WINDOW_CLAIMS = 4
# The windows' asset ids kept per process (the leaves of a few windows ahead).
ASSET_IDS_CACHED_MAX = BATCH_SIZE_MAX * WINDOW_CLAIMS * 4
ATTEMPTS_PER_TREE = 4  # reads of one tree's next free leaf before the claim gives up
# From where this process last left a tree, the others' claims have moved it on since: the
# window spans more claims.
WINDOW_CLAIMS_GUESSED = WINDOW_CLAIMS * 2

# What the statement changes in a job (the rest, its metadata among them, the claim has read).
_TAKEN = (
    "status",
    "batch_id",
    "worker_id",
    "attempts",
    "lease_expires_at",
    "merkle_tree",
    "leaf_index",
    "asset_id",
    "updated_at",
)
_TAKEN_COLUMNS = ", ".join(f"q.{name}" for name in _TAKEN)
_TAKE_WITH_LEAVES = (
    sa.text(
        f"""WITH tree AS (
    SELECT tree_address, next_leaf_index AS first_leaf,
           LEAST(capacity, :window_end, next_leaf_index + :wanted) AS end_leaf
    FROM merkle_trees
    WHERE status = 'active' AND next_leaf_index < capacity
    ORDER BY created_at, tree_address
    LIMIT 1
    FOR NO KEY UPDATE
), moved AS (
    UPDATE merkle_trees m SET next_leaf_index = tree.end_leaf, updated_at = :now
    FROM tree
    WHERE m.tree_address = tree.tree_address
      AND tree.tree_address = :tree AND tree.first_leaf >= :window_start
      AND tree.end_leaf > tree.first_leaf
    RETURNING tree.tree_address, tree.first_leaf, tree.end_leaf
), leaves AS (
    SELECT j.id, moved.tree_address, moved.first_leaf + j.n - 1 AS leaf_index
    FROM moved, unnest(CAST(string_to_array(:job_ids, ',') AS bigint[])) WITH ORDINALITY
         AS j(id, n)
    WHERE moved.first_leaf + j.n - 1 < moved.end_leaf
), window_ids AS MATERIALIZED (
    SELECT string_to_array(:asset_ids, ',') AS ids
)
UPDATE minting_queue q
SET status = 'processing', batch_id = :batch_id, worker_id = :worker_id,
    attempts = q.attempts + 1, lease_expires_at = :until,
    merkle_tree = leaves.tree_address, leaf_index = leaves.leaf_index,
    asset_id = window_ids.ids[leaves.leaf_index - :window_start + 1], updated_at = :now
FROM leaves, window_ids
WHERE q.id = leaves.id
RETURNING q.id, {_TAKEN_COLUMNS}"""
    )
    .bindparams(
        sa.bindparam("until", type_=UtcDateTime()),
        sa.bindparam("now", type_=UtcDateTime()),
    )
    .columns(*(sa.column(name, minting_queue.c[name].type) for name in ("id", *_TAKEN)))
)
_FIRST_WITH_ROOM = (
    sa.select(merkle_trees.c.tree_address, merkle_trees.c.next_leaf_index, merkle_trees.c.capacity)
    .where(
        merkle_trees.c.status == "active", merkle_trees.c.next_leaf_index < merkle_trees.c.capacity
    )
    .order_by(merkle_trees.c.created_at, merkle_trees.c.tree_address)
    .limit(1)
)


def take_with_leaves(conn: Connection, jobs: list[MintJob], lease: dict[str, Any]) -> list[MintJob]:
    """The jobs (none has a leaf) taken into the lease's batch, in order, each with the next
    free leaf; those left when every tree is full stay queued. `lease`: batch_id, worker_id,
    until, now. The first try goes by where this process last saw a tree's next free leaf
    (no read of the tree: a round trip less a claim); when other claims moved it past that
    window, or the tree is full, the tree is read."""
    taken: list[MintJob] = []
    waiting = list(jobs)
    if waiting and _last_seen:
        waiting = _take(conn, waiting, lease, _last_seen[0], WINDOW_CLAIMS_GUESSED, taken)
    for _attempt in range(TREES_PER_ALLOCATION_MAX * ATTEMPTS_PER_TREE):
        if not waiting:
            break
        tree = conn.execute(_FIRST_WITH_ROOM).first()
        if tree is None:
            break  # every tree is full
        seen = _Seen(tree.tree_address, tree.next_leaf_index, tree.capacity)
        waiting = _take(conn, waiting, lease, seen, WINDOW_CLAIMS, taken)
    return taken


class _Seen(NamedTuple):
    """A tree's next free leaf, as read (or as this process's last claim left it)."""

    tree_address: str
    next_leaf_index: int
    capacity: int


# The last tree this process took leaves from (threads share it: only a guess, checked by the
# statement).
_last_seen: list[_Seen] = []


def _take(
    conn: Connection,
    waiting: list[MintJob],
    lease: dict[str, Any],
    tree: _Seen,
    window_claims: int,
    taken: list[MintJob],
) -> list[MintJob]:
    """One statement: leaves from the window of `tree` from its next free leaf as seen; the
    jobs given one are added to `taken`, those still waiting returned."""
    window_end = min(tree.capacity, tree.next_leaf_index + len(waiting) * window_claims)
    window = range(tree.next_leaf_index, window_end)
    rows = conn.execute(
        _TAKE_WITH_LEAVES,
        {
            **lease,
            "tree": tree.tree_address,
            "window_start": window.start,
            "window_end": window.stop,
            "wanted": len(waiting),
            # Each list as one text, split on the server: psycopg encodes an array element
            # by element in Python (base58 and digits hold no comma).
            "job_ids": ",".join(str(job.id) for job in waiting),
            "asset_ids": ",".join(_asset_id(tree.tree_address, leaf) for leaf in window),
        },
    ).all()
    if rows:
        _last_seen[:] = [tree._replace(next_leaf_index=max(row.leaf_index for row in rows) + 1)]
    given = {row.id: row._mapping for row in rows}
    taken += [
        job.model_copy(update={name: given[job.id][name] for name in _TAKEN})
        for job in waiting
        if job.id in given
    ]
    return [job for job in waiting if job.id not in given]


@functools.lru_cache(maxsize=ASSET_IDS_CACHED_MAX)
def _asset_id(tree: str, leaf_index: int) -> str:
    return bubblegum.asset_id(tree, leaf_index)

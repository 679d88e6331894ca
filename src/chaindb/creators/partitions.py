"""The creators' side of partitioned tables (PostgreSQL; ops/partitions.py does the
partitioning): which columns partition plays and oracle_sync_logs, how a play stays counted
once across partitions, and what must happen before a partition of plays is dropped.

A play counts once per client id. A partitioned table cannot hold a unique key without its
partition key, so the client ids of a partitioned plays live in its key table, `plays_keys`
(unique there): the writers claim a client id there first (`ON CONFLICT DO NOTHING`, which
waits for a concurrent claim of the same id, then skips it) and insert only the plays they
claimed, in the same statement (plays_postgres.py). The key table's insert trigger then finds
the claimed rows there already and adds only those written by others (an import, a restore).

The counters never recount plays, but the check does (verify.py): before a partition of plays
goes, what its plays added to each track on each day is folded into plays_dropped_totals in
the same transaction, and the check adds it back. A play older than the newest day dropped is
not counted afterwards: its client id may have been dropped with it.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

# table -> the time column its partitions split (ops/partitions.py reads this from the face).
PARTITION_KEYS = {"plays": "played_at", "oracle_sync_logs": "started_at"}

# Tables whose writers insert a row's key row themselves, before the row (ops/partitions.py
# makes their key table's insert trigger skip a key row that is there already).
CLAIMS_KEYS_FIRST = ("plays",)

_FOLD = """
INSERT INTO plays_dropped_totals AS d (day, track_id, plays, listened_s)
SELECT CAST(timezone('UTC', played_at) AS date), track_id, count(*), sum(listened_s)
FROM {partition}
GROUP BY 1, 2
ORDER BY 1, 2
ON CONFLICT (day, track_id) DO UPDATE SET
    plays = d.plays + excluded.plays,
    listened_s = d.listened_s + excluded.listened_s
"""


def before_partition_drop(
    conn: Connection, *, table: str, partition: str, upper_bound: object
) -> None:
    """Fold a partition of plays into plays_dropped_totals (in the caller's transaction,
    before the DROP); other tables keep no totals."""
    if table != "plays":
        return
    quoted = conn.dialect.identifier_preparer.quote(partition)
    conn.exec_driver_sql(_FOLD.format(partition=quoted))

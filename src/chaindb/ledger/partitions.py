"""The ledger's side of partitioned ledger_transfers (PostgreSQL; ops/partitions.py does the
partitioning): which column partitions it, and what must happen before a partition is dropped.

A partition is dropped only when none of its transfers is an open hold (ledger_holds would lose
its transfer). Before it goes, what its transfers added to each account is folded into
ledger_dropped_totals in the same transaction, so that the ledger check, which recomputes
every account from its transfers and adds those totals, stays exact after retention.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb.errors import Conflict
from chaindb.ledger.accounts import BURN, ISSUANCE

# table -> the time column its partitions split (ops/partitions.py reads this from the face).
PARTITION_KEYS = {"ledger_transfers": "created_at"}

_OPEN_HOLDS = "SELECT count(*) FROM ledger_holds h JOIN {partition} p ON p.id = h.transfer_id"

_FOLD = """
WITH issuance AS (
    SELECT id FROM ledger_accounts WHERE owner_type = 'system' AND owner_id = :issuance
), burn AS (
    SELECT id FROM ledger_accounts WHERE owner_type = 'system' AND owner_id = :burn
), t AS (
    SELECT debit_account_id, credit_account_id, phase IN ('single', 'post') AS posted,
           amount::numeric AS amount
    FROM {partition}
), sides AS (
    SELECT debit_account_id AS account_id,
           CASE WHEN posted THEN amount ELSE 0 END AS debits_posted,
           0::numeric AS credits_posted,
           0::numeric AS issued_from,
           CASE WHEN posted AND credit_account_id IN (SELECT id FROM issuance)
                THEN amount ELSE 0 END AS issued_back,
           CASE WHEN posted AND credit_account_id IN (SELECT id FROM burn)
                THEN amount ELSE 0 END AS burned_to,
           0::numeric AS burned_back
    FROM t
    UNION ALL
    SELECT credit_account_id, 0, CASE WHEN posted THEN amount ELSE 0 END,
           CASE WHEN posted AND debit_account_id IN (SELECT id FROM issuance)
                THEN amount ELSE 0 END,
           0, 0,
           CASE WHEN posted AND debit_account_id IN (SELECT id FROM burn) THEN amount ELSE 0 END
    FROM t
)
INSERT INTO ledger_dropped_totals AS d (account_id, debits_posted, credits_posted, issued_from,
    issued_back, burned_to, burned_back, transfer_count, dropped_before)
SELECT account_id, sum(debits_posted), sum(credits_posted), sum(issued_from), sum(issued_back),
       sum(burned_to), sum(burned_back), count(*), :dropped_before
FROM sides GROUP BY account_id
ON CONFLICT (account_id) DO UPDATE SET
    debits_posted = d.debits_posted + excluded.debits_posted,
    credits_posted = d.credits_posted + excluded.credits_posted,
    issued_from = d.issued_from + excluded.issued_from,
    issued_back = d.issued_back + excluded.issued_back,
    burned_to = d.burned_to + excluded.burned_to,
    burned_back = d.burned_back + excluded.burned_back,
    transfer_count = d.transfer_count + excluded.transfer_count,
    dropped_before = greatest(d.dropped_before, excluded.dropped_before)
"""


def before_partition_drop(
    conn: Connection, *, table: str, partition: str, upper_bound: object
) -> None:
    """Refuse a partition holding an open hold; else fold its transfers' effect on each
    account into ledger_dropped_totals (in the caller's transaction, before the DROP)."""
    if table != "ledger_transfers":
        return
    quoted = conn.dialect.identifier_preparer.quote(partition)
    held = conn.execute(sa.text(_OPEN_HOLDS.format(partition=quoted))).scalar_one()
    if held:
        raise Conflict(
            f"{partition} holds {held} open holds: post or void them (or let them expire and "
            "run `chaindb maintenance --cleanup`) before its partition is dropped"
        )
    conn.execute(
        sa.text(_FOLD.format(partition=quoted)),
        {"issuance": ISSUANCE, "burn": BURN, "dropped_before": upper_bound},
    )

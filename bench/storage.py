"""Storage per million ledger transfers on PostgreSQL (table, its indexes, TOAST), for the
scaling guide (docs/scaling.md). JSON out.

    scripts/with-postgres .venv/bin/python bench/storage.py

TRANSFERS transfers in batches of BATCH between USERS accounts, a third with an idempotency
key (as API requests carry them); sizes after VACUUM, scaled to a million.
"""

from __future__ import annotations

import json
import random
import sys

import sqlalchemy as sa

import chaindb
from chaindb import ledger, migrations
from databases import PG_SKIPPED, create_users, fund_users, postgres_admin_url, postgres_url

USERS = 1_000
TRANSFERS = 200_000
BATCH = 1_000
PER_MILLION = 1_000_000 / TRANSFERS
TABLES = ("ledger_transfers", "ledger_accounts", "ledger_holds")


def fill(db: chaindb.Database) -> None:
    create_users(db, USERS)
    fund_users(db, count=USERS, amount=10**30)
    chooser = random.Random(7)
    for start in range(0, TRANSFERS, BATCH):
        batch = []
        for offset in range(BATCH):
            debit, credit = chooser.sample(range(USERS), 2)
            item = {"debit": f"user:u{debit}", "credit": f"user:u{credit}", "amount": 10**18}
            if offset % 3 == 0:
                item["idempotency_key"] = f"request-{start + offset}"
            batch.append({**item, "kind": "transfer"})
        ledger.transfer_batch(db, batch)


def sizes(db: chaindb.Database) -> dict[str, dict[str, int]]:
    with db.connection() as plain:
        conn = plain.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql("VACUUM ANALYZE")
        found = {}
        for table in TABLES:
            row = conn.execute(
                sa.text(
                    "SELECT pg_table_size(c.oid) AS heap, pg_indexes_size(c.oid) AS indexes, "
                    "c.reltuples::bigint AS rows FROM pg_class c WHERE c.relname = :name"
                ),
                {"name": table},
            ).one()
            found[table] = {"heap_bytes": row.heap, "index_bytes": row.indexes, "rows": row.rows}
    return found


def main() -> None:
    admin = postgres_admin_url()
    if admin is None:
        print(json.dumps({"postgresql": PG_SKIPPED}))
        return
    with postgres_url(admin) as url:
        db = chaindb.connect(url)
        migrations.migrate(db, modules=["ledger"])
        fill(db)
        measured = sizes(db)
        db.close()
    transfers = measured["ledger_transfers"]
    total = transfers["heap_bytes"] + transfers["index_bytes"]
    report = {
        "transfers": TRANSFERS,
        "users": USERS,
        "tables": measured,
        "bytes_per_transfer": round(total / TRANSFERS, 1),
        "ledger_transfers_mb_per_million": round(total * PER_MILLION / 2**20, 1),
    }
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()

"""The studio's table pages on a big table: ledger_transfers with ROWS rows (default 1M;
BENCH_STUDIO_ROWS=10000000 for the issue's 10M), on both backends. JSON out.

    scripts/with-postgres .venv/bin/python bench/studio.py

Each page is read as the studio reads it (chaindb.studio.browse in a read transaction under the
studio's time limit): the first page, a page half-way through (keyset: WHERE key > cursor), the
same two sorted by an indexed column (created_at, newest first), a filter on an indexed column,
a row with its references counted, and a sort no index serves (refused at the time limit).
The rows are written in one INSERT ... SELECT (the ledger's own writes are bench/ledger.py's).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

import chaindb
from chaindb import ledger, migrations
from chaindb.studio import browse
from chaindb.studio.time_limit import TIME_LIMIT_S_DEFAULT, PageTooSlow, limited
from databases import (
    PG_SKIPPED,
    create_users,
    fund_users,
    postgres_admin_url,
    postgres_url,
    sqlite_url,
)

ROWS = int(os.environ.get("BENCH_STUDIO_ROWS", "1000000"))
READS = 30
ACCOUNTS = 1_000

POSTGRES_FILL = """
INSERT INTO ledger_transfers (asset_id, debit_account_id, credit_account_id, amount, kind,
                              phase, created_at)
SELECT :asset, :first + (i % :accounts), :first + ((i + 1) % :accounts), i % 1000003, 'transfer',
       'single', now() - make_interval(secs => :rows - i)
FROM generate_series(1, :rows) AS i
"""
SQLITE_FILL = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :rows)
INSERT INTO ledger_transfers (asset_id, debit_account_id, credit_account_id, amount, kind,
                              phase, created_at)
SELECT :asset, :first + (i % :accounts), :first + ((i + 1) % :accounts),
       printf('%078d', i % 1000003), 'transfer', 'single',
       strftime('%Y-%m-%d %H:%M:%S', 'now', '-' || (:rows - i) || ' seconds') || '.000000'
FROM n
"""


def fill(db: chaindb.Database) -> tuple[int, int]:
    """ROWS transfers between ACCOUNTS accounts; (the first account's id, the last row's id)."""
    create_users(db, ACCOUNTS)
    fund_users(db, count=ACCOUNTS, amount=1)
    first = ledger.get_account(db, "user:u0", ledger.POINTS).id
    asset = ledger.get_asset(db, ledger.POINTS).id
    fill_sql = POSTGRES_FILL if db.backend == "postgresql" else SQLITE_FILL
    with db.transaction() as conn:
        if db.backend == "postgresql":  # 10M rows in one statement: past chaindb's 30 s default
            conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
        conn.execute(
            sa.text(fill_sql),
            {"asset": asset, "first": first, "accounts": ACCOUNTS, "rows": ROWS},
        )
    with db.connection() as plain:
        plain.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
        last = plain.execute(sa.text("SELECT max(id) FROM ledger_transfers")).scalar_one()
    return first, last


def timed(db: chaindb.Database, read: Callable[[sa.Connection], Any]) -> dict[str, Any]:
    """p50/p99 ms of `read` in a read transaction under the studio's time limit; or the time
    it took to be stopped."""
    spent_ms = []
    for _ in range(READS):
        started = time.perf_counter()
        try:
            with db.read() as conn, limited(conn, time_limit_s=TIME_LIMIT_S_DEFAULT):
                read(conn)
        except PageTooSlow:
            stopped_ms = (time.perf_counter() - started) * 1000
            return {"stopped_at_time_limit": True, "ms": round(stopped_ms, 1)}
        spent_ms.append((time.perf_counter() - started) * 1000)
    spent_ms.sort()
    return {
        "p50_ms": round(statistics.median(spent_ms), 2),
        "p99_ms": round(spent_ms[min(len(spent_ms) - 1, int(len(spent_ms) * 0.99))], 2),
    }


def pages(db: chaindb.Database, first_account: int, last_id: int) -> dict[str, Any]:
    transfers = browse.find_table("ledger_transfers")
    accounts = browse.find_table("ledger_accounts")
    middle = [last_id // 2]

    def page(**options: Any) -> Callable[[sa.Connection], Any]:
        return lambda conn: browse.read_page(conn, transfers, filters={}, **options)

    return {
        "first_page": timed(db, page()),
        "middle_page": timed(db, page(after=middle)),
        "sorted_newest_first": timed(db, page(sort="created_at", descending=True)),
        "sorted_middle_page": timed(db, page(sort="created_at", descending=True, after=middle)),
        "filtered_by_account": timed(
            db,
            lambda conn: browse.read_page(
                conn, transfers, filters={"debit_account_id": first_account + 7}
            ),
        ),
        "account_row_with_references": timed(
            db, lambda conn: browse.read_row(conn, accounts, [first_account + 7])
        ),
        "sorted_by_amount_unindexed": timed(db, page(sort="amount", descending=True)),
    }


def run(url: str) -> dict[str, Any]:
    with chaindb.connect(url) as db:
        migrations.migrate(db)
        started = time.perf_counter()
        first_account, last_id = fill(db)
        filled_s = time.perf_counter() - started
        return {"rows": ROWS, "fill_s": round(filled_s, 1), **pages(db, first_account, last_id)}


def main() -> None:
    results: dict[str, Any] = {"bench": "studio", "rows": ROWS}
    with sqlite_url() as url:
        results["sqlite"] = run(url)
    print(json.dumps(results["sqlite"]), file=sys.stderr)  # a long run's first half, kept
    admin = postgres_admin_url()
    if admin is None:
        results["postgresql"] = PG_SKIPPED
    else:
        with postgres_url(admin) as url:
            results["postgresql"] = run(url)
    json.dump(results, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()

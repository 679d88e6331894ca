"""Partitioned ledger_transfers on PostgreSQL (ops/partitions.py): what it costs, what it saves.

    make bench                     # with the others (PostgreSQL, fsync on)
    python bench/partitions.py     # needs CHAINDB_TEST_PG_URL (or CHAINDB_BENCH_PG_URL)

1. Insert rate: the same random transfers between USERS accounts, into two databases, one
   with ledger_transfers plain, one partitioned by month (its idempotency keys in the key
   table); one commit each (ledger.transfer) and 1,000 per commit (ledger.transfer_batch),
   a third of them with an idempotency key. The two run in turns, ROUNDS times, the first
   alternating; medians.
2. Retention of 90 days (what `drop_older` spends under the table's lock, the DROP and the
   ledger's fold, apart from the batched pruning of the key table, which writers do not wait
   for): RETENTION_TRANSFERS transfers spread evenly over the last 180 days,
   in two copies of one database. In one, ledger_transfers is partitioned by month and
   `drop_older(90 days)` drops the partitions wholly older (folding their totals for the
   ledger check); in the other, plain, the very same rows go by DELETE (and then a VACUUM,
   without which the space is not even reusable). Reported: time, rows, the table's size
   before and after, and the dead tuples each leaves.
"""

from __future__ import annotations

import json
import os
import platform
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import make_url

import chaindb
from chaindb import ledger, migrations
from chaindb.ops import partitions
from databases import PG_SKIPPED, create_users, fund_users, postgres_admin_url, postgres_url

USERS = 100
BATCH = 1_000
ROUNDS = 5
SINGLE_SECONDS = 2.0  # each single-commit turn runs this long
BATCHES_PER_TURN = 3
KEYED_SHARE = 3  # one transfer in KEYED_SHARE carries an idempotency key
RETENTION_TRANSFERS = int(os.environ.get("BENCH_PARTITION_TRANSFERS", "300000"))
RETENTION_SPAN_DAYS = 180
RETENTION_DAYS = 90


def prepared(url: str, *, partitioned: bool) -> chaindb.Database:
    db = chaindb.connect(url)
    migrations.migrate(db)
    create_users(db, USERS)
    fund_users(db, count=USERS, amount=10**12)
    if partitioned:
        partitions.enable(db, table="ledger_transfers", interval="month")
    return db


def requests(rng: random.Random, count: int) -> list[dict[str, object]]:
    made = []
    for _ in range(count):
        a, b = rng.sample(range(USERS), 2)
        request: dict[str, object] = {
            "debit": f"user:u{a}",
            "credit": f"user:u{b}",
            "amount": rng.randint(1, 100),
            "kind": "transfer",
        }
        if rng.randrange(KEYED_SHARE) == 0:
            request["idempotency_key"] = uuid.uuid4().hex
        made.append(request)
    return made


def singles_per_second(db: chaindb.Database, rng: random.Random) -> float:
    done, started = 0, time.perf_counter()
    while done < 50 or time.perf_counter() - started < SINGLE_SECONDS:
        ledger.transfer(db, **requests(rng, 1)[0])  # type: ignore[arg-type]
        done += 1
    return done / (time.perf_counter() - started)


def batch_per_second(db: chaindb.Database, rng: random.Random) -> float:
    batches = [requests(rng, BATCH) for _ in range(BATCHES_PER_TURN)]
    started = time.perf_counter()
    for batch in batches:
        ledger.transfer_batch(db, batch)
    return BATCH * BATCHES_PER_TURN / (time.perf_counter() - started)


def in_turns(measures: dict[str, Callable[[], float]]) -> dict[str, float]:
    taken: dict[str, list[float]] = {name: [] for name in measures}
    for round_number in range(ROUNDS):
        names = list(measures) if round_number % 2 == 0 else list(reversed(measures))
        for name in names:
            taken[name].append(measures[name]())
    return {name: round(statistics.median(values), 1) for name, values in taken.items()}


def bench_insert_rate(admin_url: str) -> dict[str, object]:
    rng = random.Random(21)
    with postgres_url(admin_url) as plain_url, postgres_url(admin_url) as parted_url:
        plain = prepared(plain_url, partitioned=False)
        parted = prepared(parted_url, partitioned=True)
        singles = in_turns(
            {
                "plain": lambda: singles_per_second(plain, rng),
                "partitioned": lambda: singles_per_second(parted, rng),
            }
        )
        batches = in_turns(
            {
                "plain": lambda: batch_per_second(plain, rng),
                "partitioned": lambda: batch_per_second(parted, rng),
            }
        )
        checks = [ledger.check_ledger(db).ok for db in (plain, parted)]
        for db in (plain, parted):
            db.close()
    return {
        "single_commit_transfers_per_s": singles,
        "batched_transfers_per_s": batches,
        "partitioned_vs_plain_single": round(singles["partitioned"] / singles["plain"], 3),
        "partitioned_vs_plain_batched": round(batches["partitioned"] / batches["plain"], 3),
        "ledger_checks_clean": all(checks),
    }


def fill_over_days(db: chaindb.Database, total: int, span_days: int) -> None:
    """`total` transfers, their times then spread evenly over the last `span_days` days."""
    rng = random.Random(90)
    for start in range(0, total, BATCH * 5):
        ledger.transfer_batch(db, requests(rng, min(BATCH * 5, total - start)))
    with db.transaction() as conn:
        conn.execute(
            sa.text(
                "UPDATE ledger_transfers SET created_at = now()"
                " - make_interval(secs => :span * (:last - id)::float8 / :last)"
            ),
            {"span": span_days * 86_400, "last": total + USERS},
        )
    run_alone(db, "VACUUM FULL ANALYZE ledger_transfers")


def run_alone(db: chaindb.Database, statement: str) -> float:
    """Run `statement` outside a transaction (VACUUM needs it); its seconds."""
    url = db.url.set(drivername="postgresql+psycopg")
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    started = time.perf_counter()
    with engine.connect() as conn:
        conn.exec_driver_sql(statement)
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def table_figures(db: chaindb.Database) -> dict[str, int]:
    """Rows, bytes (heap, indexes and TOAST, every partition) and dead tuples of the table."""
    with db.read() as conn:
        rows = conn.exec_driver_sql("SELECT count(*) FROM ledger_transfers").scalar_one()
        size, dead = conn.exec_driver_sql(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0),"
            " coalesce(sum(pg_stat_get_dead_tuples(c.oid)), 0) FROM pg_class c"
            " WHERE c.relname = 'ledger_transfers'"
            " OR c.oid IN (SELECT inhrelid FROM pg_inherits"
            "  WHERE inhparent = 'ledger_transfers'::regclass)"
        ).one()
        keys, keys_dead = conn.exec_driver_sql(
            "SELECT coalesce(pg_total_relation_size(to_regclass('ledger_transfers_keys')), 0),"
            " coalesce(pg_stat_get_dead_tuples(to_regclass('ledger_transfers_keys')), 0)"
        ).one()
    return {
        "rows": int(rows),
        "bytes": int(size),
        "dead_tuples": int(dead),
        "key_table_bytes": int(keys),
        "key_table_dead_tuples": int(keys_dead),
    }


def bench_retention(admin_url: str) -> dict[str, object]:
    with postgres_url(admin_url) as url:
        source = prepared(url, partitioned=False)
        fill_over_days(source, RETENTION_TRANSFERS, RETENTION_SPAN_DAYS)
        source.close()
        name = make_url(url).database
        with (
            postgres_url(admin_url, template=name) as plain_url,
            postgres_url(admin_url, template=name) as parted_url,
        ):
            return _retention_pair(plain_url, parted_url)


def _retention_pair(plain_url: str, parted_url: str) -> dict[str, object]:
    parted = chaindb.connect(parted_url)
    started = time.perf_counter()
    partitions.enable(parted, table="ledger_transfers", interval="month")
    enable_s = time.perf_counter() - started
    parted_before = table_figures(parted)
    started = time.perf_counter()
    dropped = partitions.drop_older(parted, older_than=timedelta(days=RETENTION_DAYS))
    drop_s = time.perf_counter() - started
    time.sleep(1)  # the statistics of the last statements reach the shared counters
    parted_after = table_figures(parted)
    cutoff = max(d.upper for d in dropped)

    plain = chaindb.connect(plain_url)
    plain_before = table_figures(plain)
    with plain.engine.connect() as conn:
        started = time.perf_counter()
        deleted = conn.execute(
            sa.text("DELETE FROM ledger_transfers WHERE created_at < :cutoff"), {"cutoff": cutoff}
        ).rowcount
        conn.commit()
        delete_s = time.perf_counter() - started
    time.sleep(1)
    plain_after_delete = table_figures(plain)
    vacuum_s = run_alone(plain, "VACUUM ledger_transfers")
    time.sleep(1)
    plain_after_vacuum = table_figures(plain)
    result = {
        "transfers": RETENTION_TRANSFERS,
        "span_days": RETENTION_SPAN_DAYS,
        "retention_days": RETENTION_DAYS,
        "drop": {
            "enable_s": round(enable_s, 2),
            "seconds": round(drop_s, 3),
            "seconds_table_locked": round(sum(d.drop_s for d in dropped), 3),
            "seconds_pruning_keys": round(sum(d.keys_s for d in dropped), 3),
            "keys_pruned": sum(d.keys_pruned for d in dropped),
            "partitions_dropped": [d.partition for d in dropped],
            "rows_removed": sum(d.rows for d in dropped),
            "before": parted_before,
            "after": parted_after,
            "ledger_check_clean": ledger.check_ledger(parted).ok,
        },
        "delete": {
            "seconds": round(delete_s, 3),
            "vacuum_s": round(vacuum_s, 3),
            "rows_removed": deleted,
            "before": plain_before,
            "after_delete": plain_after_delete,
            "after_vacuum": plain_after_vacuum,
        },
    }
    for db in (parted, plain):
        db.close()
    return result


def main() -> None:
    admin_url = postgres_admin_url()
    report: dict[str, object] = {
        "benchmark": "partitions",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "users": USERS,
        "batch_size": BATCH,
    }
    if not admin_url:
        report["postgresql"] = PG_SKIPPED
    else:
        report["postgresql"] = {
            "insert_rate": bench_insert_rate(admin_url),
            "retention": bench_retention(admin_url),
        }
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()

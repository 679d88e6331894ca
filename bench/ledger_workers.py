"""Single transfers from several processes at once, on PostgreSQL. Prints JSON.

    make bench                      # with the throwaway PostgreSQL (fsync on)
    python bench/ledger_workers.py  # needs CHAINDB_TEST_PG_URL (or CHAINDB_BENCH_PG_URL)

WORKERS processes each send TRANSFERS_PER_WORKER transfers, one per commit, between random
accounts: once among 1,000 accounts, once among 10 hot ones (contention on the same rows).
Reported per workload: transfers per second, client CPU per transfer (the workers' own CPU
time, user + system, over their loops of transfers: not the interpreter's start and imports),
server transactions per transfer (the database's xact_commit delta, counted after the
workers' connections end; the same less the workers' logins, each a transaction to
PostgreSQL; and less the board's upkeep too: what the transfers committed themselves), and
errors that reached a worker. Targets: exactly 1.0 server transaction per transfer (its own),
client CPU <= 0.25 ms.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

import chaindb
from chaindb import migrations
from chaindb.ledger.schema import POINTS_ASSET_ID
from databases import PG_SKIPPED, create_users, fund_users, postgres_admin_url, postgres_url

# The module (chaindb.ledger's face exports a function of that name).
leaderboard = importlib.import_module("chaindb.ledger.leaderboard")

WORKERS = 4
TRANSFERS_PER_WORKER = int(os.environ.get("BENCH_WORKER_TRANSFERS", "2500"))
WORKLOADS = {"1000_accounts": 1_000, "10_hot_accounts": 10}
STATS_POLLS_MAX = 200

WORKER = """
import json, random, sys, time
import chaindb
from chaindb import ledger
url, seed, count, accounts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
db = chaindb.connect(url)
pick = random.Random(seed)
pairs = [pick.sample(range(accounts), 2) for _ in range(count)]
errors = 0
cpu_started, started = time.process_time(), time.perf_counter()
for debit, credit in pairs:
    try:
        ledger.transfer(
            db, debit=f"user:u{debit}", credit=f"user:u{credit}", amount=1, kind="transfer"
        )
    except Exception as error:
        errors += 1
        print(repr(error), file=sys.stderr)
seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
db.close()
print(json.dumps({"seconds": seconds, "errors": errors, "cpu_s": cpu_s}))
"""


def run_workers(url: str, accounts: int, count: int) -> list[dict[str, Any]]:
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, url, str(seed), str(count), str(accounts)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for seed in range(WORKERS)
    ]
    return [json.loads(worker.communicate()[0]) for worker in workers]


def commits(admin: sa.Engine, name: str) -> tuple[int, int]:
    """xact_commit and sessions (logins) once every backend of the database has ended (and
    flushed its counts). PostgreSQL counts a login as a committed transaction too: its
    startup reads the catalogs in one."""
    query = sa.text(
        "SELECT xact_commit, sessions, "
        "(SELECT count(*) FROM pg_stat_activity WHERE datname = :n) "
        "FROM pg_stat_database WHERE datname = :n"
    )
    with admin.connect() as conn:
        for _ in range(STATS_POLLS_MAX):
            committed, sessions, alive = conn.execute(query, {"n": name}).one()
            if alive == 0:
                return int(committed), int(sessions)
            time.sleep(0.05)
    raise RuntimeError("backends did not end")


def workload(url: str, admin: sa.Engine, accounts: int) -> dict[str, Any]:
    name = make_url(url).database
    autovacuums_before = autovacuum_runs(url)
    with autovacuum_held_off(url):
        committed_before, logins_before = commits(admin, name)
        done = run_workers(url, accounts, TRANSFERS_PER_WORKER)
        committed_after, logins_after = commits(admin, name)
        # The board's upkeep: each worker checks the board after every BOARD_CHECK_EVERY of
        # its transfers (a read, and a VACUUM of the board), measured here on its own (a
        # check that moved a floor would cost one more: none can here, every account is on
        # the board).
        board_checks = WORKERS * (TRANSFERS_PER_WORKER // leaderboard.BOARD_CHECK_EVERY)
        upkeep = board_checks * board_check_transactions(url, admin)
    autovacuums = autovacuum_runs(url) - autovacuums_before
    transfers = WORKERS * TRANSFERS_PER_WORKER
    busy_cpu = sum(w["cpu_s"] for w in done)
    committed, logins = committed_after - committed_before, logins_after - logins_before
    return {
        "transfers": transfers,
        "transfers_per_s": round(transfers / max(w["seconds"] for w in done)),
        "client_cpu_ms_per_transfer": round(busy_cpu / transfers * 1000, 3),
        "server_transactions_per_transfer": round(committed / transfers, 4),
        "server_logins": logins,
        "server_transactions_per_transfer_after_logins": round((committed - logins) / transfers, 4),
        "board_upkeep_transactions": upkeep,
        # Autovacuum's runs commit transactions too (held off the tables meanwhile, so 0;
        # were it not, the figure below would hold theirs).
        "autovacuum_runs_during": autovacuums,
        # What the transfers themselves committed: the rest.
        "server_transactions_per_transfer_own": round((committed - logins - upkeep) / transfers, 4),
        "errors": sum(w["errors"] for w in done),
    }


def own_engine(url: str) -> sa.Engine:
    """An engine of the benchmark's own, its connection closed on return (`commits` waits for
    every backend of the database to end)."""
    return sa.create_engine(
        make_url(url).set(drivername="postgresql+psycopg"), poolclass=sa.pool.NullPool
    )


@contextlib.contextmanager
def autovacuum_held_off(url: str) -> Iterator[None]:
    """Autovacuum off on the database's tables while the workload runs: its runs commit
    transactions of their own, which xact_commit counts with the transfers' (measured: 6
    runs, 32 transactions, during one workload of a `make bench`). Set and reset on a
    connection of its own, outside the windows `commits` measures."""
    engine = own_engine(url)
    with engine.begin() as conn:
        found = conn.exec_driver_sql(
            "SELECT quote_ident(c.relname) FROM pg_class c JOIN pg_namespace n"
            " ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r'"
        )
        tables = found.scalars().all()
        for table in tables:
            conn.exec_driver_sql(
                f"ALTER TABLE {table} SET"
                " (autovacuum_enabled = false, toast.autovacuum_enabled = false)"
            )
    try:
        yield
    finally:
        with engine.begin() as conn:
            for table in tables:
                conn.exec_driver_sql(
                    f"ALTER TABLE {table} RESET (autovacuum_enabled, toast.autovacuum_enabled)"
                )
        engine.dispose()


def autovacuum_runs(url: str) -> int:
    """Autovacuum's and autoanalyze's runs on the database's tables so far (read on a
    connection of its own, outside the windows `commits` measures)."""
    engine = own_engine(url)
    with engine.connect() as conn:
        runs = conn.exec_driver_sql(
            "SELECT coalesce(sum(autovacuum_count + autoanalyze_count), 0) FROM pg_stat_user_tables"
        ).scalar_one()
    engine.dispose()
    return int(runs)


def board_check_transactions(url: str, admin: sa.Engine) -> int:
    """The server transactions of one board check (ledger.leaderboard.after_write's), less
    the login of the connection that made it."""
    name = make_url(url).database
    committed_before, logins_before = commits(admin, name)
    db = chaindb.connect(url)
    leaderboard.after_write(db, [POINTS_ASSET_ID] * leaderboard.BOARD_CHECK_EVERY)
    db.close()
    committed_after, logins_after = commits(admin, name)
    return (committed_after - committed_before) - (logins_after - logins_before)


def main() -> None:
    report: dict[str, Any] = {
        "benchmark": "ledger_workers",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "workers": WORKERS,
        "transfers_per_worker": TRANSFERS_PER_WORKER,
    }
    admin_url = postgres_admin_url()
    if not admin_url:
        report["postgresql"] = PG_SKIPPED
    else:
        admin = sa.create_engine(
            make_url(admin_url).set(drivername="postgresql+psycopg"),
            isolation_level="AUTOCOMMIT",
            poolclass=sa.pool.NullPool,
        )
        with postgres_url(admin_url) as url:
            db = chaindb.connect(url)
            migrations.migrate(db)
            create_users(db, max(WORKLOADS.values()))
            fund_users(db, count=max(WORKLOADS.values()), amount=10**30)
            db.close()
            report["postgresql"] = {
                label: workload(url, admin, accounts) for label, accounts in WORKLOADS.items()
            }
        admin.dispose()
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()

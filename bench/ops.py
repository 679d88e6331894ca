"""Export, import, backup and restore at volume, against the backends' own floors. Prints JSON.

    make bench                  # a throwaway PostgreSQL (fsync on) and SQLite
    python bench/ops.py         # SQLite only, unless CHAINDB_TEST_PG_URL is set
    BENCH_OPS_ROWS=100000 python bench/ops.py     # a quicker run
    BENCH_OPS_BACKENDS=postgresql python bench/ops.py     # one backend (default: both)

A ledger of BENCH_OPS_ROWS transfers (default 1M) between 1,000 users is written by batches,
then:
- export: chaindb's JSON Lines export of the ledger's tables, in a child process whose peak
  RSS is read (target <= 200 MB; and its anonymous part, without the file pages it maps),
  against the floor of reading the same rows with the driver alone (PostgreSQL: COPY ... TO
  STDOUT; SQLite: a cursor written out as CSV); once the tables are vacuumed and analyzed,
  three times alternated with the floor, the median of each;
- import: the export loaded into a fresh migrated database with validation on, against the
  floor of loading the same rows with the driver alone (PostgreSQL: COPY FROM; SQLite:
  executemany);
- backup and restore of the whole database, first grown to BENCH_OPS_BACKUP_MB (default
  1024) with performance-metric rows (its size is reported; the restore includes its checks).
Targets: export >= 0.5x its floor, import >= 0.3x its floor.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import chaindb
from chaindb import games, ledger, migrations
from chaindb.ops.backup import backup
from chaindb.ops.restore import restore
from databases import (
    PG_SKIPPED,
    create_users,
    fund_users,
    postgres_admin_url,
    postgres_url,
    sqlite_url,
)

ROWS = int(os.environ.get("BENCH_OPS_ROWS", "1000000"))
USERS = 1_000
START = 2**200
BATCH = 1_000
BACKUP_MB = int(os.environ.get("BENCH_OPS_BACKUP_MB", "1024"))
METRIC_SEED_ROWS = 10_000
BACKENDS = os.environ.get("BENCH_OPS_BACKENDS", "sqlite,postgresql").split(",")
EXPORT_ROUNDS = 3  # the export and its floor, alternated; the median of each
EXPORTED_TABLES = ["users", "ledger_assets", "ledger_accounts", "ledger_transfers", "ledger_holds"]


def fill(db: chaindb.Database) -> None:
    migrations.migrate(db)
    create_users(db, USERS)
    fund_users(db, count=USERS, amount=2**200)
    pick = random.Random(7)
    for _ in range((ROWS - USERS) // BATCH):
        pairs = [pick.sample(range(USERS), 2) for _ in range(BATCH)]
        ledger.transfer_batch(
            db,
            [
                {
                    "debit": f"user:u{debit}",
                    "credit": f"user:u{credit}",
                    "amount": pick.randrange(1, 2**64),
                    "kind": "transfer",
                }
                for debit, credit in pairs
            ],
        )


EXPORT_CHILD = """
import json, sys, threading, time
from pathlib import Path
import chaindb
from chaindb.ops.export import export_rows, export_tables
def status_kib(key):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(key + ":"))
peak_anon_kib = 0
def sample_anon():  # RssAnon: the process's own memory, without the file pages it maps
    global peak_anon_kib
    while True:
        peak_anon_kib = max(peak_anon_kib, status_kib("RssAnon"))
        time.sleep(0.05)
threading.Thread(target=sample_anon, daemon=True).start()
db = chaindb.connect(sys.argv[1])
export_tables(db)  # the modules' faces imported, once a process, as `import chaindb` is
started = time.perf_counter()
export_rows(db, output=Path(sys.argv[2]), tables=sys.argv[3:])
seconds = time.perf_counter() - started
peak_mb = round(status_kib("VmHWM") / 1024, 1)
anon_mb = round(peak_anon_kib / 1024, 1)
print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_mb, "peak_anon_mb": anon_mb}))
"""


def child_export(url: str, output: Path) -> dict[str, Any]:
    """chaindb's export in a process of its own: its time (the interpreter's start and the
    modules' imports aside: on a loaded machine they took longer than 200k rows) and
    its peak resident memory, whatever the table's size: VmHWM, the process's own (Linux).
    Not getrusage's ru_maxrss, which in a child also holds the parent's peak (carried over the
    vfork and exec that start it): this process's, which has held a million rows at once."""
    ran = subprocess.run(
        [sys.executable, "-c", EXPORT_CHILD, url, str(output), *EXPORTED_TABLES],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(ran.stdout)


def floor_export(db: chaindb.Database, output: Path) -> float:
    started = time.perf_counter()
    with db.connection() as conn, output.open("w") as out:
        if db.backend == "postgresql":  # the driver alone: not chaindb's 30 s default
            conn.exec_driver_sql("SET statement_timeout = 0")
        driver = conn.connection.driver_connection
        for table in EXPORTED_TABLES:
            if db.backend == "postgresql":
                with driver.cursor() as cursor, cursor.copy(f"COPY {table} TO STDOUT") as copy:  # type: ignore[union-attr]
                    for block in copy:
                        out.write(bytes(block).decode())
            else:
                writer = csv.writer(out)
                for row in driver.execute(f"SELECT * FROM {table}"):  # type: ignore[union-attr]
                    writer.writerow(row)
    return time.perf_counter() - started


def timed_import(url: str, dump: Path) -> float:
    target = chaindb.connect(url)
    migrations.migrate(target)
    started = time.perf_counter()
    from chaindb.ops.importing import import_rows

    import_rows(target, [dump], on_conflict="update")
    seconds = time.perf_counter() - started
    target.close()
    return seconds


def floor_import(source: chaindb.Database, url: str) -> float:
    """The same rows, read first (not timed), loaded with the driver alone."""
    target = chaindb.connect(url)
    migrations.migrate(target)
    tables = {}
    with source.read() as conn:
        for table in EXPORTED_TABLES:
            tables[table] = conn.exec_driver_sql(f"SELECT * FROM {table}").all()
    started = time.perf_counter()
    with target.transaction() as conn:
        if target.backend == "postgresql":  # the driver alone: not chaindb's 30 s default
            conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
        driver = conn.connection.driver_connection
        for table, rows in tables.items():
            if not rows:
                continue
            if target.backend == "postgresql":
                with driver.cursor() as cursor:  # type: ignore[union-attr]
                    cursor.execute(f"DELETE FROM {table}")
                    with cursor.copy(f"COPY {table} FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(tuple(row))
            else:
                driver.execute(f"DELETE FROM {table}")  # type: ignore[union-attr]
                marks = ", ".join("?" * len(rows[0]))
                driver.executemany(
                    f"INSERT INTO {table} VALUES ({marks})", [tuple(r) for r in rows]
                )  # type: ignore[union-attr]
    seconds = time.perf_counter() - started
    target.close()
    return seconds


def settle(db: chaindb.Database) -> None:
    """PostgreSQL: the filled tables vacuumed and analyzed now, not by autovacuum during a
    measurement (right after the fill it took a core from whichever of the export and its
    floor ran first: the same export measured 0.17 and 0.64 of COPY)."""
    if db.backend != "postgresql":
        return
    with db.connection() as conn:
        autocommit = conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in EXPORTED_TABLES:
            autocommit.exec_driver_sql(f"VACUUM (ANALYZE) {table}")


def bench(url: str, second_url: str, third_url: str) -> dict[str, Any]:
    db = chaindb.connect(url)
    fill(db)
    with db.read() as conn:
        rows = sum(
            conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar_one() for t in EXPORTED_TABLES
        )
    result: dict[str, Any] = {"backend": db.backend, "rows": rows}
    settle(db)
    with tempfile.TemporaryDirectory() as scratch:
        dump = Path(scratch) / "ledger.jsonl"
        exports, floors = [], []
        for _ in range(EXPORT_ROUNDS):  # alternated: both see the same machine
            exports.append(child_export(url, dump))
            floors.append(floor_export(db, Path(scratch) / "floor.out"))
        export_s = statistics.median(e["seconds"] for e in exports)
        floor_s = statistics.median(floors)
        result["export"] = {
            "rows_per_s": round(rows / export_s),
            "floor_rows_per_s": round(rows / floor_s),
            "vs_floor": round(floor_s / export_s, 3),
            "vs_floor_each_round": [
                round(f / e["seconds"], 3) for e, f in zip(exports, floors, strict=True)
            ],
            "peak_rss_mb": max(e["peak_rss_mb"] for e in exports),
            "peak_anon_rss_mb": max(e["peak_anon_mb"] for e in exports),
            "file_mb": round(dump.stat().st_size / 2**20, 1),
        }
        import_s = timed_import(second_url, dump)
        floor_in_s = floor_import(db, third_url)
        result["import"] = {
            "rows_per_s": round(rows / import_s),
            "floor_rows_per_s": round(rows / floor_in_s),
            "vs_floor": round(floor_in_s / import_s, 3),
        }
        grow(db, BACKUP_MB)
        started = time.perf_counter()
        made = backup(db, directory=Path(scratch) / "backups")
        backup_s = time.perf_counter() - started
        target = chaindb.connect(third_url)
        started = time.perf_counter()
        checked = restore(made.path, to=target, clean=True)
        restore_s = time.perf_counter() - started
        target.close()
        result["backup"] = {
            "database_mb": round(_size_mb(db), 1),
            "backup_mb": round(made.manifest.size_bytes / 2**20, 1),
            "backup_s": round(backup_s, 2),
            "restore_and_check_s": round(restore_s, 2),
            "restored_ok": checked.ok,
        }
    db.close()
    return result


def grow(db: chaindb.Database, target_mb: int) -> None:
    """Metric samples (games' performance_metrics: rows no invariant ties to others), doubled
    in SQL until the database holds target_mb."""
    with db.transaction() as conn:
        for n in range(METRIC_SEED_ROWS):
            games.record_metric(
                conn, metric_name="latency_ms", value=n / 7, labels={"node": f"n{n % 16}"}
            )
    columns = "metric_name, value, labels, labels_key, recorded_at, rolled_up"
    rows = METRIC_SEED_ROWS
    while (size_mb := _size_mb(db)) < target_mb:
        added = min(rows, int(rows * (target_mb - size_mb) / size_mb) + 1)  # at most doubled
        with db.transaction() as conn:
            conn.exec_driver_sql(
                f"INSERT INTO performance_metrics ({columns}) "
                f"SELECT {columns} FROM performance_metrics LIMIT {added}"
            )
        rows += added


def _size_mb(db: chaindb.Database) -> float:
    with db.connection() as conn:
        if db.backend == "postgresql":
            size = conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar_one()
        else:
            size = Path(db.url.database or "").stat().st_size
    return size / 2**20


def main() -> None:
    report: dict[str, Any] = {
        "benchmark": "ops",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "rows_target": ROWS,
        "results": [],
    }
    if "sqlite" in BACKENDS:
        with sqlite_url() as a, sqlite_url() as b, sqlite_url() as c:
            report["results"].append(bench(a, b, c))
    admin = postgres_admin_url()
    if "postgresql" in BACKENDS and admin:
        with postgres_url(admin) as a, postgres_url(admin) as b, postgres_url(admin) as c:
            report["results"].append(bench(a, b, c))
    elif "postgresql" in BACKENDS:
        report["results"].append({"backend": "postgresql", "status": PG_SKIPPED})
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()

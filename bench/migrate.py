"""How long migrate (empty -> head), status and validate take, on each backend. Prints JSON.

make bench                       # starts a throwaway PostgreSQL, runs both backends
python bench/migrate.py          # SQLite only, unless CHAINDB_TEST_PG_URL is set
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import chaindb
from chaindb import migrations
from chaindb.migrations.modules import RevisionGraph
from databases import PG_SKIPPED, postgres_admin_url, postgres_url, sqlite_url

ROUNDS = 10
SCALE_FILES = 500  # validate and status must stay fast with many migration files


def write_scale_module(directory: Path) -> None:
    for number in range(1, SCALE_FILES + 1):
        down = f"'bulk_{number - 1:04d}'" if number > 1 else "None"
        labels = "('bulk',)" if number == 1 else "None"
        depends = "'core_0001'" if number == 1 else "None"
        (directory / f"bulk_{number:04d}_step.py").write_text(
            f'"""bulk step {number}"""\n'
            f"revision = 'bulk_{number:04d}'\ndown_revision = {down}\n"
            f"branch_labels = {labels}\ndepends_on = {depends}\n\n"
            "def upgrade():\n    pass\n\ndef downgrade():\n    pass\n"
        )


def timed_ms(action: Callable[[], object], rounds: int = ROUNDS) -> dict[str, float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return {
        "median_ms": round(statistics.median(samples), 2),
        "min_ms": round(min(samples), 2),
        "max_ms": round(max(samples), 2),
        "rounds": rounds,
    }


def migrate_from_empty(db: chaindb.Database) -> None:
    migrations.reset(db)
    migrations.migrate(db)


def bench_scale(url: str) -> dict[str, object]:
    """status and validate with SCALE_FILES applied migrations in one more module."""
    with tempfile.TemporaryDirectory() as directory:
        write_scale_module(Path(directory))
        os.environ["CHAINDB_MODULE_PATHS"] = f"bulk={directory}"
        db = chaindb.connect(url)
        try:
            migrate = timed_ms(lambda: migrations.migrate(db), rounds=1)
            return {
                "backend": db.backend,
                "migration_files": SCALE_FILES + 1,
                "migrate_all": migrate,
                "status": timed_ms(lambda: migrations.status(db), rounds=3),
                "validate": timed_ms(lambda: migrations.validate(db), rounds=3),
            }
        finally:
            db.close()
            del os.environ["CHAINDB_MODULE_PATHS"]


def bench_backend(url: str) -> dict[str, object]:
    db = chaindb.connect(url)
    try:
        result = {
            "backend": db.backend,
            "migrate_empty_to_head": timed_ms(lambda: migrate_from_empty(db)),
            "status": timed_ms(lambda: migrations.status(db)),
            "validate": timed_ms(lambda: migrations.validate(db)),
            "revisions": len(RevisionGraph.load().revisions),
        }
    finally:
        db.close()
    return result


def main() -> None:
    results: list[dict[str, object]] = []
    report: dict[str, object] = {
        "benchmark": "migrate",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "results": results,
    }
    with sqlite_url() as url:
        results.append(bench_backend(url))
    with sqlite_url() as url:
        results.append(bench_scale(url))
    admin_url = postgres_admin_url()
    if admin_url:
        with postgres_url(admin_url) as url:
            results.append(bench_backend(url))
        with postgres_url(admin_url) as url:
            results.append(bench_scale(url))
    else:
        report["postgresql"] = PG_SKIPPED
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()

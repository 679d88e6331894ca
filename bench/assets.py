"""Assets benchmarks (PostgreSQL), printed as JSON:

- the minting queue's throughput with 1 and 4 worker processes (jobs/s, each job completed
  with its asset, version, cost and audit rows; the application's mint function returning at
  once, and chaindb's SolanaMinter building and signing offline), against the floor: a bare
  `DELETE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED LIMIT 1)` loop on the same server.
  The 4 workers fill one merkle tree, then 4 trees (one a worker: their claims do not queue
  on one tree's row);
- check_access p50/p99 with GRANTS grants in the table;
- the seed's usage queries p50/p99 with ASSETS assets.

    python bench/assets.py [JOBS] [GRANTS] [ASSETS] [BATCH]
                                        (defaults 5000, 1000000, 1000000, 10 jobs a claim)

Each throughput is the median of ASSETS_BENCH_ROUNDS (3) rounds, queue and floor alternating,
of 5,000 jobs by default: with 2,000, the workers' start was a larger share of the floor's
shorter run than of the queue's (its ratio 0.47 against 0.43 with 5,000).
The machine's load average is printed with the figures (before and after): on a shared
machine it says how far the throughput figures are from a quiet run's.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))

from bench.databases import PG_SKIPPED, postgres_admin_url, postgres_url
from tests.assets.conftest import ALICE, BOB, enqueue, minter, register, wallet

import chaindb
from chaindb import assets, migrations

SAMPLES = 500
BATCH_SIZE = 10
ROUNDS = int(os.environ.get("ASSETS_BENCH_ROUNDS", "3"))


def b58(prefix: str, number: str) -> str:
    """SQL: a base58 spelling of a generated number (0 is not a base58 digit)."""
    return f"'{prefix}' || lpad(translate(({number})::text, '0', 'o'), 40, 'z')"


def b58_of(prefix: str, number: int) -> str:
    return prefix + str(number).replace("0", "o").rjust(40, "z")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * share))], 3)


def timed_ms(call, samples: int = SAMPLES) -> dict[str, float]:
    times = []
    for n in range(samples):
        started = time.perf_counter()
        call(n)
        times.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": percentile(times, 0.5), "p99_ms": percentile(times, 0.99)}


def mint_at_once(batch: assets.ClaimedBatch) -> assets.MintReceipt:
    """An application's mint function that returns at once (the README's example): what is
    measured is the queue's own work, as a task queue is measured with tasks that do nothing."""
    return assets.MintReceipt(items=[assets.MintedItem(job_id=job.id) for job in batch.jobs])


MINTERS = {"at_once": lambda: mint_at_once, "solana_minter": minter}


def _worker(url: str, batch_size: int, mint: str) -> None:
    db = chaindb.connect(url)
    assets.run_worker(db, mint=MINTERS[mint](), once=True, batch_size_max=batch_size)
    db.close()


def queue_throughput(
    url: str,
    jobs: int,
    workers: int,
    batch_size: int = BATCH_SIZE,
    mint: str = "at_once",
    trees: int = 1,
) -> float:
    db = chaindb.connect(url)
    migrations.migrate(db)
    for tree in range(trees):
        register(db, f"bench-{workers}-{tree}", depth=20, buffer=64, canopy_depth=3)
    for n in range(jobs):
        enqueue(db, f"w{workers}-{n}")
    started = time.perf_counter()
    processes = [
        multiprocessing.Process(target=_worker, args=(url, batch_size, mint))
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    elapsed = time.perf_counter() - started
    assert assets.queue_counts(db).get("completed") == jobs
    db.close()
    return round(jobs / elapsed, 1)


def _floor_worker(url: str) -> None:
    db = chaindb.connect(url)
    with db.connection() as conn:
        while True:
            with conn.begin():
                gone = conn.exec_driver_sql(
                    "DELETE FROM bench_floor WHERE id = (SELECT id FROM bench_floor "
                    "ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING id"
                ).first()
            if gone is None:
                break
    db.close()


def floor_throughput(url: str, jobs: int, workers: int) -> float:
    db = chaindb.connect(url)
    with db.transaction() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS bench_floor")
        conn.exec_driver_sql("CREATE TABLE bench_floor (id bigserial PRIMARY KEY, body jsonb)")
        conn.exec_driver_sql(
            f"INSERT INTO bench_floor (body) SELECT '{{}}'::jsonb FROM generate_series(1, {jobs})"
        )
    started = time.perf_counter()
    processes = [multiprocessing.Process(target=_floor_worker, args=(url,)) for _ in range(workers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    db.close()
    return round(jobs / (time.perf_counter() - started), 1)


def queue_against_floor(
    admin: str, jobs: int, workers: int, batch_size: int, trees: int = 1
) -> dict:
    """ROUNDS rounds of the queue (with each mint function) and the floor, each on a new
    database, the order turning; the medians. The floor's one-job commits wait on the disk's
    flushes, and how many of them share a flush moved its rate by half from one run to the
    next (measured)."""
    rates: dict[str, list[float]] = {"floor": [], **{mint: [] for mint in MINTERS}}
    for turn in range(ROUNDS):
        order = ["floor", *MINTERS]
        for measured in order[turn % len(order) :] + order[: turn % len(order)]:
            with postgres_url(admin) as url:
                if measured == "floor":
                    rates["floor"].append(floor_throughput(url, jobs, workers))
                else:
                    rate = queue_throughput(url, jobs, workers, batch_size, measured, trees)
                    rates[measured].append(rate)
    median = {measured: statistics.median(rate) for measured, rate in rates.items()}
    return {
        "trees": trees,
        "jobs_per_s": median["at_once"],
        "floor_jobs_per_s": median["floor"],
        "ratio": round(median["at_once"] / median["floor"], 2),
        # chaindb's own mint function, offline: each job's transaction built and signed by
        # the payer and the tree delegate (two ed25519 signatures, ~0.13 ms of the worker's).
        "solana_minter_jobs_per_s": median["solana_minter"],
        "solana_minter_ratio": round(median["solana_minter"] / median["floor"], 2),
        "rounds": rates,
    }


def reads(url: str, grants: int, asset_count: int) -> dict[str, object]:
    """Bulk rows by SQL (the API writes them one transaction each: too slow for millions),
    then the API's reads on top."""
    db = chaindb.connect(url)
    migrations.migrate(db)
    register(db)
    for n in range(3):
        enqueue(db, f"r{n}")
    assets.run_worker(db, mint=minter(), once=True)
    (one, *_rest) = assets.list_assets(db, ALICE)
    with db.transaction() as conn:
        conn.exec_driver_sql("SET LOCAL statement_timeout = 0")  # the bulk fill takes minutes
        conn.exec_driver_sql(
            "INSERT INTO merkle_trees (tree_address, max_depth, max_buffer_size, canopy_depth, "
            f"capacity, next_leaf_index, authority_address) VALUES ('{wallet('big')}', 30, 2048, "
            f"13, {2**30}, {asset_count}, '{ALICE}')"
        )
        conn.exec_driver_sql(
            "INSERT INTO memory_assets (asset_id, owner_address, metadata, content_arweave_tx_id,"
            f" content_hash, merkle_tree, leaf_index) SELECT {b58('A', 'g')}, "
            f'{b58("W", "mod(g, 10000)")}, \'{{"name": "bulk"}}\', '
            f"'{one.content_arweave_tx_id}', '{one.content_hash}', '{wallet('big')}', g "
            f"FROM generate_series(1, {asset_count}) g"
        )
        conn.exec_driver_sql(
            "INSERT INTO access_grants (asset_id, grantee_address, granted_by) "
            "SELECT " + b58("A", f"mod(g, {asset_count}) + 1") + ", "
            f"{b58('G', 'g')}, '{ALICE}' FROM generate_series(1, {grants}) g"
        )
        conn.exec_driver_sql("ANALYZE")
    check = timed_ms(lambda n: assets.check_access(db, one.asset_id, BOB))
    owner = b58_of("W", 7)
    queries = {
        "user_assets": f"SELECT * FROM memory_assets WHERE owner_address = '{owner}' "
        "ORDER BY created_at DESC",
        "batch_statistics": "SELECT * FROM batch_statistics "
        "WHERE date >= CURRENT_DATE - INTERVAL '30 days'",
        "active_grants": "SELECT ag.*, ma.owner_address FROM access_grants ag JOIN memory_assets"
        f" ma ON ag.asset_id = ma.asset_id WHERE ag.grantee_address = '{b58_of('G', 7)}' "
        "AND ag.revoked_at IS NULL AND (ag.expires_at IS NULL OR ag.expires_at > NOW())",
        "costs_over_time": "SELECT DATE_TRUNC('day', timestamp) as date, COUNT(*) as operations,"
        " SUM(total_cost_lamports) as total_cost, AVG(total_cost_lamports) as avg_cost FROM "
        f"cost_tracking WHERE wallet_address = '{ALICE}' GROUP BY DATE_TRUNC('day', timestamp) "
        "ORDER BY date DESC",
    }
    usage = {}
    with db.connection() as conn:
        for name, sql in queries.items():
            usage[name] = timed_ms(lambda n, sql=sql: conn.exec_driver_sql(sql).all())
    db.close()
    return {"check_access": check, "usage_queries": usage}


def main() -> None:
    jobs = int(sys.argv[1]) if len(sys.argv) > 1 else 5_000
    grants = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    asset_count = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000
    batch_size = int(sys.argv[4]) if len(sys.argv) > 4 else BATCH_SIZE
    admin = postgres_admin_url()
    if admin is None:
        print(json.dumps({"postgresql": PG_SKIPPED}))
        return
    result: dict[str, object] = {
        "jobs": jobs,
        "batch_size": batch_size,
        "grants": grants,
        "assets": asset_count,
        "load_average_before": [round(load, 2) for load in os.getloadavg()],
    }
    for workers in (1, 4):
        result[f"queue_{workers}_workers"] = queue_against_floor(admin, jobs, workers, batch_size)
    result["queue_4_workers_4_trees"] = queue_against_floor(admin, jobs, 4, batch_size, trees=4)
    with postgres_url(admin) as url:
        result.update(reads(url, grants, asset_count))
    result["load_average_after"] = [round(load, 2) for load in os.getloadavg()]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Ledger throughput against the floor and the seed's approach, and leaderboard latency. JSON out.

    make bench                   # PostgreSQL with its default durability (fsync on) + SQLite FULL
    python bench/ledger.py       # SQLite only, unless CHAINDB_TEST_PG_URL is set

Three ways to record the same random transfers between USERS accounts, each with the same
durability settings on its backend (SQLite: WAL + synchronous=FULL; PostgreSQL: defaults):
- chaindb: ledger.transfer (one commit each) and ledger.transfer_batch (1,000 per commit);
- seed: insert the movement rows, then recompute both users' balances from all their rows
  (what calling update_user_points_balance after each insert does);
- floor: plain INSERTs of the same transfer rows into a copy of ledger_transfers (same columns,
  indexes, constraints), an INSERT per row (SQLAlchemy Core, the driver's executemany), one
  commit each and 1,000 per commit. For reference: the same into a bare table with only a
  primary key, and the batch inserted the way chaindb's batches insert: on PostgreSQL one
  binary COPY, on SQLite multi-row INSERTs (VALUES (...), (...), ...).
Measured at 10k and 100k existing transfers, each approach in 7 turns (medians); the
approaches compared with each other (the singles; the batches) run back to back, which goes
first alternating by round, so that a slow spell of the machine, or what one approach leaves
behind for the next turn, does not fall on one approach alone. The floor's batch rate against
the seed's is reported too. On PostgreSQL, the leaderboard's top 100 and a user's rank are
timed with 1M accounts.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import make_url

import chaindb
from chaindb import ledger, migrations
from chaindb.driver import CopyStatement, DriverStatement
from chaindb.ledger.accounts import close_boards
from chaindb.ledger.leaderboard import refill_closed_boards
from chaindb.ledger.schema import (
    POINTS_ASSET_ID,
    ledger_accounts,
    ledger_assets,
    ledger_transfers,
)
from chaindb.types import AmountType, UtcDateTime, amount_sum, utc_now
from databases import (
    PG_SKIPPED,
    create_users,
    fund_users,
    postgres_admin_url,
    postgres_url,
    sqlite_url,
)

USERS = 100
BATCH = 1_000
CHECKPOINTS = (10_000, 100_000)
# Each approach is measured in ROUNDS short turns, taken in turn with the others, and its median
# reported: a VM whose disk or CPU slows down for a while slows every approach alike.
ROUNDS = 7
SINGLE_SECONDS = 1.0  # each single-commit turn runs this long (and at least 50 ops)
BATCHES_MEASURED = 5  # per turn
LEADERBOARD_ACCOUNTS = 1_000_000
LATENCY_SAMPLES = 300

bench = sa.MetaData()
# The floor: the very same rows into a copy of ledger_transfers (same columns, constraints,
# indexes and foreign keys), with no balance kept.
for table in (ledger_assets, ledger_accounts, ledger_transfers):
    table.to_metadata(bench)
floor_transfers = ledger_transfers.to_metadata(bench, name="bench_floor_transfers")
for item in [*floor_transfers.indexes, *floor_transfers.constraints]:
    if item.name and not str(item.name).startswith("bench_"):
        item.name = "bench_" + str(item.name)
# For reference: the bare minimum, a table with a primary key and nothing else.
bare_transfers = sa.Table(
    "bench_bare_transfers",
    bench,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("asset_id", sa.BigInteger, nullable=False),
    sa.Column("debit_account_id", sa.BigInteger, nullable=False),
    sa.Column("credit_account_id", sa.BigInteger, nullable=False),
    sa.Column("amount", AmountType, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("phase", sa.String(8), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)
seed_transactions = sa.Table(
    "bench_seed_points_transactions",
    bench,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("user_id", sa.String(64), nullable=False, index=True),
    sa.Column("direction", sa.String(6), nullable=False),
    sa.Column("amount", AmountType, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)
seed_ledgers = sa.Table(
    "bench_seed_user_points_ledgers",
    bench,
    sa.Column("user_id", sa.String(64), primary_key=True),
    sa.Column("points_balance", AmountType, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)


def random_pairs(rng: random.Random, count: int) -> list[tuple[int, int, int]]:
    return [(*rng.sample(range(USERS), 2), rng.randint(1, 100)) for _ in range(count)]


# --- the three ways ---------------------------------------------------------------------------


def chaindb_single(db: chaindb.Database, pair: tuple[int, int, int]) -> None:
    a, b, amount = pair
    ledger.transfer(db, debit=f"user:u{a}", credit=f"user:u{b}", amount=amount, kind="transfer")


def chaindb_batch(db: chaindb.Database, pairs: list[tuple[int, int, int]]) -> None:
    ledger.transfer_batch(
        db,
        [
            {"debit": f"user:u{a}", "credit": f"user:u{b}", "amount": n, "kind": "transfer"}
            for a, b, n in pairs
        ],
    )


ACCOUNT_IDS: dict[int, int] = {}  # user number -> its points account, filled by the setup


def floor_rows(pairs: list[tuple[int, int, int]]) -> list[dict[str, object]]:
    """The rows chaindb writes for these transfers, as plain data."""
    now = utc_now()
    return [
        {
            "asset_id": 1,
            "debit_account_id": ACCOUNT_IDS[a],
            "credit_account_id": ACCOUNT_IDS[b],
            "amount": n,
            "kind": "transfer",
            "phase": "single",
            "created_at": now,
        }
        for a, b, n in pairs
    ]


def insert_single(table: sa.Table) -> Callable[[chaindb.Database, tuple[int, int, int]], None]:
    def insert(db: chaindb.Database, pair: tuple[int, int, int]) -> None:
        with db.transaction() as conn:
            conn.execute(table.insert(), floor_rows([pair]))

    return insert


def insert_batch(table: sa.Table) -> Callable[[chaindb.Database, list[tuple[int, int, int]]], None]:
    def insert(db: chaindb.Database, pairs: list[tuple[int, int, int]]) -> None:
        with db.transaction() as conn:
            conn.execute(table.insert(), floor_rows(pairs))

    return insert


floor_single, floor_batch = insert_single(floor_transfers), insert_batch(floor_transfers)
bare_single, bare_batch = insert_single(bare_transfers), insert_batch(bare_transfers)

FLOOR_COLUMNS = (
    "asset_id",
    "debit_account_id",
    "credit_account_id",
    "amount",
    "kind",
    "phase",
    "created_at",
)


def floor_copy_batch(db: chaindb.Database, pairs: list[tuple[int, int, int]]) -> None:
    """PostgreSQL only: the same rows in one binary COPY, as chaindb's batches insert them."""
    rows = floor_rows(pairs)
    with db.transaction() as conn:
        _floor_copy(conn.dialect).copy(conn, rows)


@functools.cache
def _floor_copy(dialect: sa.Dialect) -> CopyStatement:
    return CopyStatement(floor_transfers, FLOOR_COLUMNS, dialect)


def floor_rows_batch(db: chaindb.Database, pairs: list[tuple[int, int, int]]) -> None:
    """SQLite only: the same rows many to an INSERT (VALUES (...), (...), ...), as chaindb's
    batches insert them."""
    rows = floor_rows(pairs)
    with db.transaction() as conn:
        _floor_insert(conn.dialect).insert_rows(conn, rows)


@functools.cache
def _floor_insert(dialect: sa.Dialect) -> DriverStatement:
    values = {
        name: sa.bindparam(name, type_=floor_transfers.c[name].type) for name in FLOOR_COLUMNS
    }
    return DriverStatement(floor_transfers.insert().values(values), dialect, [])


def seed_single(db: chaindb.Database, pair: tuple[int, int, int]) -> None:
    """Insert the movement, then recompute each user's balance from all their rows."""
    a, b, amount = pair
    now = utc_now()
    with db.transaction() as conn:
        conn.execute(
            seed_transactions.insert(),
            [
                {"user_id": f"u{a}", "direction": "debit", "amount": amount, "created_at": now},
                {"user_id": f"u{b}", "direction": "credit", "amount": amount, "created_at": now},
            ],
        )
        for user in (f"u{a}", f"u{b}"):
            recompute_seed_balance(conn, user)


def recompute_seed_balance(conn: sa.Connection, user: str) -> None:
    t = seed_transactions.c
    credits, debits = conn.execute(
        sa.select(
            amount_sum(sa.case((t.direction == "credit", t.amount))),
            amount_sum(sa.case((t.direction == "debit", t.amount))),
        ).where(t.user_id == user)
    ).one()
    conn.execute(
        seed_ledgers.update()
        .where(seed_ledgers.c.user_id == user)
        .values(points_balance=max(credits - debits, 0), updated_at=utc_now())
    )


# --- measuring --------------------------------------------------------------------------------


def per_second_single(action: Callable[[tuple[int, int, int]], None], rng: random.Random) -> float:
    done, started = 0, time.perf_counter()
    while done < 50 or time.perf_counter() - started < SINGLE_SECONDS:
        action(random_pairs(rng, 1)[0])
        done += 1
    return done / (time.perf_counter() - started)


def per_second_batch(
    action: Callable[[list[tuple[int, int, int]]], None], rng: random.Random
) -> float:
    batches = [random_pairs(rng, BATCH) for _ in range(BATCHES_MEASURED)]
    started = time.perf_counter()
    for batch in batches:
        action(batch)
    return BATCH * BATCHES_MEASURED / (time.perf_counter() - started)


def in_turns(groups: list[dict[str, Callable[[], float]]]) -> dict[str, float]:
    """Run every measurement ROUNDS times; medians. The measurements of a group (approaches
    compared with each other) run back to back, and which goes first alternates by round: a
    slow spell of the machine, or what the turn before leaves behind (a WAL to checkpoint, a
    collector about to run), falls on each alike."""
    taken: dict[str, list[float]] = {name: [] for group in groups for name in group}
    for round_number in range(ROUNDS):
        for group in groups:
            names = list(group) if round_number % 2 == 0 else list(reversed(group))
            for name in names:
                taken[name].append(group[name]())
    return {name: statistics.median(values) for name, values in taken.items()}


def reference_floors(db: chaindb.Database, rng: random.Random) -> dict[str, Callable[[], float]]:
    """For reference, beside the floor: a bare table, and the batch inserted as chaindb's are
    (PostgreSQL: one COPY; SQLite: multi-row INSERTs)."""
    floors = {
        "bare_table_single_per_s": lambda: per_second_single(lambda p: bare_single(db, p), rng),
        "bare_table_batch_per_s": lambda: per_second_batch(lambda b: bare_batch(db, b), rng),
    }
    if db.backend == "postgresql":
        floors["floor_copy_batch_per_s"] = lambda: per_second_batch(
            lambda b: floor_copy_batch(db, b), rng
        )
    else:
        floors["floor_multirow_batch_per_s"] = lambda: per_second_batch(
            lambda b: floor_rows_batch(db, b), rng
        )
    return floors


def fill_to(db: chaindb.Database, target: int, rng: random.Random) -> None:
    """Bring every approach to `target` existing transfers (seed: 2 rows per transfer)."""
    while (existing := count(db, "ledger_transfers") - USERS) < target:
        pairs = random_pairs(rng, min(5_000, target - existing))
        for start in range(0, len(pairs), BATCH):
            chaindb_batch(db, pairs[start : start + BATCH])
            floor_batch(db, pairs[start : start + BATCH])
            now = utc_now()
            with db.transaction() as conn:
                conn.execute(
                    seed_transactions.insert(),
                    [
                        row
                        for a, b, n in pairs[start : start + BATCH]
                        for row in (
                            {
                                "user_id": f"u{a}",
                                "direction": "debit",
                                "amount": n,
                                "created_at": now,
                            },
                            {
                                "user_id": f"u{b}",
                                "direction": "credit",
                                "amount": n,
                                "created_at": now,
                            },
                        )
                    ],
                )
    with db.transaction() as conn:
        for user in range(USERS):
            recompute_seed_balance(conn, f"u{user}")


def count(db: chaindb.Database, table: str) -> int:
    with db.read() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


def bench_throughput(url: str) -> dict[str, object]:
    rng = random.Random(7)
    db = chaindb.connect(url)
    migrations.migrate(db)
    bench.create_all(db.engine)
    create_users(db, USERS)
    fund_users(db, count=USERS, amount=10**30)
    ACCOUNT_IDS.update({u: ledger.get_account(db, f"user:u{u}").id for u in range(USERS)})
    with db.transaction() as conn:
        conn.execute(
            seed_ledgers.insert(),
            [
                {"user_id": f"u{u}", "points_balance": 10**30, "updated_at": utc_now()}
                for u in range(USERS)
            ],
        )
        conn.execute(
            seed_transactions.insert(),
            [
                {
                    "user_id": f"u{u}",
                    "direction": "credit",
                    "amount": 10**30,
                    "created_at": utc_now(),
                }
                for u in range(USERS)
            ],
        )
    results = {}
    for checkpoint in CHECKPOINTS:
        fill_to(db, checkpoint, rng)
        singles = {
            "chaindb_single_per_s": lambda: per_second_single(lambda p: chaindb_single(db, p), rng),
            "seed_single_per_s": lambda: per_second_single(lambda p: seed_single(db, p), rng),
            "floor_single_per_s": lambda: per_second_single(lambda p: floor_single(db, p), rng),
        }
        batches = {
            "chaindb_batch_per_s": lambda: per_second_batch(lambda b: chaindb_batch(db, b), rng),
            "floor_batch_per_s": lambda: per_second_batch(lambda b: floor_batch(db, b), rng),
        }
        figures = in_turns([reference_floors(db, rng), singles, batches])
        figures = {k: round(v, 1) for k, v in figures.items()}
        for reference in ("copy", "multirow"):  # the floor inserting as chaindb does
            if f"floor_{reference}_batch_per_s" in figures:
                figures[f"batch_vs_floor_{reference}"] = round(
                    figures["chaindb_batch_per_s"] / figures[f"floor_{reference}_batch_per_s"], 3
                )
        figures.update(
            single_vs_floor=round(
                figures["chaindb_single_per_s"] / figures["floor_single_per_s"], 3
            ),
            batch_vs_floor=round(figures["chaindb_batch_per_s"] / figures["floor_batch_per_s"], 3),
            single_vs_seed=round(figures["chaindb_single_per_s"] / figures["seed_single_per_s"], 2),
            batch_vs_seed=round(figures["chaindb_batch_per_s"] / figures["seed_single_per_s"], 2),
            floor_batch_vs_seed=round(
                figures["floor_batch_per_s"] / figures["seed_single_per_s"], 2
            ),
        )
        results[f"at_{checkpoint}_transfers"] = figures
    report = ledger.check_ledger(db)
    results["ledger_check_ok"] = report.ok
    db.close()
    return results


def bench_leaderboard(url: str) -> dict[str, object]:
    """PostgreSQL: 1M accounts, written in SQL for speed, then the leaderboard timed."""
    os.environ["CHAINDB_STATEMENT_TIMEOUT_S"] = "900"  # the setup writes 1M rows in one go
    db = chaindb.connect(url)
    migrations.migrate(db)
    with db.transaction() as conn:
        conn.exec_driver_sql(
            f"INSERT INTO users (id, username) SELECT 'lb' || g, 'player ' || g "
            f"FROM generate_series(1, {LEADERBOARD_ACCOUNTS}) g"
        )
        # As the ledger's own bulk creation does: the board closed while the accounts go in,
        # then filled with the top 1,500 (else all 1M entered it: no steady state).
        close_boards(conn, {POINTS_ASSET_ID})
        conn.exec_driver_sql(
            "INSERT INTO ledger_accounts"
            " (asset_id, owner_type, owner_id, user_id, balance, credits_posted)"
            " SELECT 1, 'user', 'lb' || g, 'lb' || g, b, b"
            " FROM (SELECT g, floor(random() * 1000000)::numeric AS b"
            f" FROM generate_series(1, {LEADERBOARD_ACCOUNTS}) g) s"
        )
        refill_closed_boards(conn)
    with db.connection() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    top = latencies(lambda: ledger.leaderboard(db, limit=100))
    seed_query = latencies(
        lambda: run_sql(
            db,
            (
                "SELECT username, current_points as points, total_earned, total_burned, "
                "transaction_count as challenges_won FROM v_user_points_summary "
                "ORDER BY current_points DESC LIMIT 100"
            ),
        )
    )
    rank = latencies(
        lambda: ledger.user_rank(db, f"lb{random.randint(1, LEADERBOARD_ACCOUNTS)}"), 50
    )
    db.close()
    return {
        "accounts": LEADERBOARD_ACCOUNTS,
        "top_100": top,
        "seed_leaderboard_sql": seed_query,
        "user_rank_random_user": rank,
    }


def run_sql(db: chaindb.Database, sql: str) -> None:
    with db.read() as conn:
        conn.exec_driver_sql(sql).all()


def latencies(action: Callable[[], object], samples: int = LATENCY_SAMPLES) -> dict[str, float]:
    action()  # warm
    taken = []
    for _ in range(samples):
        started = time.perf_counter()
        action()
        taken.append((time.perf_counter() - started) * 1000)
    taken.sort()
    return {
        "p50_ms": round(statistics.median(taken), 3),
        "p99_ms": round(taken[int(len(taken) * 0.99) - 1], 3),
        "samples": samples,
    }


def postgres_durability(url: str) -> dict[str, str]:
    engine = sa.create_engine(make_url(url).set(drivername="postgresql+psycopg"))
    with engine.connect() as conn:
        settings = {
            name: conn.exec_driver_sql(f"SHOW {name}").scalar_one()
            for name in ("fsync", "synchronous_commit", "full_page_writes")
        }
    engine.dispose()
    return settings


def main() -> None:
    os.environ["CHAINDB_SQLITE_SYNCHRONOUS"] = "FULL"
    report: dict[str, object] = {
        "benchmark": "ledger",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "users": USERS,
        "batch_size": BATCH,
        "sqlite": {"durability": "WAL, synchronous=FULL"},
    }
    with sqlite_url() as url:
        report["sqlite"].update(bench_throughput(url))  # type: ignore[union-attr]
    admin_url = postgres_admin_url()
    if admin_url:
        with postgres_url(admin_url) as url:
            report["postgresql"] = {"durability": postgres_durability(url), **bench_throughput(url)}
        with postgres_url(admin_url) as url:
            report["postgresql"]["leaderboard"] = bench_leaderboard(url)  # type: ignore[index]
    else:
        report["postgresql"] = PG_SKIPPED
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()

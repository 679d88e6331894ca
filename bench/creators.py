"""Creators: plays recorded per second against plain INSERTs, a creator's dashboard at 10M plays,
and the oracle sync of 1,000 creators. JSON out.

    make bench                    # PostgreSQL with its default durability (fsync on) + SQLite FULL
    python bench/creators.py      # SQLite only, unless CHAINDB_TEST_PG_URL is set

Plays (100 creators x 10 tracks, half the plays with a listener):
- chaindb: creators.record_play (one commit each) and creators.record_plays (1,000 per commit),
  counters and daily statistics kept in the same transaction;
- floor: the same rows inserted into a copy of `plays` (same columns, indexes, constraints and
  foreign keys), an INSERT per row (SQLAlchemy Core, the driver's executemany), one commit
  each and 1,000 per commit; nothing else kept.
Each approach runs ROUNDS turns, back to back with the other, which goes first alternating by
round; medians reported. Dashboard (PostgreSQL): DASHBOARD_PLAYS plays generated on the server
(generate_series), counters and daily statistics built from them, then creator_dashboard of a
random creator timed LATENCY_SAMPLES times. Oracle: the sync of ORACLE_CREATORS creators with
news, on the in-process EVM, one pass (SQLite and PostgreSQL).
"""

from __future__ import annotations

import json
import os
import platform as host
import random
import statistics
import sys
import time
from collections.abc import Callable

import sqlalchemy as sa

import chaindb
from chaindb import core, creators, migrations
from chaindb.creators.schema import metadata as creators_metadata
from chaindb.creators.schema import plays
from chaindb.types import utc_now
from databases import PG_SKIPPED, postgres_admin_url, postgres_url, sqlite_url

CREATORS = 100
TRACKS_PER_CREATOR = 10
LISTENERS = 200
BATCH = 1_000
ROUNDS = 5
SINGLE_SECONDS = 1.0  # each single-commit turn runs this long (and at least 50 plays)
BATCHES_MEASURED = 3  # per turn
DASHBOARD_PLAYS = int(os.environ.get("CREATORS_BENCH_PLAYS", 10_000_000))
DASHBOARD_DAYS = 365
LATENCY_SAMPLES = 300
ORACLE_CREATORS = int(os.environ.get("CREATORS_BENCH_ORACLE", 1_000))
PARTS = os.environ.get("CREATORS_BENCH_PARTS", "plays,dashboard,oracle").split(",")

bench = sa.MetaData()
for table in (*core.metadata.tables.values(), *creators_metadata.tables.values()):
    table.to_metadata(bench)
floor_plays = plays.to_metadata(bench, name="bench_floor_plays")
for item in [*floor_plays.indexes, *floor_plays.constraints]:
    if item.name and not str(item.name).startswith("bench_"):
        item.name = "bench_" + str(item.name)

_clients = iter(range(10**12))


def setup(db: chaindb.Database) -> list[int]:
    """Migrated, with the creators, their tracks and the listeners; returns the track ids."""
    migrations.migrate(db)
    with db.transaction() as conn:
        conn.execute(
            core.metadata.tables["users"].insert(),
            [{"id": f"u{n}"} for n in range(LISTENERS)]
            + [{"id": f"c{n}"} for n in range(CREATORS)],
        )
    track_ids = []
    with db.transaction() as conn:
        for n in range(CREATORS):
            creator = creators.create_creator(conn, user_id=f"c{n}", stage_name=f"Creator {n}")
            for t in range(TRACKS_PER_CREATOR):
                track = creators.create_track(
                    conn,
                    creator_id=creator.id,
                    title=f"Track {t}",
                    duration_s=200,
                    file_cid="QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG",
                )
                track_ids.append(track.id)
    floor_plays.create(db.engine)
    return track_ids


def random_plays(rng: random.Random, tracks: list[int], count: int) -> list[dict[str, object]]:
    now = utc_now()
    return [
        {
            "track_id": rng.choice(tracks),
            "client_id": f"b{next(_clients)}",
            "listened_s": rng.randint(0, 240),
            "user_id": f"u{rng.randrange(LISTENERS)}" if rng.random() < 0.5 else None,
            "played_at": now,
            "source": "direct",
        }
        for _ in range(count)
    ]


def floor_rows(batch: list[dict[str, object]]) -> list[dict[str, object]]:
    now = utc_now()
    return [
        {**play, "recorded_at": now, "ip_hash": None, "user_agent_hash": None} for play in batch
    ]


def chaindb_single(db: chaindb.Database, batch: list[dict[str, object]]) -> None:
    creators.record_play(db, **batch[0])


def chaindb_batch(db: chaindb.Database, batch: list[dict[str, object]]) -> None:
    creators.record_plays(db, batch)


def floor_insert(db: chaindb.Database, batch: list[dict[str, object]]) -> None:
    with db.transaction() as conn:
        conn.execute(floor_plays.insert(), floor_rows(batch))


def turn(db, rng, tracks, write: Callable, size: int) -> float:
    """Plays per second over one turn."""
    done, started = 0, time.perf_counter()
    if size == 1:
        while time.perf_counter() - started < SINGLE_SECONDS or done < 50:
            write(db, random_plays(rng, tracks, 1))
            done += 1
    else:
        batches = [random_plays(rng, tracks, size) for _ in range(BATCHES_MEASURED)]
        started = time.perf_counter()
        for batch in batches:
            write(db, batch)
            done += size
    return done / (time.perf_counter() - started)


def compare(db, tracks, approaches: dict[str, Callable], size: int) -> dict[str, float]:
    rng = random.Random(7)
    rates: dict[str, list[float]] = {name: [] for name in approaches}
    names = list(approaches)
    for round_ in range(ROUNDS):
        for name in names if round_ % 2 == 0 else reversed(names):
            rates[name].append(turn(db, rng, tracks, approaches[name], size))
    return {name: round(statistics.median(values)) for name, values in rates.items()}


def plays_throughput(db: chaindb.Database) -> dict[str, object]:
    tracks = setup(db)
    single = compare(db, tracks, {"chaindb": chaindb_single, "floor": floor_insert}, 1)
    batch = compare(db, tracks, {"chaindb": chaindb_batch, "floor": floor_insert}, BATCH)
    problems = creators.verify(db)
    return {
        "single_per_s": single,
        "batch_of_1000_per_s": batch,
        "single_over_floor": round(single["chaindb"] / single["floor"], 2),
        "batch_over_floor": round(batch["chaindb"] / batch["floor"], 2),
        "targets": {"single_over_floor": 0.5, "batch_over_floor": 0.7},
        "counters_verified": problems == [],
    }


def generate_history(db: chaindb.Database, total_plays: int) -> None:
    """PostgreSQL: total_plays plays over DASHBOARD_DAYS days, generated on the server, and
    the counters and daily statistics they make (as record_plays would have kept them)."""
    statements = [
        f"""INSERT INTO plays (track_id, user_id, played_at, listened_s, source, client_id,
                recorded_at)
            SELECT t.id, NULL, now() - mod(g, {DASHBOARD_DAYS}) * interval '1 day', mod(g, 240),
                   'direct', 'gen' || g, now()
            FROM generate_series(1, {total_plays}) AS g
            JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM tracks) AS t
              ON t.n = mod(g, (SELECT count(*) FROM tracks))""",
        """UPDATE tracks SET play_count = c.n
           FROM (SELECT track_id, count(*) AS n FROM plays GROUP BY track_id) AS c
           WHERE tracks.id = c.track_id""",
        """UPDATE creators SET total_plays = c.n
           FROM (SELECT creator_id, sum(play_count) AS n FROM tracks GROUP BY creator_id) AS c
           WHERE creators.id = c.creator_id""",
        """INSERT INTO creator_daily_stats (creator_id, day, plays, listened_s)
           SELECT t.creator_id, CAST(timezone('UTC', p.played_at) AS date), count(*),
                  sum(p.listened_s)
           FROM plays p JOIN tracks t ON t.id = p.track_id GROUP BY 1, 2
           ON CONFLICT (creator_id, day) DO UPDATE SET plays = EXCLUDED.plays,
               listened_s = EXCLUDED.listened_s""",
        "ANALYZE",
    ]
    for statement in statements:
        with db.connection() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql("SET statement_timeout = 0")  # minutes, not chaindb's 30 s
            conn.exec_driver_sql(statement)


def dashboard_latency(db: chaindb.Database) -> dict[str, object]:
    started = time.perf_counter()
    generate_history(db, DASHBOARD_PLAYS)
    generated_s = time.perf_counter() - started
    with db.read() as conn:
        ids = [row[0] for row in conn.exec_driver_sql("SELECT id FROM creators")]
    rng = random.Random(11)
    samples = []
    for _ in range(LATENCY_SAMPLES):
        creator_id = rng.choice(ids)
        start = time.perf_counter()
        dashboard = creators.creator_dashboard(db, creator_id, days=30)
        samples.append((time.perf_counter() - start) * 1000)
        assert len(dashboard.days) == 30
    cuts = statistics.quantiles(samples, n=100)
    return {
        "plays": DASHBOARD_PLAYS,
        "generated_in_s": round(generated_s, 1),
        "dashboard_ms": {"p50": round(cuts[49], 2), "p99": round(cuts[98], 2)},
        "target_p99_ms": 10,
    }


def oracle_sync(db: chaindb.Database) -> dict[str, object]:
    """One oracle pass over ORACLE_CREATORS creators with news, on the in-process EVM."""
    from chaindb import chain

    migrations.migrate(db)
    with db.transaction() as conn:
        conn.execute(
            core.metadata.tables["users"].insert(),
            [{"id": f"o{n}"} for n in range(ORACLE_CREATORS)],
        )
        for n in range(ORACLE_CREATORS):
            creator = creators.create_creator(conn, user_id=f"o{n}", stage_name=f"O{n}")
            track = creators.create_track(
                conn,
                creator_id=creator.id,
                title="t",
                duration_s=100,
                file_cid="QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG",
            )
            creators.record_play(conn, track_id=track.id, client_id=f"o{n}", listened_s=1)
    node = chain.connect_chain()
    oracle = creators.deploy_oracle(db, node, node.funded_account(0))
    started = time.perf_counter()
    report = creators.sync_once(db, node, sender=node.funded_account(0), oracle_address=oracle)
    sent_s = time.perf_counter() - started
    node.tester.mine_blocks(node.confirmations_required)
    started = time.perf_counter()
    chain.track(db, node)  # what the next pass starts with: receipts, finality
    tracked_s = time.perf_counter() - started
    started = time.perf_counter()
    final = creators.sync_once(db, node, sender=node.funded_account(0), oracle_address=oracle)
    settled_s = time.perf_counter() - started
    return {
        "creators": ORACLE_CREATORS,
        "sent": report.sent,
        "send_pass_s": round(sent_s, 1),
        "updates_per_s": round(report.sent / sent_s, 1),
        "confirming_pass_s": {
            "chain_track": round(tracked_s, 1),
            "oracle_settle": round(settled_s, 1),
        },
        "confirmed": final.confirmed,
    }


def run(url_context, measure: Callable) -> dict[str, object]:
    with url_context as url:
        db = chaindb.connect(url)
        try:
            result = measure(db)
        finally:
            db.close()
    print(f"{measure.__name__} on {url.split(':')[0]}: {json.dumps(result)}", file=sys.stderr)
    return result


def main() -> None:
    """CREATORS_BENCH_PARTS (plays,dashboard,oracle) chooses what runs."""
    sqlite: dict[str, object] = {}
    results: dict[str, object] = {
        "machine": {"python": sys.version.split()[0], "platform": host.platform()},
        "sqlite": sqlite,
    }
    for part, measure in (("plays", plays_throughput), ("oracle", oracle_sync)):
        if part in PARTS:
            sqlite[part] = run(sqlite_url(), measure)
    admin = postgres_admin_url()
    if admin is None:
        results["postgresql"] = PG_SKIPPED
    else:
        postgresql: dict[str, object] = {}
        results["postgresql"] = postgresql
        for part, measure in (
            ("plays", plays_throughput),
            ("dashboard", _dashboard_setup),
            ("oracle", oracle_sync),
        ):
            if part in PARTS:
                postgresql[part] = run(postgres_url(admin), measure)
    print(json.dumps(results, indent=2))


def _dashboard_setup(db: chaindb.Database) -> dict[str, object]:
    setup(db)
    return dashboard_latency(db)


if __name__ == "__main__":
    main()

"""Partitioned plays on PostgreSQL (creators/partitions.py): what claiming client ids in the
key table costs the write path. JSON out.

    make bench                           # with the others (PostgreSQL, fsync on)
    python bench/partitions_plays.py     # needs CHAINDB_TEST_PG_URL (or CHAINDB_BENCH_PG_URL)

The same random plays (TRACKS tracks of one creator, a tenth of each batch's client ids sent
before) into two databases, one with plays plain, one partitioned by month (its client ids
in plays_keys): one commit each (creators.record_play) and 1,000 per commit
(creators.record_plays). The two run in turns, ROUNDS times, the first alternating; medians.
Both databases' creators check is run afterwards.
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import random
import sys
import time

import chaindb
from chaindb import core, creators, migrations
from chaindb.ops import partitions
from databases import PG_SKIPPED, postgres_admin_url, postgres_url
from partitions import in_turns

TRACKS = 10
BATCH = 1_000
SINGLE_SECONDS = 2.0  # each single-commit turn runs this long
BATCHES_PER_TURN = 3
RESENT_SHARE = 10  # one play in RESENT_SHARE repeats a client id already counted
CID = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"


def prepared(url: str, *, partitioned: bool) -> tuple[chaindb.Database, list[int]]:
    db = chaindb.connect(url)
    migrations.migrate(db)
    core.create_user(db, "mira", "mira")
    creator = creators.create_creator(db, user_id="mira", stage_name="Mira")
    tracks = [
        creators.create_track(
            db, creator_id=creator.id, title=f"Song {n}", duration_s=180, file_cid=CID
        ).id
        for n in range(TRACKS)
    ]
    if partitioned:
        partitions.enable(db, table="plays", interval="month")
    return db, tracks


class Plays:
    """Random plays with fresh client ids, some of them sent again."""

    def __init__(self, rng: random.Random, tracks: list[int]) -> None:
        self.rng, self.tracks, self.ids = rng, tracks, itertools.count()

    def __call__(self, count: int) -> list[dict[str, object]]:
        made = []
        for _ in range(count):
            n = next(self.ids)
            resent = n > RESENT_SHARE and self.rng.randrange(RESENT_SHARE) == 0
            client = self.rng.randrange(n) if resent else n
            made.append(
                {
                    "track_id": self.rng.choice(self.tracks),
                    "client_id": f"c{client}",
                    "listened_s": self.rng.randrange(1, 300),
                }
            )
        return made


def singles_per_second(db: chaindb.Database, plays: Plays) -> float:
    done, started = 0, time.perf_counter()
    while done < 50 or time.perf_counter() - started < SINGLE_SECONDS:
        creators.record_play(db, **plays(1)[0])  # type: ignore[arg-type]
        done += 1
    return done / (time.perf_counter() - started)


def batch_per_second(db: chaindb.Database, plays: Plays) -> float:
    batches = [plays(BATCH) for _ in range(BATCHES_PER_TURN)]
    started = time.perf_counter()
    for batch in batches:
        creators.record_plays(db, batch)
    return BATCH * BATCHES_PER_TURN / (time.perf_counter() - started)


def bench_plays(admin_url: str) -> dict[str, object]:
    rng = random.Random(4)
    with postgres_url(admin_url) as plain_url, postgres_url(admin_url) as parted_url:
        plain, plain_tracks = prepared(plain_url, partitioned=False)
        parted, parted_tracks = prepared(parted_url, partitioned=True)
        to_plain, to_parted = Plays(rng, plain_tracks), Plays(rng, parted_tracks)
        singles = in_turns(
            {
                "plain": lambda: singles_per_second(plain, to_plain),
                "partitioned": lambda: singles_per_second(parted, to_parted),
            }
        )
        batches = in_turns(
            {
                "plain": lambda: batch_per_second(plain, to_plain),
                "partitioned": lambda: batch_per_second(parted, to_parted),
            }
        )
        checks = [creators.verify(db) == [] for db in (plain, parted)]
        for db in (plain, parted):
            db.close()
    return {
        "single_commit_plays_per_s": singles,
        "batched_plays_per_s": batches,
        "partitioned_vs_plain_single": round(singles["partitioned"] / singles["plain"], 3),
        "partitioned_vs_plain_batched": round(batches["partitioned"] / batches["plain"], 3),
        "creators_checks_clean": all(checks),
    }


def main() -> None:
    admin_url = postgres_admin_url()
    report: dict[str, object] = {
        "benchmark": "partitions_plays",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "tracks": TRACKS,
        "batch_size": BATCH,
    }
    report["postgresql"] = bench_plays(admin_url) if admin_url else PG_SKIPPED
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()

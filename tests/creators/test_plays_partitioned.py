"""Plays partitioned by time (PostgreSQL, ops/partitions.py): a client id still counts once
across partitions, under concurrent writers too, and retention by dropping partitions keeps
every counter's check exact (creators/partitions.py)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from chaindb import creators
from chaindb.ops import partitions
from chaindb.ops.maintenance import run_maintenance
from chaindb.types import utc_now
from tests.creators.conftest import plays_of

on_postgres = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
OLD_DAYS = 130


def count(db, sql: str) -> int:
    with db.read() as conn:
        return conn.execute(sa.text(sql)).scalar_one()


@pytest.fixture
def platform(platform):
    """tests/creators' platform, plays a plain table to start with (the partitioned
    template's too): each test partitions it once its old plays are written."""
    plays = next(t for t in partitions.status(platform.db) if t.table == "plays")
    if plays.partitioned:
        partitions.disable(platform.db, table="plays")
    return platform


def partitioned(db) -> None:
    partitions.enable(db, table="plays", interval="month")


def play_count(platform, track) -> int:
    return creators.get_track(platform.db, track.id).play_count


@on_postgres
def test_a_client_id_counts_once_across_partitions(platform):
    db, track = platform.db, platform.tracks[0]
    old = utc_now() - timedelta(days=OLD_DAYS)
    creators.record_plays(db, plays_of(track.id, 3, played_at=old))
    creators.record_play(db, track_id=track.id, client_id="new", listened_s=5)
    partitioned(db)

    alone = creators.record_play(
        db, track_id=track.id, client_id=f"c-{track.id}-0", listened_s=30, played_at=utc_now()
    )  # the old partition's client id, sent again today: one statement
    batch = creators.record_plays(db, [*plays_of(track.id, 4), {**plays_of(track.id, 1)[0]}])

    assert (alone.recorded, alone.duplicates) == (0, 1)
    assert (batch.recorded, batch.duplicates) == (1, 4)  # c-…-3 is the one new client id
    assert play_count(platform, track) == 5
    assert creators.get_creator(db, platform.creator.id).total_plays == 5
    assert count(db, "SELECT count(*) FROM plays") == 5
    assert count(db, "SELECT count(*) FROM plays_keys") == 5
    assert creators.verify(db) == []
    # Written directly, a counted client id is refused by the key table, under its name.
    taken = pytest.raises(IntegrityError, match="uq_plays_client_id")
    with taken, db.transaction() as conn:
        conn.exec_driver_sql(
            "INSERT INTO plays (track_id, played_at, listened_s, source, client_id)"
            " SELECT track_id, now(), 1, source, client_id FROM plays WHERE client_id = 'new'"
        )


@on_postgres
def test_concurrent_writers_of_one_client_id_count_it_once(platform):
    db, track = platform.db, platform.tracks[1]
    partitioned(db)
    results, errors = [], []
    start = threading.Barrier(6)

    def write(worker: int) -> None:
        start.wait()
        try:
            if worker % 2:
                results.append(
                    creators.record_play(db, track_id=track.id, client_id="race", listened_s=9)
                )
            else:  # a batch naming it among others, some another batch's too
                sent = [*plays_of(track.id, 3, prefix=f"b{worker % 4}")]
                sent.append({"track_id": track.id, "client_id": "race", "listened_s": 9})
                results.append(creators.record_plays(db, sent))
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(r.recorded for r in results) == 1 + 3 + 3  # race, b0-…, b2-…
    assert play_count(platform, track) == 7
    assert count(db, "SELECT count(*) FROM plays WHERE client_id = 'race'") == 1
    assert creators.verify(db) == []


@on_postgres
def test_retention_drops_old_plays_and_every_counter_checks_clean(platform):
    db, track, other = platform.db, platform.tracks[2], platform.other_track
    old = utc_now() - timedelta(days=OLD_DAYS)
    creators.record_plays(
        db, [*plays_of(track.id, 4, played_at=old), *plays_of(other.id, 2, played_at=old)]
    )
    creators.record_plays(db, plays_of(track.id, 3, prefix="now"))
    partitioned(db)

    dropped = partitions.drop_older(db, older_than=timedelta(days=90))

    assert sum(d.rows for d in dropped if d.table == "plays") == 6
    assert sum(d.keys_pruned for d in dropped if d.table == "plays") == 6
    assert count(db, "SELECT count(*) FROM plays") == 3
    assert count(db, "SELECT sum(plays) FROM plays_dropped_totals") == 6
    assert (play_count(platform, track), play_count(platform, other)) == (7, 2)
    assert creators.verify(db) == []
    assert run_maintenance(db, check=True).problems == []
    # A play older than what retention dropped is not counted again: its id may be gone.
    late = creators.record_plays(db, plays_of(track.id, 2, played_at=old))
    assert (late.recorded, late.duplicates) == (0, 2)
    fresh = creators.record_play(db, track_id=track.id, client_id="after", listened_s=1)
    assert fresh.recorded == 1 and play_count(platform, track) == 8
    assert creators.verify(db) == []


@on_postgres
def test_a_writer_that_knew_plays_unpartitioned_goes_on_after_the_change(platform):
    """Pooled connections read once how plays keeps its client ids: after the table changes
    under them, their next write is refused by PostgreSQL, and recorded again, read anew."""
    db, track = platform.db, platform.tracks[0]
    creators.record_play(db, track_id=track.id, client_id="before", listened_s=1)
    creators.record_plays(db, plays_of(track.id, 2, prefix="before"))

    partitions.enable(db, table="plays", interval="week")
    one = creators.record_play(db, track_id=track.id, client_id="after", listened_s=1)
    many = creators.record_plays(db, plays_of(track.id, 3, prefix="before"))

    assert one.recorded == 1 and (many.recorded, many.duplicates) == (1, 2)
    partitions.disable(db, table="plays")  # and back: plays_keys is gone
    back = creators.record_plays(db, plays_of(track.id, 4, prefix="before"))
    assert (back.recorded, back.duplicates) == (1, 3)
    assert play_count(platform, track) == 6
    assert creators.verify(db) == []

"""Plays, the hot path: counted once per client id, counters and daily statistics exact,
IP addresses and user agents kept only as keyed hashes."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from chaindb import ConfigError, InvalidInput, NotFound, creators
from chaindb.creators.schema import creator_daily_stats, daily_stats, plays
from chaindb.errors import Conflict
from tests.creators.conftest import plays_of

DAY = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)


def daily(db, creator_id):
    with db.read() as conn:
        return {
            row.day: (row.plays, row.listened_s)
            for row in conn.execute(
                sa.select(creator_daily_stats).where(creator_daily_stats.c.creator_id == creator_id)
            )
        }


def platform_days(db):
    with db.read() as conn:
        return {
            row.day: (row.plays, row.listened_s) for row in conn.execute(sa.select(daily_stats))
        }


def play_rows(db):
    with db.read() as conn:
        return conn.execute(sa.select(plays).order_by(plays.c.id)).mappings().all()


def test_a_play_counts_on_its_track_its_creator_and_its_day(platform):
    db, track = platform.db, platform.tracks[0]
    result = creators.record_play(
        db, track_id=track.id, client_id="p1", listened_s=95, played_at=DAY, user_id="alice"
    )
    assert (result.recorded, result.duplicates, result.milestones) == (1, 0, [])
    assert creators.get_track(db, track.id).play_count == 1
    creator = creators.get_creator(db, platform.creator.id)
    assert (creator.total_plays, creator.needs_sync) == (1, True)
    assert daily(db, platform.creator.id) == {DAY.date(): (1, 95)}
    assert platform_days(db) == {DAY.date(): (1, 95)}
    assert creators.verify(db) == []


def test_the_same_client_id_counts_once_alone_in_a_batch_and_across_batches(platform):
    db, track = platform.db, platform.tracks[1]
    creators.record_play(db, track_id=track.id, client_id="same", listened_s=10)
    again = creators.record_play(db, track_id=track.id, client_id="same", listened_s=10)
    assert (again.recorded, again.duplicates) == (0, 1)
    batch = [*plays_of(track.id, 3), *plays_of(track.id, 2), {**plays_of(track.id, 1)[0]}]
    batch.append({"track_id": track.id, "client_id": "same", "listened_s": 10})
    result = creators.record_plays(db, batch)
    assert (result.recorded, result.duplicates) == (3, 4)
    assert creators.get_track(db, track.id).play_count == 4
    assert creators.get_creator(db, platform.creator.id).total_plays == 4
    assert len(play_rows(db)) == 4
    assert creators.verify(db) == []


def test_a_batch_spreads_over_tracks_creators_and_days(platform):
    db = platform.db
    batch = [
        *plays_of(platform.tracks[0].id, 5, played_at=DAY),
        *plays_of(platform.tracks[2].id, 3, played_at=DAY + timedelta(days=1)),
        *plays_of(platform.other_track.id, 4, played_at=DAY),
    ]
    assert creators.record_plays(db, batch).recorded == 12
    assert daily(db, platform.creator.id) == {
        DAY.date(): (5, 150),
        DAY.date() + timedelta(days=1): (3, 90),
    }
    assert daily(db, platform.other.id) == {DAY.date(): (4, 120)}
    assert platform_days(db) == {DAY.date(): (9, 270), DAY.date() + timedelta(days=1): (3, 90)}
    assert creators.get_creator(db, platform.other.id).total_plays == 4
    assert creators.verify(db) == []


@pytest.mark.parametrize(
    ("bad", "field", "rule"),
    [
        ({"listened_s": -1}, "plays[2].listened_s", "greater than or equal to 0"),
        ({"listened_s": 1.5}, "plays[2].listened_s", "valid integer"),
        ({"source": "tv"}, "plays[2].source", "'direct'"),
        ({"client_id": "a\x00b"}, "plays[2].client_id", "control characters"),
        ({"played_at": datetime(2026, 1, 1)}, "plays[2].played_at", "timezone-aware"),
        ({"colour": "red"}, "plays[2].colour", "Extra inputs"),
    ],
)
def test_a_bad_play_is_named_by_its_position_and_nothing_is_written(platform, bad, field, rule):
    batch = plays_of(platform.tracks[0].id, 4)
    batch[2] = {**batch[2], **bad}
    with pytest.raises(InvalidInput) as refused:
        creators.record_plays(platform.db, batch)
    assert refused.value.field == field and rule in str(refused.value)
    assert play_rows(platform.db) == []
    assert creators.get_track(platform.db, platform.tracks[0].id).play_count == 0


def test_a_play_in_the_future_is_refused(platform):
    with pytest.raises(InvalidInput, match=r"played_at.*must not be in the future"):
        creators.record_play(
            platform.db,
            track_id=platform.tracks[0].id,
            client_id="x",
            listened_s=1,
            played_at=datetime.now(UTC) + timedelta(days=2),
        )


def test_unknown_tracks_and_listeners_and_deleted_tracks_are_refused_by_name(platform):
    db = platform.db
    batch = plays_of(platform.tracks[0].id, 3)
    with pytest.raises(NotFound, match=r"plays\[1\]\.track_id: track 999 does not exist"):
        creators.record_plays(db, [batch[0], {**batch[1], "track_id": 999}])
    with pytest.raises(NotFound, match=r"plays\[2\]\.user_id: user 'nobody' does not exist"):
        creators.record_plays(db, [batch[0], batch[1], {**batch[2], "user_id": "nobody"}])
    creators.delete_track(db, platform.tracks[2].id)
    with pytest.raises(Conflict, match=r"^track_id: track \d+ is deleted"):
        creators.record_play(db, track_id=platform.tracks[2].id, client_id="d", listened_s=1)
    assert play_rows(db) == []
    assert creators.verify(db) == []


def test_ip_addresses_and_user_agents_are_kept_only_as_keyed_hashes(platform, monkeypatch):
    db, track = platform.db, platform.tracks[0]
    agent = "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"
    creators.record_plays(
        db,
        [
            {
                **plays_of(track.id, 1, prefix="a")[0],
                "ip_address": "203.0.113.7",
                "user_agent": agent,
            },
            {
                **plays_of(track.id, 1, prefix="b")[0],
                "ip_address": "203.0.113.7",
                "user_agent": agent,
            },
            {**plays_of(track.id, 1, prefix="c")[0], "ip_address": "2001:db8::1"},
            {**plays_of(track.id, 1, prefix="d")[0], "ip_address": "2001:0db8:0::1"},
        ],
    )
    rows = play_rows(db)
    assert rows[0]["ip_hash"] == rows[1]["ip_hash"] and len(rows[0]["ip_hash"]) == 16
    assert rows[0]["user_agent_hash"] == rows[1]["user_agent_hash"]
    assert rows[2]["ip_hash"] == rows[3]["ip_hash"] != rows[0]["ip_hash"]  # one spelling
    with db.connection() as conn:  # the raw values are nowhere in the table
        dump = str(conn.execute(sa.select(plays)).all())
    assert "203.0.113.7" not in dump and "Firefox" not in dump

    monkeypatch.setenv("CHAINDB_ANALYTICS_KEY", "another key, as long as the first one!")
    creators.record_play(
        db, track_id=track.id, client_id="e", listened_s=1, ip_address="203.0.113.7"
    )
    assert play_rows(db)[-1]["ip_hash"] != rows[0]["ip_hash"]  # a new key unlinks periods


def test_an_ip_address_without_a_key_or_malformed_is_refused(platform, monkeypatch):
    track = platform.tracks[0]
    with pytest.raises(InvalidInput, match=r"ip_address.*IPv4 or IPv6"):
        creators.record_play(
            platform.db, track_id=track.id, client_id="x", listened_s=1, ip_address="999.1.1.1"
        )
    monkeypatch.delenv("CHAINDB_ANALYTICS_KEY")
    with pytest.raises(ConfigError, match="CHAINDB_ANALYTICS_KEY is not set"):
        creators.record_play(
            platform.db, track_id=track.id, client_id="x", listened_s=1, ip_address="10.0.0.1"
        )
    creators.record_play(platform.db, track_id=track.id, client_id="x", listened_s=1)
    assert len(play_rows(platform.db)) == 1


def test_concurrent_writers_with_overlapping_client_ids_count_each_play_once(platform):
    """Four threads, each sending batches where half of the client ids are another thread's
    too: every play is counted once, and every counter matches its history."""
    db, tracks = platform.db, [*platform.tracks, platform.other_track]
    rounds, per_batch = 6, 40
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        try:
            for round_ in range(rounds):
                batch = []
                for n in range(per_batch):
                    owner = worker if n % 2 else (worker + 1) % 4  # shared with a neighbour
                    track = tracks[(n + round_) % len(tracks)]
                    batch.append(
                        {
                            "track_id": track.id,
                            "client_id": f"w{owner}-r{round_}-n{n}",
                            "listened_s": n,
                        }
                    )
                creators.record_plays(db, batch)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    distinct = {
        f"w{w}-r{r}-n{n}" for w in range(4) for r in range(rounds) for n in range(per_batch)
    }
    assert len(play_rows(db)) == len(distinct)
    total = sum(creators.get_track(db, t.id).play_count for t in tracks)
    assert total == len(distinct)
    assert creators.verify(db) == []


def test_the_dashboard_shows_the_days_asked_for_from_the_daily_rows(platform):
    db, track = platform.db, platform.tracks[0]
    today = datetime.now(UTC).replace(hour=0, minute=1)
    for days_ago, count in ((40, 5), (5, 3), (0, 2)):
        creators.record_plays(
            db,
            plays_of(
                track.id, count, prefix=f"d{days_ago}", played_at=today - timedelta(days=days_ago)
            ),
        )
    board = creators.creator_dashboard(db, platform.creator.id, days=30)
    assert [(day.day, day.plays) for day in board.days] == [
        ((today - timedelta(days=5)).date(), 3),
        (today.date(), 2),
    ]
    assert board.plays_in_period == 5 and board.creator.total_plays == 10
    assert creators.creator_dashboard(db, platform.creator.id, days=60).plays_in_period == 10
    with pytest.raises(InvalidInput, match="days"):
        creators.creator_dashboard(db, platform.creator.id, days=0)

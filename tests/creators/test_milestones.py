"""Seed 004's milestones at their real thresholds: recorded when a counter crosses one, once,
even when two writers cross it at the same moment; the coin becomes eligible with both."""

from __future__ import annotations

import threading

import sqlalchemy as sa

from chaindb import creators
from chaindb.core.schema import users
from chaindb.creators.schema import creator_milestones
from tests.creators.conftest import plays_of

BATCH = 10_000


def play(platform, count: int, *, prefix: str) -> None:
    track = platform.tracks[0].id
    for start in range(0, count, BATCH):
        batch = plays_of(track, min(BATCH, count - start), prefix=f"{prefix}{start}")
        creators.record_plays(platform.db, batch)


def follow_many(platform, count: int) -> None:
    fans = [f"fan{n}" for n in range(count)]
    with platform.db.transaction() as conn:  # users in bulk: they are core's, not the subject
        conn.execute(users.insert(), [{"id": fan} for fan in fans])
    added = creators.follow_many(platform.db, creator_id=platform.creator.id, follower_ids=fans)
    assert added == count


def kinds(db, creator_id):
    return [(m.kind, m.threshold, m.current_value) for m in creators.get_milestones(db, creator_id)]


def test_fifty_thousand_plays_is_a_milestone_reached_once(platform):
    db, creator_id = platform.db, platform.creator.id
    play(platform, creators.COIN_PLAYS_MIN - 1, prefix="a")
    assert kinds(db, creator_id) == []
    crossing = creators.record_plays(db, plays_of(platform.tracks[1].id, 2, prefix="b"))
    assert [(m.kind, m.threshold, m.current_value) for m in crossing.milestones] == [
        ("PLAYS", 50_000, 50_001)
    ]
    later = creators.record_plays(db, plays_of(platform.tracks[1].id, 5, prefix="c"))
    assert later.milestones == []
    assert kinds(db, creator_id) == [("PLAYS", 50_000, 50_001)]
    # without 5,000 followers the coin is not eligible yet
    assert creators.get_creator(db, creator_id).coin_status is None


def test_two_writers_crossing_at_the_same_moment_record_the_milestone_once(platform):
    db = platform.db
    play(platform, creators.COIN_PLAYS_MIN - 10, prefix="a")
    start = threading.Barrier(2)
    results: list[creators.PlaysRecorded] = []
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            start.wait()
            results.append(
                creators.record_plays(db, plays_of(platform.tracks[2].id, 10, prefix=name))
            )
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(name,)) for name in ("x", "y")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(len(result.milestones) for result in results) == [0, 1]
    with db.read() as conn:
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(creator_milestones)).scalar() == 1
        )
    assert creators.get_creator(db, platform.creator.id).total_plays == 50_010


def test_five_thousand_followers_then_fifty_thousand_plays_make_the_coin_eligible(platform):
    db, creator_id = platform.db, platform.creator.id
    follow_many(platform, creators.COIN_FOLLOWERS_MIN)
    assert kinds(db, creator_id) == [("FOLLOWERS", 5_000, 5_000)]
    assert creators.get_creator(db, creator_id).coin_status is None
    # one unfollow and a new follow cross 5,000 again: still one milestone
    creators.unfollow(db, follower_id="fan0", creator_id=creator_id)
    assert creators.follow(db, follower_id="fan0", creator_id=creator_id)
    assert not creators.follow(db, follower_id="fan0", creator_id=creator_id)
    play(platform, creators.COIN_PLAYS_MIN, prefix="a")
    assert [k for k, _, _ in kinds(db, creator_id)] == ["FOLLOWERS", "PLAYS"]
    creator = creators.get_creator(db, creator_id)
    assert (creator.follower_count, creator.coin_status) == (5_000, "eligible")
    assert creators.verify(db) == []

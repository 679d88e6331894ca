"""After any mix of plays, likes, comments, follows, deletions and GDPR erasures, every counter
and daily statistic equals what its history recounts to (creators.verify recounts it)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaindb import Conflict, creators
from chaindb.creators.schema import daily_stats, tracks
from tests.conftest import run_cli

USERS = ("alice", "bob", "carol", "dave")
START = datetime(2026, 5, 1, 23, 30, tzinfo=UTC)  # plays straddle midnight: two days
_examples = itertools.count()

track_index = st.integers(min_value=0, max_value=3)
user = st.sampled_from(USERS)
operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("plays"),
            st.lists(
                st.tuples(track_index, st.integers(0, 30), st.integers(0, 120)),
                min_size=1,
                max_size=12,
            ),
        ),
        st.tuples(st.just("like"), user, track_index),
        st.tuples(st.just("unlike"), user, track_index),
        st.tuples(st.just("comment"), user, track_index),
        st.tuples(st.just("delete_comment"), st.integers(0, 5)),
        st.tuples(st.just("follow"), user, st.integers(0, 1)),
        st.tuples(st.just("unfollow"), user, st.integers(0, 1)),
        st.tuples(st.just("delete_track"), track_index),
        st.tuples(st.just("erase"), user),  # GDPR: counters stay as they were
    ),
    max_size=25,
)


def apply(platform, example: int, operation: tuple, comment_ids: list[int]) -> None:
    db = platform.db
    tracks = [*platform.tracks, platform.other_track]
    creator_ids = (platform.creator.id, platform.other.id)
    kind, *args = operation
    if kind == "plays":
        batch = [
            {
                "track_id": tracks[t].id,
                "client_id": f"e{example}-{client}",  # repeats within an example: counted once
                "listened_s": seconds,
                "played_at": START + timedelta(minutes=client * 3),
            }
            for t, client, seconds in args[0]
        ]
        creators.record_plays(db, batch)
    elif kind in ("like", "unlike"):
        verb = creators.like_track if kind == "like" else creators.unlike_track
        verb(db, user_id=args[0], track_id=tracks[args[1]].id)
    elif kind == "comment":
        comment_ids.append(
            creators.add_comment(db, user_id=args[0], track_id=tracks[args[1]].id, body="nice")
        )
    elif kind == "delete_comment" and comment_ids:
        creators.delete_comment(db, comment_ids[args[0] % len(comment_ids)])
    elif kind in ("follow", "unfollow"):
        verb = creators.follow if kind == "follow" else creators.unfollow
        verb(db, follower_id=args[0], creator_id=creator_ids[args[1]])
    elif kind == "delete_track":
        creators.delete_track(db, tracks[args[0]].id)
    elif kind == "erase":
        creators.erase_user(db, args[0])


def test_counters_equal_their_recounted_history_after_any_mix_of_writes(platform):
    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(operations)
    def run(ops):
        example = next(_examples)
        comment_ids: list[int] = []
        for operation in ops:
            try:
                apply(platform, example, operation, comment_ids)
            except Conflict as refused:  # a deleted track takes nothing new
                assert "is deleted" in str(refused)
        assert creators.verify(platform.db) == []

    run()


def test_maintenance_names_a_counter_that_drifted_from_its_history(platform):
    db, track = platform.db, platform.tracks[0]
    creators.record_play(db, track_id=track.id, client_id="x", listened_s=5, played_at=START)
    with db.transaction() as conn:
        conn.execute(tracks.update().where(tracks.c.id == track.id).values(play_count=7))
        conn.execute(daily_stats.update().values(plays=3))
    assert creators.verify(db) == [
        f"track {track.id}: play_count is 7, its history has 1",
        f"creator {platform.creator.id}: total_plays is 1, its history has 7",
        f"{START.date()}: plays is 3, its history has 1",
    ]
    check = run_cli("maintenance", "--check", env={"CHAINDB_URL": db.url.render_as_string(False)})
    assert check.returncode == 1 and "checking creators" in check.stderr
    assert f"problem track {track.id}: play_count is 7, its history has 1" in check.stdout

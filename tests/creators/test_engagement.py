"""The engagement score, exactly as the seed's formula, at each cap and edge."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from chaindb import creators
from chaindb.creators.engagement import engagement_score


def score(plays=0, followers=0, likes=0, comments=0, tracks_per_month=Fraction(0)):
    return engagement_score(
        total_plays=plays,
        followers=followers,
        likes=likes,
        comments=comments,
        tracks_per_month=tracks_per_month,
    )


@pytest.mark.parametrize(
    ("plays", "followers", "points"),
    [
        (0, 0, 0),  # nothing at all: 0, not NaN
        (0, 100, 0),
        (10, 0, 1),  # no followers: counted over one
        (400, 0, 40),
        (399, 1, Fraction(399, 10)),
        (4_000, 10, 40),  # exactly at the cap
        (4_001, 10, 40),  # past it
        (3_999, 10, Fraction(3_999, 100)),
        (1, 3, Fraction(1, 30)),  # exact, no float
    ],
)
def test_play_to_follower_ratio_is_plays_over_followers_over_ten_capped_at_40(
    plays, followers, points
):
    assert score(plays, followers).play_to_follower == points


@pytest.mark.parametrize(
    ("plays", "likes", "comments", "points"),
    [
        (0, 5, 5, 0),  # interactions without plays: 0
        (100, 10, 0, 10),
        (100, 10, 5, 20),  # a comment counts twice
        (100, 10, 10, 30),  # exactly at the cap
        (100, 100, 100, 30),
        (300, 1, 0, Fraction(1, 3)),
    ],
)
def test_interaction_rate_counts_comments_twice_capped_at_30(plays, likes, comments, points):
    assert score(plays, 1, likes, comments).interaction == points


@pytest.mark.parametrize(
    ("per_month", "points"),
    [(Fraction(0), 0), (Fraction(1, 2), 5), (Fraction(3), 30), (Fraction(7), 30)],
)
def test_content_consistency_is_ten_points_a_track_a_month_capped_at_30(per_month, points):
    assert score(tracks_per_month=per_month).consistency == points


def test_the_score_is_the_sum_rounded_to_hundredths_and_basis_points_for_the_chain():
    full = score(4_000, 10, 1_000, 100, Fraction(5))
    assert (full.score, full.basis_points) == (Decimal("100.00"), 10_000)
    third = score(1, 3)  # 1/30 point
    assert (third.score, third.basis_points) == (Decimal("0.03"), 3)
    assert score().score == Decimal("0.00")


def test_a_creators_score_comes_from_its_counters(platform):
    db = platform.db
    creators.record_plays(
        db,
        [
            {"track_id": platform.tracks[0].id, "client_id": f"p{n}", "listened_s": 1}
            for n in range(20)
        ],
    )
    creators.follow(db, follower_id="alice", creator_id=platform.creator.id)
    creators.like_track(db, user_id="alice", track_id=platform.tracks[0].id)
    creators.add_comment(db, user_id="bob", track_id=platform.tracks[0].id, body="lovely")
    creator = creators.get_creator(db, platform.creator.id)
    result = creators.creator_engagement(creator, now=creator.created_at + timedelta(days=60))
    assert result.play_to_follower == 2  # 20 plays / 1 follower / 10
    assert result.interaction == 15  # (1 + 2) / 20 * 100
    assert result.consistency == 15  # 3 tracks over 2 months, x 10
    assert result.score == Decimal("32.00")

"""The engagement score (0-100), exactly as seed 004 writes it:

    playToFollowerRatio: min(totalPlays / followers / 10, 40)       up to 40 points
    interactionRate:     min((likes + comments * 2) / plays * 100, 30)   up to 30 points
    contentConsistency:  min(tracksPerMonth * 10, 30)                up to 30 points

computed in exact fractions (no float), shown rounded to two decimals, and sent on chain as
basis points (score x 100). Where the seed's JavaScript divides by zero:
- no followers: the ratio is taken over one follower (JavaScript's Infinity would give a
  creator nobody follows the full 40 points as soon as one play exists; with one follower,
  10 plays give 1 point and 400 plays the cap, as they would for a creator with one follower);
- no plays: the ratio and the interaction rate are 0 (JavaScript gives NaN);
- tracks per month: the creator's live tracks over the months since the creator joined
  (30-day months, at least one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

from chaindb.creators.profiles import Creator
from chaindb.types import utc_now

PLAY_RATIO_MAX = 40
INTERACTION_MAX = 30
CONSISTENCY_MAX = 30
DAYS_PER_MONTH = 30


@dataclass(frozen=True)
class EngagementScore:
    play_to_follower: Fraction
    interaction: Fraction
    consistency: Fraction

    @property
    def exact(self) -> Fraction:
        return self.play_to_follower + self.interaction + self.consistency

    @property
    def score(self) -> Decimal:
        """0.00 to 100.00, rounded half to even."""
        return _rounded(self.exact, Decimal("0.01"))

    @property
    def basis_points(self) -> int:
        """The score x 100 as an integer (0..10,000): what the oracle sends on chain."""
        return int(_rounded(self.exact * 100, Decimal(1)))

    def as_dict(self) -> dict[str, str]:
        return {
            "score": str(self.score),
            "play_to_follower": str(_rounded(self.play_to_follower, Decimal("0.01"))),
            "interaction": str(_rounded(self.interaction, Decimal("0.01"))),
            "consistency": str(_rounded(self.consistency, Decimal("0.01"))),
        }


def engagement_score(
    *, total_plays: int, followers: int, likes: int, comments: int, tracks_per_month: Fraction
) -> EngagementScore:
    """The seed's formula on these figures (see the module's doc for the zero cases)."""
    ratio = Fraction(total_plays, max(followers, 1) * 10)
    interaction = Fraction((likes + comments * 2) * 100, total_plays) if total_plays else 0
    return EngagementScore(
        play_to_follower=min(ratio, Fraction(PLAY_RATIO_MAX)),
        interaction=min(Fraction(interaction), Fraction(INTERACTION_MAX)),
        consistency=min(Fraction(tracks_per_month) * 10, Fraction(CONSISTENCY_MAX)),
    )


def tracks_per_month(track_count: int, joined_at: datetime, now: datetime) -> Fraction:
    days = max((now - joined_at).days, DAYS_PER_MONTH)
    return Fraction(track_count * DAYS_PER_MONTH, days)


def creator_engagement(creator: Creator, *, now: datetime | None = None) -> EngagementScore:
    """The creator's score from its counters (no history is read)."""
    return engagement_score(
        total_plays=creator.total_plays,
        followers=creator.follower_count,
        likes=creator.like_count,
        comments=creator.comment_count,
        tracks_per_month=tracks_per_month(
            creator.track_count, creator.created_at, now or utc_now()
        ),
    )


def _rounded(value: Fraction, quantum: Decimal) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(
        quantum, rounding=ROUND_HALF_EVEN
    )

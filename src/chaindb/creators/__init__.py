"""The creators module (seed 004, StreamVault): creators, followers, tracks on Filecoin,
playlists, plays at volume with exact counters and daily statistics, likes and comments,
milestones, the engagement score, the oracle sync of creator metrics to a contract, sync
health, quarterly revenue distributions through the ledger, and GDPR erasure.

This is the module's one door (other modules, ops/ and the CLI use only these names). Money
moves through the ledger's face; the chain through the chain bridge's face.
"""

from chaindb.creators.dashboard import (
    Dashboard,
    DayStats,
    MonthlyRevenue,
    creator_dashboard,
    monthly_revenue,
)
from chaindb.creators.engagement import EngagementScore, creator_engagement, engagement_score
from chaindb.creators.milestones import (
    COIN_FOLLOWERS_MIN,
    COIN_PLAYS_MIN,
    REVENUE_SHARING_MONTHLY_WEI,
    Milestone,
    Reached,
    get_milestones,
)
from chaindb.creators.plays import PlaysRecorded, record_play, record_plays
from chaindb.creators.profiles import (
    Creator,
    create_creator,
    follow,
    follow_many,
    get_creator,
    get_creator_of_user,
    unfollow,
    verify_creator,
)
from chaindb.creators.schema import metadata
from chaindb.creators.tracks import (
    Track,
    add_comment,
    create_track,
    delete_comment,
    delete_track,
    get_track,
    like_track,
    unlike_track,
)
from chaindb.creators.verify import verify

__all__ = [
    "COIN_FOLLOWERS_MIN",
    "COIN_PLAYS_MIN",
    "REVENUE_SHARING_MONTHLY_WEI",
    "Creator",
    "Dashboard",
    "DayStats",
    "EngagementScore",
    "Milestone",
    "MonthlyRevenue",
    "PlaysRecorded",
    "Reached",
    "Track",
    "add_comment",
    "create_creator",
    "create_track",
    "creator_dashboard",
    "creator_engagement",
    "delete_comment",
    "delete_track",
    "engagement_score",
    "follow",
    "follow_many",
    "get_creator",
    "get_creator_of_user",
    "get_milestones",
    "get_track",
    "like_track",
    "metadata",
    "monthly_revenue",
    "record_play",
    "record_plays",
    "unfollow",
    "unlike_track",
    "verify",
    "verify_creator",
]

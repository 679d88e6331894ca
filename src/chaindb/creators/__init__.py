"""The creators module (seed 004, StreamVault): creators, followers, tracks on Filecoin,
playlists, plays at volume with exact counters and daily statistics, likes and comments,
milestones, the engagement score, the oracle sync of creator metrics to a contract, sync
health, quarterly revenue distributions through the ledger, and GDPR erasure.

This is the module's one door (other modules, ops/ and the CLI use only these names). Money
moves through the ledger's face; the chain through the chain bridge's face. The oracle's
names need the `chain` extra: they are imported when first used, as chain's are.
"""

import importlib
from typing import TYPE_CHECKING, Any

from chaindb.creators.dashboard import (
    Dashboard,
    DayStats,
    MonthlyRevenue,
    creator_dashboard,
    monthly_revenue,
)
from chaindb.creators.engagement import EngagementScore, creator_engagement, engagement_score
from chaindb.creators.erasure import Erasure, erase_user
from chaindb.creators.milestones import (
    COIN_FOLLOWERS_MIN,
    COIN_PLAYS_MIN,
    REVENUE_SHARING_MONTHLY_WEI,
    Milestone,
    Reached,
    get_milestones,
)
from chaindb.creators.partitions import (
    CLAIMS_KEYS_FIRST,
    PARTITION_KEYS,
    before_partition_drop,
)
from chaindb.creators.playlists import (
    Playlist,
    add_to_playlist,
    create_playlist,
    get_playlist_tracks,
    move_in_playlist,
    remove_from_playlist,
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
from chaindb.creators.revenue import (
    FIL_CHAIN_ID,
    HOLDER_SHARE_PERCENT,
    Distribution,
    buy_track,
    distribute_revenue,
    get_distributions,
    pool_account,
    revenue_asset,
    split_pro_rata,
    tip_creator,
)
from chaindb.creators.schema import metadata
from chaindb.creators.sync_log import SyncLog, get_recent_logs
from chaindb.creators.sync_stats import SyncStats, get_sync_stats
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

# name -> the file that defines it (imported on first use: it needs the chain extra)
_LAZY = {
    "ORACLE_CONTRACT": "oracle",
    "SyncReport": "oracle",
    "coin_symbol": "oracle",
    "creator_metrics": "oracle",
    "deploy_oracle": "oracle",
    "deployed_oracle": "oracle",
    "on_chain_metrics": "oracle",
    "oracle_contract": "oracle",
    "run_oracle": "oracle",
    "sync_once": "oracle",
    "story": "demo",
    "REPLACEMENT_RULES": "oracle_send",
    "SendOptions": "oracle_send",
    "SyncPaused": "oracle_send",
    "bumped_fees": "oracle_send",
}

if TYPE_CHECKING:
    from chaindb.creators.demo import story
    from chaindb.creators.oracle import (
        ORACLE_CONTRACT,
        SyncReport,
        coin_symbol,
        creator_metrics,
        deploy_oracle,
        deployed_oracle,
        on_chain_metrics,
        oracle_contract,
        run_oracle,
        sync_once,
    )
    from chaindb.creators.oracle_send import (
        REPLACEMENT_RULES,
        SendOptions,
        SyncPaused,
        bumped_fees,
    )


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'chaindb.creators' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"chaindb.creators.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "CLAIMS_KEYS_FIRST",
    "COIN_FOLLOWERS_MIN",
    "COIN_PLAYS_MIN",
    "FIL_CHAIN_ID",
    "HOLDER_SHARE_PERCENT",
    "ORACLE_CONTRACT",
    "PARTITION_KEYS",
    "REPLACEMENT_RULES",
    "REVENUE_SHARING_MONTHLY_WEI",
    "Creator",
    "Dashboard",
    "DayStats",
    "Distribution",
    "EngagementScore",
    "Erasure",
    "Milestone",
    "MonthlyRevenue",
    "Playlist",
    "PlaysRecorded",
    "Reached",
    "SendOptions",
    "SyncLog",
    "SyncPaused",
    "SyncReport",
    "SyncStats",
    "Track",
    "add_comment",
    "add_to_playlist",
    "before_partition_drop",
    "bumped_fees",
    "buy_track",
    "coin_symbol",
    "create_creator",
    "create_playlist",
    "create_track",
    "creator_dashboard",
    "creator_engagement",
    "creator_metrics",
    "delete_comment",
    "delete_track",
    "deploy_oracle",
    "deployed_oracle",
    "distribute_revenue",
    "engagement_score",
    "erase_user",
    "follow",
    "follow_many",
    "get_creator",
    "get_creator_of_user",
    "get_distributions",
    "get_milestones",
    "get_playlist_tracks",
    "get_recent_logs",
    "get_sync_stats",
    "get_track",
    "like_track",
    "metadata",
    "monthly_revenue",
    "move_in_playlist",
    "on_chain_metrics",
    "oracle_contract",
    "pool_account",
    "record_play",
    "record_plays",
    "remove_from_playlist",
    "revenue_asset",
    "run_oracle",
    "split_pro_rata",
    "story",
    "sync_once",
    "tip_creator",
    "unfollow",
    "unlike_track",
    "verify",
    "verify_creator",
]

"""The games module (seed 002, BitCraps): players with ed25519 keys, craps games and bets on
the CRAP token, Byzantine consensus rounds, statistics and leaderboards, an audit log, staking,
peer connections and performance metrics.

This is the module's one door. The seed's repositories are its functions: UserRepository
(create_user, get_user, update_reputation), GameRepository (create_game, save_game_state,
load_game_state, get_game, get_active_games; roll_dice, place_bet, resolve_game),
TransactionRepository (get_transaction_history, get_token_balance), StatsRepository
(leaderboard, get_player_stats, get_game_statistics). CRAP moves through the ledger's face.
"""

from chaindb.games.audit import AuditEntry, get_audit_log
from chaindb.games.bets import Bet, get_bet, get_bets, place_bet, place_bets
from chaindb.games.consensus import (
    ConsensusRound,
    Vote,
    VoteResult,
    cast_vote,
    get_round,
    get_votes,
    open_round,
    quorum_of,
    vote_message,
)
from chaindb.games.crap_token import (
    CRAP,
    CRAP_DECIMALS,
    HOUSE,
    REWARDS,
    STAKING,
    TokenBalance,
    deposit,
    ensure_crap_asset,
    fund_pool,
    get_token_balance,
    get_transaction_history,
    pool_balance,
)
from chaindb.games.craps import BET_TYPES, BetType
from chaindb.games.demo import story
from chaindb.games.game_records import Game
from chaindb.games.games import (
    RollResult,
    create_game,
    get_active_games,
    get_game,
    load_game_state,
    resolve_game,
    roll_dice,
    save_game_state,
)
from chaindb.games.metrics import (
    Rollup,
    cleanup,
    get_rollups,
    labels_key,
    prune_metrics,
    record_metric,
    rollup_metrics,
)
from chaindb.games.peers import (
    PeerConnection,
    get_connected_peers,
    record_peer_connected,
    record_peer_disconnected,
    record_peer_seen,
)
from chaindb.games.players import Player, create_user, get_user, update_reputation
from chaindb.games.schema import metadata
from chaindb.games.settlement import Settlement
from chaindb.games.staking import (
    EARLY_EXIT_PENALTY_BPS,
    Claim,
    StakingPosition,
    Unstake,
    accrued_rewards,
    claim_rewards,
    get_staking_position,
    get_staking_positions,
    stake,
    unstake,
)
from chaindb.games.stats import (
    GameStatistics,
    LeaderboardRow,
    PlayerStats,
    get_game_statistics,
    get_player_stats,
    leaderboard,
)
from chaindb.games.verify import verify

# The append-only tables ops/partitions.py may partition by time on PostgreSQL (table -> column).
PARTITION_KEYS = {"games_audit_log": "occurred_at", "performance_metrics": "recorded_at"}

__all__ = [
    "BET_TYPES",
    "CRAP",
    "CRAP_DECIMALS",
    "EARLY_EXIT_PENALTY_BPS",
    "HOUSE",
    "PARTITION_KEYS",
    "REWARDS",
    "STAKING",
    "AuditEntry",
    "Bet",
    "BetType",
    "Claim",
    "ConsensusRound",
    "Game",
    "GameStatistics",
    "LeaderboardRow",
    "PeerConnection",
    "Player",
    "PlayerStats",
    "RollResult",
    "Rollup",
    "Settlement",
    "StakingPosition",
    "TokenBalance",
    "Unstake",
    "Vote",
    "VoteResult",
    "accrued_rewards",
    "cast_vote",
    "claim_rewards",
    "cleanup",
    "create_game",
    "create_user",
    "deposit",
    "ensure_crap_asset",
    "fund_pool",
    "get_active_games",
    "get_audit_log",
    "get_bet",
    "get_bets",
    "get_connected_peers",
    "get_game",
    "get_game_statistics",
    "get_player_stats",
    "get_rollups",
    "get_round",
    "get_staking_position",
    "get_staking_positions",
    "get_token_balance",
    "get_transaction_history",
    "get_user",
    "get_votes",
    "labels_key",
    "leaderboard",
    "load_game_state",
    "metadata",
    "open_round",
    "place_bet",
    "place_bets",
    "pool_balance",
    "prune_metrics",
    "quorum_of",
    "record_metric",
    "record_peer_connected",
    "record_peer_disconnected",
    "record_peer_seen",
    "resolve_game",
    "roll_dice",
    "rollup_metrics",
    "save_game_state",
    "stake",
    "story",
    "unstake",
    "update_reputation",
    "verify",
    "vote_message",
]

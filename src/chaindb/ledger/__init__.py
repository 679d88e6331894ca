"""The ledger module: points and tokens kept exactly, double-entry, idempotent, with holds.

    from chaindb import ledger
    ledger.transfer(db, debit="system:issuance", credit="user:alice", amount=100,
                    kind="earned_challenge", idempotency_key="challenge:7:points:alice")
    hold = ledger.transfer(db, debit="user:alice", credit="system:escrow", amount=40,
                           kind="locked_escrow", pending=True)
    ledger.post_pending(db, hold.id)          # or ledger.void_pending(db, hold.id)

Seed 000's utilities (ensure_user_points_ledger, record_points_transaction, ...) are here too.

This is the ledger's one door: other modules move money and read balances through these names
only (the write path behind them — engine, batch, statements, plain_transfer — is private).
"""

from chaindb.ledger.accounts import (
    ASSET_CODE_CHARS_MAX,
    BURN,
    ESCROW,
    ISSUANCE,
    POINTS,
    Account,
    AccountKey,
    Asset,
    Balance,
    asset_id_sql,
    ensure_app_asset,
    ensure_token_asset,
    get_account,
    get_asset,
    get_balance,
)
from chaindb.ledger.history import (
    AccountHistory,
    AccountHistoryEntry,
    OpenHold,
    OpenHolds,
    account_history,
    open_holds,
)
from chaindb.ledger.leaderboard import LeaderboardEntry, leaderboard, user_rank
from chaindb.ledger.partitions import PARTITION_KEYS, before_partition_drop
from chaindb.ledger.points import (
    HistoryEntry,
    HistoryPage,
    PointsLedger,
    ensure_user_points_ledger,
    get_points_statistics,
    get_user_points_balance,
    get_user_points_transaction_history,
    record_points_transaction,
    update_user_points_balance,
)
from chaindb.ledger.reversal import find_transfers, reverse
from chaindb.ledger.schema import TRANSFER_KINDS, metadata
from chaindb.ledger.transfers import (
    HoldState,
    InsufficientFunds,
    PostRequest,
    RowsWithHold,
    Transfer,
    TransferRequest,
    VoidRequest,
    cleanup,
    expire_holds,
    get_hold_states,
    get_transfer,
    hold_with,
    post_pending,
    transfer,
    transfer_batch,
    void_pending,
)
from chaindb.ledger.verify import LedgerReport, check_ledger, repair, verify

# The leaderboard's board and floors, kept by triggers from ledger_accounts: an export leaves
# them out, an import rebuilds them.
derived_tables = ("ledger_leaderboard", "ledger_leaderboard_floors")

__all__ = [
    "ASSET_CODE_CHARS_MAX",
    "BURN",
    "ESCROW",
    "ISSUANCE",
    "PARTITION_KEYS",
    "POINTS",
    "TRANSFER_KINDS",
    "Account",
    "AccountHistory",
    "AccountHistoryEntry",
    "AccountKey",
    "Asset",
    "Balance",
    "HistoryEntry",
    "HistoryPage",
    "HoldState",
    "InsufficientFunds",
    "LeaderboardEntry",
    "LedgerReport",
    "OpenHold",
    "OpenHolds",
    "PointsLedger",
    "PostRequest",
    "RowsWithHold",
    "Transfer",
    "TransferRequest",
    "VoidRequest",
    "account_history",
    "asset_id_sql",
    "before_partition_drop",
    "check_ledger",
    "cleanup",
    "derived_tables",
    "ensure_app_asset",
    "ensure_token_asset",
    "ensure_user_points_ledger",
    "expire_holds",
    "find_transfers",
    "get_account",
    "get_asset",
    "get_balance",
    "get_hold_states",
    "get_points_statistics",
    "get_transfer",
    "get_user_points_balance",
    "get_user_points_transaction_history",
    "hold_with",
    "leaderboard",
    "metadata",
    "open_holds",
    "post_pending",
    "record_points_transaction",
    "repair",
    "reverse",
    "transfer",
    "transfer_batch",
    "update_user_points_balance",
    "user_rank",
    "verify",
    "void_pending",
]

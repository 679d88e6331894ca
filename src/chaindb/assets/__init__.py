"""The assets module (seed 001): memory assets minted as compressed NFTs on Solana (Bubblegum),
their content and metadata on Arweave; a minting queue with leases, retries and batches;
merkle trees and their leaves; access grants; transfers; versions; costs; an audit log.

This is the module's one door (other modules, ops/ and the CLI use only these names).
`verify` and `cleanup` are the hooks `chaindb maintenance` runs; `story` is its part of
`make demo`.
"""

from chaindb.assets.bubblegum import asset_id, tree_config
from chaindb.assets.claiming import claim_batch, extend_lease
from chaindb.assets.completing import complete_batch, fail_batch
from chaindb.assets.demo import story
from chaindb.assets.grants import (
    Access,
    AccessGrant,
    check_access,
    get_grants,
    grant_access,
    revoke_grant,
    use_grant,
)
from chaindb.assets.minting import SolanaMinter, SolanaRpcError
from chaindb.assets.ownership import (
    AssetVersion,
    MemoryAsset,
    Transfer,
    get_asset,
    get_transfers,
    get_versions,
    list_assets,
    new_version,
    transfer_asset,
)
from chaindb.assets.queue import (
    BatchOutcome,
    ClaimedBatch,
    MintedItem,
    MintJob,
    MintReceipt,
    enqueue_mint,
    get_job,
    queue_counts,
)
from chaindb.assets.records import (
    AuditEntry,
    Cost,
    DailyCost,
    daily_costs,
    get_audit_log,
    record_cost,
)
from chaindb.assets.reports import (
    ActiveAsset,
    BatchDay,
    WalletStatistics,
    get_active_assets,
    get_batch_statistics,
    get_user_statistics,
    search_assets,
)
from chaindb.assets.retention import CleanupReport, cleanup, run_cleanup
from chaindb.assets.roles import create_service_role
from chaindb.assets.schema import metadata
from chaindb.assets.trees import MerkleTree, leaves_left, list_trees, register_tree
from chaindb.assets.verify import verify
from chaindb.assets.worker import (
    MintFunction,
    WorkerReport,
    default_worker_id,
    run_worker,
    work_once,
)

# Built by triggers from memory_assets (search): an export leaves it out, an import rebuilds it.
derived_tables = ("memory_asset_search",)

# The append-only tables ops/partitions.py may partition by time on PostgreSQL (table -> column).
PARTITION_KEYS = {"blockchain_audit_logs": "timestamp"}

__all__ = [
    "PARTITION_KEYS",
    "Access",
    "AccessGrant",
    "ActiveAsset",
    "AssetVersion",
    "AuditEntry",
    "BatchDay",
    "BatchOutcome",
    "ClaimedBatch",
    "CleanupReport",
    "Cost",
    "DailyCost",
    "MemoryAsset",
    "MerkleTree",
    "MintFunction",
    "MintJob",
    "MintReceipt",
    "MintedItem",
    "SolanaMinter",
    "SolanaRpcError",
    "Transfer",
    "WalletStatistics",
    "WorkerReport",
    "asset_id",
    "check_access",
    "claim_batch",
    "cleanup",
    "complete_batch",
    "create_service_role",
    "daily_costs",
    "default_worker_id",
    "derived_tables",
    "enqueue_mint",
    "extend_lease",
    "fail_batch",
    "get_active_assets",
    "get_asset",
    "get_audit_log",
    "get_batch_statistics",
    "get_grants",
    "get_job",
    "get_transfers",
    "get_user_statistics",
    "get_versions",
    "grant_access",
    "leaves_left",
    "list_assets",
    "list_trees",
    "metadata",
    "new_version",
    "queue_counts",
    "record_cost",
    "register_tree",
    "revoke_grant",
    "run_cleanup",
    "run_worker",
    "search_assets",
    "story",
    "transfer_asset",
    "tree_config",
    "use_grant",
    "verify",
    "work_once",
]

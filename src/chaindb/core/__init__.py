"""The core module: users, wallets, blockchain transactions, contracts, admin signatures,
security events and settings (seeds 000 and 003).

Every function takes a `Database` (it opens its own transaction) or a `Connection` inside
`db.transaction()` (it joins that transaction, so several writes commit or fail together).
"""

from chaindb.core.contracts import (
    ContractDeployment,
    abi_hash,
    add_contract_admin,
    get_contract_by_name,
    get_deployed_contracts,
    is_contract_admin,
    record_contract_deployment,
    revoke_contract_admin,
)
from chaindb.core.schema import metadata
from chaindb.core.security_events import SecurityEvent, get_security_events, log_security_event
from chaindb.core.settings import Setting, get_setting, list_settings, set_setting
from chaindb.core.signatures import AdminSignature, get_admin_signatures, log_admin_signature
from chaindb.core.tracking import (
    TxSummaryRow,
    find_blockchain_transactions,
    get_blockchain_tx_summary,
    last_logged_nonce,
    recorded_final_blocks,
)
from chaindb.core.transactions import (
    BlockchainTransaction,
    get_blockchain_transaction,
    get_blockchain_transaction_stats,
    get_blockchain_transactions_by_id,
    get_recent_blockchain_transactions,
    log_blockchain_transaction,
    mark_seen,
    set_confirmations,
    update_blockchain_transaction_status,
)
from chaindb.core.users import (
    User,
    create_user,
    ensure_user,
    erase_user_personal_data,
    get_user,
    get_usernames,
    require_user,
    username_of,
)
from chaindb.core.wallets import (
    Wallet,
    add_user_wallet,
    ensure_wallet_user,
    get_primary_wallets,
    get_user_primary_wallet,
    get_user_wallets,
    get_wallet_owner,
    set_primary_wallet,
    update_wallet_balances,
    wallet_user_id,
)

__all__ = [
    "AdminSignature",
    "BlockchainTransaction",
    "ContractDeployment",
    "SecurityEvent",
    "Setting",
    "TxSummaryRow",
    "User",
    "Wallet",
    "abi_hash",
    "add_contract_admin",
    "add_user_wallet",
    "create_user",
    "ensure_user",
    "ensure_wallet_user",
    "erase_user_personal_data",
    "find_blockchain_transactions",
    "get_admin_signatures",
    "get_blockchain_transaction",
    "get_blockchain_transaction_stats",
    "get_blockchain_transactions_by_id",
    "get_blockchain_tx_summary",
    "get_contract_by_name",
    "get_deployed_contracts",
    "get_primary_wallets",
    "get_recent_blockchain_transactions",
    "get_security_events",
    "get_setting",
    "get_user",
    "get_user_primary_wallet",
    "get_user_wallets",
    "get_usernames",
    "get_wallet_owner",
    "is_contract_admin",
    "last_logged_nonce",
    "list_settings",
    "log_admin_signature",
    "log_blockchain_transaction",
    "log_security_event",
    "mark_seen",
    "metadata",
    "record_contract_deployment",
    "recorded_final_blocks",
    "require_user",
    "revoke_contract_admin",
    "set_confirmations",
    "set_primary_wallet",
    "set_setting",
    "update_blockchain_transaction_status",
    "update_wallet_balances",
    "username_of",
    "wallet_user_id",
]

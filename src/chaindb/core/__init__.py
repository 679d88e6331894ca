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
from chaindb.core.security_events import SecurityEvent, get_security_events, log_security_event
from chaindb.core.settings import Setting, get_setting, list_settings, set_setting
from chaindb.core.signatures import AdminSignature, get_admin_signatures, log_admin_signature
from chaindb.core.transactions import (
    BlockchainTransaction,
    get_blockchain_transaction,
    get_blockchain_transaction_stats,
    get_recent_blockchain_transactions,
    log_blockchain_transaction,
    update_blockchain_transaction_status,
)
from chaindb.core.users import User, create_user, ensure_user, get_user, require_user
from chaindb.core.wallets import (
    Wallet,
    add_user_wallet,
    get_user_primary_wallet,
    get_user_wallets,
    set_primary_wallet,
    update_wallet_balances,
)

__all__ = [
    "AdminSignature",
    "BlockchainTransaction",
    "ContractDeployment",
    "SecurityEvent",
    "Setting",
    "User",
    "Wallet",
    "abi_hash",
    "add_contract_admin",
    "add_user_wallet",
    "create_user",
    "ensure_user",
    "get_admin_signatures",
    "get_blockchain_transaction",
    "get_blockchain_transaction_stats",
    "get_contract_by_name",
    "get_deployed_contracts",
    "get_recent_blockchain_transactions",
    "get_security_events",
    "get_setting",
    "get_user",
    "get_user_primary_wallet",
    "get_user_wallets",
    "is_contract_admin",
    "list_settings",
    "log_admin_signature",
    "log_blockchain_transaction",
    "log_security_event",
    "record_contract_deployment",
    "require_user",
    "revoke_contract_admin",
    "set_primary_wallet",
    "set_setting",
    "update_blockchain_transaction_status",
    "update_wallet_balances",
]

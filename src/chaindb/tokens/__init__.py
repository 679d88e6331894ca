"""The tokens module (seed 003, SiTa Minter): tokens users create on CKB (RGB++) or EVM chains
and the transactions about them, users identified by their wallet (core.ensure_wallet_user).

A transaction's status has one source of truth, core's blockchain_transactions row it points
at: the seed's `status` of a transaction, and of a token through its creation transaction,
follows that row (on EVM chains the chain tracker moves it; on CKB the caller records the
outcome with record_transaction_outcome). A token's balances live in a ledger asset.

This is the module's one door; `verify` is what `chaindb maintenance --check` asks of it and
`story` its part of `make demo`.
"""

from chaindb.tokens.chain_status import SeedStatus, TokenTransaction, status_of
from chaindb.tokens.demo import story
from chaindb.tokens.networks import SEED_NETWORKS, parse_network
from chaindb.tokens.schema import metadata
from chaindb.tokens.tokens import (
    Creator,
    Token,
    TokenWithCreator,
    create_token,
    get_token,
    issue_supply,
    list_tokens,
)
from chaindb.tokens.transactions import (
    get_recent_transactions,
    record_token_transaction,
    record_transaction_outcome,
)
from chaindb.tokens.verify import verify

__all__ = [
    "SEED_NETWORKS",
    "Creator",
    "SeedStatus",
    "Token",
    "TokenTransaction",
    "TokenWithCreator",
    "create_token",
    "get_recent_transactions",
    "get_token",
    "issue_supply",
    "list_tokens",
    "metadata",
    "parse_network",
    "record_token_transaction",
    "record_transaction_outcome",
    "status_of",
    "story",
    "verify",
]

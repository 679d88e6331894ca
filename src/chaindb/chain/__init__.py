"""The chain bridge: send and follow transactions to finality, heal reorgs, ingest the escrow's
events, verify admin signatures, on one pinned chain per chain id.

    from chaindb import chain
    node = chain.connect_chain()           # CHAINDB_RPC_URL, or an in-process EVM
    chain.track(db, node)                  # receipts, confirmations, finality, reorgs

This is the module's one door. Most of it needs the `chain` extra (web3.py, eth-account,
eth-tester): those names are imported when first used, so `import chaindb.chain` (and
maintenance, which looks for this module's hooks) works without it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from chaindb.chain.effects import KINDS as EFFECT_KINDS
from chaindb.chain.effects import register_effect
from chaindb.chain.schema import metadata

# name -> the file that defines it (imported on first use: it needs the chain extra)
_LAZY = {
    "Chain": "client",
    "connect_chain": "client",
    "contract_artifact": "client",
    "escrow_contract": "escrow",
    "claim_on_chain": "escrow",
    "deploy_demo_token": "escrow",
    "deploy_escrow": "escrow",
    "deployed_escrow": "escrow",
    "mint_demo_token": "escrow",
    "stake_on_chain": "escrow",
    "wait_for_receipt": "escrow",
    "IngestReport": "events",
    "evm_address": "events",
    "ingest_escrow_events": "events",
    "ChainMismatch": "pins",
    "ChainPin": "pins",
    "list_chain_pins": "pins",
    "require_followed_chain": "pins",
    "ChainUnavailable": "resilience",
    "ErrorKind": "resilience",
    "Resilience": "resilience",
    "RetryPolicy": "resilience",
    "classify": "resilience",
    "SendFailed": "sending",
    "eip1559_fees": "sending",
    "next_nonce": "sending",
    "rebroadcast": "sending",
    "replace_transaction": "sending",
    "send_transaction": "sending",
    "OnChainResolution": "settlement",
    "resolve_challenge_on_chain": "settlement",
    "SignatureRefused": "signatures",
    "SignedResolution": "signatures",
    "sign_resolution": "signatures",
    "TrackReport": "tracker",
    "track": "tracker",
    "story": "demo",
    "demo_chain": "demo",
    "WatchSummary": "watching",
    "watch": "watching",
}

if TYPE_CHECKING:
    from chaindb.chain.client import Chain, connect_chain, contract_artifact
    from chaindb.chain.demo import demo_chain, story
    from chaindb.chain.escrow import (
        claim_on_chain,
        deploy_demo_token,
        deploy_escrow,
        deployed_escrow,
        escrow_contract,
        mint_demo_token,
        stake_on_chain,
        wait_for_receipt,
    )
    from chaindb.chain.events import IngestReport, evm_address, ingest_escrow_events
    from chaindb.chain.pins import ChainMismatch, ChainPin, list_chain_pins, require_followed_chain
    from chaindb.chain.resilience import (
        ChainUnavailable,
        ErrorKind,
        Resilience,
        RetryPolicy,
        classify,
    )
    from chaindb.chain.sending import (
        SendFailed,
        eip1559_fees,
        next_nonce,
        rebroadcast,
        replace_transaction,
        send_transaction,
    )
    from chaindb.chain.settlement import OnChainResolution, resolve_challenge_on_chain
    from chaindb.chain.signatures import SignatureRefused, SignedResolution, sign_resolution
    from chaindb.chain.tracker import TrackReport, track
    from chaindb.chain.watching import WatchSummary, watch


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'chaindb.chain' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"chaindb.chain.{_LAZY[name]}"), name)
    globals()[name] = value  # once imported, an attribute like any other
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "EFFECT_KINDS",
    "Chain",
    "ChainMismatch",
    "ChainPin",
    "ChainUnavailable",
    "ErrorKind",
    "IngestReport",
    "OnChainResolution",
    "Resilience",
    "RetryPolicy",
    "SendFailed",
    "SignatureRefused",
    "SignedResolution",
    "TrackReport",
    "WatchSummary",
    "claim_on_chain",
    "classify",
    "connect_chain",
    "contract_artifact",
    "demo_chain",
    "deploy_demo_token",
    "deploy_escrow",
    "deployed_escrow",
    "eip1559_fees",
    "escrow_contract",
    "evm_address",
    "ingest_escrow_events",
    "list_chain_pins",
    "metadata",
    "mint_demo_token",
    "next_nonce",
    "rebroadcast",
    "register_effect",
    "replace_transaction",
    "require_followed_chain",
    "resolve_challenge_on_chain",
    "send_transaction",
    "sign_resolution",
    "stake_on_chain",
    "story",
    "track",
    "wait_for_receipt",
    "watch",
]

"""resolve_challenge_on_chain: seed 000's "Integration with Phase 2" flow, as one call.

sign the resolution (EIP-712) -> log the signature (verified) -> refuse unless an authorised
admin signed it -> submit resolve() -> log the transaction with its effect -> the tracker, once
the transaction is final, releases the escrow and awards the points.

Every step can be rerun after a crash: the signature is deterministic and logged once; the
transaction is looked up before anything is sent (and rebroadcast if it never reached the
node); the effect is registered with the transaction, in the same database transaction, and
its ledger writes are keyed by the block that made it final.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_account.signers.local import LocalAccount

from chaindb.chain.client import Chain
from chaindb.chain.escrow import deployed_escrow, resolve_call
from chaindb.chain.pins import require_followed_chain
from chaindb.chain.sending import rebroadcast, send_transaction
from chaindb.chain.signatures import (
    log_resolution_signature,
    require_authorised,
    resolution_typed_data,
    sign_resolution,
)
from chaindb.core import AdminSignature, BlockchainTransaction, find_blockchain_transactions
from chaindb.database import Database
from chaindb.errors import Conflict

RESOLVE = "challenge_resolve"


@dataclass(frozen=True)
class OnChainResolution:
    signature: AdminSignature
    transaction: BlockchainTransaction


def resolve_challenge_on_chain(
    db: Database,
    chain: Chain,
    *,
    challenge_id: int,
    winning_side: str | None,
    admin: LocalAccount,
    sender: LocalAccount | None = None,
    escrow_address: str | None = None,
    base_points: int = 100,
) -> OnChainResolution:
    """Resolve `challenge_id` on chain for `winning_side` ('YES', 'NO', None = draw). The
    ledger moves when the transaction is final (chain.tracker.track)."""
    require_followed_chain(db, chain, new_chain_ok=True)  # before the signature is logged
    escrow = escrow_address or deployed_escrow(db, chain)
    signed = sign_resolution(
        admin,
        resolution_typed_data(
            challenge_id=challenge_id,
            winning_side=winning_side,
            chain_id=chain.numeric_id,
            escrow_address=escrow,
        ),
    )
    signature = log_resolution_signature(
        db,
        admin_address=admin.address,
        signed=signed,
        challenge_id=challenge_id,
        winner=winning_side or "draw",
    )
    require_authorised(db, signature, chain_id=chain.chain_id, contract_address=escrow)
    submitted = _submitted(db, chain, challenge_id)
    if submitted is not None:
        if chain.transaction(submitted.transaction_hash) is None and submitted.status == "pending":
            rebroadcast(db, chain, submitted)  # logged, then the process died before sending
        return OnChainResolution(signature, submitted)
    effect = {
        "challenge_id": challenge_id,
        "winning_side": winning_side,
        "base_points": base_points,
        "admin_signature": signed.signature,
    }
    transaction = send_transaction(
        db,
        chain,
        sender or admin,
        resolve_call(escrow, chain, challenge_id, signed),
        transaction_type=RESOLVE,
        challenge_id=challenge_id,
        effects=[("challenge_resolution", effect)],
    )
    return OnChainResolution(signature, transaction)


def _submitted(db: Database, chain: Chain, challenge_id: int) -> BlockchainTransaction | None:
    """This challenge's resolve transaction, if one was logged and is still alive."""
    live = find_blockchain_transactions(
        db,
        chain_id=chain.chain_id,
        challenge_id=challenge_id,
        transaction_type=RESOLVE,
        statuses=("pending", "success"),
    )
    if len(live) > 1:
        raise Conflict(f"challenge {challenge_id} has {len(live)} live resolve transactions")
    return live[0] if live else None

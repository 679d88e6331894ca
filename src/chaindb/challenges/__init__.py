"""The challenges module (seed 000): challenges, participants by side, escrowed stakes,
resolution and payout, and the backfill of points for challenges resolved off-chain.

This is the module's one door (other modules and ops/ use only these names). Its money moves
through the ledger's face; `verify` is what `chaindb maintenance --check` asks of it."""

from chaindb.challenges.backfill import BackfillReport, backfill_points
from chaindb.challenges.challenges import (
    Challenge,
    PendingResolution,
    activate_challenge,
    create_challenge,
    get_challenge,
    get_challenges_pending_resolution,
    set_on_chain_status,
)
from chaindb.challenges.escrow import (
    EscrowRecord,
    create_escrow_record,
    get_escrow_records,
    get_user_active_escrows,
    update_escrow_status,
)
from chaindb.challenges.schema import metadata
from chaindb.challenges.settlement import (
    DEFAULT_BASE_POINTS,
    Settlement,
    claim_payout,
    resolve_challenge,
    settle_resolution,
    split_pot,
    unsettle,
)
from chaindb.challenges.verify import verify

__all__ = [
    "DEFAULT_BASE_POINTS",
    "BackfillReport",
    "Challenge",
    "EscrowRecord",
    "PendingResolution",
    "Settlement",
    "activate_challenge",
    "backfill_points",
    "claim_payout",
    "create_challenge",
    "create_escrow_record",
    "get_challenge",
    "get_challenges_pending_resolution",
    "get_escrow_records",
    "get_user_active_escrows",
    "metadata",
    "resolve_challenge",
    "set_on_chain_status",
    "settle_resolution",
    "split_pot",
    "unsettle",
    "update_escrow_status",
    "verify",
]

"""The challenges module (seed 000): challenges, participants by side, escrowed stakes,
resolution and payout, and the backfill of points for challenges resolved off-chain."""

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
from chaindb.challenges.settlement import Settlement, claim_payout, resolve_challenge, split_pot

__all__ = [
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
    "resolve_challenge",
    "set_on_chain_status",
    "split_pot",
    "update_escrow_status",
]

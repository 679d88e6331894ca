"""Resolve a challenge and pay it out: one transaction, every step idempotent.

With a winning side that has stakes on both sides, every hold is posted into escrow and the
pot is paid to the winners in proportion to their stakes (exactly: the integer remainder goes
to the largest fractional shares); each winner earns points_awarded = base points x the
challenge's multiplier. A draw, or a side nobody took, voids every hold: all stakes refunded.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal
from typing import Literal

from pydantic import Field
from sqlalchemy.engine import Connection

from chaindb import ledger
from chaindb.challenges.challenges import Challenge, lock_challenge, move_on_chain_status
from chaindb.challenges.escrow import (
    EscrowRecord,
    get_escrow_records,
    mark_claimed,
    payment_asset,
    refund,
)
from chaindb.challenges.schema import challenge_escrow_records as records
from chaindb.challenges.schema import challenges
from chaindb.database import Database, writing
from chaindb.errors import Conflict, NotFound
from chaindb.text import identifier
from chaindb.types import Amount, TxHash, utc_now
from chaindb.validation import Input, Row, validated

DEFAULT_BASE_POINTS = 100
SIGNATURE_CHARS_MAX = 1_000
Signature = identifier(SIGNATURE_CHARS_MAX)  # 0x + 130 hex digits for ECDSA; room for others
RESULT_OF_SIDE = {"YES": "challenger_won", "NO": "challenged_won", None: "draw"}


class Resolution(Input):
    winning_side: Literal["YES", "NO"] | None
    base_points: Amount = DEFAULT_BASE_POINTS
    admin_signature: Signature | None = None
    resolution_tx_hash: TxHash | None = None
    settlement_block_number: int | None = Field(default=None, ge=0)


class Settlement(Row):
    challenge: Challenge
    payouts: dict[str, int]
    points: dict[str, int]
    refunded: list[str]


def resolve_challenge(
    target: Database | Connection,
    challenge_id: int,
    *,
    winning_side: Literal["YES", "NO"] | None,
    base_points: int = DEFAULT_BASE_POINTS,
    admin_signature: str | None = None,
    resolution_tx_hash: str | None = None,
    settlement_block_number: int | None = None,
) -> Settlement:
    """Resolve an active challenge for `winning_side` ('YES' = challenger, 'NO' = challenged,
    None = draw). Resolving again with the same side returns the same settlement."""
    resolution = validated(
        Resolution,
        winning_side=winning_side,
        base_points=base_points,
        admin_signature=admin_signature,
        resolution_tx_hash=resolution_tx_hash,
        settlement_block_number=settlement_block_number,
    )
    with writing(target) as conn:
        challenge = lock_challenge(conn, challenge_id)
        result = RESULT_OF_SIDE[resolution.winning_side]
        if challenge.on_chain_status in ("resolved", "claimed"):
            if challenge.result != result:
                raise Conflict(
                    f"challenge {challenge_id} is already resolved as {challenge.result}"
                )
            return _settlement(challenge, get_escrow_records(conn, challenge_id))
        resolved = settle(conn, challenge, resolution, key_prefix=f"challenge:{challenge_id}")
        return _settlement(resolved, get_escrow_records(conn, challenge_id))


def settle_resolution(
    target: Database | Connection,
    challenge_id: int,
    *,
    winning_side: Literal["YES", "NO"] | None,
    key_prefix: str,
    base_points: int = DEFAULT_BASE_POINTS,
    admin_signature: str | None = None,
    resolution_tx_hash: str | None = None,
) -> Challenge:
    """Settle a challenge as ChallengeEscrow pays it (shares rounded down, the dust left in
    escrow), its ledger steps keyed '<key_prefix>:<step>:<user>': what the chain bridge applies
    once a resolution is final (`unsettle` undoes it). One transaction: the caller's, given a
    Connection."""
    resolution = validated(
        Resolution,
        winning_side=winning_side,
        base_points=base_points,
        admin_signature=admin_signature,
        resolution_tx_hash=resolution_tx_hash,
    )
    with writing(target) as conn:
        challenge = lock_challenge(conn, challenge_id)
        return settle(conn, challenge, resolution, key_prefix=key_prefix, rounding="floor")


def settle(
    conn: Connection,
    challenge: Challenge,
    resolution: Resolution,
    *,
    key_prefix: str,
    rounding: Literal["exact", "floor"] = "exact",
) -> Challenge:
    """Settle an active challenge in the caller's transaction. Every ledger step is keyed
    '<key_prefix>:<step>:<user>'. rounding 'floor' pays what ChallengeEscrow.payoutOf pays
    (the dust stays in escrow); 'exact' shares the whole pot."""
    if challenge.on_chain_status != "active":
        raise Conflict(
            f"challenge {challenge.id} is {challenge.on_chain_status}: activate it first"
        )
    stakes = [r for r in get_escrow_records(conn, challenge.id) if r.status == "locked"]
    winners = [r for r in stakes if r.side == resolution.winning_side]
    if winners and len(winners) < len(stakes):
        points = _pay_winners(
            conn, challenge, stakes, winners, resolution.base_points, key_prefix, rounding
        )
    else:
        for record in stakes:
            refund(conn, record, idempotency_key=f"{key_prefix}:refund:{record.user_id}")
        points = 0
    return move_on_chain_status(
        conn,
        challenge,
        "resolved",
        on_chain_resolved=True,
        result=RESULT_OF_SIDE[resolution.winning_side],
        status="completed",
        completed_at=utc_now(),
        resolution_timestamp=utc_now(),
        points_awarded=points,
        admin_signature=resolution.admin_signature,
        blockchain_resolution_tx_hash=resolution.resolution_tx_hash,
        blockchain_settlement_block_number=resolution.settlement_block_number,
    )


def claim_payout(
    target: Database | Connection,
    challenge_id: int,
    user_id: str,
    claim_tx_hash: str | None = None,
) -> EscrowRecord:
    """A winner claimed their payout on chain. When every winner has, the challenge is claimed."""
    tx_hash = validated(_Claim, claim_tx_hash=claim_tx_hash).claim_tx_hash
    with writing(target) as conn:
        challenge = lock_challenge(conn, challenge_id)
        owned = [r for r in get_escrow_records(conn, challenge_id) if r.user_id == user_id]
        if not owned or owned[0].amount_released == 0:
            raise NotFound(
                f"user_id: {user_id!r} has no payout to claim in challenge {challenge_id}"
            )
        record = owned[0]
        if record.status != "claimed":
            if record.status != "released":
                raise Conflict(f"escrow {record.id} is {record.status}, not released")
            record = mark_claimed(conn, record, tx_hash)
        unclaimed = [
            r
            for r in get_escrow_records(conn, challenge_id)
            if r.amount_released > 0 and r.status != "claimed"
        ]
        if not unclaimed and challenge.on_chain_status == "resolved":
            move_on_chain_status(conn, challenge, "claimed", blockchain_payout_tx_hash=tx_hash)
    return record


class _Claim(Input):
    claim_tx_hash: TxHash | None = None


def split_pot_floor(pot: int, stakes: dict[str, int]) -> dict[str, int]:
    """The contract's shares: each rounded down, the dust left over."""
    total = sum(stakes.values())
    return {user: stake * pot // total for user, stake in stakes.items()}


def split_pot(pot: int, stakes: dict[str, int]) -> dict[str, int]:
    """Share `pot` in proportion to `stakes`, exactly: floor shares, then one unit each to the
    largest remainders (ties by user id) until the pot is spent."""
    total = sum(stakes.values())
    shares = {user: pot * stake // total for user, stake in stakes.items()}
    remainders = sorted(stakes, key=lambda user: (-(pot * stakes[user] % total), user))
    for user in remainders[: pot - sum(shares.values())]:
        shares[user] += 1
    return shares


def _pay_winners(
    conn: Connection,
    challenge: Challenge,
    stakes: list[EscrowRecord],
    winners: list[EscrowRecord],
    base_points: int,
    key_prefix: str,
    rounding: str,
) -> int:
    code = payment_asset(conn, challenge).code
    share = split_pot if rounding == "exact" else split_pot_floor
    payouts = share(
        sum(r.amount_escrowed for r in stakes), {r.user_id: r.amount_escrowed for r in winners}
    )
    points = int(
        (Decimal(base_points) * challenge.points_multiplier).to_integral_value(ROUND_FLOOR)
    )
    requests: list[ledger.PostRequest | ledger.TransferRequest] = [
        ledger.PostRequest(
            pending_id=r.hold_transfer_id,
            kind="released_escrow",
            idempotency_key=f"{key_prefix}:settle:{r.user_id}",
        )
        for r in stakes
    ]
    requests += [
        ledger.TransferRequest(
            asset=code,
            debit=f"system:{ledger.ESCROW}",
            credit=f"user:{user}",
            amount=amount,
            kind="payout",
            challenge_id=challenge.id,
            idempotency_key=f"{key_prefix}:payout:{user}",
        )
        for user, amount in payouts.items()
        if amount > 0
    ]
    if points > 0:
        requests += [
            ledger.TransferRequest(
                asset=ledger.POINTS,
                debit=f"system:{ledger.ISSUANCE}",
                credit=f"user:{user}",
                amount=points,
                kind="earned_challenge",
                challenge_id=challenge.id,
                reason="Won challenge",
                idempotency_key=f"{key_prefix}:points:{user}",
            )
            for user in payouts
        ]
    written = ledger.transfer_batch(conn, requests)
    settled = {t.pending_id: t.id for t in written if t.pending_id}
    paid = {t.idempotency_key: t.id for t in written if t.kind == "payout"}
    now = utc_now()
    for record in stakes:
        payout = payouts.get(record.user_id, 0)
        conn.execute(
            records.update()
            .where(records.c.id == record.id)
            .values(
                status="released",
                amount_released=payout,
                settle_transfer_id=settled[record.hold_transfer_id],
                payout_transfer_id=paid.get(f"{key_prefix}:payout:{record.user_id}"),
                released_at=now,
                updated_at=now,
            )
        )
    return points


def _settlement(challenge: Challenge, escrows: list[EscrowRecord]) -> Settlement:
    winners = {r.user_id: r.amount_released for r in escrows if r.amount_released > 0}
    return Settlement(
        challenge=challenge,
        payouts=winners,
        points={user: challenge.points_awarded or 0 for user in winners},
        refunded=[r.user_id for r in escrows if r.status == "refunded"],
    )


UNSETTLED_STEPS = ("payout", "settle", "points")  # payouts back into escrow before it pays out


def unsettle(target: Database | Connection, challenge_id: int, *, key_prefix: str) -> Challenge:
    """Undo a settlement whose resolution left the chain (a reorg): compensating transfers,
    never deletions. Payouts and points go back, posted stakes return to their owners and are
    held again (a new hold each), the records are locked again and the challenge is active,
    its reorged_at stamped (the one way the status trigger lets it step back). One
    transaction: the caller's, given a Connection."""
    with writing(target) as conn:
        return _unsettle(conn, challenge_id, key_prefix=key_prefix)


def _unsettle(conn: Connection, challenge_id: int, *, key_prefix: str) -> Challenge:
    challenge = lock_challenge(conn, challenge_id)
    if challenge.on_chain_status not in ("resolved", "claimed"):
        return challenge
    for step in UNSETTLED_STEPS:
        ledger.reverse(
            conn,
            key_prefix=f"{key_prefix}:{step}:",
            challenge_id=challenge.id,
            reason="reorg: resolution left the chain",
        )
    settled = [r for r in get_escrow_records(conn, challenge.id) if r.status != "locked"]
    code = payment_asset(conn, challenge).code
    relocks = ledger.transfer_batch(
        conn,
        [
            ledger.TransferRequest(
                asset=code,
                debit=f"user:{r.user_id}",
                credit=f"system:{ledger.ESCROW}",
                amount=r.amount_escrowed,
                kind="locked_escrow",
                pending=True,
                challenge_id=challenge.id,
                idempotency_key=f"{key_prefix}:relock:{r.user_id}",
            )
            for r in settled
        ],
    )
    for record, hold in zip(settled, relocks, strict=True):
        conn.execute(
            records.update()
            .where(records.c.id == record.id)
            .values(
                status="locked",
                amount_released=0,
                hold_transfer_id=hold.id,
                settle_transfer_id=None,
                payout_transfer_id=None,
                released_at=None,
                claimed_at=None,
                claim_tx_hash=None,
                updated_at=utc_now(),
            )
        )
    row = conn.execute(
        challenges.update()
        .where(challenges.c.id == challenge.id)
        .values(
            on_chain_status="active",
            status="active",
            result=None,
            on_chain_resolved=False,
            completed_at=None,
            resolution_timestamp=None,
            points_awarded=None,
            blockchain_resolution_tx_hash=None,
            blockchain_settlement_block_number=None,
            blockchain_payout_tx_hash=None,
            reorged_at=utc_now(),
            updated_at=utc_now(),
        )
        .returning(challenges)
    ).one()
    return Challenge.model_validate(row)

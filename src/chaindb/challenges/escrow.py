"""Escrow records (seed 000): a stake locked for a challenge, released, claimed or refunded.

Staking places a ledger hold from 'user:<id>' towards 'system:escrow' in the challenge's
asset; the record points at it. Every ledger write carries an idempotency key derived from
(challenge, user), so a retried call never locks, pays or refunds twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb import ledger
from chaindb.challenges.challenges import Challenge, lock_challenge
from chaindb.challenges.schema import challenge_escrow_records as records
from chaindb.challenges.schema import challenge_participants as participants
from chaindb.core import require_user
from chaindb.database import Database, reading, writing
from chaindb.errors import Conflict, InvalidInput, NotFound
from chaindb.types import Address, Amount, RowId, TxHash, UserId, utc_now
from chaindb.validation import Input, Row, validated

Side = Literal["YES", "NO"]
ACTIVE_STATUSES = ("locked", "released")


class NewStake(Input):
    challenge_id: RowId
    user_id: UserId
    side: Side
    amount_escrowed: Amount
    token_address: Address | None = None
    escrow_tx_hash: TxHash | None = None
    from_wallet: bool = True


class EscrowRecord(Row):
    id: int
    challenge_id: int
    user_id: str
    side: str
    asset_id: int
    token_address: str | None
    amount_escrowed: int
    amount_released: int
    status: str
    hold_transfer_id: int
    settle_transfer_id: int | None
    payout_transfer_id: int | None
    escrow_tx_hash: str | None
    claim_tx_hash: str | None
    created_at: datetime
    updated_at: datetime
    released_at: datetime | None
    claimed_at: datetime | None


def stake_key(challenge_id: int, user_id: str, step: str) -> str:
    """The idempotency key of one ledger step of one user's stake in one challenge."""
    return f"challenge:{challenge_id}:{step}:{user_id}"


def create_escrow_record(
    target: Database | Connection,
    *,
    challenge_id: int,
    user_id: str,
    side: Side,
    amount_escrowed: int,
    token_address: str | None = None,
    escrow_tx_hash: str | None = None,
    from_wallet: bool = True,
) -> EscrowRecord:
    """Stake `amount_escrowed` on `side` of a challenge: join it, hold the funds, record it.
    With from_wallet (default) the stake arrives from the user's wallet on chain, so it is
    deposited and held in the same transaction; otherwise it comes from the ledger balance.
    Staking again with the same side and amount returns the first record."""
    stake = validated(
        NewStake,
        challenge_id=challenge_id,
        user_id=user_id,
        side=side,
        amount_escrowed=amount_escrowed,
        token_address=token_address,
        escrow_tx_hash=escrow_tx_hash,
        from_wallet=from_wallet,
    )
    if stake.amount_escrowed <= 0:
        raise InvalidInput("amount_escrowed", stake.amount_escrowed, "must be > 0")
    with writing(target) as conn:
        challenge = lock_challenge(conn, stake.challenge_id)
        existing = _record_of(conn, stake.challenge_id, stake.user_id)
        if existing is not None:
            return _same_stake(existing, stake)
        if challenge.on_chain_status not in ("pending", "active"):
            raise Conflict(
                f"challenge {challenge.id} is {challenge.on_chain_status}: stakes are closed"
            )
        require_user(conn, stake.user_id)
        conn.execute(
            participants.insert().values(
                challenge_id=stake.challenge_id, user_id=stake.user_id, side=stake.side
            )
        )
        hold = _hold_stake(conn, challenge, stake)
        row = conn.execute(
            records.insert()
            .values(
                challenge_id=stake.challenge_id,
                user_id=stake.user_id,
                side=stake.side,
                asset_id=challenge.payment_asset_id,
                token_address=stake.token_address or _token_address(conn, challenge),
                amount_escrowed=stake.amount_escrowed,
                status="locked",
                hold_transfer_id=hold,
                escrow_tx_hash=stake.escrow_tx_hash,
            )
            .returning(records)
        ).one()
    return EscrowRecord.model_validate(row)


def update_escrow_status(
    target: Database | Connection,
    escrow_id: int,
    status: Literal["claimed", "refunded"],
    tx_hash: str | None = None,
) -> EscrowRecord:
    """released -> claimed (the winner claimed on chain: tx_hash), or locked -> refunded (the
    hold is voided). Release happens when the challenge is resolved (resolve_challenge)."""
    moves = {("released", "claimed"), ("locked", "refunded")}
    claim_hash = validated(_Claim, tx_hash=tx_hash).tx_hash
    with writing(target) as conn:
        record = _lock_record(conn, escrow_id)
        if record.status == status:
            return record
        if (record.status, status) not in moves:
            raise Conflict(
                f"status: escrow {escrow_id} cannot move from {record.status} to {status} "
                "(released -> claimed, locked -> refunded; resolve_challenge releases)"
            )
        if status == "refunded":
            return refund(conn, record)
        return mark_claimed(conn, record, claim_hash)


def get_user_active_escrows(target: Database | Connection, user_id: str) -> list[EscrowRecord]:
    """The user's stakes still locked or released but not yet claimed."""
    with reading(target) as conn:
        rows = conn.execute(
            sa.select(records)
            .where(records.c.user_id == user_id, records.c.status.in_(ACTIVE_STATUSES))
            .order_by(records.c.id)
        )
        return [EscrowRecord.model_validate(row) for row in rows]


def get_escrow_records(target: Database | Connection, challenge_id: int) -> list[EscrowRecord]:
    with reading(target) as conn:
        rows = conn.execute(
            sa.select(records).where(records.c.challenge_id == challenge_id).order_by(records.c.id)
        )
        return [EscrowRecord.model_validate(row) for row in rows]


def refund(
    conn: Connection, record: EscrowRecord, *, idempotency_key: str | None = None
) -> EscrowRecord:
    void = ledger.VoidRequest(
        pending_id=record.hold_transfer_id,
        kind="refunded",
        idempotency_key=idempotency_key or stake_key(record.challenge_id, record.user_id, "refund"),
    )
    (settled,) = ledger.transfer_batch(conn, [void])
    return _update(
        conn, record.id, status="refunded", settle_transfer_id=settled.id, released_at=utc_now()
    )


def mark_claimed(conn: Connection, record: EscrowRecord, claim_tx_hash: str | None) -> EscrowRecord:
    return _update(
        conn, record.id, status="claimed", claim_tx_hash=claim_tx_hash, claimed_at=utc_now()
    )


class _Claim(Input):
    tx_hash: TxHash | None = None


def _hold_stake(conn: Connection, challenge: Challenge, stake: NewStake) -> int:
    code = payment_asset(conn, challenge).code
    common = {"asset": code, "amount": stake.amount_escrowed, "challenge_id": challenge.id}
    requests = []
    if stake.from_wallet:
        requests.append(
            ledger.TransferRequest(
                debit=f"system:{ledger.ISSUANCE}",
                credit=f"user:{stake.user_id}",
                kind="deposit",
                idempotency_key=stake_key(challenge.id, stake.user_id, "deposit"),
                chain_tx_hash=stake.escrow_tx_hash,
                **common,
            )
        )
    requests.append(
        ledger.TransferRequest(
            debit=f"user:{stake.user_id}",
            credit=f"system:{ledger.ESCROW}",
            kind="locked_escrow",
            pending=True,
            idempotency_key=stake_key(challenge.id, stake.user_id, "stake"),
            **common,
        )
    )
    return ledger.transfer_batch(conn, requests)[-1].id


def payment_asset(conn: Connection, challenge: Challenge) -> ledger.Asset:
    """The ledger asset the challenge's stakes are in."""
    return ledger.get_asset(conn, asset_id=challenge.payment_asset_id)


def _token_address(conn: Connection, challenge: Challenge) -> str | None:
    return challenge.payment_token_address or payment_asset(conn, challenge).token_address


def _record_of(conn: Connection, challenge_id: int, user_id: str) -> EscrowRecord | None:
    row = conn.execute(
        sa.select(records).where(
            records.c.challenge_id == challenge_id, records.c.user_id == user_id
        )
    ).first()
    return None if row is None else EscrowRecord.model_validate(row)


def _same_stake(existing: EscrowRecord, stake: NewStake) -> EscrowRecord:
    if (existing.side, existing.amount_escrowed) != (stake.side, stake.amount_escrowed):
        raise Conflict(
            f"user {stake.user_id!r} already staked {existing.amount_escrowed} on "
            f"{existing.side} in challenge {stake.challenge_id}"
        )
    return existing


def _lock_record(conn: Connection, escrow_id: int) -> EscrowRecord:
    row = conn.execute(
        sa.select(records).where(records.c.id == escrow_id).with_for_update()
    ).first()
    if row is None:
        raise NotFound(f"escrow_id: escrow record {escrow_id} does not exist")
    return EscrowRecord.model_validate(row)


def _update(conn: Connection, escrow_id: int, **values: object) -> EscrowRecord:
    row = conn.execute(
        records.update()
        .where(records.c.id == escrow_id)
        .values(updated_at=utc_now(), **values)
        .returning(records)
    ).one()
    return EscrowRecord.model_validate(row)

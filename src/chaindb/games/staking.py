"""Staking (seed 002's token economy): CRAP held for lock_period_days, earning rewards.

A position is a ledger hold from the player towards 'system:games_staking'. Rewards are simple
interest on the stake at `reward_rate` a year (a fraction stored exactly: 0.05 is 5 %),
accrued by the microsecond up to ends_at: accrued = floor(amount x rate x elapsed / year),
a year being 365 days. The total is recomputed from the start each time and what was claimed
is subtracted, so rounding never accumulates (a holder is never paid more than the exact
figure, and less by under one base unit). Rewards are paid from 'system:games_rewards'.

Unstaking at or after ends_at releases the hold and pays the rewards still unclaimed. Before
ends_at it is penalised, as BitCraps does: EARLY_EXIT_PENALTY_BPS of the stake (rounded down)
is posted to 'system:games_staking', the rest released, unclaimed rewards forfeited.
Every step is idempotent: a closed position stays closed, a claim pays what is due once.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Annotated

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.engine import Connection

from chaindb import ledger
from chaindb.database import Database, reading, writing
from chaindb.errors import Conflict, InvalidInput, NotFound
from chaindb.games.audit import audit
from chaindb.games.crap_token import (
    CRAP,
    REWARDS,
    STAKING,
    audit_balance,
    get_token_balance,
    hold_request,
)
from chaindb.games.schema import staking_positions
from chaindb.text import identifier
from chaindb.types import Amount, UserId, UtcDatetime, utc_now
from chaindb.validation import Input, Row, validated

MIN_LOCK_PERIOD_DAYS = 7  # BitCraps' minimum lock
MAX_LOCK_PERIOD_DAYS = 3_650
EARLY_EXIT_PENALTY_BPS = 1_000  # 10 % of the stake
BPS = 10_000
YEAR = timedelta(days=365)
POSITIONS_LIMIT_MAX = 1_000
PositionId = identifier(32)
RewardRate = Annotated[Decimal, Field(ge=0, le=10, decimal_places=8)]
LockDays = Annotated[int, Field(strict=True, ge=MIN_LOCK_PERIOD_DAYS, le=MAX_LOCK_PERIOD_DAYS)]


class StakingPosition(Row):
    id: str
    user_id: str
    amount: int
    lock_period_days: int
    reward_rate: Decimal
    started_at: datetime
    ends_at: datetime
    claimed_rewards: int
    is_active: bool
    penalty: int
    closed_at: datetime | None
    hold_transfer_id: int


class Claim(Row):
    position: StakingPosition
    paid: int  # rewards paid by this call (0 when nothing was due)


class Unstake(Row):
    position: StakingPosition
    released: int  # stake made available again
    penalty: int
    rewards_paid: int


class _NewPosition(Input):
    position_id: PositionId
    user_id: UserId
    amount: Amount
    lock_period_days: LockDays
    reward_rate: RewardRate
    now: UtcDatetime


class _At(Input):
    position_id: PositionId
    now: UtcDatetime


def stake(
    target: Database | Connection,
    *,
    user_id: str,
    amount: int,
    lock_period_days: int,
    reward_rate: Decimal | str,
    position_id: str | None = None,
    now: datetime | None = None,
) -> StakingPosition:
    """Open a position: `amount` CRAP held until now + lock_period_days (at least 7).
    The same position_id again returns the first position."""
    new = validated(
        _NewPosition,
        position_id=position_id or uuid.uuid4().hex,
        user_id=user_id,
        amount=amount,
        lock_period_days=lock_period_days,
        reward_rate=reward_rate,
        now=now or utc_now(),
    )
    if new.amount == 0:
        raise InvalidInput("amount", amount, "must be > 0")
    with writing(target) as conn:
        existing = _position(conn, new.position_id)
        if existing is not None:
            return _same_position(existing, new)
        before = get_token_balance(conn, new.user_id)
        key = f"games:stake:{new.position_id}:hold"
        hold = ledger.transfer(conn, **hold_request(new.user_id, new.amount, STAKING, key))
        row = conn.execute(
            staking_positions.insert()
            .values(
                id=new.position_id,
                user_id=new.user_id,
                amount=new.amount,
                lock_period_days=new.lock_period_days,
                reward_rate=new.reward_rate,
                started_at=new.now,
                ends_at=new.now + timedelta(days=new.lock_period_days),
                hold_transfer_id=hold.id,
            )
            .returning(staking_positions)
        ).one()
        position = StakingPosition.model_validate(row)
        _audit(conn, position, "stake", None)
        after = before.model_copy(
            update={
                "balance": before.balance - new.amount,
                "staked_balance": before.staked_balance + new.amount,
            }
        )
        audit_balance(conn, new.user_id, new.user_id, "stake", before, after)
    return position


def accrued_rewards(position: StakingPosition, now: datetime) -> int:
    """Rewards earned from started_at to min(now, ends_at), in base units, rounded down."""
    until = min(max(now, position.started_at), position.ends_at)
    elapsed_us = (until - position.started_at) // timedelta(microseconds=1)
    rate = Fraction(position.reward_rate)
    return (position.amount * rate.numerator * elapsed_us) // (
        rate.denominator * (YEAR // timedelta(microseconds=1))
    )


def claim_rewards(
    target: Database | Connection, *, position_id: str, now: datetime | None = None
) -> Claim:
    """Pay the rewards accrued and not yet claimed (claimed_rewards grows by them)."""
    at = validated(_At, position_id=position_id, now=now or utc_now())
    with writing(target) as conn:
        position = _lock(conn, at.position_id)
        if not position.is_active:
            return Claim(position=position, paid=0)
        due = accrued_rewards(position, at.now) - position.claimed_rewards
        if due <= 0:
            return Claim(position=position, paid=0)
        claimed = _pay_rewards(conn, position, due)
    return Claim(position=claimed, paid=due)


def unstake(
    target: Database | Connection, *, position_id: str, now: datetime | None = None
) -> Unstake:
    """Close a position: at or after ends_at the hold is released and unclaimed rewards paid;
    before it, EARLY_EXIT_PENALTY_BPS of the stake is kept and unclaimed rewards forfeited.
    A closed position is returned as it is."""
    at = validated(_At, position_id=position_id, now=now or utc_now())
    with writing(target) as conn:
        position = _lock(conn, at.position_id)
        if not position.is_active:
            return Unstake(position=position, released=0, penalty=0, rewards_paid=0)
        before = get_token_balance(conn, position.user_id)
        matured = at.now >= position.ends_at
        penalty = 0 if matured else position.amount * EARLY_EXIT_PENALTY_BPS // BPS
        key = f"games:stake:{position.id}:close"
        if penalty:
            ledger.post_pending(
                conn,
                position.hold_transfer_id,
                amount=penalty,
                kind="released_escrow",
                idempotency_key=key,
                reason="early unstake penalty",
            )
        else:
            ledger.void_pending(
                conn, position.hold_transfer_id, kind="refunded", idempotency_key=key
            )
        due = accrued_rewards(position, at.now) - position.claimed_rewards if matured else 0
        if due > 0:
            position = _pay_rewards(conn, position, due)
        closed = _update(conn, position.id, is_active=False, closed_at=at.now, penalty=penalty)
        _audit(conn, closed, "unstake", position)
        audit_balance(
            conn, position.user_id, position.user_id, "unstake", before,
            get_token_balance(conn, position.user_id),
        )  # fmt: skip
    return Unstake(
        position=closed, released=position.amount - penalty, penalty=penalty, rewards_paid=due
    )


def get_staking_position(target: Database | Connection, position_id: str) -> StakingPosition | None:
    with reading(target) as conn:
        return _position(conn, position_id)


def get_staking_positions(
    target: Database | Connection, user_id: str, *, active_only: bool = True
) -> list[StakingPosition]:
    """A player's positions, oldest first (index ix_staking_positions_user)."""
    s = staking_positions.c
    query = sa.select(staking_positions).where(s.user_id == user_id)
    if active_only:
        query = query.where(s.is_active.is_(True))
    with reading(target) as conn:
        rows = conn.execute(query.order_by(s.started_at, s.id).limit(POSITIONS_LIMIT_MAX))
        return [StakingPosition.model_validate(row) for row in rows]


def _pay_rewards(conn: Connection, position: StakingPosition, due: int) -> StakingPosition:
    before = get_token_balance(conn, position.user_id)
    ledger.transfer(
        conn,
        debit=REWARDS,
        credit=f"user:{position.user_id}",
        amount=due,
        kind="payout",
        asset=CRAP,
        # keyed by what was claimed before: a retry of this claim pays nothing more
        idempotency_key=f"games:stake:{position.id}:claim:{position.claimed_rewards}",
    )
    claimed = _update(conn, position.id, claimed_rewards=position.claimed_rewards + due)
    _audit(conn, claimed, "claim", position)
    after = before.model_copy(update={"balance": before.balance + due})
    audit_balance(conn, position.user_id, position.user_id, "claim", before, after)
    return claimed


def _audit(
    conn: Connection, position: StakingPosition, action: str, before: StakingPosition | None
) -> None:
    fields = ("amount", "claimed_rewards", "is_active", "penalty")
    audit(
        conn,
        actor=position.user_id,
        entity_type="staking_position",
        entity_id=position.id,
        action=action,
        before=None if before is None else {f: getattr(before, f) for f in fields},
        after={f: getattr(position, f) for f in fields},
    )


def _position(conn: Connection, position_id: str) -> StakingPosition | None:
    row = conn.execute(
        sa.select(staking_positions).where(staking_positions.c.id == position_id)
    ).first()
    return None if row is None else StakingPosition.model_validate(row)


def _lock(conn: Connection, position_id: str) -> StakingPosition:
    row = conn.execute(
        sa.select(staking_positions).where(staking_positions.c.id == position_id).with_for_update()
    ).first()
    if row is None:
        raise NotFound(f"position_id: staking position {position_id!r} does not exist")
    return StakingPosition.model_validate(row)


def _update(conn: Connection, position_id: str, **values: object) -> StakingPosition:
    row = conn.execute(
        staking_positions.update()
        .where(staking_positions.c.id == position_id)
        .values(**values)
        .returning(staking_positions)
    ).one()
    return StakingPosition.model_validate(row)


def _same_position(existing: StakingPosition, new: _NewPosition) -> StakingPosition:
    terms = (existing.user_id, existing.amount, existing.lock_period_days, existing.reward_rate)
    if terms != (new.user_id, new.amount, new.lock_period_days, new.reward_rate):
        raise Conflict(f"position_id: staking position {new.position_id!r} exists with other terms")
    return existing

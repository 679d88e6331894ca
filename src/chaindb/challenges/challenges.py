"""Challenges: create, activate, read, and the guarded on-chain status."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from chaindb import ledger
from chaindb.challenges.schema import ON_CHAIN_MOVES, challenges, v_challenges_pending_resolution
from chaindb.core import require_user
from chaindb.database import Database, reading, writing
from chaindb.errors import Conflict, InvalidInput, NotFound
from chaindb.text import (
    METADATA_BYTES_MAX,
    Description,
    free_text,
    identifier,
    json_value,
)
from chaindb.types import (
    Address,
    Amount,
    BlockNumber,
    EvmChainNumber,
    RowId,
    TxHash,
    UserId,
    UtcDatetime,
    utc_now,
)
from chaindb.validation import Input, Row, validated

TITLE_CHARS_MAX = 200  # challenges.title, VARCHAR(200)
Title = free_text(TITLE_CHARS_MAX, chars_min=1)
AssetCode = identifier(ledger.ASSET_CODE_CHARS_MAX)
Metadata = json_value(METADATA_BYTES_MAX)
OnChainStatus = Literal["pending", "active", "resolved", "claimed"]
Result = Literal["challenger_won", "challenged_won", "draw"]
Multiplier = Annotated[Decimal, Field(ge=0, le=Decimal("9.99"), decimal_places=2)]


class NewChallenge(Input):
    title: Title
    challenger: UserId
    challenged: UserId | None = None
    amount: Amount = 0
    description: Description | None = None
    due_date: UtcDatetime | None = None
    payment_asset: AssetCode = ledger.POINTS
    payment_token_address: Address | None = None
    stake_amount_wei: Amount | None = None
    points_multiplier: Multiplier = Decimal("1.00")
    blockchain_chain_id: EvmChainNumber | None = None
    blockchain_contract_address: Address | None = None
    blockchain_creation_tx_hash: TxHash | None = None
    blockchain_block_number: BlockNumber | None = None
    on_chain_metadata: Metadata | None = None
    # Importing a challenge settled off-chain (see backfill_points): its result.
    result: Result | None = None


class Activation(Input):
    challenge_id: RowId
    blockchain_creation_tx_hash: TxHash | None = None
    blockchain_contract_address: Address | None = None
    blockchain_chain_id: EvmChainNumber | None = None
    blockchain_block_number: BlockNumber | None = None


class Challenge(Row):
    id: int
    title: str
    description: str | None
    challenger: str
    challenged: str | None
    amount: int
    status: str
    result: str | None
    due_date: datetime | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    blockchain_chain_id: int | None
    blockchain_contract_address: str | None
    blockchain_creation_tx_hash: str | None
    blockchain_resolution_tx_hash: str | None
    blockchain_payout_tx_hash: str | None
    blockchain_settlement_tx_hash: str | None
    blockchain_block_number: int | None
    blockchain_settlement_block_number: int | None
    payment_token_address: str | None
    payment_asset_id: int | None
    stake_amount_wei: int | None
    points_awarded: int | None
    points_multiplier: Decimal
    admin_signature: str | None
    on_chain_status: str
    on_chain_resolved: bool
    resolution_timestamp: datetime | None
    on_chain_metadata: dict[str, Any] | None
    reorged_at: datetime | None


class PendingResolution(Row):
    id: int
    title: str
    status: str
    on_chain_status: str
    challenger: str
    challenged: str | None
    yes_participants: int
    no_participants: int
    created_at: datetime


def create_challenge(
    target: Database | Connection,
    *,
    title: str,
    challenger: str,
    challenged: str | None = None,
    amount: int = 0,
    description: str | None = None,
    due_date: datetime | None = None,
    payment_asset: str = ledger.POINTS,
    payment_token_address: str | None = None,
    stake_amount_wei: int | None = None,
    points_multiplier: Decimal | str = Decimal("1.00"),
    blockchain_chain_id: int | None = None,
    blockchain_contract_address: str | None = None,
    blockchain_creation_tx_hash: str | None = None,
    blockchain_block_number: int | None = None,
    on_chain_metadata: dict[str, Any] | None = None,
    result: Result | None = None,
) -> Challenge:
    """A new challenge, on_chain_status 'pending'. Stakes are in `payment_asset` (a ledger
    asset code: 'points' or a token registered with ensure_token_asset). `result` imports a
    challenge settled off-chain (see backfill_points)."""
    new = validated(
        NewChallenge,
        title=title,
        challenger=challenger,
        challenged=challenged,
        amount=amount,
        description=description,
        due_date=due_date,
        payment_asset=payment_asset,
        payment_token_address=payment_token_address,
        stake_amount_wei=stake_amount_wei,
        points_multiplier=points_multiplier,
        blockchain_chain_id=blockchain_chain_id,
        blockchain_contract_address=blockchain_contract_address,
        blockchain_creation_tx_hash=blockchain_creation_tx_hash,
        blockchain_block_number=blockchain_block_number,
        on_chain_metadata=on_chain_metadata,
        result=result,
    )
    values = new.model_dump(exclude_none=True, exclude={"payment_asset"})
    if new.result is not None:
        values.update(status="completed", completed_at=utc_now())
    try:
        with writing(target) as conn:
            require_user(conn, new.challenger, "challenger")
            if new.challenged is not None:
                require_user(conn, new.challenged, "challenged")
            values["payment_asset_id"] = ledger.get_asset(conn, new.payment_asset).id
            row = conn.execute(challenges.insert().values(**values).returning(challenges)).one()
    except IntegrityError as error:
        raise Conflict(f"challenge refused by the database: {error.orig}") from None
    return Challenge.model_validate(row)


def get_challenge(target: Database | Connection, challenge_id: int) -> Challenge | None:
    with reading(target) as conn:
        row = conn.execute(sa.select(challenges).where(challenges.c.id == challenge_id)).first()
    return None if row is None else Challenge.model_validate(row)


def activate_challenge(
    target: Database | Connection,
    challenge_id: int,
    *,
    blockchain_creation_tx_hash: str | None = None,
    blockchain_contract_address: str | None = None,
    blockchain_chain_id: int | None = None,
    blockchain_block_number: int | None = None,
) -> Challenge:
    """pending -> active: the challenge exists on chain (creation tx, contract, block)."""
    activation = validated(
        Activation,
        challenge_id=challenge_id,
        blockchain_creation_tx_hash=blockchain_creation_tx_hash,
        blockchain_contract_address=blockchain_contract_address,
        blockchain_chain_id=blockchain_chain_id,
        blockchain_block_number=blockchain_block_number,
    )
    values = activation.model_dump(exclude_none=True, exclude={"challenge_id"})
    with writing(target) as conn:
        current = lock_challenge(conn, challenge_id)
        if current.on_chain_status == "active":
            return current
        return move_on_chain_status(conn, current, "active", status="active", **values)


def lock_challenge(conn: Connection, challenge_id: int) -> Challenge:
    row = conn.execute(
        sa.select(challenges).where(challenges.c.id == challenge_id).with_for_update()
    ).first()
    if row is None:
        raise NotFound(f"challenge_id: challenge {challenge_id} does not exist")
    return Challenge.model_validate(row)


def move_on_chain_status(
    conn: Connection, current: Challenge, to: OnChainStatus, **values: Any
) -> Challenge:
    """One step forward in pending -> active -> resolved -> claimed (a trigger guards it too)."""
    if (current.on_chain_status, to) not in ON_CHAIN_MOVES:
        raise Conflict(
            f"on_chain_status: challenge {current.id} cannot move from "
            f"{current.on_chain_status} to {to} (pending -> active -> resolved -> claimed)"
        )
    row = conn.execute(
        challenges.update()
        .where(challenges.c.id == current.id)
        .values(on_chain_status=to, updated_at=utc_now(), **values)
        .returning(challenges)
    ).one()
    return Challenge.model_validate(row)


def set_on_chain_status(
    target: Database | Connection, challenge_id: int, on_chain_status: OnChainStatus
) -> Challenge:
    if on_chain_status not in ("pending", "active", "resolved", "claimed"):
        raise InvalidInput(
            "on_chain_status", on_chain_status, "must be pending, active, resolved or claimed"
        )
    with writing(target) as conn:
        current = lock_challenge(conn, challenge_id)
        if current.on_chain_status == on_chain_status:
            return current
        return move_on_chain_status(conn, current, on_chain_status)  # type: ignore[arg-type]


def get_challenges_pending_resolution(target: Database | Connection) -> list[PendingResolution]:
    """Seed 000's v_challenges_pending_resolution: active challenges not yet resolved."""
    with reading(target) as conn:
        rows = conn.execute(
            sa.select(v_challenges_pending_resolution).order_by(
                v_challenges_pending_resolution.c.created_at, v_challenges_pending_resolution.c.id
            )
        )
        return [PendingResolution.model_validate(row) for row in rows]

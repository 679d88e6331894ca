"""A creator's revenue, through the ledger: track sales and tips in, quarterly distributions out.

Revenue is FIL on Filecoin's EVM (the ledger asset eip155:314/native, 18 decimals). A sale or a
tip moves the amount from the payer's ledger account to the creator's revenue pool,
'system:creator_revenue_<id>', and adds it to that day's creator_daily_stats (track_sales_wei
or tips_wei) and daily_stats, in one transaction; crossing 100 FIL in a calendar month is the
REVENUE milestone, which enables revenue sharing. Every write is keyed (idempotency_key):
sent twice, it is counted once. A creator's revenue writes queue on the creator's row.

distribute_revenue pays a quarter's revenue out of the pool, once per (creator, quarter): to
the coin holders, when revenue sharing is on, HOLDER_SHARE_PERCENT of it pro rata to their
holdings, and the rest to the creator. The holders' shares are rounded down and the units
left over (fewer than the holders) go one each to the holders with the largest remainders,
ties to the smaller user id: the shares add up to the holders' part exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb import core, ledger
from chaindb.creators import counters, milestones
from chaindb.creators.profiles import Creator, require_creator
from chaindb.creators.schema import (
    creator_daily_stats,
    creators,
    daily_stats,
    revenue_distributions,
)
from chaindb.creators.tracks import require_track
from chaindb.database import Database, reading, writing
from chaindb.errors import InvalidInput
from chaindb.text import identifier
from chaindb.types import Amount, RowId, UserId, UtcDatetime, utc_now
from chaindb.validation import Input, Row, validated

FIL_CHAIN_ID = "eip155:314"  # Filecoin's EVM (FEVM) mainnet
FIL_DECIMALS = 18
HOLDER_SHARE_PERCENT = 10  # the seed's "10% to token holders"
HOLDERS_MAX = 10_000
KEY_CHARS_MAX = 120
Source = Literal["track_sales", "tips"]


class Payment(Input):
    payer_id: UserId
    amount_wei: Amount
    idempotency_key: identifier(KEY_CHARS_MAX)  # type: ignore[valid-type]
    received_at: UtcDatetime | None = None


class Distribution(Row):
    id: int
    creator_id: int
    period: str
    asset_id: int
    total_revenue_wei: int
    creator_share_wei: int
    holder_share_wei: int
    holder_count: int
    distributed_at: datetime


def revenue_asset(target: Database | Connection) -> str:
    """The ledger asset revenue is in (FIL), registered on first use; its code."""
    return ledger.ensure_token_asset(
        target, chain_id=FIL_CHAIN_ID, token_address=None, symbol="FIL", decimals=FIL_DECIMALS
    ).code


def pool_account(creator_id: int) -> str:
    return f"system:creator_revenue_{creator_id}"


def buy_track(
    target: Database | Connection,
    *,
    track_id: int,
    buyer_id: str,
    idempotency_key: str,
    received_at: datetime | None = None,
) -> ledger.Transfer:
    """The buyer pays a premium track's price (its price_wei) into its creator's pool."""
    with writing(target) as conn:
        track = require_track(conn, track_id)
        if not track.price_wei:
            raise InvalidInput("track_id", track_id, "is not a premium track (it has no price)")
        return _receive(
            conn,
            track.creator_id,
            "track_sales",
            validated(
                Payment,
                payer_id=buyer_id,
                amount_wei=track.price_wei,
                idempotency_key=idempotency_key,
                received_at=received_at,
            ),
        )


def tip_creator(
    target: Database | Connection,
    *,
    creator_id: int,
    fan_id: str,
    amount_wei: int,
    idempotency_key: str,
    received_at: datetime | None = None,
) -> ledger.Transfer:
    """A fan's tip into the creator's pool."""
    payment = validated(
        Payment,
        payer_id=fan_id,
        amount_wei=amount_wei,
        idempotency_key=idempotency_key,
        received_at=received_at,
    )
    if payment.amount_wei <= 0:
        raise InvalidInput("amount_wei", amount_wei, "must be > 0")
    with writing(target) as conn:
        return _receive(conn, creator_id, "tips", payment)


def _receive(
    conn: Connection, creator_id: int, source: Source, payment: Payment
) -> ledger.Transfer:
    creator = _lock_creator(conn, creator_id)
    key = f"creators:{creator.id}:{source}:{payment.idempotency_key}"
    (existing,) = ledger.find_transfers(conn, keys=[key]) or (None,)
    if existing is not None:
        return existing
    received_at = payment.received_at or utc_now()
    if received_at > utc_now() + timedelta(hours=1):
        raise InvalidInput("received_at", received_at, "must not be in the future")
    moved = ledger.transfer(
        conn,
        debit=f"user:{payment.payer_id}",
        credit=pool_account(creator.id),
        amount=payment.amount_wei,
        kind="transfer",
        asset=revenue_asset(conn),
        idempotency_key=key,
        reason=f"creator {creator.id}: {source.replace('_', ' ')}",
    )
    day = received_at.date()
    column = f"{source}_wei"
    counters.add_amount(
        conn, creator_daily_stats, {"creator_id": creator.id, "day": day}, column, moved.amount
    )
    counters.add_amount(conn, daily_stats, {"day": day}, "revenue_wei", moved.amount)
    month_total = _revenue_between(conn, creator.id, day.replace(day=1), _month_end(day))
    milestones.on_monthly_revenue(
        conn, creator.id, month_total_wei=month_total, added_wei=moved.amount, period=f"{day:%Y-%m}"
    )
    return moved


def distribute_revenue(
    target: Database | Connection,
    *,
    creator_id: int,
    quarter: str,
    holdings: Mapping[str, int] | None = None,
) -> Distribution:
    """Pay out the quarter's revenue ('2026-Q1') once it has ended (see the module's doc).
    `holdings`: each coin holder's units at the quarter's end (user id -> units), as read from
    the coin's contract. Distributing the same quarter again returns the first distribution."""
    first, last = parse_quarter(quarter)
    if last >= utc_now().date():
        raise InvalidInput("quarter", quarter, "has not ended yet")
    shares = _holdings(holdings or {})
    with writing(target) as conn:
        creator = _lock_creator(conn, validated(_CreatorRef, creator_id=creator_id).creator_id)
        done = _distribution_of(conn, creator.id, quarter)
        if done is not None:
            return done
        _require_users(conn, list(shares))
        total = _revenue_between(conn, creator.id, first, last)
        to_holders = (
            total * HOLDER_SHARE_PERCENT // 100 if creator.revenue_sharing and shares else 0
        )
        payouts = split_pro_rata(to_holders, shares) if to_holders else {}
        payouts = {f"user:{user}": amount for user, amount in payouts.items()}
        creator_account = f"user:{creator.user_id}"
        payouts[creator_account] = payouts.get(creator_account, 0) + total - to_holders
        _pay(conn, creator.id, quarter, payouts)
        row = conn.execute(
            revenue_distributions.insert()
            .values(
                creator_id=creator.id,
                period=quarter,
                asset_id=ledger.get_asset(conn, revenue_asset(conn)).id,
                total_revenue_wei=total,
                creator_share_wei=total - to_holders,
                holder_share_wei=to_holders,
                holder_count=len(shares) if to_holders else 0,
            )
            .returning(revenue_distributions)
        ).one()
    return Distribution.model_validate(row)


def split_pro_rata(amount: int, holdings: Mapping[str, int]) -> dict[str, int]:
    """`amount` split in proportion to `holdings`, exactly (the module's rounding rule)."""
    total = sum(holdings.values())
    if total <= 0:
        return {}
    shares = {user: amount * units // total for user, units in holdings.items()}
    left = amount - sum(shares.values())
    by_remainder = sorted(holdings, key=lambda user: (-(amount * holdings[user] % total), user))
    for user in by_remainder[:left]:
        shares[user] += 1
    return {user: share for user, share in shares.items() if share}


def get_distributions(target: Database | Connection, creator_id: int) -> list[Distribution]:
    with reading(target) as conn:
        rows = conn.execute(
            sa.select(revenue_distributions)
            .where(revenue_distributions.c.creator_id == creator_id)
            .order_by(revenue_distributions.c.period)
        )
        return [Distribution.model_validate(row) for row in rows]


def parse_quarter(quarter: object) -> tuple[date, date]:
    """'2026-Q1' -> (2026-01-01, 2026-03-31)."""
    if not isinstance(quarter, str) or len(quarter) != 7 or quarter[4:6] != "-Q":
        raise InvalidInput("quarter", quarter, "must be written YYYY-Qn, e.g. 2026-Q1")
    year, number = quarter[:4], quarter[6]
    if not (year.isdigit() and number in "1234"):
        raise InvalidInput("quarter", quarter, "must be written YYYY-Qn, e.g. 2026-Q1")
    first = date(int(year), 3 * int(number) - 2, 1)
    return first, _month_end(first.replace(month=first.month + 2))


class _CreatorRef(Input):
    creator_id: RowId


def _holdings(holdings: Mapping[str, int]) -> dict[str, int]:
    if len(holdings) > HOLDERS_MAX:
        raise InvalidInput("holdings", len(holdings), f"at most {HOLDERS_MAX} holders")
    checked = {}
    for user, units in holdings.items():
        ref = validated(_Holding, user_id=user, units=units)
        if ref.units > 0:
            checked[ref.user_id] = ref.units
    return checked


class _Holding(Input):
    user_id: UserId
    units: Amount


def _require_users(conn: Connection, user_ids: list[str]) -> None:
    for start in range(0, len(user_ids), 1_000):
        chunk = user_ids[start : start + 1_000]
        missing = sorted(set(chunk) - set(core.get_usernames(conn, chunk)))
        if missing:
            raise InvalidInput("holdings", missing[0], "is not a user")


def _pay(conn: Connection, creator_id: int, quarter: str, payouts: dict[str, int]) -> None:
    asset = revenue_asset(conn)
    requests = [
        ledger.TransferRequest(
            debit=pool_account(creator_id),
            credit=account,
            amount=amount,
            kind="payout",
            asset=asset,
            idempotency_key=f"creators:{creator_id}:revenue:{quarter}:{account}",
        )
        for account, amount in sorted(payouts.items())
        if amount > 0
    ]
    if requests:
        ledger.transfer_batch(conn, requests)


def _revenue_between(conn: Connection, creator_id: int, first: date, last: date) -> int:
    rows = conn.execute(
        sa.select(creator_daily_stats.c.track_sales_wei, creator_daily_stats.c.tips_wei).where(
            creator_daily_stats.c.creator_id == creator_id,
            creator_daily_stats.c.day.between(first, last),
        )
    )
    return sum(row.track_sales_wei + row.tips_wei for row in rows)


def _distribution_of(conn: Connection, creator_id: int, quarter: str) -> Distribution | None:
    row = conn.execute(
        sa.select(revenue_distributions).where(
            revenue_distributions.c.creator_id == creator_id,
            revenue_distributions.c.period == quarter,
        )
    ).first()
    return None if row is None else Distribution.model_validate(row)


def _lock_creator(conn: Connection, creator_id: int) -> Creator:
    require_creator(conn, creator_id)
    row = conn.execute(
        sa.select(creators).where(creators.c.id == creator_id).with_for_update()
    ).one()
    return Creator.model_validate(row)


def _month_end(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)

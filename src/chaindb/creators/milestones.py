"""Seed 004's milestones, detected when a counter crosses a threshold:

| milestone | threshold | action |
|---|---|---|
| PLAYS | 50,000 | create the creator coin, if the creator also has 5,000+ followers |
| FOLLOWERS | 5,000 | coin creation eligibility |
| REVENUE | 100 FIL in a calendar month | revenue sharing enabled |

A milestone is recorded once per (creator, kind, threshold, period): the writer that crosses
it inserts it, and a unique key turns any second insert into nothing. When both the plays and
the followers thresholds are met the creator's coin becomes 'eligible' in the same
transaction; the oracle sync creates it on chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb.creators.schema import creator_milestones, creators
from chaindb.database import Database, dialect_insert, reading
from chaindb.validation import Row

FIL = 10**18  # attoFIL per FIL
COIN_PLAYS_MIN = 50_000
COIN_FOLLOWERS_MIN = 5_000
REVENUE_SHARING_MONTHLY_WEI = 100 * FIL
# counter column -> (milestone kind, thresholds)
THRESHOLDS: dict[str, tuple[str, tuple[int, ...]]] = {
    "total_plays": ("PLAYS", (COIN_PLAYS_MIN,)),
    "follower_count": ("FOLLOWERS", (COIN_FOLLOWERS_MIN,)),
}
DESCRIPTIONS = {
    "PLAYS": "{threshold:,} plays",
    "FOLLOWERS": "{threshold:,} followers",
    "REVENUE": "100 FIL of revenue in {period}",
}


@dataclass(frozen=True)
class Reached:
    creator_id: int
    kind: str
    threshold: int
    current_value: int
    period: str = ""


class Milestone(Row):
    id: int
    creator_id: int
    kind: str
    threshold: int
    current_value: int
    period: str
    description: str
    is_processed: bool
    tx_hash: str | None
    reached_at: datetime


def on_counters(conn: Connection, row: Any, *, column: str, added: int) -> list[Reached]:
    """After `creators.<column> += added` returned `row`: the milestones it crossed."""
    if column not in THRESHOLDS or added <= 0:
        return []
    kind, thresholds = THRESHOLDS[column]
    new = getattr(row, column)
    crossed = [Reached(row.id, kind, t, new) for t in thresholds if new - added < t <= new]
    reached = [milestone for milestone in crossed if record(conn, milestone)]
    if (
        row.coin_status is None
        and row.total_plays >= COIN_PLAYS_MIN
        and row.follower_count >= COIN_FOLLOWERS_MIN
    ):
        conn.execute(
            creators.update()
            .where(creators.c.id == row.id, creators.c.coin_status.is_(None))
            .values(coin_status="eligible")
        )
    return reached


def on_monthly_revenue(
    conn: Connection, creator_id: int, *, month_total_wei: int, added_wei: int, period: str
) -> list[Reached]:
    """After revenue was added to a month: the revenue milestone, if this crossed it."""
    old = month_total_wei - added_wei
    if not old < REVENUE_SHARING_MONTHLY_WEI <= month_total_wei:
        return []
    milestone = Reached(creator_id, "REVENUE", REVENUE_SHARING_MONTHLY_WEI, month_total_wei, period)
    if not record(conn, milestone):
        return []
    conn.execute(creators.update().where(creators.c.id == creator_id).values(revenue_sharing=True))
    return [milestone]


def record(conn: Connection, milestone: Reached) -> bool:
    """Insert the milestone; False when it was already recorded."""
    description = DESCRIPTIONS[milestone.kind].format(
        threshold=milestone.threshold, period=milestone.period
    )
    inserted = conn.execute(
        dialect_insert(conn, creator_milestones)
        .values(
            creator_id=milestone.creator_id,
            kind=milestone.kind,
            threshold=milestone.threshold,
            current_value=milestone.current_value,
            period=milestone.period,
            description=description,
        )
        .on_conflict_do_nothing()
        .returning(creator_milestones.c.id)
    ).first()
    return inserted is not None


def get_milestones(target: Database | Connection, creator_id: int) -> list[Milestone]:
    """The creator's milestones, oldest first (uq_creator_milestones serves the lookup)."""
    with reading(target) as conn:
        rows = conn.execute(
            sa.select(creator_milestones)
            .where(creator_milestones.c.creator_id == creator_id)
            .order_by(creator_milestones.c.reached_at, creator_milestones.c.id)
        )
        return [Milestone.model_validate(row) for row in rows]


def mark_processed(
    conn: Connection, creator_id: int, kind: str, threshold: int, tx_hash: str
) -> None:
    """The milestone's action was taken on chain (e.g. the coin created), by `tx_hash`."""
    conn.execute(
        creator_milestones.update()
        .where(
            creator_milestones.c.creator_id == creator_id,
            creator_milestones.c.kind == kind,
            creator_milestones.c.threshold == threshold,
        )
        .values(is_processed=True, tx_hash=tx_hash)
    )

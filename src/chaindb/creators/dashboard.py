"""What a creator's dashboard shows, and the seed's monthly revenue figures.

The dashboard reads the creator's row (its counters give the engagement score), at most
DASHBOARD_DAYS_MAX rows of creator_daily_stats (a range of its primary key, creator_id, day)
and the creator's milestones (uq_creator_milestones starts with creator_id): its cost does not
grow with the number of plays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb.creators.engagement import EngagementScore, creator_engagement
from chaindb.creators.milestones import Milestone, get_milestones
from chaindb.creators.profiles import Creator, require_creator
from chaindb.creators.schema import creator_daily_stats
from chaindb.database import Database, reading
from chaindb.errors import InvalidInput
from chaindb.types import utc_now
from chaindb.validation import Row

DASHBOARD_DAYS_MAX = 366
COIN_VALUE_SHARE_PERCENT = 10  # the seed's "10% to token holders" of the coin's market cap


class DayStats(Row):
    day: date
    plays: int
    listened_s: int
    new_followers: int
    likes: int
    comments: int
    track_sales_wei: int
    tips_wei: int


@dataclass(frozen=True)
class MonthlyRevenue:
    """Seed 004's monthly revenue: track sales and tips of the calendar month (attoFIL), and
    10 % of the creator coin's market cap (rounded down)."""

    month: str
    track_sales_wei: int
    tips_wei: int
    coin_value_wei: int

    @property
    def total_wei(self) -> int:
        return self.track_sales_wei + self.tips_wei + self.coin_value_wei

    def as_dict(self) -> dict[str, Any]:
        return {**vars(self), "total_wei": self.total_wei}


@dataclass(frozen=True)
class Dashboard:
    creator: Creator
    days: list[DayStats]
    engagement: EngagementScore
    milestones: list[Milestone]
    revenue: MonthlyRevenue

    @property
    def plays_in_period(self) -> int:
        return sum(day.plays for day in self.days)

    def as_dict(self) -> dict[str, Any]:
        return {
            "creator": self.creator.model_dump(),
            "plays_in_period": self.plays_in_period,
            "days": [day.model_dump() for day in self.days],
            "engagement": self.engagement.as_dict(),
            "milestones": [m.model_dump() for m in self.milestones],
            "revenue": self.revenue.as_dict(),
        }


def creator_dashboard(
    target: Database | Connection, creator_id: int, *, days: int = 30, today: date | None = None
) -> Dashboard:
    """The last `days` days of statistics (days without activity have no row), the
    engagement score, the milestones and this month's revenue."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= DASHBOARD_DAYS_MAX:
        raise InvalidInput("days", days, f"must be an integer from 1 to {DASHBOARD_DAYS_MAX}")
    today = today or utc_now().date()
    first = today - timedelta(days=days - 1)
    month = today.replace(day=1)
    with reading(target) as conn:
        creator = require_creator(conn, creator_id)
        rows = _days(conn, creator_id, min(first, month), today)  # one range read serves both
        month_rows = [row for row in rows if row.day >= month]
        return Dashboard(
            creator=creator,
            days=[row for row in rows if row.day >= first],
            engagement=creator_engagement(creator, now=_noon(today)),
            milestones=get_milestones(conn, creator_id),
            revenue=_revenue(creator, today, month_rows),
        )


def monthly_revenue(
    target: Database | Connection, creator_id: int, *, month: date | None = None
) -> MonthlyRevenue:
    """The seed's monthly revenue of the calendar month holding `month` (default: this one)."""
    month = (month or utc_now().date()).replace(day=1)
    last = (month + timedelta(days=31)).replace(day=1) - timedelta(days=1)
    with reading(target) as conn:
        creator = require_creator(conn, creator_id)
        return _revenue(creator, month, _days(conn, creator_id, month, last))


def _days(conn: Connection, creator_id: int, first: date, last: date) -> list[DayStats]:
    rows = conn.execute(
        sa.select(creator_daily_stats)
        .where(
            creator_daily_stats.c.creator_id == creator_id,
            creator_daily_stats.c.day.between(first, last),
        )
        .order_by(creator_daily_stats.c.day)
    )
    return [DayStats.model_validate(row) for row in rows]


def _revenue(creator: Creator, month: date, rows: list[DayStats]) -> MonthlyRevenue:
    return MonthlyRevenue(
        month=f"{month:%Y-%m}",
        track_sales_wei=sum(row.track_sales_wei for row in rows),
        tips_wei=sum(row.tips_wei for row in rows),
        coin_value_wei=creator.coin_market_cap_wei * COIN_VALUE_SHARE_PERCENT // 100,
    )


def _noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=utc_now().tzinfo)

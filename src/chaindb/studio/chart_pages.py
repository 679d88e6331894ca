"""Charts: daily plays and revenue (creators), batches and their costs (assets), points issued
per day (the ledger), the oracle sync's success rate per day. Each figure comes from a module's
face: its functions where one answers the question, else a grouped read of its tables."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chaindb import assets, creators, ledger
from chaindb.database import Database
from chaindb.errors import InvalidInput
from chaindb.studio.app import render, studio_of
from chaindb.studio.charts import Chart, bar_chart
from chaindb.studio.display import scaled
from chaindb.types import amount_sum

DAYS_DEFAULT, DAYS_MAX = 30, 366
SYNC_DAYS = 14  # one get_sync_stats window a day: each reads its day's attempts
MONTHS_SHOWN = 6
CREATORS_LISTED_MAX = 200
FIL_DECIMALS = 18
_daily = creators.metadata.tables["daily_stats"]
_creators = creators.metadata.tables["creators"]
_transfers = ledger.metadata.tables["ledger_transfers"]


def routes() -> list[Route]:
    return [Route("/charts", charts_page)]


def charts_page(request: Request) -> Response:
    days = _days(request.query_params.get("days"))
    today = datetime.now(UTC).date()
    first = today - timedelta(days=days - 1)
    studio = studio_of(request)
    with studio.reading() as conn:
        listed = conn.execute(
            sa.select(_creators.c.id, _creators.c.stage_name)
            .order_by(_creators.c.id)
            .limit(CREATORS_LISTED_MAX)
        ).all()
        creator_id = _creator_id(request.query_params.get("creator"), listed)
        wallet = request.query_params.get("wallet") or None
        charts = [
            *platform_charts(conn, first, today),
            *creator_charts(conn, creator_id, days, today),
            *batch_charts(conn, first, today),
            *cost_charts(conn, wallet, days, today),
            points_chart(conn, first, today),
        ]
    charts.append(sync_chart(studio.db, today))  # get_sync_stats opens its own read
    context = {
        "title": "Charts",
        "charts": charts,
        "days": days,
        "creators": listed,
        "creator_id": creator_id,
        "wallet": wallet or "",
    }
    return render(request, "charts.html", context)


def _days(text: str | None) -> int:
    if not text:
        return DAYS_DEFAULT
    if not text.isdigit() or not 1 <= int(text) <= DAYS_MAX:
        raise InvalidInput("days", text, f"must be a whole number from 1 to {DAYS_MAX}")
    return int(text)


def _creator_id(text: str | None, listed: list[Any]) -> int | None:
    if text:
        if not text.isdigit():
            raise InvalidInput("creator", text, "must be a creator's id")
        return int(text)
    return listed[0].id if listed else None


def each_day(first: date, last: date) -> list[date]:
    """Every day of the range: a day without a row is a day with nothing, shown as such."""
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def platform_charts(conn: Connection, first: date, last: date) -> list[Chart]:
    """All creators together: seed 004's daily_stats, kept by record_plays and the sales."""
    rows = conn.execute(sa.select(_daily).where(_daily.c.day.between(first, last))).all()
    by_day = {row.day: row for row in rows}
    days = each_day(first, last)
    plays = [(str(d), by_day[d].plays if d in by_day else 0) for d in days]
    revenue = [(str(d), by_day[d].revenue_wei if d in by_day else 0) for d in days]
    return [
        bar_chart("platform-plays", "Plays per day, all creators", plays, unit="plays"),
        _wei_chart("platform-revenue", "Revenue per day, all creators", revenue),
    ]


def creator_charts(conn: Connection, creator_id: int | None, days: int, today: date) -> list[Chart]:
    if creator_id is None:
        return []
    board = creators.creator_dashboard(conn, creator_id, days=days, today=today)
    by_day = {row.day: row for row in board.days}
    dates = each_day(today - timedelta(days=days - 1), today)
    name = board.creator.stage_name
    plays = [(str(d), by_day[d].plays if d in by_day else 0) for d in dates]
    months = _months(today)
    revenue = [
        (month, creators.monthly_revenue(conn, creator_id, month=start).total_wei)
        for month, start in months
    ]
    return [
        bar_chart("creator-plays", f"{name}: plays per day", plays, unit="plays"),
        _wei_chart("creator-revenue", f"{name}: monthly revenue", revenue, axis="month"),
    ]


def _months(today: date) -> list[tuple[str, date]]:
    starts = [today.replace(day=1)]
    while len(starts) < MONTHS_SHOWN:
        starts.append((starts[-1] - timedelta(days=1)).replace(day=1))
    return [(f"{start:%Y-%m}", start) for start in reversed(starts)]


def batch_charts(conn: Connection, first: date, last: date) -> list[Chart]:
    """The seed's batch_statistics view, through assets.get_batch_statistics."""
    by_day = {row.date: row for row in assets.get_batch_statistics(conn, since=first)}
    days = each_day(first, last)

    def series(field: str) -> list[tuple[str, int | float | None]]:
        return [(str(d), getattr(by_day[d], field) if d in by_day else 0) for d in days]

    return [
        bar_chart("batches", "Mint batches per day", series("total_batches"), unit="batches"),
        bar_chart("batch-assets", "Assets minted per day", series("total_assets"), unit="assets"),
        bar_chart(
            "batch-cost", "Minting cost per day", series("total_cost_lamports"), unit="lamports"
        ),
    ]


def cost_charts(conn: Connection, wallet: str | None, days: int, today: date) -> list[Chart]:
    """One wallet's costs per day (the seed's cost query, assets.daily_costs), when asked."""
    if wallet is None:
        return []
    by_day = {row.date: row for row in assets.daily_costs(conn, wallet, days=days)}
    dates = each_day(today - timedelta(days=days - 1), today)
    costs = [(str(d), by_day[d].total_cost if d in by_day else 0) for d in dates]
    operations = [(str(d), by_day[d].operations if d in by_day else 0) for d in dates]
    short = f"{wallet[:6]}…{wallet[-4:]}"
    return [
        bar_chart("wallet-cost", f"{short}: cost per day", costs, unit="lamports"),
        bar_chart("wallet-operations", f"{short}: operations per day", operations, unit="ops"),
    ]


def points_chart(conn: Connection, first: date, last: date) -> Chart:
    """Points issued per UTC day: what left system:issuance, less what came back (posted
    transfers only: a hold is not issued until it is posted), as get_points_statistics nets."""
    issuance = ledger.get_account(conn, f"system:{ledger.ISSUANCE}", ledger.POINTS)
    by_day: dict[str, int] = {}
    if issuance is not None:
        by_day = _issued_by_day(conn, issuance.id, first)
    points = [(str(d), by_day.get(str(d), 0)) for d in each_day(first, last)]
    return bar_chart("points-issued", "Points issued per day", points, unit="points")


def _issued_by_day(conn: Connection, issuance_id: int, first: date) -> dict[str, int]:
    t = _transfers.c
    day = _utc_day(conn, t.created_at)
    since = datetime.combine(first, time.min, tzinfo=UTC)
    posted = t.phase.in_(("single", "post"))
    counted = []
    for column in (t.debit_account_id, t.credit_account_id):
        counted.append(
            conn.execute(
                sa.select(day.label("day"), amount_sum(t.amount).label("amount"))
                .where(column == issuance_id, posted, t.created_at >= since)
                .group_by(day)
            ).all()
        )
    out, back = counted
    by_day = {row.day: int(row.amount) for row in out}
    for row in back:
        by_day[row.day] = by_day.get(row.day, 0) - int(row.amount)
    return by_day


def _utc_day(conn: Connection, column: Any) -> Any:
    if conn.dialect.name == "postgresql":
        return sa.func.to_char(sa.func.timezone("UTC", column), "YYYY-MM-DD")
    return sa.func.date(column)  # SQLite keeps UTC text


def sync_chart(db: Database, today: date) -> Chart:
    """The oracle's success rate of each day, as creators.get_sync_stats judges a 24 h window."""
    points: list[tuple[str, int | float | None]] = []
    for day in each_day(today - timedelta(days=SYNC_DAYS - 1), today):
        end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)
        stats = creators.get_sync_stats(db, 24, now=end)
        rate = None if stats.success_rate is None else round(stats.success_rate * 100, 2)
        points.append((str(day), rate))
    shown = ["no settled sync" if rate is None else f"{rate}%" for _day, rate in points]
    return bar_chart("sync-rate", "Oracle sync success rate per day", points, unit="%", shown=shown)


def _wei_chart(
    chart_id: str, title: str, points: list[tuple[str, int | float | None]], axis: str = "day"
) -> Chart:
    """attoFIL in every digit, the FIL beside it."""
    shown = [f"{value} ({scaled(int(value or 0), FIL_DECIMALS)} FIL)" for _label, value in points]
    return bar_chart(chart_id, title, points, unit="attoFIL", shown=shown, axis=axis)
